import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SequenceTracker } from './sequence-tracker.ts';

test('counts loss across the 16-bit wrap', () => {
  const t = new SequenceTracker();
  for (let s = 65530; s < 65546; s++) if (s !== 65535 && s !== 65537) assert.equal(t.update(s & 0xffff), false);
  assert.equal(t.lost, 2);
  assert.equal(t.extendedMax, 65536 + 9);
});

test('reordered and duplicate packets are reported as older and do not count as loss', () => {
  const t = new SequenceTracker();
  t.update(10);
  t.update(12);
  assert.equal(t.update(11), true);
  assert.equal(t.update(12), true);
  assert.equal(t.lost, 0);
});

test('a large jump restarts the stream, keeping the loss so far', () => {
  const t = new SequenceTracker();
  t.update(100);
  t.update(102); // 101 lost
  t.update(30000); // restart
  t.update(30001);
  assert.equal(t.lost, 1);
  t.restart();
  t.update(5);
  t.update(7);
  assert.equal(t.lost, 2);
});
