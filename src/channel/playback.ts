import { readFile, stat } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { extname } from 'node:path';
import { parseWav } from '../audio/wav.ts';
import { Resampler } from '../audio/resampler.ts';
import { ulawDecode, alawDecode } from '../codec/g711.ts';
import { Logger } from '../lib/logger.ts';
import { AppError, messageOf } from '../lib/errors.ts';
import type { FrameFormat } from '../bug/media-bug.ts';

/** What the playback queue needs from its channel. */
export interface PlaybackHost {
  readonly uuid: string;
  /** The codec rate frames are pulled at, Hz. */
  readonly rateHz: number;
  readonly isHungUp: boolean;
  /** Fires a channel event (PLAYBACK_START, PLAYBACK_STOP) with extra headers. */
  fire(name: string, subclass: undefined, body: undefined, extraHeaders: Record<string, string>): void;
}

/** Largest file played, in bytes. */
const MAX_PLAY_FILE_BYTES = 64 << 20;
/** Most audio queued for one channel, in seconds: more is refused (a flood must not exhaust memory). */
const MAX_QUEUED_SECONDS = 600;
/** Input samples resampled between two turns of the event loop (about 1 s at 48 kHz), so other calls keep their media. */
const RESAMPLE_SLICE_SAMPLES = 48000;

/** How a playback ended: played to its end, cut by break/hangup, or could not be played. */
export type PlaybackStatus = 'done' | 'break' | 'fail';

interface Item {
  path: string;
  /** Audio at the codec rate it was decoded for. */
  samples: Int16Array;
  rateHz: number;
  position: number;
  started: boolean;
  resolve: (status: PlaybackStatus) => void;
}

/** Decodes a file to mono s16: WAV (any rate, channels mixed down), raw .r8...r64 (s16 LE), .pcmu/.pcma (8 kHz). */
export function decodePlayFile(path: string, data: Buffer): { samples: Int16Array; rateHz: number } {
  const ext = extname(path).toLowerCase();
  const raw = /^\.r(8|16|24|32|40|48|56|64)$/.exec(ext);
  if (raw) {
    // One copy into an aligned buffer (s16 little-endian, the host order on x86 and ARM).
    const bytes = new Uint8Array(data.length & ~1);
    bytes.set(data.subarray(0, bytes.length));
    return { samples: new Int16Array(bytes.buffer), rateHz: Number(raw[1]) * 1000 };
  }
  if (ext === '.pcmu' || ext === '.ulaw' || ext === '.pcma' || ext === '.alaw') {
    const out = new Int16Array(data.length);
    if (ext === '.pcmu' || ext === '.ulaw') ulawDecode(data, out);
    else alawDecode(data, out);
    return { samples: out, rateHz: 8000 };
  }
  if (ext === '.wav') {
    const wav = parseWav(data);
    if (wav.channels === 1) return { samples: wav.samples, rateHz: wav.sampleRateHz };
    const frames = wav.samples.length / wav.channels;
    const mono = new Int16Array(frames);
    for (let i = 0; i < frames; i++) {
      let sum = 0;
      for (let c = 0; c < wav.channels; c++) sum += wav.samples[i * wav.channels + c]!;
      mono[i] = Math.round(sum / wav.channels);
    }
    return { samples: mono, rateHz: wav.sampleRateHz };
  }
  throw new AppError('PLAYBACK_UNSUPPORTED', `cannot play ${ext || 'files without an extension'}: use .wav, .r8 to .r64, .pcmu or .pcma`);
}

/**
 * Resamples a whole mono signal (5 ms of silence appended so the filter's tail comes out too), in
 * slices with a turn of the event loop between them, so a long file never stalls other calls.
 */
export async function resampleAll(samples: Int16Array, fromHz: number, toHz: number): Promise<Int16Array> {
  if (fromHz === toHz) return samples;
  const r = new Resampler(1, fromHz, toHz);
  try {
    const padded = new Int16Array(samples.length + Math.ceil(fromHz / 200));
    padded.set(samples);
    const out = new Int16Array(Math.ceil((padded.length * toHz) / fromHz) + 64);
    let written = 0;
    for (let off = 0; off < padded.length; off += RESAMPLE_SLICE_SAMPLES) {
      const part = r.process(padded.subarray(off, off + RESAMPLE_SLICE_SAMPLES));
      if (written + part.length > out.length) break;
      out.set(part, written);
      written += part.length;
      if (off + RESAMPLE_SLICE_SAMPLES < padded.length) await yieldToLoop();
    }
    return out.slice(0, written);
  } finally {
    r.destroy();
  }
}

/**
 * The queue of files played into a channel's write stream (what the remote party hears), in order,
 * each fully decoded and resampled to the codec rate when it is queued. The media tick pulls one
 * packet time at a time with nextFrame(). Fires PLAYBACK_START and PLAYBACK_STOP.
 */
export class Playback {
  private readonly queue: Item[] = [];
  /** Samples queued and not yet played, at the codec rate. */
  private queuedSamples = 0;
  private loading: Promise<unknown> = Promise.resolve();
  private frame = new Int16Array(0);
  private readonly log: Logger;

  /** The rate frames are pulled at: the channel's codec rate, pushed by onFormatChange. */
  private rateHz: number;

  constructor(private readonly channel: PlaybackHost) {
    this.log = new Logger(`playback(${channel.uuid})`);
    this.rateHz = channel.rateHz;
  }

  /** Resolves once every file queued so far has been read and decoded (played or not). */
  async loaded(): Promise<void> {
    await this.loading;
  }

  /**
   * Queues a file behind whatever is queued or playing (never cutting it off); resolves when it has
   * finished playing, was broken off, or could not be read.
   */
  enqueue(path: string): Promise<PlaybackStatus> {
    let resolve!: (s: PlaybackStatus) => void;
    const finished = new Promise<PlaybackStatus>((r) => { resolve = r; });
    this.loading = this.loading.then(async () => {
      try {
        const size = (await stat(path)).size;
        if (size > MAX_PLAY_FILE_BYTES) throw new AppError('PLAYBACK_TOO_LARGE', `larger than ${MAX_PLAY_FILE_BYTES} bytes`);
        const decoded = decodePlayFile(path, await readFile(path));
        const rateHz = this.rateHz;
        const limit = MAX_QUEUED_SECONDS * rateHz;
        if (this.queuedSamples + (decoded.samples.length * rateHz) / decoded.rateHz > limit) {
          throw new AppError('PLAYBACK_QUEUE_FULL', `more than ${MAX_QUEUED_SECONDS} s of audio already queued`);
        }
        const samples = await resampleAll(decoded.samples, decoded.rateHz, rateHz);
        if (this.channel.isHungUp) return resolve('break');
        const item: Item = { path, samples, rateHz, position: 0, started: false, resolve };
        this.queue.push(item);
        this.queuedSamples += samples.length;

      } catch (err) {
        this.log.error(`cannot play ${path}: ${messageOf(err)}`);
        resolve('fail');
      }
    });
    return finished;
  }

  /**
   * One packet time of audio (`samples` long) at the codec rate, or null when nothing plays. The
   * returned frame is reused: consume it before the next call.
   */
  nextFrame(samples: number): Int16Array | null {
    if (this.queue.length === 0) return null;
    if (this.frame.length !== samples) this.frame = new Int16Array(samples);
    const out = this.frame;
    let filled = 0;
    while (filled < samples && this.queue.length > 0) {
      const item = this.queue[0]!;
      if (item.rateHz !== this.rateHz) this.resampleRest(item, this.rateHz);
      if (!item.started) {
        item.started = true;
        this.fire('PLAYBACK_START', item.path);
      }
      const take = Math.min(samples - filled, item.samples.length - item.position);
      const src = item.samples;
      for (let i = 0, j = item.position; i < take; i++, j++) out[filled + i] = src[j]!;
      item.position += take;
      filled += take;
      this.queuedSamples -= take;
      if (item.position >= item.samples.length) this.finish('done');
    }
    if (filled < samples) out.fill(0, filled);
    return out;
  }

  /** Stops the current file and empties the queue (uuid_break all, hangup). */
  breakAll(): void {
    while (this.queue.length > 0) this.finish('break');
  }

  /**
   * The codec rate changed mid-call: each item is resampled to the new rate when it comes up (the
   * one playing at once), so a long queue is not converted in one go.
   */
  onFormatChange(format: FrameFormat): void {
    this.rateHz = format.rateHz;
  }

  private resampleRest(item: Item, rateHz: number): void {
    const rest = item.samples.subarray(item.position);
    const r = new Resampler(1, item.rateHz, rateHz);
    try {
      const converted = Int16Array.from(r.process(rest));
      this.queuedSamples += converted.length - rest.length;
      item.samples = converted;
    } finally {
      r.destroy();
    }
    item.position = 0;
    item.rateHz = rateHz;
  }

  private finish(status: PlaybackStatus): void {
    const item = this.queue.shift()!;
    this.queuedSamples -= item.samples.length - item.position;
    if (item.started) this.fire('PLAYBACK_STOP', item.path, status);
    item.resolve(status);
  }

  private fire(name: 'PLAYBACK_START' | 'PLAYBACK_STOP', path: string, status?: PlaybackStatus): void {
    if (this.channel.isHungUp) return;
    const headers: Record<string, string> = { 'Playback-File-Path': path };
    if (status) headers['Playback-Status'] = status === 'done' ? 'done' : status;
    this.channel.fire(name, undefined, undefined, headers);
  }
}
