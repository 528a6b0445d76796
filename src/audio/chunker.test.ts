import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SampleChunker } from './chunker.ts';
import { mixSaturating, interleaveStereo } from './mix.ts';

/** Chunk `i` of the last push, as samples. */
function samplesOf(c: SampleChunker, i: number): Int16Array {
  const b = c.chunkBytes(i);
  return new Int16Array(b.buffer, b.byteOffset, b.length / 2);
}

function ramp(start: number, n: number): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => start + i);
}

test('chunker emits exact chunks from uneven pieces and keeps order', () => {
  const chunks: number[][] = [];
  const c = new SampleChunker(160);
  let next = 0;
  for (const size of [240, 241, 100, 7, 373]) {
    const n = c.push(ramp(next, size));
    for (let i = 0; i < n; i++) chunks.push([...samplesOf(c, i)]);
    next += size;
  }
  assert.equal(chunks.length, Math.floor(next / 160));
  for (const chunk of chunks) assert.equal(chunk.length, 160);
  assert.deepEqual(chunks.flat(), [...ramp(0, chunks.length * 160)]);
  assert.equal(c.pending, next % 160);
  chunks.push([...c.flush()!]);
  assert.equal(chunks.at(-1)!.length, next % 160);
  assert.deepEqual(chunks.flat(), [...ramp(0, next)]);
  assert.equal(c.flush(), null);
  assert.equal(chunks.length, Math.ceil(next / 160));
});

test('one piece may complete several chunks; the byte views are the same samples, little-endian', () => {
  const c = new SampleChunker(80);
  assert.equal(c.push(ramp(0, 50)), 0);
  assert.equal(c.push(ramp(50, 480)), 6, '530 samples: six chunks of 80 and 50 left');
  for (let i = 0; i < 6; i++) {
    assert.deepEqual([...samplesOf(c, i)], [...ramp(i * 80, 80)]);
    const b = c.chunkBytes(i);
    assert.equal(b.length, 160);
    assert.equal(b.readInt16LE(2), i * 80 + 1);
  }
  assert.equal(c.pending, 50);
  assert.equal(c.push(ramp(530, 30)), 1, 'the tail carried over completes the next chunk');
  assert.deepEqual([...samplesOf(c, 0)], [...ramp(480, 80)]);
});

test('chunker rejects a bad size', () => {
  assert.throws(() => new SampleChunker(0), RangeError);
});

test('mixSaturating sums and clamps; a missing side is silence', () => {
  const out = new Int16Array(4);
  mixSaturating(Int16Array.from([30000, -30000, 5, 1]), Int16Array.from([30000, -30000, -5, 2]), out, 4);
  assert.deepEqual([...out], [32767, -32768, 0, 3]);
  mixSaturating(null, Int16Array.from([7, 8]), out, 4);
  assert.deepEqual([...out], [7, 8, 0, 0]);
  mixSaturating(null, null, out, 4);
  assert.deepEqual([...out], [0, 0, 0, 0]);
});

test('interleaveStereo puts read left and write right', () => {
  const out = new Int16Array(6);
  interleaveStereo(Int16Array.from([1, 2, 3]), Int16Array.from([-1, -2, -3]), out, 3);
  assert.deepEqual([...out], [1, -1, 2, -2, 3, -3]);
  interleaveStereo(null, Int16Array.from([9]), out, 3);
  assert.deepEqual([...out], [0, 9, 0, 0, 0, 0]);
});
