import type { Logger } from './logger.ts';

/** Distinct causes remembered per FailureLog; later new causes are counted but not logged. */
const MAX_CAUSES = 64;

/**
 * Failures of one kind that must not stop the caller (a media clock member, an event listener):
 * every one is counted, and the first of each distinct cause is logged with its stack, so a bug is
 * seen once instead of silently swallowed or logged 50 times a second.
 */
export class FailureLog {
  /** Failures reported so far. */
  count = 0;
  private readonly causes = new Set<string>();

  constructor(private readonly log: Logger, private readonly what: string) {}

  /** Counts one failure; logs it when its cause is new. */
  report(err: unknown): void {
    this.count++;
    const cause = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    if (this.causes.has(cause) || this.causes.size >= MAX_CAUSES) return;
    this.causes.add(cause);
    const stack = err instanceof Error && err.stack ? `\n${err.stack}` : '';
    this.log.error(`${this.what} failed: ${cause} (counted; logged once per cause)${stack}`);
  }
}
