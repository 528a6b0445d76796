import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCodec, type CodecName } from './codec.ts';
import { dominantFrequency, sine, snrDb } from '../../test/helpers/audio.ts';

const CASES: { name: CodecName; rateHz: number; clockHz: number; bytesPer20ms: number; minSnrDb: number }[] = [
  { name: 'PCMU', rateHz: 8000, clockHz: 8000, bytesPer20ms: 160, minSnrDb: 30 },
  { name: 'PCMA', rateHz: 8000, clockHz: 8000, bytesPer20ms: 160, minSnrDb: 30 },
  { name: 'G722', rateHz: 16000, clockHz: 8000, bytesPer20ms: 160, minSnrDb: 20 },
  { name: 'L16', rateHz: 8000, clockHz: 8000, bytesPer20ms: 320, minSnrDb: 80 },
  { name: 'L16', rateHz: 16000, clockHz: 16000, bytesPer20ms: 640, minSnrDb: 80 },
];

for (const c of CASES) {
  test(`${c.name}/${c.rateHz}: rates, frame sizes and a 1 kHz round trip`, () => {
    const enc = createCodec(c.name, c.rateHz);
    const dec = createCodec(c.name, c.rateHz);
    assert.equal(enc.name, c.name);
    assert.equal(enc.sampleRateHz, c.rateHz);
    assert.equal(enc.clockRateHz, c.clockHz);
    const frame = c.rateHz / 50;
    assert.equal(enc.bytesFor(frame), c.bytesPer20ms);
    const src = sine(1000, c.rateHz, 0.5, 0.5);
    const out = new Int16Array(src.length);
    const payload = new Uint8Array(c.bytesPer20ms);
    for (let off = 0; off < src.length; off += frame) {
      assert.equal(enc.encode(src.subarray(off, off + frame), payload), c.bytesPer20ms);
      assert.equal(dec.decode(payload, out.subarray(off, off + frame)), frame);
    }
    const tail = out.subarray(frame * 2);
    assert.ok(Math.abs(dominantFrequency(tail, c.rateHz) - 1000) < 3);
    assert.ok(snrDb(tail, 1000, c.rateHz) > c.minSnrDb);
  });
}

test('createCodec rejects unsupported rates', () => {
  assert.throws(() => createCodec('PCMU', 16000), RangeError);
  assert.throws(() => createCodec('G722', 8000), RangeError);
  assert.throws(() => createCodec('L16', 44100), RangeError);
  assert.throws(() => createCodec('opus' as CodecName, 48000), RangeError);
});
