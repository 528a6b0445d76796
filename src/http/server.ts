import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Channel } from '../channel/channel.ts';
import type { ChannelRegistry } from '../channel/registry.ts';
import type { EventBus } from '../events/bus.ts';
import type { FsEvent } from '../events/event.ts';
import type { AudioStreamEngine } from '../audio-stream/engine.ts';
import { Logger } from '../lib/logger.ts';
import { AppError, isAppError, type ErrorCode } from '../lib/errors.ts';
import { renderMetrics, type MetricSource } from './metrics.ts';

/** Largest request body accepted, in bytes. */
const MAX_BODY_BYTES = 64 * 1024;
/** Bytes an event-stream client may leave unread before it is dropped. */
const MAX_SSE_BACKLOG_BYTES = 4 << 20;

/** What the HTTP API needs from the rest of the service. */
export interface HttpApiOptions {
  channels: ChannelRegistry;
  bus: EventBus;
  streams: AudioStreamEngine;
  listen: { host: string; port: number };
  /** Bearer token; required on every endpoint but /health when set. */
  token: string | undefined;
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
  HTTP_BAD_REQUEST: 400, HTTP_UNAUTHORIZED: 401, HTTP_NOT_FOUND: 404, HTTP_METHOD_NOT_ALLOWED: 405, HTTP_BODY_TOO_LARGE: 413,
};

function channelSummary(c: Channel, streams: AudioStreamEngine): Record<string, unknown> {
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

/** The HTTP API: health, Prometheus metrics, channels, one API command, and a live event stream (SSE). */
export class HttpApi {
  private server: Server | undefined;
  private readonly log = new Logger('http');
  private readonly sseClients = new Set<ServerResponse>();
  private readonly startedAt = Date.now();

  constructor(private readonly options: HttpApiOptions) {
    if (!isLoopback(options.listen.host) && !options.token) {
      throw new AppError('CONFIG_INVALID', `http.token is required when http.listen (${options.listen.host}) is not a loopback address`);
    }
  }

  /** The bound address (after start). */
  get address(): { host: string; port: number } {
    const a = this.server?.address() as AddressInfo | null;
    return { host: a?.address ?? this.options.listen.host, port: a?.port ?? 0 };
  }

  /** Live event stream clients. */
  get eventClients(): number {
    return this.sseClients.size;
  }

  /** Starts listening. */
  async start(): Promise<void> {
    const server = createServer((req, res) => { void this.handle(req, res); });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
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
    for (const res of this.sseClients) res.end();
    this.sseClients.clear();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      if (path !== '/health') this.authorize(req);
      const method = req.method ?? 'GET';
      if (path === '/health' && method === 'GET') return this.json(res, 200, { status: 'ok', uptimeSec: Math.round((Date.now() - this.startedAt) / 1000), channels: this.options.channels.size });
      if (path === '/metrics' && method === 'GET') return this.send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', renderMetrics(this.options.channels, this.options.streams, this.options.metrics));
      if (path === '/api/channels' && method === 'GET') return this.json(res, 200, { channels: [...this.options.channels].map((c) => channelSummary(c, this.options.streams)) });
      const one = /^\/api\/channels\/([^/]+)$/.exec(path);
      if (one && method === 'GET') return this.channel(res, decodePathPart(one[1]!));
      if (path === '/api/command' && method === 'POST') return await this.command(req, res);
      if (path === '/api/events' && method === 'GET') return this.events(req, res, url);
      const known = ['/health', '/metrics', '/api/channels', '/api/command', '/api/events'].includes(path) || one;
      throw new AppError(known ? 'HTTP_METHOD_NOT_ALLOWED' : 'HTTP_NOT_FOUND', known ? `method ${method} not allowed on ${path}` : `no such endpoint ${path}`);
    } catch (err) {
      const status = (isAppError(err) && HTTP_STATUS[err.code]) || 500;
      if (status === 500) this.log.error(`${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) this.json(res, status, { error: status === 500 ? 'internal error' : (err as Error).message });
      else res.end();
    }
  }

  private authorize(req: IncomingMessage): void {
    const token = this.options.token;
    if (!token) return;
    const given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new AppError('HTTP_UNAUTHORIZED', 'a valid "Authorization: Bearer <token>" header is required');
  }

  private channel(res: ServerResponse, uuid: string): void {
    const c = this.options.channels.get(uuid);
    if (!c) throw new AppError('HTTP_NOT_FOUND', `no such channel ${uuid}`);
    this.json(res, 200, { ...channelSummary(c, this.options.streams), variables: Object.fromEntries(c.variables) });
  }

  private async command(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    let line: string;
    if ((req.headers['content-type'] ?? '').includes('json')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        throw new AppError('HTTP_BAD_REQUEST', 'the body is not valid JSON');
      }
      const p = parsed as { command?: unknown; args?: unknown };
      if (typeof p?.command !== 'string' || !p.command.trim()) throw new AppError('HTTP_BAD_REQUEST', 'expected {"command": "<api command> [args]"}');
      if (p.args !== undefined && typeof p.args !== 'string') throw new AppError('HTTP_BAD_REQUEST', '"args" must be a string');
      line = p.args ? `${p.command.trim()} ${p.args}` : p.command.trim();
    } else {
      line = body.trim();
      if (!line) throw new AppError('HTTP_BAD_REQUEST', 'the body must hold an API command, e.g. "status"');
    }
    const reply = await this.options.execute(line);
    this.json(res, 200, { ok: !/^-(ERR|USAGE)/.test(reply), reply });
  }

  private events(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const names = (url.searchParams.get('events') ?? (url.searchParams.has('subclass') ? '' : 'ALL')).split(/[,\s]+/).filter(Boolean).map((n) => n.toUpperCase());
    const subclasses = (url.searchParams.get('subclass') ?? '').split(/[,\s]+/).filter(Boolean);
    const uuid = url.searchParams.get('uuid') ?? undefined;
    const subclassOk = (e: FsEvent) => subclasses.length === 0 || e.name !== 'CUSTOM' || subclasses.includes(e.subclass ?? '');
    const wanted = (e: FsEvent) => {
      if (uuid && e.get('Unique-ID') !== uuid) return false;
      if (names.includes('ALL') || names.includes(e.name)) return subclassOk(e);
      return e.subclass !== undefined && subclasses.includes(e.subclass);
    };
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': audio-stream events\n\n');
    this.sseClients.add(res);
    const unsubscribe = this.options.bus.subscribe((event) => {
      if (!wanted(event)) return;
      if (res.writableLength > MAX_SSE_BACKLOG_BYTES) {
        this.log.warning('dropping an event-stream client that does not read its events');
        done();
        res.destroy();
        return;
      }
      res.write(`event: ${event.subclass ?? event.name}\ndata: ${this.options.eventToJson(event)}\n\n`);
    });
    const done = () => {
      unsubscribe();
      this.sseClients.delete(res);
    };
    req.on('close', done);
    res.on('close', done);
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    this.send(res, status, 'application/json', `${JSON.stringify(body)}\n`);
  }

  private send(res: ServerResponse, status: number, type: string, text: string): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}

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
