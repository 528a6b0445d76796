import dgram from 'node:dgram';
import net from 'node:net';
import type { Peer } from './peer.ts';
import type { TransportStats } from './transport.ts';

/** One UDP socket for every SIP datagram in and out (RFC 3261 §18). */
export class UdpEndpoint {
  private socket: dgram.Socket | undefined;

  constructor(
    private readonly stats: TransportStats,
    private readonly onPacket: (data: Buffer, source: Peer) => void,
    private readonly onSocketError: (err: Error) => void,
  ) {}

  /** Binds host:port (0 = ephemeral); resolves with the bound port; rejects with the bind error. */
  bind(host: string, port: number): Promise<number> {
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        socket.on('error', (err) => this.onSocketError(err));
        socket.on('message', (msg, rinfo) => {
          this.stats.received++;
          this.onPacket(msg, { transport: 'udp', address: rinfo.address, port: rinfo.port });
        });
        this.socket = socket;
        resolve(socket.address().port);
      });
    });
  }

  /** Sends one datagram; reports failures through onError. */
  send(data: Buffer, dest: Peer, onError?: (err: Error) => void): void {
    const socket = this.socket;
    if (socket === undefined) {
      onError?.(new Error('UDP socket is closed'));
      return;
    }
    this.stats.sent++;
    const failed = (err: Error): void => {
      this.stats.transportErrors++;
      onError?.(err);
    };
    try {
      socket.send(data, dest.port, dest.address, (err) => {
        if (err) failed(err);
      });
    } catch (err) {
      queueMicrotask(() => failed(err as Error)); // bad port/address: report like an async failure
    }
  }

  /** Closes the socket; idempotent. */
  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket === undefined) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}
