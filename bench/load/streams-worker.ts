// The measured process of one streams-benchmark configuration: N file channels streaming stereo
// 16 kHz to the sink. bench/load/streams.ts forks it (node --expose-gc --import tsx
// bench/load/streams-worker.ts ...) with an IPC channel, once per configuration, so each starts
// from a fresh heap and clean RSS.
//
// Messages to the parent: { type: 'phase', phase, ... } as it goes, and one { type: 'result', ... }.
// The parent answers nothing; it samples the sink's CPU when it sees 'window-start'/'window-end'.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { send, sleep, memoryAfterGc, gcAvailable, ClockLateness, WindowMeter, type ProcessMemory, type WindowFigures } from './meter.ts';
import { setLogLevel } from '../../src/lib/logger.ts';
import { Runtime } from '../../src/service/runtime.ts';
import type { Channel, ChannelEndpoint } from '../../src/channel/channel.ts';
import type { AudioStream } from '../../src/audio-stream/audio-stream.ts';
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
export interface WorkerResult extends WindowFigures {
  n: number;
  deflate: boolean;
  connected: number;
  connectErrors: number;
  connectMs: number;
  /** Frames fed during the window, and the frames the clock should have fed in it (N × window / 20 ms). */
  windowFed: number;
  windowIdealFrames: number;
  /** Whole run (first frame to stop): frames fed, ticks the legs missed, audio messages sent and dropped. */
  totalFed: number;
  totalSkipped: number;
  totalSent: number;
  totalDropped: number;
  streamsFinished: number;
  stopMs: number;
  /** Memory: baseline (after gc, no streams) and after warm-up (after gc). */
  rssBefore: number;
  rssAfter: number;
  heapUsedBefore: number;
  heapUsedAfter: number;
  externalBefore: number;
  externalAfter: number;
  arrayBuffersBefore: number;
  arrayBuffersAfter: number;
  errorsByCode: Record<string, number>;
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

/** One file channel, its stream and its source, driven by the runtime's media clock. */
class Leg {
  readonly stream: AudioStream | undefined;
  private remove: (() => void) | undefined;
  fed = 0;
  /** Media clock due time of the leg's first frame (-1 before it). */
  firstDue = -1;
  private lastDue = -1;
  /** Ticks the leg missed (gaps of more than one period between its due times). */
  skipped = 0;

  constructor(readonly channel: Channel, stream: AudioStream | undefined, private readonly source: LoopingStereoSource) {
    this.stream = stream;
  }

  /** Feeds one frame per 20 ms tick of the shared clock; `onTick` sees every tick first. */
  clock(run: StreamsRun): void {
    this.remove = run.runtime.mediaClock.add(FRAME_MS, (dueMs) => {
      run.lateness.observe(dueMs, performance.now());
      if (this.lastDue >= 0 && dueMs - this.lastDue > FRAME_MS * 1.5) this.skipped += Math.round((dueMs - this.lastDue) / FRAME_MS) - 1;
      if (this.firstDue < 0) this.firstDue = dueMs;
      this.lastDue = dueMs;
      this.source.next();
      this.channel.processFrame(this.source.read, this.source.write, dueMs);
      this.fed++;
      run.fedTotal++;
    });
  }

  unclock(): void {
    this.remove?.();
  }
}

/** One configuration's run inside the measured process. */
class StreamsRun {
  readonly runtime: Runtime;
  readonly lateness = new ClockLateness();
  readonly legs: Leg[] = [];
  fedTotal = 0;
  connected = 0;
  connectErrors = 0;
  private readonly samples = makeSpeechLikeStereo(RATE_HZ, 6);

  constructor(readonly cfg: WorkerConfig, readonly tempDir: string) {
    this.runtime = new Runtime({ tempDir });
    this.runtime.bus.subscribe((e) => {
      if (e.name !== 'CUSTOM') return;
      if (e.subclass === 'mod_audio_stream::connect') this.connected++;
      else if (e.subclass === 'mod_audio_stream::error') this.connectErrors++;
    });
  }

  /** One channel streaming `stereo 16k` to the sink, fed by the clock from the next tick. */
  startLeg(i: number): void {
    const { runtime, cfg } = this;
    const channel = runtime.channels.create(endpoint, `bench/${i}`, { name: 'L16', rateHz: RATE_HZ, ptimeMs: FRAME_MS },
      { destinationNumber: 'bench', callerIdNumber: String(1000 + i) });
    // mod_audio_stream's naming: STREAM_MESSAGE_DEFLATE=true turns deflate OFF; unset offers it.
    if (!cfg.deflate) channel.setVariable('STREAM_MESSAGE_DEFLATE', 'true');
    const started = runtime.streams.start(channel, { url: cfg.url, mix: 'stereo', rate: '16k', metadata: `{"bench":1,"leg":${i}}` });
    const leg = new Leg(channel, started.ok ? started.value : undefined, new LoopingStereoSource(this.samples, FRAME_SAMPLES, i * 37));
    this.legs.push(leg);
    if (!started.ok) {
      process.stderr.write(`leg ${i}: ${started.error.message}\n`);
      return;
    }
    leg.clock(this);
  }

  /**
   * Starts the legs over staggerMs by the wall clock: every 5 ms, as many as are due by then (an
   * overloaded loop wakes late, so a fixed batch size would stretch the ramp far beyond staggerMs).
   */
  async rampUp(t0: number): Promise<void> {
    const { n, staggerMs } = this.cfg;
    for (let started = 0; started < n;) {
      const due = staggerMs > 0 ? Math.ceil((n * (performance.now() - t0)) / staggerMs) : n;
      const end = Math.min(n, Math.max(started + 1, due));
      for (; started < end; started++) this.startLeg(started);
      if (started < n) await sleep(5);
    }
  }

  /** Waits (at most the connect timeout from t0) until every stream connected or failed; returns the ms since t0. */
  async awaitConnected(t0: number): Promise<number> {
    const deadline = t0 + this.cfg.connectTimeoutMs;
    while (this.connected + this.connectErrors < this.cfg.n && performance.now() < deadline) await sleep(20);
    return Math.round(performance.now() - t0);
  }

  /**
   * Tells the sink (through the parent) when each leg's first frame was due, on the system-wide
   * monotonic clock, so it can time arrivals: message k of leg i was due at firstDue[i] + k x 20 ms.
   */
  sendLegs(): void {
    const hrOffsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
    send({ type: 'legs', firstDueHrMs: this.legs.map((l) => (l.firstDue >= 0 ? l.firstDue + hrOffsetMs : -1)) });
  }

  /** No more frames, then every stream flushes and closes; waits for them (20 s at most) and hangs up. */
  async stop(): Promise<{ streamsFinished: number; stopMs: number }> {
    const t0 = performance.now();
    for (const leg of this.legs) leg.unclock();
    let streamsFinished = 0;
    const finished: Array<Promise<void>> = [];
    for (const leg of this.legs) {
      const stream = leg.channel.isHungUp ? undefined : this.runtime.streams.find(leg.channel);
      stream?.stop();
      if (leg.stream) finished.push(leg.stream.finished.then(() => { streamsFinished++; }));
    }
    await Promise.race([Promise.all(finished), sleep(20000)]);
    for (const leg of this.legs) leg.channel.hangup('NORMAL_CLEARING');
    return { streamsFinished, stopMs: Math.round(performance.now() - t0) };
  }
}

function memoryFields(before: ProcessMemory, after: ProcessMemory) {
  return {
    rssBefore: before.rss, rssAfter: after.rss, heapUsedBefore: before.heapUsed, heapUsedAfter: after.heapUsed,
    externalBefore: before.external, externalAfter: after.external, arrayBuffersBefore: before.arrayBuffers, arrayBuffersAfter: after.arrayBuffers,
  };
}

async function main(): Promise<void> {
  const cfg = parseConfig(process.argv.slice(2));
  setLogLevel('warning'); // no per-stream "connecting"/"connected" lines
  const tempDir = mkdtempSync(join(tmpdir(), 'audio-stream-bench-'));
  const run = new StreamsRun(cfg, tempDir);
  const metrics = run.runtime.streams.metrics;

  await sleep(50);
  const before = memoryAfterGc(); // baseline: everything loaded and the shared file made, no channel yet

  const t0 = performance.now();
  await run.rampUp(t0);
  send({ type: 'phase', phase: 'started', ms: Math.round(performance.now() - t0) });
  const connectMs = await run.awaitConnected(t0);
  send({ type: 'phase', phase: 'connected', connected: run.connected, connectErrors: run.connectErrors, ms: connectMs });
  run.sendLegs();

  await sleep(cfg.warmupSeconds * 1000);
  const after = memoryAfterGc();
  await sleep(300); // let the clock catch up after the gc pause before measuring

  const meter = new WindowMeter({ metrics, mediaClock: run.runtime.mediaClock }, run.lateness);
  const fed0 = run.fedTotal;
  meter.start();
  await sleep(cfg.seconds * 1000);
  const window = meter.end();
  const windowFed = run.fedTotal - fed0;

  const { streamsFinished, stopMs } = await run.stop();
  // messagesSent also counts the one metadata text each opened stream sent first.
  const texts = run.legs.filter((l) => l.stream && l.stream.stats.messagesSent > 0).length;
  const result: WorkerResult = {
    ...window,
    n: cfg.n,
    deflate: cfg.deflate,
    connected: run.connected,
    connectErrors: run.connectErrors,
    connectMs,
    windowFed,
    windowIdealFrames: Math.round((cfg.n * window.windowSeconds * 1000) / FRAME_MS),
    totalFed: run.fedTotal,
    totalSkipped: run.legs.reduce((n, l) => n + l.skipped, 0),
    totalSent: metrics.messagesSent - texts,
    totalDropped: metrics.messagesDropped,
    streamsFinished,
    stopMs,
    ...memoryFields(before, after),
    gcAvailable,
    errorsByCode: Object.fromEntries(metrics.errorsByCode),
  };
  send({ type: 'result', result });
  rmSync(tempDir, { recursive: true, force: true });
  // Leave through a normal exit so --cpu-prof writes its profile.
  setTimeout(() => process.exit(0), 100);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench streams worker: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
