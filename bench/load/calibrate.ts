// The machine's timing floor: the media clock with 20 members that do nothing (one per 1 ms phase
// of the 20 ms period, as streams are spread), for a few seconds, measuring how late each tick runs. Whatever p99 this shows, no stream can beat it on
// this machine (timer granularity, VM/scheduler jitter). bench/run.ts forks it, pinned like the
// measured process, and it answers with one { type: 'calibration', ... } message.
import { performance } from 'node:perf_hooks';
import { MediaClock } from '../../src/channel/media-clock.ts';

const mediaClock = new MediaClock();
import { LatencyHistogram } from '../../src/lib/histogram.ts';

/** Tick lateness of an idle media clock, ms. */
export interface Calibration {
  seconds: number;
  ticks: number;
  lateP50Ms: number;
  lateP99Ms: number;
  lateMaxMs: number;
}

const seconds = Number(process.argv[2] ?? 3);
const late = new LatencyHistogram();
const removers: Array<() => void> = [];
for (let i = 0; i < 20; i++) removers.push(mediaClock.add(20, (dueMs) => late.record(performance.now() - dueMs)));
setTimeout(() => {
  for (const remove of removers) remove();
  const result: Calibration = {
    seconds, ticks: late.count, lateP50Ms: late.percentile(50), lateP99Ms: late.percentile(99), lateMaxMs: late.maxMs,
  };
  if (process.send) process.send({ type: 'calibration', ...result }, () => process.exit(0));
  else {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  }
}, seconds * 1000);
