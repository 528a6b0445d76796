import type { Logger } from '../lib/logger.ts';

/**
 * A warning that comes in bursts (connections refused over a bound): the first of a burst is
 * logged, the others are counted and told in one line when the burst ends, `windowMs` after its
 * first; the next one starts a new burst. One timer, only while a burst lasts.
 */
export class BurstLog {
  private suppressed = 0;
  private timer: NodeJS.Timeout | undefined;

  /** `summary(n, seconds)` is the line for the n lines not logged in a burst of `seconds`. */
  constructor(private readonly log: Logger, private readonly summary: (n: number, seconds: number) => string,
    private readonly windowMs = 60_000) {}

  /** One occurrence: logged when it starts a burst, else counted. */
  hit(message: string): void {
    if (this.timer) {
      this.suppressed++;
      return;
    }
    this.log.warning(`${message} (further ones for ${Math.round(this.windowMs / 1000)} s are counted, not logged)`);
    this.timer = setTimeout(() => this.end(), this.windowMs);
    this.timer.unref();
  }

  /** Ends the current burst now (its summary logged). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.end();
  }

  private end(): void {
    this.timer = undefined;
    if (this.suppressed > 0) this.log.warning(this.summary(this.suppressed, Math.round(this.windowMs / 1000)));
    this.suppressed = 0;
  }
}
