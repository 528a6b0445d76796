import WebSocket from 'ws';
import { messageOf } from '../lib/errors.ts';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { isUtf8 } from 'node:buffer';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
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

/** Defaults: 1024 messages or 1 MiB while connecting, 256 KiB buffered once open (a stream sets its own, about 2 s of its audio), 16 MiB incoming, 1 s close wait. */
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

/** Pings from the server answered with a pong per second at most (RFC 6455 §5.5.3 allows answering only the latest). */
export const MAX_PONGS_PER_SECOND = 20;
/** More pings than this within one second are a ping flood: a protocol fault (11) that ends the connection. */
export const PING_FLOOD_PER_SECOND = 100;

/**
 * One client WebSocket to the application's server, with mod_audio_stream's semantics: a bounded
 * queue while connecting, metadata-first on open, a connect deadline, an optional heartbeat with a
 * pong deadline, bounded buffering towards slow servers, and every failure mapped to an error code.
 */
export class WsConnection {
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
  /** How far the connection got before the upgrade: it names the cause of a timeout. */
  private reached: 'start' | 'tcp' | 'tls' = 'start';
  private closeAfterOpen = false;
  private deflating = false;
  /** The server's pings in the current one-second window, and when it began (ms). */
  private pingWindowStart = 0;
  private pingsInWindow = 0;

  constructor(
    private readonly url: StreamUrl,
    private readonly options: StreamOptions,
    private readonly handlers: WsConnectionHandlers,
    private readonly limits: WsLimits,
    private readonly deps: WsConnectionDeps,
    /** Counters of this connection (a stream that reconnects passes the same object to each of its connections). */
    readonly stats: WsStats = { messagesSent: 0, bytesSent: 0, messagesDropped: 0 },
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
        // Pings are answered here, a bounded number per second (ws's own guard against a flood
        // cuts the TCP connection silently: it was reported as error 1 "abnormal EOF").
        autoPong: false,
        // After the server's Close frame, ws waits this long for the server to end TCP before it emits
        // 'close' (its default, 30 s, would hold back the disconnect event that long).
        closeTimeout: this.limits.closeTimeoutMs,
        // UTF-8 is checked here: invalid text is error 11, an invalid close reason a disconnect 1002
        // (as the module); ws reports both alike.
        skipUTF8Validation: true,
        // ws calls it with the options object of the request (never a port or a path).
        createConnection: ((opts: net.NetConnectOpts & tls.ConnectionOptions) => this.createSocket(opts)) as unknown as typeof net.createConnection,
      } as WebSocket.ClientOptions);
    } catch (err) {
      // As the module's "Invalid host or port" (the URL was checked before; this is a safety net).
      const error = isStreamError(err) ? err : streamError('STREAM_CONNECT_FAILED', `invalid WebSocket URL: ${messageOf(err)}`);
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
   * or the bound on pending bytes was reached). `bounded` false skips that bound once open (the
   * audio kept during a reconnection, itself bounded, goes out whole).
   */
  sendBinary(data: Buffer, reusable: boolean, bounded = true): boolean {
    if (this.state === 'open') {
      if (bounded && this.ws!.bufferedAmount + data.length > this.limits.maxBufferedBytes) return this.drop();
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

  /** Ends the connection now, in any state, without a Close handshake; no handler is called after it. Idempotent. */
  abort(): void {
    if (this.state === 'closed') return;
    this.finish();
    this.ws?.terminate();
  }

  /**
   * Opens the TCP (or TLS) connection as ws itself does (SNI = the host name, none for an IP
   * address), noting how far it gets so that a timeout can name what did not finish.
   */
  private createSocket(opts: net.NetConnectOpts & tls.ConnectionOptions): Socket {
    let socket: Socket;
    if (this.url.secure) {
      const host = opts.host ?? '';
      const o = { ...opts, path: undefined } as tls.ConnectionOptions;
      if (!o.servername && o.servername !== '') o.servername = net.isIP(host) ? '' : host;
      const tlsSocket = tls.connect(o);
      tlsSocket.once('secureConnect', () => { this.reached = 'tls'; });
      socket = tlsSocket;
    } else {
      socket = net.connect({ ...opts, path: (opts as { socketPath?: string }).socketPath } as net.NetConnectOpts);
    }
    socket.once('connect', () => { if (this.reached === 'start') this.reached = 'tcp'; });
    return socket;
  }

  private bindEvents(ws: WebSocket): void {
    ws.on('upgrade', (res: IncomingMessage) => {
      this.socket = res.socket as Socket;
      // Errors after open are only visible on the raw socket (ws reports just close 1006).
      this.socket.prependListener('error', (err: Error) => { this.socketError ??= err; });
      // The module requires a Sec-WebSocket-Accept header (it does not check its value): without
      // one its upgrade fails with code 6, before ws's own checks (which give 2).
      if (res.headers['sec-websocket-accept'] === undefined) {
        this.fail(streamError('STREAM_CONNECT_FAILED', 'WebSocket upgrade failed: the 101 answer has no Sec-WebSocket-Accept header'));
      }
    });
    ws.on('unexpected-response', (req: ClientRequest, res: IncomingMessage) => {
      req.destroy();
      res.resume();
      this.fail(unexpectedResponse(res));
    });
    ws.on('open', () => this.onOpen());
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (this.state !== 'open') return;
      if (isBinary) {
        this.handlers.onBinary(data instanceof ArrayBuffer ? Buffer.from(data) : data);
        return;
      }
      const text = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (isUtf8(text)) {
        this.handlers.onText(text.toString());
        return;
      }
      this.ws!.close(1007, 'Invalid UTF-8 in text message');
      this.fail(streamError('STREAM_PROTOCOL', 'WebSocket protocol error (1007): the server sent invalid UTF-8 in a text message'));
    });
    ws.on('ping', (data: Buffer) => this.onPing(data));
    ws.on('pong', () => { this.awaitingPongSince = 0; });
    ws.on('error', (err: Error) => {
      // A malformed Close frame: the module answers Close 1002 and reports a disconnect 1002 with
      // no reason, not an error (ws has sent that Close already).
      if (this.state === 'open' && isBadCloseFrame(err)) this.serverClosed(1002, '');
      else this.fail(classifyError(err, this.phase()));
    });
    ws.on('close', (code: number, reason: Buffer) => {
      // A close reason that is not UTF-8 makes libwsc report 1002 with no reason.
      if (isUtf8(reason)) this.onSocketClose(code, reason.toString());
      else this.onSocketClose(1002, '');
    });
  }

  private phase(): ConnectPhase {
    if (this.state !== 'connecting') return 'open';
    return this.url.secure && this.reached === 'tcp' ? 'tls' : 'connecting';
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

  /**
   * A ping from the server: answered with a pong, at most MAX_PONGS_PER_SECOND a second; more than
   * PING_FLOOD_PER_SECOND within a second end the connection as a protocol fault (11) with a Close 1008.
   */
  private onPing(data: Buffer): void {
    if (this.state !== 'open') return;
    const now = this.deps.clock.now();
    if (now - this.pingWindowStart >= 1000) {
      this.pingWindowStart = now;
      this.pingsInWindow = 0;
    }
    this.pingsInWindow++;
    if (this.pingsInWindow > PING_FLOOD_PER_SECOND) {
      this.deps.metrics.pingFloods++;
      this.ws!.close(1008, 'Ping flood');
      this.fail(streamError('STREAM_PROTOCOL',
        `WebSocket protocol error (1008): ping flood: ${this.pingsInWindow} pings in 1 s (at most ${PING_FLOOD_PER_SECOND} are allowed)`));
      return;
    }
    if (this.pingsInWindow <= MAX_PONGS_PER_SECOND) this.ws!.pong(data);
  }

  private onConnectTimeout(): void {
    if (this.state !== 'connecting') return;
    const what = this.reached === 'start' ? `no TCP connection to ${this.url.host}:${this.url.port}`
      : this.reached === 'tcp' && this.url.secure ? 'the TLS handshake did not finish'
        : 'the server accepted the connection but did not answer the WebSocket upgrade';
    this.fail(streamError('STREAM_TIMEOUT',
      `connection timeout after ${this.options.connectTimeoutMs} ms (STREAM_CONNECT_TIMEOUT_MS): ${what}`));
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.failed || this.state === 'closed') return;
    const wasClosing = this.state === 'closing';
    if (code === 1006 && !wasClosing) {
      // The TCP connection ended without a Close frame: an error, as libwsc v1.1 reports it.
      const cause = this.socketError;
      this.fail(cause ? classifyError(cause, this.phase())
        : streamError(this.state === 'connecting' ? 'STREAM_CONNECT_FAILED' : 'STREAM_IO',
          this.state === 'connecting' ? 'the server closed the connection during the handshake (EOF)'
            : 'the server closed the connection without a WebSocket Close frame (abnormal EOF)'));
      return;
    }
    if (wasClosing) {
      this.finish();
      this.handlers.onClosed();
      return;
    }
    // A Close frame without a status code: libwsc reports it as 1000 (ws says 1005, "no status").
    this.serverClosed(code === 1005 ? 1000 : code, reason);
  }

  /** The server ended the WebSocket with a Close frame: a disconnect, not an error. */
  private serverClosed(code: number, reason: string): void {
    if (this.failed || this.state === 'closed') return;
    this.finish();
    this.handlers.onClose(code, reason);
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

/** The error of a non-101 answer to the upgrade (or a 101 that Node's HTTP parser took as no upgrade). */
function unexpectedResponse(res: IncomingMessage): StreamError {
  const status = `${res.statusCode ?? '?'}${res.statusMessage ? ` ${res.statusMessage}` : ''}`;
  if (res.statusCode === 101) {
    // No Upgrade header: the module checks only the status and Sec-WebSocket-Accept.
    if (res.headers['sec-websocket-accept'] === undefined) {
      return streamError('STREAM_CONNECT_FAILED', 'WebSocket upgrade failed: the 101 answer has no Sec-WebSocket-Accept header');
    }
    return streamError('STREAM_INVALID_HEADER', 'invalid WebSocket upgrade answer: the 101 answer has no Upgrade: websocket header');
  }
  return streamError('STREAM_CONNECT_FAILED', `WebSocket upgrade failed: the server answered HTTP ${status} instead of 101 Switching Protocols`);
}

/** ws's errors for a Close frame with an invalid status code or a 1-byte payload. */
function isBadCloseFrame(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'WS_ERR_INVALID_CLOSE_CODE'
    || (code === 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH' && / invalid payload length 1$/.test(err.message));
}
