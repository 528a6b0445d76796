import { systemClock, type Clock, type TimerHandle } from '../lib/clock.ts';
import { FailureLog } from '../lib/failure-log.ts';
import { Logger } from '../lib/logger.ts';

/** Callback of a clocked channel: `dueMs` is the clock.now() time this tick was due. */
export type TickCallback = (dueMs: number) => void;

interface Member {
  callback: TickCallback;
  cohort: Cohort;
  index: number;
  /** When it was added: a cohort catching up does not give it the ticks due before. */
  fromMs: number;
}

interface Cohort {
  periodMs: number;
  nextDueMs: number;
  members: Member[];
}

/**
 * How late a cohort may run and still play every tick it missed. A process that was busy for a
 * moment (a burst of events, a GC, another process on the core) loses no audio up to this; later
 * than this it is overloaded, and the ticks older than the bound are skipped (counted) so the work
 * it cannot do is shed instead of piling up. Within the playout buffer's 16 frames at 20 ms.
 */
const MAX_CATCH_UP_MS = 200;

/**
 * One clock for every channel, as FreeSWITCH's soft timer: members with the same packet time are
 * grouped into cohorts spread over 1 ms phases, so a thousand channels cost one timer and their
 * work is spread across the period instead of landing on one instant.
 */
export class MediaClock {
  private readonly cohorts: Cohort[] = [];
  private timer: TimerHandle | undefined;
  private timerDueMs = Infinity;
  /** A tick is running or about to (between the timer and the tick): schedule() waits for its end. */
  private running = false;
  /** Ticks skipped because the process was too late to run them (per cohort, not per member). */
  skippedTicks = 0;
  /** Members whose callback threw (counted, and logged once per cause); the others keep their ticks. */
  readonly failures = new FailureLog(new Logger('media-clock'), 'a media clock member');

  /** `clock` is the time source (a fake one in tests). */
  constructor(readonly clock: Clock = systemClock) {}

  /** Number of members. */
  get size(): number {
    let n = 0;
    for (const c of this.cohorts) n += c.members.length;
    return n;
  }

  /** Calls `callback` every `periodMs` (1..1000, whole ms) from the next phase slot on; returns the remover. */
  add(periodMs: number, callback: TickCallback): () => void {
    if (!Number.isInteger(periodMs) || periodMs < 1 || periodMs > 1000) throw new RangeError(`period must be 1..1000 ms, got ${periodMs}`);
    const cohort = this.pickCohort(periodMs);
    const member: Member = { callback, cohort, index: cohort.members.length, fromMs: this.clock.now() };
    cohort.members.push(member);
    this.schedule();
    return () => this.remove(member);
  }

  private pickCohort(periodMs: number): Cohort {
    const now = this.clock.now();
    const same = this.cohorts.filter((c) => c.periodMs === periodMs);
    if (same.length < periodMs) {
      // Open a new phase: the slot of this period least used so far, starting one period from now.
      const used = new Set(same.map((c) => Math.round(c.nextDueMs) % periodMs));
      let phase = 0;
      while (used.has(phase)) phase++;
      const base = Math.ceil(now / periodMs) * periodMs + phase;
      const cohort: Cohort = { periodMs, nextDueMs: base <= now ? base + periodMs : base, members: [] };
      this.cohorts.push(cohort);
      return cohort;
    }
    let best = same[0]!;
    for (const c of same) if (c.members.length < best.members.length) best = c;
    return best;
  }

  private remove(member: Member): void {
    const members = member.cohort.members;
    if (members[member.index] !== member) return;
    const last = members.pop()!;
    if (last !== member) {
      members[member.index] = last;
      last.index = member.index;
    }
    member.index = -1;
    // An empty cohort is dropped after the current tick, so removing one never shifts the list being run.
    if (members.length === 0 && !this.running) {
      this.dropEmptyCohorts();
      if (this.cohorts.length === 0) this.schedule(); // no member left: no timer either
    }
  }

  private dropEmptyCohorts(): void {
    for (let i = this.cohorts.length - 1; i >= 0; i--) if (this.cohorts[i]!.members.length === 0) this.cohorts.splice(i, 1);
  }

  private schedule(): void {
    if (this.running) return;
    let next = Infinity;
    for (const c of this.cohorts) if (c.nextDueMs < next) next = c.nextDueMs;
    if (next === Infinity) {
      if (this.timer) this.clock.clearTimeout(this.timer);
      this.timer = undefined;
      this.timerDueMs = Infinity;
      return;
    }
    if (this.timer && next >= this.timerDueMs) return;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timerDueMs = next;
    this.timer = this.clock.setTimeout(this.wake, Math.max(0, next - this.clock.now()));
  }

  /**
   * The timer fired: the ticks run once the packets already received are read, so that a tick
   * that runs late (the process was busy) plays the frames that arrived in time for it, rather
   * than concealing them and dropping them as late a moment later.
   */
  private readonly wake = (): void => {
    this.timer = undefined;
    this.timerDueMs = Infinity;
    if (this.clock.afterPendingIo) {
      this.running = true; // until the tick has run: members added meanwhile are scheduled by it
      this.clock.afterPendingIo(this.tick);
    } else this.tick();
  };

  private readonly tick = (): void => {
    this.running = true;
    try {
      const now = this.clock.now();
      for (let c = 0; c < this.cohorts.length; c++) this.runCohort(this.cohorts[c]!, now);
    } finally {
      this.running = false;
      this.dropEmptyCohorts();
      this.schedule();
    }
  };

  private runCohort(cohort: Cohort, now: number): void {
    if (cohort.members.length > 0 && now - cohort.nextDueMs > MAX_CATCH_UP_MS) {
      // Overloaded: the ticks due more than MAX_CATCH_UP_MS ago are skipped, the rest run.
      const skip = Math.ceil((now - cohort.nextDueMs - MAX_CATCH_UP_MS) / cohort.periodMs);
      this.skippedTicks += skip;
      cohort.nextDueMs += skip * cohort.periodMs;
    }
    while (cohort.nextDueMs <= now && cohort.members.length > 0) {
      const due = cohort.nextDueMs;
      cohort.nextDueMs += cohort.periodMs;
      const members = cohort.members;
      for (let i = 0; i < members.length; i++) {
        const m = members[i]!;
        if (due < m.fromMs) continue; // joined while the cohort was catching up
        try {
          m.callback(due);
        } catch (err) {
          this.failures.report(err); // a member's failure must not stop the clock for the others
        }
        if (members[i] !== m) i--; // the member removed itself; its slot now holds the last one
      }
    }
  }
}
