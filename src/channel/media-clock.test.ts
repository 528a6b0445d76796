// The media clock on fake time: due times, phases, removal during a tick, late ticks caught up or skipped,
// a failing member counted and logged once per cause while the others keep their ticks; on real time,
// a late tick runs after the packets that waited in the socket are read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../lib/clock.ts';
import dgram from 'node:dgram';
import { MediaClock } from './media-clock.ts';
import { FakeClock } from '../../test/helpers/fake-clock.ts';
import { addLogSink } from '../lib/logger.ts';

test('members tick every period, with due times exactly one period apart, spread over phases', () => {
  const time = new FakeClock();
  const clock = new MediaClock(time);
  const dues: number[][] = [];
  const removers = Array.from({ length: 40 }, (_, i) => {
    dues.push([]);
    return clock.add(20, (due) => dues[i]!.push(due));
  });
  assert.equal(clock.size, 40);
  time.advance(100);
  for (const d of dues) {
    assert.ok(d.length >= 3, `every member ticked (${d.length})`);
    for (let k = 1; k < d.length; k++) assert.equal(d[k]! - d[k - 1]!, 20);
  }
  const phases = new Set(dues.map((d) => Math.round(d[0]!) % 20));
  assert.equal(phases.size, 20, 'forty members over twenty 1 ms phases');
  for (const r of removers) r();
  assert.equal(clock.size, 0);
  assert.equal(time.pending, 0, 'no timer left once empty');
});

test('each tick runs at its due time, never before', () => {
  const time = new FakeClock();
  const clock = new MediaClock(time);
  const late: number[] = [];
  const remove = clock.add(20, (due) => late.push(time.now() - due));
  time.advance(200);
  assert.ok(late.length >= 9);
  assert.deepEqual(late, late.map(() => 0), 'on a clock that is never late, every tick runs exactly when due');
  remove();
});

test('a member removing itself (or another) during a tick does not make the clock skip anyone', () => {
  const time = new FakeClock();
  const clock = new MediaClock(time);
  const calls = new Map<string, number>();
  const count = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);
  let removeB: () => void = () => undefined;
  const removeA = clock.add(10, () => { count('a'); removeA(); removeB(); });
  removeB = clock.add(10, () => count('b'));
  const removeC = clock.add(10, () => count('c'));
  const removeD = clock.add(30, () => count('d'));
  time.advance(100);
  assert.equal(calls.get('a'), 1, 'a ran once, then left');
  assert.ok((calls.get('b') ?? 0) <= 1, 'b was removed by a');
  assert.ok((calls.get('c') ?? 0) >= 9, 'c kept every tick');
  assert.ok((calls.get('d') ?? 0) >= 3);
  removeC();
  removeD();
  assert.equal(clock.size, 0);
  assert.throws(() => clock.add(0, () => undefined), RangeError);
});

test('a wake-up late by up to 200 ms runs every tick it missed; later than that, the older ticks are skipped (counted)', () => {
  const time = new FakeClock();
  const clock = new MediaClock(time);
  const dues: number[] = [];
  clock.add(20, (due) => dues.push(due));
  time.advance(40);
  let next = dues.at(-1)! + 20;
  dues.length = 0;
  time.stall(200); // the process was busy: the tick due at `next` is now 180 ms overdue
  time.advance(0);
  assert.deepEqual(dues, Array.from({ length: 10 }, (_, i) => next + 20 * i), 'all ten missed ticks run, in order');
  assert.equal(clock.skippedTicks, 0);

  next = dues.at(-1)! + 20;
  dues.length = 0;
  time.stall(520); // overloaded: the tick due at `next` is now 500 ms overdue
  time.advance(0);
  assert.equal(clock.skippedTicks, 15, 'the ticks due more than 200 ms ago are skipped and counted');
  assert.deepEqual(dues, Array.from({ length: 11 }, (_, i) => next + 300 + 20 * i), 'the eleven due within 200 ms (the oldest exactly 200 ms ago) run');
  dues.length = 0;
  time.advance(20);
  assert.deepEqual(dues, [next + 520], 'then it goes on from the present');
});

test('a member that throws is counted and logged once per cause; the others keep ticking', (t) => {
  const time = new FakeClock();
  const clock = new MediaClock(time);
  const lines: string[] = [];
  const removeSink = addLogSink((level, scope, message) => { if (scope === 'media-clock') lines.push(`${level} ${message}`); });
  t.after(removeSink);
  let good = 0;
  clock.add(20, () => { throw new Error('boom'); });
  clock.add(20, () => { good++; });
  time.advance(200);
  assert.ok(good >= 9, 'the healthy member kept its ticks');
  assert.ok(clock.failures.count >= 9, `every failure counted (${clock.failures.count})`);
  assert.equal(lines.length, 1, 'one log line for one cause');
  assert.match(lines[0]!, /^error a media clock member failed: Error: boom/);
});

test('with the real clock, a tick that runs late sees the packets that came while the process was busy', async () => {
  const clock = new MediaClock(systemClock);
  const receiver = dgram.createSocket('udp4');
  const sender = dgram.createSocket('udp4');
  await new Promise<void>((r) => receiver.bind(0, '127.0.0.1', () => r()));
  let received = 0;
  receiver.on('message', () => { received++; });
  const seenAtTicks: number[] = [];
  let stalled = false;
  const remove = clock.add(20, () => { if (stalled) seenAtTicks.push(received); });
  try {
    await new Promise((r) => setTimeout(r, 50)); // the clock runs
    await new Promise<void>((r) => sender.send(Buffer.from('rtp'), receiver.address().port, '127.0.0.1', () => r()));
    const until = performance.now() + 60; // busy: the datagram waits in the socket, the tick falls due
    while (performance.now() < until) { /* busy */ }
    stalled = true;
    await new Promise((r) => setTimeout(r, 30));
    assert.ok(seenAtTicks.length > 0, 'the clock ticked after the stall');
    assert.equal(seenAtTicks[0], 1, 'the first late tick ran after the waiting packet was read');
  } finally {
    remove();
    receiver.close();
    sender.close();
  }
});

test('a member added while its cohort catches up gets no tick due before it joined', () => {
  const time = new FakeClock();
  const clock = new MediaClock(time);
  const caughtUp: number[] = [];
  for (let p = 0; p < 20; p++) clock.add(20, (due) => caughtUp.push(due)); // one cohort per 1 ms phase: all 20 taken
  time.advance(40);
  time.stall(150); // busy: every cohort is overdue when the next wake-up comes
  const joinedAt = time.now();
  const late: number[] = [];
  clock.add(20, (due) => late.push(due)); // joins an existing, overdue cohort
  caughtUp.length = 0;
  time.advance(0);
  assert.ok(caughtUp.length >= 20 * 7, `the others caught up (${caughtUp.length} ticks)`);
  assert.ok(late.every((d) => d >= joinedAt), `no tick from before it joined (${late.join(', ')}; joined at ${joinedAt})`);
  time.advance(20);
  assert.ok(late.length >= 1, 'it ticks from then on');
});
