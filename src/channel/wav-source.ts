/** One packet time of a file: the read and write frames (write is null for a mono file). */
export interface SourceFrame {
  read: Int16Array;
  write: Int16Array | null;
}

/**
 * Cuts an interleaved s16 file into packet-time frames: a mono file feeds the read stream; a stereo
 * file feeds read (left) and write (right). Frames are reused views: consume them before the next call.
 * After the end it gives silence frames (for runs that outlast the file), flagged by `ended`.
 */
export class WavSource {
  /** Samples per channel in one frame. */
  readonly frameSamples: number;
  private readonly read: Int16Array;
  private readonly write: Int16Array | null;
  private readonly frame: SourceFrame;
  private position = 0;

  constructor(private readonly samples: Int16Array, readonly channels: 1 | 2, readonly rateHz: number, readonly ptimeMs: number) {
    this.frameSamples = Math.round((rateHz * ptimeMs) / 1000);
    this.read = new Int16Array(this.frameSamples);
    this.write = channels === 2 ? new Int16Array(this.frameSamples) : null;
    this.frame = { read: this.read, write: this.write };
  }

  /** Length of the file in ms. */
  get durationMs(): number {
    return (this.samples.length / this.channels / this.rateHz) * 1000;
  }

  /** Audio consumed so far, in ms. */
  get positionMs(): number {
    return (this.position / this.rateHz) * 1000;
  }

  /** True once every sample of the file was handed out. */
  get ended(): boolean {
    return this.position * this.channels >= this.samples.length;
  }

  /** The next frame; the last one of the file is shorter when the file does not end on a frame edge. */
  next(): SourceFrame {
    const total = this.samples.length / this.channels;
    const n = Math.min(this.frameSamples, Math.max(0, total - this.position));
    if (n === 0) {
      this.read.fill(0);
      this.write?.fill(0);
      this.position += this.frameSamples;
      return this.frame;
    }
    const start = this.position * this.channels;
    if (this.channels === 1) {
      for (let i = 0; i < n; i++) this.read[i] = this.samples[start + i]!;
    } else {
      for (let i = 0, j = start; i < n; i++, j += 2) {
        this.read[i] = this.samples[j]!;
        this.write![i] = this.samples[j + 1]!;
      }
    }
    this.position += n;
    if (n < this.frameSamples) {
      return { read: this.read.subarray(0, n), write: this.write ? this.write.subarray(0, n) : null };
    }
    return this.frame;
  }
}
