// The measured process of one benchmark configuration: N file channels streaming stereo 16 kHz to
// the sink. bench/run.ts forks it (node --expose-gc --import tsx bench/worker.ts ...) with an IPC
// channel, once per configuration, so each starts from a fresh heap and clean RSS.
//
// Messages to the parent: { type: 'phase', phase, ... } as it goes, and one { type: 'result', ... }.
// The parent answers nothing; it samples the sink's CPU when it sees 'window-start'/'window-end'.
import { mkdtempSync, rmSync } from 'node:fs';
import { send, sleep, hrUs, collect, schedstat, gcAvailable } from './measure.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setLogLevel } from '../src/lib/logger.ts';
import { Runtime } from '../src/service/runtime.ts';
import type { Channel, ChannelEndpoint } from '../src/channel/channel.ts';
import type { AudioStream } from '../src/audio-stream/audio-stream.ts';
import { LatencyHistogram } from '../src/lib/histogram.ts';
import { makeSpeechLikeStereo, LoopingStereoSource } from './signal.ts';

/** What the parent passes (as --name value pairs). */
export interface WorkerConfig {
  n: number;
  seconds: number;
  deflate: boolean;
  url: string;
  warmupSeconds: number;
  staggerMs: number;
  connectTimeoutMs: number;
}

/** The numbers one configuration produces (before the sink's totals are added by the parent). */
export interface WorkerResult {
  n: number;
  deflate: boolean;
  windowSeconds: number;
  connected: number;
  connectErrors: number;
  connectMs: number;
  /** CPU of this process during the window (µs), and event-loop utilisation (main thread busy share). */
  cpuUserUs: number;
  cpuSystemUs: number;
  elu: number;
  /** Frames fed / audio messages sent / dropped during the window. */
  windowFed: number;
  windowSent: number;
  windowDropped: number;
  /** Frames that the clock should have fed in the window (N × window / 20 ms). */
  windowIdealFrames: number;
  /** Due-to-send delay (streamMetrics.sendDelay) over the window, ms. */
  delayP50: number;
  delayP99: number;
  delayP999: number;
  delayMax: number;
  delayCount: number;
  /** How late the clock ran a cohort (due to first callback), ms. */
  clockLateP50: number;
  clockLateP99: number;
  clockLateMax: number;
  /** Whole run (first frame to stop): frames fed, ticks the clock skipped, audio messages sent and dropped. */
  totalFed: number;
  totalSkipped: number;
  totalSent: number;
  totalDropped: number;
  streamsFinished: number;
  stopMs: number;
  /** Memory: baseline (after gc, no streams), after warm-up (after gc), and at the end of the window (no gc). */
  rssBefore: number;
  rssAfter: number;
  rssEndOfWindow: number;
  heapUsedBefore: number;
  heapUsedAfter: number;
  externalBefore: number;
  externalAfter: number;
  arrayBuffersBefore: number;
  arrayBuffersAfter: number;
  gcAvailable: boolean;
  /** process.hrtime of the window in µs (to cut a --cpu-prof profile to the window). */
  windowStartHrUs: number;
  windowEndHrUs: number;
  errorsByCode: Record<string, number>;
  /** Main thread during the window: seconds on a CPU and runnable-but-waiting (Linux schedstat), if known. */
  mainThreadOnCpuS: number | undefined;
  mainThreadRunQueueWaitS: number | undefined;
  /** Process context switches and minor page faults during the window. */
  voluntaryContextSwitches: number;
  involuntaryContextSwitches: number;
  minorPageFaults: number;
}

const FRAME_MS = 20;
const RATE_HZ = 8000;
const FRAME_SAMPLES = (RATE_HZ * FRAME_MS) / 1000;

function parseConfig(argv: string[]): WorkerConfig {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, dflt: number): number => {
    const v = get(name);
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`bad --${name} ${v}`);
    return n;
  };
  const url = get('url');
  if (!url || !/^ws:\/\/127\.0\.0\.1:\d+\/?/.test(url)) throw new Error(`--url must be ws://127.0.0.1:<port>/, got ${url}`);
  return {
    n: Math.floor(num('n', 250)),
    seconds: num('seconds', 10),
    deflate: get('deflate') === 'on',
    url,
    warmupSeconds: num('warmup', 2),
    staggerMs: num('stagger', 1000),
    connectTimeoutMs: num('connect-timeout', 30000),
  };
}




const endpoint: ChannelEndpoint = { preAnswer: () => true, answer: () => true, hangup: () => undefined };

interface Leg {
  channel: Channel;
  stream: AudioStream | undefined;
  source: LoopingStereoSource;
  remove: (() => void) | undefined;
  fed: number;
  /** performance.now() due time of the leg's first frame (-1 before it). */
  firstDue: number;
  lastDue: number;
  skipped: number;
}

async function main(): Promise<void> {
  const cfg = parseConfig(process.argv.slice(2));
  setLogLevel('warning'); // no per-stream "connecting"/"connected" lines
  const tempDir = mkdtempSync(join(tmpdir(), 'audio-stream-bench-'));
  const samples = makeSpeechLikeStereo(RATE_HZ, 6);
  const runtime = new Runtime({ tempDir });
  const { mediaClock } = runtime;
  const streamMetrics = runtime.streams.metrics;

  let connected = 0;
  let connectErrors = 0;
  runtime.bus.subscribe((e) => {
    if (e.name !== 'CUSTOM') return;
    if (e.subclass === 'mod_audio_stream::connect') connected++;
    else if (e.subclass === 'mod_audio_stream::error') connectErrors++;
  });

  // Baseline memory: everything loaded and the shared file made, no channel yet.
  await sleep(50);
  collect();
  const before = process.memoryUsage();

  // Clock lateness, recorded once per cohort tick (the first member that sees a new due time).
  const clockLate = new LatencyHistogram();
  let lastDueSeen = -1;
  let fedTotal = 0;

  const legs: Leg[] = [];
  const startLeg = (i: number): void => {
    const channel = runtime.channels.create(endpoint, `bench/${i}`, { name: 'L16', rateHz: RATE_HZ, ptimeMs: FRAME_MS },
      { destinationNumber: 'bench', callerIdNumber: String(1000 + i) });
    // mod_audio_stream's naming: STREAM_MESSAGE_DEFLATE=true turns deflate OFF; unset offers it.
    if (!cfg.deflate) channel.setVariable('STREAM_MESSAGE_DEFLATE', 'true');
    const started = runtime.streams.start(channel, { url: cfg.url, mix: 'stereo', rate: '16k', metadata: `{"bench":1,"leg":${i}}` });
    const leg: Leg = {
      channel, stream: started.ok ? started.value : undefined, source: new LoopingStereoSource(samples, FRAME_SAMPLES, i * 37),
      remove: undefined, fed: 0, firstDue: -1, lastDue: -1, skipped: 0,
    };
    legs.push(leg);
    if (!started.ok) {
      process.stderr.write(`leg ${i}: ${started.error.message}\n`);
      return;
    }
    const source = leg.source;
    leg.remove = mediaClock.add(FRAME_MS, (dueMs) => {
      if (dueMs !== lastDueSeen) {
        lastDueSeen = dueMs;
        clockLate.record(performance.now() - dueMs);
      }
      if (leg.lastDue >= 0 && dueMs - leg.lastDue > FRAME_MS * 1.5) leg.skipped += Math.round((dueMs - leg.lastDue) / FRAME_MS) - 1;
      if (leg.firstDue < 0) leg.firstDue = dueMs;
      leg.lastDue = dueMs;
      source.next();
      channel.processFrame(source.read, source.write, dueMs);
      leg.fed++;
      fedTotal++;
    });
  };

  // Start the legs over staggerMs by the wall clock: every 5 ms, as many as are due by then (an
  // overloaded loop wakes late, so a fixed batch size would stretch the ramp far beyond staggerMs).
  const t0 = performance.now();
  for (let started = 0; started < cfg.n;) {
    const due = cfg.staggerMs > 0 ? Math.ceil((cfg.n * (performance.now() - t0)) / cfg.staggerMs) : cfg.n;
    const end = Math.min(cfg.n, Math.max(started + 1, due));
    for (; started < end; started++) startLeg(started);
    if (started < cfg.n) await sleep(5);
  }
  send({ type: 'phase', phase: 'started', ms: Math.round(performance.now() - t0) });

  const deadline = t0 + cfg.connectTimeoutMs;
  while (connected + connectErrors < cfg.n && performance.now() < deadline) await sleep(20);
  const connectMs = Math.round(performance.now() - t0);
  send({ type: 'phase', phase: 'connected', connected, connectErrors, ms: connectMs });
  // Tell the sink (through the parent) when each leg's first frame was due, on the system-wide
  // monotonic clock, so it can time arrivals: message k of leg i was due at firstDue[i] + k x 20 ms.
  const hrOffsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  send({ type: 'legs', firstDueHrMs: legs.map((l) => (l.firstDue >= 0 ? l.firstDue + hrOffsetMs : -1)) });

  await sleep(cfg.warmupSeconds * 1000);
  collect();
  const after = process.memoryUsage();
  await sleep(300); // let the clock catch up after the gc pause before measuring

  // Measurement window.
  streamMetrics.sendDelay.reset();
  clockLate.reset();
  const sent0 = streamMetrics.messagesSent;
  const dropped0 = streamMetrics.messagesDropped;
  const fed0 = fedTotal;
  const elu0 = performance.eventLoopUtilization();
  const sched0 = schedstat();
  const ru0 = process.resourceUsage();
  const cpu0 = process.cpuUsage();
  const windowStartHrUs = hrUs();
  send({ type: 'phase', phase: 'window-start' });
  await sleep(cfg.seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const ru1 = process.resourceUsage();
  const sched1 = schedstat();
  const windowEndHrUs = hrUs();
  const elu = performance.eventLoopUtilization(elu0);
  const windowSent = streamMetrics.messagesSent - sent0;
  const windowDropped = streamMetrics.messagesDropped - dropped0;
  const windowFed = fedTotal - fed0;
  const d = streamMetrics.sendDelay;
  const delay = { p50: d.percentile(50), p99: d.percentile(99), p999: d.percentile(99.9), max: d.maxMs, count: d.count };
  const late = { p50: clockLate.percentile(50), p99: clockLate.percentile(99), max: clockLate.maxMs };
  const endOfWindow = process.memoryUsage();
  send({ type: 'phase', phase: 'window-end' });
  const windowSeconds = (windowEndHrUs - windowStartHrUs) / 1e6;

  // Stop: no more frames, then every stream flushes and closes; wait for them to finish.
  const stopT0 = performance.now();
  for (const leg of legs) leg.remove?.();
  const finished: Array<Promise<void>> = [];
  let streamsFinished = 0;
  for (const leg of legs) {
    const stream = leg.channel.isHungUp ? undefined : runtime.streams.find(leg.channel);
    stream?.stop();
    if (leg.stream) finished.push(leg.stream.finished.then(() => { streamsFinished++; }));
  }
  await Promise.race([Promise.all(finished), sleep(20000)]);
  for (const leg of legs) leg.channel.hangup('NORMAL_CLEARING');
  const stopMs = Math.round(performance.now() - stopT0);

  const totalSkipped = legs.reduce((n, l) => n + l.skipped, 0);
  // messagesSent also counts the one metadata text each opened stream sent first.
  const texts = legs.filter((l) => l.stream && l.stream.stats.messagesSent > 0).length;
  const result: WorkerResult = {
    n: cfg.n,
    deflate: cfg.deflate,
    windowSeconds,
    connected,
    connectErrors,
    connectMs,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    elu: elu.utilization,
    windowFed,
    windowSent,
    windowDropped,
    windowIdealFrames: Math.round((cfg.n * windowSeconds * 1000) / FRAME_MS),
    delayP50: delay.p50,
    delayP99: delay.p99,
    delayP999: delay.p999,
    delayMax: delay.max,
    delayCount: delay.count,
    clockLateP50: late.p50,
    clockLateP99: late.p99,
    clockLateMax: late.max,
    totalFed: fedTotal,
    totalSkipped,
    totalSent: streamMetrics.messagesSent - texts,
    totalDropped: streamMetrics.messagesDropped,
    streamsFinished,
    stopMs,
    rssBefore: before.rss,
    rssAfter: after.rss,
    rssEndOfWindow: endOfWindow.rss,
    heapUsedBefore: before.heapUsed,
    heapUsedAfter: after.heapUsed,
    externalBefore: before.external,
    externalAfter: after.external,
    arrayBuffersBefore: before.arrayBuffers,
    arrayBuffersAfter: after.arrayBuffers,
    gcAvailable,
    windowStartHrUs,
    windowEndHrUs,
    errorsByCode: Object.fromEntries(streamMetrics.errorsByCode),
    mainThreadOnCpuS: sched0 && sched1 ? (sched1.onCpuNs - sched0.onCpuNs) / 1e9 : undefined,
    mainThreadRunQueueWaitS: sched0 && sched1 ? (sched1.waitNs - sched0.waitNs) / 1e9 : undefined,
    voluntaryContextSwitches: ru1.voluntaryContextSwitches - ru0.voluntaryContextSwitches,
    involuntaryContextSwitches: ru1.involuntaryContextSwitches - ru0.involuntaryContextSwitches,
    minorPageFaults: ru1.minorPageFault - ru0.minorPageFault,
  };
  send({ type: 'result', result });
  rmSync(tempDir, { recursive: true, force: true });
  // Leave through a normal exit so --cpu-prof writes its profile.
  setTimeout(() => process.exit(0), 100);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench worker: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
