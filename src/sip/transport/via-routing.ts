import type { Peer } from './peer.ts';
import { hostAddress } from '../message/uri.ts';
import type { Via } from '../message/via.ts';

/**
 * RFC 3261 §18.2.1 + RFC 3581 §4: on a received request, add `received` when the sent-by host is not
 * the packet's source address (always when `rport` is present) and fill a valueless `rport` with the source port.
 */
export function stampVia(via: Via, source: Peer): void {
  const hasRport = via.params.has('rport');
  if (hasRport || hostAddress(via.host).toLowerCase() !== source.address.toLowerCase()) {
    via.params.set('received', source.address);
  } else {
    via.params.delete('received'); // a client-supplied received must not redirect our responses
  }
  if (hasRport) via.params.set('rport', String(source.port));
}

/**
 * Where a response goes (RFC 3261 §18.2.2, RFC 3581 §4): back over the TCP connection it came on;
 * over UDP to `received` (or sent-by host) and the `rport` port, else the sent-by port (default 5060).
 */
export function responseDestination(via: Via, source: Peer): Peer {
  if (source.transport === 'tcp') return { ...source };
  const address = via.params.get('received') ?? hostAddress(via.host);
  const rport = Number(via.params.get('rport') ?? NaN);
  const port = Number.isInteger(rport) && rport > 0 && rport < 65536 ? rport : via.port ?? 5060;
  return { transport: 'udp', address, port };
}
