import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { G722Decoder, G722Encoder } from './g722.ts';
import { dominantFrequency, sine, snrDb, toneLevelDbfs } from '../../test/helpers/audio.ts';

const RATE_HZ = 16000;
const FRAME = 320; // 20 ms at 16 kHz

/** Encodes then decodes `pcm` in 20 ms frames through fresh codec states, as a call would. */
function roundTrip(pcm: Int16Array): Int16Array {
  const enc = new G722Encoder();
  const dec = new G722Decoder();
  const bytes = new Uint8Array(FRAME / 2);
  const out = new Int16Array(pcm.length);
  for (let off = 0; off + FRAME <= pcm.length; off += FRAME) {
    assert.equal(enc.encode(pcm.subarray(off, off + FRAME), bytes), FRAME / 2);
    assert.equal(dec.decode(bytes, out.subarray(off, off + FRAME)), FRAME);
  }
  return out;
}

/** Deterministic test signal: 1 kHz + 5.5 kHz tones plus LCG noise, 1 s at 16 kHz. */
function katSignal(): Int16Array {
  const x = new Int16Array(RATE_HZ);
  let seed = 1;
  for (let i = 0; i < x.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const noise = ((seed >>> 16) & 0x7fff) - 16384;
    x[i] = Math.round(9000 * Math.sin((2 * Math.PI * 1000 * i) / RATE_HZ) + 7000 * Math.sin((2 * Math.PI * 5500 * i) / RATE_HZ) + noise / 8);
  }
  return x;
}

const sha256 = (b: ArrayBufferView): string => createHash('sha256').update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).digest('hex');

test('G.722 round trip of a 1 kHz tone keeps frequency and level, SNR > 20 dB', () => {
  const src = sine(1000, RATE_HZ, 1, 0.5);
  const out = roundTrip(src).subarray(800); // skip the first 50 ms while the ADPCM adapts
  assert.ok(Math.abs(dominantFrequency(out, RATE_HZ) - 1000) < 2, `freq ${dominantFrequency(out, RATE_HZ)}`);
  assert.ok(Math.abs(toneLevelDbfs(out, 1000, RATE_HZ) - toneLevelDbfs(src, 1000, RATE_HZ)) < 0.5);
  const snr = snrDb(out, 1000, RATE_HZ);
  assert.ok(snr > 20, `SNR ${snr.toFixed(1)} dB`);
});

test('G.722 keeps a 6 kHz tone (wideband: above the 4 kHz of narrowband codecs)', () => {
  const src = sine(6000, RATE_HZ, 1, 0.5);
  const out = roundTrip(src).subarray(800);
  assert.ok(Math.abs(dominantFrequency(out, RATE_HZ) - 6000) < 3, `freq ${dominantFrequency(out, RATE_HZ)}`);
  assert.ok(Math.abs(toneLevelDbfs(out, 6000, RATE_HZ) - toneLevelDbfs(src, 6000, RATE_HZ)) < 1.5);
  assert.ok(snrDb(out, 6000, RATE_HZ) > 10);
});

test('G.722 silence: zeros encode to 0xFA (IH 3, IL 58), and 0xFA decodes to near silence', () => {
  const codes = new Uint8Array(160);
  const enc = new G722Encoder();
  enc.encode(new Int16Array(320), codes);
  assert.ok(codes.subarray(0, 40).every((c) => c === 0xfa), Buffer.from(codes).toString('hex'));
  // Later the predictor hovers around zero: the higher band stays at its smallest positive code.
  assert.ok(codes.every((c) => c >> 6 === 3));
  const back = new Int16Array(320);
  new G722Decoder().decode(codes, back);
  assert.ok(back.every((s) => Math.abs(s) <= 4));
  // A constant 0xFA stream: |x| <= 2 for the first 20 ms, then it settles at DC 200 (-44 dBFS), as spandsp does.
  const out = new Int16Array(3200);
  new G722Decoder().decode(new Uint8Array(1600).fill(0xfa), out);
  assert.ok(out.subarray(0, 320).every((s) => Math.abs(s) <= 2));
  assert.ok(out.every((s) => s >= -2 && s <= 200));
  assert.equal(out[3199], 200);
});

test('G.722 known answer: bit-exact with spandsp 0.0.6 (ITU-validated) on a tone + noise signal', () => {
  const x = katSignal();
  const codes = new Uint8Array(x.length / 2);
  assert.equal(new G722Encoder().encode(x, codes), 8000);
  assert.equal(Buffer.from(codes.subarray(0, 16)).toString('hex'), 'b718882084a0a02024b88c0991bf2daa');
  assert.equal(sha256(codes), '86da1f5b4414ed76e1cddc93a19069e1f15595a5a52d90cc834b9602515edcb5');
  const pcm = new Int16Array(x.length);
  assert.equal(new G722Decoder().decode(codes, pcm), 16000);
  assert.equal(sha256(pcm), '71653e8f26f12141f30f74d11966317eb2b3e74280141d1bfbacf0549d2b1b1d');
});

test('G.722 state carries across frames and reset() starts a new stream', () => {
  const x = katSignal();
  const whole = new Uint8Array(8000);
  new G722Encoder().encode(x, whole);
  const enc = new G722Encoder();
  const pieces = new Uint8Array(8000);
  for (let off = 0, o = 0; off < x.length; off += 300, o += 150) enc.encode(x.subarray(off, off + 300), pieces.subarray(o));
  assert.deepEqual(pieces, whole);
  enc.reset();
  const again = new Uint8Array(8000);
  enc.encode(x, again);
  assert.deepEqual(again, whole);
});

test('G.722 bounds: odd counts round down, small destinations limit the output, never throws', () => {
  const enc = new G722Encoder();
  const dec = new G722Decoder();
  assert.equal(enc.encode(new Int16Array(7), new Uint8Array(10)), 3);
  assert.equal(enc.encode(new Int16Array(320), new Uint8Array(10)), 10);
  assert.equal(enc.encode(new Int16Array(320), new Uint8Array(160), 101), 50);
  assert.equal(enc.encode(new Int16Array(320), new Uint8Array(160), -5), 0);
  assert.equal(dec.decode(new Uint8Array(160), new Int16Array(9)), 8);
  assert.equal(dec.decode(new Uint8Array(160), new Int16Array(320), 10), 20);
  assert.equal(dec.decode(new Uint8Array(0), new Int16Array(320)), 0);
});
