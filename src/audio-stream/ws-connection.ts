import WebSocket from 'ws';
import { messageOf } from '../lib/errors.ts';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { classifyError, isStreamError, streamError, type ConnectPhase, type StreamError } from './errors.ts';
import type { StreamOptions } from './options.ts';
import { tlsClientOptions } from './tls.ts';
import type { StreamUrl } from './url.ts';
import type { CoarseTimer } from '../lib/coarse-timer.ts';
import type { Clock, TimerHandle } from '../lib/clock.ts';
import type { StreamMetrics } from './metrics.ts';

/** What the connection tells its owner; each is called at most once, except onText. */
export interface WsConnectionHandlers {
  /** The upgrade succeeded; messages sent from here go before anything queued while connecting. */
  onOpen(): void;
  /** A text message from the server. */
  onText(text: string): void;
  /** A binary message from the server (a Buffer of its own, or a list of fragments). */
  onBinary(data: Buffer | Buffer[]): void;
  /** The server closed the connection with a Close frame (a `disconnect`, the stream stays attached). */
  onClose(code: number, reason: string): void;
  /** The connection failed or broke (an `error`, the stream is torn down). */
  onError(error: StreamError): void;
  /** Our own close finished (after stop or hangup). */
  onClosed(): void;
}

/** Bounds on what may wait for the network. */
export interface WsLimits {
  /** Most messages queued while connecting (libwsc: 1024). */
  maxQueuedMessages: number;
  /** Most bytes queued while connecting before audio is dropped. */
  maxQueuedBytes: number;
  /** Most bytes buffered towards the server once open (socket plus ws's deflate queue) before audio is dropped. */
  maxBufferedBytes: number;
  /** Largest incoming message in bytes (default 16 MiB). */
  maxMessageBytes: number;
  /** How long our Close waits for the server's Close before the socket is cut, in ms. */
  closeTimeoutMs: number;
}

/** Defaults: 1024 messages or 1 MiB while connecting, 256 KiB buffered once open, 16 MiB incoming, 1 s close wait. */
export const DEFAULT_WS_LIMITS: WsLimits = {
  maxQueuedMessages: 1024,
  maxQueuedBytes: 1 << 20,
  maxBufferedBytes: 256 << 10,
  maxMessageBytes: 16 << 20,
  closeTimeoutMs: 1000,
};

/** What a connection takes from its engine: the time source, the shared housekeeping ticker, the engine's counters. */
export interface WsConnectionDeps {
  clock: Clock;
  ticker: CoarseTimer;
  metrics: StreamMetrics;
}

/** Counters of one connection. */
export interface WsStats {
  messagesSent: number;
  bytesSent: number;
  messagesDropped: number;
}

type State = 'connecting' | 'open' | 'closing' | 'closed';

/**
 * One client WebSocket to the application's server, with mod_audio_stream's semantics: a bounded
 * queue while connecting, metadata-first on open, a connect deadline, an optional heartbeat with a
 * pong deadline, bounded buffering towards slow servers, and every failure mapped to an error code.
 */
export class WsConnection {
  readonly stats: WsStats = { messagesSent: 0, bytesSent: 0, messagesDropped: 0 };
  private state: State = 'connecting';
  private ws: WebSocket | undefined;
  private socket: Socket | undefined;
  private socketError: Error | undefined;
  private queue: Array<string | Buffer> = [];
  private queuedBytes = 0;
  private connectTimer: TimerHandle | undefined;
  private closeTimer: TimerHandle | undefined;
  private stopHeartbeat: (() => void) | undefined;
  private awaitingPongSince = 0;
  private lastPingAt = 0;
  private failed = false;
  private closeAfterOpen = false;
  private deflating = false;

  constructor(
    private readonly url: StreamUrl,
    private readonly options: StreamOptions,
    private readonly handlers: WsConnectionHandlers,
    private readonly limits: WsLimits,
    private readonly deps: WsConnectionDeps,
  ) {}

  /** Starts connecting; failures arrive through onError (never thrown). */
  connect(): void {
    try {
      const tlsOptions = this.url.secure ? tlsClientOptions(this.options) : {};
      this.ws = new WebSocket(this.url.href, {
        ...tlsOptions,
        perMessageDeflate: this.options.deflate
          ? { clientNoContextTakeover: true, serverNoContextTakeover: true, clientMaxWindowBits: 9, zlibDeflateOptions: { level: 1, memLevel: 4 } }
          : false,
        headers: this.options.extraHeaders,
        origin: `http://${this.url.host.includes(':') ? `[${this.url.host}]` : this.url.host}:${this.url.port}`,
        maxPayload: this.limits.maxMessageBytes,
        followRedirects: false,
        autoPong: true,
        // After the server's Close frame, ws waits this long for the server to end TCP before it emits
        // 'close' (its default, 30 s, would hold back the disconnect event that long).
        closeTimeout: this.limits.closeTimeoutMs,
      } as WebSocket.ClientOptions);
    } catch (err) {
      const error = isStreamError(err) ? err : streamError('STREAM_NOT_SUPPORTED', messageOf(err));
      queueMicrotask(() => this.fail(error));
      return;
    }
    this.connectTimer = this.deps.clock.setTimeout(() => this.onConnectTimeout(), this.options.connectTimeoutMs);
    this.bindEvents(this.ws);
  }

  /** True once the upgrade is done and until the connection ends. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Bytes waiting: queued while connecting, or buffered by the socket once open. */
  get bufferedBytes(): number {
    if (this.state === 'connecting') return this.queuedBytes;
    return this.ws?.bufferedAmount ?? 0;
  }

  /**
   * Sends one binary message. `reusable` means the caller will overwrite `data` after the call, so it
   * is copied when it must outlive the call. Returns false when the message was dropped (not connected,
   * or the bound on pending bytes was reached).
   */
  sendBinary(data: Buffer, reusable: boolean): boolean {
    if (this.state === 'open') {
      if (this.ws!.bufferedAmount + data.length > this.limits.maxBufferedBytes) return this.drop();
      this.ws!.send(reusable && this.deflating ? Buffer.from(data) : data, { binary: true });
      this.count(data.length);
      return true;
    }
    if (this.state !== 'connecting' || this.closeAfterOpen) return false;
    if (this.queue.length >= this.limits.maxQueuedMessages || this.queuedBytes + data.length > this.limits.maxQueuedBytes) {
      return this.drop();
    }
    const copy = reusable ? Buffer.from(data) : data;
    this.queue.push(copy);
    this.queuedBytes += copy.length;
    return true;
  }

  /** Sends one text message (queued while connecting; dropped once closed). Returns false when dropped. */
  sendText(text: string): boolean {
    if (this.state === 'open') {
      this.ws!.send(text);
      this.count(Buffer.byteLength(text));
      return true;
    }
    if (this.state !== 'connecting' || this.closeAfterOpen) return false;
    this.queue.push(text);
    this.queuedBytes += Buffer.byteLength(text);
    return true;
  }

  /**
   * Closes with 1000 "Normal closure" after everything sent so far. While still connecting, waits for
   * the upgrade so the queued messages still go out. onClosed fires when done.
   */
  close(): void {
    if (this.state === 'connecting') {
      this.closeAfterOpen = true;
      return;
    }
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.stopTimers();
    this.ws!.close(1000, 'Normal closure');
    this.closeTimer = this.deps.clock.setTimeout(() => this.ws?.terminate(), this.limits.closeTimeoutMs);
  }

  private bindEvents(ws: WebSocket): void {
    ws.on('upgrade', (res: IncomingMessage) => {
      this.socket = res.socket as Socket;
      // Errors after open are only visible on the raw socket (ws reports just close 1006).
      this.socket.prependListener('error', (err: Error) => { this.socketError ??= err; });
    });
    ws.on('unexpected-response', (req: ClientRequest, res: IncomingMessage) => {
      req.destroy();
      res.resume();
      this.fail(streamError('STREAM_INVALID_HEADER', `Unexpected server response: ${res.statusCode}`));
    });
    ws.on('open', () => this.onOpen());
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (this.state !== 'open') return;
      if (!isBinary) this.handlers.onText(data.toString());
      else this.handlers.onBinary(data instanceof ArrayBuffer ? Buffer.from(data) : data);
    });
    ws.on('pong', () => { this.awaitingPongSince = 0; });
    ws.on('error', (err: Error) => this.fail(classifyError(err, this.phase())));
    ws.on('close', (code: number, reason: Buffer) => this.onSocketClose(code, reason.toString()));
  }

  private phase(): ConnectPhase {
    return this.state === 'connecting' ? 'connecting' : 'open';
  }

  private onOpen(): void {
    if (this.state !== 'connecting') return;
    this.clearTimer(this.connectTimer);
    this.state = 'open';
    this.deflating = this.ws!.extensions.includes('permessage-deflate');
    this.handlers.onOpen();
    const queued = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    // The queue was bounded while connecting; it goes out whole, without the open-state bound
    // (with deflate, ws's bufferedAmount grows while this loop runs).
    for (const item of queued) {
      if (this.state !== 'open') break;
      this.ws!.send(item, { binary: typeof item !== 'string' });
      this.count(typeof item === 'string' ? Buffer.byteLength(item) : item.length);
    }
    if (this.options.heartbeatMs > 0) this.startHeartbeat();
    if (this.closeAfterOpen) this.close();
  }

  private startHeartbeat(): void {
    this.lastPingAt = this.deps.clock.now();
    this.stopHeartbeat = this.deps.ticker.add((now) => {
      if (this.state !== 'open') return;
      if (this.awaitingPongSince && now - this.awaitingPongSince >= this.options.heartbeatMs) {
        this.fail(streamError('STREAM_PING_TIMEOUT', `no pong within ${this.options.heartbeatMs} ms of a ping`));
        return;
      }
      if (now - this.lastPingAt >= this.options.heartbeatMs) {
        this.lastPingAt = now;
        if (!this.awaitingPongSince) this.awaitingPongSince = now;
        this.ws!.ping('ping');
      }
    });
  }

  private onConnectTimeout(): void {
    if (this.state !== 'connecting') return;
    this.fail(streamError('STREAM_CONNECT_FAILED', `connection timeout after ${this.options.connectTimeoutMs} ms`));
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.failed || this.state === 'closed') return;
    const wasClosing = this.state === 'closing';
    if (code === 1006 && !wasClosing) {
      // The TCP connection ended without a Close frame: an error, as libwsc v1.1 reports it.
      const cause = this.socketError;
      this.fail(cause ? classifyError(cause, this.phase())
        : streamError(this.state === 'connecting' ? 'STREAM_CONNECT_FAILED' : 'STREAM_IO',
          this.state === 'connecting' ? 'connection closed during handshake' : 'connection closed without websocket close (abnormal EOF)'));
      return;
    }
    this.finish();
    if (wasClosing) this.handlers.onClosed();
    else this.handlers.onClose(code, reason);
  }

  private fail(error: StreamError): void {
    if (this.failed || this.state === 'closed') return;
    const wasClosing = this.state === 'closing';
    this.failed = true;
    this.finish();
    this.ws?.terminate();
    if (wasClosing) this.handlers.onClosed();
    else this.handlers.onError(error);
  }

  private finish(): void {
    this.state = 'closed';
    this.queue = [];
    this.queuedBytes = 0;
    this.stopTimers();
    this.clearTimer(this.closeTimer);
  }

  private clearTimer(handle: TimerHandle | undefined): void {
    if (handle) this.deps.clock.clearTimeout(handle);
  }

  private stopTimers(): void {
    this.clearTimer(this.connectTimer);
    this.stopHeartbeat?.();
    this.stopHeartbeat = undefined;
  }

  private count(bytes: number): void {
    this.stats.messagesSent++;
    this.stats.bytesSent += bytes;
    this.deps.metrics.messagesSent++;
    this.deps.metrics.bytesSent += bytes;
  }

  private drop(): boolean {
    this.stats.messagesDropped++;
    this.deps.metrics.messagesDropped++;
    return false;
  }
}
