import type { Channel } from '../channel/channel.ts';
import type { Clock } from '../lib/clock.ts';
import type { CoarseTimer } from '../lib/coarse-timer.ts';
import { fail, ok, type Result } from '../lib/errors.ts';
import { Logger } from '../lib/logger.ts';
import { AudioStream, AUDIO_STREAM_BUG } from './audio-stream.ts';
import { StreamMetrics } from './metrics.ts';
import { readStreamOptions } from './options.ts';
import { PlayFiles, PlayFileStore } from './play-files.ts';
import { parseStreamRate, parseStreamUrl } from './url.ts';
import type { WsLimits } from './ws-connection.ts';

/** Largest start metadata in UTF-8 bytes. */
export const MAX_METADATA_BYTES = 64 * 1024;

/** The arguments of `start`, as text. */
export interface StartArgs {
  url: string;
  mix: string;
  rate: string | undefined;
  metadata: string | undefined;
}

/** What a caller hosting streams may add (the stream CLI keeps play files; tests bound the buffers). */
export interface StartOptions {
  keepPlayFiles?: boolean;
  limits?: WsLimits;
}

/** What the engine is built with. */
export interface AudioStreamEngineOptions {
  /** Directory of play files. */
  tempDir: string;
  clock: Clock;
  /** The shared housekeeping ticker (heartbeats). */
  ticker: CoarseTimer;
  /** Bytes of play files allowed in tempDir (all streams) and per stream (config tempDirBudgetMb, tempDirStreamBudgetMb). */
  playFileBudget?: { totalBytes: number; perStreamBytes: number };
  /** Largest server text message passed on as a `json` event body (config stream.maxJsonEventBytes). */
  maxJsonEventBytes?: number;
}

/**
 * mod_audio_stream itself: starts streams on channels (one per channel, the `audio_stream` media
 * bug), finds them again, numbers each channel's play files, and keeps the engine's counters.
 */
export class AudioStreamEngine {
  readonly metrics = new StreamMetrics();
  readonly tempDir: string;
  /** The play files of every stream: the directory, the budget, who holds what. */
  readonly playFiles: PlayFileStore;
  private readonly playFileIndex = new Map<string, number>();

  constructor(private readonly options: AudioStreamEngineOptions) {
    this.tempDir = options.tempDir;
    this.playFiles = new PlayFileStore(options.tempDir, options.playFileBudget);
  }

  /** The stream attached to a channel, if any. */
  find(channel: Channel): AudioStream | undefined {
    const bug = channel.findBug(AUDIO_STREAM_BUG);
    return bug instanceof AudioStream ? bug : undefined;
  }

  /**
   * Validates the start arguments, pre-answers the channel if needed and starts a stream on it:
   * attached and connecting; the outcome arrives as an event.
   */
  start(channel: Channel, args: StartArgs, extra: StartOptions = {}): Result<AudioStream> {
    const mix = args.mix.toLowerCase();
    if (mix !== 'mono' && mix !== 'mixed' && mix !== 'stereo') {
      return fail('INVALID_ARGUMENT', `invalid mix type: ${args.mix}, must be mono, mixed, or stereo`);
    }
    const rate = parseStreamRate(args.rate);
    if (!rate.ok) return rate;
    const url = parseStreamUrl(args.url);
    if (!url.ok) return url;
    const metadata = args.metadata;
    if (metadata !== undefined) {
      if (!metadata.isWellFormed()) return fail('INVALID_ARGUMENT', 'metadata is not valid UTF-8');
      if (Buffer.byteLength(metadata) > MAX_METADATA_BYTES) return fail('INVALID_ARGUMENT', `metadata longer than ${MAX_METADATA_BYTES} bytes`);
    }
    if (channel.findBug(AUDIO_STREAM_BUG)) return fail('STREAM_EXISTS', 'a stream is already running on this channel (bug already attached)');
    if (!channel.preAnswer()) return fail('CHANNEL_NO_MEDIA', 'cannot pre-answer the channel');
    const log = new Logger(`mod_audio_stream(${channel.uuid})`);
    const streamOptions = readStreamOptions((name) => channel.getVariable(name), (m) => log.warning(m));
    const playFiles = new PlayFiles(this.tempDir, channel.uuid, () => this.nextPlayFile(channel), this.playFiles);
    const stream = new AudioStream({
      channel, url: url.value, mix, rateHz: rate.value, metadata, options: streamOptions, playFiles,
      keepPlayFiles: extra.keepPlayFiles, limits: extra.limits, maxJsonEventBytes: this.options.maxJsonEventBytes,
    }, { clock: this.options.clock, ticker: this.options.ticker, metrics: this.metrics });
    if (!channel.addBug(stream)) return fail('CHANNEL_HUNG_UP', 'cannot attach the stream to the channel');
    stream.start();
    return ok(stream);
  }

  /** The next play file number of a channel (counted per channel, forgotten when it ends). */
  private nextPlayFile(channel: Channel): number {
    const n = this.playFileIndex.get(channel.uuid);
    if (n === undefined) void channel.ended.then(() => this.playFileIndex.delete(channel.uuid));
    this.playFileIndex.set(channel.uuid, (n ?? 0) + 1);
    return n ?? 0;
  }
}
