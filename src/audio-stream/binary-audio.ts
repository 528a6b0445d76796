// The server's binary replies on their way into the channel's playback: raw L16 little-endian mono
// at the binary rate, resampled to the codec rate by one streaming resampler across messages (so
// the pieces join seamlessly), with marks placed exactly behind the audio sent before them.
import { endianness } from 'node:os';
import type { Playback } from '../channel/playback.ts';
import { Resampler } from '../audio/resampler.ts';

const LITTLE_ENDIAN = endianness() === 'LE';

/** Samples decoded and resampled at a time: a long message is converted in pieces of this many ms. */
export const BINARY_SLICE_MS = 1000;

/**
 * A streaming resampler that knows what it holds back: its filter delay (about 2 ms at quality 2)
 * means the last samples given to it come out only with the next input.
 */
class TailResampler {
  private readonly r: Resampler;
  private inTotal = 0;
  /** Output samples handed out so far. */
  outTotal = 0;

  constructor(readonly inRateHz: number, readonly outRateHz: number) {
    this.r = new Resampler(1, inRateHz, outRateHz);
  }

  /** Resamples the next input (a view, valid until the next call). */
  process(pcm: Int16Array): Int16Array {
    const out = this.r.process(pcm);
    this.inTotal += pcm.length;
    this.outTotal += out.length;
    return out;
  }

  /** Output samples of the input given so far that are still held (the filter's delay; its output started with as many of silence). */
  get held(): number {
    return Math.min(this.r.outputLatency, Math.round((this.inTotal * this.outRateHz) / this.inRateHz));
  }

  /** The held samples, exactly (silence pushed through, only what belongs to the input kept); the resampler is spent after it. */
  drain(): Int16Array {
    const held = this.held;
    if (held === 0) return new Int16Array(0);
    const out = this.r.process(new Int16Array(Math.ceil((2 * held * this.inRateHz) / this.outRateHz) + 16));
    const tail = out.subarray(0, Math.min(held, out.length));
    this.outTotal += tail.length;
    return tail;
  }

  destroy(): void {
    this.r.destroy();
  }
}

/** A mark queued behind binary audio the resampler still holds: pushed into playback once `at` samples of its output are. */
interface PendingPoint {
  at: number;
  push: () => void;
}

/**
 * Binary audio into a channel's playback. Marks behind it wait for the resampler's tail (so a mark
 * never comes back before its audio was sent, and nothing is inserted into a continuous stream);
 * the tail is queued when the playback is about to run dry (the server paused), before a clip or a
 * hangup, and when the codec rate changes; a clear drops it.
 */
export class BinaryAudio {
  private resampler: TailResampler | undefined;
  private pending: PendingPoint[] = [];
  private pcm = new Int16Array(0);
  private removeStarving: (() => void) | undefined;
  private readonly removeClearing: () => void;

  constructor(private readonly playback: Playback, readonly inRateHz: number) {
    this.removeClearing = playback.onClearing(() => this.beforeClear());
  }

  /** Samples in one slice at the binary rate. */
  get sliceSamples(): number {
    return Math.round((this.inRateHz * BINARY_SLICE_MS) / 1000);
  }

  /** Marks waiting for the resampler's tail. */
  get pendingMarks(): number {
    return this.pending.length;
  }

  /**
   * Plays `count` samples of `bytes` (L16 little-endian) from sample `first`: decoded, resampled
   * to the codec rate, appended to the streamed segment, with the marks due inside it queued at
   * their place. At most a slice at a time (the caller slices).
   */
  append(bytes: Buffer, first: number, count: number): void {
    if (this.pcm.length < count) this.pcm = new Int16Array(Math.max(count, Math.min(this.sliceSamples, this.pcm.length * 2)));
    const pcm = this.pcm.subarray(0, count);
    const offset = 2 * first;
    if (LITTLE_ENDIAN) {
      new Uint8Array(pcm.buffer, pcm.byteOffset, 2 * count).set(bytes.subarray(offset, offset + 2 * count));
    } else {
      for (let i = 0; i < count; i++) pcm[i] = bytes.readInt16LE(offset + 2 * i);
    }
    this.deliver(this.resample(pcm));
  }

  /**
   * A mark behind the binary audio: queued now, or, while the resampler holds the tail of that
   * audio, once the tail is (with the next message, or when the playback is about to run dry).
   */
  mark(push: () => void): void {
    const r = this.resampler;
    const held = r ? r.held : 0;
    if (held === 0 && this.pending.length === 0) {
      push();
      return;
    }
    this.pending.push({ at: (r ? r.outTotal : 0) + held, push });
  }

  /**
   * Queues the resampler's tail, contiguous with the audio before it, then every mark that waited
   * for it (before a clip or a hangup, or the server paused); the next message starts a fresh filter.
   */
  flush(): void {
    const r = this.resampler;
    if (!r) return;
    const tail = r.drain();
    if (r.outRateHz === this.playback.codecRateHz) this.deliver(tail);
    else void this.playback.enqueueAudio(Int16Array.from(tail), r.outRateHz); // the codec rate changed: played at its own rate
    for (const p of this.pending.splice(0)) p.push();
    this.reset();
  }

  /** The stream ends: nothing more is queued. */
  close(): void {
    this.pending = [];
    this.reset();
    this.removeClearing();
  }

  /** Binary audio -> the codec rate, through one resampler across messages (flushed first if the codec rate changed). */
  private resample(pcm: Int16Array): Int16Array {
    const to = this.playback.codecRateHz;
    if (this.resampler && this.resampler.outRateHz !== to) this.flush();
    if (this.inRateHz === to) return pcm;
    if (!this.resampler) {
      this.resampler = new TailResampler(this.inRateHz, to);
      this.removeStarving = this.playback.onStarving(() => this.onStarving());
    }
    return this.resampler.process(pcm);
  }

  /** Resampled audio into the streamed segment, with the marks due inside it queued at their place. */
  private deliver(out: Int16Array): void {
    const r = this.resampler;
    let pos = 0;
    if (r && this.pending.length > 0) {
      const start = r.outTotal - out.length; // output index of out[0]
      let done = 0;
      while (done < this.pending.length && this.pending[done]!.at <= r.outTotal) {
        const cut = Math.max(pos, Math.min(out.length, this.pending[done]!.at - start));
        this.appendStream(out.subarray(pos, cut));
        pos = cut;
        this.pending[done++]!.push();
      }
      if (done > 0) this.pending.splice(0, done);
    }
    this.appendStream(pos === 0 ? out : out.subarray(pos));
  }

  private appendStream(samples: Int16Array): void {
    if (samples.length > 0) this.playback.appendStream(samples);
  }

  /** The playback is about to run dry: the tail goes out now, contiguous with what is left. */
  private onStarving(): void {
    if (this.resampler && this.resampler.held > 0) this.flush();
  }

  /** A clear is starting: the waiting marks join the queue (the clear answers them `cleared`, in order); the tail is dropped. */
  private beforeClear(): void {
    for (const p of this.pending.splice(0)) p.push();
    this.reset();
  }

  private reset(): void {
    this.resampler?.destroy();
    this.resampler = undefined;
    this.removeStarving?.();
    this.removeStarving = undefined;
  }
}
