// `npm run bench`: N concurrent file channels (8 kHz stereo speech-like audio) streamed as stereo
// 16 kHz in 20 ms messages to a WebSocket sink in another process, with deflate off and on.
// For each configuration it prints CPU seconds per stream-second, CPU share of one core, messages
// lost, p50/p99 due-to-send delay and RSS per stream, and writes everything to
// bench/results/streams-<date>.json. Every configuration runs in a fresh process (bench/worker.ts)
// against a fresh sink (bench/sink.ts); this process only orchestrates.
//
//   npm run bench -- [--n 250,500,1000,2000] [--seconds 10] [--deflate off|on|both] [--quick]
//                    [--warmup 2] [--profile [N:off|on,...]]
import { fork, spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem, platform, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerResult } from './worker.ts';
import type { SinkTotals } from './sink.ts';
import { summariseProfile, type ProfileSummary } from './profile.ts';
import type { Calibration } from './calibrate.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = join(ROOT, 'bench', 'results');
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
}

const HELP = `Usage: npm run bench -- [options]

  --n <list>          stream counts, comma-separated (default ${DEFAULT_NS.join(',')})
  --seconds <s>       measuring window per configuration (default 10; deflate on at N>=${DEFLATE_HEAVY_N} is capped at ${DEFLATE_HEAVY_MAX_SECONDS})
  --deflate <mode>    off | on | both (default both)
  --warmup <s>        warm-up after all streams connected (default 2)
  --quick             N=250,1000, deflate off, 5 s
  --pin split|none    split (default): the measured process on one CPU (the least busy) and the sink
                      on another (taskset), so the sink never runs on the engine's core; none: no
                      pinning. Profiled runs pin only the sink (V8's sampling thread needs a core).
  --quiet-wait <s>    before each configuration, wait while other processes keep the machine busy,
                      at most this long over the whole bench (default 60)
  --profile [specs]   also run configurations under node --cpu-prof and summarise where the time
                      goes; specs like 1000:off,1000:on (default 1000:off)
  -h, --help          this text`;

function parseOptions(argv: string[]): Options {
  const opts: Options = { ns: DEFAULT_NS, seconds: 10, deflate: 'both', warmup: 2, profile: [], quick: false, pin: 'split', quietWaitSeconds: 60 };
  let nGiven = false;
  let secondsGiven = false;
  let deflateGiven = false;
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
        const specs = next && /^\d+(:(on|off))?(,\d+(:(on|off))?)*$/.test(next) ? (i++, next) : '1000:off';
        opts.profile = specs.split(',').map((s) => {
          const [n, d] = s.split(':');
          return { n: Number(n), deflate: d === 'on' };
        });
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
  }
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

/** CPU lists for taskset: the measured process and the sink; undefined when not pinning. */
interface Pinning {
  /** undefined: the measured process may run anywhere (profiled runs: V8's sampler thread must not share its core). */
  worker: string | undefined;
  sink: string | undefined;
}

const canPin = platform() === 'linux' && availableParallelism() >= 2 && spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;

/**
 * With 2+ CPUs and taskset: the measured process on exactly one CPU (the goal's "one core"; its GC
 * and zlib threads share it), the least busy one right now, and the sink on the next least busy.
 * Without this, every socket write wakes the sink on the writer's CPU (the scheduler's wake-affine
 * placement) and it preempts the engine.
 */
function choosePinning(mode: Options['pin'], perCpuLoad: number[] | undefined): Pinning | undefined {
  if (mode === 'none' || !canPin) return undefined;
  const n = availableParallelism();
  const load = perCpuLoad && perCpuLoad.length === n ? perCpuLoad : Array.from({ length: n }, () => 0);
  const order = load.map((l, cpu) => ({ l, cpu })).sort((x, y) => x.l - y.l || x.cpu - y.cpu).map((x) => x.cpu);
  return { worker: String(order[0]), sink: String(order[1]) };
}

/** Busy and total jiffies from /proc/stat: [all CPUs, cpu0, cpu1, ...]; undefined off Linux. */
function cpuTimes(): Array<{ busy: number; total: number }> | undefined {
  try {
    const out: Array<{ busy: number; total: number }> = [];
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      if (!line.startsWith('cpu')) continue;
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
      const busy = user + nice + system + irq + softirq + steal;
      out.push({ busy, total: busy + idle + iowait });
    }
    return out.length > 1 ? out : undefined;
  } catch {
    return undefined;
  }
}

/** Cores busy between two cpuTimes() readings: [all CPUs, per CPU...]. */
function coresBusy(a: ReturnType<typeof cpuTimes>, b: ReturnType<typeof cpuTimes>): number[] | undefined {
  if (!a || !b || a.length !== b.length) return undefined;
  const ticks = b[1]!.total - a[1]!.total || 1; // one CPU's elapsed jiffies
  return b.map((x, i) => (x.busy - a[i]!.busy) / ticks);
}

/** Cores busy over `ms` (this process is idle meanwhile, so it is everybody else). */
async function sampleLoad(ms: number): Promise<number[] | undefined> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  return coresBusy(a, cpuTimes());
}

/** Other processes may use this much before a configuration waits for quiet. */
const QUIET_CORES = 0.3;

/**
 * Waits until the machine is quiet (other processes use < QUIET_CORES), spending at most what is
 * left of `budget.ms` over the whole bench; returns the last per-CPU load sample.
 */
async function waitForQuiet(budget: { ms: number }, label: string): Promise<number[] | undefined> {
  let load = await sampleLoad(1000);
  let told = false;
  while (load && load[0]! > QUIET_CORES && budget.ms > 0) {
    if (!told) process.stdout.write(`${label}: other processes are using ${load[0]!.toFixed(2)} cores; waiting for quiet (up to ${Math.round(budget.ms / 1000)} s in all)\n`);
    told = true;
    budget.ms -= 1000;
    load = await sampleLoad(1000);
  }
  if (told && load) process.stdout.write(`${label}: ${load[0]! <= QUIET_CORES ? 'quiet' : 'still busy'} (${load[0]!.toFixed(2)} cores in use), starting\n`);
  return load;
}

/** Forks a TypeScript entry point with an IPC channel, under taskset when `cpuList` is given. */
function launch(script: string, args: string[], execArgv: string[], cpuList: string | undefined, stdio: StdioOptions,
  env: NodeJS.ProcessEnv = process.env): ChildProcess {
  if (!cpuList) return fork(script, args, { cwd: ROOT, execArgv, stdio, env });
  return spawn('taskset', ['-c', cpuList, process.execPath, ...execArgv, script, ...args], { cwd: ROOT, stdio, env });
}

/** Resolves with the next IPC message of `type` from `child` (rejects if it exits first or after `timeoutMs`). */
function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: { type?: string }) => {
      if (msg?.type !== type) return;
      cleanup();
      resolve(msg as T);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`process exited (${code}) before sending ${type}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${type} message within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

function ask<T>(child: ChildProcess, type: string): Promise<T> {
  const reply = nextMessage<T>(child, type, 10000);
  child.send({ type });
  return reply;
}

function exited(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

interface SinkCpu {
  user: number;
  system: number;
  hr: number;
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

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

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

function printProfile(label: string, s: ProfileSummary): string {
  const out: string[] = [];
  out.push(`Where the time goes: ${label} (${s.scope}: ${(s.sampledMs / 1000).toFixed(1)} s sampled, ${(s.busyMs / 1000).toFixed(1)} s busy)`);
  out.push('  by area (self time, % of busy):');
  for (const a of s.byArea) out.push(`    ${a.selfPct.toFixed(1).padStart(5)}%  ${a.area}`);
  out.push('  top functions by self time:');
  for (const f of s.topSelf.slice(0, 15)) out.push(`    ${f.selfPct.toFixed(1).padStart(5)}%  ${f.function}  ${f.file}`);
  out.push('  engine (src/) functions by inclusive time:');
  for (const f of s.topTotal.filter((t) => t.file.startsWith('src/')).slice(0, 10)) {
    out.push(`    ${f.totalPct.toFixed(1).padStart(5)}%  ${f.function}  ${f.file}  (self ${f.selfPct.toFixed(1)}%)`);
  }
  return out.join('\n');
}

/**
 * Moves the main thread's profile out of a --cpu-prof-dir to `dest` and removes the dir. With
 * `--import tsx` the module loader runs on its own thread, which writes a profile too: the main
 * thread's file is the one whose thread id (CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile) is 0,
 * or else the largest.
 */
function takeMainProfile(dir: string, dest: string): string | undefined {
  try {
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    const main = files.find((f) => f.split('.')[4] === '0')
      ?? files.map((f) => ({ f, size: statSync(join(dir, f)).size })).sort((a, b) => b.size - a.size)[0]?.f;
    if (!main) return undefined;
    copyFileSync(join(dir, main), dest);
    return dest;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
  const list = configs(opts);
  const cpu = cpus();
  const pinText = opts.pin === 'split' && canPin ? 'engine pinned to one CPU, sink to another (taskset)' : 'no CPU pinning';
  process.stdout.write(`audio-stream bench: ${list.length} configuration(s), stereo 16 kHz, 20 ms messages, ` +
    `8 kHz stereo source; ${cpu.length} CPU(s) ${cpu[0]?.model ?? ''}, node ${process.version}; ${pinText}\n`);
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

await main();
