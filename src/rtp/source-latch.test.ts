import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceLatch } from './source-latch.ts';

test('latches the first source and ignores others', () => {
  const l = new SourceLatch(3);
  assert.equal(l.accept('127.0.0.1', 5000, 1), true);
  assert.deepEqual([l.latched, l.address, l.port], [true, '127.0.0.1', 5000]);
  assert.equal(l.accept('127.0.0.1', 5002, 1), false, 'same SSRC from another port');
  assert.equal(l.accept('127.0.0.2', 5000, 9), false);
  assert.equal(l.accept('127.0.0.1', 5000, 2), true, 'an SSRC change from the latched source is fine');
  assert.equal(l.wrongSource, 2);
});

test('re-latches after N consecutive packets from one new source with a new SSRC', () => {
  const l = new SourceLatch(3);
  l.accept('127.0.0.1', 5000, 1);
  assert.equal(l.accept('127.0.0.1', 6000, 2), false);
  assert.equal(l.accept('127.0.0.1', 6000, 2), false);
  assert.equal(l.accept('127.0.0.1', 5000, 1), true, 'the old source interrupts the run');
  assert.equal(l.accept('127.0.0.1', 6000, 2), false);
  assert.equal(l.accept('127.0.0.1', 6000, 2), false);
  assert.equal(l.accept('127.0.0.1', 6000, 2), true);
  assert.deepEqual([l.port, l.relatches, l.wrongSource], [6000, 1, 4]);
  for (let i = 0; i < 10; i++) l.accept('127.0.0.1', 7000, 2); // same SSRC as latched: never moves
  assert.equal(l.port, 6000);
});

test('reset() lets the next packet latch again', () => {
  const l = new SourceLatch();
  l.accept('::1', 5000, 1);
  l.reset();
  assert.equal(l.accept('::1', 7000, 1), true);
  assert.equal(l.port, 7000);
});
