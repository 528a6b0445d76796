import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bestCorrelation,
  deinterleave,
  dominantFrequency,
  interleave,
  pcmFromBuffer,
  rmsDbfs,
  sine,
  snrDb,
  toneLevelDbfs,
} from './audio.ts';

/** Deterministic uniform noise in [-amp, amp] (s16 units) from a 32-bit LCG. */
function noise(n: number, amp: number, seed = 12345): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 0x100000000 * 2 - 1) * amp;
  }
  return out;
}

/** Element-wise sum of two equally long signals (float). */
function add(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

test('sine: length, peak, phase and channel duplication', () => {
  const x = sine(1000, 8000, 0.5, 0.5);
  assert.equal(x.length, 4000);
  assert.equal(x[0], 0);
  assert.equal(x[2], Math.round(0.5 * 32767)); // quarter period of 1 kHz at 8 kHz
  assert.equal(Math.max(...x), 16384);
  assert.equal(Math.min(...x), -16384);
  const st = sine(440, 16000, 0.1, 0.25, 2);
  assert.equal(st.length, 3200);
  for (let i = 0; i < st.length; i += 2) assert.equal(st[i], st[i + 1]);
  assert.ok(Math.abs(toneLevelDbfs(deinterleave(st)[0], 440, 16000) - 20 * Math.log10(0.25)) < 0.01);
});

test('interleave/deinterleave round trip and ordering', () => {
  const l = Int16Array.from([1, 2, 3]);
  const r = Int16Array.from([-1, -2, -3]);
  const s = interleave(l, r);
  assert.deepEqual([...s], [1, -1, 2, -2, 3, -3]);
  const [l2, r2] = deinterleave(s);
  assert.deepEqual([...l2], [1, 2, 3]);
  assert.deepEqual([...r2], [-1, -2, -3]);
  assert.throws(() => interleave(l, r.subarray(1)), RangeError);
  assert.equal(deinterleave(Int16Array.from([5, 6, 7]))[0].length, 1);
});

test('rmsDbfs follows AES17 (full-scale sine = 0 dBFS)', () => {
  assert.ok(Math.abs(rmsDbfs(sine(1000, 48000, 1, 1)) - 0) < 0.01);
  assert.ok(Math.abs(rmsDbfs(sine(1000, 48000, 1, 0.5)) - -6.02) < 0.01);
  assert.ok(Math.abs(rmsDbfs(sine(1000, 8000, 1, 0.01)) - -40) < 0.05);
  assert.ok(Math.abs(rmsDbfs(new Int16Array(100).fill(-32768)) - 3.01) < 0.01); // full-scale square/DC
  assert.equal(rmsDbfs(new Int16Array(10)), -Infinity);
  assert.equal(rmsDbfs(new Int16Array(0)), -Infinity);
});

test('toneLevelDbfs isolates one tone in a mix', () => {
  const rate = 16000;
  const a = sine(1000, rate, 1, 0.5);
  const b = sine(2500, rate, 1, 0.05);
  const mix = add(a, b);
  assert.ok(Math.abs(toneLevelDbfs(mix, 1000, rate) - -6.02) < 0.05);
  assert.ok(Math.abs(toneLevelDbfs(mix, 2500, rate) - -26.02) < 0.05);
  assert.ok(toneLevelDbfs(a, 2500, rate) < -80, 'absent tone reads far down');
});

test('dominantFrequency within ±2 Hz for 200..7000 Hz tones (also with noise)', () => {
  const cases: [number, number][] = [
    [200, 8000], [333.3, 8000], [1000, 8000], [3900, 8000],
    [200, 16000], [1234.5, 16000], [7000, 16000],
    [440, 44100], [6999.9, 44100], [997, 48000], [5000, 48000],
  ];
  for (const [f, rate] of cases) {
    const tone = sine(f, rate, 1, 0.5);
    const est = dominantFrequency(tone, rate);
    assert.ok(Math.abs(est - f) < 0.5, `${f} Hz @ ${rate}: got ${est}`);
    const noisy = add(tone, noise(tone.length, 3000));
    const est2 = dominantFrequency(noisy, rate);
    assert.ok(Math.abs(est2 - f) < 2, `${f} Hz @ ${rate} + noise: got ${est2}`);
  }
  assert.ok(Number.isNaN(dominantFrequency(new Int16Array(100), 8000)), 'silence has no peak');
});

test('snrDb: clean tone is near the s16 limit; added noise gives the expected ratio', () => {
  const rate = 16000;
  const tone = sine(1000, rate, 1, 0.5);
  assert.ok(snrDb(tone, 1000, rate) > 85);
  // Uniform noise of amplitude A has power A^2/3; tone power 16383.5^2/2.
  const amp = 500;
  const expected = 10 * Math.log10((16383.5 ** 2 / 2) / (amp ** 2 / 3));
  const measured = snrDb(add(tone, noise(tone.length, amp)), 1000, rate);
  assert.ok(Math.abs(measured - expected) < 0.5, `expected ${expected}, got ${measured}`);
  assert.ok(snrDb(sine(1003, rate, 1, 0.5), 1000, rate) < 10, 'wrong frequency is all noise');
});

test('bestCorrelation finds positive and negative delays', () => {
  const a = Float64Array.from(noise(4000, 10000, 7));
  const delayed = new Float64Array(4000);
  for (let i = 37; i < 4000; i++) delayed[i] = a[i - 37];
  const r1 = bestCorrelation(a, delayed, 100);
  assert.equal(r1.lag, 37);
  assert.ok(r1.corr > 0.999);
  const r2 = bestCorrelation(delayed, a, 100);
  assert.equal(r2.lag, -37);
  assert.ok(r2.corr > 0.999);
  const r3 = bestCorrelation(a, noise(4000, 10000, 99), 50);
  assert.ok(Math.abs(r3.corr) < 0.1, `independent noise correlates at ${r3.corr}`);
  const scaled = a.map((v) => v * 0.1);
  assert.deepEqual(bestCorrelation(a, scaled, 5).lag, 0);
  assert.ok(bestCorrelation(a, scaled, 5).corr > 0.9999, 'normalized: gain does not matter');
});

test('pcmFromBuffer reads little-endian s16 from aligned and odd offsets', () => {
  const bytes = Buffer.from([0x01, 0x02, 0xff, 0xff, 0x00, 0x80, 0xff, 0x7f]);
  assert.deepEqual([...pcmFromBuffer(bytes)], [0x0201, -1, -32768, 32767]);
  const backing = Buffer.alloc(bytes.length + 2);
  bytes.copy(backing, 1);
  const odd = backing.subarray(1, 1 + bytes.length);
  assert.equal(odd.byteOffset & 1, 1);
  assert.deepEqual([...pcmFromBuffer(odd)], [0x0201, -1, -32768, 32767]);
  assert.deepEqual([...pcmFromBuffer(bytes.subarray(0, 5))], [0x0201, -1], 'trailing odd byte ignored');
});
