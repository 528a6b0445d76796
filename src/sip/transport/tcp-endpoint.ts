import net from 'node:net';
import { systemClock } from '../../lib/clock.ts';
import { BurstLog, type BurstLogSink } from './burst-log.ts';
import { formatPeer, type Peer } from './peer.ts';
import { SipStreamFramer } from './stream-framer.ts';
import type { TransportStats } from './transport.ts';
import { plainAddress, sourceKey } from '../../lib/source-address.ts';

/** Default idle time after which an unused TCP connection is closed, ms. */
export const DEFAULT_TCP_IDLE_MS = 300_000;
/** Default time a connection has for a message's header block once it started one (and for its body after that), ms. */
export const DEFAULT_TCP_HEADER_TIMEOUT_MS = 5000;

interface Connection {
  id: number;
  socket: net.Socket;
  key: string;
  framer: SipStreamFramer;
  pins: number;
  ready: boolean;
  queue: Array<{ data: Buffer; onError?: (err: Error) => void }>;
  /** Accepted by our listener (counted against the bounds), not opened by us. */
  inbound: boolean;
  /** The peer's address as the bounds count it. */
  source: string;
  /** When the message in progress must be framed (header block, then body), ms; undefined between messages. */
  deadline: number | undefined;
  /** Whether `deadline` is the header block's or the body's. */
  deadlineFor: 'header' | 'body' | undefined;
  /** Last complete message in either direction, connect, or release by a call, ms: the idle timeout runs from it. */
  lastUsed: number;
}

/** Settings of the TCP side. */
export interface TcpEndpointOptions {
  /** Per-message bound in bytes; an oversize or unframeable stream closes its connection. */
  maxMessageBytes: number;
  /** Time without a complete message after which a connection no call uses is closed, ms (bytes that do not finish a message do not count). */
  idleTimeoutMs: number;
  /** Once a message started, its header block must be complete within this many ms, and its body within as many after that (default 5000). */
  headerTimeoutMs?: number;
  /** Accepted connections open at once; a new one over it is closed at once (default unbounded). */
  maxConnections?: number;
  /** Accepted connections open at once from one address; a new one over it is closed at once (default unbounded). */
  maxConnectionsPerSource?: number;
}

/**
 * SIP over TCP (RFC 3261 §18): a listener plus connections reused in both directions, keyed by remote
 * address:port; each connection frames its byte stream with SipStreamFramer. Bounded against slow
 * and idle peers: accepted connections in total and per address, a deadline for each message once
 * begun (bytes trickling in do not extend it), and an idle timeout that only complete messages reset.
 * One sweep timer checks every connection's deadlines; no timer per connection.
 */
export class TcpEndpoint {
  private server: net.Server | undefined;
  private readonly byId = new Map<number, Connection>();
  private readonly byRemote = new Map<string, Connection>();
  private readonly perSource = new Map<string, number>();
  private inbound = 0;
  private nextId = 1;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly closes: BurstLog;
  private readonly headerTimeoutMs: number;
  private readonly maxConnections: number;
  private readonly maxConnectionsPerSource: number;

  constructor(
    private readonly options: TcpEndpointOptions,
    private readonly stats: TransportStats,
    private readonly onPacket: (data: Buffer, source: Peer) => void,
    private readonly log: BurstLogSink,
  ) {
    this.headerTimeoutMs = options.headerTimeoutMs ?? DEFAULT_TCP_HEADER_TIMEOUT_MS;
    this.maxConnections = options.maxConnections ?? Infinity;
    this.maxConnectionsPerSource = options.maxConnectionsPerSource ?? Infinity;
    this.closes = new BurstLog(log, systemClock, 'TCP connections', 'closed');
  }

  /** Open connections (accepted and our own). */
  get connectionCount(): number {
    return this.byId.size;
  }

  /** Listens on host:port; rejects with the listen error (EADDRINUSE...). */
  listen(host: string, port: number): Promise<number> {
    const server = net.createServer((socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.warning(`TCP listener error: ${err.message}`));
        this.server = server;
        const periodMs = Math.min(1000, Math.max(20, Math.min(this.headerTimeoutMs, this.options.idleTimeoutMs) / 4));
        this.sweepTimer = setInterval(() => this.sweep(), periodMs);
        this.sweepTimer.unref();
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  /** A new inbound connection: closed at once when over a bound, else adopted. */
  private accept(socket: net.Socket): void {
    socket.on('error', () => {});
    if (socket.remoteAddress === undefined) {
      socket.destroy(); // closed by the peer before we saw it
      return;
    }
    const source = sourceKey(socket.remoteAddress);
    const fromSource = this.perSource.get(source) ?? 0;
    const over = this.inbound >= this.maxConnections ? ['sip.tcp.maxConnections', this.maxConnections] as const
      : fromSource >= this.maxConnectionsPerSource ? ['sip.tcp.maxConnectionsPerSource', this.maxConnectionsPerSource] as const
        : undefined;
    if (over !== undefined) {
      socket.destroy();
      this.stats.connectionsRefused++;
      this.closes.record(`over ${over[0]}`, () => `closing new TCP connections: ${over[0]} (${over[1]}) reached, by ${formatPeer({ transport: 'tcp', address: plainAddress(socket.remoteAddress), port: socket.remotePort ?? 0 })}`);
      return;
    }
    this.inbound++;
    this.perSource.set(source, fromSource + 1);
    this.adopt(socket, true, true);
  }

  private adopt(socket: net.Socket, ready: boolean, inbound: boolean): Connection {
    const address = socket.remoteAddress ?? '';
    const port = socket.remotePort ?? 0;
    const conn: Connection = {
      id: this.nextId++, socket, key: remoteKey(address, port), pins: 0, ready, queue: [],
      framer: new SipStreamFramer(this.options.maxMessageBytes),
      inbound, source: sourceKey(address), deadline: undefined, deadlineFor: undefined, lastUsed: now(),
    };
    this.byId.set(conn.id, conn);
    this.byRemote.set(conn.key, conn);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(conn, chunk, address, port));
    socket.on('error', () => {});
    socket.on('close', () => this.forget(conn, new Error('connection closed')));
    return conn;
  }

  private onData(conn: Connection, chunk: Buffer, address: string, port: number): void {
    const result = conn.framer.push(chunk);
    if (result.messages.length > 0) conn.lastUsed = now();
    for (const data of result.messages) {
      this.stats.received++;
      this.onPacket(data, { transport: 'tcp', address, port, connectionId: conn.id });
    }
    if (result.pings > 0 && !conn.socket.destroyed) conn.socket.write('\r\n'.repeat(result.pings));
    if (result.error !== undefined) {
      this.stats.framingErrors++;
      const error = result.error;
      this.closes.record('unframeable', () => `closing ${formatPeer({ transport: 'tcp', address, port })}: ${error}`);
      conn.socket.destroy();
      return;
    }
    this.track(conn, result.messages.length > 0);
  }

  /** Arms the deadline of the message in progress: from its first byte for the header block, from the header's end for the body. */
  private track(conn: Connection, framedSome: boolean): void {
    const phase = conn.framer.phase;
    if (phase === 'idle') {
      conn.deadline = undefined;
      conn.deadlineFor = undefined;
    } else if (conn.deadlineFor !== phase || framedSome) {
      conn.deadline = now() + this.headerTimeoutMs;
      conn.deadlineFor = phase;
    }
  }

  /** Closes connections past their message deadline, and idle ones no call uses. */
  private sweep(): void {
    const t = now();
    for (const conn of this.byId.values()) {
      if (conn.socket.destroyed) continue; // closing: forgotten on its 'close'
      if (conn.deadline !== undefined && t >= conn.deadline) {
        this.stats.headerTimeouts++;
        const part = conn.deadlineFor === 'body' ? 'body' : 'header block';
        const peer = formatPeer({ transport: 'tcp', address: conn.socket.remoteAddress ?? conn.source, port: conn.socket.remotePort ?? 0 });
        this.closes.record('past sip.tcp.headerTimeoutMs', () => `closing ${peer}: a message's ${part} took longer than sip.tcp.headerTimeoutMs (${this.headerTimeoutMs} ms)`);
        conn.deadline = undefined;
        conn.socket.destroy();
      } else if (conn.deadline === undefined && conn.pins === 0 && t - conn.lastUsed >= this.options.idleTimeoutMs) {
        this.stats.idleClosed++;
        conn.socket.destroy();
      }
    }
  }

  private forget(conn: Connection, err: Error): void {
    if (!this.byId.delete(conn.id)) return;
    if (conn.inbound) {
      this.inbound--;
      const n = (this.perSource.get(conn.source) ?? 1) - 1;
      if (n > 0) this.perSource.set(conn.source, n);
      else this.perSource.delete(conn.source);
    }
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
    conn.lastUsed = now();
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
    const conn = this.adopt(socket, false, false);
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

  /** Undoes one retain; the idle timeout starts again when none are left. */
  release(connectionId: number): void {
    const conn = this.byId.get(connectionId);
    if (conn && conn.pins > 0 && --conn.pins === 0) conn.lastUsed = now();
  }

  /** Stops listening and destroys every connection; idempotent. */
  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.closes.close();
    for (const conn of this.byId.values()) conn.socket.destroy();
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

function remoteKey(address: string, port: number): string {
  return `${address.toLowerCase()}|${port}`;
}

function now(): number {
  return systemClock.now();
}
