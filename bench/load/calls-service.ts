// The measured process of one calls-benchmark configuration: the SIP/RTP service built as
// `audio-stream serve` builds it (buildConfig -> Runtime -> SipHost), with one route that answers,
// turns deflate off and streams `mono 16k` to the sink, then parks. bench/load/calls.ts forks it
// (node --expose-gc --import tsx bench/load/calls-service.ts --url ws://127.0.0.1:<port>/calls) once
// per configuration; the calls come from bench/load/calls-generator.ts in another process.
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
//
// With --duplex (the duplex calls benchmark, bench/load/duplex.ts) the route also sets
// STREAM_SAMPLE_RATE=16000 (the stream's rate: full duplex on, binary replies at 16 kHz), the sink
// echoes the streamed audio, and the bench's tap also reads the write direction, the frame the
// playback queue gives the call's RTP in the same tick: frames with the echo's audio, frames of
// silence, and the ticks whose frame carries a latency marker's onset (bench/load/marker.ts), timed
// on process.hrtime. It also listens to the playback's onStarving (a tick about to pull with less
// than a frame queued: the reply came back too late, an underrun), which is also when the duplex
// side queues its resampler's tail (the last 2 ms it holds; Playback.topUps counts them): one frame
// more than the messages.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { send, sleep, hrUs, schedstat, memoryAfterGc, ClockLateness, WindowMeter, type ProcessMemory, type WindowFigures } from './meter.ts';
import { MARKER_REARM_MS, MARKER_THRESHOLD, ULAW_SILENT_MAX, hrOffsetMs } from './marker.ts';
import { setLogLevel, addLogSink } from '../../src/lib/logger.ts';
import { Runtime, serviceApplications } from '../../src/service/runtime.ts';
import { buildConfig } from '../../src/config/load.ts';
import { createSipHost } from '../../src/service/service.ts';
import type { SipHost } from '../../src/call/sip-host.ts';
import type { Channel } from '../../src/channel/channel.ts';
import type { MediaBug } from '../../src/bug/media-bug.ts';
import type { AudioStream } from '../../src/audio-stream/audio-stream.ts';
import type { FsEvent } from '../../src/events/event.ts';

/** Legs from here on are warm-up calls (bench/load/calls-generator.ts). */
const WARM_BASE = 100000;

/** Memory of the process (process.memoryUsage after a forced gc). */
export type ServiceMemory = ProcessMemory;

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

/** What the service measured over the window (the common figures, plus the calls' own). */
export interface ServiceWindow extends WindowFigures {
  /** Calls held and streams open at the start of the window. */
  calls: number;
  streamsOpen: number;
  /** Frames the streams were given during the window. */
  windowFrames: number;
  /** Media clock ticks skipped from the baseline (setup included) to the end of the window. */
  runSkippedTicks: number;
  /** Frames the streams got during the window that were silence instead of the caller's audio (playout gaps: late or missing RTP). */
  windowGapFrames: number;
  /** Frames with no audio at all yet (the call's RTP had not started) during the window. */
  windowNoAudioFrames: number;
  /** --duplex, during the window: dry ticks once the echo had started (the reply had not come back in time), frames of silence played, frames of the echo's audio. */
  windowEchoUnderruns?: number;
  windowEchoSilentFrames?: number;
  windowEchoFrames?: number;
  /** --duplex: audio waiting in each call's playback queue at the end of the window (ms, ascending): the echo's standing backlog. */
  windowEndQueuedMs?: number[];
  /** From the first call to the end of the window (call setup included): how long, and how long the main thread waited for its CPU. */
  runSeconds: number;
  runMainThreadRunQueueWaitS: number | undefined;
  /** CPU of this process from the first call to the start of the warm-up (call setup), µs. */
  setupCpuUs: number;
  setupSeconds: number;
  /** process.hrtime µs of the first call and of the end of setup (to cut a profile to the setup). */
  runStartHrUs: number;
  setupEndHrUs: number;
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
  /** --duplex only. */
  echo?: ServiceEcho;
}

/** --duplex: per leg, what the playback queue gave the call's RTP (the bench's tap, whole run), and the engine's duplex counters. */
export interface ServiceEcho {
  /** Frames with audio (a sample over ULAW_SILENT_MAX: not μ-law zero once encoded), frames of silence, ticks with nothing to play. */
  echoFrames: number[];
  silentFrames: number[];
  emptyTicks: number[];
  /** Ticks that began with less than a frame queued (Playback.onStarving), and those at which the resampler's tail was queued. */
  dryTicks: number[];
  tailFlushes: number[];
  /** When the frame carrying a marker's onset was handed to RTP (process.hrtime, ms). */
  markOutHrMs: number[][];
  /** StreamMetrics: xoff messages, audio refused over STREAM_PLAYBACK_MAX_MS (ms), clears. */
  xoffs: number;
  refusedMs: number;
  clears: number;
}




/** Frames every tap saw, and those that were gaps (all zeros) or had no audio at all. */
const frameCounts = { total: 0, gaps: 0, noAudio: 0 };
/** --duplex: what every tap saw of the write direction (frames with the echo's audio, of silence, dry ticks once the echo had started). */
const echoCounts = { frames: 0, silent: 0, underruns: 0 };
const DUPLEX = process.argv.includes('--duplex');
/** performance.now() + HR_OFFSET_MS = process.hrtime in ms. */
const HR_OFFSET_MS = hrOffsetMs(performance.now());

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
  /** --duplex: the write direction (see onWrite, onStarving). */
  echoFrames = 0;
  silentFrames = 0;
  emptyTicks = 0;
  dryTicks = 0;
  readonly markOut: number[] = [];
  private lastMarkAt = -Infinity;

  constructor(private readonly lateness: ClockLateness) {}

  onFrame(read: Int16Array | null, write: Int16Array | null, dueMs: number): void {
    this.lateness.observe(dueMs, performance.now());
    if (this.firstDue < 0) this.firstDue = dueMs;
    if (DUPLEX) this.onWrite(write);
    this.frames++;
    frameCounts.total++;
    if (read === null) {
      frameCounts.noAudio++;
      return;
    }
    for (let i = 0; i < read.length; i++) if (read[i] !== 0) return;
    frameCounts.gaps++;
  }

  /**
   * --duplex: the frame the playback queue gives RTP in this tick (sip-call.ts sends it right after
   * the bugs): audio, silence (encodes to μ-law zero), or nothing (null: an underrun once the echo
   * has started); a frame with a marker's onset is timed.
   */
  private onWrite(write: Int16Array | null): void {
    if (write === null) {
      this.emptyTicks++;
      return;
    }
    // Silence up to the first audible sample (the echo's noise floor makes it the first one or so).
    const n = write.length;
    let i = 0;
    for (; i < n; i++) {
      const v = write[i]!;
      if (v > ULAW_SILENT_MAX || v < -ULAW_SILENT_MAX) break;
    }
    if (i === n) {
      this.silentFrames++;
      echoCounts.silent++;
      return;
    }
    // A marker's onset: every third sample is enough (at 8 kHz the 1 kHz tone turns 135 degrees in
    // three samples, so two in every eight land within 22.5 degrees of a peak), and keeps the tap cheap.
    for (; i < n; i += 3) {
      const v = write[i]!;
      if (v <= MARKER_THRESHOLD && v >= -MARKER_THRESHOLD) continue;
      const now = performance.now();
      if (now - this.lastMarkAt > MARKER_REARM_MS) this.markOut.push(now + HR_OFFSET_MS);
      this.lastMarkAt = now;
      break;
    }
    this.echoFrames++;
    echoCounts.frames++;
  }

  /**
   * --duplex: the playback is about to pull a frame with less than a frame queued (Playback.onStarving,
   * called before the tick's frame is taken): a dry tick. The duplex side queues its resampler's tail
   * then, if it holds one; Playback.topUps counts those (the tails, read at the end of the run).
   */
  onStarving(): void {
    this.dryTicks++;
    if (this.echoFrames > 0) echoCounts.underruns++;
  }

  onFormatChange(): void {}

  onDtmf(): void {}

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

/** The per-call RTP counters in SipCall's hangup line (`hangup <cause>: rtp received R, lost L, late T, ..., sent S`). */
const HANGUP_LINE = /^hangup \S+: rtp received (\d+), lost (\d+), late (\d+), .*\bsent (\d+)/;

/** The service of one configuration and its answers to the orchestrator's requests. */
class CallsService {
  readonly tempDir = mkdtempSync(join(tmpdir(), 'audio-stream-bench-calls-'));
  readonly runtime: Runtime;
  readonly host: SipHost;
  private readonly lateness = new ClockLateness();
  private readonly legs = new Map<number, Leg>();
  private readonly warmLegs: Leg[] = [];
  private readonly status: ServiceStatus = { calls: 0, answered: 0, streamsStarted: 0, connected: 0, connectErrors: 0, hungUp: 0 };
  private readonly causes = new Map<string, number>();
  /** The whole run starts at the first measured INVITE (setup included), after the baseline. */
  private runStart: { hrUs: number; sched: ReturnType<typeof schedstat>; cpu: NodeJS.CpuUsage } | undefined;
  private baselineTaken = false;
  private skippedAtBaseline = 0;
  /** Per-call RTP counters from the hangup lines (only while collecting: a log sink makes every logger build its lines). */
  private readonly rtpByLeg = new Map<number, { received: number; lost: number; late: number; sent: number }>();
  private removeSink: (() => void) | undefined;
  private finishedStreams = 0;

  constructor(url: string) {
    // What `audio-stream serve` does with a config file like this one (src/cli/serve.ts).
    const config = buildConfig({
      // The generator is one source placing up to --calls-rate (2000/s at most) calls at once: the
      // admission limits that guard a box against floods (50/s per source) would refuse its load.
      sip: { listen: '127.0.0.1:0', invitesPerSourcePerSecond: 2000, sessionsPerSecond: 2000, maxPendingPerSource: 5000, maxSessions: 5000 },
      rtp: { address: '127.0.0.1', portMin: 20000, portMax: 30000, timeoutSec: 60 },
      tempDir: this.tempDir,
      routes: [{
        actions: [
          'answer',
          { set: 'STREAM_MESSAGE_DEFLATE=true' }, // mod_audio_stream's naming: true turns deflate off
          // Full duplex: binary replies are raw L16 at 16 kHz, the stream's rate (docs/duplex.md).
          ...(DUPLEX ? [{ set: 'STREAM_SAMPLE_RATE=16000' }] : []),
          { audio_stream: `start ${url} mono 16k {"bench":1,"leg":\${sip_from_user}}` },
          'park',
        ],
      }],
    }, (app, data) => serviceApplications().check(app, data));
    this.runtime = new Runtime({ tempDir: this.tempDir });
    this.host = createSipHost(this.runtime, config);
    this.runtime.bus.subscribe((e) => this.onEvent(e));
  }

  private onEvent(e: FsEvent): void {
    // The caller's number is the generator's leg; the warm-up calls count nowhere but in warmLegs.
    const isWarm = Number(e.get('Caller-Caller-ID-Number')) >= WARM_BASE;
    if (isWarm && e.name !== 'CHANNEL_EXECUTE_COMPLETE') return;
    const status = this.status;
    switch (e.name) {
      case 'CHANNEL_CREATE':
        if (this.baselineTaken) this.runStart ??= { hrUs: hrUs(), sched: schedstat(), cpu: process.cpuUsage() };
        break;
      case 'CHANNEL_ANSWER':
        status.answered++;
        break;
      case 'CHANNEL_HANGUP': {
        status.hungUp++;
        const cause = e.get('Hangup-Cause') ?? '?';
        this.causes.set(cause, (this.causes.get(cause) ?? 0) + 1);
        break;
      }
      case 'CHANNEL_EXECUTE_COMPLETE':
        if (e.get('Application') === 'audio_stream') this.onStreamStarted(e, isWarm);
        break;
      case 'CUSTOM':
        if (e.subclass === 'mod_audio_stream::connect') status.connected++;
        else if (e.subclass === 'mod_audio_stream::error') status.connectErrors++;
        break;
    }
  }

  private onStreamStarted(e: FsEvent, isWarm: boolean): void {
    const channel = this.runtime.channels.get(e.get('Unique-ID') ?? '');
    const leg = Number(channel?.getVariable('sip_from_user'));
    if (!channel || !Number.isInteger(leg) || leg < 0) return;
    const stream = this.runtime.streams.find(channel);
    const tap = new Tap(this.lateness);
    if (isWarm) {
      this.warmLegs.push({ channel, stream, tap });
      return;
    }
    // Same synchronous turn as the stream's attach: no media tick runs in between.
    if (stream) channel.addBug(tap);
    if (stream && DUPLEX) {
      const playback = channel.playback;
      playback.onStarving(() => tap.onStarving());
    }
    this.legs.set(leg, { channel, stream, tap });
    if (stream) this.status.streamsStarted++;
  }

  /** Answers one request of the orchestrator. */
  handle(msg: { type?: string; warmup?: number; seconds?: number; timeoutMs?: number }): void {
    switch (msg?.type) {
      case 'status':
        send({ type: 'status', ...this.status, calls: this.host.size });
        break;
      case 'baseline':
        void this.baseline();
        break;
      case 'measure':
        void this.measure(msg.warmup ?? 2, msg.seconds ?? 10);
        break;
      case 'memory':
        send({ type: 'memory', memory: memoryAfterGc() });
        break;
      case 'collect':
        this.collect();
        break;
      case 'final':
        void this.final(msg.timeoutMs ?? 15000);
        break;
      case 'exit':
        void this.host.close().finally(() => {
          rmSync(this.tempDir, { recursive: true, force: true });
          // Leave through a normal exit so --cpu-prof writes its profile.
          setTimeout(() => process.exit(0), 100);
        });
        break;
    }
  }

  /** The warm-up calls gone (streams flushed and closed), then the memory with no call up. */
  private async baseline(): Promise<void> {
    const t0 = performance.now();
    let done = false;
    void Promise.all(this.warmLegs.map((l) => l.stream?.finished)).then(() => { done = true; });
    while ((this.host.size > 0 || !done) && performance.now() - t0 < 10000) await sleep(20);
    await sleep(200);
    const memory = memoryAfterGc();
    this.skippedAtBaseline = this.runtime.mediaClock.skippedTicks;
    this.baselineTaken = true;
    send({ type: 'baseline', memory, warmCalls: this.warmLegs.length, callsLeft: this.host.size });
  }

  /** Starts reading the per-call RTP counters from the hangup lines, and counting the streams that finish. */
  private collect(): void {
    this.removeSink ??= addLogSink((_level, scope, message) => {
      const m = HANGUP_LINE.exec(message);
      const leg = /^sip\(bench-(\d+)-/.exec(scope);
      if (!m || !leg) return;
      this.rtpByLeg.set(Number(leg[1]), { received: Number(m[1]), lost: Number(m[2]), late: Number(m[3]), sent: Number(m[4]) });
    });
    for (const leg of this.legs.values()) void leg.stream?.finished.then(() => { this.finishedStreams++; });
    send({ type: 'collecting' });
  }

  private async measure(warmupSeconds: number, seconds: number): Promise<void> {
    // The sink times arrivals: message k of leg i was due at firstDue[i] + k x 20 ms (system-wide monotonic clock).
    const hrOffsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
    const maxLeg = Math.max(-1, ...this.legs.keys());
    const firstDueHrMs = Array.from({ length: maxLeg + 1 }, (_, i) => {
      const first = this.legs.get(i)?.tap.firstDue ?? -1;
      return first >= 0 ? first + hrOffsetMs : -1;
    });
    send({ type: 'legs', firstDueHrMs });
    const runStart = this.runStart;
    const setupCpu = process.cpuUsage(runStart?.cpu);
    const setupEndHrUs = hrUs();

    // No forced gc here: its pause would make the callers' packets late (the memory is taken after the window).
    await sleep(warmupSeconds * 1000);

    const meter = new WindowMeter({ metrics: this.runtime.streams.metrics, mediaClock: this.runtime.mediaClock }, this.lateness);
    const calls = this.host.size;
    const streamsOpen = this.runtime.streams.metrics.open;
    const counts0 = { ...frameCounts };
    const echo0 = { ...echoCounts };
    meter.start();
    await sleep(seconds * 1000);
    const figures = meter.end();
    const echo1 = { ...echoCounts };
    const queuedMs = DUPLEX ? [...this.legs.values()].filter((l) => l.stream).map((l) => Math.round(l.channel.playback.queuedMs)).sort((x, y) => x - y) : [];
    const sched1 = meter.lastSched;
    const window: ServiceWindow = {
      ...figures,
      calls,
      streamsOpen,
      windowFrames: frameCounts.total - counts0.total,
      runSkippedTicks: this.runtime.mediaClock.skippedTicks - this.skippedAtBaseline,
      windowGapFrames: frameCounts.gaps - counts0.gaps,
      windowNoAudioFrames: frameCounts.noAudio - counts0.noAudio,
      ...(DUPLEX ? {
        windowEchoUnderruns: echo1.underruns - echo0.underruns,
        windowEchoSilentFrames: echo1.silent - echo0.silent,
        windowEchoFrames: echo1.frames - echo0.frames,
        windowEndQueuedMs: queuedMs,
      } : {}),
      runSeconds: runStart ? (figures.windowEndHrUs - runStart.hrUs) / 1e6 : 0,
      runMainThreadRunQueueWaitS: runStart?.sched && sched1 ? (sched1.waitNs - runStart.sched.waitNs) / 1e9 : undefined,
      setupCpuUs: runStart ? setupCpu.user + setupCpu.system : 0,
      setupSeconds: runStart ? (setupEndHrUs - runStart.hrUs) / 1e6 : 0,
      runStartHrUs: runStart?.hrUs ?? 0,
      setupEndHrUs,
    };
    send({ type: 'window', window });
  }

  private async final(timeoutMs: number): Promise<void> {
    const t0 = performance.now();
    const legs = this.legs;
    const withStream = [...legs.values()].filter((l) => l.stream).length;
    while ((this.host.size > 0 || this.finishedStreams < withStream) && performance.now() - t0 < timeoutMs) await sleep(20);
    this.removeSink?.();
    const rtp = this.rtpByLeg;
    const maxLeg = Math.max(-1, ...legs.keys(), ...rtp.keys());
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
    for (const l of this.warmLegs) {
      const sent = l.stream?.stats.messagesSent ?? 0;
      warmTextsSent += sent > 0 ? 1 : 0;
      warmBinarySent += sent > 0 ? sent - 1 : 0;
    }
    const result: ServiceFinal = {
      rtpReceived: perLeg((i) => rtp.get(i)?.received ?? -1),
      rtpLost: perLeg((i) => rtp.get(i)?.lost ?? -1),
      rtpLate: perLeg((i) => rtp.get(i)?.late ?? -1),
      rtpSent: perLeg((i) => rtp.get(i)?.sent ?? -1),
      rtpKnown: rtp.size,
      frames: perLeg((i) => legs.get(i)?.tap.frames ?? -1),
      binarySent,
      dropped: perLeg((i) => legs.get(i)?.stream?.stats.messagesDropped ?? -1),
      textsSent,
      warmBinarySent,
      warmTextsSent,
      streamsFinished: this.finishedStreams,
      streams: withStream,
      causes: Object.fromEntries(this.causes),
      skippedTicks: this.runtime.mediaClock.skippedTicks - this.skippedAtBaseline,
      errorsByCode: Object.fromEntries(this.runtime.streams.metrics.errorsByCode),
      sip: { ...this.host.ua.stats },
      callsLeft: this.host.size,
      finalMs: Math.round(performance.now() - t0),
    };
    if (DUPLEX) {
      const m = this.runtime.streams.metrics;
      result.echo = {
        echoFrames: perLeg((i) => legs.get(i)?.tap.echoFrames ?? -1),
        silentFrames: perLeg((i) => legs.get(i)?.tap.silentFrames ?? -1),
        emptyTicks: perLeg((i) => legs.get(i)?.tap.emptyTicks ?? -1),
        dryTicks: perLeg((i) => legs.get(i)?.tap.dryTicks ?? -1),
        tailFlushes: perLeg((i) => legs.get(i)?.channel.playback.topUps ?? -1),
        markOutHrMs: perLeg((i) => legs.get(i)?.tap.markOut ?? []),
        xoffs: m.xoffs, refusedMs: m.refusedMs, clears: m.clears,
      };
    }
    send({ type: 'final', final: result });
  }
}

async function main(): Promise<void> {
  const url = argValue('url');
  if (!url || !/^ws:\/\/127\.0\.0\.1:\d+\/?/.test(url)) throw new Error(`--url must be ws://127.0.0.1:<port>/..., got ${url}`);
  setLogLevel('warning');
  const service = new CallsService(url);
  await service.host.start();
  process.on('message', (msg: { type?: string }) => service.handle(msg));
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', sipPort: service.host.ua.address.port });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench calls service: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
