// `npm run bench`: two benchmarks, both by default (--streams / --calls pick one).
//
// Streams: N concurrent file channels (8 kHz stereo speech-like audio) streamed as stereo 16 kHz in
// 20 ms messages to a WebSocket sink in another process, with deflate off and on. For each
// configuration it prints CPU seconds per stream-second, CPU share of one core, messages lost,
// p50/p99 due-to-send delay and RSS per stream, and writes everything to
// bench/results/streams-<date>.json. Every configuration runs in a fresh process (bench/worker.ts)
// against a fresh sink (bench/sink.ts); this process only orchestrates.
//
// Calls (bench/calls.ts): N concurrent PCMU calls over loopback from a load generator process, each
// answered by the SIP/RTP service and streamed mono 16k to the sink; the largest N held with nothing
// lost, CPU and RSS per call; bench/results/calls-<date>.json.
//
//   npm run bench -- [--streams | --calls] [--n 250,500,1000,2000] [--seconds 10] [--deflate off|on|both]
//                    [--calls-n 100,250,500,750,1000] [--calls-seconds 10] [--calls-rate 100] [--no-refine]
//                    [--quick] [--warmup 2] [--profile [N:off|on,calls[:N],...]]
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, platform, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { WorkerResult } from './worker.ts';
import type { SinkTotals } from './sink.ts';
import { summariseProfile, type ProfileSummary } from './profile.ts';
import type { Calibration } from './calibrate.ts';
import { runCallsBench, DEFAULT_CALLS_NS, QUICK_CALLS_NS, type CallsOptions } from './calls.ts';
import {
  ROOT, RESULTS_DIR, QUIET_CORES, canPin, choosePinning, cpuTimes, coresBusy, waitForQuiet, launch, nextMessage, ask, exited,
  round, printProfile, takeMainProfile, type Pinning, type SinkCpu,
} from './harness.ts';

const DEFAULT_NS = [250, 500, 1000, 2000];
/** Deflate on at this many streams or more gets a shorter window (it may not keep up; keeps the bench short). */
const DEFLATE_HEAVY_N = 2000;
const DEFLATE_HEAVY_MAX_SECONDS = 5;

/** How long a configuration waits for all its streams to connect before measuring anyway (overloaded runs connect slowly). */
const CONNECT_WAIT_MS = 20000;

/** The issue's goal for one process on one core. */
const GOAL = { streams: 1000, cpuShareMax: 1, p99MsMax: 5, rssKiBPerStreamMax: 200 };

interface Config {
  n: number;
  deflate: boolean;
  seconds: number;
}

interface Options {
  ns: number[];
  seconds: number;
  deflate: 'off' | 'on' | 'both';
  warmup: number;
  profile: Array<{ n: number; deflate: boolean }>;
  quick: boolean;
  pin: 'split' | 'none';
  quietWaitSeconds: number;
  /** Which benchmarks run (both unless --streams or --calls picks). */
  streams: boolean;
  calls: boolean;
  callsOptions: CallsOptions;
}

const HELP = `Usage: npm run bench -- [options]

  --streams           run only the streams benchmark (file channels streaming stereo 16k)
  --calls             run only the calls benchmark (SIP calls streaming mono 16k); default: both
  --n <list>          stream counts, comma-separated (default ${DEFAULT_NS.join(',')})
  --seconds <s>       measuring window per configuration (default 10; deflate on at N>=${DEFLATE_HEAVY_N} is capped at ${DEFLATE_HEAVY_MAX_SECONDS})
  --deflate <mode>    off | on | both (default both)
  --warmup <s>        warm-up after all streams connected / all calls up (default 2)
  --calls-n <list>    call counts, tried upward until one does not hold (default ${DEFAULT_CALLS_NS.join(',')})
  --calls-seconds <s> measuring window of the calls benchmark (default: --seconds)
  --calls-rate <r>    calls set up per second (default 100)
  --no-refine         calls: do not try the N halfway between the last N held and the first not held
  --quick             streams N=250,1000, deflate off; calls N=${QUICK_CALLS_NS.join(',')}; 5 s windows
  --pin split|none    split (default): the measured process on one CPU (the least busy) and the sink
                      on another (taskset), so the sink never runs on the engine's core; none: no
                      pinning. Profiled runs pin only the sink (V8's sampling thread needs a core).
  --quiet-wait <s>    before each configuration, wait while other processes keep the machine busy,
                      at most this long over the whole bench (default 60)
  --profile [specs]   also run configurations under node --cpu-prof and summarise where the time
                      goes; specs like 1000:off,1000:on for streams, calls or calls:<N> for calls
                      (calls alone: the largest N held); default 1000:off and calls
  -h, --help          this text`;

function parseOptions(argv: string[]): Options {
  const opts: Options = {
    ns: DEFAULT_NS, seconds: 10, deflate: 'both', warmup: 2, profile: [], quick: false, pin: 'split', quietWaitSeconds: 60,
    streams: true, calls: true,
    callsOptions: { ns: DEFAULT_CALLS_NS, seconds: 10, warmup: 2, rate: 100, refine: true, retry: true, profile: [] },
  };
  let nGiven = false;
  let secondsGiven = false;
  let deflateGiven = false;
  let only: 'streams' | 'calls' | undefined;
  let callsNGiven = false;
  let callsSeconds: number | undefined;
  let profileGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--n':
        opts.ns = value().split(',').map((s) => {
          const n = Number(s.trim());
          if (!Number.isInteger(n) || n < 1 || n > 20000) throw new Error(`bad stream count ${s}`);
          return n;
        });
        nGiven = true;
        break;
      case '--seconds':
        opts.seconds = Number(value());
        if (!Number.isFinite(opts.seconds) || opts.seconds < 1 || opts.seconds > 600) throw new Error('--seconds must be 1..600');
        secondsGiven = true;
        break;
      case '--deflate': {
        const v = value();
        if (v !== 'off' && v !== 'on' && v !== 'both') throw new Error('--deflate must be off, on or both');
        opts.deflate = v;
        deflateGiven = true;
        break;
      }
      case '--warmup':
        opts.warmup = Number(value());
        if (!Number.isFinite(opts.warmup) || opts.warmup < 0 || opts.warmup > 60) throw new Error('--warmup must be 0..60');
        break;
      case '--quick':
        opts.quick = true;
        break;
      case '--streams':
      case '--calls':
        if (only && only !== a.slice(2)) throw new Error('--streams and --calls together: give neither to run both');
        only = a.slice(2) as 'streams' | 'calls';
        break;
      case '--calls-n':
        opts.callsOptions.ns = value().split(',').map((s) => {
          const n = Number(s.trim());
          if (!Number.isInteger(n) || n < 1 || n > 4000) throw new Error(`bad call count ${s} (1..4000: the service's RTP range holds 5000 ports)`);
          return n;
        });
        callsNGiven = true;
        break;
      case '--calls-seconds':
        callsSeconds = Number(value());
        if (!Number.isFinite(callsSeconds) || callsSeconds < 1 || callsSeconds > 600) throw new Error('--calls-seconds must be 1..600');
        break;
      case '--calls-rate':
        opts.callsOptions.rate = Number(value());
        if (!Number.isFinite(opts.callsOptions.rate) || opts.callsOptions.rate < 1 || opts.callsOptions.rate > 2000) throw new Error('--calls-rate must be 1..2000');
        break;
      case '--no-refine':
        opts.callsOptions.refine = false;
        break;
      case '--quiet-wait':
        opts.quietWaitSeconds = Number(value());
        if (!Number.isFinite(opts.quietWaitSeconds) || opts.quietWaitSeconds < 0) throw new Error('--quiet-wait must be >= 0');
        break;
      case '--pin': {
        const v = value();
        if (v !== 'split' && v !== 'none') throw new Error('--pin must be split or none');
        opts.pin = v;
        break;
      }
      case '--profile': {
        const next = argv[i + 1];
        const item = '(\\d+(:(on|off))?|calls(:\\d+)?)';
        const specs = next && new RegExp(`^${item}(,${item})*$`).test(next) ? (i++, next) : '1000:off,calls';
        profileGiven = true;
        opts.profile = [];
        for (const s of specs.split(',')) {
          const [a0, a1] = s.split(':');
          if (a0 === 'calls') opts.callsOptions.profile.push(a1 === undefined ? 'held' : Number(a1));
          else opts.profile.push({ n: Number(a0), deflate: a1 === 'on' });
        }
        break;
      }
      case '-h':
      case '--help':
        process.stdout.write(`${HELP}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  if (opts.quick) {
    if (!nGiven) opts.ns = [250, 1000];
    if (!secondsGiven) opts.seconds = 5;
    if (!deflateGiven) opts.deflate = 'off';
    if (!callsNGiven) opts.callsOptions.ns = QUICK_CALLS_NS;
    opts.callsOptions.refine = false;
  }
  opts.streams = only !== 'calls';
  opts.calls = only !== 'streams';
  opts.callsOptions.seconds = callsSeconds ?? opts.seconds;
  opts.callsOptions.warmup = opts.warmup;
  // A bare --profile with one benchmark picked profiles that one only.
  if (profileGiven && !opts.streams) opts.profile = [];
  if (profileGiven && !opts.calls) opts.callsOptions.profile = [];
  return opts;
}

function configs(opts: Options): Config[] {
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


async function runConfig(cfg: Config, warmup: number, label: string, pin: Pinning | undefined, profileDir?: string): Promise<Row> {
  const sink = launch(join(ROOT, 'bench', 'sink.ts'), [], ['--import', 'tsx'], pin?.sink, ['ignore', 'inherit', 'inherit', 'ipc']);
  let worker: ChildProcess | undefined;
  try {
    const { port } = await nextMessage<{ port: number }>(sink, 'listening', 20000);
    const url = `ws://127.0.0.1:${port}/bench`;
    const execArgv = ['--expose-gc', '--import', 'tsx'];
    if (profileDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', profileDir);
    worker = launch(join(ROOT, 'bench', 'worker.ts'), [
      '--n', String(cfg.n), '--seconds', String(cfg.seconds), '--deflate', cfg.deflate ? 'on' : 'off',
      '--url', url, '--warmup', String(warmup), '--connect-timeout', String(CONNECT_WAIT_MS),
    ], execArgv, pin?.worker, ['ignore', 'inherit', 'pipe', 'ipc'], { ...process.env, AUDIO_STREAM_LOG_LEVEL: 'warning' });
    const stderrLines: string[] = [];
    let partial = '';
    worker.stderr!.setEncoding('utf8');
    worker.stderr!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (stderrLines.length < 5) process.stderr.write(`    worker: ${line}\n`);
        stderrLines.push(line);
      }
    });
    let sinkCpu0: Promise<SinkCpu> | undefined;
    let sinkCpu1: Promise<SinkCpu> | undefined;
    let times0: ReturnType<typeof cpuTimes>;
    let times1: ReturnType<typeof cpuTimes>;
    worker.on('message', (msg: { type?: string; phase?: string; connected?: number; ms?: number; connectErrors?: number; firstDueHrMs?: number[] }) => {
      if (msg.type === 'legs') {
        sink.send({ type: 'legs', firstDueHrMs: msg.firstDueHrMs });
        return;
      }
      if (msg.type !== 'phase') return;
      if (msg.phase === 'connected') {
        process.stdout.write(`${label}: ${msg.connected}/${cfg.n} connected in ${((msg.ms ?? 0) / 1000).toFixed(1)} s` +
          `${msg.connectErrors ? `, ${msg.connectErrors} errors` : ''}; warm-up ${warmup} s, measuring ${cfg.seconds} s` +
          `${pin ? ` (engine on CPU ${pin.worker ?? 'any'}, sink on CPU ${pin.sink})` : ''}\n`);
      } else if (msg.phase === 'window-start') {
        sink.send({ type: 'window', on: true });
        times0 = cpuTimes();
        sinkCpu0 = ask<SinkCpu>(sink, 'cpu');
      } else if (msg.phase === 'window-end') {
        sink.send({ type: 'window', on: false });
        times1 = cpuTimes();
        sinkCpu1 = ask<SinkCpu>(sink, 'cpu');
      }
    });
    const budgetMs = CONNECT_WAIT_MS + 5000 + warmup * 1000 + cfg.seconds * 1000 + 40000;
    const { result } = await nextMessage<{ result: WorkerResult }>(worker, 'result', budgetMs);
    // Let the sink take in what is still in flight: every connection closed, or 5 s.
    let totals = await ask<SinkTotals & { type: string }>(sink, 'totals');
    for (const end = Date.now() + 5000; totals.open > 0 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 100));
      totals = await ask<SinkTotals & { type: string }>(sink, 'totals');
    }
    const { type: _type, ...sinkTotals } = totals;
    const c0 = sinkCpu0 ? await sinkCpu0 : undefined;
    const c1 = sinkCpu1 ? await sinkCpu1 : undefined;
    await exited(worker, 15000);
    if (partial) stderrLines.push(partial);
    if (stderrLines.length > 5) process.stderr.write(`    worker: ... ${stderrLines.length - 5} more stderr lines (in the JSON)\n`);
    const sinkCpuShare = c0 && c1 ? (c1.user + c1.system - c0.user - c0.system) / (c1.hr - c0.hr) : NaN;
    const busy = coresBusy(times0, times1);
    const row = makeRow(cfg, result, sinkTotals, sinkCpuShare, stderrLines, profileDir !== undefined);
    // Everything else the machine did meanwhile: all CPUs' busy time minus the engine's and the sink's.
    row.otherCores = busy ? round(Math.max(0, busy[0]! - row.cpuShare - (Number.isFinite(sinkCpuShare) ? sinkCpuShare : 0)), 2) : NaN;
    row.pinning = pin ?? 'none';
    return row;
  } finally {
    if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    if (sink.connected) sink.send({ type: 'exit' });
    await exited(sink, 5000);
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

/** The histogram tops out at 200 ms: show its overflow bucket as >200. */
function ms(v: number): string {
  return v >= 200 ? '>200' : v.toFixed(2);
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
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}


async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const list = opts.streams ? configs(opts) : [];
  const cpu = cpus();
  const pinText = opts.pin === 'split' && canPin ? 'engine pinned to one CPU, sink to another (taskset)' : 'no CPU pinning';
  const what = [
    opts.streams ? `streams: ${list.length} configuration(s), stereo 16 kHz, 20 ms messages, 8 kHz stereo source` : '',
    opts.calls ? `calls: N=${opts.callsOptions.ns.join(',')} upward, PCMU -> mono 16 kHz` : '',
  ].filter(Boolean).join('; ');
  process.stdout.write(`audio-stream bench: ${what}; ${cpu.length} CPU(s) ${cpu[0]?.model ?? ''}, node ${process.version}; ${pinText}\n`);
  const quietBudget = { ms: opts.quietWaitSeconds * 1000 };
  const pinFor = async (label: string) => choosePinning(opts.pin, (await waitForQuiet(quietBudget, label))?.slice(1));

  let calibration: (Calibration & { type: string }) | undefined;
  try {
    const pin = await pinFor('calibration');
    const child = launch(join(ROOT, 'bench', 'calibrate.ts'), ['3'], ['--import', 'tsx'], pin?.worker, ['ignore', 'inherit', 'inherit', 'ipc']);
    calibration = await nextMessage<Calibration & { type: string }>(child, 'calibration', 20000);
    await exited(child, 5000);
    process.stdout.write(`timing floor (idle media clock, 3 s): tick late p50 ${calibration.lateP50Ms.toFixed(2)} ms, ` +
      `p99 ${calibration.lateP99Ms.toFixed(2)} ms, max ${calibration.lateMaxMs.toFixed(1)} ms\n`);
  } catch (err) {
    process.stderr.write(`calibration failed: ${(err as Error).message}\n`);
  }

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

  const profiles: Array<{ n: number; deflate: boolean; file: string | undefined; row: Row | undefined; summary: ProfileSummary | undefined }> = [];
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

  if (opts.streams) {
    const out: string[] = [];
    out.push('');
    out.push(table(rows));
    out.push('');
    out.push('CPU s/stream-s: CPU (user+system, all threads) of the streaming process per second of one stream; CPU share: of one core.');
    out.push('loop busy: event-loop utilisation of the main thread. lost = frames fed - audio messages the sink received (whole run);');
    out.push('dropped = messages the engine dropped (not connected / slow server); skipped = ticks the clock skipped (fell behind > 200 ms).');
    out.push('p50/p99/max: frame due time -> the engine hands the message to ws (streamMetrics.sendDelay), during the window.');
    out.push('deliv: audio messages the sink received during the window / (N x window / 20 ms). arr p50/p99: due time -> arrival at');
    out.push('the sink (end to end: includes ws deflate queueing, socket buffers and the sink\'s own scheduling).');
    out.push('RSS KiB/strm: (RSS after warm-up - RSS before any stream, both after gc) / N. sink CPU: of one core, during the window.');
    out.push('wait: share of the window the engine\'s main thread was runnable but its CPU was taken (! = over 10%: disturbed by');
    out.push('other load, rerun on a quiet machine). other: cores used by everything else (other processes, kernel) meanwhile.');
    out.push(`Goal: ${GOAL.streams} streams on one core (CPU share < 100%), nothing lost, p99 < ${GOAL.p99MsMax} ms, RSS < ${GOAL.rssKiBPerStreamMax} KiB per stream.`);
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

    const jsonPath = join(RESULTS_DIR, `streams-${stamp}.json`);
    const report = {
      benchmark: 'audio-stream: N file channels streaming stereo 16 kHz (20 ms messages) to a WebSocket sink in another process',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      argv: process.argv.slice(2),
      machine: { cpus: cpu.length, model: cpu[0]?.model, totalMemMiB: Math.round(totalmem() / 2 ** 20), platform: platform(), release: release(), node: process.version, loadavgAtStart: loadavg() },
      settings: {
        source: '8 kHz stereo speech-like signal (6 s, looped; shared by all channels, each from its own offset)',
        stream: 'uuid_audio_stream start <url> stereo 16k, 20 ms messages (STREAM_BUFFER_SIZE default)',
        seconds: opts.seconds, warmupSeconds: opts.warmup, staggerMs: 1000,
        pinning: opts.pin === 'split' && canPin ? 'engine on one CPU, sink on another (per row: rows[].pinning)' : 'none',
        quietWait: { maxSecondsInAll: opts.quietWaitSeconds, otherLoadAtMostCores: QUIET_CORES, leftSeconds: Math.round(quietBudget.ms / 1000) },
        deflateHeavy: { minN: DEFLATE_HEAVY_N, maxSeconds: DEFLATE_HEAVY_MAX_SECONDS },
      },
      goal: GOAL,
      calibration: calibration ? { ...calibration, type: undefined } : undefined,
      rows,
      profiles,
    };
    writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    out.push('');
    out.push(`Results: ${join('bench', 'results', `streams-${stamp}.json`)}`);
    process.stdout.write(`${out.join('\n')}\n`);
  }

  if (opts.calls) {
    const calls = await runCallsBench(opts.callsOptions, stamp, process.argv.slice(2), pinFor, quietBudget);
    calls.lines.push('');
    calls.lines.push(`Results: ${calls.jsonPath}${opts.streams ? ` (streams: ${join('bench', 'results', `streams-${stamp}.json`)})` : ''}`);
    process.stdout.write(`${calls.lines.join('\n')}\n`);
  }
}

await main();
