import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaClock } from './media-clock.ts';

function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + timeoutMs;
    const poll = () => (cond() ? resolve() : Date.now() > end ? reject(new Error('timed out')) : setTimeout(poll, 5));
    poll();
  });
}

test('members tick every period, with due times exactly one period apart, spread over phases', async () => {
  const clock = new MediaClock();
  const dues: number[][] = [];
  const removers = Array.from({ length: 40 }, (_, i) => {
    dues.push([]);
    return clock.add(20, (due) => dues[i]!.push(due));
  });
  assert.equal(clock.size, 40);
  await waitFor(() => dues.every((d) => d.length >= 3));
  for (const d of dues) {
    for (let k = 1; k < d.length; k++) assert.equal(d[k]! - d[k - 1]!, 20);
  }
  const phases = new Set(dues.map((d) => Math.round(d[0]!) % 20));
  assert.equal(phases.size, 20, 'forty members over twenty 1 ms phases');
  for (const r of removers) r();
  assert.equal(clock.size, 0);
});

test('a member removing itself (or another) during a tick does not make the clock skip anyone', async () => {
  const clock = new MediaClock();
  const calls = new Map<string, number>();
  const count = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);
  let removeB: () => void = () => undefined;
  const removeA = clock.add(10, () => { count('a'); removeA(); removeB(); });
  removeB = clock.add(10, () => count('b'));
  const removeC = clock.add(10, () => count('c'));
  const removeD = clock.add(30, () => count('d'));
  await waitFor(() => (calls.get('c') ?? 0) >= 3 && (calls.get('d') ?? 0) >= 2);
  assert.equal(calls.get('a'), 1, 'a ran once, then left');
  assert.ok((calls.get('b') ?? 0) <= 1, 'b was removed by a');
  removeC();
  removeD();
  assert.equal(clock.size, 0);
  assert.throws(() => clock.add(0, () => undefined), RangeError);
});
