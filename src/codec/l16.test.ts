import { test } from 'node:test';
import assert from 'node:assert/strict';
import { l16Decode, l16Encode } from './l16.ts';

test('L16 is big-endian on the wire', () => {
  const bytes = new Uint8Array(8);
  assert.equal(l16Encode(Int16Array.of(0x0102, -2, 32767, -32768), bytes), 4);
  assert.deepEqual([...bytes], [0x01, 0x02, 0xff, 0xfe, 0x7f, 0xff, 0x80, 0x00]);
  const out = new Int16Array(4);
  assert.equal(l16Decode(bytes, out), 4);
  assert.deepEqual([...out], [0x0102, -2, 32767, -32768]);
});

test('L16 round trip of every s16 value', () => {
  const all = new Int16Array(65536);
  for (let i = 0; i < all.length; i++) all[i] = i - 32768;
  const bytes = new Uint8Array(all.length * 2);
  l16Encode(all, bytes);
  const back = new Int16Array(all.length);
  l16Decode(bytes, back);
  assert.deepEqual(back, all);
});

test('L16 bounds: odd byte counts, short destinations, counts', () => {
  const out = new Int16Array(2);
  assert.equal(l16Decode(Uint8Array.of(0, 1, 0, 2, 9), new Int16Array(8)), 2, 'trailing odd byte ignored');
  assert.equal(l16Decode(Uint8Array.of(0, 1, 0, 2, 0, 3), out), 2);
  assert.equal(l16Decode(Uint8Array.of(0, 1, 0, 2), out, 3), 1);
  assert.equal(l16Encode(Int16Array.of(1, 2, 3), new Uint8Array(5)), 2);
  assert.equal(l16Encode(Int16Array.of(1, 2, 3), new Uint8Array(6), 0), 0);
});
