import { Logger } from '../../lib/logger.ts';

/**
 * Logs at most `maxPerWindow` warnings per `windowMs` (per limiter), then one summary of how many
 * were suppressed, so a flood of malformed packets cannot flood the log.
 */
export class LogLimiter {
  private windowStart = -Infinity;
  private count = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly maxPerWindow = 10,
    private readonly windowMs = 10_000,
  ) {}

  /** Logs `message` as a warning unless this window's budget is spent. */
  warning(message: string): void {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) this.logger.warning(`${this.suppressed} similar messages suppressed`);
      this.windowStart = t;
      this.count = 0;
      this.suppressed = 0;
    }
    if (this.count < this.maxPerWindow) {
      this.count++;
      this.logger.warning(message);
    } else {
      this.suppressed++;
    }
  }
}
