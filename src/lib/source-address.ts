// The address a peer is known by: for logs and comparisons (plainAddress), and for the per-source
// bounds of SIP admission, SIP over TCP, the Event Socket and the HTTP API (sourceKey).
import { isIP } from 'node:net';

/** An address as a socket reports it, lower case, with IPv4-mapped IPv6 (`::ffff:127.0.0.1`) written as IPv4. */
export function plainAddress(address: string | undefined): string {
  if (!address) return '';
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/**
 * What the per-source bounds count a peer by: its IPv4 address, or the /64 of its IPv6 address
 * (`2001:db8:1:2::/64`). One host or one customer is handed a whole /64, so counting its addresses
 * one by one would let a single source walk past every per-source bound.
 */
export function sourceKey(address: string | undefined): string {
  const plain = plainAddress(address);
  if (isIP(plain) !== 6) return plain;
  const groups = ipv6Groups(plain);
  return groups === undefined ? plain : `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (hex, without leading zeros), or undefined. */
function ipv6Groups(address: string): string[] | undefined {
  const bare = address.split('%')[0]!; // a zone (fe80::1%eth0) is not part of the address
  const [head, tail, extra] = bare.split('::');
  if (extra !== undefined) return undefined;
  const part = (text: string | undefined): string[] => {
    if (!text) return [];
    const out: string[] = [];
    for (const g of text.split(':')) {
      if (g.includes('.')) {
        // A trailing dotted IPv4 (::1.2.3.4, 64:ff9b::1.2.3.4): two groups.
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        out.push(((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
      } else out.push(parseInt(g, 16).toString(16));
    }
    return out;
  };
  const left = part(head);
  const right = part(tail);
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(Math.max(0, fill)).fill('0'), ...right];
  return groups.length === 8 ? groups : undefined;
}
