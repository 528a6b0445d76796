import { sourceKey } from '../../lib/source-address.ts';

/** The limits on new calls (the config's sip section names them). */
export interface AdmissionLimits {
  /** Calls at once (FreeSWITCH's max-sessions). */
  maxSessions: number;
  /** New calls per second, all sources together (FreeSWITCH's sessions-per-second). */
  sessionsPerSecond: number;
  /** New calls per second from one source address; checked first, so one source cannot use up the global rate. */
  invitesPerSourcePerSecond: number;
  /** Calls from one source address not yet confirmed (ringing, early, or 2xx not ACKed) at once. */
  maxPendingPerSource: number;
}

/** Which limit refused a call: its config key under `sip`. */
export type AdmissionLimit = keyof AdmissionLimits;

/** How a refused INVITE is answered. */
export interface Refusal {
  limit: AdmissionLimit;
  /** Always 503. */
  status: 503;
  /** Reason phrase: FreeSWITCH's where it has one for that limit. */
  reason: string;
  /** Retry-After value, seconds: how long the limit takes to clear. */
  retryAfterSec: number;
}

/**
 * The answer for each limit. FreeSWITCH 1.10.12 answers both max-sessions and sessions-per-second
 * `503 Maximum Calls In Progress` with `Retry-After: 300` (seen with `fsctl max_sessions 1` and
 * `fsctl sps 1`); the rates here clear within a second, so they say 1; a source's pending calls clear
 * at the latest when the 2xx gives up waiting for its ACK (64*T1 = 32 s).
 */
export const REFUSALS: Readonly<Record<AdmissionLimit, Refusal>> = {
  maxSessions: { limit: 'maxSessions', status: 503, reason: 'Maximum Calls In Progress', retryAfterSec: 300 },
  sessionsPerSecond: { limit: 'sessionsPerSecond', status: 503, reason: 'Maximum Calls In Progress', retryAfterSec: 1 },
  invitesPerSourcePerSecond: { limit: 'invitesPerSourcePerSecond', status: 503, reason: 'Source Call Rate Exceeded', retryAfterSec: 1 },
  maxPendingPerSource: { limit: 'maxPendingPerSource', status: 503, reason: 'Too Many Pending Calls From Source', retryAfterSec: 32 },
};

/** Sources remembered at once by default; idle ones are forgotten first when there are more. */
export const DEFAULT_MAX_SOURCES = 10_000;

interface Source {
  /** Tokens of the per-source bucket at `at`. */
  tokens: number;
  at: number;
  pending: number;
}

/**
 * Admission of new calls, before any channel or RTP port is taken: token buckets refilled from the
 * clock (one per source, one for all; no timer), a count of each source's unconfirmed calls, and
 * the number of calls at once. The source table is bounded: past `maxSources` the sources without
 * pending calls are forgotten, oldest first (forgetting one only refills its bucket), so spoofed
 * addresses cannot grow memory.
 */
export class Admission {
  private readonly sources = new Map<string, Source>();
  private globalTokens: number;
  private globalAt: number;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly now: () => number,
    private readonly maxSources = DEFAULT_MAX_SOURCES,
  ) {
    this.globalTokens = limits.sessionsPerSecond;
    this.globalAt = now();
  }

  /** Sources remembered now. */
  get sourceCount(): number {
    return this.sources.size;
  }

  /** Calls from `address` admitted and not yet settled. */
  pendingOf(address: string): number {
    return this.sources.get(sourceKey(address))?.pending ?? 0;
  }

  /**
   * Decides on a new INVITE from `address` while `sessions` calls are up: undefined = admitted (the
   * call then counts as pending until `settle`), else the refusal. Checked in this order: the
   * source's rate, its pending calls, calls at once, the global rate.
   */
  admit(address: string, sessions: number): Refusal | undefined {
    const t = this.now();
    const source = this.source(sourceKey(address), t);
    const perSource = this.limits.invitesPerSourcePerSecond;
    source.tokens = Math.min(perSource, source.tokens + ((t - source.at) * perSource) / 1000);
    source.at = t;
    if (source.tokens < 1) return REFUSALS.invitesPerSourcePerSecond;
    source.tokens -= 1;
    if (source.pending >= this.limits.maxPendingPerSource) return REFUSALS.maxPendingPerSource;
    if (sessions >= this.limits.maxSessions) return REFUSALS.maxSessions;
    const global = this.limits.sessionsPerSecond;
    this.globalTokens = Math.min(global, this.globalTokens + ((t - this.globalAt) * global) / 1000);
    this.globalAt = t;
    if (this.globalTokens < 1) return REFUSALS.sessionsPerSecond;
    this.globalTokens -= 1;
    source.pending++;
    return undefined;
  }

  /** An admitted call from `address` is confirmed (ACKed) or over; idempotence is the caller's. */
  settle(address: string): void {
    const source = this.sources.get(sourceKey(address));
    if (source !== undefined && source.pending > 0) source.pending--;
  }

  private source(key: string, t: number): Source {
    let source = this.sources.get(key);
    if (source === undefined) {
      if (this.sources.size >= this.maxSources) this.evict();
      source = { tokens: this.limits.invitesPerSourcePerSecond, at: t, pending: 0 };
      this.sources.set(key, source);
    }
    return source;
  }

  /** Forgets sources without pending calls, oldest first, down to 90 % of the bound (so it runs once per many new sources). */
  private evict(): void {
    const target = Math.floor(this.maxSources * 0.9);
    for (const [key, source] of this.sources) {
      if (this.sources.size <= target) return;
      if (source.pending === 0) this.sources.delete(key);
    }
  }
}
