// Failed Event Socket logins (`auth` with a wrong password, `userauth`), logged with the source
// address and throttled per source. FreeSWITCH 1.10.12's mod_event_socket logs none of them (its
// parse_command answers `-ERR invalid` silently, even at DEBUG), so there is no FreeSWITCH wording
// to keep; the line follows sofia's log-auth-failures line, the one fail2ban's FreeSWITCH filter
// reads ("SIP auth failure (REGISTER) on sofia profile 'x' for [user@domain] from ip 1.2.3.4"),
// with the address last so that a `from ip <HOST>$` rule takes the real one.
import type { Logger } from '../lib/logger.ts';

/** Bounds of the per-source throttle. */
export interface LoginFailureLimits {
  /** Failures from one source logged one by one in a window; later ones are summed up (default 5). */
  loggedPerWindow: number;
  /** The window, in ms (default 60 s). */
  windowMs: number;
  /** Sources remembered at once; the oldest is forgotten first (default 4096). */
  maxSources: number;
  /** How long the `-ERR invalid` of a source over `loggedPerWindow` waits, in ms (default 2000). */
  delayMs: number;
}

/** Default bounds (see LoginFailureLimits). */
export const DEFAULT_LOGIN_FAILURE_LIMITS: LoginFailureLimits = { loggedPerWindow: 5, windowMs: 60_000, maxSources: 4096, delayMs: 2000 };

/** One source's failures in its current window. */
interface Source {
  startMs: number;
  failures: number;
  /** Failures of this window not logged one by one (told in the summary). */
  unlogged: number;
}

/** One failed login. */
export interface LoginFailure {
  /** The source address (IPv4-mapped IPv6 addresses as IPv4), as logged. */
  ip: string;
  /** What the throttle counts it by (an IPv6 source by its /64: lib/source-address.ts sourceKey); default `ip`. */
  key?: string;
  /** `auth` or `userauth`. */
  command: 'auth' | 'userauth';
  /** userauth's `user@domain` (never the password). */
  user?: string;
}

/**
 * Counts failed logins per source address: the first `loggedPerWindow` of each source in a window
 * are logged one by one (WARNING, as sofia's), the rest in one summary line when the window ends;
 * `record` says how long the reply should wait (0 below the threshold). One timer, for the
 * earliest summary due, whatever the number of sources.
 */
export class LoginFailures {
  /** Failures seen since start. */
  total = 0;
  private readonly sources = new Map<string, Source>();
  private readonly limits: LoginFailureLimits;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger, limits: Partial<LoginFailureLimits> = {}, private readonly now: () => number = () => Date.now()) {
    this.limits = { ...DEFAULT_LOGIN_FAILURE_LIMITS, ...limits };
  }

  /** Sources remembered now. */
  get size(): number {
    return this.sources.size;
  }

  /** Records one failure; returns the delay before the `-ERR invalid` reply, in ms. */
  record(f: LoginFailure): number {
    this.total++;
    const now = this.now();
    const key = f.key ?? f.ip;
    let src = this.sources.get(key);
    if (src && now - src.startMs >= this.limits.windowMs) {
      this.summarize(key, src);
      this.sources.delete(key);
      src = undefined;
    }
    if (!src) {
      this.makeRoom();
      src = { startMs: now, failures: 0, unlogged: 0 };
      this.sources.set(key, src); // insertion order is window start order
    }
    src.failures++;
    if (src.failures <= this.limits.loggedPerWindow) {
      const user = f.command === 'userauth' ? ` for [${f.user ?? ''}]` : '';
      this.log.warning(`Event Socket auth failure (${f.command})${user} from ip ${f.ip}`);
      return 0;
    }
    src.unlogged++;
    this.schedule(src.startMs + this.limits.windowMs - now);
    return this.limits.delayMs;
  }

  /** Logs the summaries of the windows that have ended and forgets their sources. */
  sweep(): void {
    const now = this.now();
    for (const [ip, src] of this.sources) {
      if (now - src.startMs < this.limits.windowMs) break; // the rest started later
      this.summarize(ip, src);
      this.sources.delete(ip);
    }
    for (const src of this.sources.values()) {
      if (src.unlogged > 0) {
        this.schedule(src.startMs + this.limits.windowMs - now);
        break;
      }
    }
  }

  /** Stops the summary timer (the summaries still due are logged now). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const [ip, src] of this.sources) this.summarize(ip, src);
    this.sources.clear();
  }

  private summarize(ip: string, src: Source): void {
    if (src.unlogged === 0) return;
    const seconds = Math.round(this.limits.windowMs / 1000);
    this.log.warning(`Event Socket auth failures from ip ${ip}: ${src.unlogged} more in ${seconds} s `
      + `(${src.failures} in all; each source's first ${this.limits.loggedPerWindow} are logged one by one, their replies delayed after that)`);
    src.unlogged = 0;
  }

  /** Keeps the table under maxSources by forgetting the oldest windows (their summaries logged now). */
  private makeRoom(): void {
    while (this.sources.size >= this.limits.maxSources) {
      const [ip, src] = this.sources.entries().next().value as [string, Source];
      this.summarize(ip, src);
      this.sources.delete(ip);
    }
  }

  private schedule(inMs: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sweep();
    }, Math.max(0, inMs) + 1);
    this.timer.unref();
  }
}
