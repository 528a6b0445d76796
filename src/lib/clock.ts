/** An opaque handle returned by Clock.setTimeout. */
export type TimerHandle = object;

/**
 * The time source of the SIP stack (transaction timers, 2xx retransmission, idle connections).
 * Injectable so tests run Timer B/F/H (32 s) in microseconds with a FakeClock.
 */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; never keeps the process alive. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a pending callback; ignores handles already fired or cleared. */
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: performance.now() and unref'ed Node timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, ms) {
    const t = setTimeout(callback, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
