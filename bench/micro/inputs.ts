// Deterministic benchmark inputs: one second of speech-band audio (two wandering tones with a
// syllable-like envelope plus noise), cut into 20 ms frames. Benchmarks cycle through the frames
// so that codec and resampler state see changing audio rather than one frame (or zeros) repeated.

/** Packet time of every frame-sized benchmark, ms. */
export const FRAME_MS = 20;
/** Frames per second of media at FRAME_MS (for Benchmark.opsPerCallSecond). */
export const FRAMES_PER_SECOND = 1000 / FRAME_MS;

import { prng } from '../load/signal.ts';

/** `seconds` of one channel at `rateHz` as s16: about -12 dBFS peaks, a 4 Hz envelope, noise at about -50 dBFS. */
function channel(rateHz: number, seconds: number, seed: number, f0: number): Int16Array {
  const rand = prng(seed);
  const out = new Int16Array(Math.round(rateHz * seconds));
  const w = (2 * Math.PI) / rateHz;
  let p1 = 0;
  let p2 = 0;
  for (let i = 0; i < out.length; i++) {
    const t = i / rateHz;
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t);
    p1 += w * f0 * (1 + 0.05 * Math.sin(2 * Math.PI * 3 * t));
    p2 += w * f0 * 5.3;
    const v = envelope * (6000 * Math.sin(p1) + 2500 * Math.sin(p2)) + (rand() - 0.5) * 200;
    out[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
  }
  return out;
}

/** One second of test audio at `rateHz` (interleaved s16 when stereo; the two sides differ) cut into FRAME_MS frames. */
export function audioFrames(rateHz: number, channels: 1 | 2 = 1): Int16Array[] {
  const left = channel(rateHz, 1, 1, 180);
  const right = channels === 2 ? channel(rateHz, 1, 2, 120) : left;
  const frameFrames = (rateHz * FRAME_MS) / 1000;
  const frames: Int16Array[] = [];
  for (let at = 0; at + frameFrames <= left.length; at += frameFrames) {
    const frame = new Int16Array(frameFrames * channels);
    for (let i = 0; i < frameFrames; i++) {
      if (channels === 1) frame[i] = left[at + i];
      else {
        frame[2 * i] = left[at + i];
        frame[2 * i + 1] = right[at + i];
      }
    }
    frames.push(frame);
  }
  return frames;
}

/** Cycles through `items` without allocating: next() returns the following one, wrapping around. */
export class Cycle<T> {
  private index = 0;
  constructor(private readonly items: readonly T[]) {
    if (items.length === 0) throw new RangeError('Cycle: no items');
  }

  /** The next item. */
  next(): T {
    const item = this.items[this.index];
    this.index = this.index + 1 === this.items.length ? 0 : this.index + 1;
    return item;
  }
}
