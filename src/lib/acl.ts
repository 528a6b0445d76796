import { BlockList, isIP } from 'node:net';
import { AppError } from './errors.ts';


/**
 * The networks allowed to use the Event Socket: a list of CIDRs (`127.0.0.0/8`, `::1/128`; a bare
 * address means a single host). An empty list allows everyone, as FreeSWITCH does without
 * `apply-inbound-acl`. IPv4 clients seen as IPv4-mapped IPv6 (`::ffff:a.b.c.d`) match IPv4 entries.
 */
export class Acl {
  private readonly list = new BlockList();
  readonly entries: readonly string[];

  constructor(cidrs: readonly string[]) {
    this.entries = [...cidrs];
    for (const entry of cidrs) this.add(entry);
  }

  private add(entry: string): void {
    const [address, prefixText, extra] = entry.trim().split('/');
    const family = isIP(address ?? '');
    if (!family || extra !== undefined) throw new AppError('ACL_INVALID', `invalid ACL entry ${JSON.stringify(entry)}: expected an address or CIDR`);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (!/^\d+$/.test(prefixText ?? String(max)) || prefix > max) {
      throw new AppError('ACL_INVALID', `invalid ACL entry ${JSON.stringify(entry)}: prefix must be 0..${max}`);
    }
    this.list.addSubnet(address!, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }

  /** True when the address may connect. */
  allows(address: string | undefined): boolean {
    if (this.entries.length === 0) return true;
    if (!address) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return this.list.check(mapped[1]!, 'ipv4') || this.list.check(address, 'ipv6');
    const family = isIP(address);
    if (!family) return false;
    return this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}
