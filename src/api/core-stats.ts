import { IdleCpu } from '../lib/idle-cpu.ts';
import type { EventBus } from '../events/bus.ts';
import type { FsEvent } from '../events/event.ts';

const FIVE_MIN_MS = 5 * 60 * 1000;

interface Sample {
  atMs: number;
  value: number;
}

/** Keeps (time, value) samples for five minutes and answers their maximum. */
class FiveMinutePeak {
  private readonly samples: Sample[] = [];
  add(value: number, nowMs: number): void {
    this.samples.push({ atMs: nowMs, value });
    while (this.samples.length > 0 && this.samples[0]!.atMs < nowMs - FIVE_MIN_MS) this.samples.shift();
  }
  max(nowMs: number, current: number): number {
    let m = current;
    for (const s of this.samples) if (s.atMs >= nowMs - FIVE_MIN_MS && s.value > m) m = s.value;
    return m;
  }
}

/** Counters behind `status` and `show channels`, fed from the core's events. */
export class CoreStats {
  readonly startedAtMs = Date.now();
  /**
   * The limits `status` reports ("out of max", "session(s) max"): the SIP host's sip.sessionsPerSecond
   * and sip.maxSessions under `serve`, FreeSWITCH's defaults (30 and 1000) otherwise.
   */
  limits = { maxSessions: 1000, sessionsPerSecond: 30 };
  /** Sessions created since the counters started (FreeSWITCH: since startup). */
  sessionsSinceStartup: number;
  peakSessions: number;
  peakSessionsPerSecond = 0;
  private readonly sessionsPeak5 = new FiveMinutePeak();
  private readonly spsPeak5 = new FiveMinutePeak();
  private secondStartMs = 0;
  private createsThisSecond = 0;
  private createsLastSecond = 0;
  private readonly idleCpu = new IdleCpu();
  /** The last application run on each live channel (`show channels` application columns). */
  private readonly applications = new Map<string, { app: string; data: string }>();

  /** Counts from now on; make it when the service starts so that `status` counts every session. */
  constructor(private readonly channels: { readonly size: number }, bus: EventBus) {
    this.sessionsSinceStartup = channels.size;
    this.peakSessions = channels.size;
    bus.subscribe((e) => this.onEvent(e));
  }

  private onEvent(e: FsEvent): void {
    switch (e.name) {
      case 'CHANNEL_CREATE':
        this.onCreate(Date.now());
        break;
      case 'CHANNEL_EXECUTE': {
        const uuid = e.get('Unique-ID');
        if (uuid) this.applications.set(uuid, { app: e.get('Application') ?? '', data: e.get('Application-Data') ?? '' });
        break;
      }
      case 'CHANNEL_DESTROY': {
        const uuid = e.get('Unique-ID');
        if (uuid) this.applications.delete(uuid);
        this.sessionsPeak5.add(this.channels.size, Date.now());
        break;
      }
    }
  }

  private onCreate(nowMs: number): void {
    this.sessionsSinceStartup++;
    const live = this.channels.size;
    if (live > this.peakSessions) this.peakSessions = live;
    this.sessionsPeak5.add(live, nowMs);
    this.rollSecond(nowMs);
    this.createsThisSecond++;
    if (this.createsThisSecond > this.peakSessionsPerSecond) this.peakSessionsPerSecond = this.createsThisSecond;
    this.spsPeak5.add(this.createsThisSecond, nowMs);
  }

  private rollSecond(nowMs: number): void {
    if (nowMs - this.secondStartMs < 1000) return;
    this.createsLastSecond = nowMs - this.secondStartMs < 2000 ? this.createsThisSecond : 0;
    this.createsThisSecond = 0;
    this.secondStartMs = nowMs;
  }

  /** Sessions created in the last complete second. */
  sessionsPerSecond(nowMs = Date.now()): number {
    this.rollSecond(nowMs);
    return this.createsLastSecond;
  }

  /** Highest number of live sessions in the last five minutes. */
  peakSessionsFiveMin(nowMs = Date.now()): number {
    return this.sessionsPeak5.max(nowMs, this.channels.size);
  }

  /** Highest sessions per second in the last five minutes. */
  peakSessionsPerSecondFiveMin(nowMs = Date.now()): number {
    return this.spsPeak5.max(nowMs, 0);
  }

  /** The last application run on a channel. */
  applicationOf(uuid: string): { app: string; data: string } | undefined {
    return this.applications.get(uuid);
  }

  /** Idle CPU in percent since the previous call (or since the counters started). */
  idleCpuPercent(): number {
    return this.idleCpu.percent();
  }
}
