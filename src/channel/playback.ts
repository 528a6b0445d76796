import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { extname } from 'node:path';
import { parseWav } from '../audio/wav.ts';
import { Resampler } from '../audio/resampler.ts';
import { ulawDecode, alawDecode } from '../codec/g711.ts';
import { Logger } from '../lib/logger.ts';
import { Deque } from '../lib/deque.ts';
import { AppError, messageOf } from '../lib/errors.ts';
import type { FrameFormat } from '../bug/media-bug.ts';
import type { SampleSource } from '../audio/sample-source.ts';
import { isStreamPath, openStream } from './stream-files.ts';
import { readPlayFile, type PlayFileAccess } from './sound-files.ts';

/** What the playback queue needs from its channel. */
export interface PlaybackHost {
  readonly uuid: string;
  /** The codec rate frames are pulled at, Hz. */
  readonly rateHz: number;
  readonly isHungUp: boolean;
  /** Fires a channel event (PLAYBACK_START, PLAYBACK_STOP) with extra headers. */
  fire(name: string, subclass: undefined, body: undefined, extraHeaders: Record<string, string>): void;
  /** Sets (moved last) or (undefined) unsets a channel variable: the ones switch_ivr_play_file sets. */
  setVariable(name: string, value: string | undefined): void;
  getVariable(name: string): string | undefined;
}

/** Largest file played, in bytes. */
const MAX_PLAY_FILE_BYTES = 64 << 20;
/** Most audio queued for one channel, in seconds: more is refused (a flood must not exhaust memory). */
const MAX_QUEUED_SECONDS = 600;
/** Input samples resampled between two turns of the event loop (about 1 s at 48 kHz), so other calls keep their media. */
const RESAMPLE_SLICE_SAMPLES = 48000;

/** How a playback ended: played to its end, cut by break/hangup/clear, or could not be played. */
export type PlaybackStatus = 'done' | 'break' | 'fail';

/** What became of a mark: everything queued before it was sent to the caller, or a clear dropped it. */
export type MarkOutcome = 'played' | 'cleared';

/** Audio to play: a file or a decoded reply (with a path: PLAYBACK_START/STOP events), or a segment of streamed replies. */
interface AudioItem {
  kind: 'audio';
  /** Audio at `rateHz`; only the first `length` samples hold audio (a streamed segment grows). */
  samples: Int16Array;
  length: number;
  rateHz: number;
  position: number;
  /** The file it came from (events carry it); undefined for streamed audio (no events). */
  path: string | undefined;
  started: boolean;
  resolve: ((status: PlaybackStatus) => void) | undefined;
  /** A streamed segment still taking appends (until a mark or another item is queued behind it). */
  open: boolean;
}

/** A point in the queue: told when the audio ahead of it has been sent, or when a clear drops it. */
interface MarkItem {
  kind: 'mark';
  done: (outcome: MarkOutcome) => void;
}

/** Something to do once the audio ahead of it has been sent (a hangup after playout); a clear does not drop it. */
interface ActionItem {
  kind: 'action';
  run: () => void;
}

/** A generated "file" (tone_stream://, silence_stream://): made a frame at a time, its length not counted as queued. */
interface SourceItem {
  kind: 'source';
  source: SampleSource;
  path: string;
  started: boolean;
  /** Samples sent to the caller so far. */
  played: number;
  resolve: (status: PlaybackStatus) => void;
}

type Item = AudioItem | SourceItem | MarkItem | ActionItem;

/** Decodes a file to mono s16: WAV (any rate, channels mixed down), raw .r8...r64 (s16 LE), .pcmu/.pcma (8 kHz). */
export function decodePlayFile(path: string, data: Buffer): { samples: Int16Array; rateHz: number } {
  const ext = extname(path).toLowerCase();
  const raw = /^\.r(8|16|24|32|40|48|56|64|11025|22050|44100)$/.exec(ext);
  if (raw) {
    // One copy into an aligned buffer (s16 little-endian, the host order on x86 and ARM).
    const bytes = new Uint8Array(data.length & ~1);
    bytes.set(data.subarray(0, bytes.length));
    const n = Number(raw[1]);
    return { samples: new Int16Array(bytes.buffer), rateHz: n < 1000 ? n * 1000 : n };
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
 * What a channel plays into its write stream (what the remote party hears), in order, never cutting
 * one off for the next: files (decoded and resampled when queued), audio decoded in memory,
 * streamed audio appended as it arrives, and marks and actions between them. The media tick pulls
 * one packet time at a time with nextFrame(); marks and actions whose audio ahead was in that
 * frame run right after the tick (once the frame is sent). Fires PLAYBACK_START and PLAYBACK_STOP
 * for what has a path.
 */
export class Playback {
  private readonly queue = new Deque<Item>();
  /** Samples queued and not yet played, at the codec rate. */
  private queuedSamples = 0;
  private loading: Promise<unknown> = Promise.resolve();
  private frame = new Int16Array(0);
  private readonly log: Logger;
  /** The rate frames are pulled at: the channel's codec rate, pushed by onFormatChange. */
  private rateHz: number;
  /** Marks and actions reached in the last frame, run once the tick is over. */
  private readonly reached: Array<MarkItem | ActionItem> = [];
  private reachedScheduled = false;
  private readonly clearListeners = new Set<(droppedSamples: number) => void>();
  private readonly clearingListeners = new Set<() => void>();
  private readonly starvingListeners = new Set<() => void>();
  /** Times a starving listener topped the queue up (the binary resampler's tail); a figure for benchmarks. */
  topUps = 0;
  /** Samples of silence pulled since the last one played (Infinity: nothing played yet). */
  private silentSamples = Infinity;

  constructor(private readonly channel: PlaybackHost) {
    this.log = new Logger(`playback(${channel.uuid})`);
    this.rateHz = channel.rateHz;
  }

  /** Milliseconds of audio queued and not yet played. */
  get queuedMs(): number {
    return (this.queuedSamples * 1000) / this.rateHz;
  }

  /** Milliseconds since the last sample played was sent (Infinity when nothing has played yet). */
  get msSinceAudio(): number {
    return (this.silentSamples * 1000) / this.rateHz;
  }

  /** The codec rate audio is played at, Hz. */
  get codecRateHz(): number {
    return this.rateHz;
  }

  /** Resolves once every file queued so far has been read and decoded (played or not). */
  async loaded(): Promise<void> {
    await this.loading;
  }

  /**
   * Queues a file behind whatever is queued or playing (never cutting it off); resolves when it has
   * finished playing, was broken off, or could not be read. A tone_stream:// or silence_stream://
   * is generated as it plays, at the codec rate. With `access`, only the files it allows are read
   * (a tone_stream's path= file too); a refusal fails as a missing file does, with one text.
   */
  enqueue(path: string, access?: PlayFileAccess): Promise<PlaybackStatus> {
    let resolve!: (s: PlaybackStatus) => void;
    const finished = new Promise<PlaybackStatus>((r) => { resolve = r; });
    this.loading = this.loading.then(async () => {
      try {
        if (isStreamPath(path)) {
          const readToneFile = access ? (file: string, maxBytes: number) => this.read(file, access, maxBytes) : undefined;
          const { source, problems } = await openStream(path, this.rateHz, readToneFile);
          if (problems.length > 0) this.log.warning(`${path}: ${problems.join('; ')}`);
          if (this.channel.isHungUp) return resolve('break');
          this.closeTail();
          this.queue.push({ kind: 'source', source, path, started: false, played: 0, resolve });
          return;
        }
        const file = await readPlayFile(path, this.channel.uuid, access, MAX_PLAY_FILE_BYTES,
          () => new AppError('PLAYBACK_TOO_LARGE', `larger than ${MAX_PLAY_FILE_BYTES} bytes`));
        const decoded = decodePlayFile(file.path, file.data);
        const rateHz = this.rateHz;
        const limit = MAX_QUEUED_SECONDS * rateHz;
        if (this.queuedSamples + (decoded.samples.length * rateHz) / decoded.rateHz > limit) {
          throw new AppError('PLAYBACK_QUEUE_FULL', `more than ${MAX_QUEUED_SECONDS} s of audio already queued`);
        }
        const samples = await resampleAll(decoded.samples, decoded.rateHz, rateHz);
        if (this.channel.isHungUp) return resolve('break');
        this.push(this.audioItem(samples, rateHz, file.path, resolve));
      } catch (err) {
        this.log.error(`cannot play ${path}: ${messageOf(err)}`);
        // FreeSWITCH fires no playback event for a file it cannot open; we say so (README).
        this.fire('PLAYBACK_STOP', path, 'fail', messageOf(err));
        resolve('fail');
      }
    });
    return finished;
  }

  /** A tone_stream's path= file, within `access`. */
  private async read(file: string, access: PlayFileAccess, maxBytes: number): Promise<Buffer> {
    const tooLarge = () => new AppError('TONE_STREAM_INVALID', `the tone file ${file} is larger than ${maxBytes} bytes`);
    return (await readPlayFile(file, this.channel.uuid, access, maxBytes, tooLarge)).data;
  }

  /**
   * Queues audio decoded in memory (at `rateHz`, the codec rate it was resampled for), now;
   * `path`, when given, names it in PLAYBACK_START/STOP. Resolves when it has played or was cleared.
   */
  enqueueAudio(samples: Int16Array, rateHz: number, path?: string): Promise<PlaybackStatus> {
    if (this.channel.isHungUp) return Promise.resolve('break');
    return new Promise((resolve) => this.push(this.audioItem(samples, rateHz, path, resolve)));
  }

  /**
   * Appends streamed audio at the codec rate (copied: `samples` may be reused by the caller) to the
   * segment being streamed, behind everything queued; a new segment starts behind a mark or a file.
   */
  appendStream(samples: Int16Array): void {
    if (this.channel.isHungUp || samples.length === 0) return;
    const tail = this.queue.last;
    let seg = tail?.kind === 'audio' && tail.open && tail.rateHz === this.rateHz ? tail : undefined;
    if (!seg) {
      // Room for as much again: a segment cut short by a mark costs about twice its audio, whatever the pattern.
      seg = this.audioItem(new Int16Array(2 * samples.length), this.rateHz, undefined, undefined);
      seg.length = 0;
      seg.open = true;
      this.push(seg);
    }
    if (seg.length + samples.length > seg.samples.length) {
      // Full: drop what was played (a segment may stream for a whole call), and double when that is not enough.
      const live = seg.length - seg.position;
      if (live + samples.length <= seg.samples.length) {
        seg.samples.copyWithin(0, seg.position, seg.length);
      } else {
        const next = new Int16Array(Math.max(live + samples.length, seg.samples.length * 2));
        next.set(seg.samples.subarray(seg.position, seg.length));
        seg.samples = next;
      }
      seg.length = live;
      seg.position = 0;
    }
    seg.samples.set(samples, seg.length);
    seg.length += samples.length;
    this.queuedSamples += samples.length;
  }

  /** Queues a mark: `done('played')` once everything queued before it has been sent, `done('cleared')` if a clear drops it. */
  mark(done: (outcome: MarkOutcome) => void): void {
    this.pushPoint({ kind: 'mark', done });
  }

  /** Runs `run` once everything queued before it has been sent (at once when nothing is). A clear does not drop it. */
  afterPlayout(run: () => void): void {
    this.pushPoint({ kind: 'action', run });
  }

  /**
   * Called at the start of every clear, before anything is dropped: a source that holds audio or
   * marks back (the binary resampler) queues its marks then, so the clear answers them in order.
   * Returns the remover.
   */
  onClearing(listener: () => void): () => void {
    this.clearingListeners.add(listener);
    return () => this.clearingListeners.delete(listener);
  }

  /** Called with the samples dropped by every clear (break, clearAudio, hangup); returns the remover. */
  onCleared(listener: (droppedSamples: number) => void): () => void {
    this.clearListeners.add(listener);
    return () => this.clearListeners.delete(listener);
  }

  /**
   * Called when a frame is about to be pulled with less than a frame of audio queued: a streaming
   * source may top the queue up first (the binary resampler's tail). Returns the remover.
   */
  onStarving(listener: () => void): () => void {
    this.starvingListeners.add(listener);
    return () => this.starvingListeners.delete(listener);
  }

  /**
   * One packet time of audio (`samples` long) at the codec rate, or null when nothing plays. The
   * returned frame is reused: consume it before the next call.
   */
  nextFrame(samples: number): Int16Array | null {
    if (this.queuedSamples < samples && this.starvingListeners.size > 0) {
      const before = this.queuedSamples;
      for (const listener of this.starvingListeners) listener();
      if (this.queuedSamples > before) this.topUps++;
    }
    this.passPoints();
    if (this.queue.length === 0) {
      this.silentSamples += samples;
      return null;
    }
    if (this.frame.length !== samples) this.frame = new Int16Array(samples);
    const out = this.frame;
    let filled = 0;
    let played = false;
    while (filled < samples && this.queue.length > 0) {
      const item = this.queue.first!;
      if (item.kind === 'source') {
        if (!item.started) {
          item.started = true;
          this.fire('PLAYBACK_START', item.path);
        }
        if (item.source.rateHz !== this.rateHz) item.source.setRate(this.rateHz);
        const take = item.source.read(out, filled, samples - filled);
        item.played += take;
        filled += take;
        played ||= take > 0;
        if (item.source.ended || take === 0) this.finish('done');
        continue;
      }
      if (item.kind !== 'audio') {
        this.reach(item);
        continue;
      }
      if (item.rateHz !== this.rateHz) this.resampleRest(item, this.rateHz);
      if (!item.started) {
        item.started = true;
        if (item.path !== undefined) this.fire('PLAYBACK_START', item.path);
      }
      const take = Math.min(samples - filled, item.length - item.position);
      const src = item.samples;
      for (let i = 0, j = item.position; i < take; i++, j++) out[filled + i] = src[j]!;
      item.position += take;
      filled += take;
      played ||= take > 0;
      this.queuedSamples -= take;
      if (item.position >= item.length) {
        if (item.open && this.queue.length === 1) break; // a streamed segment waits for more
        this.finish('done');
      }
    }
    this.passPoints();
    if (!played) {
      this.silentSamples += samples;
      return null;
    }
    this.silentSamples = samples - filled;
    if (filled < samples) out.fill(0, filled);
    return out;
  }

  /**
   * Drops every queued and playing piece of audio (uuid_break, clearAudio, hangup; files end with `break`), answers the marks
   * `cleared` in order, keeps the actions; returns the samples dropped and tells the listeners.
   */
  clear(): number {
    for (const listener of this.clearingListeners) listener();
    let dropped = 0;
    const kept: ActionItem[] = [];
    while (this.queue.length > 0) {
      const item = this.queue.first!;
      if (item.kind === 'audio' || item.kind === 'source') {
        if (item.kind === 'audio') dropped += item.length - item.position;
        this.finish('break');
      } else {
        this.queue.shift();
        if (item.kind === 'mark') item.done('cleared');
        else kept.push(item);
      }
    }
    for (const item of kept) this.queue.push(item);
    if (kept.length > 0) this.passPoints();
    for (const listener of this.clearListeners) listener(dropped);
    return dropped;
  }

  /**
   * The codec rate changed mid-call: each item is resampled to the new rate when it comes up (the
   * one playing at once), so a long queue is not converted in one go.
   */
  onFormatChange(format: FrameFormat): void {
    this.rateHz = format.rateHz;
  }

  private audioItem(samples: Int16Array, rateHz: number, path: string | undefined, resolve: AudioItem['resolve']): AudioItem {
    return { kind: 'audio', samples, length: samples.length, rateHz, position: 0, path, started: false, resolve, open: false };
  }

  private push(item: AudioItem): void {
    this.closeTail();
    this.queue.push(item);
    this.queuedSamples += item.length;
  }

  private pushPoint(point: MarkItem | ActionItem): void {
    this.closeTail();
    this.queue.push(point);
    this.passPoints(); // nothing ahead of it: reached now
  }

  /** A streamed segment stops taking appends once something is queued behind it. */
  private closeTail(): void {
    const tail = this.queue.last;
    if (tail?.kind === 'audio') tail.open = false;
    // An emptied segment at the head that waited for more is finished now that something follows it.
    const head = this.queue.first;
    if (head?.kind === 'audio' && head.position >= head.length && head !== tail) this.finish('done');
  }

  /** Marks and actions at the head (nothing ahead of them left to send) are reached. */
  private passPoints(): void {
    for (let head = this.queue.first; head !== undefined; head = this.queue.first) {
      if (head.kind === 'audio') {
        if (head.position < head.length || head.open) return;
        this.finish('done');
        continue;
      }
      if (head.kind === 'source') return; // made as it is pulled: it ends in nextFrame
      this.reach(head);
    }
  }

  private reach(item: MarkItem | ActionItem): void {
    this.queue.shift();
    this.reached.push(item);
    if (this.reachedScheduled) return;
    this.reachedScheduled = true;
    // After the tick that pulled the audio ahead of them: by then the frame has been sent.
    queueMicrotask(() => this.runReached());
  }

  private runReached(): void {
    this.reachedScheduled = false;
    const items = this.reached.splice(0);
    for (const item of items) {
      try {
        if (item.kind === 'mark') item.done('played');
        else item.run();
      } catch (err) {
        this.log.error(`a playback ${item.kind} failed: ${messageOf(err)}`);
      }
    }
  }

  private resampleRest(item: AudioItem, rateHz: number): void {
    const rest = item.samples.subarray(item.position, item.length);
    const r = new Resampler(1, item.rateHz, rateHz);
    try {
      const converted = Int16Array.from(r.process(rest));
      this.queuedSamples += converted.length - rest.length;
      item.samples = converted;
      item.length = converted.length;
    } finally {
      r.destroy();
    }
    item.position = 0;
    item.rateHz = rateHz;
  }

  /** Removes the head audio or generated item, ending it with `status`. */
  private finish(status: PlaybackStatus): void {
    const item = this.queue.shift() as AudioItem | SourceItem;
    if (item.kind === 'audio') this.queuedSamples -= item.length - item.position;
    if (item.started && item.path !== undefined) {
      this.setPlayedVariables(item.kind === 'audio' ? item.position : item.played);
      this.fire('PLAYBACK_STOP', item.path, status);
    }
    item.resolve?.(status);
  }

  /**
   * What switch_ivr_play_file leaves on the channel once a file ends: the loop counters go, and
   * playback_samples, playback_ms, playback_seconds and playback_last_offset_pos say how much
   * reached the caller (samples at the channel's rate).
   */
  private setPlayedVariables(samples: number): void {
    const ms = Math.floor((samples * 1000) / this.rateHz);
    this.channel.setVariable('current_loop', undefined);
    this.channel.setVariable('total_loops', undefined);
    this.channel.setVariable('playback_last_offset_pos', String(samples));
    this.channel.setVariable('playback_seconds', String(Math.floor(ms / 1000)));
    this.channel.setVariable('playback_ms', String(ms));
    this.channel.setVariable('playback_samples', String(samples));
  }

  /** PLAYBACK_START / PLAYBACK_STOP with switch_ivr_play_file's headers (Playback-File-Type for a tone_stream). */
  private fire(name: 'PLAYBACK_START' | 'PLAYBACK_STOP', path: string, status?: PlaybackStatus, error?: string): void {
    if (this.channel.isHungUp) return;
    if (name === 'PLAYBACK_START') {
      // While a file plays, switch_ivr_play_file shows its loop (we play each file once). In
      // FreeSWITCH 1.10.12's events the application's two variables then come after them again.
      this.channel.setVariable('current_loop', '1');
      this.channel.setVariable('total_loops', '1');
      for (const name of ['current_application_data', 'current_application']) {
        const value = this.channel.getVariable(name);
        if (value !== undefined) this.channel.setVariable(name, value);
      }
    }
    const headers: Record<string, string> = {};
    if (path.startsWith('tone_stream:')) headers['Playback-File-Type'] = 'tone_stream';
    headers['Playback-File-Path'] = path;
    if (status) headers['Playback-Status'] = status;
    if (error) headers['Playback-Error'] = error;
    this.channel.fire(name, undefined, undefined, headers);
  }
}
