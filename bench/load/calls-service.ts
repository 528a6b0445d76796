// The measured process of one calls-benchmark configuration: the SIP/RTP service built as
// `audio-stream serve` builds it (buildConfig -> Runtime -> SipHost), with one route that answers,
// turns deflate off and streams `mono 16k` to the sink, then parks. bench/calls.ts forks it
// (node --expose-gc --import tsx bench/calls-service.ts --url ws://127.0.0.1:<port>/calls) once per
// configuration; the calls come from bench/calls-generator.ts in another process.
//
// IPC, parent -> this process:
//   { type: 'status' }                     -> { type: 'status', ...ServiceStatus } (the measured calls only)
//   { type: 'baseline' }                   -> once the warm-up calls are gone: gc, memory before; { type: 'baseline', memory }
//   { type: 'measure', warmup, seconds }   -> phases 'window-start' / 'window-end', a { type: 'legs' }
//                                             message for the sink, then { type: 'window', window: ServiceWindow }
//   { type: 'memory' }                     -> gc, memory with every call up (the callers' RTP stopped, so the
//                                             gc pause cannot make packets late); { type: 'memory', memory }
//   { type: 'collect' }                    -> starts reading the per-call RTP counters (see below); { type: 'collecting' }
//   { type: 'final', timeoutMs }           -> waits for every call to end and every stream to finish;
//                                             { type: 'final', final: ServiceFinal }
//   { type: 'exit' }                       -> closes the SIP host and exits.
//
// Per-call RTP counters: src/call/sip-call.ts keeps its RtpSession private and only reports its
// counters in the info line it logs at hangup ("hangup <cause>: rtp received R, lost L, late T, ...,
// sent S, ..."), so this process reads that line through the public addLogSink() for the teardown
// only. The call's leg index is its From user (the generator's choice), and its Call-ID is
// bench-<leg>-<random>, which is in the logger scope `sip(<Call-ID>)`. Legs from WARM_BASE on are
// the generator's warm-up calls: kept out of every per-call number (their messages are in the
// sink's count, so their totals are reported apart).
import { mkdtempSync, rmSync } from 'node:fs';
import { send, sleep, hrUs, collect, schedstat } from './measure.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setLogLevel, addLogSink } from '../src/lib/logger.ts';
import { Runtime, serviceApplications } from '../src/service/runtime.ts';
import { buildConfig } from '../src/config/load.ts';
import { createSipHost } from '../src/service/service.ts';
import type { Channel } from '../src/channel/channel.ts';
import type { MediaBug } from '../src/bug/media-bug.ts';
import type { AudioStream } from '../src/audio-stream/audio-stream.ts';
import { LatencyHistogram } from '../src/lib/histogram.ts';

/** Legs from here on are warm-up calls (bench/calls-generator.ts). */
const WARM_BASE = 100000;

/** Memory of the process (process.memoryUsage after a forced gc). */
export interface ServiceMemory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** Live numbers the parent polls while calls are being set up. */
export interface ServiceStatus {
  /** Calls the SIP host holds now. */
  calls: number;
  /** CHANNEL_ANSWER events, streams started (audio_stream executed), connect and error events, hangups. */
  answered: number;
  streamsStarted: number;
  connected: number;
  connectErrors: number;
  hungUp: number;
}

/** What the service measured over the window. */
export interface ServiceWindow {
  windowSeconds: number;
  windowStartHrUs: number;
  windowEndHrUs: number;
  /** CPU of this process (all threads) during the window, µs, and the main thread's event-loop utilisation. */
  cpuUserUs: number;
  cpuSystemUs: number;
  elu: number;
  /** Calls held and streams open at the start of the window. */
  calls: number;
  streamsOpen: number;
  /** Audio messages handed to ws and dropped during the window. */
  windowSent: number;
  windowDropped: number;
  /** Frames the channels processed during the window (one per call per 20 ms when keeping up). */
  windowFrames: number;
  /** streamMetrics.sendDelay over the window, ms. */
  delayP50: number;
  delayP99: number;
  delayP999: number;
  delayMax: number;
  delayCount: number;
  /** How late the media clock ran (once per cohort tick, seen from inside the call's tick), ms. */
  clockLateP50: number;
  clockLateP99: number;
  clockLateMax: number;
  /** Media clock ticks skipped (fell > 2 periods behind) during the window, and from the baseline (setup included) to the end of the window. */
  windowSkippedTicks: number;
  runSkippedTicks: number;
  /** Frames the streams got during the window that were silence instead of the caller's audio (playout gaps: late or missing RTP). */
  windowGapFrames: number;
  /** Frames with no audio at all yet (the call's RTP had not started) during the window. */
  windowNoAudioFrames: number;
  rssEndOfWindow: number;
  gcAvailable: boolean;
  /** Main thread during the window: seconds on a CPU and runnable-but-waiting (Linux schedstat). */
  mainThreadOnCpuS: number | undefined;
  mainThreadRunQueueWaitS: number | undefined;
  /** The same from the first call to the end of the window (call setup included), and how long that was. */
  runSeconds: number;
  runMainThreadRunQueueWaitS: number | undefined;
  /** CPU of this process from the first call to the start of the warm-up (call setup), µs. */
  setupCpuUs: number;
  setupSeconds: number;
  /** process.hrtime µs of the first call and of the end of setup (to cut a profile to the setup). */
  runStartHrUs: number;
  setupEndHrUs: number;
  voluntaryContextSwitches: number;
  involuntaryContextSwitches: number;
  minorPageFaults: number;
}

/** Per-call counters at the end (arrays indexed by leg; -1 where unknown). */
export interface ServiceFinal {
  /** RTP packets the service accepted from the caller, lost (sequence gaps), late (after their playout time) and sent back. */
  rtpReceived: number[];
  rtpLost: number[];
  rtpLate: number[];
  rtpSent: number[];
  /** Calls whose hangup line was seen (their counters are known). */
  rtpKnown: number;
  /** Frames the channel gave the stream (the bench's tap bug, attached right after audio_stream), and the stream's own counters. */
  frames: number[];
  binarySent: number[];
  dropped: number[];
  /** Text messages the streams sent (the start metadata). */
  textsSent: number;
  /** Audio and text messages of the warm-up calls' streams (in the sink's counts too). */
  warmBinarySent: number;
  warmTextsSent: number;
  streamsFinished: number;
  streams: number;
  /** Hangup causes seen. */
  causes: Record<string, number>;
  /** Media clock ticks skipped since the baseline (the forced gc after the window included), stream errors by code, SIP counters. */
  skippedTicks: number;
  errorsByCode: Record<string, number>;
  sip: Record<string, number>;
  callsLeft: number;
  finalMs: number;
}




/** Media clock lateness, recorded once per cohort tick by whichever tap sees a new due time first. */
const clockLate = new LatencyHistogram();
let lastDueSeen = -1;
let framesTotal = 0;
let gapFramesTotal = 0;
let noAudioFramesTotal = 0;

/**
 * The bench's own media bug, attached right after the audio_stream bug: counts the frames the
 * channel hands its bugs (the stream turns each 20 ms frame into one 640-byte message),
 * remembers the first frame's due time (for the sink's arrival delays), and counts the frames that
 * are all zeros: the caller's audio has a noise floor and is never digital silence, so an all-zero
 * read frame is the playout buffer's concealment (RTP late or missing), a gap in what the stream sends.
 */
class Tap implements MediaBug {
  readonly name = 'bench_tap';
  frames = 0;
  firstDue = -1;
  onFrame(read: Int16Array | null, _write: Int16Array | null, dueMs: number): void {
    if (dueMs !== lastDueSeen) {
      lastDueSeen = dueMs;
      clockLate.record(performance.now() - dueMs);
    }
    if (this.firstDue < 0) this.firstDue = dueMs;
    this.frames++;
    framesTotal++;
    if (read === null) {
      noAudioFramesTotal++;
      return;
    }
    for (let i = 0; i < read.length; i++) if (read[i] !== 0) return;
    gapFramesTotal++;
  }
  onFormatChange(): void {}

  onChannelClose(): void {
    // nothing held
  }
}

interface Leg {
  channel: Channel;
  stream: AudioStream | undefined;
  tap: Tap;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const url = argValue('url');
  if (!url || !/^ws:\/\/127\.0\.0\.1:\d+\/?/.test(url)) throw new Error(`--url must be ws://127.0.0.1:<port>/..., got ${url}`);
  setLogLevel('warning');
  const tempDir = mkdtempSync(join(tmpdir(), 'audio-stream-bench-calls-'));
  // What `audio-stream serve` does with a config file like this one (src/cli/serve.ts).
  const config = buildConfig({
    sip: { listen: '127.0.0.1:0' },
    rtp: { address: '127.0.0.1', portMin: 20000, portMax: 30000, timeoutSec: 60 },
    tempDir,
    routes: [{
      actions: [
        'answer',
        { set: 'STREAM_MESSAGE_DEFLATE=true' }, // mod_audio_stream's naming: true turns deflate off
        { audio_stream: `start ${url} mono 16k {"bench":1,"leg":\${sip_from_user}}` },
        'park',
      ],
    }],
  }, (app, data) => serviceApplications().check(app, data));
  const runtime = new Runtime({ tempDir });
  const { mediaClock } = runtime;
  const streamMetrics = runtime.streams.metrics;
  const host = createSipHost(runtime, config);
  await host.start();

  const legs = new Map<number, Leg>();
  const warmLegs: Leg[] = [];
  const status: ServiceStatus = { calls: 0, answered: 0, streamsStarted: 0, connected: 0, connectErrors: 0, hungUp: 0 };
  const causes = new Map<string, number>();
  runtime.bus.subscribe((e) => {
    // The caller's number is the generator's leg; the warm-up calls count nowhere but in warmLegs.
    const isWarm = Number(e.get('Caller-Caller-ID-Number')) >= WARM_BASE;
    if (isWarm && e.name !== 'CHANNEL_EXECUTE_COMPLETE') return;
    switch (e.name) {
      case 'CHANNEL_CREATE':
        markRunStart();
        break;
      case 'CHANNEL_ANSWER':
        status.answered++;
        break;
      case 'CHANNEL_HANGUP': {
        status.hungUp++;
        const cause = e.get('Hangup-Cause') ?? '?';
        causes.set(cause, (causes.get(cause) ?? 0) + 1);
        break;
      }
      case 'CHANNEL_EXECUTE_COMPLETE': {
        if (e.get('Application') !== 'audio_stream') break;
        const channel = runtime.channels.get(e.get('Unique-ID') ?? '');
        const leg = Number(channel?.getVariable('sip_from_user'));
        if (!channel || !Number.isInteger(leg) || leg < 0) break;
        const stream = runtime.streams.find(channel);
        if (isWarm) {
          warmLegs.push({ channel, stream, tap: new Tap() });
          break;
        }
        const tap = new Tap();
        // Same synchronous turn as the stream's attach: no media tick runs in between.
        if (stream) channel.addBug(tap);
        legs.set(leg, { channel, stream, tap });
        if (stream) status.streamsStarted++;
        break;
      }
      case 'CUSTOM':
        if (e.subclass === 'mod_audio_stream::connect') status.connected++;
        else if (e.subclass === 'mod_audio_stream::error') status.connectErrors++;
        break;
    }
  });

  const memory = (): ServiceMemory => {
    collect();
    const m = process.memoryUsage();
    return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
  };
  // The whole run starts at the first measured INVITE (setup included), after the baseline.
  let runStart: { hrUs: number; sched: ReturnType<typeof schedstat>; cpu: NodeJS.CpuUsage } | undefined;
  let baselineTaken = false;
  const markRunStart = () => {
    if (baselineTaken) runStart ??= { hrUs: hrUs(), sched: schedstat(), cpu: process.cpuUsage() };
  };
  let skippedAtBaseline = 0;

  // Per-call RTP counters from the hangup lines (only while collecting: a log sink makes every
  // logger build its lines).
  const rtpByLeg = new Map<number, { received: number; lost: number; late: number; sent: number }>();
  const hangupLine = /^hangup \S+: rtp received (\d+), lost (\d+), late (\d+), .*\bsent (\d+)/;
  let removeSink: (() => void) | undefined;

  let finishedStreams = 0;

  process.on('message', (msg: { type?: string; warmup?: number; seconds?: number; timeoutMs?: number }) => {
    switch (msg?.type) {
      case 'status':
        send({ type: 'status', ...status, calls: host.size });
        break;
      case 'baseline':
        void (async () => {
          // The warm-up calls gone (streams flushed and closed), then memory with no call up.
          const t0 = performance.now();
          const warmDone = Promise.all(warmLegs.map((l) => l.stream?.finished));
          let done = false;
          void warmDone.then(() => { done = true; });
          while ((host.size > 0 || !done) && performance.now() - t0 < 10000) await sleep(20);
          await sleep(200);
          const m = memory();
          skippedAtBaseline = mediaClock.skippedTicks;
          baselineTaken = true;
          send({ type: 'baseline', memory: m, warmCalls: warmLegs.length, callsLeft: host.size });
        })();
        break;
      case 'measure':
        void measure(msg.warmup ?? 2, msg.seconds ?? 10);
        break;
      case 'memory':
        send({ type: 'memory', memory: memory() });
        break;
      case 'collect':
        removeSink ??= addLogSink((_level, scope, message) => {
          const m = hangupLine.exec(message);
          const leg = /^sip\(bench-(\d+)-/.exec(scope);
          if (!m || !leg) return;
          rtpByLeg.set(Number(leg[1]), { received: Number(m[1]), lost: Number(m[2]), late: Number(m[3]), sent: Number(m[4]) });
        });
        for (const leg of legs.values()) void leg.stream?.finished.then(() => { finishedStreams++; });
        send({ type: 'collecting' });
        break;
      case 'final':
        void final(msg.timeoutMs ?? 15000);
        break;
      case 'exit':
        void host.close().finally(() => {
          rmSync(tempDir, { recursive: true, force: true });
          // Leave through a normal exit so --cpu-prof writes its profile.
          setTimeout(() => process.exit(0), 100);
        });
        break;
    }
  });
  process.on('disconnect', () => process.exit(0));

  async function measure(warmupSeconds: number, seconds: number): Promise<void> {
    // The sink times arrivals: message k of leg i was due at firstDue[i] + k x 20 ms (system-wide monotonic clock).
    const hrOffsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
    const maxLeg = Math.max(-1, ...legs.keys());
    const firstDueHrMs = Array.from({ length: maxLeg + 1 }, (_, i) => {
      const first = legs.get(i)?.tap.firstDue ?? -1;
      return first >= 0 ? first + hrOffsetMs : -1;
    });
    send({ type: 'legs', firstDueHrMs });
    const setupCpu = process.cpuUsage(runStart?.cpu);
    const setupEndHrUs = hrUs();

    // No forced gc here: its pause would make the callers' packets late (the memory is taken after the window).
    await sleep(warmupSeconds * 1000);

    streamMetrics.sendDelay.reset();
    clockLate.reset();
    const calls = host.size;
    const streamsOpen = streamMetrics.open;
    const sent0 = streamMetrics.messagesSent;
    const dropped0 = streamMetrics.messagesDropped;
    const frames0 = framesTotal;
    const gaps0 = gapFramesTotal;
    const noAudio0 = noAudioFramesTotal;
    const skipped0 = mediaClock.skippedTicks;
    const elu0 = performance.eventLoopUtilization();
    const sched0 = schedstat();
    const ru0 = process.resourceUsage();
    const cpu0 = process.cpuUsage();
    const windowStartHrUs = hrUs();
    send({ type: 'phase', phase: 'window-start' });
    await sleep(seconds * 1000);
    const cpu = process.cpuUsage(cpu0);
    const ru1 = process.resourceUsage();
    const sched1 = schedstat();
    const windowEndHrUs = hrUs();
    const elu = performance.eventLoopUtilization(elu0);
    const d = streamMetrics.sendDelay;
    const window: ServiceWindow = {
      windowSeconds: (windowEndHrUs - windowStartHrUs) / 1e6,
      windowStartHrUs,
      windowEndHrUs,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      elu: elu.utilization,
      calls,
      streamsOpen,
      windowSent: streamMetrics.messagesSent - sent0,
      windowDropped: streamMetrics.messagesDropped - dropped0,
      windowFrames: framesTotal - frames0,
      delayP50: d.percentile(50),
      delayP99: d.percentile(99),
      delayP999: d.percentile(99.9),
      delayMax: d.maxMs,
      delayCount: d.count,
      clockLateP50: clockLate.percentile(50),
      clockLateP99: clockLate.percentile(99),
      clockLateMax: clockLate.maxMs,
      windowSkippedTicks: mediaClock.skippedTicks - skipped0,
      runSkippedTicks: mediaClock.skippedTicks - skippedAtBaseline,
      windowGapFrames: gapFramesTotal - gaps0,
      windowNoAudioFrames: noAudioFramesTotal - noAudio0,
      rssEndOfWindow: process.memoryUsage().rss,
      gcAvailable: gc !== undefined,
      mainThreadOnCpuS: sched0 && sched1 ? (sched1.onCpuNs - sched0.onCpuNs) / 1e9 : undefined,
      mainThreadRunQueueWaitS: sched0 && sched1 ? (sched1.waitNs - sched0.waitNs) / 1e9 : undefined,
      runSeconds: runStart ? (windowEndHrUs - runStart.hrUs) / 1e6 : 0,
      runMainThreadRunQueueWaitS: runStart?.sched && sched1 ? (sched1.waitNs - runStart.sched.waitNs) / 1e9 : undefined,
      setupCpuUs: runStart ? setupCpu.user + setupCpu.system : 0,
      setupSeconds: runStart ? (setupEndHrUs - runStart.hrUs) / 1e6 : 0,
      runStartHrUs: runStart?.hrUs ?? 0,
      setupEndHrUs,
      voluntaryContextSwitches: ru1.voluntaryContextSwitches - ru0.voluntaryContextSwitches,
      involuntaryContextSwitches: ru1.involuntaryContextSwitches - ru0.involuntaryContextSwitches,
      minorPageFaults: ru1.minorPageFault - ru0.minorPageFault,
    };
    send({ type: 'phase', phase: 'window-end' });
    send({ type: 'window', window });
  }

  async function final(timeoutMs: number): Promise<void> {
    const t0 = performance.now();
    const withStream = [...legs.values()].filter((l) => l.stream).length;
    while ((host.size > 0 || finishedStreams < withStream) && performance.now() - t0 < timeoutMs) await sleep(20);
    removeSink?.();
    const maxLeg = Math.max(-1, ...legs.keys(), ...rtpByLeg.keys());
    const perLeg = <T>(f: (i: number) => T) => Array.from({ length: maxLeg + 1 }, (_, i) => f(i));
    let textsSent = 0;
    const binarySent = perLeg((i) => {
      const s = legs.get(i)?.stream;
      if (!s) return -1;
      // messagesSent also counts the start metadata, the one text message a stream sends here.
      const texts = s.stats.messagesSent > 0 ? 1 : 0;
      textsSent += texts;
      return s.stats.messagesSent - texts;
    });
    let warmBinarySent = 0;
    let warmTextsSent = 0;
    for (const l of warmLegs) {
      const sent = l.stream?.stats.messagesSent ?? 0;
      warmTextsSent += sent > 0 ? 1 : 0;
      warmBinarySent += sent > 0 ? sent - 1 : 0;
    }
    const result: ServiceFinal = {
      rtpReceived: perLeg((i) => rtpByLeg.get(i)?.received ?? -1),
      rtpLost: perLeg((i) => rtpByLeg.get(i)?.lost ?? -1),
      rtpLate: perLeg((i) => rtpByLeg.get(i)?.late ?? -1),
      rtpSent: perLeg((i) => rtpByLeg.get(i)?.sent ?? -1),
      rtpKnown: rtpByLeg.size,
      frames: perLeg((i) => legs.get(i)?.tap.frames ?? -1),
      binarySent,
      dropped: perLeg((i) => legs.get(i)?.stream?.stats.messagesDropped ?? -1),
      textsSent,
      warmBinarySent,
      warmTextsSent,
      streamsFinished: finishedStreams,
      streams: withStream,
      causes: Object.fromEntries(causes),
      skippedTicks: mediaClock.skippedTicks - skippedAtBaseline,
      errorsByCode: Object.fromEntries(streamMetrics.errorsByCode),
      sip: { ...host.ua.stats },
      callsLeft: host.size,
      finalMs: Math.round(performance.now() - t0),
    };
    send({ type: 'final', final: result });
  }

  send({ type: 'ready', sipPort: host.ua.address.port });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench calls service: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
