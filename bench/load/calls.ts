// The calls benchmark (part of `npm run bench`, bench/run.ts runs it): N concurrent PCMU calls over
// loopback, each answered by the service and streamed `mono 16k` to a WebSocket sink in another
// process. For each N it starts three fresh processes:
//   - bench/load/sink.ts: the ws sink (the streams benchmark's), counting messages;
//   - bench/load/calls-service.ts: the measured process, the SIP/RTP service built as `audio-stream serve`;
//   - bench/load/calls-generator.ts: the SIP UAC + RTP load generator (its CPU is not counted).
// It searches N upward, stops at the first N that loses anything (RTP either way, WebSocket
// messages) or saturates the service's core, and reports the largest N held, CPU and RSS per call,
// and the send delay (streamMetrics.sendDelay).
// The duplex calls benchmark (bench/load/duplex.ts) runs the same configurations with `duplex`: the
// sink echoes every message back, the service plays it to the caller (bench/load/echo.ts has the
// figures of that direction).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { SinkEcho, SinkTotals } from './sink.ts';
import type { ServiceFinal, ServiceMemory, ServiceStatus, ServiceWindow } from './calls-service.ts';
import type { GeneratorHangup, GeneratorSetup, GeneratorWindow } from './calls-generator.ts';
import { summariseProfile, type ProfileSummary } from './profile.ts';
import { duplexFigures, dropMarkerTimes, type DuplexFigures } from './echo.ts';
import { perfAvailable, PERF_NODE_FLAG, recordPerf, summarisePerf, printPerf, type PerfSummary } from './perf.ts';
import {
  ROOT, RESULTS_DIR, canPin, launch, loadScript, nextMessage, ask, exited, request, round, printProfile, takeMainProfile, sleep,
  startSink, settledSinkTotals, endConfiguration, WindowProbe, otherCores, captureStderr, formatTable, ms, machineFacts,
  type Pinning,
} from './harness.ts';

/** The issue's goal: 500 concurrent streamed calls on one core, under 200 KiB RSS per call. */
export const CALLS_GOAL = { calls: 500, cpuShareMax: 1, rssKiBPerCallMax: 200 };
export const DEFAULT_CALLS_NS = [100, 250, 500, 750, 1000];
export const QUICK_CALLS_NS = [100, 250];
/** A row whose service used this much of its core is saturated (no headroom left: the next N cannot hold). */
const SATURATED_SHARE = 0.95;
/** The generator is "late" (and the row limited by the load side, not the service) past this (the service's playout delay is 60 ms). */
const GENERATOR_LATE_MS = 40;
/** How long to wait for the streams to connect once the calls are up. */
const CONNECT_WAIT_MS = 15000;
/** Calls set up, held and hung up before the measured ones, so that those meet a warm service. */
const WARM_CALLS = 20;

export interface CallsOptions {
  ns: number[];
  seconds: number;
  warmup: number;
  /** Calls placed per second. */
  rate: number;
  /** After the first N that does not hold, try once halfway between it and the last N that held. */
  refine: boolean;
  /**
   * Rerun once a row that did not hold but was not saturated either (disturbed by other load, the
   * generator late, or a one-off stall): a row is "not held" only when it fails twice.
   */
  retry: boolean;
  /** No rerun either when the row used this share of its core or more (near saturation: the duplex calls, 0.85); default SATURATED_SHARE. */
  retryBelowShare?: number;
  /** Profile the service at these N ('held' = the largest N held, else the first N). */
  profile: Array<number | 'held'>;
}

/** One row of the calls table, with everything it was computed from. */
export interface CallsRow {
  n: number;
  windowSeconds: number;
  answered: number;
  setupFailures: Record<string, number>;
  streamsConnected: number;
  setupSeconds: number;
  setupP99Ms: number;
  /** CPU (user + system, all threads) of the service during the window: share of one core, per call, per call-second. */
  cpuShare: number;
  cpuSharePerCall: number;
  cpuSecondsPerCallSecond: number;
  eventLoopUtilisation: number;
  /** RTP caller -> service: packets the generator sent, the service received, lost (sent - received), late (after playout). */
  rtpSent: number;
  rtpReceived: number;
  rtpLost: number;
  rtpLate: number;
  /** Calls whose sent and received counts differ, and calls whose service-side counters were not seen. */
  rtpCallsWithLoss: number;
  rtpCallsUnknown: number;
  /** RTP service -> caller: packets the service sent, the generator received, lost. */
  rtpBackSent: number;
  rtpBackReceived: number;
  rtpBackLost: number;
  /** WebSocket: frames the streams were given, messages the engine handed to ws, dropped itself, the sink received, lost. */
  wsFrames: number;
  wsSent: number;
  wsDropped: number;
  wsReceived: number;
  wsLost: number;
  /** Messages during the window / (calls x window / 20 ms). */
  wsWindowDeliveredShare: number;
  bytesPerMessage: number;
  /** Media clock ticks skipped during the window, and before it (call setup at the setup rate, and the warm-up). */
  skippedTicks: number;
  setupSkippedTicks: number;
  /** Frames the streams got during the window that were silence instead of the caller's audio. */
  gapFrames: number;
  delayP50Ms: number;
  delayP99Ms: number;
  delayP999Ms: number;
  delayMaxMs: number;
  clockLateP99Ms: number;
  arriveP50Ms: number;
  arriveP99Ms: number;
  rssKiBPerCall: number;
  heapKiBPerCall: number;
  externalKiBPerCall: number;
  sinkCpuShare: number;
  generatorCpuShare: number;
  generatorLateP99Ms: number;
  generatorLateMaxMs: number;
  generatorSkipped: number;
  mainThreadWaitShare: number;
  /** The same from the first call to the end of the window (setup included). */
  runWaitShare: number;
  /** Service CPU spent per call during setup (INVITE to answered, streamed and connected; includes the media of the calls already up), ms. */
  setupCpuMsPerCall: number;
  otherCores: number;
  /** Main thread waited > 10% of the window, or of the whole run, for its CPU. */
  contended: boolean;
  /** The generator fell behind (late > GENERATOR_LATE_MS or skipped packets): losses may be the load side's. */
  generatorLimited: boolean;
  saturated: boolean;
  held: boolean;
  misses: string[];
  profiled: boolean;
  /** Rerun of a disturbed row. */
  retry: boolean;
  pinning: Pinning | 'none';
  service: { window: ServiceWindow; final: ServiceFinal; memoryBefore: ServiceMemory; memoryAfter: ServiceMemory; warmCalls: number };
  generator: { setup: GeneratorSetup; window: GeneratorWindow; hangup: GeneratorHangup };
  sink: SinkTotals;
  stderr: string[];
  /** Profiled runs, when perf is there: the whole process during the window, kernel included. */
  perf?: PerfSummary;
  /** Duplex rows (bench/load/duplex.ts): the server -> caller direction, and the bot's raw counters. */
  duplex?: DuplexFigures;
  sinkEcho?: SinkEcho;
}

const sum = (a: number[]) => a.reduce((n, x) => n + (x > 0 ? x : 0), 0);

/**
 * One N: the sink, the service and the generator, fresh; warm-up calls, the N calls, the window, the
 * teardown. `duplex`: the sink echoes, the route sets STREAM_SAMPLE_RATE, the generator sends markers.
 */
export async function runCallsConfig(n: number, opts: CallsOptions, label: string, pin: Pinning | undefined, profileDir?: string,
  duplex = false): Promise<CallsRow> {
  const stderr: string[] = [];
  const mode = duplex ? ['--duplex'] : [];
  const { child: sink, port } = await startSink(pin?.sink, duplex ? ['--echo'] : []);
  let service: ChildProcess | undefined;
  let gen: ChildProcess | undefined;
  try {
    const execArgv = ['--expose-gc', '--import', 'tsx'];
    if (profileDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', profileDir);
    const usePerf = profileDir !== undefined && perfAvailable;
    if (usePerf) execArgv.push(PERF_NODE_FLAG);
    service = launch(loadScript('calls-service.ts'), ['--url', `ws://127.0.0.1:${port}/calls`, ...mode], execArgv, pin?.worker,
      ['ignore', 'inherit', 'pipe', 'ipc'], { ...process.env, AUDIO_STREAM_LOG_LEVEL: 'warning' });
    const endServiceStderr = captureStderr(service, 'service', stderr);
    const { sipPort } = await nextMessage<{ sipPort: number }>(service, 'ready', 30000);

    // The generator gets a CPU of its own when there are 3+, else it shares the sink's: the service's core stays its own.
    gen = launch(loadScript('calls-generator.ts'),
      ['--sip', `127.0.0.1:${sipPort}`, '--n', String(n), '--rate', String(opts.rate), '--setup-timeout', '15000', ...mode],
      ['--import', 'tsx'], pin?.generator ?? pin?.sink, ['ignore', 'inherit', 'pipe', 'ipc']);
    const endGenStderr = captureStderr(gen, 'generator', stderr);
    await nextMessage(gen, 'ready', 30000);
    const { warmed, memoryBefore, setup, status } = await placeCalls(service, gen, n, opts, label);
    process.stdout.write(`${label}: ${setup.answered}/${n} calls up in ${(setup.setupMs / 1000).toFixed(1)} s ` +
      `(INVITE->200 p50 ${setup.setupP50Ms.toFixed(1)} ms, p99 ${setup.setupP99Ms.toFixed(1)} ms` +
      `${setup.failed ? `, ${setup.failed} failed: ${JSON.stringify(setup.failures)}` : ''}), ` +
      `${status.connected} streams connected${status.connectErrors ? `, ${status.connectErrors} errors` : ''}; ` +
      `warm-up ${opts.warmup} s, measuring ${opts.seconds} s` +
      `${pin ? ` (service on CPU ${pin.worker ?? 'any'}, sink on CPU ${pin.sink}, generator on CPU ${pin.generator ?? pin.sink})` : ''}\n`);

    const perfData = profileDir ? join(profileDir, 'perf.data') : '';
    const measured = await measureWindow(service, gen, sink, opts, usePerf ? perfData : undefined);

    // Teardown: stop the callers' RTP and let it land; memory with every call still up (the gc pause
    // can no longer make packets late); then read the service's per-call counters at hangup.
    await request(gen, { type: 'stop-rtp' }, 'rtp-stopped', 10000);
    await sleep(300);
    if (duplex) {
      // The bot stops echoing and what it sent is played out (a few frames per call), so that its
      // count and the frames played compare exactly.
      await request(sink, { type: 'echo', on: false }, 'echo', 10000);
      await sleep(300);
    }
    const { memory: memoryAfter } = await request<{ memory: ServiceMemory }>(service, { type: 'memory' }, 'memory', 30000);
    await request(service, { type: 'collect' }, 'collecting', 10000);
    const hangup = await request<GeneratorHangup>(gen, { type: 'hangup', rate: 1000 }, 'hung-up', 40000);
    const { final } = await request<{ final: ServiceFinal }>(service, { type: 'final', timeoutMs: 15000 }, 'final', 30000);
    const sinkTotals = await settledSinkTotals(sink);
    const sinkEcho = duplex ? await ask<SinkEcho & { type?: string }>(sink, 'echo-totals') : undefined;
    if (sinkEcho) delete sinkEcho.type;
    const { sinkCpuShare, busy } = await measured.probe.result();
    gen.send({ type: 'exit' });
    service.send({ type: 'exit' });
    await Promise.all([exited(gen, 5000), exited(service, 15000)]);
    endServiceStderr();
    endGenStderr();

    const row = makeRow(n, setup, status, { window: measured.window, final, memoryBefore, memoryAfter, warmCalls: warmed.answered },
      measured.generatorWindow, hangup, sinkTotals, sinkCpuShare, stderr, profileDir !== undefined, sinkEcho);
    if (measured.perfDone && (await measured.perfDone) && service.pid) row.perf = summarisePerf(perfData, service.pid);
    row.otherCores = otherCores(busy, row.cpuShare, sinkCpuShare, measured.generatorWindow?.cpuShare ?? 0);
    row.pinning = pin ?? 'none';
    return row;
  } finally {
    // The JIT map perf reads (summarisePerf removes it too).
    if (profileDir && perfAvailable && service?.pid) rmSync(`/tmp/perf-${service.pid}.map`, { force: true });
    await endConfiguration(sink, [gen, service]);
  }
}

/**
 * A few calls first (set up, held 1 s, hung up), so that the measured calls meet a warm service;
 * the baseline memory; the N calls; then waits for the streams of the answered calls to connect (or fail).
 */
async function placeCalls(service: ChildProcess, gen: ChildProcess, n: number, opts: CallsOptions, label: string) {
  const warmed = await request<{ answered: number }>(gen, { type: 'warm', count: WARM_CALLS }, 'warmed', 60000);
  if (warmed.answered < WARM_CALLS) process.stderr.write(`${label}: only ${warmed.answered}/${WARM_CALLS} warm-up calls were answered\n`);
  const { memory: memoryBefore } = await request<{ memory: ServiceMemory }>(service, { type: 'baseline' }, 'baseline', 30000);
  const setup = await request<GeneratorSetup>(gen, { type: 'place' }, 'up', (n / opts.rate) * 1000 + 45000);
  let status = await ask<ServiceStatus>(service, 'status');
  for (const end = Date.now() + CONNECT_WAIT_MS; Date.now() < end;) {
    if (status.streamsStarted >= setup.answered && status.connected + status.connectErrors >= status.streamsStarted) break;
    await sleep(100);
    status = await ask<ServiceStatus>(service, 'status');
  }
  return { warmed, memoryBefore, setup, status };
}

/** The window: the service times it; the sink and the generator follow its phases (perf records the service when asked). */
async function measureWindow(service: ChildProcess, gen: ChildProcess, sink: ChildProcess, opts: CallsOptions, perfData: string | undefined) {
  const probe = new WindowProbe(sink);
  let genWindow: Promise<GeneratorWindow> | undefined;
  let perfDone: Promise<boolean> | undefined;
  const onServiceMessage = (msg: { type?: string; phase?: string; firstDueHrMs?: number[] }) => {
    if (msg.type === 'legs') sink.send({ type: 'legs', firstDueHrMs: msg.firstDueHrMs });
    if (msg.type !== 'phase') return;
    if (msg.phase === 'window-start') {
      probe.start();
      gen.send({ type: 'window', on: true });
      if (perfData && service.pid) perfDone = recordPerf(service.pid, opts.seconds, perfData).done;
    } else if (msg.phase === 'window-end') {
      probe.end();
      genWindow = request<GeneratorWindow>(gen, { type: 'window', on: false }, 'gen-window', 10000);
    }
  };
  service.on('message', onServiceMessage);
  const { window } = await request<{ window: ServiceWindow }>(service, { type: 'measure', warmup: opts.warmup, seconds: opts.seconds },
    'window', (opts.warmup + opts.seconds) * 1000 + 30000);
  service.off('message', onServiceMessage);
  const generatorWindow = genWindow ? await genWindow : undefined;
  return { window, generatorWindow, probe, perfDone };
}

function makeRow(n: number, setup: GeneratorSetup, status: ServiceStatus, service: CallsRow['service'],
  gw: GeneratorWindow | undefined, gh: GeneratorHangup, sink: SinkTotals, sinkCpuShare: number, stderr: string[], profiled: boolean,
  sinkEcho?: SinkEcho): CallsRow {
  const { window: w, final: f, memoryBefore: m0, memoryAfter: m1 } = service;
  const cpuS = (w.cpuUserUs + w.cpuSystemUs) / 1e6;
  const cpuShare = cpuS / w.windowSeconds;
  const calls = Math.max(1, w.calls);
  // RTP caller -> service, per call: what the generator sent vs what the service accepted.
  let rtpSent = 0;
  let rtpSentKnown = 0;
  let rtpReceived = 0;
  let rtpCallsWithLoss = 0;
  let rtpCallsUnknown = 0;
  let rtpBackSent = 0;
  let rtpBackReceived = 0;
  for (let leg = 0; leg < gh.sent.length; leg++) {
    const sent = gh.sent[leg]!;
    if (sent < 0) continue; // never came up
    const got = f.rtpReceived[leg] ?? -1;
    rtpSent += sent;
    if (got < 0) {
      rtpCallsUnknown++;
      continue;
    }
    rtpSentKnown += sent;
    rtpReceived += got;
    if (got !== sent) rtpCallsWithLoss++;
    rtpBackSent += f.rtpSent[leg] ?? 0;
    rtpBackReceived += gh.received[leg] ?? 0;
  }
  const rtpLate = sum(f.rtpLate);
  const wsSent = sum(f.binarySent);
  const wsDropped = sum(f.dropped);
  // The sink also got the warm-up calls' messages.
  const wsLost = wsSent + f.warmBinarySent - sink.binaryMessages;
  const rssKiB = (m1.rss - m0.rss) / calls / 1024;
  const generatorLimited = gw !== undefined && (Math.max(gw.lateMaxMs, gw.runLateMaxMs) > GENERATOR_LATE_MS || gw.skipped > 0);
  const waitShare = w.mainThreadRunQueueWaitS !== undefined ? w.mainThreadRunQueueWaitS / w.windowSeconds : NaN;
  const runWaitShare = w.runMainThreadRunQueueWaitS !== undefined && w.runSeconds > 0 ? w.runMainThreadRunQueueWaitS / w.runSeconds : NaN;
  const row: CallsRow = {
    n,
    windowSeconds: round(w.windowSeconds, 3),
    answered: setup.answered,
    setupFailures: setup.failures,
    streamsConnected: status.connected,
    setupSeconds: round(setup.setupMs / 1000, 2),
    setupP99Ms: round(setup.setupP99Ms, 1),
    cpuShare: round(cpuShare, 3),
    cpuSharePerCall: cpuShare / calls,
    cpuSecondsPerCallSecond: cpuS / (calls * w.windowSeconds),
    eventLoopUtilisation: round(w.elu, 3),
    rtpSent,
    rtpReceived,
    rtpLost: rtpSentKnown - rtpReceived,
    rtpLate,
    rtpCallsWithLoss,
    rtpCallsUnknown,
    rtpBackSent,
    rtpBackReceived,
    rtpBackLost: rtpBackSent - rtpBackReceived,
    wsFrames: sum(f.frames),
    wsSent,
    wsDropped,
    wsReceived: sink.binaryMessages - f.warmBinarySent,
    wsLost,
    wsWindowDeliveredShare: round(sink.windowBinaryMessages / ((calls * w.windowSeconds * 1000) / 20), 4),
    bytesPerMessage: sink.binaryMessages > 0 ? round(sink.binaryBytes / sink.binaryMessages, 1) : 0,
    skippedTicks: w.windowSkippedTicks,
    setupSkippedTicks: w.runSkippedTicks - w.windowSkippedTicks,
    gapFrames: w.windowGapFrames,
    delayP50Ms: round(w.delayP50, 2),
    delayP99Ms: round(w.delayP99, 2),
    delayP999Ms: round(w.delayP999, 2),
    delayMaxMs: round(w.delayMax, 2),
    clockLateP99Ms: round(w.clockLateP99, 2),
    arriveP50Ms: round(sink.arriveP50Ms, 2),
    arriveP99Ms: round(sink.arriveP99Ms, 2),
    rssKiBPerCall: round(rssKiB, 1),
    heapKiBPerCall: round((m1.heapUsed - m0.heapUsed) / calls / 1024, 1),
    externalKiBPerCall: round((m1.external - m0.external) / calls / 1024, 1),
    sinkCpuShare: round(sinkCpuShare, 3),
    generatorCpuShare: gw ? round(gw.cpuShare, 3) : NaN,
    generatorLateP99Ms: gw ? round(gw.lateP99Ms, 2) : NaN,
    generatorLateMaxMs: gw ? round(gw.lateMaxMs, 1) : NaN,
    generatorSkipped: gh.skipped,
    mainThreadWaitShare: round(waitShare, 3),
    runWaitShare: round(runWaitShare, 3),
    setupCpuMsPerCall: round(w.setupCpuUs / 1000 / calls, 2),
    otherCores: NaN,
    contended: waitShare > 0.1 || runWaitShare > 0.1,
    generatorLimited,
    saturated: cpuShare >= SATURATED_SHARE,
    held: false,
    misses: [],
    profiled,
    retry: false,
    pinning: 'none',
    service,
    generator: { setup, window: gw ?? ({} as GeneratorWindow), hangup: gh },
    sink,
    stderr,
  };
  const m: string[] = [];
  if (setup.answered < n) m.push(`${n - setup.answered} calls not set up`);
  if (status.connected < setup.answered) m.push(`${setup.answered - status.connected} streams not connected`);
  if (row.rtpLost !== 0) m.push(`${row.rtpLost} RTP lost (${rtpCallsWithLoss} calls)`);
  if (rtpCallsUnknown > 0) m.push(`RTP counters of ${rtpCallsUnknown} calls not seen`);

  if (row.rtpBackLost !== 0) m.push(`${row.rtpBackLost} RTP lost on the way back`);
  if (wsLost !== 0) m.push(`${wsLost} ws lost`);
  if (wsDropped !== 0) m.push(`${wsDropped} ws dropped`);
  if (w.windowSkippedTicks !== 0) m.push(`${w.windowSkippedTicks} ticks skipped`);
  if (w.windowGapFrames !== 0) m.push(`${w.windowGapFrames} gap frames`);
  if (sinkEcho) {
    const duplex = duplexFigures(w, f, gw, gh, sinkEcho);
    row.duplex = duplex.figures;
    m.push(...duplex.misses);
    dropMarkerTimes(gh, f);
    sinkEcho.markSentHrMs = [];
    row.sinkEcho = sinkEcho;
  }
  if (row.saturated) m.push(`saturated (${(cpuShare * 100).toFixed(0)}% of its core)`);
  row.misses = m;
  row.held = m.length === 0;
  return row;
}

function callsTable(rows: CallsRow[]): string {
  const head = ['N', 'setup s', 'CPU share', 'CPU/call', 'loop busy', 'RTP sent', 'RTP lost', 'late', 'back lost', 'ws sent', 'ws recv',
    'ws lost', 'dropped', 'skipped', 'gaps', 'p50 ms', 'p99 ms', 'max ms', 'arr p99', 'RSS KiB/call', 'sink CPU', 'gen CPU', 'gen late', 'wait', 'other', 'held'];
  const body = rows.map((r) => [
    `${r.n}${r.profiled ? ' (prof)' : r.retry ? ' (retry)' : ''}`,
    `${r.setupSeconds.toFixed(1)}${r.answered < r.n ? `(${r.answered})` : ''}`,
    `${(r.cpuShare * 100).toFixed(1)}%`,
    `${r.saturated ? '>=' : ''}${(r.cpuSharePerCall * 100).toFixed(3)}%`,
    `${(r.eventLoopUtilisation * 100).toFixed(1)}%`,
    String(r.rtpSent),
    String(r.rtpLost),
    String(r.rtpLate),
    String(r.rtpBackLost),
    String(r.wsSent),
    String(r.wsReceived),
    String(r.wsLost),
    String(r.wsDropped),
    `${r.setupSkippedTicks}/${r.skippedTicks}`,
    String(r.gapFrames),
    ms(r.delayP50Ms),
    ms(r.delayP99Ms),
    r.delayMaxMs.toFixed(1),
    ms(r.arriveP99Ms),
    ...rowTailCells(r),
  ]);
  return formatTable(head, body, 1);
}

/** The last cells of a calls or duplex row: RSS KiB/call, sink CPU, gen CPU, gen late, wait, other, held. */
export function rowTailCells(r: CallsRow): string[] {
  const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '?');
  return [
    r.rssKiBPerCall.toFixed(1),
    pct(r.sinkCpuShare),
    pct(r.generatorCpuShare),
    Number.isFinite(r.generatorLateMaxMs)
      ? `${Math.max(r.generatorLateMaxMs, r.generator.window.runLateMaxMs ?? 0).toFixed(0)}${r.generatorLimited ? '!' : ''}` : '?',
    Number.isFinite(r.mainThreadWaitShare)
      ? `${(r.mainThreadWaitShare * 100).toFixed(0)}/${Number.isFinite(r.runWaitShare) ? (r.runWaitShare * 100).toFixed(0) : '?'}%${r.contended ? '!' : ''}` : '?',
    Number.isFinite(r.otherCores) ? r.otherCores.toFixed(2) : '?',
    r.held ? 'yes' : `no: ${r.misses.join(', ')}`,
  ];
}

/** What the calls bench hands back to bench/run.ts: the lines to print and the JSON it wrote. */
export interface CallsReport {
  lines: string[];
  jsonPath: string;
}

export type PinFor = (label: string) => Promise<Pinning | undefined>;

export interface CallsProfile {
  n: number;
  file: string | undefined;
  row: CallsRow | undefined;
  summary: ProfileSummary | undefined;
  setup: ProfileSummary | undefined;
}

/** Which N held: the rows run, the largest N held, the first N that did not. */
export interface CallsSearch {
  rows: CallsRow[];
  lastHeld: CallsRow | undefined;
  firstFailed: number | undefined;
}

/**
 * N upward until one does not hold; a row that failed without saturating the service runs once
 * more (disturbed by other load, the generator late, a one-off stall); with `refine`, one more N
 * halfway between the last held and the first not held.
 */
export async function searchLargestHeld(ns: number[], opts: CallsOptions, pinFor: PinFor, duplex = false): Promise<CallsSearch> {
  const rows: CallsRow[] = [];
  const name = duplex ? 'duplex' : 'calls';
  const run = async (n: number, label: string): Promise<CallsRow | undefined> => {
    try {
      const row = await runCallsConfig(n, opts, label, await pinFor(label), undefined, duplex);
      rows.push(row);
      const disturbed = [row.contended ? 'service waited for its CPU' : '', row.generatorLimited ? 'generator late' : ''].filter(Boolean);
      process.stdout.write(`${label}: ${row.held ? 'held' : `not held: ${row.misses.join(', ')}`}` +
        `${disturbed.length ? ` (disturbed: ${disturbed.join(', ')})` : ''}\n`);
      return row;
    } catch (err) {
      process.stderr.write(`${label}: failed: ${(err as Error).message}\n`);
      return undefined;
    }
  };
  const tryN = async (n: number, label: string): Promise<CallsRow | undefined> => {
    const row = await run(n, label);
    if (!row || row.held || row.saturated || !opts.retry || row.cpuShare >= (opts.retryBelowShare ?? SATURATED_SHARE)) return row;
    const why = row.contended || row.generatorLimited ? 'the first run was disturbed' : 'once more before calling it';
    const again = await run(n, `${label} again (${why})`);
    if (!again) return row;
    again.retry = true;
    return again;
  };
  let lastHeld: CallsRow | undefined;
  let firstFailed: number | undefined;
  for (let i = 0; i < ns.length; i++) {
    const n = ns[i]!;
    const row = await tryN(n, `[${name} ${i + 1}/${ns.length}] N=${n}`);
    if (row?.held) {
      lastHeld = row;
      continue;
    }
    firstFailed = n;
    break;
  }
  if (opts.refine && firstFailed !== undefined && lastHeld && firstFailed - lastHeld.n >= 100) {
    const mid = Math.round((lastHeld.n + firstFailed) / 2 / 50) * 50;
    if (mid > lastHeld.n && mid < firstFailed) {
      const row = await tryN(mid, `[${name} refine] N=${mid}`);
      if (row?.held) lastHeld = row;
    }
  }
  return { rows, lastHeld, firstFailed };
}

/** The profiled runs: the service under --cpu-prof (and perf when there), at the N asked or the largest held. */
export async function profileCalls(opts: CallsOptions, stamp: string, fallbackN: number, pinFor: PinFor, duplex = false): Promise<CallsProfile[]> {
  const profiles: CallsProfile[] = [];
  const kind = duplex ? 'duplex' : 'calls';
  for (const p of opts.profile) {
    const n = p === 'held' ? fallbackN : p;
    const name = `cpu-${stamp}-${kind}-n${n}.cpuprofile.json`;
    const label = `[${kind} profile] N=${n}`;
    try {
      const dir = mkdtempSync(join(tmpdir(), 'audio-stream-bench-prof-'));
      const pin = await pinFor(label);
      // Only the sink and the generator are pinned: V8's sampling thread needs a core besides the service's.
      const row = await runCallsConfig(n, opts, label, pin ? { worker: undefined, sink: pin.sink, generator: pin.generator } : undefined, dir, duplex);
      const file = takeMainProfile(dir, join(RESULTS_DIR, name));
      const w = row.service.window;
      const summary = file ? summariseProfile(file, ROOT, { fromUs: w.windowStartHrUs, toUs: w.windowEndHrUs }) : undefined;
      const setup = file && w.runStartHrUs > 0 ? summariseProfile(file, ROOT, { fromUs: w.runStartHrUs, toUs: w.setupEndHrUs }) : undefined;
      profiles.push({ n, file: file ? join('bench', 'results', name) : undefined, row, summary, setup });
    } catch (err) {
      process.stderr.write(`${label}: failed: ${(err as Error).message}\n`);
    }
  }
  return profiles;
}

const LEGEND = [
  'CPU share: CPU (user+system, all threads) of the service process during the window, of one core; CPU/call: the same per call.',
  'RTP sent: packets the generator sent (whole run); RTP lost: sent - packets the service accepted (per call, from its hangup',
  'counters); late: accepted after their playout time (whole run, setup included); back lost: packets the service sent -',
  'packets the generator got back.',
  'ws sent: audio messages the streams handed to ws (640 bytes = 20 ms each); ws recv: the sink\'s count; ws lost = sent - recv;',
  'dropped: messages the engine dropped itself. skipped: media clock ticks skipped (fell > 200 ms behind) before the window',
  '(call setup, warm-up) / during it; gaps: frames the streams got as silence instead of the caller\'s audio during the window.',
  'p50/p99/max: frame due time -> message handed to ws (StreamMetrics.sendDelay) during the window; arr p99: due time -> sink arrival.',
  'RSS KiB/call: (RSS with every call up - RSS before the first call, both after gc, 20 warm-up calls gone) / N.',
  `gen CPU: the generator's CPU in the window; gen late: the latest its packets went out over the run, ms (! = over ${GENERATOR_LATE_MS} ms`,
  'or packets skipped: the load side may be the limit). wait: window/whole-run share the service\'s main thread waited for its CPU',
  '(! = over 10%: disturbed by other load); other: cores used by everything else meanwhile.',
  'Held: every call set up and streamed; nothing lost over the whole run (RTP either way, ws messages, drops); during the',
  'window no tick skipped, no gap and service CPU < 95%. Setup (its skipped ticks and late packets) is reported, not judged.',
];

/** The largest N held and what it costs, the goal, the RSS slope and the disturbed rows, as lines. */
function summaryLines(search: CallsSearch, measured: CallsRow[], opts: CallsOptions): { lines: string[]; goalMet: boolean } {
  const out: string[] = [];
  const { lastHeld: largest, firstFailed } = search;
  const tried = [...new Set(measured.map((r) => r.n))];
  if (largest) {
    const perCall = largest.cpuSharePerCall;
    out.push(`Largest N held: ${largest.n} calls (tried ${tried.join(', ')}${firstFailed !== undefined ? `; N=${firstFailed} did not hold` : '; every N held'}). ` +
      `At N=${largest.n}: CPU ${(perCall * 100).toFixed(3)}% of a core per call (${(largest.cpuSecondsPerCallSecond * 1e6 / 50).toFixed(1)} us per 20 ms packet time) ` +
      `-> about ${Math.floor(1 / perCall)} calls per core (CPU only), RSS ${largest.rssKiBPerCall.toFixed(1)} KiB per call, ` +
      `send delay p50 ${ms(largest.delayP50Ms)} / p99 ${ms(largest.delayP99Ms)} ms. ` +
      `Setup at ${opts.rate} calls/s: ${largest.setupCpuMsPerCall.toFixed(1)} ms service CPU per call, INVITE->200 p99 ${largest.setupP99Ms.toFixed(0)} ms, ` +
      `${largest.setupSkippedTicks} ticks skipped, ${largest.rtpLate} RTP packets late.`);
  } else {
    out.push(`Largest N held: none (tried ${tried.join(', ') || 'nothing'}).`);
  }
  const goalRow = measured.filter((r) => r.n >= CALLS_GOAL.calls && r.held).sort((a, b) => a.n - b.n)[0];
  const atGoal = measured.filter((r) => r.n === CALLS_GOAL.calls).at(-1);
  const goalMisses: string[] = [];
  if (!goalRow) {
    goalMisses.push(atGoal ? `N=${CALLS_GOAL.calls} did not hold: ${atGoal.misses.join(', ')}; its RSS ${atGoal.rssKiBPerCall.toFixed(0)} KiB per call`
      : `${CALLS_GOAL.calls} calls did not hold${measured.some((r) => r.n >= CALLS_GOAL.calls) ? '' : ' (not tried)'}`);
    if (largest) goalMisses.push(`needs ${((largest.cpuSharePerCall * CALLS_GOAL.calls) * 100).toFixed(0)}% of a core at the CPU per call of N=${largest.n}`);
  } else if (goalRow.rssKiBPerCall >= CALLS_GOAL.rssKiBPerCallMax) goalMisses.push(`${goalRow.rssKiBPerCall.toFixed(0)} KiB per call`);
  out.push(`Goal: ${CALLS_GOAL.calls} concurrent streamed calls on one core, < ${CALLS_GOAL.rssKiBPerCallMax} KiB RSS per call: ` +
    `${goalMisses.length === 0 ? `MET (N=${goalRow!.n}: ${(goalRow!.cpuShare * 100).toFixed(0)}% of the core, ${goalRow!.rssKiBPerCall.toFixed(0)} KiB per call)` : `NOT MET (${goalMisses.join(', ')})`}.`);
  // Marginal memory: the RSS slope between the two largest unsaturated rows with every call up (fixed costs such as V8's young
  // generation, which grows with the allocation rate, weigh on the average at small N).
  const kept = measured.filter((r) => r.answered === r.n && r.streamsConnected >= r.n && !r.saturated);
  const byN = [...new Map(kept.map((r) => [r.n, r])).values()].sort((a, b) => a.n - b.n);
  if (byN.length >= 2) {
    const [a, b] = byN.slice(-2) as [CallsRow, CallsRow];
    const rssA = a.service.memoryAfter.rss - a.service.memoryBefore.rss;
    const rssB = b.service.memoryAfter.rss - b.service.memoryBefore.rss;
    out.push(`RSS slope: ${((rssB - rssA) / (b.n - a.n) / 1024).toFixed(1)} KiB per extra call between N=${a.n} and N=${b.n} ` +
      `(fixed part about ${((rssA - ((rssB - rssA) / (b.n - a.n)) * a.n) / 2 ** 20).toFixed(1)} MiB).`);
  }
  const disturbed = measured.filter((r) => r.contended || r.generatorLimited);
  if (disturbed.length) {
    out.push(`${disturbed.length} of ${measured.length} rows were disturbed (${disturbed.map((r) => `N=${r.n}: ${[r.contended ? 'wait > 10%' : '', r.generatorLimited ? 'generator late' : ''].filter(Boolean).join(', ')}`).join('; ')}); ` +
      'their losses and latency may not be the service\'s own.');
  }
  return { lines: out, goalMet: goalMisses.length === 0 };
}

/** Where the time went in the profiled runs, as lines. */
export function profileLines(profiles: CallsProfile[], opts: CallsOptions): string[] {
  const out: string[] = [];
  for (const p of profiles) {
    if (!p.summary) continue;
    const kind = p.row?.duplex ? 'duplex calls' : 'calls';
    out.push('');
    out.push(printProfile(`${kind} N=${p.n}, profile ${p.file ?? '?'}`, p.summary));
    if (p.row) {
      out.push(`  (profile busy ${(p.summary.busyMs / 1000).toFixed(1)} s vs event loop busy ${(p.row.eventLoopUtilisation * p.row.windowSeconds).toFixed(1)} s` +
        ` and CPU ${(p.row.cpuShare * p.row.windowSeconds).toFixed(1)} s in the window)`);
      out.push(`  (the profiled run itself: CPU share ${(p.row.cpuShare * 100).toFixed(1)}%, p99 ${p.row.delayP99Ms} ms, ` +
        `${p.row.held ? 'held' : `not held: ${p.row.misses.join(', ')}`} - not in the table: the profiler adds overhead)`);
    }
    if (p.row?.perf) {
      out.push('');
      out.push(printPerf(`${kind} N=${p.n}`, p.row.perf));
    }
    if (p.setup && p.row) {
      const s = p.setup;
      out.push('');
      out.push(`Where the setup time goes: ${kind} N=${p.n} (first INVITE to every call answered and its stream connected: ` +
        `${(s.sampledMs / 1000).toFixed(1)} s sampled, ${(s.busyMs / 1000).toFixed(1)} s busy; ${p.row.setupCpuMsPerCall.toFixed(1)} ms CPU per call ` +
        `at ${opts.rate} calls/s, media of the calls already up included)`);
      out.push(`  by area: ${s.byArea.slice(0, 6).map((a) => `${a.area} ${a.selfPct.toFixed(1)}%`).join(', ')}`);
      out.push('  top functions by self time:');
      for (const f of s.topSelf.slice(0, 10)) out.push(`    ${f.selfPct.toFixed(1).padStart(5)}%  ${f.function}  ${f.file}`);
      out.push('  engine (src/) functions by inclusive time:');
      for (const f of s.topTotal.filter((t) => t.file.startsWith('src/')).slice(0, 12)) {
        out.push(`    ${f.totalPct.toFixed(1).padStart(5)}%  ${f.function}  ${f.file}  (self ${f.selfPct.toFixed(1)}%)`);
      }
    }
  }
  return out;
}

/**
 * Runs the calls benchmark: N upward until one does not hold (one retry when that row was
 * disturbed; with `refine`, one more N halfway), then the profiled runs; returns the printout.
 */
export async function runCallsBench(opts: CallsOptions, stamp: string, argv: string[], pinFor: PinFor, quietBudget: { ms: number }): Promise<CallsReport & { rows: CallsRow[] }> {
  const startedAt = new Date();
  const ns = [...new Set(opts.ns)].sort((a, b) => a - b);
  process.stdout.write(`\ncalls bench: N = ${ns.join(', ')} (upward until one does not hold), PCMU 20 ms, mono 16k streams, ` +
    `deflate off, ${opts.rate} calls/s setup, ${opts.seconds} s windows\n`);
  const search = await searchLargestHeld(ns, opts, pinFor);
  const profiles = await profileCalls(opts, stamp, search.lastHeld?.n ?? ns[0]!, pinFor);
  const measured = search.rows.filter((r) => !r.profiled);
  const summary = summaryLines(search, measured, opts);
  const out = [
    '', 'Calls: N concurrent PCMU calls over loopback (SIP + RTP from bench/load/calls-generator.ts), each streamed mono 16k to the sink',
    callsTable(measured), '', ...LEGEND, ...summary.lines, ...profileLines(profiles, opts),
  ];
  const jsonName = `calls-${stamp}.json`;
  const report = {
    benchmark: 'audio-stream: N concurrent PCMU calls (SIP/RTP over loopback), each streamed mono 16 kHz (20 ms messages, deflate off) to a WebSocket sink in another process',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    argv,
    machine: machineFacts(),
    settings: {
      service: 'bench/load/calls-service.ts: buildConfig + Runtime + SipHost as `audio-stream serve`; route answer, set STREAM_MESSAGE_DEFLATE=true, audio_stream start <sink> mono 16k, park',
      generator: 'bench/load/calls-generator.ts: SIP UAC over UDP, one RTP socket per call, PCMU 20 ms speech-like audio from one timer (20 phases)',
      ns, seconds: opts.seconds, warmupSeconds: opts.warmup, setupRatePerSecond: opts.rate, refine: opts.refine, retry: opts.retry,
      pinning: canPin ? 'service on one CPU, sink and generator on another (per row: rows[].pinning)' : 'none',
      saturatedAtCpuShare: SATURATED_SHARE, generatorLateMs: GENERATOR_LATE_MS, quietWaitLeftSeconds: Math.round(quietBudget.ms / 1000),
    },
    goal: CALLS_GOAL,
    largestHeld: search.lastHeld?.n ?? 0,
    firstNotHeld: search.firstFailed ?? null,
    goalMet: summary.goalMet,
    rows: search.rows,
    profiles,
  };
  writeFileSync(join(RESULTS_DIR, jsonName), `${JSON.stringify(report, null, 2)}\n`);
  return { lines: out, jsonPath: join('bench', 'results', jsonName), rows: measured };
}
