import net from 'node:net';
import { formatPeer, type Peer } from './peer.ts';
import { SipStreamFramer } from './stream-framer.ts';
import type { TransportStats } from './transport.ts';

/** Default idle time after which an unused TCP connection is closed, ms. */
export const DEFAULT_TCP_IDLE_MS = 300_000;

interface Connection {
  id: number;
  socket: net.Socket;
  key: string;
  framer: SipStreamFramer;
  pins: number;
  ready: boolean;
  queue: Array<{ data: Buffer; onError?: (err: Error) => void }>;
}

/** Settings of the TCP side. */
export interface TcpEndpointOptions {
  /** Per-message bound in bytes; an oversize or unframeable stream closes its connection. */
  maxMessageBytes: number;
  /** Idle time before an unretained connection is closed, ms. */
  idleTimeoutMs: number;
}

/**
 * SIP over TCP (RFC 3261 §18): a listener plus connections reused in both directions, keyed by remote
 * address:port; each connection frames its byte stream with SipStreamFramer.
 */
export class TcpEndpoint {
  private server: net.Server | undefined;
  private readonly byId = new Map<number, Connection>();
  private readonly byRemote = new Map<string, Connection>();
  private nextId = 1;

  constructor(
    private readonly options: TcpEndpointOptions,
    private readonly stats: TransportStats,
    private readonly onPacket: (data: Buffer, source: Peer) => void,
    private readonly onWarning: (message: string) => void,
  ) {}

  /** Open connections. */
  get connectionCount(): number {
    return this.byId.size;
  }

  /** Listens on host:port; rejects with the listen error (EADDRINUSE...). */
  listen(host: string, port: number): Promise<number> {
    const server = net.createServer((socket) => this.adopt(socket, true));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.onWarning(`TCP listener error: ${err.message}`));
        this.server = server;
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  private adopt(socket: net.Socket, ready: boolean): Connection {
    const address = socket.remoteAddress ?? '';
    const port = socket.remotePort ?? 0;
    const conn: Connection = {
      id: this.nextId++, socket, key: remoteKey(address, port), pins: 0, ready, queue: [],
      framer: new SipStreamFramer(this.options.maxMessageBytes),
    };
    this.byId.set(conn.id, conn);
    this.byRemote.set(conn.key, conn);
    socket.setNoDelay(true);
    socket.setTimeout(this.options.idleTimeoutMs);
    socket.on('timeout', () => {
      if (conn.pins === 0) socket.destroy();
    });
    socket.on('data', (chunk) => this.onData(conn, chunk, address, port));
    socket.on('error', () => {});
    socket.on('close', () => this.forget(conn, new Error('connection closed')));
    return conn;
  }

  private onData(conn: Connection, chunk: Buffer, address: string, port: number): void {
    const result = conn.framer.push(chunk);
    for (const data of result.messages) {
      this.stats.received++;
      this.onPacket(data, { transport: 'tcp', address, port, connectionId: conn.id });
    }
    if (result.pings > 0 && !conn.socket.destroyed) conn.socket.write('\r\n'.repeat(result.pings));
    if (result.error !== undefined) {
      this.stats.framingErrors++;
      this.onWarning(`closing ${formatPeer({ transport: 'tcp', address, port })}: ${result.error}`);
      conn.socket.destroy();
    }
  }

  private forget(conn: Connection, err: Error): void {
    this.byId.delete(conn.id);
    if (this.byRemote.get(conn.key) === conn) this.byRemote.delete(conn.key);
    for (const item of conn.queue.splice(0)) item.onError?.(err);
  }

  /** Writes on the given connection if open, else on any connection to dest, else connects. */
  send(data: Buffer, dest: Peer, onError?: (err: Error) => void): void {
    let conn = dest.connectionId !== undefined ? this.byId.get(dest.connectionId) : undefined;
    conn ??= this.byRemote.get(remoteKey(dest.address, dest.port));
    conn ??= this.connect(dest);
    if (conn === undefined) {
      this.stats.transportErrors++;
      queueMicrotask(() => onError?.(new Error(`cannot connect to ${formatPeer(dest)}`)));
      return;
    }
    this.stats.sent++;
    if (conn.ready) this.write(conn, data, onError);
    else conn.queue.push({ data, onError });
  }

  private write(conn: Connection, data: Buffer, onError?: (err: Error) => void): void {
    conn.socket.write(data, (err) => {
      if (err) {
        this.stats.transportErrors++;
        onError?.(err);
      }
    });
  }

  private connect(dest: Peer): Connection | undefined {
    if (this.server === undefined) return undefined;
    let socket: net.Socket;
    try {
      socket = net.connect({ host: dest.address, port: dest.port });
    } catch {
      return undefined; // invalid port or address
    }
    const conn = this.adopt(socket, false);
    // remoteAddress is unknown until connected: key by the destination meanwhile.
    this.byRemote.delete(conn.key);
    conn.key = remoteKey(dest.address, dest.port);
    this.byRemote.set(conn.key, conn);
    socket.once('connect', () => {
      conn.ready = true;
      for (const item of conn.queue.splice(0)) this.write(conn, item.data, item.onError);
    });
    socket.once('error', (err) => {
      this.stats.transportErrors++;
      for (const item of conn.queue.splice(0)) item.onError?.(err);
    });
    return conn;
  }

  /** Keeps a connection open past its idle timeout. */
  retain(connectionId: number): void {
    const conn = this.byId.get(connectionId);
    if (conn) conn.pins++;
  }

  /** Undoes one retain; the idle timer starts again when none are left. */
  release(connectionId: number): void {
    const conn = this.byId.get(connectionId);
    if (conn && conn.pins > 0 && --conn.pins === 0) conn.socket.setTimeout(this.options.idleTimeoutMs);
  }

  /** Stops listening and destroys every connection; idempotent. */
  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const conn of this.byId.values()) conn.socket.destroy();
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

function remoteKey(address: string, port: number): string {
  return `${address.toLowerCase()}|${port}`;
}
