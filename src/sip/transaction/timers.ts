/** RFC 3261 §17 base timer values in ms: T1 (RTT estimate), T2 (max non-INVITE retransmit interval), T4 (max network lifetime). */
export interface SipTimerValues {
  T1: number;
  T2: number;
  T4: number;
}

/** RFC 3261 defaults: T1 500 ms, T2 4 s, T4 5 s. */
export const DEFAULT_TIMERS: SipTimerValues = { T1: 500, T2: 4000, T4: 5000 };

/** Fills unset values with the RFC defaults; rejects non-positive or inconsistent ones. */
export function resolveTimers(partial: Partial<SipTimerValues> = {}): SipTimerValues {
  const t = { ...DEFAULT_TIMERS, ...partial };
  for (const [name, value] of Object.entries(t)) {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`SIP timer ${name} must be a positive number of ms`);
  }
  if (t.T2 < t.T1) throw new RangeError('SIP timer T2 must not be smaller than T1');
  return t;
}

/** 64*T1: Timers B, F, H, J (unreliable) and L, and the 2xx ACK wait (RFC 3261 §13.3.1.4, RFC 6026). */
export function timer64T1(t: SipTimerValues): number {
  return 64 * t.T1;
}
