import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Deque } from './deque.ts';

test('a deque is first in, first out across its compactions', () => {
  const q = new Deque<number>();
  assert.equal(q.shift(), undefined);
  assert.equal(q.first, undefined);
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 300; i++) q.push(next++);
    for (let i = 0; i < 200; i++) assert.equal(q.shift(), expected++);
    assert.equal(q.length, next - expected);
    assert.equal(q.first, expected);
    assert.equal(q.last, next - 1);
  }
  while (q.length > 0) assert.equal(q.shift(), expected++);
  assert.equal(expected, next);
  assert.equal(q.last, undefined);
});

test('draining a deque of 200 000 items is linear (Array.shift would be quadratic)', () => {
  const q = new Deque<{ n: number }>();
  for (let i = 0; i < 200_000; i++) q.push({ n: i });
  let sum = 0;
  for (let item = q.shift(); item; item = q.shift()) sum += item.n;
  assert.equal(sum, (199_999 * 200_000) / 2);
});
