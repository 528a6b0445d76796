import type { Peer } from './peer.ts';

/** Counters a transport keeps (shared with the UA's stats object). */
export interface TransportStats {
  /** Packets/framed messages handed up. */
  received: number;
  /** Messages written. */
  sent: number;
  /** Streams closed because they could not be framed or exceeded the size bound. */
  framingErrors: number;
  /** Send failures (unreachable, reset, connect refused). */
  transportErrors: number;
  /** New TCP connections closed at once for being over sip.tcp.maxConnections or maxConnectionsPerSource. */
  connectionsRefused: number;
  /** TCP connections closed because a message's header block (or body) took longer than sip.tcp.headerTimeoutMs. */
  headerTimeouts: number;
  /** TCP connections closed after the idle timeout with no call using them. */
  idleClosed: number;
}

/**
 * What the user agent needs from a transport: real UDP+TCP sockets (SocketTransport) or an
 * in-memory one in tests. Each inbound item is one datagram or one framed stream message.
 */
export interface SipTransport {
  /** Set by the UA: one datagram, or one message cut from a stream. */
  onPacket: (data: Buffer, source: Peer) => void;
  /** Binds; resolves with the bound address (port 0 → ephemeral). */
  start(): Promise<{ host: string; port: number }>;
  /** Sends; failures are reported through `onError` (never thrown). */
  send(data: Buffer, dest: Peer, onError?: (err: Error) => void): void;
  /** Keeps the TCP connection of `connectionId` open past its idle timeout while a dialog uses it. */
  retain(connectionId: number): void;
  /** Undoes one retain. */
  release(connectionId: number): void;
  /** Stops listening and closes connections; idempotent. */
  close(): Promise<void>;
}
