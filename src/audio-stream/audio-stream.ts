import type { MediaBug } from '../bug/media-bug.ts';
import type { Channel } from '../channel/channel.ts';
import { Logger } from '../lib/logger.ts';
import { switchTrue } from '../lib/switch-true.ts';
import { Resampler } from '../audio/resampler.ts';
import { SampleChunker } from '../audio/chunker.ts';
import { mixSaturating, interleaveStereo } from '../audio/mix.ts';
import type { StreamError } from './errors.ts';
import type { StreamOptions } from './options.ts';
import type { StreamUrl } from './url.ts';
import { WsConnection, DEFAULT_WS_LIMITS, type WsLimits } from './ws-connection.ts';
import { PlayFiles } from './play-files.ts';
import { interpretMessage, playEventBody } from './stream-audio-message.ts';
import { streamMetrics } from './metrics.ts';

/** Which audio goes to the server: mono = read, mixed = read + write, stereo = L read / R write. */
export type MixType = 'mono' | 'mixed' | 'stereo';

/** Name of the media bug, as the C module names it. */
export const AUDIO_STREAM_BUG = 'audio_stream';

/** Event subclasses fired by a stream. */
export const EVENT_CONNECT = 'mod_audio_stream::connect';
export const EVENT_DISCONNECT = 'mod_audio_stream::disconnect';
export const EVENT_ERROR = 'mod_audio_stream::error';
export const EVENT_JSON = 'mod_audio_stream::json';
export const EVENT_PLAY = 'mod_audio_stream::play';

/** Everything a stream is started with. */
export interface AudioStreamParams {
  channel: Channel;
  url: StreamUrl;
  mix: MixType;
  /** Rate of the audio sent, Hz. */
  rateHz: number;
  /** Text sent first on open, or undefined. */
  metadata: string | undefined;
  options: StreamOptions;
  /** Directory of play files. */
  tempDir: string;
  limits?: WsLimits;
  /** Keep play files after the stream ends (the CLI's --keep-files). */
  keepPlayFiles?: boolean;
  /** Called for every play file written (STREAM_PLAYBACK hooks in here). */
  onPlayFile?: (path: string, data: Record<string, unknown>) => void;
}

/** Seconds of a stream's audio that may wait towards a slow server before audio is dropped. */
const MAX_BUFFERED_SECONDS = 2;

/** Bounds for one stream: at most ~2 s of its audio (64 KiB at least) waits in the socket. */
function streamLimits(chunkBytes: number, bufferMs: number): WsLimits {
  const bytesPerSecond = (chunkBytes * 1000) / bufferMs;
  return { ...DEFAULT_WS_LIMITS, maxBufferedBytes: Math.max(64 << 10, Math.ceil(bytesPerSecond * MAX_BUFFERED_SECONDS)) };
}

/** Server messages that may wait for earlier play files to be written; more are dropped with an error log. */
const MAX_INBOUND_PENDING = 256;

/** How many drops between two log lines about a slow or absent server. */
const DROP_LOG_EVERY = 250;

/**
 * One mod_audio_stream stream: a media bug that turns a channel's frames into exact chunks of
 * little-endian s16 PCM at the requested rate and sends them, with metadata and text, to the
 * application's WebSocket server; it fires the module's events and writes play files.
 */
export class AudioStream implements MediaBug {
  readonly name = AUDIO_STREAM_BUG;
  readonly channels: 1 | 2;
  /** Resolves when the connection has ended and the play files are deleted. */
  readonly finished: Promise<void>;
  private paused = false;
  private ended = false;
  private connectionGone = false;
  private readonly log: Logger;
  private readonly conn: WsConnection;
  private readonly limits: WsLimits;
  private resampler: Resampler | undefined;
  /** The codec rate the resampler was built for (the channel's codec can change mid-call). */
  private inputRateHz: number;
  private readonly chunker: SampleChunker;
  private readonly chunkBytes: Buffer;
  private readonly playFiles: PlayFiles;
  private work = new Int16Array(0);
  private workView = new Int16Array(0);
  private inbound: Promise<void> = Promise.resolve();
  private inboundPending = 0;
  private frameDueMs = 0;
  /** Which streamMetrics gauge counts this stream. */
  private gaugeState: 'connecting' | 'open' | 'none' = 'none';
  private resolveFinished!: () => void;

  constructor(private readonly p: AudioStreamParams) {
    this.channels = p.mix === 'stereo' ? 2 : 1;
    this.log = new Logger(`mod_audio_stream(${p.channel.uuid})`);
    const codecRate = p.channel.codec.rateHz;
    this.inputRateHz = codecRate;
    this.resampler = codecRate !== p.rateHz ? new Resampler(this.channels, codecRate, p.rateHz) : undefined;
    const chunkSamples = Math.round((p.rateHz * p.options.bufferMs) / 1000) * this.channels;
    this.chunker = new SampleChunker(chunkSamples, (chunk) => this.sendChunk(chunk));
    const store = this.chunker.buffer;
    this.chunkBytes = Buffer.from(store.buffer, store.byteOffset, store.byteLength);
    this.playFiles = new PlayFiles(p.tempDir, p.channel);
    this.finished = new Promise((resolve) => { this.resolveFinished = resolve; });
    this.limits = p.limits ?? streamLimits(chunkSamples * 2, p.options.bufferMs);
    this.conn = new WsConnection(p.url, p.options, {
      onOpen: () => this.onOpen(),
      onText: (text) => this.onText(text),
      onClose: (code, reason) => this.onServerClose(code, reason),
      onError: (error) => this.onError(error),
      onClosed: () => this.onClosed(),
    }, this.limits);
  }

  /** Bytes of audio per binary message. */
  get chunkByteLength(): number {
    return this.chunker.chunkSamples * 2;
  }

  /** Bytes that may wait towards the server once open before audio is dropped. */
  get maxBufferedBytes(): number {
    return this.limits.maxBufferedBytes;
  }

  /** Bytes waiting to go to the server (queued while connecting or buffered by the socket). */
  get bufferedBytes(): number {
    return this.conn.bufferedBytes;
  }

  /** True once the server accepted the connection and until it ends. */
  get isOpen(): boolean {
    return this.conn.isOpen;
  }

  /** Messages sent, bytes sent and messages dropped by this stream. */
  get stats(): Readonly<{ messagesSent: number; bytesSent: number; messagesDropped: number }> {
    return this.conn.stats;
  }

  /** Starts connecting (the caller attached the bug first). */
  start(): void {
    streamMetrics.started++;
    streamMetrics.connecting++;
    this.gaugeState = 'connecting';
    this.log.info(`connecting to ${this.p.url.href} (${this.p.mix}, ${this.p.rateHz} Hz, ${this.p.options.bufferMs} ms per message)`);
    this.conn.connect();
  }

  /** MediaBug: one packet time of the channel's audio. */
  onFrame(read: Int16Array | null, write: Int16Array | null, dueMs: number): void {
    if (this.paused || this.ended || this.connectionGone) return;
    if (this.p.channel.codec.rateHz !== this.inputRateHz) this.followCodecRate();
    this.frameDueMs = dueMs;
    const n = read?.length ?? write?.length ?? (this.p.channel.codec.rateHz * this.p.channel.codec.ptimeMs) / 1000;
    let input: Int16Array;
    if (this.p.mix === 'mono' && read) {
      input = read;
    } else {
      const len = n * this.channels;
      if (this.work.length < len) this.work = new Int16Array(len);
      if (this.p.mix === 'stereo') interleaveStereo(read, write, this.work, n);
      else mixSaturating(read, this.p.mix === 'mixed' ? write : null, this.work, n);
      if (this.workView.length !== len || this.workView.buffer !== this.work.buffer) this.workView = this.work.subarray(0, len);
      input = this.workView;
    }
    this.chunker.push(this.resampler ? this.resampler.process(input) : input);
  }

  /** The channel's codec rate changed (re-INVITE, late offer): resample from the new rate from now on. */
  private followCodecRate(): void {
    const rate = this.p.channel.codec.rateHz;
    this.log.info(`codec rate changed from ${this.inputRateHz} to ${rate} Hz`);
    this.resampler?.destroy();
    this.inputRateHz = rate;
    this.resampler = rate !== this.p.rateHz ? new Resampler(this.channels, rate, this.p.rateHz) : undefined;
  }

  private sendChunk(chunk: Int16Array): void {
    const bytes = chunk.length === this.chunker.chunkSamples
      ? this.chunkBytes
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.conn.sendBinary(bytes, true)) {
      if (this.conn.isOpen && !this.ended) streamMetrics.sendDelay.record(performance.now() - this.frameDueMs);
    } else {
      const dropped = this.conn.stats.messagesDropped;
      if (dropped % DROP_LOG_EVERY === 1) {
        this.log.warning(`dropping audio: ${this.conn.isOpen ? 'the server reads too slowly' : 'not connected yet'} (${dropped} messages dropped so far)`);
      }
    }
  }

  /** Sends a text message (queued while connecting). */
  sendText(text: string): void {
    this.log.info(`sending text: ${text.length > 200 ? `${text.slice(0, 200)}...` : text}`);
    this.conn.sendText(text);
  }

  /** Stops sending audio until resume; idempotent. */
  pause(): void {
    this.paused = true;
  }

  /** Sends audio again; idempotent. */
  resume(): void {
    this.paused = false;
  }

  /** True while paused. */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * `stop [text]`: detaches from the channel, flushes the partial chunk, sends the text, closes with
   * 1000 "Normal closure" and deletes the play files. Idempotent.
   */
  stop(text?: string): void {
    if (this.ended) return;
    this.p.channel.removeBug(this);
    this.end(text);
  }

  /** MediaBug: the channel hung up (no stop text; no events after this). */
  onChannelClose(): void {
    this.end(undefined);
  }

  private end(text: string | undefined): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.connectionGone) {
      this.chunker.flush();
      if (text) this.sendText(text);
    }
    this.conn.close();
    if (this.connectionGone) this.settle();
    this.resampler?.destroy();
  }

  private onOpen(): void {
    streamMetrics.connecting--;
    streamMetrics.open++;
    this.gaugeState = 'open';
    if (this.p.metadata) {
      this.log.debug(`sending initial metadata ${this.p.metadata}`);
      this.conn.sendText(this.p.metadata);
    }
    this.log.info('connected');
    this.fire(EVENT_CONNECT, JSON.stringify({ status: 'connected' }));
  }

  private onText(text: string): void {
    if (!this.p.options.suppressLog) this.log.debug(`response: ${text.length > 1000 ? `${text.slice(0, 1000)}...` : text}`);
    if (this.inboundPending >= MAX_INBOUND_PENDING) {
      this.log.error(`processMessage - ${MAX_INBOUND_PENDING} server messages still waiting for their files: message dropped`);
      return;
    }
    this.inboundPending++;
    this.inbound = this.inbound
      .then(() => this.handleText(text))
      .catch((err: Error) => this.log.error(`processMessage - ${err.message}`))
      .finally(() => { this.inboundPending--; });
  }

  private async handleText(text: string): Promise<void> {
    if (this.ended) return; // after stop or hangup, what the server still sends is ignored, as the module does
    const action = interpretMessage(text);
    if (action.kind === 'json') {
      if (action.error) this.log.error(`processMessage - ${action.error}`);
      this.fire(EVENT_JSON, text);
      return;
    }
    let path: string;
    try {
      path = await this.playFiles.write(action.extension, action.audio);
    } catch (err) {
      this.log.error(`processMessage - cannot write play file: ${(err as Error).message}`);
      this.fire(EVENT_JSON, text);
      return;
    }
    this.fire(EVENT_PLAY, playEventBody(action.data, path));
    // STREAM_PLAYBACK: play every file into the call as it arrives, queued behind the previous one.
    if (switchTrue(this.p.channel.getVariable('STREAM_PLAYBACK'))) void this.p.channel.playback.enqueue(path);
    this.p.onPlayFile?.(path, action.data);
  }

  private onServerClose(code: number, reason: string): void {
    this.leaveConnectionState();
    this.connectionGone = true;
    this.log.info(`connection closed by the server: ${code} ${reason}`);
    this.fire(EVENT_DISCONNECT, JSON.stringify({ status: 'disconnected', message: { code, reason } }));
    if (this.ended) this.settle();
  }

  private onClosed(): void {
    this.leaveConnectionState();
    this.connectionGone = true;
    this.fire(EVENT_DISCONNECT, JSON.stringify({ status: 'disconnected', message: { code: 1000, reason: 'Normal closure' } }));
    this.settle();
  }

  private onError(error: StreamError): void {
    this.leaveConnectionState();
    this.connectionGone = true;
    streamMetrics.errorsByCode.set(error.code, (streamMetrics.errorsByCode.get(error.code) ?? 0) + 1);
    this.log.error(`connection error ${error.code}: ${error.message}`);
    this.fire(EVENT_ERROR, JSON.stringify({ status: 'error', message: { code: error.code, error: error.message } }));
    // An error tears the stream down, as the module does; a later stop answers -ERR.
    this.p.channel.removeBug(this);
    if (!this.ended) {
      this.ended = true;
      this.resampler?.destroy();
    }
    this.settle();
  }

  private leaveConnectionState(): void {
    if (this.gaugeState === 'open') streamMetrics.open--;
    else if (this.gaugeState === 'connecting') streamMetrics.connecting--;
    this.gaugeState = 'none';
  }

  private settled = false;

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    const done = () => this.resolveFinished();
    this.inbound
      .then(() => (this.p.keepPlayFiles ? undefined : this.playFiles.deleteAll()))
      .then(done, done);
  }

  private fire(subclass: string, body: string): void {
    const channel = this.p.channel;
    if (channel.isHungUp) return; // as switch_core_session_locate failing: no events for a gone channel
    channel.fire('CUSTOM', subclass, body);
  }
}
