// Hands out even RTP ports from portMin..portMax (RTP on even ports, RFC 3550 §11), round-robin
// so that a port just freed is reused last (stray packets of the last call land nowhere).
import { AppError } from '../lib/errors.ts';

/** Even ports of one range; allocate() throws AppError RTP_NO_PORT when all are taken. */
export class PortAllocator {
  /** First even port of the range. */
  readonly first: number;
  /** Number of even ports in the range. */
  readonly size: number;
  private readonly used: Uint8Array;
  private inUse = 0;
  private cursor = 0;

  /** `portMin`..`portMax` inclusive, within 1..65535, holding at least one even port. */
  constructor(readonly portMin: number, readonly portMax: number) {
    if (!Number.isInteger(portMin) || !Number.isInteger(portMax) || portMin < 1 || portMax > 65535 || portMin > portMax) {
      throw new RangeError(`bad RTP port range ${portMin}..${portMax}`);
    }
    this.first = portMin + (portMin & 1);
    this.size = this.first > portMax ? 0 : ((portMax - this.first) >> 1) + 1;
    if (this.size === 0) throw new RangeError(`RTP port range ${portMin}..${portMax} has no even port`);
    this.used = new Uint8Array(this.size);
  }

  /** Ports free now. */
  get available(): number {
    return this.size - this.inUse;
  }

  /** Takes the next free even port. */
  allocate(): number {
    if (this.inUse >= this.size) {
      throw new AppError('RTP_NO_PORT', `no free RTP port in ${this.portMin}..${this.portMax} (${this.size} in use)`);
    }
    while (this.used[this.cursor]) this.cursor = (this.cursor + 1) % this.size;
    const i = this.cursor;
    this.used[i] = 1;
    this.inUse++;
    this.cursor = (i + 1) % this.size;
    return this.first + 2 * i;
  }

  /** Gives a port back; ports not allocated (or already released) are ignored. */
  release(port: number): void {
    const i = (port - this.first) / 2;
    if (!Number.isInteger(i) || i < 0 || i >= this.size || !this.used[i]) return;
    this.used[i] = 0;
    this.inUse--;
  }
}
