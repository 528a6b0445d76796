import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SilenceGenerator, parseSilenceSpec } from './silence-stream.ts';

function pull(g: SilenceGenerator, frame: number, max: number): Int16Array {
  const out = new Int16Array(max);
  let n = 0;
  while (!g.ended && n < max) n += g.read(out, n, Math.min(frame, max - n));
  return out.subarray(0, n);
}

test('silence_stream://<ms>: rate / 1000 * ms samples of digital silence; 0, -1 or no number: for ever', () => {
  assert.deepEqual(parseSilenceSpec('500'), { ms: 500, divisor: 0 });
  assert.deepEqual(parseSilenceSpec('-1'), { ms: Infinity, divisor: 0 });
  assert.deepEqual(parseSilenceSpec(''), { ms: Infinity, divisor: 0 });
  assert.deepEqual(parseSilenceSpec('abc'), { ms: Infinity, divisor: 0 });
  assert.deepEqual(parseSilenceSpec('300,400'), { ms: 300, divisor: 400 });
  assert.deepEqual(parseSilenceSpec('300,0'), { ms: 300, divisor: 0 });
  for (const rate of [8000, 16000]) {
    const out = pull(new SilenceGenerator(parseSilenceSpec('500'), rate), rate / 50, rate * 2);
    assert.equal(out.length, rate / 2);
    assert.ok(out.every((v) => v === 0));
  }
  const forever = new SilenceGenerator(parseSilenceSpec('-1'), 8000);
  assert.equal(pull(forever, 160, 80000).length, 80000);
  assert.equal(forever.ended, false);
});

test('silence_stream://<ms>,<divisor>: comfort noise peaking near 32768 / divisor, not silence', () => {
  const out = pull(new SilenceGenerator(parseSilenceSpec('1000,400'), 8000), 160, 16000);
  assert.equal(out.length, 8000);
  let peak = 0;
  let sum = 0;
  for (const v of out) { peak = Math.max(peak, Math.abs(v)); sum += v * v; }
  assert.ok(peak <= 82 && peak >= 70, `peak ${peak}`);
  assert.ok(Math.sqrt(sum / out.length) > 30, 'noise, not silence');
});

test('a rate change keeps the time left', () => {
  const g = new SilenceGenerator(parseSilenceSpec('1000'), 8000);
  pull(g, 160, 2000); // 250 ms
  g.setRate(16000);
  assert.equal(pull(g, 320, 100000).length, 12000, '750 ms at 16 kHz');
});
