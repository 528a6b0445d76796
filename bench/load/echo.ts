// The duplex calls benchmark's figures of one row (bench/load/duplex.ts), from what the three
// processes counted: the bot (bench/load/sink.ts --echo) sent back every message it got; the
// service's tap (bench/load/calls-service.ts --duplex) saw what the playback queue gave RTP; the
// generator (bench/load/calls-generator.ts --duplex) sorted what came back and timed the markers
// (bench/load/marker.ts).
import type { GeneratorHangup, GeneratorWindow } from './calls-generator.ts';
import type { ServiceFinal, ServiceWindow } from './calls-service.ts';
import type { SinkEcho } from './sink.ts';
import { pairMarkers, percentile, type MarkerPairing } from './marker.ts';

/** A latency distribution, ms (NaN when nothing was measured). */
export interface Latency {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The server -> caller direction of one duplex row. */
export interface DuplexFigures {
  /**
   * Whole run (the measured calls): messages the bot sent back; frames the service's playback gave
   * RTP (audio + silence); the resampler tails it queued when a call's playback ran dry (each one
   * frame more); echoed + tails - played (0: every message played, nothing else).
   */
  botEchoed: number;
  played: number;
  tailFlushes: number;
  echoNotPlayed: number;
  /** Calls whose bot messages and played frames differ, calls that never played any audio back. */
  callsNotPlayed: number;
  callsWithoutEcho: number;
  /** Whole run: frames with audio the service sent, packets with audio the generator got back (non-silent payload), the difference. */
  echoSent: number;
  echoReceived: number;
  echoRtpLost: number;
  /**
   * Window: service ticks that began with less than a frame queued once the echo had started
   * (underruns: the reply came back after the packet time); frames of silence played; packets the
   * generator got of silence, and of audio ending in silence (the playback ran dry inside them).
   */
  underruns: number;
  silentFrames: number;
  silentPacketsBack: number;
  partialPacketsBack: number;
  /** Window: packets back with audio, and their share of the packets expected (calls x window / 20 ms). */
  windowEchoPackets: number;
  windowEchoShare: number;
  /** Audio waiting in the calls' playback queues at the end of the window, ms: the standing backlog every echoed message waits behind. */
  queuedP50Ms: number;
  queuedMaxMs: number;
  /** Markers sent by the generator during the window, and how far they got. */
  markersSent: number;
  markersAtBot: number;
  markersOut: number;
  markersBack: number;
  /** Bot's send of the message carrying a marker's onset -> the service hands the packet carrying it to RTP / it arrives at the generator; generator -> generator. */
  botToServiceOut: Latency;
  botToGenerator: Latency;
  roundTrip: Latency;
  /** The engine's flow control (none expected) and the texts the bot got by type. */
  xoffs: number;
  refusedMs: number;
  textTypes: Record<string, number>;
  botMaxBufferedBytes: number;
  warmEchoed: number;
}

function latency(sorted: number[]): Latency {
  const r = (x: number) => Math.round(x * 100) / 100;
  return { count: sorted.length, p50Ms: r(percentile(sorted, 50)), p99Ms: r(percentile(sorted, 99)), maxMs: r(sorted.at(-1) ?? NaN) };
}

const pos = (x: number | undefined) => (x !== undefined && x > 0 ? x : 0);

/** The duplex figures of a row, and the reasons it did not hold in that direction. */
export function duplexFigures(w: ServiceWindow, f: ServiceFinal, gw: GeneratorWindow | undefined, gh: GeneratorHangup, bot: SinkEcho):
  { figures: DuplexFigures; misses: string[]; pairing: MarkerPairing } {
  const se = f.echo;
  const ge = gh.echo;
  if (!se || !ge) throw new Error('a duplex row without the service\'s or the generator\'s echo counters');
  let botEchoed = 0;
  let played = 0;
  let tailFlushes = 0;
  let callsNotPlayed = 0;
  let callsWithoutEcho = 0;
  let echoSent = 0;
  let echoReceived = 0;
  for (let leg = 0; leg < gh.sent.length; leg++) {
    if (gh.sent[leg]! < 0) continue; // never came up
    const echoed = pos(bot.echoed[leg]);
    const frames = pos(se.echoFrames[leg]) + pos(se.silentFrames[leg]);
    const tails = pos(se.tailFlushes[leg]);
    botEchoed += echoed;
    played += frames;
    tailFlushes += tails;
    if (echoed + tails !== frames) callsNotPlayed++;
    if (pos(se.echoFrames[leg]) === 0) callsWithoutEcho++;
    echoSent += pos(se.echoFrames[leg]);
    echoReceived += pos(ge.echoReceived[leg]);
  }
  const pairing = pairMarkers({
    generatorSent: ge.markSentHrMs, botSent: bot.markSentHrMs, serviceOut: se.markOutHrMs, generatorBack: ge.markBackHrMs,
  }, w.windowStartHrUs / 1000, w.windowEndHrUs / 1000);
  const calls = Math.max(1, w.calls);
  const windowEchoPackets = gw?.echoPackets ?? 0;
  const figures: DuplexFigures = {
    botEchoed,
    played,
    tailFlushes,
    echoNotPlayed: botEchoed + tailFlushes - played,
    callsNotPlayed,
    callsWithoutEcho,
    echoSent,
    echoReceived,
    echoRtpLost: echoSent - echoReceived,
    underruns: w.windowEchoUnderruns ?? 0,
    silentFrames: w.windowEchoSilentFrames ?? 0,
    silentPacketsBack: gw?.silentPackets ?? 0,
    partialPacketsBack: gw?.partialPackets ?? 0,
    windowEchoPackets,
    windowEchoShare: Math.round((windowEchoPackets / ((calls * w.windowSeconds * 1000) / 20)) * 1e4) / 1e4,
    queuedP50Ms: percentile(w.windowEndQueuedMs ?? [], 50),
    queuedMaxMs: w.windowEndQueuedMs?.at(-1) ?? NaN,
    markersSent: pairing.sent,
    markersAtBot: pairing.atBot,
    markersOut: pairing.serviceOut,
    markersBack: pairing.back,
    botToServiceOut: latency(pairing.botToServiceOut),
    botToGenerator: latency(pairing.botToGenerator),
    roundTrip: latency(pairing.roundTrip),
    xoffs: se.xoffs,
    refusedMs: se.refusedMs,
    textTypes: bot.textTypes,
    botMaxBufferedBytes: bot.maxBufferedBytes,
    warmEchoed: bot.warmEchoed,
  };
  const m: string[] = [];
  if (figures.echoNotPlayed !== 0) m.push(`${figures.echoNotPlayed} echo messages not played (${callsNotPlayed} calls)`);
  if (callsWithoutEcho > 0) m.push(`${callsWithoutEcho} calls without echo`);
  if (figures.echoRtpLost !== 0) m.push(`${figures.echoRtpLost} echo RTP lost`);
  if (figures.underruns !== 0) m.push(`${figures.underruns} echo underruns`);
  if (figures.silentPacketsBack !== 0) m.push(`${figures.silentPacketsBack} silent packets back`);
  if (figures.partialPacketsBack !== 0) m.push(`${figures.partialPacketsBack} packets back ending in silence`);
  if (pairing.sent === 0) m.push('no marker sent');
  else if (pairing.back !== pairing.sent) m.push(`${pairing.sent - pairing.back} of ${pairing.sent} markers not back`);
  if (figures.refusedMs > 0) m.push(`${figures.refusedMs} ms refused`);
  if (figures.xoffs > 0) m.push(`${figures.xoffs} xoff`);
  return { figures, misses: m, pairing };
}

/** The marker times of a row's raw counters, left out of the JSON (a few per call and second); their counts stay. */
export function dropMarkerTimes(gh: GeneratorHangup, f: ServiceFinal): void {
  if (gh.echo) {
    gh.echo.markSentHrMs = [];
    gh.echo.markBackHrMs = [];
  }
  if (f.echo) f.echo.markOutHrMs = [];
}
