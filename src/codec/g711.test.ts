import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alawDecode,
  alawEncode,
  alawToLinear,
  linearToAlaw,
  linearToUlaw,
  ulawDecode,
  ulawEncode,
  ulawToLinear,
} from './g711.ts';
import { sine, snrDb } from '../../test/helpers/audio.ts';

// Independent table-search encoders in the style of the classic Sun g711.c segment tables,
// applied to spandsp's arithmetic (bias 0x84 on the full 16-bit value; A-law negatives as -x - 8).
const SEG_END = [0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff, 0x3fff, 0x7fff];

/** Segment index of a non-negative magnitude, or 8 when beyond the last segment. */
function segmentOf(mag: number): number {
  let seg = 0;
  while (seg < 8 && mag > SEG_END[seg]) seg++;
  return seg;
}

/** Table-search μ-law encoder (reference for the exhaustive comparison). */
function refUlaw(x: number): number {
  const negative = x < 0;
  const mag = negative ? 0x84 - x : 0x84 + x;
  const mask = negative ? 0x7f : 0xff;
  const seg = segmentOf(mag);
  if (seg === 8) return 0x7f ^ mask;
  return ((seg << 4) | ((mag >> (seg + 3)) & 0xf)) ^ mask;
}

/** Table-search A-law encoder (reference for the exhaustive comparison). */
function refAlaw(x: number): number {
  const negative = x < 0;
  const mag = negative ? -x - 8 : x;
  const mask = negative ? 0x55 : 0xd5;
  if (mag < 0) return mask; // -1..-7 round to the smallest negative step
  const seg = segmentOf(mag);
  const q = seg === 0 ? (mag >> 4) & 0xf : (mag >> (seg + 3)) & 0xf;
  return ((seg << 4) | q) ^ mask;
}

test('μ-law known codes (spandsp/FreeSWITCH g711.h)', () => {
  assert.equal(linearToUlaw(0), 0xff);
  assert.equal(ulawToLinear(0xff), 0);
  assert.equal(ulawToLinear(0x7f), 0);
  assert.equal(ulawToLinear(0x00), -32124);
  assert.equal(ulawToLinear(0x80), 32124);
  assert.equal(linearToUlaw(32767), 0x80, 'clips high');
  assert.equal(linearToUlaw(-32768), 0x00, 'clips low');
  // No "-1" tweak on negatives: -3 stays in the zero step, -4 moves to the next one (as +4 does).
  assert.equal(linearToUlaw(-3), 0x7f);
  assert.equal(linearToUlaw(-4), 0x7e);
  assert.equal(linearToUlaw(3), 0xff);
  assert.equal(linearToUlaw(4), 0xfe);
  assert.equal(ulawToLinear(0xfe), 8);
  assert.equal(ulawToLinear(0x7e), -8);
});

test('A-law known codes (spandsp/FreeSWITCH g711.h)', () => {
  assert.equal(alawToLinear(0xd5), 8);
  assert.equal(alawToLinear(0x55), -8);
  assert.equal(linearToAlaw(0), 0xd5);
  assert.equal(linearToAlaw(-1), 0x55);
  // Negatives are encoded as -x - 8: +16 and -24 are the first to leave the zero step.
  assert.equal(linearToAlaw(15), 0xd5);
  assert.equal(linearToAlaw(16), 0xd4);
  assert.equal(linearToAlaw(-23), 0x55);
  assert.equal(linearToAlaw(-24), 0x54);
  assert.equal(alawToLinear(0xaa), 32256);
  assert.equal(alawToLinear(0x2a), -32256);
  assert.equal(linearToAlaw(32767), 0xaa);
  assert.equal(linearToAlaw(-32768), 0x2a);
});

test('encoders match an independent segment-table encoder for all 65536 inputs', () => {
  for (let x = -32768; x <= 32767; x++) {
    if (linearToUlaw(x) !== refUlaw(x)) assert.fail(`μ-law ${x}: ${linearToUlaw(x)} vs ${refUlaw(x)}`);
    if (linearToAlaw(x) !== refAlaw(x)) assert.fail(`A-law ${x}: ${linearToAlaw(x)} vs ${refAlaw(x)}`);
  }
});

test('encode(decode(code)) === code for every code (μ-law 0x7F aliases 0xFF)', () => {
  for (let c = 0; c < 256; c++) {
    assert.equal(linearToAlaw(alawToLinear(c)), c, `A-law 0x${c.toString(16)}`);
    const expected = c === 0x7f ? 0xff : c;
    assert.equal(linearToUlaw(ulawToLinear(c)), expected, `μ-law 0x${c.toString(16)}`);
  }
});

test('decode is monotonic in magnitude and symmetric in sign', () => {
  for (let m = 1; m < 128; m++) {
    // μ-law: 0xFF - m is +magnitude m, 0x7F - m is -magnitude m.
    assert.ok(ulawToLinear(0xff - m) > ulawToLinear(0xff - m + 1));
    assert.ok(ulawToLinear(0x7f - m) < ulawToLinear(0x7f - m + 1));
    // A-law: (0x80 | m) ^ 0x55 is +magnitude m, m ^ 0x55 is -magnitude m.
    assert.ok(alawToLinear((0x80 | m) ^ 0x55) > alawToLinear((0x80 | (m - 1)) ^ 0x55));
    assert.ok(alawToLinear(m ^ 0x55) < alawToLinear((m - 1) ^ 0x55));
  }
  for (let m = 0; m < 128; m++) {
    assert.equal(ulawToLinear(0x7f - m) + ulawToLinear(0xff - m), 0);
    assert.equal(alawToLinear(m ^ 0x55) + alawToLinear((0x80 | m) ^ 0x55), 0);
  }
});

test('quantisation is monotonic and error is within half a step', () => {
  let prevU = -Infinity;
  let prevA = -Infinity;
  for (let x = -32768; x <= 32767; x++) {
    const u = ulawToLinear(linearToUlaw(x));
    const a = alawToLinear(linearToAlaw(x));
    if (u < prevU || a < prevA) assert.fail(`non-monotonic at ${x}`);
    prevU = u;
    prevA = a;
    if (Math.abs(x) <= 32000) {
      // Half a quantisation step: μ-law (|x| + bias) / 32; A-law max(8, |x| / 32), plus up to 8 on
      // negatives because spandsp encodes them as -x - 8.
      const tolU = (Math.abs(x) + 0x84) / 32;
      const tolA = Math.max(8, Math.abs(x) / 32) + (x < 0 ? 8 : 0);
      if (Math.abs(u - x) > tolU || Math.abs(a - x) > tolA) assert.fail(`error too large at ${x}: μ ${u}, A ${a}`);
    }
  }
});

test('1 kHz sine round trip keeps SNR > 30 dB at -6 and -30 dBFS', () => {
  for (const amp of [0.5, 0.0316]) {
    const x = sine(1000, 8000, 1, amp);
    const bytes = new Uint8Array(x.length);
    const y = new Int16Array(x.length);
    assert.equal(ulawEncode(x, bytes), x.length);
    assert.equal(ulawDecode(bytes, y), x.length);
    const su = snrDb(y, 1000, 8000);
    alawEncode(x, bytes);
    alawDecode(bytes, y);
    const sa = snrDb(y, 1000, 8000);
    assert.ok(su > 30, `μ-law SNR ${su} dB at amplitude ${amp}`);
    assert.ok(sa > 30, `A-law SNR ${sa} dB at amplitude ${amp}`);
  }
});

test('buffer functions match the scalar ones and honour count without throwing', () => {
  const all = new Int16Array(65536);
  for (let i = 0; i < all.length; i++) all[i] = i - 32768;
  const u = new Uint8Array(all.length);
  const a = new Uint8Array(all.length);
  ulawEncode(all, u);
  alawEncode(all, a);
  for (let i = 0; i < all.length; i++) {
    if (u[i] !== linearToUlaw(all[i]) || a[i] !== linearToAlaw(all[i])) assert.fail(`mismatch at ${all[i]}`);
  }
  const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const lin = new Int16Array(256);
  ulawDecode(codes, lin);
  for (let c = 0; c < 256; c++) assert.equal(lin[c], ulawToLinear(c));
  alawDecode(codes, lin);
  for (let c = 0; c < 256; c++) assert.equal(lin[c], alawToLinear(c));

  const dst = new Uint8Array(4).fill(0x11);
  assert.equal(ulawEncode(Int16Array.from([0, 0, 0, 0]), dst, 2), 2);
  assert.deepEqual([...dst], [0xff, 0xff, 0x11, 0x11], 'count limits the work');
  assert.equal(alawEncode(new Int16Array(10), dst), 4, 'short destination clamps');
  assert.equal(alawDecode(new Uint8Array(3), new Int16Array(8), 99), 3, 'short source clamps');
  assert.equal(ulawDecode(new Uint8Array(3), new Int16Array(8), -1), 0);
});

test('scalar encoders tolerate out-of-range and non-integer input', () => {
  assert.equal(linearToUlaw(1e9), linearToUlaw(32767));
  assert.equal(linearToUlaw(-1e9), linearToUlaw(-32768));
  assert.equal(linearToAlaw(Number.NaN), linearToAlaw(0));
  assert.equal(linearToAlaw(100.9), linearToAlaw(100));
  assert.equal(ulawToLinear(0x1ff), ulawToLinear(0xff));
});
