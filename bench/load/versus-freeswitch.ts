// The side-by-side benchmark (`npm run bench -- --versus-freeswitch`): the same load against
// audio-stream and against the real FreeSWITCH 1.10.12 + the C module mod_audio_stream (from
// ../shared/freeswitch, or FREESWITCH_BUNDLE), in the same run, N upward for each until one N does
// not hold.
//
// The load is the calls benchmark's (bench/load/calls-generator.ts): N PCMU calls over loopback at
// --calls-rate per second, 20 warm-up calls first, speech-like audio from one timer; each call is
// answered and streamed `mono 16k` in 20 ms messages to the same WebSocket sink (bench/load/sink.ts),
// deflate off on both sides (the C module never offers it). audio-stream is measured by the calls
// benchmark itself (runCallsConfig: the SIP/RTP service built as `audio-stream serve`); FreeSWITCH is
// started fresh for each N with start.sh, pinned to the same CPU (taskset) the audio-stream service
// gets, its dialplan's `stream` extension starting `uuid_audio_stream <uuid> start <X-WS-URL> mono 16k`
// for each INVITE carrying the header. Both get one core: the figures compare cost per call, and the
// largest N one core holds.
//
// FreeSWITCH is measured from the outside: its CPU (user + system, every thread, /proc/<pid>/stat)
// over the window, its RSS (/proc/<pid>/status) after the warm-up calls are gone and with the N calls
// up, its threads (audio-stream's RSS is taken after a forced gc at both ends, FreeSWITCH's as it
// is). Held: every call answered, every stream connected (the sink's open connections) and still
// open at the end of the window, the sink received at least 99.5 % of N x window / 20 ms messages
// during the window (the messages the C module sends cannot be counted on its side), no call hung
// up by FreeSWITCH, CPU under 95 % of the core. A generator that fell behind marks the row
// disturbed, as in the calls benchmark. FreeSWITCH's max-sessions and sessions-per-second are lifted
// (fsctl) as audio-stream's admission limits are. audio-stream's rows are held by the calls
// benchmark's stricter rule (nothing lost at all, counted both ends). It prints a table with the ratios and writes
// bench/results/versus-freeswitch-<date>.json.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { GeneratorHangup, GeneratorSetup, GeneratorWindow } from './calls-generator.ts';
import { runCallsConfig, type CallsOptions, type CallsRow, type PinFor } from './calls.ts';
import {
  ROOT, RESULTS_DIR, launch, loadScript, nextMessage, ask, request, exited, round, sleep, startSink, settledSinkTotals,
  endConfiguration, WindowProbe, captureStderr, formatTable, machineFacts, type Pinning,
} from './harness.ts';
import type { SinkTotals } from './sink.ts';

export const DEFAULT_VERSUS_NS = [100, 200, 300, 400, 500];
export const QUICK_VERSUS_NS = [100, 200];
const WARM_CALLS = 20;
const CONNECT_WAIT_MS = 15000;
const SATURATED_SHARE = 0.95;
/** Messages the sink must get in the window, of N x window / 20 ms, for a FreeSWITCH row to hold. */
const DELIVERED_MIN = 0.995;
const GENERATOR_LATE_MS = 40;
const FS_PREFIX = process.env.FS_PREFIX ?? '/usr/local/freeswitch';

/** The calls benchmark's options, with the N of the versus run. */
export type VersusOptions = CallsOptions;

/** One FreeSWITCH row. */
export interface FreeswitchRow {
  n: number;
  answered: number;
  setupFailures: Record<string, number>;
  streamsOpen: number;
  windowSeconds: number;
  cpuShare: number;
  cpuMsPerCallSecond: number;
  rssKiBPerCall: number;
  rssBeforeKiB: number;
  rssUpKiB: number;
  threads: number;
  /** FreeSWITCH ran on the audio-stream service's one core (taskset), else on every core. */
  pinned: boolean;
  windowMessages: number;
  deliveredShare: number;
  closes: Record<string, number>;
  generatorLateMaxMs: number;
  generatorLimited: boolean;
  saturated: boolean;
  held: boolean;
  misses: string[];
  setup: GeneratorSetup;
  generatorWindow: GeneratorWindow | undefined;
  hangup: GeneratorHangup | undefined;
  sink: SinkTotals;
}

/** Why FreeSWITCH cannot be measured here, or undefined when it can. */
export function freeswitchMissing(): string | undefined {
  if (!existsSync(join(FS_PREFIX, 'bin', 'freeswitch'))) return `${FS_PREFIX}/bin/freeswitch is not installed (run ../shared/freeswitch/install.sh)`;
  if (!existsSync(join(bundleDir(), 'start.sh'))) return `no FreeSWITCH bundle at ${bundleDir()} (set FREESWITCH_BUNDLE)`;
  return undefined;
}

function bundleDir(): string {
  return resolve(process.env.FREESWITCH_BUNDLE ?? join(ROOT, '..', 'shared', 'freeswitch'));
}

/** A port free for both TCP and UDP on 127.0.0.1 now. */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((res, rej) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const udpFree = await new Promise<boolean>((res) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => res(false));
      u.bind(port, '127.0.0.1', () => u.close(() => res(true)));
    });
    if (udpFree) return port;
  }
}

/** CPU seconds (user + system, every thread) of a process so far. */
function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state is field 3, utime 14 and stime 15 (1-based, man proc).
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

const clockTicks = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

function procStatus(pid: number): { rssKiB: number; threads: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rssKiB: Number(/^VmRSS:\s+(\d+)/m.exec(text)?.[1] ?? NaN), threads: Number(/^Threads:\s+(\d+)/m.exec(text)?.[1] ?? NaN) };
}

/** Starts a fresh FreeSWITCH (pinned to `cpu` when given) in its own run directory; returns its ports, pid and a stopper. */
async function startFreeswitch(n: number, cpu: string | undefined) {
  const runDir = mkdtempSync(join(tmpdir(), 'as-versus-fs-'));
  const sipPort = await freePort();
  let eslPort = await freePort();
  while (eslPort === sipPort) eslPort = await freePort();
  // RTP: even ports from 42000, room for the warm-up calls and N (FreeSWITCH skips a port it cannot bind).
  const rtpStart = 42000;
  const env = {
    ...process.env, FS_SIP_PORT: String(sipPort), FS_ESL_PORT: String(eslPort),
    FS_RTP_START: String(rtpStart), FS_RTP_END: String(rtpStart + 4 * (n + WARM_CALLS) + 200), FS_STREAM_BUFFER_SIZE: '20',
  };
  const start = join(bundleDir(), 'start.sh');
  const r = cpu ? spawnSync('taskset', ['-c', cpu, 'bash', start, runDir], { env, encoding: 'utf8' })
    : spawnSync('bash', [start, runDir], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`FreeSWITCH did not start: ${r.stderr || r.stdout}`);
  const pid = Number(readFileSync(join(runDir, 'run', 'freeswitch.pid'), 'utf8').trim());
  // The bundle's switch.conf says max-sessions 1000, sessions-per-second 200: lifted as audio-stream's limits are.
  for (const command of ['fsctl max_sessions 10000', 'fsctl sps 5000']) {
    spawnSync(join(FS_PREFIX, 'bin', 'fs_cli'), ['-H', '127.0.0.1', '-P', String(eslPort), '-p', 'ClueCon', '-x', command], { encoding: 'utf8', timeout: 10000 });
  }
  const stop = () => {
    // With its ESL port, so that stop.sh shuts it down gracefully instead of waiting 10 s for SIGTERM.
    spawnSync('bash', [join(bundleDir(), 'stop.sh'), runDir], { env, encoding: 'utf8' });
    rmSync(runDir, { recursive: true, force: true });
  };
  return { runDir, sipPort, eslPort, pid, stop };
}

/** One N against FreeSWITCH + mod_audio_stream. */
export async function runFreeswitchConfig(n: number, opts: VersusOptions, label: string, pin: Pinning | undefined): Promise<FreeswitchRow> {
  const stderr: string[] = [];
  const { child: sink, port } = await startSink(pin?.sink);
  let gen: ChildProcess | undefined;
  let fs: Awaited<ReturnType<typeof startFreeswitch>> | undefined;
  try {
    fs = await startFreeswitch(n, pin?.worker);
    gen = launch(loadScript('calls-generator.ts'),
      ['--sip', `127.0.0.1:${fs.sipPort}`, '--n', String(n), '--rate', String(opts.rate), '--setup-timeout', '15000',
        '--header', `X-WS-URL: ws://127.0.0.1:${port}/freeswitch`],
      ['--import', 'tsx'], pin?.generator ?? pin?.sink, ['ignore', 'inherit', 'pipe', 'ipc']);
    const endGenStderr = captureStderr(gen, 'generator', stderr);
    await nextMessage(gen, 'ready', 30000);
    const warmed = await request<{ answered: number }>(gen, { type: 'warm', count: WARM_CALLS }, 'warmed', 60000);
    if (warmed.answered < WARM_CALLS) process.stderr.write(`${label}: only ${warmed.answered}/${WARM_CALLS} warm-up calls were answered\n`);
    await sleep(1500); // the warm-up calls' channels and streams are gone
    const before = procStatus(fs.pid);
    const setup = await request<GeneratorSetup>(gen, { type: 'place' }, 'up', (n / opts.rate) * 1000 + 45000);
    let totals = await ask<SinkTotals>(sink, 'totals');
    for (const end = Date.now() + CONNECT_WAIT_MS; totals.open < setup.answered && Date.now() < end;) {
      await sleep(100);
      totals = await ask<SinkTotals>(sink, 'totals');
    }
    process.stdout.write(`${label}: ${setup.answered}/${n} calls up in ${(setup.setupMs / 1000).toFixed(1)} s ` +
      `(INVITE->200 p99 ${setup.setupP99Ms.toFixed(1)} ms${setup.failed ? `, ${setup.failed} failed: ${JSON.stringify(setup.failures)}` : ''}), ` +
      `${totals.open} streams open; warm-up ${opts.warmup} s, measuring ${opts.seconds} s\n`);
    await sleep(opts.warmup * 1000);

    const probe = new WindowProbe(sink);
    const cpu0 = procCpuSeconds(fs.pid);
    const t0 = performance.now();
    probe.start();
    gen.send({ type: 'window', on: true });
    await sleep(opts.seconds * 1000);
    const cpu1 = procCpuSeconds(fs.pid);
    const windowSeconds = (performance.now() - t0) / 1000;
    probe.end();
    const generatorWindow = await request<GeneratorWindow>(gen, { type: 'window', on: false }, 'gen-window', 10000);
    const up = procStatus(fs.pid);
    const openAtEnd = (await ask<SinkTotals>(sink, 'totals')).open;
    await request(gen, { type: 'stop-rtp' }, 'rtp-stopped', 10000);
    const hangup = await request<GeneratorHangup>(gen, { type: 'hangup', rate: 1000 }, 'hung-up', 40000);
    const sinkTotals = await settledSinkTotals(sink);
    await probe.result();
    gen.send({ type: 'exit' });
    await exited(gen, 5000);
    endGenStderr();

    const cpuShare = (cpu1 - cpu0) / windowSeconds;
    // Pinned (the default), FreeSWITCH has the audio-stream service's one core; with --pin none, every core.
    const cores = pin?.worker !== undefined ? 1 : availableParallelism();
    const expected = (n * windowSeconds * 1000) / 20;
    const deliveredShare = sinkTotals.windowBinaryMessages / expected;
    const lateMax = Math.max(generatorWindow.lateMaxMs, generatorWindow.runLateMaxMs);
    const row: FreeswitchRow = {
      n, answered: setup.answered, setupFailures: setup.failures, streamsOpen: totals.open, windowSeconds: round(windowSeconds, 3),
      cpuShare: round(cpuShare, 3), cpuMsPerCallSecond: round((cpuShare * 1000) / n, 3),
      rssKiBPerCall: round((up.rssKiB - before.rssKiB) / n, 1), rssBeforeKiB: before.rssKiB, rssUpKiB: up.rssKiB, threads: up.threads, pinned: cores === 1,
      windowMessages: sinkTotals.windowBinaryMessages, deliveredShare: round(deliveredShare, 4), closes: sinkTotals.closeCodes,
      generatorLateMaxMs: round(lateMax, 1), generatorLimited: lateMax > GENERATOR_LATE_MS || generatorWindow.skipped > 0,
      saturated: cpuShare >= SATURATED_SHARE * cores, held: false, misses: [], setup, generatorWindow, hangup, sink: sinkTotals,
    };
    const m = row.misses;
    if (setup.answered < n) m.push(`${n - setup.answered} calls not set up`);
    if (totals.open < setup.answered) m.push(`${setup.answered - totals.open} streams not connected`);
    else if (openAtEnd < totals.open) m.push(`${totals.open - openAtEnd} streams closed during the window`);
    if (deliveredShare < DELIVERED_MIN) m.push(`sink got ${(deliveredShare * 100).toFixed(2)}% of the window's messages`);
    if (hangup.remoteByes > 0) m.push(`${hangup.remoteByes} calls hung up by FreeSWITCH`);
    if (row.saturated) m.push(`saturated (${(cpuShare * 100).toFixed(0)}% of ${cores === 1 ? 'its core' : `one core, on ${cores}`})`);
    row.held = m.length === 0;
    return row;
  } finally {
    await endConfiguration(sink, [gen]);
    fs?.stop();
  }
}

/** A pair of searches, N upward for each system until one does not hold (a row that fails unsaturated runs once more). */
export async function runVersusBench(opts: VersusOptions, stamp: string, argv: string[], pinFor: PinFor): Promise<{ lines: string[]; jsonPath: string }> {
  const missing = freeswitchMissing();
  if (missing) throw new Error(`--versus-freeswitch needs FreeSWITCH: ${missing}`);
  const ns = [...new Set(opts.ns)].sort((a, b) => a - b);
  const startedAt = new Date();
  process.stdout.write(`\nversus FreeSWITCH 1.10.12 + mod_audio_stream: N = ${ns.join(', ')} (upward until one does not hold, each), ` +
    `PCMU 20 ms, mono 16k streams, deflate off, ${opts.rate} calls/s setup, ${opts.seconds} s windows\n`);
  const ours: CallsRow[] = [];
  const theirs: FreeswitchRow[] = [];
  let oursDone = false;
  let theirsDone = false;
  /** One N of one system: a row that fails without saturating runs once more; false when it did not hold (the search of that system ends). */
  const step = async <R extends { held: boolean; saturated: boolean; misses: string[] }>(label: string, rows: R[],
    run: (label: string, pin: Pinning | undefined) => Promise<R>): Promise<boolean> => {
    const attempt = async (l: string) => run(l, await pinFor(l)).catch((err: Error) => { process.stderr.write(`${l}: failed: ${err.message}\n`); return undefined; });
    let row = await attempt(label);
    const disturbed = (r: R) => (r as { generatorLimited?: boolean }).generatorLimited === true;
    if (row && !row.held && !row.saturated && opts.retry) row = (await attempt(`${label} again`)) ?? row;
    if (row && disturbed(row)) process.stdout.write(`${label}: disturbed (the generator fell behind): its losses may be the load side's\n`);
    if (row) rows.push(row);
    process.stdout.write(`${label}: ${row?.held ? 'held' : `not held${row ? `: ${row.misses.join(', ')}` : ''}`}\n`);
    return row?.held === true;
  };
  for (let i = 0; i < ns.length && !(oursDone && theirsDone); i++) {
    const n = ns[i]!;
    const at = `[versus ${i + 1}/${ns.length}]`;
    if (!oursDone) oursDone = !(await step(`${at} audio-stream N=${n}`, ours, (l, pin) => runCallsConfig(n, opts, l, pin)));
    if (!theirsDone) theirsDone = !(await step(`${at} FreeSWITCH N=${n}`, theirs, (l, pin) => runFreeswitchConfig(n, opts, l, pin)));
  }
  // Rows of one run share its pinning: the service's CPU given (one core each), or none (FreeSWITCH spreads over every core).
  const pinned = ours.some((r) => r.pinning !== 'none') || theirs.some((r) => r.pinned);
  const how = pinned ? 'each system on one core' : `nothing pinned: FreeSWITCH's threads on all ${availableParallelism()} cores, audio-stream on its one thread`;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}x` : '-');
  const body = ns.filter((n) => ours.some((r) => r.n === n) || theirs.some((r) => r.n === n)).map((n) => {
    const a = ours.filter((r) => r.n === n).at(-1);
    const f = theirs.filter((r) => r.n === n).at(-1);
    const aMs = a ? a.cpuSecondsPerCallSecond * 1000 : undefined;
    return [
      String(n),
      a ? pct(a.cpuShare) : '-', aMs !== undefined ? aMs.toFixed(2) : '-', a ? a.rssKiBPerCall.toFixed(0) : '-', a ? (a.held ? 'yes' : `no: ${a.misses.join(', ')}`) : '-',
      f ? pct(f.cpuShare) : '-', f ? f.cpuMsPerCallSecond.toFixed(2) : '-', f ? f.rssKiBPerCall.toFixed(0) : '-', f ? String(f.threads) : '-',
      f ? pct(f.deliveredShare) : '-', f ? (f.held ? 'yes' : `no: ${f.misses.join(', ')}`) : '-',
      ratio(aMs, f?.cpuMsPerCallSecond), ratio(a?.rssKiBPerCall, f?.rssKiBPerCall),
    ];
  });
  const head = ['N', 'a-s CPU', 'a-s ms/call-s', 'a-s KiB/call', 'a-s held', 'FS CPU', 'FS ms/call-s', 'FS KiB/call', 'FS threads',
    'FS delivered', 'FS held', 'CPU a-s/FS', 'RSS a-s/FS'];
  const largest = <T extends { n: number; held: boolean }>(rows: T[]) => rows.filter((r) => r.held).sort((x, y) => y.n - x.n)[0];
  const aBest = largest(ours);
  const fBest = largest(theirs);
  const lines = [
    '', `Versus FreeSWITCH: the same calls (PCMU in, mono 16k streamed to the same sink), ${how}`,
    formatTable(head, body, 1), '',
    'CPU: the service\'s CPU (user+system, every thread) in the window, of one core; ms/call-s: CPU ms per call-second.',
    'KiB/call: RSS with the N calls up minus RSS before them (after 20 warm-up calls), per call (audio-stream after a forced gc at',
    'both ends, FreeSWITCH as it is: the ratio favours audio-stream by its garbage not yet collected). FS delivered: messages the sink',
    `got in the window / (N x window / 20 ms); a FreeSWITCH row holds at ${DELIVERED_MIN * 100}% and more (its sends are not counted), an`,
    'audio-stream row when nothing at all was lost (the calls benchmark\'s rule).',
    `Largest N held (${how}): audio-stream ${aBest?.n ?? 'none'}, FreeSWITCH + mod_audio_stream ${fBest?.n ?? 'none'}` +
      `${aBest && fBest ? ` (${(aBest.n / fBest.n).toFixed(2)}x)` : ''}.`,
  ];
  const jsonName = `versus-freeswitch-${stamp}.json`;
  writeFileSync(join(RESULTS_DIR, jsonName), `${JSON.stringify({
    benchmark: 'audio-stream vs FreeSWITCH 1.10.12 + mod_audio_stream: N PCMU calls over loopback, each streamed mono 16 kHz (20 ms, deflate off) to one WebSocket sink',
    pinning: how,
    startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), argv, machine: machineFacts(),
    settings: { ns, seconds: opts.seconds, warmupSeconds: opts.warmup, setupRatePerSecond: opts.rate, deliveredMin: DELIVERED_MIN, freeswitchBundle: bundleDir() },
    largestHeld: { audioStream: aBest?.n ?? 0, freeswitch: fBest?.n ?? 0 },
    audioStream: ours, freeswitch: theirs,
  }, null, 2)}\n`);
  return { lines, jsonPath: join('bench', 'results', jsonName) };
}
