import type { Clock, TimerHandle } from '../../src/lib/clock.ts';

interface FakeTimer {
  at: number;
  seq: number;
  callback: () => void;
}

/** A manual Clock for tests: time moves only through `advance(ms)`, which fires due timers in order. */
export class FakeClock implements Clock {
  private time = 0;
  private seq = 0;
  private readonly timers = new Set<FakeTimer>();

  /** Current fake time in ms. */
  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { at: this.time + Math.max(0, ms), seq: this.seq++, callback };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as FakeTimer);
  }

  /** Number of pending timers. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms` without firing anything, as a stalled process sees it; the next advance fires what is overdue. */
  stall(ms: number): void {
    this.time += ms;
  }

  /** Moves time forward by `ms`, firing every timer that falls due (including ones scheduled meanwhile). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const t of this.timers) {
        if (t.at <= end && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (next === undefined) break;
      this.timers.delete(next);
      this.time = Math.max(this.time, next.at); // an overdue timer (after stall) fires now, not in the past
      next.callback();
    }
    this.time = end;
  }
}
