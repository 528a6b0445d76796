/** Transport protocols the UA speaks. */
export type TransportProtocol = 'udp' | 'tcp';

/** A remote end: where a message came from, or where one goes. */
export interface Peer {
  transport: TransportProtocol;
  /** IP address (IPv6 without brackets). */
  address: string;
  port: number;
  /** TCP only: the connection a message arrived on, preferred for sending back (RFC 3261 §18.2.2). */
  connectionId?: number;
}

/** "udp 192.0.2.1:5060" (IPv6 in brackets), for logs. */
export function formatPeer(peer: Peer): string {
  const host = peer.address.includes(':') ? `[${peer.address}]` : peer.address;
  return `${peer.transport} ${host}:${peer.port}`;
}
