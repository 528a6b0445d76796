import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resampler } from './resampler.ts';
import { deinterleave, dominantFrequency, interleave, sine, snrDb, toneLevelDbfs } from '../../test/helpers/audio.ts';

/** Feeds `input` through `r` in chunks of `chunkFrames` frames and concatenates the outputs (copies each view). */
function runChunked(r: Resampler, input: Int16Array, chunkFrames: number): Int16Array {
  const step = chunkFrames * r.channels;
  const parts: Int16Array[] = [];
  for (let i = 0; i < input.length; i += step) parts.push(r.process(input.subarray(i, i + step)).slice());
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** A non-trivial test signal: two tones plus deterministic noise (s16, mono). */
function richSignal(rateHz: number, seconds: number): Int16Array {
  const a = sine(300, rateHz, seconds, 0.3);
  const b = sine(2100, rateHz, seconds, 0.2);
  const out = new Int16Array(a.length);
  let s = 1;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = a[i] + b[i] + ((s >>> 20) - 2048);
  }
  return out;
}

const RATIOS: [number, number][] = [[8000, 16000], [16000, 8000], [8000, 44100], [8000, 48000], [48000, 8000], [16000, 24000]];
const LEVEL_IN_DBFS = 20 * Math.log10(0.5);

for (const [inRate, outRate] of RATIOS) {
  test(`1 kHz -6 dBFS sine ${inRate} -> ${outRate}: frequency, level, SNR and length`, () => {
    const r = new Resampler(1, inRate, outRate);
    const out = runChunked(r, sine(1000, inRate, 1, 0.5), inRate / 50);
    r.destroy();
    assert.ok(Math.abs(out.length - outRate) <= 3, `output length ${out.length} for 1 s at ${outRate} Hz`);
    const steady = out.subarray(Math.round(outRate * 0.05)); // skip the filter latency
    const f = dominantFrequency(steady, outRate);
    const level = toneLevelDbfs(steady, 1000, outRate);
    const snr = snrDb(steady, 1000, outRate);
    assert.ok(Math.abs(f - 1000) < 1, `frequency ${f} Hz`);
    assert.ok(Math.abs(level - LEVEL_IN_DBFS) < 0.5, `level ${level} dBFS`);
    assert.ok(snr > 60, `SNR ${snr} dB`);
  });
}

test('every pair of 8k/16k/24k/32k/44.1k/48k/64k keeps a 500 Hz tone and the rate ratio', () => {
  const rates = [8000, 16000, 24000, 32000, 44100, 48000, 64000];
  for (const inRate of rates) {
    for (const outRate of rates) {
      const r = new Resampler(1, inRate, outRate);
      const out = runChunked(r, sine(500, inRate, 0.5, 0.5), Math.round(inRate / 50));
      r.destroy();
      const label = `${inRate} -> ${outRate}`;
      assert.ok(Math.abs(out.length - outRate / 2) <= 3, `${label}: ${out.length} samples`);
      const steady = out.subarray(Math.round(outRate * 0.05));
      assert.ok(Math.abs(toneLevelDbfs(steady, 500, outRate) - LEVEL_IN_DBFS) < 0.5, `${label}: level`);
      assert.ok(snrDb(steady, 500, outRate) > 60, `${label}: SNR`);
    }
  }
});

test('output is bit-identical whatever the chunking (20 ms, 30 ms, odd sizes, one block)', () => {
  for (const [inRate, outRate] of [[8000, 44100], [48000, 8000], [16000, 24000], [8000, 16000]]) {
    const x = richSignal(inRate, 1);
    const whole = new Resampler(1, inRate, outRate).process(x).slice();
    const c20 = runChunked(new Resampler(1, inRate, outRate), x, inRate / 50);
    const c30 = runChunked(new Resampler(1, inRate, outRate), x, (inRate * 3) / 100);
    const c7 = runChunked(new Resampler(1, inRate, outRate), x, 7);
    assert.ok(whole.length > 0);
    assert.deepEqual(c20, whole, `${inRate}->${outRate} 20 ms`);
    assert.deepEqual(c30, whole, `${inRate}->${outRate} 30 ms`);
    assert.deepEqual(c7, whole, `${inRate}->${outRate} 7 frames`);
  }
});

test('stereo keeps channels apart (other tone >= 60 dB down)', () => {
  for (const [inRate, outRate] of [[8000, 16000], [48000, 8000], [16000, 44100]]) {
    const x = interleave(sine(440, inRate, 1, 0.5), sine(1500, inRate, 1, 0.5));
    const r = new Resampler(2, inRate, outRate);
    const out = runChunked(r, x, inRate / 50);
    r.destroy();
    assert.ok(Math.abs(out.length / 2 - outRate) <= 3, `frames ${out.length / 2}`);
    const [l, rt] = deinterleave(out.subarray(Math.round(outRate * 0.05) * 2));
    const lOwn = toneLevelDbfs(l, 440, outRate), lOther = toneLevelDbfs(l, 1500, outRate);
    const rOwn = toneLevelDbfs(rt, 1500, outRate), rOther = toneLevelDbfs(rt, 440, outRate);
    assert.ok(Math.abs(lOwn - LEVEL_IN_DBFS) < 0.5 && Math.abs(rOwn - LEVEL_IN_DBFS) < 0.5, `levels ${lOwn} ${rOwn}`);
    assert.ok(lOwn - lOther >= 60, `left leak ${lOther} dBFS`);
    assert.ok(rOwn - rOther >= 60, `right leak ${rOther} dBFS`);
    assert.ok(Math.abs(dominantFrequency(l, outRate) - 440) < 1 && Math.abs(dominantFrequency(rt, outRate) - 1500) < 1);
  }
});

test('stereo input split mid-frame is carried over, matching one-block output', () => {
  const x = interleave(richSignal(16000, 0.5), sine(1000, 16000, 0.5, 0.4));
  const whole = new Resampler(2, 16000, 8000).process(x).slice();
  const r = new Resampler(2, 16000, 8000);
  const parts: number[] = [];
  for (let i = 0; i < x.length; i += 321) {
    parts.push(...r.process(x.subarray(i, i + 321)));
    parts.push(...r.process(new Int16Array(0))); // an empty call must keep the carried half frame
  }
  assert.deepEqual(Int16Array.from(parts), whole);
});

test('buffers grow for a larger input without disturbing the stream', () => {
  const x = richSignal(8000, 2);
  const reference = new Resampler(1, 8000, 48000).process(x).slice();
  const r = new Resampler(1, 8000, 48000);
  const a = r.process(x.subarray(0, 160)).slice();
  const b = r.process(x.subarray(160, 160 + 12000)).slice(); // far beyond the initial capacity
  const c = r.process(x.subarray(12160)).slice();
  const joined = new Int16Array(a.length + b.length + c.length);
  joined.set(a); joined.set(b, a.length); joined.set(c, a.length + b.length);
  assert.deepEqual(joined, reference);
});

test('steady frames reuse the same output view (no per-frame allocation)', () => {
  const r = new Resampler(1, 8000, 16000);
  const frame = sine(1000, 8000, 0.02, 0.5);
  const first = r.process(frame);
  const second = r.process(frame);
  assert.equal(second.length, 320);
  assert.equal(second, first, 'same Int16Array object handed back');
  assert.ok(toneLevelDbfs(second, 1000, 16000) > -8, 'view holds the latest audio');
  r.destroy();
});

test('edge cases: empty input, destroy twice, process after destroy, bad arguments', () => {
  const r = new Resampler(1, 8000, 16000);
  assert.equal(r.process(new Int16Array(0)).length, 0);
  assert.equal(r.channels, 1);
  assert.equal(r.inRateHz, 8000);
  assert.equal(r.outRateHz, 16000);
  r.destroy();
  r.destroy();
  assert.equal(r.process(sine(1000, 8000, 0.02)).length, 0, 'no output once destroyed');
  assert.throws(() => new Resampler(3 as 1, 8000, 16000), RangeError);
  assert.throws(() => new Resampler(1, 0, 16000), RangeError);
  assert.throws(() => new Resampler(1, 8000, 44100.5), RangeError);
  assert.throws(() => new Resampler(1, 8000, 16000, 11), RangeError);
  const same = new Resampler(1, 16000, 16000);
  const x = richSignal(16000, 0.2);
  const y = same.process(x);
  assert.equal(y.length, x.length, '1:1 passes the sample count through');
  same.destroy();
});

test('many instances (memory growth) keep working and stay independent', () => {
  const rs = Array.from({ length: 64 }, () => new Resampler(2, 8000, 48000, 3));
  const x = interleave(sine(440, 8000, 0.5, 0.5), sine(1500, 8000, 0.5, 0.5));
  const first = rs[0].process(x).slice();
  for (const r of rs.slice(1)) assert.deepEqual(r.process(x), first);
  for (const r of rs) r.destroy();
  const [l] = deinterleave(first.subarray(48000 * 0.05 * 2));
  assert.ok(snrDb(l, 440, 48000) > 60);
});

test('WASM memory growth (one instance with a huge input) does not disturb another instance', () => {
  const x = richSignal(8000, 0.4);
  const reference = runChunked(new Resampler(1, 8000, 16000), x, 160);
  const a = new Resampler(1, 8000, 16000);
  const first = a.process(x.subarray(0, 1600)).slice();
  // 90 s of stereo at 48 kHz is 17 MB of output: more than the 16 MB initial WASM heap, so memory must grow.
  const huge = new Resampler(2, 8000, 48000);
  const tone = sine(1000, 8000, 90, 0.5);
  const out = huge.process(interleave(tone, tone));
  assert.equal(out.length, 90 * 48000 * 2);
  const [l] = deinterleave(out.subarray(out.length - 96000));
  assert.ok(snrDb(l, 1000, 48000) > 60, 'huge output is clean');
  huge.destroy();
  const rest = runChunked(a, x.subarray(1600), 160);
  a.destroy();
  const joined = new Int16Array(first.length + rest.length);
  joined.set(first); joined.set(rest, first.length);
  assert.deepEqual(joined, reference);
});
