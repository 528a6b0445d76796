/** A fixed-bucket latency histogram in ms (0.05 ms buckets up to 200 ms, then one overflow bucket); no allocation per sample. */
export class LatencyHistogram {
  private static readonly BUCKET_MS = 0.05;
  private readonly counts = new Uint32Array(4001);
  /** Number of samples recorded. */
  count = 0;
  /** Largest sample in ms. */
  maxMs = 0;

  /** Records one sample in ms. */
  record(ms: number): void {
    const v = ms < 0 ? 0 : ms;
    const i = Math.min(this.counts.length - 1, Math.floor(v / LatencyHistogram.BUCKET_MS));
    this.counts[i]!++;
    this.count++;
    if (v > this.maxMs) this.maxMs = v;
  }

  /** The p-th percentile (0..100) in ms, as the upper edge of its bucket; 0 when empty. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.maxMs, (i + 1) * LatencyHistogram.BUCKET_MS);
    }
    return this.maxMs;
  }

  /** Forgets every sample. */
  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.maxMs = 0;
  }
}
