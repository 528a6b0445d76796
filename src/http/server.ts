import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Channel } from '../channel/channel.ts';
import type { ChannelRegistry } from '../channel/registry.ts';
import type { EventBus } from '../events/bus.ts';
import type { FsEvent } from '../events/event.ts';
import type { AudioStreamEngine } from '../audio-stream/engine.ts';
import { Logger } from '../lib/logger.ts';
import { AppError, isAppError, type ErrorCode } from '../lib/errors.ts';
import { redactVariables } from '../lib/redact.ts';
import { renderMetrics, renderSnapshot, type MetricSource, type MetricsSnapshot } from './metrics.ts';
import { EventStreamFanout, eventFilter } from './event-stream.ts';
import { plainAddress, sourceKey } from '../lib/source-address.ts';

/** Largest request body accepted, in bytes. */
const MAX_BODY_BYTES = 64 * 1024;
/** Defaults of the bounds `serve` takes from config.http (the same as defaultConfig's). */
const DEFAULT_LIMITS = { maxConnections: 500, maxConnectionsPerSource: 250, maxQueueBytes: 4 << 20 };
/** How long a client may take to send a request's headers, and its whole request (Node's headersTimeout, requestTimeout). */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** How long an idle keep-alive connection stays open between requests (Node's keepAliveTimeout). */
const KEEP_ALIVE_TIMEOUT_MS = 5000;
/** How often Node checks those deadlines (its default, 30 s, would let a slow client hold a connection 40 s). */
const TIMEOUT_CHECK_MS = 1000;
/** How long a refused connection may stay open after its 503, for the client to read it. */
const REFUSED_LINGER_MS = 2000;
/** At most one log line about refused connections per this many ms (each refusal is counted). */
const REFUSAL_LOG_EVERY_MS = 10_000;

/** What the HTTP API needs from the rest of the service. */
/** The channels of the media workers, as the HTTP API reads them (`serve` with media.workers). */
export interface HttpChannelView {
  readonly size: number;
  /** The summaries of /api/channels. */
  summaries(): Promise<Array<Record<string, unknown>>>;
  /** One channel's summary and variables (redacted), or undefined. */
  detail(uuid: string): Promise<Record<string, unknown> | undefined>;
  /** The sum of the workers' metrics. */
  metrics(): Promise<MetricsSnapshot>;
}

export interface HttpApiOptions {
  channels: ChannelRegistry;
  /** The media workers' channels: when given, the channel endpoints and /metrics read these instead of `channels`. */
  workers?: HttpChannelView;
  bus: EventBus;
  streams: AudioStreamEngine;
  listen: { host: string; port: number };
  /** Bearer token; required on every endpoint but /health when set. */
  token: string | undefined;
  /** Host header names accepted besides the listen address, localhost and loopback addresses (`name` any port, `name:port` that port). */
  allowedHosts?: string[];
  /** Origins (scheme://host[:port]) allowed to call the API from a browser, besides the server's own. */
  allowedOrigins?: string[];
  /** Open connections at most, in total (default 500) and from one source address (default 250); over them a 503 at once. */
  maxConnections?: number;
  maxConnectionsPerSource?: number;
  /** Bytes a live event stream client may leave unread (default 4 MiB); over it the client is dropped at once. */
  maxQueueBytes?: number;
  /** Deadlines for a request's headers (default 10 s) and the whole request (default 30 s), in ms. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Runs one API command line (`uuid_audio_stream <uuid> stop`), as ESL `api` does. */
  execute: (commandLine: string) => Promise<string>;
  /** Serializes an event as FreeSWITCH's flat JSON (for the live event stream). */
  eventToJson: (event: FsEvent) => string;
  metrics?: MetricSource[];
}

/** True for loopback addresses (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || host === '::ffff:127.0.0.1';
}

/** The HTTP status of each error code this API answers with. */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  HTTP_BAD_REQUEST: 400, HTTP_UNAUTHORIZED: 401, HTTP_FORBIDDEN: 403, HTTP_NOT_FOUND: 404, HTTP_METHOD_NOT_ALLOWED: 405,
  HTTP_BODY_TOO_LARGE: 413, HTTP_UNSUPPORTED_MEDIA_TYPE: 415,
};

/** The name (lower case, no trailing dot, IPv6 without brackets) and port of a Host header; undefined when malformed. */
export function parseHostHeader(value: string): { name: string; port: string } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:\[\]\/@]+)(?::(\d{1,5}))?$/.exec(value.trim());
  if (!m) return undefined;
  const raw = m[1]!.toLowerCase();
  const name = raw.startsWith('[') ? raw.slice(1, -1) : raw.replace(/\.$/, '');
  return name ? { name, port: m[2] ?? '' } : undefined;
}

/** One channel of /api/channels. */
export function channelSummary(c: Channel, streams: AudioStreamEngine): Record<string, unknown> {
  const stream = streams.find(c);
  return {
    uuid: c.uuid,
    name: c.name,
    state: c.state,
    answerState: c.answerState,
    direction: c.direction,
    callerIdName: c.caller.callerIdName,
    callerIdNumber: c.caller.callerIdNumber,
    destinationNumber: c.caller.destinationNumber,
    codec: { ...c.codec },
    createdAt: new Date(Number(c.createdAtUs / 1000n)).toISOString(),
    stream: stream ? { open: stream.isOpen, paused: stream.isPaused, ...stream.stats } : null,
  };
}

/** One channel of /api/channels/<uuid>: its summary and its variables, secrets redacted. */
export function channelDetail(c: Channel, streams: AudioStreamEngine): Record<string, unknown> {
  return { ...channelSummary(c, streams), variables: redactVariables(c.variables) };
}

/** The HTTP API: health, Prometheus metrics, channels, one API command, and a live event stream (SSE). */
export class HttpApi {
  private server: Server | undefined;
  private readonly log = new Logger('http');
  private readonly startedAt = Date.now();
  private readonly events: EventStreamFanout;
  private readonly limits: { maxConnections: number; maxConnectionsPerSource: number };
  private readonly allowedHosts: Set<string>;
  private readonly allowedOrigins: Set<string>;
  /** Open connections, by source address. */
  private readonly perSource = new Map<string, number>();
  private open = 0;
  /** Connections answered 503 at once because a bound was reached. */
  private refused = 0;
  private refusedSinceLog = 0;
  private lastRefusalLogAt = -Infinity;
  /** Requests refused 403 for their Host or Origin (a browser on another site, DNS rebinding). */
  private forbidden = 0;

  constructor(private readonly options: HttpApiOptions) {
    if (!isLoopback(options.listen.host) && !options.token) {
      throw new AppError('CONFIG_INVALID', `http.token is required when http.listen (${options.listen.host}) is not a loopback address`);
    }
    this.limits = {
      maxConnections: options.maxConnections ?? DEFAULT_LIMITS.maxConnections,
      maxConnectionsPerSource: options.maxConnectionsPerSource ?? DEFAULT_LIMITS.maxConnectionsPerSource,
    };
    this.allowedHosts = new Set((options.allowedHosts ?? []).map((h) => h.toLowerCase()));
    this.allowedOrigins = new Set((options.allowedOrigins ?? []).map((o) => o.toLowerCase()));
    this.events = new EventStreamFanout({ bus: options.bus, eventToJson: options.eventToJson, maxQueueBytes: options.maxQueueBytes ?? DEFAULT_LIMITS.maxQueueBytes, log: this.log });
  }

  /** The bound address (after start). */
  get address(): { host: string; port: number } {
    const a = this.server?.address() as AddressInfo | null;
    return { host: a?.address ?? this.options.listen.host, port: a?.port ?? 0 };
  }

  /** Live event stream clients. */
  get eventClients(): number {
    return this.events.size;
  }

  /** Counters for /metrics: open connections, connections refused over a bound, requests refused for Host or Origin, event stream clients dropped, events serialized for the stream (once each). */
  get stats(): { connections: number; refusedConnections: number; forbiddenRequests: number; droppedEventClients: number; eventsSerialized: number } {
    return { connections: this.open, refusedConnections: this.refused, forbiddenRequests: this.forbidden, droppedEventClients: this.events.dropped, eventsSerialized: this.events.serialized };
  }

  /** Starts listening. */
  async start(): Promise<void> {
    const server = createServer({
      headersTimeout: this.options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS,
      requestTimeout: this.options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, this.options.headersTimeoutMs ?? TIMEOUT_CHECK_MS),
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    }, (req, res) => { void this.handle(req, res); });
    server.on('connection', (socket: Socket) => this.admit(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.listen.port, this.options.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening and ends every event stream. */
  async close(): Promise<void> {
    this.events.closeAll();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Counts a new connection, or answers it 503 at once and closes it when a bound is reached. */
  private admit(socket: Socket): void {
    const source = plainAddress(socket.remoteAddress);
    const key = sourceKey(socket.remoteAddress);
    const fromSource = this.perSource.get(key) ?? 0;
    if (this.open >= this.limits.maxConnections || fromSource >= this.limits.maxConnectionsPerSource) {
      this.refuse(socket, source, this.open >= this.limits.maxConnections
        ? `${this.open} connections open, the most http.maxConnections allows`
        : `${fromSource} connections open from ${key}, the most http.maxConnectionsPerSource allows`);
      return;
    }
    this.open++;
    this.perSource.set(key, fromSource + 1);
    socket.once('close', () => {
      this.open--;
      const left = (this.perSource.get(key) ?? 1) - 1;
      if (left > 0) this.perSource.set(key, left);
      else this.perSource.delete(key);
    });
  }

  private refuse(socket: Socket, source: string, why: string): void {
    this.refused++;
    this.refusedSinceLog++;
    refusedSockets.add(socket);
    const now = Date.now();
    if (now - this.lastRefusalLogAt >= REFUSAL_LOG_EVERY_MS) {
      this.log.warning(`refused ${this.refusedSinceLog} HTTP connection(s) with 503, the last from ${source}: ${why}`);
      this.lastRefusalLogAt = now;
      this.refusedSinceLog = 0;
    }
    const error = new AppError('HTTP_UNAVAILABLE', `too many connections: ${why}; try again later`);
    const body = `${JSON.stringify({ error: error.message })}\n`;
    // The answer goes out before the request is read (HTTP allows it); what the client sends meanwhile is read
    // and thrown away, so closing does not reset the connection under the answer.
    socket.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`);
    socket.setTimeout(REFUSED_LINGER_MS, () => socket.destroy());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (refusedSockets.has(req.socket)) return; // answered 503 already; closed when the client has read it, or after REFUSED_LINGER_MS
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      const method = req.method ?? 'GET';
      this.checkBrowser(req, res);
      if (method === 'OPTIONS') return this.preflight(req, res);
      if (path !== '/health') this.authorize(req);
      const workers = this.options.workers;
      if (path === '/health' && method === 'GET') return this.json(res, 200, { status: 'ok', uptimeSec: Math.round((Date.now() - this.startedAt) / 1000), channels: workers?.size ?? this.options.channels.size });
      if (path === '/metrics' && method === 'GET') {
        const text = workers ? renderSnapshot(await workers.metrics(), this.options.metrics) : renderMetrics(this.options.channels, this.options.streams, this.options.metrics);
        return this.send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', text);
      }
      if (path === '/api/channels' && method === 'GET') {
        return this.json(res, 200, { channels: workers ? await workers.summaries() : [...this.options.channels].map((c) => channelSummary(c, this.options.streams)) });
      }
      const one = /^\/api\/channels\/([^/]+)$/.exec(path);
      if (one && method === 'GET') return await this.channel(res, decodePathPart(one[1]!));
      if (path === '/api/command' && method === 'POST') return await this.command(req, res);
      if (path === '/api/events' && method === 'GET') return this.eventStream(req, res, url);
      const known = ['/health', '/metrics', '/api/channels', '/api/command', '/api/events'].includes(path) || one;
      throw new AppError(known ? 'HTTP_METHOD_NOT_ALLOWED' : 'HTTP_NOT_FOUND', known ? `method ${method} not allowed on ${path}` : `no such endpoint ${path}`);
    } catch (err) {
      const status = (isAppError(err) && HTTP_STATUS[err.code]) || 500;
      if (status === 500) this.log.error(`${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) this.json(res, status, { error: status === 500 ? 'internal error' : (err as Error).message });
      else res.end();
    }
  }

  /**
   * Refuses (403) what a web page could send: a Host that is not this server's (DNS rebinding), an
   * Origin that is neither this server's own nor in allowedOrigins (a page on another site; `null`
   * too), and a request a browser marks as cross-site (Sec-Fetch-Site) without an allowed Origin.
   * Allowed origins get Access-Control-Allow-Origin on the answer.
   */
  private checkBrowser(req: IncomingMessage, res: ServerResponse): void {
    const host = req.headers.host;
    if (host !== undefined && !this.hostAllowed(host, req.socket)) {
      this.forbidden++;
      throw new AppError('HTTP_FORBIDDEN', `Host ${JSON.stringify(host)} is not this server's: use its address, localhost, or a name in http.allowedHosts`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      res.setHeader('vary', 'Origin');
      if (!this.originAllowed(origin, host)) {
        this.forbidden++;
        throw new AppError('HTTP_FORBIDDEN', `Origin ${JSON.stringify(origin)} is not allowed: add it to http.allowedOrigins to call the API from its pages`);
      }
      res.setHeader('access-control-allow-origin', origin);
      return;
    }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      this.forbidden++;
      throw new AppError('HTTP_FORBIDDEN', `a ${site} browser request without an allowed Origin is refused`);
    }
  }

  /** localhost, a loopback address, the address the connection came in on, or a name (with or without its port) in allowedHosts. */
  private hostAllowed(value: string, socket: Socket): boolean {
    const host = parseHostHeader(value);
    if (!host) return false;
    if (host.name === 'localhost' || isLoopback(host.name)) return true;
    if (isIP(host.name) && plainAddress(host.name) === plainAddress(socket.localAddress)) return true;
    if (host.name === this.options.listen.host.toLowerCase()) return true;
    return this.allowedHosts.has(host.name) || (host.port !== '' && this.allowedHosts.has(`${host.name}:${host.port}`));
  }

  /** The server's own origin (http:// and the request's Host) or one of allowedOrigins. */
  private originAllowed(origin: string, host: string | undefined): boolean {
    const o = origin.toLowerCase();
    return (host !== undefined && o === `http://${host.toLowerCase()}`) || this.allowedOrigins.has(o);
  }

  /** OPTIONS (a CORS preflight when it has an Origin, which checkBrowser allowed): 204 with what may be sent. */
  private preflight(req: IncomingMessage, res: ServerResponse): void {
    const headers: Record<string, string> = { allow: 'GET, POST, OPTIONS' };
    if (req.headers.origin !== undefined) {
      headers['access-control-allow-methods'] = 'GET, POST, OPTIONS';
      headers['access-control-allow-headers'] = 'Authorization, Content-Type';
      headers['access-control-max-age'] = '600';
    }
    res.writeHead(204, headers);
    res.end();
  }

  private authorize(req: IncomingMessage): void {
    const token = this.options.token;
    if (!token) return;
    const given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new AppError('HTTP_UNAUTHORIZED', 'a valid "Authorization: Bearer <token>" header is required');
  }

  private async channel(res: ServerResponse, uuid: string): Promise<void> {
    const workers = this.options.workers;
    const c = workers ? undefined : this.options.channels.get(uuid);
    const detail = workers ? await workers.detail(uuid) : c && channelDetail(c, this.options.streams);
    if (!detail) throw new AppError('HTTP_NOT_FOUND', `no such channel ${uuid}`);
    this.json(res, 200, detail);
  }

  /** POST /api/command: `{"command": "<api command> [args]", "args"?: "..."}` as application/json only (a web page cannot send it without a preflight). */
  private async command(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new AppError('HTTP_UNSUPPORTED_MEDIA_TYPE', `POST /api/command takes Content-Type: application/json, e.g. {"command":"status"}; got ${JSON.stringify(req.headers['content-type'] ?? 'none')}`);
    }
    const body = await readBody(req);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new AppError('HTTP_BAD_REQUEST', 'the body is not valid JSON');
    }
    const p = parsed as { command?: unknown; args?: unknown };
    if (typeof p?.command !== 'string' || !p.command.trim()) throw new AppError('HTTP_BAD_REQUEST', 'expected {"command": "<api command> [args]"}');
    if (p.args !== undefined && typeof p.args !== 'string') throw new AppError('HTTP_BAD_REQUEST', '"args" must be a string');
    const line = p.args ? `${p.command.trim()} ${p.args}` : p.command.trim();
    const reply = await this.options.execute(line);
    this.json(res, 200, { ok: !/^-(ERR|USAGE)/.test(reply), reply });
  }

  private eventStream(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const wants = eventFilter(url);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': audio-stream events\n\n');
    this.events.add(res, wants, `${plainAddress(req.socket.remoteAddress)}:${req.socket.remotePort}`);
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    this.send(res, status, 'application/json', `${JSON.stringify(body)}\n`);
  }

  private send(res: ServerResponse, status: number, type: string, text: string): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}

/** Connections answered 503 by admit(): a request parsed on one of them is not handled. */
const refusedSockets = new WeakSet<Socket>();

function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new AppError('HTTP_BAD_REQUEST', `bad percent-encoding in ${JSON.stringify(part)}`);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Stop buffering but keep draining, so the 413 answer can still be sent.
        req.removeAllListeners('data');
        req.resume();
        reject(new AppError('HTTP_BODY_TOO_LARGE', `the body is larger than ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
