/**
 * A sample FIFO that cuts a continuous s16 stream into chunks of exactly `chunkSamples`
 * (interleaved) samples, whatever size the input pieces have. The chunk buffer is reused:
 * `onChunk` must consume it before returning.
 */
export class SampleChunker {
  /** The chunk storage handed to onChunk (exposed so callers can wrap it once, e.g. in a Buffer). */
  readonly buffer: Int16Array;
  private filled = 0;

  constructor(readonly chunkSamples: number, private readonly onChunk: (chunk: Int16Array) => void) {
    if (!Number.isInteger(chunkSamples) || chunkSamples <= 0) throw new RangeError(`chunk size must be a positive integer, got ${chunkSamples}`);
    this.buffer = new Int16Array(chunkSamples);
  }

  /** Samples waiting for the next chunk. */
  get pending(): number {
    return this.filled;
  }

  /** Appends samples, emitting every chunk that becomes full. */
  push(samples: Int16Array): void {
    let offset = 0;
    const total = samples.length;
    while (offset < total) {
      const take = Math.min(this.chunkSamples - this.filled, total - offset);
      if (take === total && this.filled === 0 && take === this.chunkSamples) {
        this.buffer.set(samples);
      } else {
        for (let i = 0; i < take; i++) this.buffer[this.filled + i] = samples[offset + i]!;
      }
      this.filled += take;
      offset += take;
      if (this.filled === this.chunkSamples) {
        this.filled = 0;
        this.onChunk(this.buffer);
      }
    }
  }

  /** Emits the partial chunk (if any) as a shorter view, then empties the FIFO. */
  flush(): void {
    if (this.filled === 0) return;
    const n = this.filled;
    this.filled = 0;
    this.onChunk(this.buffer.subarray(0, n));
  }

  /** Drops pending samples. */
  clear(): void {
    this.filled = 0;
  }
}
