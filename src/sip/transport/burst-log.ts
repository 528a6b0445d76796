import type { Clock, TimerHandle } from '../../lib/clock.ts';

/** Where a BurstLog writes (a Logger). */
export interface BurstLogSink {
  warning(message: string): void;
  notice(message: string): void;
}

/** Default length of a summary window, ms. */
export const BURST_WINDOW_MS = 10_000;

/**
 * Logs a burst of refusals (calls, connections) once instead of once per refusal: a warning for the
 * first, then one summary per window with the count by kind while refusals go on, then one notice
 * when a whole window passed without any. One timer per burst, none between bursts.
 */
export class BurstLog {
  private timer: TimerHandle | undefined;
  private readonly counts = new Map<string, number>();
  private inWindow = 0;
  private inBurst = 0;

  /**
   * @param what what is refused, plural ("new calls", "TCP connections"): the summaries' noun
   * @param verb what happens to them, past tense (default "refused")
   * @param windowMs summary period in ms (default 10 s)
   */
  constructor(
    private readonly sink: BurstLogSink,
    private readonly clock: Clock,
    private readonly what: string,
    private readonly verb = 'refused',
    private readonly windowMs = BURST_WINDOW_MS,
  ) {}

  /** True while a burst lasts (from its first refusal until a window without any). */
  get active(): boolean {
    return this.timer !== undefined;
  }

  /** Records one refusal of `kind` ("over sip.maxSessions"); the first of a burst is logged at once with the text `first()` builds. */
  record(kind: string, first: () => string): void {
    if (this.timer === undefined) {
      this.sink.warning(`${first()}; more are counted and summed up every ${this.windowMs / 1000} s`);
      this.inBurst = 1;
      this.timer = this.clock.setTimeout(() => this.endWindow(), this.windowMs);
      return;
    }
    this.inWindow++;
    this.inBurst++;
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  /** Stops the timer without logging (the owner is closing). */
  close(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private endWindow(): void {
    const seconds = this.windowMs / 1000;
    if (this.inWindow === 0) {
      this.timer = undefined;
      this.sink.notice(`no ${this.what} ${this.verb} for ${seconds} s (${this.inBurst} ${this.verb} in that burst)`);
      return;
    }
    const kinds = [...this.counts].map(([kind, n]) => `${n} ${kind}`).join(', ');
    this.sink.warning(`${this.verb} ${this.inWindow} ${this.what} in the last ${seconds} s: ${kinds}`);
    this.inWindow = 0;
    this.counts.clear();
    this.timer = this.clock.setTimeout(() => this.endWindow(), this.windowMs);
  }
}
