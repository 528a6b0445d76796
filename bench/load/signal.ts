// Benchmark source audio: a few seconds of speech-like 8 kHz stereo made in memory, and a looping
// frame source over it. The signal is voiced syllables (harmonics of a wandering pitch shaped by
// moving formants), short fricative noise bursts, phrase pauses and a low noise floor, with a
// different "speaker" on each side, so deflate sees realistic, poorly compressible PCM.

/** Deterministic PRNG (mulberry32) returning floats in [0, 1), so every run streams the same audio. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Speaker {
  /** Mean pitch in Hz. */
  f0: number;
  seed: number;
}

/** One side of the conversation as float samples in about -1..1. */
function speakerTrack(rateHz: number, frames: number, speaker: Speaker): Float64Array {
  const out = new Float64Array(frames);
  const rand = prng(speaker.seed);
  const twoPi = 2 * Math.PI;
  let t = Math.floor(rand() * rateHz * 0.3); // start a little into the file
  let phase = 0;
  let syllablesLeft = 3 + Math.floor(rand() * 4);
  while (t < frames) {
    if (syllablesLeft === 0) {
      // Phrase pause: 200..600 ms of (near) silence.
      t += Math.floor((0.2 + rand() * 0.4) * rateHz);
      syllablesLeft = 3 + Math.floor(rand() * 4);
      continue;
    }
    syllablesLeft--;
    const len = Math.floor((0.12 + rand() * 0.18) * rateHz);
    const f1 = 300 + rand() * 500;
    const f2 = 900 + rand() * 1300;
    const f1End = f1 * (0.8 + rand() * 0.4);
    const f2End = f2 * (0.8 + rand() * 0.4);
    const pitchStart = speaker.f0 * (0.85 + rand() * 0.3);
    const pitchEnd = pitchStart * (0.85 + rand() * 0.3);
    const loud = 0.35 + rand() * 0.5;
    const fricative = rand() < 0.35 ? Math.floor((0.03 + rand() * 0.05) * rateHz) : 0;
    let lp = 0;
    for (let i = 0; i < len && t + i < frames; i++) {
      const x = i / len;
      const env = Math.sin(Math.PI * x) ** 2 * loud;
      const pitch = pitchStart + (pitchEnd - pitchStart) * x + 3 * Math.sin(twoPi * 5.5 * ((t + i) / rateHz));
      phase += (twoPi * pitch) / rateHz;
      if (phase > twoPi * 1000) phase -= twoPi * 1000;
      const F1 = f1 + (f1End - f1) * x;
      const F2 = f2 + (f2End - f2) * x;
      let v = 0;
      const harmonics = Math.floor(3800 / pitch);
      for (let k = 1; k <= harmonics; k++) {
        const f = k * pitch;
        const a = Math.exp(-(((f - F1) / 160) ** 2)) + 0.6 * Math.exp(-(((f - F2) / 260) ** 2)) + 0.04 / k;
        v += a * Math.sin(k * phase);
      }
      out[t + i] += 0.22 * env * v;
      if (i < fricative) {
        // A short noisy onset (crude high-pass of white noise).
        const w = rand() * 2 - 1;
        const hp = w - lp;
        lp = w;
        out[t + i] += 0.25 * loud * hp * (1 - i / fricative);
      }
    }
    t += len + Math.floor(rand() * 0.04 * rateHz);
  }
  for (let i = 0; i < frames; i++) out[i] += (rand() * 2 - 1) * 0.004; // noise floor (about -50 dBFS)
  return out;
}

/**
 * `seconds` of interleaved s16 stereo at `rateHz` (left = one speaker, right = another), peak about
 * -8 dBFS. The length is rounded to whole 20 ms frames so the loop has no seam frame.
 */
export function makeSpeechLikeStereo(rateHz = 8000, seconds = 6): Int16Array {
  const frameLen = Math.round(rateHz * 0.02);
  const frames = Math.round((rateHz * seconds) / frameLen) * frameLen;
  const left = speakerTrack(rateHz, frames, { f0: 118, seed: 0x5eed1 });
  const right = speakerTrack(rateHz, frames, { f0: 205, seed: 0xbeef2 });
  let peak = 1e-9;
  for (let i = 0; i < frames; i++) peak = Math.max(peak, Math.abs(left[i]!), Math.abs(right[i]!));
  const scale = 13000 / peak;
  const out = new Int16Array(frames * 2);
  for (let i = 0; i < frames; i++) {
    out[2 * i] = Math.round(left[i]! * scale);
    out[2 * i + 1] = Math.round(right[i]! * scale);
  }
  return out;
}

/**
 * An endless stereo frame source over shared interleaved samples: each call returns the next
 * packet time as read (left) and write (right) frames, wrapping at the end. It owns only its two
 * frame buffers (reused: consume them before the next call), so thousands can share one file.
 */
export class LoopingStereoSource {
  readonly read: Int16Array;
  readonly write: Int16Array;
  private readonly totalFrames: number;
  private position: number;

  constructor(private readonly samples: Int16Array, readonly frameSamples: number, startFrame = 0) {
    if (samples.length % 2 !== 0) throw new RangeError('stereo samples must be interleaved pairs');
    this.totalFrames = samples.length / 2;
    if (this.totalFrames < frameSamples) throw new RangeError('the file is shorter than one frame');
    this.read = new Int16Array(frameSamples);
    this.write = new Int16Array(frameSamples);
    this.position = ((startFrame * frameSamples) % this.totalFrames + this.totalFrames) % this.totalFrames;
  }

  /** Fills read and write with the next frame. */
  next(): void {
    const s = this.samples;
    const total = this.totalFrames;
    const read = this.read;
    const write = this.write;
    let p = this.position;
    for (let i = 0; i < this.frameSamples; i++) {
      const j = p << 1;
      read[i] = s[j]!;
      write[i] = s[j + 1]!;
      if (++p === total) p = 0;
    }
    this.position = p;
  }
}
