/**
 * A sample FIFO that cuts a continuous s16 stream into chunks of exactly `chunkSamples`
 * (interleaved) samples, whatever size the input pieces have. `push` returns how many complete
 * chunks the FIFO now holds; `chunkBytes(i)` are views of them, valid until the next `push` or
 * `flush` (which hand the storage over to new samples). The storage grows to the largest
 * piece seen and is then reused, so steady streaming allocates nothing.
 */
export class SampleChunker {
  private store = new Int16Array(0);
  private bytes: Buffer[] = [];
  /** Samples in the store, from index 0. */
  private filled = 0;
  /** Complete chunks handed out by the last push (dropped at the next one). */
  private ready = 0;

  constructor(readonly chunkSamples: number) {
    if (!Number.isInteger(chunkSamples) || chunkSamples <= 0) throw new RangeError(`chunk size must be a positive integer, got ${chunkSamples}`);
    this.grow(chunkSamples);
  }

  /** Samples waiting for the next chunk (not counting complete chunks of the last push). */
  get pending(): number {
    return this.filled - this.ready * this.chunkSamples;
  }

  /** Appends samples; returns the number of complete chunks, readable with chunkBytes(i) until the next call. */
  push(input: Int16Array): number {
    this.release();
    if (this.filled + input.length > this.store.length) this.grow(this.filled + input.length);
    this.store.set(input, this.filled);
    this.filled += input.length;
    this.ready = Math.floor(this.filled / this.chunkSamples);
    return this.ready;
  }

  /** Complete chunk `i` (0-based) of the last push, as little-endian s16 bytes (a view of the FIFO's storage). */
  chunkBytes(i: number): Buffer {
    return this.bytes[i]!;
  }

  /** The partial chunk left (a shorter view, valid until the next call), or null; the FIFO is then empty. */
  flush(): Int16Array | null {
    this.release();
    const n = this.filled;
    this.filled = 0;
    return n === 0 ? null : this.store.subarray(0, n);
  }

  /** Drops the chunks handed out last time: the partial tail moves to the front. */
  private release(): void {
    if (this.ready === 0) return;
    const used = this.ready * this.chunkSamples;
    this.store.copyWithin(0, used, this.filled);
    this.filled -= used;
    this.ready = 0;
  }

  private grow(minSamples: number): void {
    const chunks = Math.ceil(minSamples / this.chunkSamples) + 1;
    const store = new Int16Array(chunks * this.chunkSamples);
    store.set(this.store.subarray(0, this.filled));
    this.store = store;
    this.bytes = [];
    const chunkBytes = this.chunkSamples * 2;
    for (let k = 0; k < chunks; k++) this.bytes.push(Buffer.from(store.buffer, k * chunkBytes, chunkBytes));
  }
}
