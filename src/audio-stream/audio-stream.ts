import type { FrameFormat, MediaBug } from '../bug/media-bug.ts';
import type { Channel } from '../channel/channel.ts';
import { Logger } from '../lib/logger.ts';
import { eventSite } from '../events/bus.ts';
import { streamErrorNumber, type StreamError } from './errors.ts';
import type { StreamOptions } from './options.ts';
import type { StreamUrl } from './url.ts';
import { WsConnection, DEFAULT_WS_LIMITS, type WsConnectionDeps, type WsLimits } from './ws-connection.ts';
import type { PlayFiles } from './play-files.ts';
import { ServerMessageHandler } from './server-messages.ts';
import { Duplex } from './duplex.ts';
import { StreamPipeline, type MixType } from './pipeline.ts';

export type { MixType } from './pipeline.ts';

/** Name of the media bug, as the C module names it. */
export const AUDIO_STREAM_BUG = 'audio_stream';

/** Where the module's events are made (their Event-Calling-* headers name it). */
const SITE_FIRE = eventSite('audio-stream.ts', 'AudioStream.fire');

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
  /** Where the server's streamAudio payloads are written. */
  playFiles: PlayFiles;
  limits?: WsLimits;
  /** Keep play files after the stream ends (the CLI's --keep-files). */
  keepPlayFiles?: boolean;
}

/** Seconds of a stream's audio that may wait towards a slow server before audio is dropped. */
const MAX_BUFFERED_SECONDS = 2;

/** Bounds for one stream: at most ~2 s of its audio (64 KiB at least) waits in the socket. */
function streamLimits(chunkBytes: number, bufferMs: number): WsLimits {
  const bytesPerSecond = (chunkBytes * 1000) / bufferMs;
  return { ...DEFAULT_WS_LIMITS, maxBufferedBytes: Math.max(64 << 10, Math.ceil(bytesPerSecond * MAX_BUFFERED_SECONDS)) };
}

/** How many drops between two log lines about a slow or absent server. */
const DROP_LOG_EVERY = 250;

/**
 * One mod_audio_stream stream: a media bug whose pipeline turns a channel's frames into exact
 * chunks of little-endian s16 PCM at the requested rate, sent with metadata and text over one
 * WebSocket connection to the application's server; it fires the module's events and hands the
 * server's messages to its ServerMessageHandler.
 */
export class AudioStream implements MediaBug {
  readonly name = AUDIO_STREAM_BUG;
  /** Resolves when the connection has ended and the play files are deleted. */
  readonly finished: Promise<void>;
  private paused = false;
  private ended = false;
  private connectionGone = false;
  private settled = false;
  private readonly log: Logger;
  private readonly conn: WsConnection;
  private readonly limits: WsLimits;
  private readonly pipeline: StreamPipeline;
  private readonly messages: ServerMessageHandler;
  /** The server -> call direction (full duplex). */
  private readonly duplex: Duplex;
  /** Samples of one frame at the channel's codec (used when a tick has neither direction). */
  private frameSamples: number;
  private frameDueMs = 0;
  /** Which metrics gauge counts this stream. */
  private gaugeState: 'connecting' | 'open' | 'none' = 'none';
  private resolveFinished!: () => void;

  constructor(private readonly p: AudioStreamParams, private readonly deps: WsConnectionDeps) {
    this.log = new Logger(`mod_audio_stream(${p.channel.uuid})`);
    const codec = p.channel.codec;
    this.frameSamples = (codec.rateHz * codec.ptimeMs) / 1000;
    this.pipeline = new StreamPipeline({ mix: p.mix, inputRateHz: codec.rateHz, outputRateHz: p.rateHz, bufferMs: p.options.bufferMs });
    this.duplex = new Duplex({
      channel: p.channel, log: this.log, metrics: deps.metrics,
      sendText: (text) => this.conn.sendText(text),
      fire: (subclass, body) => this.fire(subclass, body),
    }, { sampleRateHz: p.options.sampleRateHz, streamRateHz: p.rateHz, maxMs: p.options.playbackMaxMs, dtmf: p.options.dtmf });
    this.messages = new ServerMessageHandler(p.playFiles, {
      onJson: (text) => this.fire(EVENT_JSON, text),
      onPlay: (body) => this.fire(EVENT_PLAY, body),
    }, this.log, p.options.suppressLog, this.duplex);
    this.finished = new Promise((resolve) => { this.resolveFinished = resolve; });
    this.limits = p.limits ?? streamLimits(this.pipeline.chunkBytes, p.options.bufferMs);
    this.conn = new WsConnection(p.url, p.options, {
      onOpen: () => this.onOpen(),
      onText: (text) => this.messages.receive(text),
      onBinary: (data) => this.messages.receiveBinary(data),
      onClose: (code, reason) => this.onServerClose(code, reason),
      onError: (error) => this.onError(error),
      onClosed: () => this.onClosed(),
    }, this.limits, deps);
  }

  /** Interleaved channels sent: 1 (mono, mixed) or 2 (stereo). */
  get channels(): 1 | 2 {
    return this.pipeline.channels;
  }

  /** Bytes of audio per binary message. */
  get chunkByteLength(): number {
    return this.pipeline.chunkBytes;
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

  /** True while paused. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Messages sent, bytes sent and messages dropped by this stream. */
  get stats(): Readonly<{ messagesSent: number; bytesSent: number; messagesDropped: number }> {
    return this.conn.stats;
  }

  /** Starts connecting (the caller attached the bug first). */
  start(): void {
    const m = this.deps.metrics;
    m.started++;
    m.connecting++;
    this.gaugeState = 'connecting';
    this.log.info(`connecting to ${this.p.url.href} (${this.p.mix}, ${this.p.rateHz} Hz, ${this.p.options.bufferMs} ms per message)`);
    this.conn.connect();
  }

  /** MediaBug: one packet time of the channel's audio. */
  onFrame(read: Int16Array | null, write: Int16Array | null, dueMs: number): void {
    this.duplex.onTick(dueMs);
    if (this.paused || this.ended || this.connectionGone) return;
    this.frameDueMs = dueMs;
    const count = this.pipeline.process(read, write, this.frameSamples);
    for (let i = 0; i < count; i++) this.sendChunk(this.pipeline.message(i));
  }

  /** MediaBug: the channel's codec changed (re-INVITE, late offer); resample from the new rate from now on. */
  onFormatChange(format: FrameFormat): void {
    if (format.rateHz !== this.pipeline.inputRateHz) this.log.info(`codec rate changed from ${this.pipeline.inputRateHz} to ${format.rateHz} Hz`);
    this.pipeline.setInputRate(format.rateHz);
    this.frameSamples = (format.rateHz * format.ptimeMs) / 1000;
  }

  /** MediaBug: a DTMF digit from the caller (sent to the server with STREAM_DTMF). */
  onDtmf(digit: string, durationMs: number): void {
    if (!this.ended) this.duplex.onDtmf(digit, durationMs);
  }

  /** `uuid_audio_stream <uuid> break`: drops what is queued for the caller (the server hears `cleared` in full duplex). */
  breakPlayback(): void {
    this.p.channel.playback.clear();
  }

  /**
   * Runs `run` once every reply the server sent so far has been handled (clips decoded) and its
   * audio sent to the caller (`audio-stream stream` ends a run with it).
   */
  afterReplies(run: () => void): void {
    void this.messages.settled().then(() => {
      if (this.ended) run();
      else this.duplex.afterPlayout(run);
    });
  }

  /** True while server messages wait to be handled (a clip being decoded or written). */
  get repliesPending(): boolean {
    return this.messages.busy;
  }

  private sendChunk(bytes: Buffer): void {
    if (this.conn.sendBinary(bytes, true)) {
      if (this.conn.isOpen && !this.ended) this.deps.metrics.sendDelay.record(this.deps.clock.now() - this.frameDueMs);
      return;
    }
    const dropped = this.conn.stats.messagesDropped;
    if (dropped % DROP_LOG_EVERY === 1) {
      this.log.warning(`dropping audio: ${this.conn.isOpen ? 'the server reads too slowly' : 'not connected yet'} (${dropped} messages dropped so far)`);
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
    this.messages.close();
    this.duplex.close();
    if (!this.connectionGone) {
      const tail = this.pipeline.flush();
      if (tail) this.sendChunk(tail);
      if (text) this.sendText(text);
    }
    this.conn.close();
    if (this.connectionGone) this.settle();
    this.pipeline.destroy();
  }

  private onOpen(): void {
    const m = this.deps.metrics;
    m.connecting--;
    m.open++;
    this.gaugeState = 'open';
    if (this.p.metadata) {
      this.log.debug(`sending initial metadata ${this.p.metadata}`);
      this.conn.sendText(this.p.metadata);
    }
    this.log.info(this.ended ? 'connected after stop: sending what was queued, then closing' : 'connected');
    this.fire(EVENT_CONNECT, JSON.stringify({ status: 'connected' }));
  }

  private onServerClose(code: number, reason: string): void {
    this.leaveConnectionState();
    this.connectionGone = true;
    this.log.info(`connection closed by the server: ${code} ${reason}`);
    this.fire(EVENT_DISCONNECT, JSON.stringify({ status: 'disconnected', message: { code, reason } }));
    if (this.ended) this.settle();
  }

  /** Our own close (stop, hangup) completed: the module fires no event for it. */
  private onClosed(): void {
    this.leaveConnectionState();
    this.connectionGone = true;
    this.settle();
  }

  private onError(error: StreamError): void {
    this.leaveConnectionState();
    this.connectionGone = true;
    const code = streamErrorNumber(error.code);
    const errors = this.deps.metrics.errorsByCode;
    // The metric counts error events: none fires after a stop.
    if (!this.ended) errors.set(code, (errors.get(code) ?? 0) + 1);
    // After a stop the stream is gone for the application: its failure is only logged.
    if (this.ended) this.log.info(`connection error ${code} (${error.code}) after stop: ${error.message}`);
    else this.log.error(`connection error ${code} (${error.code}): ${error.message}`);
    this.fire(EVENT_ERROR, JSON.stringify({ status: 'error', message: { code, error: error.message } }));
    // An error tears the stream down, as the module does; a later stop answers -ERR.
    this.messages.close();
    this.duplex.close();
    this.p.channel.removeBug(this);
    if (!this.ended) {
      this.ended = true;
      this.pipeline.destroy();
    }
    this.settle();
  }

  private leaveConnectionState(): void {
    const m = this.deps.metrics;
    if (this.gaugeState === 'open') m.open--;
    else if (this.gaugeState === 'connecting') m.connecting--;
    this.gaugeState = 'none';
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    const done = () => this.resolveFinished();
    this.messages.settled()
      .then(() => (this.p.keepPlayFiles ? undefined : this.p.playFiles.deleteAll()))
      .then(done, done);
  }

  /**
   * Fires one of the module's events, unless the stream was stopped or the channel hung up: the
   * module clears its callbacks before it closes, so no event of a stopped stream ever fires.
   */
  private fire(subclass: string, body: string): void {
    const channel = this.p.channel;
    if (this.ended || channel.isHungUp) return;
    channel.fire('CUSTOM', subclass, body, undefined, SITE_FIRE);
  }
}
