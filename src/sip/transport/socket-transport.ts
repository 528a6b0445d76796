import type { BurstLogSink } from './burst-log.ts';
import type { Peer } from './peer.ts';
import { TcpEndpoint, DEFAULT_TCP_IDLE_MS } from './tcp-endpoint.ts';
import type { SipTransport, TransportStats } from './transport.ts';
import { UdpEndpoint } from './udp-endpoint.ts';

/** Settings of SocketTransport. */
export interface SocketTransportOptions {
  host: string;
  /** 0 = ephemeral: UDP binds first, then TCP takes the same number. */
  port: number;
  /** Per-message bound in bytes. */
  maxMessageBytes: number;
  /** Idle TCP connection lifetime, ms (default 300 s). */
  tcpIdleTimeoutMs?: number;
  /** TCP: a started message's header block (then body) deadline, ms (default 5000). */
  tcpHeaderTimeoutMs?: number;
  /** TCP: accepted connections at once, in total and from one address (default unbounded). */
  tcpMaxConnections?: number;
  tcpMaxConnectionsPerSource?: number;
}

const EPHEMERAL_ATTEMPTS = 8;

/** SIP over UDP and TCP on the same host:port (RFC 3261 §18). */
export class SocketTransport implements SipTransport {
  onPacket: (data: Buffer, source: Peer) => void = () => {};
  private readonly udp: UdpEndpoint;
  private readonly tcp: TcpEndpoint;

  constructor(
    private readonly options: SocketTransportOptions,
    readonly stats: TransportStats,
    log: BurstLogSink,
  ) {
    const deliver = (data: Buffer, source: Peer): void => this.onPacket(data, source);
    this.udp = new UdpEndpoint(stats, deliver, (err) => log.warning(`UDP socket error: ${err.message}`));
    this.tcp = new TcpEndpoint({
      maxMessageBytes: options.maxMessageBytes,
      idleTimeoutMs: options.tcpIdleTimeoutMs ?? DEFAULT_TCP_IDLE_MS,
      headerTimeoutMs: options.tcpHeaderTimeoutMs,
      maxConnections: options.tcpMaxConnections,
      maxConnectionsPerSource: options.tcpMaxConnectionsPerSource,
    }, stats, deliver, log);
  }

  /** Open TCP connections. */
  get tcpConnections(): number {
    return this.tcp.connectionCount;
  }

  async start(): Promise<{ host: string; port: number }> {
    const { host, port } = this.options;
    for (let attempt = 1; ; attempt++) {
      const udpPort = await this.udp.bind(host, port).catch((err: Error) => {
        throw listenError('udp', host, port, err);
      });
      try {
        await this.tcp.listen(host, udpPort);
        return { host, port: udpPort };
      } catch (err) {
        await this.udp.close();
        // With an ephemeral port, TCP may find the number taken: try another one.
        const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (port !== 0 || !inUse || attempt >= EPHEMERAL_ATTEMPTS) throw listenError('tcp', host, udpPort, err as Error);
      }
    }
  }

  send(data: Buffer, dest: Peer, onError?: (err: Error) => void): void {
    if (dest.transport === 'tcp') this.tcp.send(data, dest, onError);
    else this.udp.send(data, dest, onError);
  }

  retain(connectionId: number): void {
    this.tcp.retain(connectionId);
  }

  release(connectionId: number): void {
    this.tcp.release(connectionId);
  }

  async close(): Promise<void> {
    await Promise.all([this.udp.close(), this.tcp.close()]);
  }
}

function listenError(transport: string, host: string, port: number, cause: Error): Error {
  const code = (cause as NodeJS.ErrnoException).code ?? 'ERROR';
  const err = new Error(`SIP cannot listen on ${transport} ${host}:${port}: ${code} (${cause.message})`, { cause });
  return Object.assign(err, { code });
}
