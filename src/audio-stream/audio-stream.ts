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
import { GapBuffer, RECONNECT_CLOSE_CODES, RECONNECT_ERROR_CODES, RECONNECT_HOPELESS_CODES, RECONNECT_STABLE_MS, reconnectDelayMs } from './reconnect.ts';
import type { TimerHandle } from '../lib/clock.ts';

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
export const EVENT_RECONNECTING = 'mod_audio_stream::reconnecting';
export const EVENT_RECONNECTED = 'mod_audio_stream::reconnected';

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
  /** Largest server text message passed on as a json event, bytes (config stream.maxJsonEventBytes; default 1 MiB). */
  maxJsonEventBytes?: number;
}

/** Texts (send_text, full-duplex replies) kept during a reconnection at most, and their bytes. */
const MAX_GAP_TEXTS = 1024;
const MAX_GAP_TEXT_BYTES = 1 << 20;

/** A reconnection in progress (STREAM_RECONNECT): from the loss until the new connection opens or the attempts run out. */
interface Gap {
  /** When the connection was lost (clock ms). */
  lostAt: number;
  /** Attempts made so far (the one under way included). */
  attempt: number;
  /** The wait before the next attempt, while waiting. */
  timer: TimerHandle | undefined;
  /** Texts to send after the metadata once reconnected, and their bytes. */
  texts: string[];
  textBytes: number;
  textsDropped: number;
  /** The buffer filled up during this gap (logged once). */
  overflowLogged: boolean;
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
  private conn: WsConnection;
  /** Counters over every connection of the stream (it has more than one when it reconnects). */
  private readonly connStats = { messagesSent: 0, bytesSent: 0, messagesDropped: 0 };
  /** While reconnecting: the gap; its audio goes to `gapAudio` (made at the first loss, kept for the next). */
  private gap: Gap | undefined;
  private gapAudio: GapBuffer | undefined;
  /** When the last reconnection opened and after how many attempts (a loss within RECONNECT_STABLE_MS goes on counting). */
  private lastReconnect: { at: number; attempts: number } | undefined;
  private readonly limits: WsLimits;
  private readonly pipeline: StreamPipeline;
  private readonly messages: ServerMessageHandler;
  /** The server -> call direction (full duplex). */
  private readonly duplex: Duplex;
  /** Samples of one frame at the channel's codec (used when a tick has neither direction). */
  private frameSamples: number;
  private frameDueMs = 0;
  /** Which metrics gauge counts this stream. */
  private gaugeState: 'connecting' | 'open' | 'reconnecting' | 'none' = 'none';
  private resolveFinished!: () => void;

  constructor(private readonly p: AudioStreamParams, private readonly deps: WsConnectionDeps) {
    this.log = new Logger(`mod_audio_stream(${p.channel.uuid})`);
    const codec = p.channel.codec;
    this.frameSamples = (codec.rateHz * codec.ptimeMs) / 1000;
    this.pipeline = new StreamPipeline({ mix: p.mix, inputRateHz: codec.rateHz, outputRateHz: p.rateHz, bufferMs: p.options.bufferMs });
    this.duplex = new Duplex({
      channel: p.channel, log: this.log, metrics: deps.metrics,
      sendText: (text) => { this.deliverText(text); },
      fire: (subclass, body) => this.fire(subclass, body),
    }, { sampleRateHz: p.options.sampleRateHz, streamRateHz: p.rateHz, maxMs: p.options.playbackMaxMs, dtmf: p.options.dtmf });
    this.messages = new ServerMessageHandler(p.playFiles, {
      onJson: (text) => this.fire(EVENT_JSON, text),
      onPlay: (body) => this.fire(EVENT_PLAY, body),
      onJsonDropped: () => { deps.metrics.jsonEventsDropped++; },
    }, this.log, p.options.suppressLog, this.duplex, p.maxJsonEventBytes);
    this.finished = new Promise((resolve) => { this.resolveFinished = resolve; });
    this.limits = p.limits ?? streamLimits(this.pipeline.chunkBytes, p.options.bufferMs);
    this.conn = this.newConnection();
  }

  /** A connection to the stream's URL whose events reach this stream while it is the current one. */
  private newConnection(): WsConnection {
    const conn: WsConnection = new WsConnection(this.p.url, this.p.options, {
      onOpen: () => { if (conn === this.conn) this.onOpen(); },
      onText: (text) => { if (conn === this.conn) this.messages.receive(text); },
      onBinary: (data) => { if (conn === this.conn) this.messages.receiveBinary(data); },
      onClose: (code, reason) => { if (conn === this.conn) this.onServerClose(code, reason); },
      onError: (error) => { if (conn === this.conn) this.onError(error); },
      onClosed: () => { if (conn === this.conn) this.onClosed(); },
    }, this.limits, this.deps, this.connStats);
    return conn;
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

  /** Bytes waiting to go to the server (queued while connecting, buffered by the socket, or kept while reconnecting). */
  get bufferedBytes(): number {
    return this.conn.bufferedBytes + (this.gap ? (this.gapAudio?.bytes ?? 0) + this.gap.textBytes : 0);
  }

  /** True while the stream reconnects (STREAM_RECONNECT): from a loss until the new connection opens or the attempts run out. */
  get isReconnecting(): boolean {
    return this.gap !== undefined;
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
    return this.connStats;
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
    if (this.gap) this.keepGapAudio(count);
    else for (let i = 0; i < count; i++) this.sendChunk(this.pipeline.message(i));
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

  /** Sends a text message (queued while connecting; kept while reconnecting and sent after the metadata once reconnected). */
  sendText(text: string): void {
    this.log.info(`sending text: ${text.length > 200 ? `${text.slice(0, 200)}...` : text}`);
    this.deliverText(text);
  }

  /** A text to the server now, or (reconnecting) after the metadata once reconnected, within the gap's bound. */
  private deliverText(text: string): void {
    const gap = this.gap;
    if (!gap) {
      this.conn.sendText(text);
      return;
    }
    const bytes = Buffer.byteLength(text);
    if (gap.texts.length >= MAX_GAP_TEXTS || gap.textBytes + bytes > MAX_GAP_TEXT_BYTES) {
      if (gap.textsDropped++ === 0) this.log.warning(`reconnecting: ${gap.texts.length} texts (${gap.textBytes} bytes) wait already; more are dropped`);
      return;
    }
    gap.texts.push(text);
    gap.textBytes += bytes;
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
    if (this.gap) {
      // Stopped (or hung up) while reconnecting: the reconnection is cancelled, nothing is sent, no event fires.
      this.log.info(`stopped while reconnecting (attempt ${this.gap.attempt}): reconnection cancelled`);
      this.endGap();
      this.conn.abort();
      this.leaveConnectionState();
      this.connectionGone = true;
      this.settle();
      this.pipeline.destroy();
      return;
    }
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
    if (this.gap) {
      this.onReconnected(this.gap);
      return;
    }
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
    const cause = `the server closed the connection with ${code}${reason ? ` ${reason}` : ''}`;
    if (RECONNECT_CLOSE_CODES.has(code) && this.mayReconnect(cause)) {
      this.beginGap(cause);
      return;
    }
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
    if (!this.ended && this.gap) {
      if (this.retry(this.gap, error)) return;
      this.deps.metrics.reconnectsExhausted++;
      if (RECONNECT_HOPELESS_CODES.has(error.code)) this.log.warning(`reconnecting: given up after attempt ${this.gap.attempt}: the TLS setup failed, which no retry can mend`);
      else this.log.warning(`reconnecting: the ${this.gap.attempt} attempts (STREAM_RECONNECT) ran out`);
      this.endGap();
    } else if (this.gaugeState === 'open' && RECONNECT_ERROR_CODES.has(error.code)
      && this.mayReconnect(`error ${streamErrorNumber(error.code)}: ${error.message}`)) {
      this.beginGap(`error ${streamErrorNumber(error.code)}: ${error.message}`);
      return;
    }
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
    else if (this.gaugeState === 'reconnecting') m.reconnecting--;
    this.gaugeState = 'none';
  }

  /**
   * The open connection was lost for a cause that reconnects (reconnect.ts): the audio from now on
   * is kept in the gap buffer, texts wait, and the first attempt is scheduled. No disconnect or
   * error event fires while reconnecting.
   */
  private beginGap(cause: string): void {
    this.leaveConnectionState();
    this.deps.metrics.reconnecting++;
    this.gaugeState = 'reconnecting';
    const chunkBytes = this.pipeline.chunkBytes;
    this.gapAudio ??= new GapBuffer(chunkBytes, this.p.options.reconnectBufferMs / this.p.options.bufferMs);
    this.gapAudio.clear();
    const attempt = this.attemptsSpent();
    this.gap = { lostAt: this.deps.clock.now(), attempt, timer: undefined, texts: [], textBytes: 0, textsDropped: 0, overflowLogged: false };
    this.log.warning(`connection lost (${cause}): reconnecting, ${attempt ? `attempts ${attempt + 1} to` : 'up to'} ${this.p.options.reconnectAttempts} (STREAM_RECONNECT)`);
    this.scheduleAttempt(this.gap);
  }

  /**
   * Attempts already spent at a loss now: none, unless the last reconnection opened less than
   * RECONNECT_STABLE_MS ago (then its count goes on).
   */
  private attemptsSpent(): number {
    const last = this.lastReconnect;
    return last && this.deps.clock.now() - last.at < RECONNECT_STABLE_MS ? last.attempts : 0;
  }

  /** True when a loss now may reconnect: STREAM_RECONNECT is on and attempts are left (logged and counted when not). */
  private mayReconnect(cause: string): boolean {
    if (this.ended || this.p.options.reconnectAttempts === 0) return false;
    const spent = this.attemptsSpent();
    if (spent < this.p.options.reconnectAttempts) return true;
    this.deps.metrics.reconnectsExhausted++;
    this.log.warning(`connection lost (${cause}) less than ${RECONNECT_STABLE_MS} ms after reconnecting: the ${spent} attempts (STREAM_RECONNECT) ran out`);
    return false;
  }

  /** Fires `reconnecting` and waits the backoff before the next attempt. */
  private scheduleAttempt(gap: Gap): void {
    gap.attempt++;
    const delayMs = reconnectDelayMs(this.p.options.reconnectBackoffMs, gap.attempt);
    this.fire(EVENT_RECONNECTING, JSON.stringify({ attempt: gap.attempt, delayMs }));
    gap.timer = this.deps.clock.setTimeout(() => {
      gap.timer = undefined;
      if (this.gap !== gap) return;
      this.deps.metrics.reconnectAttempts++;
      this.log.info(`reconnecting to ${this.p.url.href} (attempt ${gap.attempt} of ${this.p.options.reconnectAttempts})`);
      this.conn = this.newConnection();
      this.conn.connect();
    }, delayMs);
  }

  /** An attempt failed: true when another is scheduled, false when the attempts ran out (the caller reports `error`). */
  private retry(gap: Gap, error: StreamError): boolean {
    this.log.info(`reconnect attempt ${gap.attempt} failed: error ${streamErrorNumber(error.code)} (${error.code}): ${error.message}`);
    if (gap.attempt >= this.p.options.reconnectAttempts || RECONNECT_HOPELESS_CODES.has(error.code)) return false;
    this.scheduleAttempt(gap);
    return true;
  }

  /** The gap's audio, one message at a time, into the ring (the oldest dropped when full). */
  private keepGapAudio(count: number): void {
    const ring = this.gapAudio!;
    for (let i = 0; i < count; i++) ring.push(this.pipeline.message(i));
    if (ring.dropped > 0 && !this.gap!.overflowLogged) {
      this.gap!.overflowLogged = true;
      this.log.warning(`reconnecting: ${this.p.options.reconnectBufferMs} ms of audio kept (STREAM_RECONNECT_BUFFER_MS): dropping the oldest`);
    }
  }

  /**
   * The new connection is open: the metadata first, then the texts that waited, then the gap's
   * audio in order (whole, without the bound on buffered bytes: the ring bounds it), then live
   * audio from the next frame; `reconnected` says how long the gap was and what was kept.
   */
  private onReconnected(gap: Gap): void {
    const m = this.deps.metrics;
    m.reconnecting--;
    m.open++;
    m.reconnects++;
    this.gaugeState = 'open';
    const conn = this.conn;
    if (this.p.metadata) conn.sendText(this.p.metadata);
    for (const text of gap.texts) conn.sendText(text);
    const ring = this.gapAudio!;
    for (let i = 0; i < ring.count; i++) conn.sendBinary(ring.at(i), true, false);
    const chunkMs = this.p.options.bufferMs;
    const gapMs = Math.round(this.deps.clock.now() - gap.lostAt);
    const replayedMs = ring.count * chunkMs;
    const droppedMs = ring.dropped * chunkMs;
    m.reconnectReplayedMs += replayedMs;
    m.reconnectDroppedMs += droppedMs;
    this.lastReconnect = { at: this.deps.clock.now(), attempts: gap.attempt };
    this.endGap();
    this.log.info(`reconnected after ${gapMs} ms (attempt ${gap.attempt}): ${replayedMs} ms of audio sent again, ${droppedMs} ms dropped`);
    this.fire(EVENT_RECONNECTED, JSON.stringify({ gapMs, replayedMs, droppedMs }));
  }

  /** The gap is over (reconnected, attempts ran out, stopped): its wait is cancelled, its audio and texts let go. */
  private endGap(): void {
    const gap = this.gap;
    if (!gap) return;
    if (gap.timer) this.deps.clock.clearTimeout(gap.timer);
    this.gap = undefined;
    this.gapAudio?.clear();
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
