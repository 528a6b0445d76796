// The duplex calls benchmark (part of `npm run bench`, bench/run.ts runs it; --duplex picks it): the
// calls benchmark's N concurrent PCMU calls (bench/load/calls.ts: the same three fresh processes per
// N), in full duplex. The route also sets STREAM_SAMPLE_RATE=16000, the stream's rate, and the sink is
// the bot: it sends every binary message straight back (bench/load/sink.ts --echo), so the service
// resamples each 20 ms reply to 8 kHz, queues it for playback and sends it to the caller as PCMU.
// The generator marks its audio once a second per call (bench/load/marker.ts) and times the markers
// through (bot -> service -> generator, all on process.hrtime); bench/load/echo.ts has a row's
// figures of that direction.
//
// It searches N upward as the calls benchmark does (without the refining step by default, and no
// rerun of a row that failed at 85% of its core or more: each row takes about 18 s), a row held when
// nothing was lost either way, then runs one one-way row (the calls
// benchmark's configuration) at the largest duplex N held, right after, so that the cost per call is
// compared in the same conditions: on a shared VM two rows minutes apart differ by up to 20%. The
// calls benchmark's rows of the same run at the same N are compared too, for reference.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  runCallsConfig, searchLargestHeld, profileCalls, profileLines, rowTailCells, type CallsOptions, type CallsRow, type CallsSearch, type PinFor,
} from './calls.ts';
import { RESULTS_DIR, canPin, formatTable, machineFacts, ms } from './harness.ts';
import { MARKER_PERIOD } from './marker.ts';

export const DEFAULT_DUPLEX_NS = [100, 200, 300];
/** The duplex rows' window (s): shorter than the calls benchmark's 10 s so that the duplex calls add about 1.5 minutes. */
export const DEFAULT_DUPLEX_SECONDS = 8;
/** A duplex row that did not hold at this share of its core or more is not run again (near saturation: a rerun would not hold either). */
export const DUPLEX_RETRY_BELOW_SHARE = 0.85;
export const QUICK_DUPLEX_NS = [100];
/** The issue's goal: a full-duplex call costs at most 1.5 times a one-way streamed call. */
export const DUPLEX_GOAL = { cpuRatioMax: 1.5 };

export interface DuplexOptions extends CallsOptions {
  /** Run a one-way row at the largest duplex N held (else the first N), right after the duplex rows. */
  compare: boolean;
}

/** One N measured both ways: the cost of full duplex over a one-way stream. */
export interface DuplexComparison {
  n: number;
  /** Where the one-way row came from: run here right after the duplex rows, or the calls benchmark of the same run (earlier). */
  oneWaySource: 'compare run' | 'calls bench';
  oneWayHeld: boolean;
  duplexHeld: boolean;
  /** A saturated row's CPU per call is a lower bound (its share was capped by the core). */
  oneWaySaturated: boolean;
  duplexSaturated: boolean;
  oneWayCpuPerCall: number;
  duplexCpuPerCall: number;
  cpuRatio: number;
  /** The same split into user and system time (share of one core per call): the system time is the noisier. */
  oneWayUserPerCall: number;
  oneWaySystemPerCall: number;
  duplexUserPerCall: number;
  duplexSystemPerCall: number;
  oneWayRssKiBPerCall: number;
  duplexRssKiBPerCall: number;
  rssRatio: number;
  /** The bot's and the generator's CPU (one core's share) in both rows: the load side's. */
  oneWaySinkCpu: number;
  duplexSinkCpu: number;
}

const pct = (x: number, digits: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : '?');
const lat = (p50: number, p99: number) => (Number.isFinite(p50) ? `${p50.toFixed(1)}/${p99.toFixed(1)}` : '?');

function duplexTable(rows: CallsRow[]): string {
  const head = ['N', 'setup s', 'CPU share', 'CPU/call', 'loop busy', 'RTP lost', 'back lost', 'ws sent', 'ws lost', 'echo sent', 'not played',
    'echo RTP', 'echo lost', 'underruns', 'dry back', 'markers', 'bot>out p50/p99', 'bot>gen p50/p99', 'rtt p50/p99', 'queue p50/max',
    'skipped', 'gaps', 'RSS KiB/call', 'sink CPU', 'gen CPU', 'gen late', 'wait', 'other', 'held'];
  const body = rows.map((r) => {
    const d = r.duplex;
    return [
      `${r.n}${r.profiled ? ' (prof)' : r.retry ? ' (retry)' : ''}`,
      `${r.setupSeconds.toFixed(1)}${r.answered < r.n ? `(${r.answered})` : ''}`,
      pct(r.cpuShare, 1),
      `${r.saturated ? '>=' : ''}${(r.cpuSharePerCall * 100).toFixed(3)}%`,
      pct(r.eventLoopUtilisation, 1),
      String(r.rtpLost),
      String(r.rtpBackLost),
      String(r.wsSent),
      String(r.wsLost),
      d ? String(d.botEchoed) : '?',
      d ? String(d.echoNotPlayed) : '?',
      d ? String(d.echoReceived) : '?',
      d ? String(d.echoRtpLost) : '?',
      d ? String(d.underruns) : '?',
      d ? String(d.silentPacketsBack + d.partialPacketsBack) : '?',
      d ? `${d.markersBack}/${d.markersSent}` : '?',
      d ? lat(d.botToServiceOut.p50Ms, d.botToServiceOut.p99Ms) : '?',
      d ? lat(d.botToGenerator.p50Ms, d.botToGenerator.p99Ms) : '?',
      d ? lat(d.roundTrip.p50Ms, d.roundTrip.p99Ms) : '?',
      d && Number.isFinite(d.queuedP50Ms) ? `${d.queuedP50Ms}/${d.queuedMaxMs}` : '?',
      `${r.setupSkippedTicks}/${r.skippedTicks}`,
      String(r.gapFrames),
      ...rowTailCells(r),
    ];
  });
  return formatTable(head, body, 1);
}

const LEGEND = [
  'The calls benchmark\'s columns (see its legend) plus the way back. CPU share / CPU/call: the service during the window.',
  'echo sent: binary messages the bot sent back (whole run, 640 bytes = 20 ms at 16 kHz each); not played: echo sent + resampler',
  'tails queued - frames the service\'s playback gave RTP (each message is one 20 ms frame at 8 kHz, each tail queued when a call',
  'ran dry one more; the bot stops echoing and the queues drain before the count). echo RTP: packets with audio (a payload that is',
  'not all μ-law zero) the generator got back; echo lost: frames with audio the service sent - echo RTP. underruns: ticks of the',
  'window that began with less than a frame queued once the call\'s echo had started (the reply came back after the packet time);',
  'dry back: packets the generator got during the window that were silence or ended in silence (16+ samples of μ-law zero).',
  `markers: markers (a 1 kHz tone burst over the speech, one per call every ${MARKER_PERIOD * 20} ms) sent by the generator during the window`,
  'that came back / sent. bot>out: the bot\'s send of the message carrying a marker\'s onset -> the service\'s tick that hands the',
  'packet carrying it to RTP (the bench\'s tap); bot>gen: the same -> the packet\'s arrival at the generator; rtt: the generator\'s',
  'send of the marker -> its echo back (the caller\'s mouth to ear: playout delay, stream, bot, playback), ms, process.hrtime.',
  'queue: audio waiting in the calls\' playback queues at the end of the window (ms, p50/max): every echoed message waits behind it.',
  'Held: everything the calls benchmark holds to, and both ways nothing lost: every message echoed played, every frame played',
  'received, no underrun, no dry packet back, every marker back, nothing refused, no xoff.',
];

/** User and system CPU of the service during a row's window, share of one core per call. */
function cpuSplit(r: CallsRow): { user: number; system: number } {
  const w = r.service.window;
  const per = Math.max(1, w.calls) * w.windowSeconds * 1e6;
  return { user: w.cpuUserUs / per, system: w.cpuSystemUs / per };
}

/**
 * One-way vs duplex per call, at every N measured both ways (the last duplex row of each N: a retry
 * replaces the first run), the compare run first, then the calls benchmark's row at that N.
 */
function compare(duplexRows: CallsRow[], oneWay: Array<{ row: CallsRow; source: DuplexComparison['oneWaySource'] }>): DuplexComparison[] {
  const out: DuplexComparison[] = [];
  for (const n of [...new Set(duplexRows.map((r) => r.n))].sort((a, b) => a - b)) {
    const d = duplexRows.filter((r) => r.n === n).at(-1)!;
    for (const source of ['compare run', 'calls bench'] as const) {
      const o = oneWay.filter((x) => x.row.n === n && x.source === source).at(-1);
      if (o) out.push(comparison(n, d, o.row, source));
    }
  }
  return out;
}

function comparison(n: number, d: CallsRow, o: CallsRow, source: DuplexComparison['oneWaySource']): DuplexComparison {
  const ds = cpuSplit(d);
  const os = cpuSplit(o);
  return {
    n,
    oneWaySource: source,
    oneWayHeld: o.held,
    duplexHeld: d.held,
    oneWaySaturated: o.saturated,
    duplexSaturated: d.saturated,
    oneWayCpuPerCall: o.cpuSharePerCall,
    duplexCpuPerCall: d.cpuSharePerCall,
    cpuRatio: d.cpuSharePerCall / o.cpuSharePerCall,
    oneWayUserPerCall: os.user,
    oneWaySystemPerCall: os.system,
    duplexUserPerCall: ds.user,
    duplexSystemPerCall: ds.system,
    oneWayRssKiBPerCall: o.rssKiBPerCall,
    duplexRssKiBPerCall: d.rssKiBPerCall,
    rssRatio: d.rssKiBPerCall / o.rssKiBPerCall,
    oneWaySinkCpu: o.sinkCpuShare,
    duplexSinkCpu: d.sinkCpuShare,
  };
}

function summaryLines(search: CallsSearch, measured: CallsRow[], comparisons: DuplexComparison[]): string[] {
  const out: string[] = [];
  const { lastHeld: largest, firstFailed } = search;
  const tried = [...new Set(measured.map((r) => r.n))];
  if (largest) {
    const d = largest.duplex!;
    out.push(`Largest N held in full duplex: ${largest.n} calls (tried ${tried.join(', ')}${firstFailed !== undefined ? `; N=${firstFailed} did not hold` : '; every N held'}). ` +
      `At N=${largest.n}: CPU ${(largest.cpuSharePerCall * 100).toFixed(3)}% of a core per call (${(largest.cpuSecondsPerCallSecond * 1e6 / 50).toFixed(1)} us per 20 ms packet time) ` +
      `-> about ${Math.floor(1 / largest.cpuSharePerCall)} duplex calls per core (CPU only), RSS ${largest.rssKiBPerCall.toFixed(1)} KiB per call; ` +
      `reply latency (bot's send -> RTP out of the service) p50 ${ms(d.botToServiceOut.p50Ms)} / p99 ${ms(d.botToServiceOut.p99Ms)} ms, ` +
      `-> arrival at the caller p50 ${ms(d.botToGenerator.p50Ms)} / p99 ${ms(d.botToGenerator.p99Ms)} ms (${d.botToGenerator.count} markers), ` +
      `behind a standing playback backlog of ${d.queuedP50Ms} ms (p50; max ${d.queuedMaxMs} ms) per call.`);
  } else {
    out.push(`Largest N held in full duplex: none (tried ${tried.join(', ') || 'nothing'}).`);
  }
  if (comparisons.length === 0) {
    out.push('One-way vs duplex: no N measured both ways in this run.');
    return out;
  }
  out.push('One-way vs duplex per call (same N, same run; service CPU of one core, RSS after gc):');
  const head = ['N', 'one-way CPU/call', 'duplex CPU/call', 'CPU ratio', 'user 1w/dx', 'sys 1w/dx', 'one-way RSS KiB', 'duplex RSS KiB', 'RSS ratio',
    'sink CPU 1w/dx', 'held 1w/dx', 'one-way row'];
  const body = comparisons.map((c) => [
    String(c.n),
    `${c.oneWaySaturated ? '>=' : ''}${(c.oneWayCpuPerCall * 100).toFixed(3)}%`,
    `${c.duplexSaturated ? '>=' : ''}${(c.duplexCpuPerCall * 100).toFixed(3)}%`,
    `${c.cpuRatio.toFixed(2)}x`,
    `${(c.oneWayUserPerCall * 100).toFixed(3)}/${(c.duplexUserPerCall * 100).toFixed(3)}%`,
    `${(c.oneWaySystemPerCall * 100).toFixed(3)}/${(c.duplexSystemPerCall * 100).toFixed(3)}%`,
    c.oneWayRssKiBPerCall.toFixed(1),
    c.duplexRssKiBPerCall.toFixed(1),
    `${c.rssRatio.toFixed(2)}x`,
    `${pct(c.oneWaySinkCpu, 0)}/${pct(c.duplexSinkCpu, 0)}`,
    `${c.oneWayHeld ? 'yes' : 'no'}/${c.duplexHeld ? 'yes' : 'no'}`,
    c.oneWaySource,
  ]);
  out.push(formatTable(head, body, 1));
  // The goal is judged on the compare run (the one-way row run right after the duplex rows), else the
  // largest N both held, else the largest N measured both ways unsaturated.
  const at = comparisons.filter((c) => c.oneWaySource === 'compare run').at(-1)
    ?? comparisons.filter((c) => c.oneWayHeld && c.duplexHeld).at(-1)
    ?? comparisons.filter((c) => !c.oneWaySaturated && !c.duplexSaturated).at(-1) ?? comparisons.at(-1)!;
  out.push(`Goal: a duplex call within ${DUPLEX_GOAL.cpuRatioMax}x the CPU of a one-way streamed call: ` +
    `${at.cpuRatio <= DUPLEX_GOAL.cpuRatioMax ? 'MET' : 'NOT MET'} (N=${at.n}, ${at.oneWaySource}: ${at.cpuRatio.toFixed(2)}x CPU, ${at.rssRatio.toFixed(2)}x RSS per call` +
    `${at.oneWaySaturated || at.duplexSaturated ? '; a saturated row: its CPU per call is a lower bound' : ''}).`);
  return out;
}

/** What the duplex bench hands back to bench/run.ts: the lines to print and the JSON it wrote. */
export interface DuplexReport {
  lines: string[];
  jsonPath: string;
}

/**
 * Runs the duplex calls benchmark: N upward until one does not hold (the calls benchmark's search),
 * the profiled runs, then the comparison with the one-way rows (`oneWayRows`, the calls benchmark of
 * the same run; with `compare`, one one-way row at the largest duplex N held when there is none).
 */
export async function runDuplexBench(opts: DuplexOptions, stamp: string, argv: string[], pinFor: PinFor, quietBudget: { ms: number },
  oneWayRows: CallsRow[]): Promise<DuplexReport> {
  const startedAt = new Date();
  const ns = [...new Set(opts.ns)].sort((a, b) => a - b);
  process.stdout.write(`\nduplex calls bench: N = ${ns.join(', ')} (upward until one does not hold), PCMU 20 ms, mono 16k streams, ` +
    `STREAM_SAMPLE_RATE=16000, the bot echoing every message, ${opts.rate} calls/s setup, ${opts.seconds} s windows\n`);
  const search = await searchLargestHeld(ns, { ...opts, retryBelowShare: opts.retryBelowShare ?? DUPLEX_RETRY_BELOW_SHARE }, pinFor, true);
  const measured = search.rows.filter((r) => !r.profiled);
  const oneWay: Array<{ row: CallsRow; source: DuplexComparison['oneWaySource'] }> = oneWayRows.filter((r) => !r.profiled)
    .map((row) => ({ row, source: 'calls bench' }));
  const compareN = search.lastHeld?.n ?? measured[0]?.n;
  const compareRuns: CallsRow[] = [];
  if (opts.compare && compareN !== undefined) {
    const label = `[duplex compare] one-way N=${compareN}`;
    try {
      const row = await runCallsConfig(compareN, opts, label, await pinFor(label));
      process.stdout.write(`${label}: ${row.held ? 'held' : `not held: ${row.misses.join(', ')}`}\n`);
      compareRuns.push(row);
      oneWay.push({ row, source: 'compare run' });
    } catch (err) {
      process.stderr.write(`${label}: failed: ${(err as Error).message}\n`);
    }
  }
  const profiles = await profileCalls(opts, stamp, search.lastHeld?.n ?? ns[0]!, pinFor, true);
  const comparisons = compare(measured, oneWay);
  const out = [
    '', 'Duplex calls: N concurrent PCMU calls, each streamed mono 16k to the bot, which echoes every message back (binary, 16 kHz); the service plays it to the caller',
    duplexTable(measured), '', ...LEGEND, ...summaryLines(search, measured, comparisons), ...profileLines(profiles, opts),
  ];
  const jsonName = `duplex-${stamp}.json`;
  const report = {
    benchmark: 'audio-stream: N concurrent PCMU calls (SIP/RTP over loopback) in full duplex: each streamed mono 16 kHz to a WebSocket bot that echoes every 20 ms message back as binary (STREAM_SAMPLE_RATE=16000), played to the caller',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    argv,
    machine: machineFacts(),
    settings: {
      service: 'bench/load/calls-service.ts --duplex: the calls route plus set STREAM_SAMPLE_RATE=16000; the tap reads the write direction',
      bot: 'bench/load/sink.ts --echo: every binary message sent back at once, unchanged',
      generator: `bench/load/calls-generator.ts --duplex: the calls generator plus a 1 kHz marker (2 packets) per call every ${MARKER_PERIOD} packets; sorts what comes back (audio / silence)`,
      ns, seconds: opts.seconds, warmupSeconds: opts.warmup, setupRatePerSecond: opts.rate, refine: opts.refine, retry: opts.retry,
      retryBelowShare: opts.retryBelowShare ?? DUPLEX_RETRY_BELOW_SHARE, compare: opts.compare,
      pinning: canPin ? 'service on one CPU, sink and generator on another (per row: rows[].pinning)' : 'none',
      quietWaitLeftSeconds: Math.round(quietBudget.ms / 1000),
    },
    goal: DUPLEX_GOAL,
    largestHeld: search.lastHeld?.n ?? 0,
    firstNotHeld: search.firstFailed ?? null,
    comparisons,
    rows: search.rows,
    oneWayCompareRows: compareRuns,
    profiles,
  };
  writeFileSync(join(RESULTS_DIR, jsonName), `${JSON.stringify(report, null, 2)}\n`);
  return { lines: out, jsonPath: join('bench', 'results', jsonName) };
}
