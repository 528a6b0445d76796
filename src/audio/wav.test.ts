import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWav, writeWav } from './wav.ts';
import { isAppError } from '../lib/errors.ts';
import { alawEncode, ulawEncode } from '../codec/g711.ts';
import { deinterleave, dominantFrequency, interleave, pcmFromBuffer, sine, snrDb, toneLevelDbfs } from '../../test/helpers/audio.ts';

/** One RIFF chunk: 4-char id, little-endian size, body, pad byte when the body is odd. */
function chunk(id: string, body: Uint8Array, declaredSize = body.length): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'latin1');
  head.writeUInt32LE(declaredSize, 4);
  const pad = body.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0);
  return Buffer.concat([head, body, pad]);
}

/** A complete RIFF/WAVE file from chunks (RIFF size computed). */
function riff(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...chunks]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

/** A `fmt ` body: tag, channels, rate (Hz), bits per sample, plus optional extra bytes (cbSize etc.). */
function fmtBody(tag: number, channels: number, rateHz: number, bits: number, extra: Uint8Array = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(16);
  const blockAlign = (channels * bits) / 8;
  b.writeUInt16LE(tag, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(rateHz, 4);
  b.writeUInt32LE(rateHz * blockAlign, 8);
  b.writeUInt16LE(blockAlign, 12);
  b.writeUInt16LE(bits, 14);
  return Buffer.concat([b, extra]);
}

/** WAVE_FORMAT_EXTENSIBLE extra bytes (cbSize 22, valid bits, channel mask, subformat GUID for `subTag`). */
function extensibleExtra(bits: number, subTag: number): Buffer {
  const e = Buffer.alloc(24);
  e.writeUInt16LE(22, 0);
  e.writeUInt16LE(bits, 2);
  e.writeUInt32LE(0x3, 4);
  e.writeUInt16LE(subTag, 8);
  Buffer.from([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]).copy(e, 10);
  return e;
}

/** Little-endian bytes of s16 samples. */
function pcmBytes(samples: Int16Array): Buffer {
  const b = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => b.writeInt16LE(s, 2 * i));
  return b;
}

/** Asserts `fn` throws an AppError WAV_INVALID whose message matches `re`. */
function throwsWav(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => isAppError(err, 'WAV_INVALID') && re.test(err.message), `expected WAV_INVALID ${re}`);
}

test('writeWav emits a canonical 44-byte header and round-trips through parseWav', () => {
  const stereo = interleave(sine(440, 16000, 0.5, 0.5), sine(1500, 16000, 0.5, 0.25));
  const buf = writeWav(stereo, 16000, 2);
  assert.equal(buf.length, 44 + stereo.length * 2);
  assert.equal(buf.toString('latin1', 0, 4), 'RIFF');
  assert.equal(buf.readUInt32LE(4), buf.length - 8);
  assert.equal(buf.toString('latin1', 8, 16), 'WAVEfmt ');
  assert.equal(buf.readUInt32LE(16), 16);
  assert.equal(buf.readUInt16LE(20), 1);
  assert.equal(buf.readUInt16LE(22), 2);
  assert.equal(buf.readUInt32LE(24), 16000);
  assert.equal(buf.readUInt32LE(28), 64000);
  assert.equal(buf.readUInt16LE(32), 4);
  assert.equal(buf.readUInt16LE(34), 16);
  assert.equal(buf.toString('latin1', 36, 40), 'data');
  assert.equal(buf.readUInt32LE(40), stereo.length * 2);
  assert.deepEqual(pcmFromBuffer(buf.subarray(44)), stereo, 'payload is little-endian s16');

  const wav = parseWav(buf);
  assert.equal(wav.format, 'pcm16');
  assert.equal(wav.sampleRateHz, 16000);
  assert.equal(wav.channels, 2);
  assert.deepEqual(wav.samples, stereo);
  const [l, r] = deinterleave(wav.samples);
  assert.ok(Math.abs(dominantFrequency(l, 16000) - 440) < 1);
  assert.ok(Math.abs(dominantFrequency(r, 16000) - 1500) < 1);
});

test('writeWav works from a subarray view and rejects bad arguments', () => {
  const big = sine(1000, 8000, 0.1, 0.5);
  const view = big.subarray(3, 403);
  assert.deepEqual(parseWav(writeWav(view, 8000, 1)).samples, view);
  assert.throws(() => writeWav(new Int16Array(3), 8000, 2), RangeError);
  assert.throws(() => writeWav(new Int16Array(4), 8000.5, 1), RangeError);
  assert.throws(() => writeWav(new Int16Array(4), 8000, 0), RangeError);
});

test('WAVE_FORMAT_EXTENSIBLE with PCM subformat parses; float subformat is rejected', () => {
  const x = sine(1000, 48000, 0.2, 0.5);
  const ok = riff(chunk('fmt ', fmtBody(0xfffe, 1, 48000, 16, extensibleExtra(16, 1))), chunk('data', pcmBytes(x)));
  const wav = parseWav(ok);
  assert.equal(wav.format, 'pcm16');
  assert.equal(wav.sampleRateHz, 48000);
  assert.deepEqual(wav.samples, x);
  const float = riff(chunk('fmt ', fmtBody(0xfffe, 1, 48000, 32, extensibleExtra(32, 3))), chunk('data', Buffer.alloc(64)));
  throwsWav(() => parseWav(float), /unsupported WAV format 3 \(IEEE float\)/);
  const short = riff(chunk('fmt ', fmtBody(0xfffe, 1, 48000, 16, Buffer.alloc(2))), chunk('data', Buffer.alloc(64)));
  throwsWav(() => parseWav(short), /too short/);
});

test('8-bit unsigned PCM is centred and scaled to s16', () => {
  const raw = Buffer.from([0x80, 0xff, 0x00, 0x81, 0x7f]);
  const wav = parseWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 8)), chunk('data', raw)));
  assert.equal(wav.format, 'pcm8');
  assert.deepEqual([...wav.samples], [0, 32512, -32768, 256, -256]);
  const tone = sine(700, 8000, 0.5, 0.5);
  const bytes = Buffer.from(tone.map((s) => (s >> 8) + 128));
  const back = parseWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 8)), chunk('data', bytes))).samples;
  assert.ok(Math.abs(dominantFrequency(back, 8000) - 700) < 1);
  assert.ok(snrDb(back, 700, 8000) > 35, '8-bit keeps the tone');
});

test('μ-law and A-law files decode through G.711', () => {
  const tone = sine(1000, 8000, 0.5, 0.5);
  for (const [tag, encode, name] of [[7, ulawEncode, 'ulaw'], [6, alawEncode, 'alaw']] as const) {
    const codes = new Uint8Array(tone.length);
    encode(tone, codes);
    // cbSize = 0 makes an 18-byte fmt chunk, as most writers of G.711 WAVs emit.
    const wav = parseWav(riff(chunk('fmt ', fmtBody(tag, 1, 8000, 8, Buffer.alloc(2))), chunk('data', Buffer.from(codes))));
    assert.equal(wav.format, name);
    assert.equal(wav.samples.length, tone.length);
    assert.ok(Math.abs(toneLevelDbfs(wav.samples, 1000, 8000) - -6.02) < 0.3, `${name} level`);
    assert.ok(snrDb(wav.samples, 1000, 8000) > 30, `${name} SNR`);
  }
  throwsWav(() => parseWav(riff(chunk('fmt ', fmtBody(7, 1, 8000, 16)), chunk('data', Buffer.alloc(8)))), /bit depth/);
});

test('chunks in any order, odd-sized chunk padding, unknown chunks skipped', () => {
  const x = Int16Array.from([1, -2, 300, -32768, 32767, 0]);
  const list = chunk('LIST', Buffer.from('INFOabc', 'latin1')); // 7 bytes + pad
  assert.equal(list.length, 16);
  const a = parseWav(riff(chunk('fmt ', fmtBody(1, 2, 22050, 16)), list, chunk('data', pcmBytes(x))));
  assert.deepEqual(a.samples, x);
  assert.equal(a.channels, 2);
  const b = parseWav(riff(list, chunk('data', pcmBytes(x)), chunk('junk', Buffer.alloc(3)), chunk('fmt ', fmtBody(1, 1, 22050, 16))));
  assert.deepEqual(b.samples, x, 'data before fmt');
  assert.equal(b.channels, 1);
  const odd8 = parseWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 8)), chunk('data', Buffer.from([0x80, 0x90, 0xa0])), chunk('LIST', Buffer.alloc(4))));
  assert.deepEqual([...odd8.samples], [0, 4096, 8192], 'odd data chunk padded, following chunk ignored');
});

test('data chunk longer than the file is truncated to whole frames', () => {
  const x = sine(1000, 8000, 0.1, 0.5, 2);
  const full = riff(chunk('fmt ', fmtBody(1, 2, 8000, 16)), chunk('data', pcmBytes(x)));
  const cut = full.subarray(0, full.length - 7); // cuts one whole frame plus 3 bytes
  const wav = parseWav(cut);
  assert.equal(wav.samples.length, x.length - 4);
  assert.deepEqual(wav.samples, x.subarray(0, x.length - 4));
  const streamed = Buffer.from(full);
  streamed.writeUInt32LE(0xffffffff, 4);
  streamed.writeUInt32LE(0xffffffff, 40);
  assert.deepEqual(parseWav(streamed).samples, x, 'placeholder sizes of a streaming writer');
});

test('malformed input throws WAV_INVALID with a clear message, never a RangeError', () => {
  throwsWav(() => parseWav(Buffer.alloc(0)), /not a RIFF\/WAVE file/);
  throwsWav(() => parseWav(Buffer.from('RIFF\0\0\0\0AVI LIST', 'latin1')), /not a RIFF\/WAVE file/);
  throwsWav(() => parseWav(Buffer.from('hello world, this is not audio at all')), /not a RIFF\/WAVE file/);
  throwsWav(() => parseWav(riff()), /no fmt chunk/);
  throwsWav(() => parseWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 16)))), /no data chunk/);
  throwsWav(() => parseWav(riff(chunk('fmt ', Buffer.alloc(14)), chunk('data', Buffer.alloc(4)))), /fmt chunk too short/);
  throwsWav(() => parseWav(riff(chunk('fmt ', fmtBody(3, 1, 8000, 32)), chunk('data', Buffer.alloc(4)))), /unsupported WAV format 3 \(IEEE float\)/);
  throwsWav(() => parseWav(riff(chunk('fmt ', fmtBody(0x55, 1, 8000, 0)), chunk('data', Buffer.alloc(4)))), /unsupported WAV format 85/);
  throwsWav(() => parseWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 24)), chunk('data', Buffer.alloc(6)))), /bit depth 24/);
  throwsWav(() => parseWav(riff(chunk('fmt ', fmtBody(1, 9, 8000, 16)), chunk('data', Buffer.alloc(18)))), /channel count 9/);
  throwsWav(() => parseWav(riff(chunk('fmt ', fmtBody(1, 0, 8000, 16)), chunk('data', Buffer.alloc(4)))), /channel count 0/);
  throwsWav(() => parseWav(riff(chunk('fmt ', fmtBody(1, 1, 999, 16)), chunk('data', Buffer.alloc(4)))), /sample rate 999/);
  throwsWav(() => parseWav(riff(chunk('fmt ', fmtBody(1, 1, 384001, 16)), chunk('data', Buffer.alloc(4)))), /sample rate 384001/);
  const truncatedFmt = riff(chunk('fmt ', fmtBody(1, 1, 8000, 16))).subarray(0, 30);
  throwsWav(() => parseWav(truncatedFmt), /fmt chunk truncated/);
  assert.equal(parseWav(riff(chunk('fmt ', fmtBody(1, 8, 384000, 16)), chunk('data', Buffer.alloc(32)))).channels, 8, 'limits are inclusive');
  assert.equal(parseWav(riff(chunk('fmt ', fmtBody(1, 1, 1000, 16)), chunk('data', Buffer.alloc(2)))).sampleRateHz, 1000);
});

test('every truncation and random corruption of a valid file gives a result or a WAV_INVALID error', () => {
  const good = riff(
    chunk('fmt ', fmtBody(0xfffe, 2, 16000, 16, extensibleExtra(16, 1))),
    chunk('LIST', Buffer.from('INFOx', 'latin1')),
    chunk('data', pcmBytes(sine(500, 16000, 0.01, 0.5, 2))),
  );
  const check = (buf: Buffer): void => {
    try {
      const wav = parseWav(buf);
      assert.equal(wav.samples.length % wav.channels, 0);
    } catch (err) {
      if (!isAppError(err, 'WAV_INVALID')) assert.fail(`not WAV_INVALID: ${String(err)} for ${buf.toString('hex', 0, 80)}`);
    }
  };
  for (let n = 0; n <= good.length; n++) check(good.subarray(0, n));
  let seed = 42;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 0x100000000;
  for (let trial = 0; trial < 3000; trial++) {
    const bad = Buffer.from(good);
    const flips = 1 + Math.floor(rnd() * 4);
    for (let k = 0; k < flips; k++) bad[Math.floor(rnd() * 100)] = Math.floor(rnd() * 256);
    check(bad);
  }
});
