import { lookup } from 'node:dns/promises';
import net from 'node:net';
import type { Peer, TransportProtocol } from './peer.ts';
import { hostAddress, type SipUri } from '../message/uri.ts';

/**
 * Where a request to `uri` goes (RFC 3261 §8.1.2; a simplified RFC 3263: IP literal or A/AAAA lookup,
 * no NAPTR/SRV): transport from `;transport=` else the dialog's, port default 5060/5061. Over TCP the
 * dialog's flow (the connection its INVITE came on) is offered as a hint so NATed peers keep receiving on it.
 * Returns undefined when the host is a name that needs DNS (use resolveNextHop).
 */
export function nextHopPeer(uri: SipUri, flow: Peer, resolvedAddress?: string): Peer | undefined {
  const host = hostAddress(uri.host);
  const address = net.isIP(host) !== 0 ? host : resolvedAddress;
  if (address === undefined) return undefined;
  const param = uri.params.get('transport')?.toLowerCase();
  const transport: TransportProtocol = param === 'tcp' || param === 'udp' ? param : flow.transport;
  const peer: Peer = { transport, address, port: uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060) };
  if (transport === 'tcp' && flow.transport === 'tcp' && flow.connectionId !== undefined) peer.connectionId = flow.connectionId;
  return peer;
}

/** nextHopPeer with a DNS lookup (A/AAAA) for host names. */
export async function resolveNextHop(uri: SipUri, flow: Peer): Promise<Peer> {
  const direct = nextHopPeer(uri, flow);
  if (direct !== undefined) return direct;
  const { address } = await lookup(hostAddress(uri.host));
  return nextHopPeer(uri, flow, address)!;
}
