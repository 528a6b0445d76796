// The duplex calls benchmark's latency markers (bench/load/duplex.ts): what the load generator
// puts in the callers' audio, what the sink (the echoing bot), the service's tap and the generator
// look for, and how the orchestrator pairs their times. Each process reads process.hrtime (ms), the
// monotonic clock every process on the machine shares.
//
// A marker is MARKER_FRAMES packets of a 1 kHz tone peaking at -2 dBFS in place of the speech, its
// onset at the first sample of a packet, once every MARKER_PERIOD packets per call. The speech-like
// source peaks at 13000 (about -8 dBFS), so the tone is the only audio over MARKER_THRESHOLD, and it
// stays over it through G.711 and the resamplers both ways (8 -> 16 kHz towards the bot, 16 -> 8 kHz
// back: speex at quality 2 passes 1 kHz at about -0.7 dB, the peaks come back at about 24000).

/** One marker per call every this many 20 ms packets (1 s). */
export const MARKER_PERIOD = 50;
/** Packets of tone per marker. */
export const MARKER_FRAMES = 2;
/** Peak of the tone. */
export const MARKER_AMPLITUDE = 26000;
/** A sample over this in magnitude belongs to a marker. */
export const MARKER_THRESHOLD = 20000;
/** A detector re-arms once it has seen no marker sample for this long (a call's markers are a second apart). */
export const MARKER_REARM_MS = 300;
/** Samples of this magnitude or less encode to one of μ-law's two zero codes (0xFF, 0x7F): a packet of them is silence. */
export const ULAW_SILENT_MAX = 3;

/** The marker at `rateHz` (MARKER_FRAMES x 20 ms), phase pi/8 so that no sample of the onset packet is a zero crossing. */
export function markerTone(rateHz: number): Int16Array {
  const tone = new Int16Array((rateHz / 50) * MARKER_FRAMES);
  for (let i = 0; i < tone.length; i++) tone[i] = Math.round(MARKER_AMPLITUDE * Math.sin((2 * Math.PI * 1000 * i) / rateHz + Math.PI / 8));
  return tone;
}

/** performance.now() + the offset this returns = process.hrtime in ms. */
export function hrOffsetMs(now: number): number {
  return Number(process.hrtime.bigint()) / 1e6 - now;
}

/** Per leg, when each marker was sent by the generator, echoed by the bot, sent by the service, and got back (hrtime ms). */
export interface MarkerTimes {
  generatorSent: number[][];
  botSent: number[][];
  serviceOut: number[][];
  generatorBack: number[][];
}

/** The markers the generator sent during a window, followed through, and the latencies of those that came back. */
export interface MarkerPairing {
  /** Markers sent during the window, seen by the bot, sent back by the service, got back by the generator. */
  sent: number;
  atBot: number;
  serviceOut: number;
  back: number;
  /** Bot's send of the message carrying the marker's onset -> the service's tick that hands the packet carrying it to RTP, ms. */
  botToServiceOut: number[];
  /** Bot's send -> the packet's arrival at the generator, ms. */
  botToGenerator: number[];
  /** Generator's send of the marker -> its echo back at the generator (caller's mouth to ear), ms. */
  roundTrip: number[];
}

/** The first time in `times` (ascending) in (after, after + withinMs], or undefined. */
function firstAfter(times: number[] | undefined, after: number, withinMs: number): number | undefined {
  if (!times) return undefined;
  for (const t of times) {
    if (t <= after) continue;
    return t <= after + withinMs ? t : undefined;
  }
  return undefined;
}

/** How long a marker may take from one stage to the next and still be paired with it (markers are 1 s apart). */
const STAGE_WITHIN_MS = 500;

/**
 * Pairs the markers the generator sent in [fromHrMs, toHrMs] with the bot's, the service's and the
 * generator's detections that follow each within STAGE_WITHIN_MS, and returns the latencies (sorted).
 */
export function pairMarkers(m: MarkerTimes, fromHrMs: number, toHrMs: number): MarkerPairing {
  const out: MarkerPairing = { sent: 0, atBot: 0, serviceOut: 0, back: 0, botToServiceOut: [], botToGenerator: [], roundTrip: [] };
  for (let leg = 0; leg < m.generatorSent.length; leg++) {
    for (const g of m.generatorSent[leg] ?? []) {
      if (g < fromHrMs || g > toHrMs) continue;
      out.sent++;
      const b = firstAfter(m.botSent[leg], g, STAGE_WITHIN_MS);
      if (b === undefined) continue;
      out.atBot++;
      const v = firstAfter(m.serviceOut[leg], b, STAGE_WITHIN_MS);
      if (v !== undefined) {
        out.serviceOut++;
        out.botToServiceOut.push(v - b);
      }
      const a = firstAfter(m.generatorBack[leg], b, STAGE_WITHIN_MS);
      if (a !== undefined) {
        out.back++;
        out.botToGenerator.push(a - b);
        out.roundTrip.push(a - g);
      }
    }
  }
  for (const list of [out.botToServiceOut, out.botToGenerator, out.roundTrip]) list.sort((x, y) => x - y);
  return out;
}

/** The p-th percentile of ascending `sorted` (nearest rank), NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
