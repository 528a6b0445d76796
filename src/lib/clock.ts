/** An opaque handle returned by Clock.setTimeout. */
export type TimerHandle = object;

/**
 * The time source of a runtime: SIP timers (transactions, 2xx retransmission, idle connections),
 * the media clock, RTP receive stamps, stream deadlines and heartbeats, `sleep`. Injectable so
 * tests run them on a FakeClock (test/helpers/fake-clock.ts): SIP's 32 s Timer B in microseconds,
 * a heartbeat timeout without waiting for it.
 */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; never keeps the process alive. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a pending callback; ignores handles already fired or cleared. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Calls `callback` once the input already waiting (sockets readable now) has been read: in Node,
   * setImmediate from a timer runs after this turn's poll phase. Without it, callers run at once.
   */
  afterPendingIo?(callback: () => void): void;
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
  afterPendingIo(callback) {
    setImmediate(callback);
  },
};
