import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoarseTimer } from './coarse-timer.ts';
import { FakeClock } from '../../test/helpers/fake-clock.ts';

test('callbacks run every period with the clock time while they exist; no timer is left when none does', () => {
  const clock = new FakeClock();
  const ticker = new CoarseTimer(clock, 100);
  const seen: number[] = [];
  const remove = ticker.add((now) => seen.push(now));
  clock.advance(350);
  assert.deepEqual(seen, [100, 200, 300]);
  remove();
  assert.equal(clock.pending, 0);
  clock.advance(500);
  assert.equal(seen.length, 3);
});

test('a callback that throws is counted; the others and the later ticks go on', () => {
  const clock = new FakeClock();
  const ticker = new CoarseTimer(clock, 100);
  let good = 0;
  ticker.add(() => { throw new Error('heartbeat bug'); });
  ticker.add(() => { good++; });
  clock.advance(300);
  assert.equal(good, 3);
  assert.equal(ticker.failures.count, 3);
});
