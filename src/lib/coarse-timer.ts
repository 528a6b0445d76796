import { systemClock, type Clock, type TimerHandle } from './clock.ts';
import { FailureLog } from './failure-log.ts';
import { Logger } from './logger.ts';

/**
 * One coarse ticker (100 ms by default) for per-stream housekeeping such as heartbeats, so
 * thousands of streams cost one timer instead of thousands. Callbacks run on every tick and check
 * their own deadlines. The timer runs only while callbacks exist and never keeps the process alive.
 */
export class CoarseTimer {
  private readonly callbacks = new Set<(nowMs: number) => void>();
  private timer: TimerHandle | undefined;
  /** Callbacks that threw (counted, logged once per cause); the others, and later ticks, go on. */
  readonly failures = new FailureLog(new Logger('housekeeping'), 'a housekeeping callback');

  constructor(private readonly clock: Clock = systemClock, private readonly periodMs = 100) {}

  /** Registers a callback, called with clock.now() on every tick; returns its remover. */
  add(callback: (nowMs: number) => void): () => void {
    this.callbacks.add(callback);
    if (!this.timer) this.schedule();
    return () => {
      this.callbacks.delete(callback);
      if (this.callbacks.size === 0 && this.timer) {
        this.clock.clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  private schedule(): void {
    this.timer = this.clock.setTimeout(() => this.tick(), this.periodMs);
  }

  private tick(): void {
    this.timer = undefined;
    const now = this.clock.now();
    for (const cb of this.callbacks) {
      try {
        cb(now);
      } catch (err) {
        this.failures.report(err);
      }
    }
    if (this.callbacks.size > 0 && !this.timer) this.schedule();
  }
}
