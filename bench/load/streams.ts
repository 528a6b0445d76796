// The streams benchmark (part of `npm run bench`, bench/run.ts runs it): how many concurrent
// streams one engine process carries, without SIP or RTP. N file channels (8 kHz stereo
// speech-like audio) streamed as stereo 16 kHz in 20 ms messages to a WebSocket sink in another
// process, with deflate off and on. For each configuration it prints CPU seconds per
// stream-second, CPU share of one core, messages lost, p50/p99 due-to-send delay and RSS per
// stream, and writes everything to bench/results/streams-<date>.json. Every configuration runs in
// a fresh process (bench/load/streams-worker.ts) against a fresh sink (bench/load/sink.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { WorkerResult } from './streams-worker.ts';
import type { SinkTotals } from './sink.ts';
import { summariseProfile, type ProfileSummary } from './profile.ts';
import type { Calibration } from './calibrate.ts';
import {
  ROOT, RESULTS_DIR, QUIET_CORES, canPin, launch, loadScript, nextMessage, exited, round, printProfile, takeMainProfile,
  startSink, settledSinkTotals, endConfiguration, WindowProbe, otherCores, captureStderr, formatTable, ms, machineFacts,
  type Pinning,
} from './harness.ts';

export const DEFAULT_STREAMS_NS = [250, 500, 1000, 2000];
/** Deflate on at this many streams or more gets a shorter window (it may not keep up; keeps the bench short). */
export const DEFLATE_HEAVY_N = 2000;
export const DEFLATE_HEAVY_MAX_SECONDS = 5;

/** How long a configuration waits for all its streams to connect before measuring anyway (overloaded runs connect slowly). */
const CONNECT_WAIT_MS = 20000;

/** The issue's goal for one process on one core. */
const GOAL = { streams: 1000, cpuShareMax: 1, p99MsMax: 5, rssKiBPerStreamMax: 200 };

/** What the streams benchmark runs. */
export interface StreamsOptions {
  ns: number[];
  seconds: number;
  deflate: 'off' | 'on' | 'both';
  warmup: number;
  profile: Array<{ n: number; deflate: boolean }>;
  pin: 'split' | 'none';
  quietWaitSeconds: number;
}

interface Config {
  n: number;
  deflate: boolean;
  seconds: number;
}

function configs(opts: StreamsOptions): Config[] {
  const modes = opts.deflate === 'both' ? [false, true] : [opts.deflate === 'on'];
  const out: Config[] = [];
  for (const deflate of modes) {
    for (const n of opts.ns) {
      const seconds = deflate && n >= DEFLATE_HEAVY_N ? Math.min(opts.seconds, DEFLATE_HEAVY_MAX_SECONDS) : opts.seconds;
      out.push({ n, deflate, seconds });
    }
  }
  return out;
}

/** One row of the table, with everything it was computed from. */
interface Row {
  deflate: boolean;
  n: number;
  windowSeconds: number;
  connected: number;
  deflateNegotiated: number;
  cpuSecondsPerStreamSecond: number;
  cpuShare: number;
  eventLoopUtilisation: number;
  messagesExpected: number;
  messagesReceived: number;
  messagesLost: number;
  messagesDropped: number;
  ticksSkipped: number;
  windowSentShare: number;
  /** Audio messages the sink received during the window / N x window / 20 ms. */
  windowDeliveredShare: number;
  arriveP50Ms: number;
  arriveP99Ms: number;
  arriveMaxMs: number;
  delayP50Ms: number;
  delayP99Ms: number;
  delayP999Ms: number;
  delayMaxMs: number;
  clockLateP99Ms: number;
  rssKiBPerStream: number;
  heapKiBPerStream: number;
  externalKiBPerStream: number;
  sinkCpuShare: number;
  bytesPerMessage: number;
  meetsGoal: boolean;
  goalMisses: string[];
  profiled: boolean;
  /** Share of the window the engine's main thread was runnable but waiting for its CPU (taken by someone else). */
  mainThreadWaitShare: number;
  /** Cores used by everything but the engine and the sink during the window (other processes, kernel). */
  otherCores: number;
  /** Whether other load disturbed the run (main thread waited > 10% of the window for its CPU). */
  contended: boolean;
  pinning: Pinning | 'none';
  worker: WorkerResult;
  sink: SinkTotals;
  workerStderr: string[];
}


/** One configuration: a fresh sink and a fresh measured process; its row. */
async function runConfig(cfg: Config, warmup: number, label: string, pin: Pinning | undefined, profileDir?: string): Promise<Row> {
  const { child: sink, port } = await startSink(pin?.sink);
  let worker: ChildProcess | undefined;
  try {
    const url = `ws://127.0.0.1:${port}/bench`;
    const execArgv = ['--expose-gc', '--import', 'tsx'];
    if (profileDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', profileDir);
    worker = launch(loadScript('streams-worker.ts'), [
      '--n', String(cfg.n), '--seconds', String(cfg.seconds), '--deflate', cfg.deflate ? 'on' : 'off',
      '--url', url, '--warmup', String(warmup), '--connect-timeout', String(CONNECT_WAIT_MS),
    ], execArgv, pin?.worker, ['ignore', 'inherit', 'pipe', 'ipc'], { ...process.env, AUDIO_STREAM_LOG_LEVEL: 'warning' });
    const stderrLines: string[] = [];
    const endStderr = captureStderr(worker, 'worker', stderrLines);
    const probe = new WindowProbe(sink);
    worker.on('message', (msg: { type?: string; phase?: string; connected?: number; ms?: number; connectErrors?: number; firstDueHrMs?: number[] }) => {
      if (msg.type === 'legs') {
        sink.send({ type: 'legs', firstDueHrMs: msg.firstDueHrMs });
      } else if (msg.type === 'phase' && msg.phase === 'connected') {
        process.stdout.write(`${label}: ${msg.connected}/${cfg.n} connected in ${((msg.ms ?? 0) / 1000).toFixed(1)} s` +
          `${msg.connectErrors ? `, ${msg.connectErrors} errors` : ''}; warm-up ${warmup} s, measuring ${cfg.seconds} s` +
          `${pin ? ` (engine on CPU ${pin.worker ?? 'any'}, sink on CPU ${pin.sink})` : ''}\n`);
      } else if (msg.type === 'phase' && msg.phase === 'window-start') {
        probe.start();
      } else if (msg.type === 'phase' && msg.phase === 'window-end') {
        probe.end();
      }
    });
    const budgetMs = CONNECT_WAIT_MS + 5000 + warmup * 1000 + cfg.seconds * 1000 + 40000;
    const { result } = await nextMessage<{ result: WorkerResult }>(worker, 'result', budgetMs);
    const sinkTotals = await settledSinkTotals(sink);
    const { sinkCpuShare, busy } = await probe.result();
    await exited(worker, 15000);
    endStderr();
    const row = makeRow(cfg, result, sinkTotals, sinkCpuShare, stderrLines, profileDir !== undefined);
    row.otherCores = otherCores(busy, row.cpuShare, sinkCpuShare);
    row.pinning = pin ?? 'none';
    return row;
  } finally {
    await endConfiguration(sink, [worker]);
  }
}

function makeRow(cfg: Config, w: WorkerResult, sink: SinkTotals, sinkCpuShare: number, stderr: string[], profiled: boolean): Row {
  const cpuS = (w.cpuUserUs + w.cpuSystemUs) / 1e6;
  const cpuShare = cpuS / w.windowSeconds;
  const lost = w.totalFed - sink.binaryMessages;
  const rssKiB = (w.rssAfter - w.rssBefore) / w.n / 1024;
  const row: Row = {
    deflate: cfg.deflate,
    n: cfg.n,
    windowSeconds: round(w.windowSeconds, 3),
    connected: w.connected,
    deflateNegotiated: sink.deflated,
    cpuSecondsPerStreamSecond: cpuS / (w.n * w.windowSeconds),
    cpuShare: round(cpuShare, 3),
    eventLoopUtilisation: round(w.elu, 3),
    messagesExpected: w.totalFed,
    messagesReceived: sink.binaryMessages,
    messagesLost: lost,
    messagesDropped: w.totalDropped,
    ticksSkipped: w.totalSkipped,
    windowSentShare: w.windowIdealFrames > 0 ? round(w.windowSent / w.windowIdealFrames, 4) : 0,
    windowDeliveredShare: w.windowIdealFrames > 0 ? round(sink.windowBinaryMessages / w.windowIdealFrames, 4) : 0,
    arriveP50Ms: round(sink.arriveP50Ms, 2),
    arriveP99Ms: round(sink.arriveP99Ms, 2),
    arriveMaxMs: round(sink.arriveMaxMs, 1),
    delayP50Ms: round(w.delayP50, 2),
    delayP99Ms: round(w.delayP99, 2),
    delayP999Ms: round(w.delayP999, 2),
    delayMaxMs: round(w.delayMax, 2),
    clockLateP99Ms: round(w.clockLateP99, 2),
    rssKiBPerStream: round(rssKiB, 1),
    heapKiBPerStream: round((w.heapUsedAfter - w.heapUsedBefore) / w.n / 1024, 1),
    externalKiBPerStream: round((w.externalAfter - w.externalBefore) / w.n / 1024, 1),
    sinkCpuShare: round(sinkCpuShare, 3),
    bytesPerMessage: sink.binaryMessages > 0 ? round(sink.binaryBytes / sink.binaryMessages, 1) : 0,
    meetsGoal: false,
    goalMisses: [],
    profiled,
    mainThreadWaitShare: w.mainThreadRunQueueWaitS !== undefined ? round(w.mainThreadRunQueueWaitS / w.windowSeconds, 3) : NaN,
    otherCores: NaN,
    contended: w.mainThreadRunQueueWaitS !== undefined && w.mainThreadRunQueueWaitS / w.windowSeconds > 0.1,
    pinning: 'none',
    worker: w,
    sink,
    workerStderr: stderr,
  };
  const misses: string[] = [];
  if (w.connected < w.n) misses.push(`${w.n - w.connected} not connected`);
  if (cpuShare > GOAL.cpuShareMax) misses.push(`needs ${cpuShare.toFixed(2)} cores`);
  if (lost !== 0) misses.push(`${lost} lost`);
  if (w.totalDropped !== 0) misses.push(`${w.totalDropped} dropped`);
  if (w.totalSkipped !== 0) misses.push(`${w.totalSkipped} ticks skipped`);
  if (w.delayP99 >= GOAL.p99MsMax) misses.push(`p99 ${ms(w.delayP99)} ms`);
  if (rssKiB >= GOAL.rssKiBPerStreamMax) misses.push(`${rssKiB.toFixed(0)} KiB/stream`);
  row.goalMisses = misses;
  row.meetsGoal = misses.length === 0;
  return row;
}

function table(rows: Row[]): string {
  const head = ['deflate', 'N', 'conn s', 'CPU s/stream-s', 'CPU share', 'loop busy', 'expected', 'received', 'lost', 'dropped',
    'skipped', 'p50 ms', 'p99 ms', 'max ms', 'deliv', 'arr p50', 'arr p99', 'RSS KiB/strm', 'sink CPU', 'wait', 'other', 'goal'];
  const body = rows.map((r) => [
    r.deflate ? 'on' : 'off',
    String(r.n),
    `${(r.worker.connectMs / 1000).toFixed(1)}${r.connected < r.n ? `(${r.connected})` : ''}`,
    r.cpuSecondsPerStreamSecond.toExponential(2),
    `${(r.cpuShare * 100).toFixed(1)}%`,
    `${(r.eventLoopUtilisation * 100).toFixed(1)}%`,
    String(r.messagesExpected),
    String(r.messagesReceived),
    String(r.messagesLost),
    String(r.messagesDropped),
    String(r.ticksSkipped),
    ms(r.delayP50Ms),
    ms(r.delayP99Ms),
    r.delayMaxMs.toFixed(1),
    `${(r.windowDeliveredShare * 100).toFixed(1)}%`,
    ms(r.arriveP50Ms),
    ms(r.arriveP99Ms),
    r.rssKiBPerStream.toFixed(1),
    Number.isFinite(r.sinkCpuShare) ? `${(r.sinkCpuShare * 100).toFixed(0)}%` : '?',
    Number.isFinite(r.mainThreadWaitShare) ? `${(r.mainThreadWaitShare * 100).toFixed(0)}%${r.contended ? '!' : ''}` : '?',
    Number.isFinite(r.otherCores) ? r.otherCores.toFixed(2) : '?',
    r.meetsGoal ? 'yes' : `no: ${r.goalMisses.join(', ')}`,
  ]);
  return formatTable(head, body, 2);
}



type PinFor = (label: string) => Promise<Pinning | undefined>;

interface StreamsProfile {
  n: number;
  deflate: boolean;
  file: string | undefined;
  row: Row | undefined;
  summary: ProfileSummary | undefined;
}

/** The profiled runs: the worker under --cpu-prof, only the sink pinned (V8's sampling thread needs a core). */
async function profileStreams(opts: StreamsOptions, stamp: string, pinFor: PinFor): Promise<StreamsProfile[]> {
  const profiles: StreamsProfile[] = [];
  for (const p of opts.profile) {
    const cfg: Config = { n: p.n, deflate: p.deflate, seconds: opts.seconds };
    const name = `cpu-${stamp}-n${p.n}-deflate-${p.deflate ? 'on' : 'off'}.cpuprofile.json`; // .json: git-ignored with the results
    const label = `[profile] deflate ${p.deflate ? 'on ' : 'off'} N=${p.n}`;
    try {
      const dir = mkdtempSync(join(tmpdir(), 'audio-stream-bench-prof-'));
      const pin = await pinFor(label);
      const row = await runConfig(cfg, opts.warmup, label, pin ? { worker: undefined, sink: pin.sink } : undefined, dir);
      const file = takeMainProfile(dir, join(RESULTS_DIR, name));
      const summary = file
        ? summariseProfile(file, ROOT, { fromUs: row.worker.windowStartHrUs, toUs: row.worker.windowEndHrUs })
        : undefined;
      profiles.push({ n: p.n, deflate: p.deflate, file: file ? join('bench', 'results', file.split('/').pop()!) : undefined, row, summary });
    } catch (err) {
      process.stderr.write(`${label}: failed: ${(err as Error).message}\n`);
    }
  }
  return profiles;
}

const LEGEND = [
  'CPU s/stream-s: CPU (user+system, all threads) of the streaming process per second of one stream; CPU share: of one core.',
  'loop busy: event-loop utilisation of the main thread. lost = frames fed - audio messages the sink received (whole run);',
  'dropped = messages the engine dropped (not connected / slow server); skipped = ticks the clock skipped (fell behind > 200 ms).',
  'p50/p99/max: frame due time -> the engine hands the message to ws (StreamMetrics.sendDelay), during the window.',
  'deliv: audio messages the sink received during the window / (N x window / 20 ms). arr p50/p99: due time -> arrival at',
  'the sink (end to end: includes ws deflate queueing, socket buffers and the sink\'s own scheduling).',
  'RSS KiB/strm: (RSS after warm-up - RSS before any stream, both after gc) / N. sink CPU: of one core, during the window.',
  'wait: share of the window the engine\'s main thread was runnable but its CPU was taken (! = over 10%: disturbed by',
  'other load, rerun on a quiet machine). other: cores used by everything else (other processes, kernel) meanwhile.',
  `Goal: ${GOAL.streams} streams on one core (CPU share < 100%), nothing lost, p99 < ${GOAL.p99MsMax} ms, RSS < ${GOAL.rssKiBPerStreamMax} KiB per stream.`,
];

/** Capacity, disturbed rows and the goal, then where the time went in the profiled runs, as lines. */
function summaryLines(rows: Row[], profiles: StreamsProfile[], opts: StreamsOptions): string[] {
  const out: string[] = [];
  const heavy = rows.find((r) => r.deflate && r.n >= DEFLATE_HEAVY_N && r.windowSeconds < opts.seconds - 0.5);
  if (heavy) out.push(`Deflate on at N>=${DEFLATE_HEAVY_N} measured over ${DEFLATE_HEAVY_MAX_SECONDS} s only (keeps the bench short).`);
  for (const deflate of [false, true]) {
    // Capacity from the largest N that kept up (no skipped ticks, nothing dropped): one core / CPU per stream.
    const kept = rows.filter((r) => r.deflate === deflate && r.ticksSkipped === 0 && r.messagesDropped === 0 && r.cpuShare < 0.95)
      .sort((a, b) => b.n - a.n)[0];
    if (kept) {
      const perMessageUs = (kept.cpuSecondsPerStreamSecond * 1e6) / 50;
      out.push(`Capacity, deflate ${deflate ? 'on' : 'off'}: ${perMessageUs.toFixed(1)} us CPU per 20 ms message at N=${kept.n} ` +
        `-> about ${Math.floor(1 / kept.cpuSecondsPerStreamSecond)} streams per core on this machine (CPU only, before any latency margin).`);
    }
  }
  const disturbed = rows.filter((r) => r.contended);
  if (disturbed.length) {
    out.push(`${disturbed.length} of ${rows.length} rows were disturbed by other load (wait > 10%: ${disturbed.map((r) => `${r.deflate ? 'on' : 'off'}/${r.n}`).join(', ')}); ` +
      'their latency and skip counts overstate the engine\'s own cost.');
  }
  const goalRow = rows.find((r) => !r.deflate && r.n === GOAL.streams);
  if (goalRow) out.push(`Goal at N=${GOAL.streams}, deflate off: ${goalRow.meetsGoal ? 'MET' : `NOT MET (${goalRow.goalMisses.join(', ')})`}.`);
  for (const p of profiles) {
    if (!p.summary) continue;
    out.push('');
    out.push(printProfile(`N=${p.n}, deflate ${p.deflate ? 'on' : 'off'}, profile ${p.file ?? '?'}`, p.summary));
    if (p.row) {
      out.push(`  (profile busy ${(p.summary.busyMs / 1000).toFixed(1)} s vs event loop busy ${(p.row.eventLoopUtilisation * p.row.windowSeconds).toFixed(1)} s` +
        ` and CPU ${(p.row.cpuShare * p.row.windowSeconds).toFixed(1)} s in the window)`);
      out.push(`  (the profiled run itself: CPU share ${(p.row.cpuShare * 100).toFixed(1)}%, p99 ${p.row.delayP99Ms} ms, lost ${p.row.messagesLost}` +
        ` - not in the table: the profiler adds overhead)`);
    }
  }
  return out;
}

/** What a benchmark hands back to bench/run.ts: the lines to print and the JSON it wrote. */
export interface StreamsReport {
  lines: string[];
  jsonPath: string;
}

/** Runs every streams configuration, then the profiled ones; writes the JSON and returns the printout. */
export async function runStreamsBench(opts: StreamsOptions, stamp: string, argv: string[], pinFor: PinFor, quietBudget: { ms: number },
  calibration: Calibration | undefined): Promise<StreamsReport> {
  const startedAt = new Date();
  const list = configs(opts);
  const rows: Row[] = [];
  for (let i = 0; i < list.length; i++) {
    const cfg = list[i]!;
    const label = `[${i + 1}/${list.length}] deflate ${cfg.deflate ? 'on ' : 'off'} N=${cfg.n}`;
    try {
      rows.push(await runConfig(cfg, opts.warmup, label, await pinFor(label)));
    } catch (err) {
      process.stderr.write(`${label}: failed: ${(err as Error).message}\n`);
    }
  }
  const profiles = await profileStreams(opts, stamp, pinFor);
  const jsonName = `streams-${stamp}.json`;
  const report = {
    benchmark: 'audio-stream: N file channels streaming stereo 16 kHz (20 ms messages) to a WebSocket sink in another process',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    argv,
    machine: machineFacts(),
    settings: {
      source: '8 kHz stereo speech-like signal (6 s, looped; shared by all channels, each from its own offset)',
      stream: 'uuid_audio_stream start <url> stereo 16k, 20 ms messages (STREAM_BUFFER_SIZE default)',
      seconds: opts.seconds, warmupSeconds: opts.warmup, staggerMs: 1000,
      pinning: opts.pin === 'split' && canPin ? 'engine on one CPU, sink on another (per row: rows[].pinning)' : 'none',
      quietWait: { maxSecondsInAll: opts.quietWaitSeconds, otherLoadAtMostCores: QUIET_CORES, leftSeconds: Math.round(quietBudget.ms / 1000) },
      deflateHeavy: { minN: DEFLATE_HEAVY_N, maxSeconds: DEFLATE_HEAVY_MAX_SECONDS },
    },
    goal: GOAL,
    calibration,
    rows,
    profiles,
  };
  writeFileSync(join(RESULTS_DIR, jsonName), `${JSON.stringify(report, null, 2)}\n`);
  const lines = ['', table(rows), '', ...LEGEND, ...summaryLines(rows, profiles, opts)];
  return { lines, jsonPath: join('bench', 'results', jsonName) };
}

/** The number of configurations a run of these options makes (for the opening line). */
export function streamsConfigCount(opts: StreamsOptions): number {
  return configs(opts).length;
}
