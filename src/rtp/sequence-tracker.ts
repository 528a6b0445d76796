// RTP sequence number accounting (RFC 3550 §A.1, A.3): extended highest sequence number with
// 16-bit wrap, packets expected vs received, and a restart on a large jump.

/** Forward jump beyond which the stream counts as restarted (RFC 3550 MAX_DROPOUT). */
const MAX_DROPOUT = 3000;
/** Backward distance still taken as reordering rather than a restart (RFC 3550 MAX_MISORDER). */
const MAX_MISORDER = 100;

/** Tracks one stream's sequence numbers; cumulative loss survives restarts. */
export class SequenceTracker {
  private started = false;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private received = 0;
  private lostBefore = 0;

  /** Accounts one packet; returns true when it is not newer than the highest seen (reordered or duplicated). */
  update(seq: number): boolean {
    seq &= 0xffff;
    if (!this.started) {
      this.begin(seq);
      return false;
    }
    const delta = (seq - this.maxSeq) & 0xffff;
    if (delta === 0) return true;
    if (delta < MAX_DROPOUT) {
      if (seq < this.maxSeq) this.cycles += 65536;
      this.maxSeq = seq;
      this.received++;
      return false;
    }
    if (delta <= 65536 - MAX_MISORDER) {
      this.restart();
      this.begin(seq);
      return false;
    }
    this.received++;
    return true;
  }

  /** Packets expected but not received, over all restarts (never negative). */
  get lost(): number {
    return this.lostBefore + this.currentLost();
  }

  /** Highest sequence number seen, extended with wrap cycles (RFC 3550 "extended highest sequence number"). */
  get extendedMax(): number {
    return this.cycles + this.maxSeq;
  }

  /** Ends the current stream (its loss is kept); the next packet starts a new one. */
  restart(): void {
    this.lostBefore += this.currentLost();
    this.started = false;
  }

  private currentLost(): number {
    if (!this.started) return 0;
    return Math.max(0, this.cycles + this.maxSeq - this.baseSeq + 1 - this.received);
  }

  private begin(seq: number): void {
    this.started = true;
    this.baseSeq = this.maxSeq = seq;
    this.cycles = 0;
    this.received = 1;
  }
}
