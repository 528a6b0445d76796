// The load harness: what both load benchmarks (streams.ts, calls.ts) do around their measured
// process: CPU pinning with taskset, waiting for a quiet machine, forking TypeScript children with
// IPC, request/reply over IPC, the sink (start, window CPU, final totals), the machine's per-CPU
// load, stderr capture, the table printer, the machine facts of a report and the CPU profile helpers.
import { fork, spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProfileSummary } from './profile.ts';
import type { SinkTotals } from './sink.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const RESULTS_DIR = join(ROOT, 'bench', 'results');

/** A process script of the load benchmarks (bench/load/<name>). */
export function loadScript(name: string): string {
  return join(ROOT, 'bench', 'load', name);
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** CPU lists for taskset: the measured process and the sink; undefined when not pinning. */
export interface Pinning {
  /** undefined: the measured process may run anywhere (profiled runs: V8's sampler thread must not share its core). */
  worker: string | undefined;
  sink: string | undefined;
  /** The calls benchmark's load generator: a CPU of its own when there are 3+, else the sink's. */
  generator?: string | undefined;
}

export const canPin = platform() === 'linux' && availableParallelism() >= 2 && spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;

/**
 * With 2+ CPUs and taskset: the measured process on exactly one CPU (the goal's "one core"; its GC
 * and zlib threads share it), the least busy one right now, and the sink on the next least busy.
 * Without this, every socket write wakes the sink on the writer's CPU (the scheduler's wake-affine
 * placement) and it preempts the engine.
 */
export function choosePinning(mode: 'split' | 'none', perCpuLoad: number[] | undefined): Pinning | undefined {
  if (mode === 'none' || !canPin) return undefined;
  const n = availableParallelism();
  const load = perCpuLoad && perCpuLoad.length === n ? perCpuLoad : Array.from({ length: n }, () => 0);
  const order = load.map((l, cpu) => ({ l, cpu })).sort((x, y) => x.l - y.l || x.cpu - y.cpu).map((x) => x.cpu);
  return { worker: String(order[0]), sink: String(order[1]), generator: String(order[2] ?? order[1]) };
}

/** Busy and total jiffies from /proc/stat: [all CPUs, cpu0, cpu1, ...]; undefined off Linux. */
export function cpuTimes(): Array<{ busy: number; total: number }> | undefined {
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
export function coresBusy(a: ReturnType<typeof cpuTimes>, b: ReturnType<typeof cpuTimes>): number[] | undefined {
  if (!a || !b || a.length !== b.length) return undefined;
  const ticks = b[1]!.total - a[1]!.total || 1; // one CPU's elapsed jiffies
  return b.map((x, i) => (x.busy - a[i]!.busy) / ticks);
}

/** Cores busy over `ms` (this process is idle meanwhile, so it is everybody else). */
export async function sampleLoad(ms: number): Promise<number[] | undefined> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  return coresBusy(a, cpuTimes());
}

/** Other processes may use this much before a configuration waits for quiet. */
export const QUIET_CORES = 0.3;

/**
 * Waits until the machine is quiet (other processes use < QUIET_CORES), spending at most what is
 * left of `budget.ms` over the whole bench; returns the last per-CPU load sample.
 */
export async function waitForQuiet(budget: { ms: number }, label: string): Promise<number[] | undefined> {
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
export function launch(script: string, args: string[], execArgv: string[], cpuList: string | undefined, stdio: StdioOptions,
  env: NodeJS.ProcessEnv = process.env): ChildProcess {
  if (!cpuList) return fork(script, args, { cwd: ROOT, execArgv, stdio, env });
  return spawn('taskset', ['-c', cpuList, process.execPath, ...execArgv, script, ...args], { cwd: ROOT, stdio, env });
}

/** Resolves with the next IPC message of `type` from `child` (rejects if it exits first or after `timeoutMs`). */
export function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
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

/** Sends `{ type }` and resolves with the reply of the same type. */
export function ask<T>(child: ChildProcess, type: string): Promise<T> {
  const reply = nextMessage<T>(child, type, 10000);
  child.send({ type });
  return reply;
}

/** Sends `msg` and resolves with the next message of `reply`. */
export function request<T>(child: ChildProcess, msg: Record<string, unknown>, reply: string, timeoutMs: number): Promise<T> {
  const p = nextMessage<T>(child, reply, timeoutMs);
  child.send(msg);
  return p;
}

export function exited(child: ChildProcess, timeoutMs: number): Promise<void> {
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

/** The sink's CPU at one moment (µs of user and system time, hr µs). */
export interface SinkCpu {
  user: number;
  system: number;
  hr: number;
}

/** The ws sink of one configuration, started and listening. */
export interface Sink {
  child: ChildProcess;
  port: number;
}

/** Starts bench/load/sink.ts (pinned to `cpuList`, with `args`: --echo for the duplex calls) and waits until it listens. */
export async function startSink(cpuList: string | undefined, args: string[] = []): Promise<Sink> {
  const child = launch(loadScript('sink.ts'), args, ['--import', 'tsx'], cpuList, ['ignore', 'inherit', 'inherit', 'ipc']);
  const { port } = await nextMessage<{ port: number }>(child, 'listening', 20000);
  return { child, port };
}

/** The sink's totals once it has taken in what was still in flight: every connection closed, or 5 s. */
export async function settledSinkTotals(sink: ChildProcess): Promise<SinkTotals> {
  let totals = await ask<SinkTotals & { type: string }>(sink, 'totals');
  for (const end = Date.now() + 5000; totals.open > 0 && Date.now() < end;) {
    await sleep(100);
    totals = await ask<SinkTotals & { type: string }>(sink, 'totals');
  }
  const { type: _type, ...rest } = totals;
  return rest;
}

/** Tells the sink a configuration's window is over and ends it; kills the measured children still running. */
export async function endConfiguration(sink: ChildProcess, children: Array<ChildProcess | undefined>): Promise<void> {
  for (const child of children) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  if (sink.connected) sink.send({ type: 'exit' });
  await exited(sink, 5000);
}

/**
 * The machine around one measuring window: the sink's CPU and every CPU's busy time, taken when
 * the measured process says the window starts and ends; the sink is told the window's edges.
 */
export class WindowProbe {
  private sinkCpu0: Promise<SinkCpu> | undefined;
  private sinkCpu1: Promise<SinkCpu> | undefined;
  private times0: ReturnType<typeof cpuTimes>;
  private times1: ReturnType<typeof cpuTimes>;

  constructor(private readonly sink: ChildProcess) {}

  start(): void {
    this.sink.send({ type: 'window', on: true });
    this.times0 = cpuTimes();
    this.sinkCpu0 = ask<SinkCpu>(this.sink, 'cpu');
  }

  end(): void {
    this.sink.send({ type: 'window', on: false });
    this.times1 = cpuTimes();
    this.sinkCpu1 = ask<SinkCpu>(this.sink, 'cpu');
  }

  /** The sink's share of one core during the window (NaN when unknown), and the cores busy ([all, per CPU...]). */
  async result(): Promise<{ sinkCpuShare: number; busy: number[] | undefined }> {
    const c0 = this.sinkCpu0 ? await this.sinkCpu0 : undefined;
    const c1 = this.sinkCpu1 ? await this.sinkCpu1 : undefined;
    const sinkCpuShare = c0 && c1 ? (c1.user + c1.system - c0.user - c0.system) / (c1.hr - c0.hr) : NaN;
    return { sinkCpuShare, busy: coresBusy(this.times0, this.times1) };
  }
}

/** Cores used by everything else during a window: all CPUs' busy time minus the measured shares. */
export function otherCores(busy: number[] | undefined, ...shares: number[]): number {
  if (!busy) return NaN;
  const known = shares.reduce((n, x) => n + (Number.isFinite(x) ? x : 0), 0);
  return round(Math.max(0, busy[0]! - known), 2);
}

/** Collects a child's stderr lines, echoing the first few with a prefix; call the returned function once it has exited. */
export function captureStderr(child: ChildProcess, prefix: string, into: string[]): () => void {
  let partial = '';
  let shown = 0;
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (shown++ < 5) process.stderr.write(`    ${prefix}: ${line}\n`);
      into.push(`${prefix}: ${line}`);
    }
  });
  return () => {
    if (partial) into.push(`${prefix}: ${partial}`);
    if (shown > 5) process.stderr.write(`    ${prefix}: ... ${shown - 5} more stderr lines (in the JSON)\n`);
  };
}

/** A plain-text table: the first `leftColumns` columns and the last are left-aligned, the others right-aligned. */
export function formatTable(head: string[], body: string[][], leftColumns: number): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** A latency in ms; the histograms top out at 200 ms, so their overflow bucket shows as >200. */
export function ms(v: number): string {
  return v >= 200 ? '>200' : v.toFixed(2);
}

/** What every report says about the machine it ran on. */
export function machineFacts(): Record<string, unknown> {
  const cpu = cpus();
  return { cpus: cpu.length, model: cpu[0]?.model, totalMemMiB: Math.round(totalmem() / 2 ** 20), platform: platform(), release: release(), node: process.version, loadavgAtStart: loadavg() };
}


export const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

export function printProfile(label: string, s: ProfileSummary): string {
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
export function takeMainProfile(dir: string, dest: string): string | undefined {
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
