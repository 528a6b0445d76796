// Symmetric RTP (RFC 4961): we send to where the peer's packets come from. The first valid
// packet latches its source; later packets from elsewhere are ignored, unless one new source
// with a new SSRC keeps sending (the peer really moved, e.g. a media relay took over).

/** Latches one remote source (address, port) and filters the rest; per-packet calls never throw. */
export class SourceLatch {
  /** Packets from another source than the latched one, ignored. */
  wrongSource = 0;
  /** Times the latch moved to a new source. */
  relatches = 0;
  /** Latched source; meaningful when `latched`. */
  address = '';
  port = 0;
  latched = false;
  private ssrc = 0;
  private candidateAddress = '';
  private candidatePort = 0;
  private candidateSsrc = 0;
  private candidateCount = 0;

  /** `relatchAfter`: consecutive packets from one new source with a new SSRC that move the latch (default 3). */
  constructor(readonly relatchAfter = 3) {}

  /** True when a valid packet from `address`:`port` with `ssrc` is from our peer (latching on the first one). */
  accept(address: string, port: number, ssrc: number): boolean {
    if (!this.latched) {
      this.latch(address, port, ssrc);
      return true;
    }
    if (port === this.port && address === this.address) {
      this.ssrc = ssrc;
      this.candidateCount = 0;
      return true;
    }
    if (ssrc !== this.ssrc && port === this.candidatePort && address === this.candidateAddress && ssrc === this.candidateSsrc) {
      this.candidateCount++;
    } else {
      this.candidateAddress = address;
      this.candidatePort = port;
      this.candidateSsrc = ssrc;
      this.candidateCount = ssrc !== this.ssrc ? 1 : 0;
    }
    if (this.candidateCount >= this.relatchAfter) {
      this.relatches++;
      this.latch(address, port, ssrc);
      return true;
    }
    this.wrongSource++;
    return false;
  }

  /** Forgets the latched source (the remote changed by re-INVITE): the next valid packet latches again. */
  reset(): void {
    this.latched = false;
    this.candidateCount = 0;
  }

  private latch(address: string, port: number, ssrc: number): void {
    this.latched = true;
    this.address = address;
    this.port = port;
    this.ssrc = ssrc;
    this.candidateCount = 0;
  }
}
