import { Resampler } from '../audio/resampler.ts';
import { SampleChunker } from '../audio/chunker.ts';
import { mixSaturating, interleaveStereo } from '../audio/mix.ts';

/** Which audio goes to the server: mono = read, mixed = read + write, stereo = L read / R write. */
export type MixType = 'mono' | 'mixed' | 'stereo';

/** What a pipeline is built for. */
export interface PipelineFormat {
  mix: MixType;
  /** Rate of the channel's frames (the codec rate), Hz. */
  inputRateHz: number;
  /** Rate sent to the server, Hz. */
  outputRateHz: number;
  /** Audio per binary message, ms (STREAM_BUFFER_SIZE). */
  bufferMs: number;
}

/**
 * The media path of one stream, pure and synchronous: a channel's read and write frames in, the
 * binary messages to send out (`process(read, write)` -> how many, `message(i)` each). It builds the frame to send (mono: read as is; mixed: the saturating
 * sum; stereo: interleaved L = read, R = write; a missing direction is silence), resamples it with a
 * per-stream speexdsp state (quality 2, the module's) and cuts exact `bufferMs` chunks from a
 * continuous FIFO, whatever the packet time. Nothing here allocates per frame.
 */
export class StreamPipeline {
  /** 1 (mono, mixed) or 2 (stereo) interleaved channels. */
  readonly channels: 1 | 2;
  /** Interleaved samples per message. */
  readonly chunkSamples: number;
  private readonly chunker: SampleChunker;
  private resampler: Resampler | undefined;
  private inputRate: number;
  private work = new Int16Array(0);
  private workView = new Int16Array(0);
  private ready = 0;
  private destroyed = false;

  constructor(private readonly format: PipelineFormat) {
    this.channels = format.mix === 'stereo' ? 2 : 1;
    this.chunkSamples = Math.round((format.outputRateHz * format.bufferMs) / 1000) * this.channels;
    this.chunker = new SampleChunker(this.chunkSamples);
    this.inputRate = format.inputRateHz;
    this.resampler = this.makeResampler();
  }

  /** Bytes of audio per message. */
  get chunkBytes(): number {
    return this.chunkSamples * 2;
  }

  /** Rate of the frames it takes now, Hz. */
  get inputRateHz(): number {
    return this.inputRate;
  }

  /**
   * One packet time: `read` and `write` frames (either may be null: silence), `frameSamples` long
   * when both are null. Returns how many messages this frame completed; `message(i)` gives each.
   */
  process(read: Int16Array | null, write: Int16Array | null, frameSamples: number): number {
    if (this.destroyed) return 0;
    const n = read?.length ?? write?.length ?? frameSamples;
    let input: Int16Array;
    if (this.format.mix === 'mono' && read) {
      input = read;
    } else {
      const len = n * this.channels;
      if (this.work.length < len) this.work = new Int16Array(len);
      if (this.format.mix === 'stereo') interleaveStereo(read, write, this.work, n);
      else mixSaturating(read, this.format.mix === 'mixed' ? write : null, this.work, n);
      if (this.workView.length !== len || this.workView.buffer !== this.work.buffer) this.workView = this.work.subarray(0, len);
      input = this.workView;
    }
    this.ready = this.chunker.push(this.resampler ? this.resampler.process(input) : input);
    return this.ready;
  }

  /**
   * Message `i` of those the last process() completed, as little-endian s16 bytes: a view reused by
   * the next call, so send (or copy) it before that.
   */
  message(i: number): Buffer {
    if (i >= this.ready) throw new RangeError(`message ${i} of ${this.ready}`);
    return this.chunker.chunkBytes(i);
  }

  /** The partial message left at the end (stop, hangup), or null. */
  flush(): Buffer | null {
    const tail = this.chunker.flush();
    return tail ? Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength) : null;
  }

  /** The channel's codec rate changed: frames are resampled from the new rate from now on. */
  setInputRate(rateHz: number): void {
    if (rateHz === this.inputRate || this.destroyed) return;
    this.resampler?.destroy();
    this.inputRate = rateHz;
    this.resampler = this.makeResampler();
  }

  /** Frees the resampler (idempotent). */
  destroy(): void {
    this.destroyed = true;
    this.resampler?.destroy();
    this.resampler = undefined;
  }

  private makeResampler(): Resampler | undefined {
    return this.inputRate !== this.format.outputRateHz ? new Resampler(this.channels, this.inputRate, this.format.outputRateHz) : undefined;
  }
}
