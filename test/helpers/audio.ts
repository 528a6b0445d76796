// Audio analysis helpers for tests: tone generation, levels, frequency, SNR, correlation.
// Levels follow AES17: a full-scale sine reads 0 dBFS for both rmsDbfs and toneLevelDbfs.
import { writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { ulawEncode } from '../../src/codec/g711.ts';

/** Full-scale reference amplitude for dBFS figures (s16 units). */
const FULL_SCALE = 32768;
/** Largest positive s16 value, used to scale generated tones (s16 units). */
const S16_MAX = 32767;

/** Sine of `freqHz` at `rateHz` lasting `seconds`, peak `amplitude` (fraction of full scale), same tone on every channel (interleaved s16). */
export function sine(freqHz: number, rateHz: number, seconds: number, amplitude = 0.5, channels = 1): Int16Array {
  const frames = Math.round(rateHz * seconds);
  const out = new Int16Array(frames * channels);
  const w = (2 * Math.PI * freqHz) / rateHz;
  for (let i = 0; i < frames; i++) {
    const v = amplitude * S16_MAX * Math.sin(w * i);
    const s = Math.max(-32768, Math.min(32767, Math.sign(v) * Math.round(Math.abs(v)))); // symmetric rounding
    for (let c = 0; c < channels; c++) out[i * channels + c] = s;
  }
  return out;
}

/** Interleaves two equal-length mono signals into one stereo signal (s16, L R L R ...). */
export function interleave(left: Int16Array, right: Int16Array): Int16Array {
  if (left.length !== right.length) throw new RangeError(`interleave: lengths differ (${left.length} vs ${right.length})`);
  const out = new Int16Array(left.length * 2);
  for (let i = 0; i < left.length; i++) {
    out[2 * i] = left[i];
    out[2 * i + 1] = right[i];
  }
  return out;
}

/** Splits an interleaved stereo signal into [left, right] (s16; a trailing odd sample is dropped). */
export function deinterleave(stereo: Int16Array): [Int16Array, Int16Array] {
  const frames = stereo.length >> 1;
  const left = new Int16Array(frames);
  const right = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    left[i] = stereo[2 * i];
    right[i] = stereo[2 * i + 1];
  }
  return [left, right];
}

/** RMS level in dBFS, AES17 convention (full-scale sine = 0 dBFS); -Infinity for silence or empty input. */
export function rmsDbfs(samples: ArrayLike<number>): number {
  if (samples.length === 0) return -Infinity;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  const rms = Math.sqrt(sum / samples.length);
  return 20 * Math.log10((rms * Math.SQRT2) / FULL_SCALE);
}

/** Result of a least-squares sine fit: coefficients (s16 units) and energies (s16 units squared). */
interface SineFit {
  a: number;
  b: number;
  /** Peak amplitude of the fitted sine (s16 units). */
  amplitude: number;
  /** Sum of squared samples (s16 units squared). */
  energy: number;
  /** Sum of squared residuals after removing the fitted sine (s16 units squared). */
  residual: number;
}

/** Fits a sine at `freqHz` to mono `samples` by least squares (2x2 normal equations). */
function fitSine(samples: ArrayLike<number>, freqHz: number, rateHz: number): SineFit {
  const w = (2 * Math.PI * freqHz) / rateHz;
  let ss = 0, cc = 0, sc = 0, xs = 0, xc = 0, xx = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = Math.sin(w * i);
    const c = Math.cos(w * i);
    const x = samples[i];
    ss += s * s; cc += c * c; sc += s * c; xs += x * s; xc += x * c; xx += x * x;
  }
  const det = ss * cc - sc * sc;
  const a = det === 0 ? 0 : (xs * cc - xc * sc) / det;
  const b = det === 0 ? 0 : (xc * ss - xs * sc) / det;
  // Residual energy of a least-squares fit: |x|^2 - (projection energy).
  const residual = Math.max(0, xx - (a * xs + b * xc));
  return { a, b, amplitude: Math.hypot(a, b), energy: xx, residual };
}

/** Level of the tone at `freqHz` in mono `samples`, dBFS (peak of the fitted sine vs full scale; a -6 dBFS sine reads -6.02). */
export function toneLevelDbfs(samples: ArrayLike<number>, freqHz: number, rateHz: number): number {
  return 20 * Math.log10(fitSine(samples, freqHz, rateHz).amplitude / FULL_SCALE);
}

/** Signal-to-noise ratio in dB of mono `samples` against a sine at `freqHz` fitted by least squares (noise = residual; DC counts as noise). */
export function snrDb(samples: ArrayLike<number>, freqHz: number, rateHz: number): number {
  const fit = fitSine(samples, freqHz, rateHz);
  const signal = fit.energy - fit.residual;
  if (fit.residual === 0) return Infinity;
  return 10 * Math.log10(signal / fit.residual);
}

/** In-place iterative radix-2 FFT over `re`/`im` (length a power of two). */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len >> 1; k++) {
        const wr = Math.cos(ang * k), wi = Math.sin(ang * k);
        const p = i + k, q = p + (len >> 1);
        const xr = re[q] * wr - im[q] * wi;
        const xi = re[q] * wi + im[q] * wr;
        re[q] = re[p] - xr; im[q] = im[p] - xi;
        re[p] += xr; im[p] += xi;
      }
    }
  }
}

/** Frequency in Hz of the strongest spectral peak above 20 Hz in mono `samples` (Hann window, 4x zero-padded FFT, log-parabolic interpolation); NaN if too short or silent. */
export function dominantFrequency(samples: ArrayLike<number>, rateHz: number): number {
  const len = samples.length;
  if (len < 8) return NaN;
  let n = 1;
  while (n < len * 4) n <<= 1;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < len; i++) re[i] = samples[i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (len - 1)));
  fft(re, im);
  const mag = (k: number): number => Math.hypot(re[k], im[k]);
  const minBin = Math.max(1, Math.ceil((20 * n) / rateHz));
  let peak = -1;
  let peakMag = 0;
  for (let k = minBin; k < n / 2 - 1; k++) {
    const m = mag(k);
    if (m > peakMag) { peakMag = m; peak = k; }
  }
  if (peak < 0) return NaN;
  const l = Math.log(mag(peak - 1) + 1e-12), c = Math.log(peakMag + 1e-12), r = Math.log(mag(peak + 1) + 1e-12);
  const denom = l - 2 * c + r;
  const delta = denom === 0 ? 0 : (0.5 * (l - r)) / denom;
  return ((peak + delta) * rateHz) / n;
}

/** Normalized cross-correlation peak: the `lag` in [-maxLag, maxLag] (samples) maximizing corr(a[i], b[i + lag]) over the overlap, and that correlation (-1..1). Positive lag = b is delayed relative to a. */
export function bestCorrelation(a: ArrayLike<number>, b: ArrayLike<number>, maxLag: number): { lag: number; corr: number } {
  let best = { lag: 0, corr: -Infinity };
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    const start = Math.max(0, -lag);
    const end = Math.min(a.length, b.length - lag);
    if (end - start < 1) continue;
    let ab = 0, aa = 0, bb = 0;
    for (let i = start; i < end; i++) {
      const x = a[i], y = b[i + lag];
      ab += x * y; aa += x * x; bb += y * y;
    }
    const corr = aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
    if (corr > best.corr) best = { lag, corr };
  }
  if (best.corr === -Infinity) best.corr = 0;
  return best;
}

/** Little-endian s16 samples from a Buffer: a view when aligned on a little-endian host, otherwise a copy (a trailing odd byte is ignored). */
export function pcmFromBuffer(buf: Buffer): Int16Array {
  const count = buf.length >> 1;
  if ((buf.byteOffset & 1) === 0 && endianness() === 'LE') return new Int16Array(buf.buffer, buf.byteOffset, count);
  const out = new Int16Array(count);
  for (let i = 0; i < count; i++) out[i] = buf.readInt16LE(2 * i);
  return out;
}

/** Writes a mono 8 kHz sine as raw μ-law at `path` (the audio SIPp's rtp_stream plays); returns the path. */
export function writeUlawTone(path: string, freqHz: number, seconds: number, amplitude: number): string {
  const tone = sine(freqHz, 8000, seconds, amplitude);
  const bytes = new Uint8Array(tone.length);
  ulawEncode(tone, bytes);
  writeFileSync(path, bytes);
  return path;
}
