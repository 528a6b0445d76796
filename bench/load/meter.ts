// What the measured benchmark processes (streams-worker.ts, calls-service.ts) share: IPC to the
// orchestrator, a forced gc and memory readings, the Linux scheduler stats of the main thread, the
// media clock's lateness, and the measuring window itself (WindowMeter).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from '../../src/lib/histogram.ts';
import type { StreamMetrics } from '../../src/audio-stream/metrics.ts';
import type { MediaClock } from '../../src/channel/media-clock.ts';

/** Sends one message to the orchestrator (no-op when not forked). */
export function send(msg: Record<string, unknown>): void {
  process.send?.(msg);
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** process.hrtime in µs (the monotonic clock every process shares). */
export const hrUs = () => Number(process.hrtime.bigint() / 1000n);

const gc = (globalThis as { gc?: () => void }).gc;

/** Two full garbage collections when the process runs with --expose-gc (before memory readings). */
export function collect(): void {
  if (!gc) return;
  gc();
  gc();
}

/** True when --expose-gc gave us a gc(). */
export const gcAvailable = gc !== undefined;

/** The main thread's scheduler stats (Linux): ns on CPU and ns runnable but waiting for a CPU. */
export function schedstat(): { onCpuNs: number; waitNs: number } | undefined {
  try {
    const [onCpu, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isFinite(onCpu) && Number.isFinite(wait) ? { onCpuNs: onCpu!, waitNs: wait! } : undefined;
  } catch {
    return undefined;
  }
}

/** Memory of the process (process.memoryUsage after a forced gc when available). */
export interface ProcessMemory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** The memory after two forced collections. */
export function memoryAfterGc(): ProcessMemory {
  collect();
  const m = process.memoryUsage();
  return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** How late the media clock runs: recorded once per cohort tick, by whichever member sees a new due time first. */
export class ClockLateness {
  readonly histogram = new LatencyHistogram();
  private lastDue = -1;

  /** Called from a member's tick with its due time (ms on the clock). */
  observe(dueMs: number, nowMs: number): void {
    if (dueMs === this.lastDue) return;
    this.lastDue = dueMs;
    this.histogram.record(nowMs - dueMs);
  }
}

/** What one measuring window of a measured process gives, whichever benchmark it is. */
export interface WindowFigures {
  windowSeconds: number;
  /** process.hrtime of the window in µs (to cut a --cpu-prof profile to the window). */
  windowStartHrUs: number;
  windowEndHrUs: number;
  /** CPU of this process (all threads) during the window, µs, and the main thread's event-loop utilisation. */
  cpuUserUs: number;
  cpuSystemUs: number;
  elu: number;
  /** Audio and text messages handed to ws and audio dropped during the window. */
  windowSent: number;
  windowDropped: number;
  /** Media clock ticks skipped (fell more than two periods behind) during the window. */
  windowSkippedTicks: number;
  /** The engine's due-to-send delay (StreamMetrics.sendDelay) over the window, ms. */
  delayP50: number;
  delayP99: number;
  delayP999: number;
  delayMax: number;
  delayCount: number;
  /** How late the media clock ran a cohort (due to first callback), ms. */
  clockLateP50: number;
  clockLateP99: number;
  clockLateMax: number;
  /** Main thread during the window: seconds on a CPU and runnable-but-waiting (Linux schedstat), if known. */
  mainThreadOnCpuS: number | undefined;
  mainThreadRunQueueWaitS: number | undefined;
  /** Process context switches and minor page faults during the window. */
  voluntaryContextSwitches: number;
  involuntaryContextSwitches: number;
  minorPageFaults: number;
  /** RSS at the end of the window (no gc). */
  rssEndOfWindow: number;
  gcAvailable: boolean;
}

/** What a window reads of the engine. */
export interface MeteredEngine {
  metrics: StreamMetrics;
  mediaClock: MediaClock;
}

/**
 * One measuring window of a measured process: `start()` resets the engine's delay histogram and
 * the clock lateness, snapshots CPU, scheduler and counters and tells the orchestrator
 * (`window-start`); `end()` reads them again, tells it (`window-end`) and returns the figures.
 */
export class WindowMeter {
  private cpu0: NodeJS.CpuUsage | undefined;
  private ru0: NodeJS.ResourceUsage | undefined;
  private sched0: ReturnType<typeof schedstat>;
  private elu0: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  private startHrUs = 0;
  private sent0 = 0;
  private dropped0 = 0;
  private skipped0 = 0;
  /** The scheduler stats at the end of the last window (for the run-long figures of a caller). */
  lastSched: ReturnType<typeof schedstat>;

  constructor(private readonly engine: MeteredEngine, private readonly lateness: ClockLateness) {}

  start(): void {
    const { metrics, mediaClock } = this.engine;
    metrics.sendDelay.reset();
    this.lateness.histogram.reset();
    this.sent0 = metrics.messagesSent;
    this.dropped0 = metrics.messagesDropped;
    this.skipped0 = mediaClock.skippedTicks;
    this.elu0 = performance.eventLoopUtilization();
    this.sched0 = schedstat();
    this.ru0 = process.resourceUsage();
    this.cpu0 = process.cpuUsage();
    this.startHrUs = hrUs();
    send({ type: 'phase', phase: 'window-start' });
  }

  end(): WindowFigures {
    const cpu = process.cpuUsage(this.cpu0);
    const ru1 = process.resourceUsage();
    const sched1 = schedstat();
    const endHrUs = hrUs();
    const elu = performance.eventLoopUtilization(this.elu0);
    const { metrics, mediaClock } = this.engine;
    const d = metrics.sendDelay;
    const late = this.lateness.histogram;
    const ru0 = this.ru0!;
    const sched0 = this.sched0;
    this.lastSched = sched1;
    const figures: WindowFigures = {
      windowSeconds: (endHrUs - this.startHrUs) / 1e6,
      windowStartHrUs: this.startHrUs,
      windowEndHrUs: endHrUs,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      elu: elu.utilization,
      windowSent: metrics.messagesSent - this.sent0,
      windowDropped: metrics.messagesDropped - this.dropped0,
      windowSkippedTicks: mediaClock.skippedTicks - this.skipped0,
      delayP50: d.percentile(50),
      delayP99: d.percentile(99),
      delayP999: d.percentile(99.9),
      delayMax: d.maxMs,
      delayCount: d.count,
      clockLateP50: late.percentile(50),
      clockLateP99: late.percentile(99),
      clockLateMax: late.maxMs,
      mainThreadOnCpuS: sched0 && sched1 ? (sched1.onCpuNs - sched0.onCpuNs) / 1e9 : undefined,
      mainThreadRunQueueWaitS: sched0 && sched1 ? (sched1.waitNs - sched0.waitNs) / 1e9 : undefined,
      voluntaryContextSwitches: ru1.voluntaryContextSwitches - ru0.voluntaryContextSwitches,
      involuntaryContextSwitches: ru1.involuntaryContextSwitches - ru0.involuntaryContextSwitches,
      minorPageFaults: ru1.minorPageFault - ru0.minorPageFault,
      rssEndOfWindow: process.memoryUsage().rss,
      gcAvailable,
    };
    send({ type: 'phase', phase: 'window-end' });
    return figures;
  }
}
