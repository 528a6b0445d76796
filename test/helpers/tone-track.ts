// Where tones start, stop and change in a recording: sample-accurate onsets and ends (the service
// plays exact digital silence, so any sample above a small threshold is audio), the boundary
// between two tones by least-squares level (toneLevelDbfs), and one timeline of tapped RTP packets.
import { toneLevelDbfs } from './audio.ts';
import type { TappedRtp } from './udp-tap.ts';

/** Index of the first sample whose magnitude exceeds `threshold`, at or after `from`; -1 if none. */
export function firstAbove(pcm: ArrayLike<number>, threshold: number, from = 0, to = pcm.length): number {
  for (let i = Math.max(0, from); i < Math.min(to, pcm.length); i++) if (Math.abs(pcm[i]!) > threshold) return i;
  return -1;
}

/** Index of the last sample whose magnitude exceeds `threshold` in [from, to); -1 if none. */
export function lastAbove(pcm: ArrayLike<number>, threshold: number, from = 0, to = pcm.length): number {
  for (let i = Math.min(to, pcm.length) - 1; i >= Math.max(0, from); i--) if (Math.abs(pcm[i]!) > threshold) return i;
  return -1;
}

/**
 * The first sample of the tone at `fB` where a tone at `fA` gives way to it, searched within `span`
 * samples of `around`: the index maximising (fA before - fB before) + (fB after - fA after) in dB
 * over `win` samples each side.
 */
export function toneBoundary(pcm: Int16Array, fA: number, fB: number, rateHz: number, around: number, span = 400, win = 40): number {
  let best = -1;
  let bestScore = -Infinity;
  for (let i = Math.max(win, around - span); i <= Math.min(pcm.length - win, around + span); i++) {
    const before = pcm.subarray(i - win, i);
    const after = pcm.subarray(i, i + win);
    const score = toneLevelDbfs(before, fA, rateHz) - toneLevelDbfs(before, fB, rateHz)
      + toneLevelDbfs(after, fB, rateHz) - toneLevelDbfs(after, fA, rateHz);
    if (score > bestScore) { bestScore = score; best = i; }
  }
  return best;
}

/** Tapped RTP packets laid end to end: one PCM signal, and for each sample the packet that carried it. */
export interface RtpTimeline {
  pcm: Int16Array;
  packets: TappedRtp[];
  /** Index in `packets` of the packet carrying sample `index` of `pcm`. */
  packetOf(index: number): number;
  /** Index in `pcm` of the first sample of packet `n`. */
  startOf(n: number): number;
}

/** Lays the packets (sorted by sequence number, wrap-aware, from the first sent) end to end. */
export function rtpTimeline(packets: TappedRtp[]): RtpTimeline {
  const sorted = [...packets].sort((a, b) => ((a.seq - packets[0]!.seq) & 0xffff) - ((b.seq - packets[0]!.seq) & 0xffff));
  const starts: number[] = [];
  let total = 0;
  for (const p of sorted) { starts.push(total); total += p.pcm.length; }
  const pcm = new Int16Array(total);
  sorted.forEach((p, i) => pcm.set(p.pcm, starts[i]!));
  return {
    pcm, packets: sorted,
    packetOf(index: number): number {
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= index) lo = mid; else hi = mid - 1;
      }
      return lo;
    },
    startOf: (n: number) => starts[n]!,
  };
}

/** Mono samples of a parsed WAV (the first channel when it has several). */
export function firstChannel(wav: { samples: Int16Array; channels: number }): Int16Array {
  if (wav.channels === 1) return wav.samples;
  const out = new Int16Array(Math.floor(wav.samples.length / wav.channels));
  for (let i = 0; i < out.length; i++) out[i] = wav.samples[i * wav.channels]!;
  return out;
}
