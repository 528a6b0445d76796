// Test harness: a real `ws` server on loopback that records everything it receives, a test
// channel to feed frames into, and an event collector.
import { WebSocketServer, type WebSocket, type ServerOptions } from 'ws';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { Runtime, type RuntimeOptions } from '../../src/service/runtime.ts';
import type { Channel, ChannelEndpoint } from '../../src/channel/channel.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidAudioStream } from '../../src/audio-stream/command.ts';
import { AudioStream, AUDIO_STREAM_BUG } from '../../src/audio-stream/audio-stream.ts';
import type { TestContext } from 'node:test';
import type { FsEvent } from '../../src/events/event.ts';

/** One message as the server received it. */
export type Received = { kind: 'text'; text: string } | { kind: 'binary'; data: Buffer };

/** One client connection seen by the test server. */
export interface ServerConnection {
  socket: WebSocket;
  request: IncomingMessage;
  messages: Received[];
  /** Resolves with the close code and reason once the connection is closed. */
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once `count` messages of this kind (`any`: of either kind) or more have arrived; rejects after `timeoutMs`. */
  received(kind: Received['kind'] | 'any', count: number, timeoutMs?: number): Promise<void>;
}

/** A recording WebSocket server on 127.0.0.1 with an ephemeral port. */
export interface TestServer {
  url: string;
  port: number;
  wss: WebSocketServer;
  connections: ServerConnection[];
  /** Resolves with the next (or an already made) connection. */
  nextConnection(): Promise<ServerConnection>;
  close(): Promise<void>;
}

/** Starts a recording ws server; `onConnection` may script the server's side. */
export async function startTestServer(
  options: Omit<ServerOptions, 'port' | 'host'> = {},
  onConnection?: (conn: ServerConnection) => void,
): Promise<TestServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const port = (wss.address() as AddressInfo).port;
  const connections: ServerConnection[] = [];
  const waiters: Array<(c: ServerConnection) => void> = [];
  let taken = 0;
  wss.on('connection', (socket, request) => {
    let resolveClosed!: (v: { code: number; reason: string }) => void;
    const counted: Array<() => boolean> = [];
    const count = (kind: Received['kind'] | 'any') => (kind === 'any' ? conn.messages.length : conn.messages.filter((m) => m.kind === kind).length);
    const conn: ServerConnection = {
      socket, request, messages: [],
      closed: new Promise((r) => { resolveClosed = r; }),
      received(kind, n, timeoutMs = 5000) {
        if (count(kind) >= n) return Promise.resolve();
        return new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`${count(kind)} of ${n} ${kind} messages within ${timeoutMs} ms`)), timeoutMs);
          counted.push(() => {
            if (count(kind) < n) return false;
            clearTimeout(t);
            resolve();
            return true;
          });
        });
      },
    };
    socket.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
      conn.messages.push(isBinary ? { kind: 'binary', data: buf } : { kind: 'text', text: buf.toString() });
      for (let i = 0; i < counted.length; i++) if (counted[i]!()) counted.splice(i--, 1);
    });
    socket.on('close', (code, reason) => resolveClosed({ code, reason: reason.toString() }));
    socket.on('error', () => undefined);
    connections.push(conn);
    onConnection?.(conn);
    const w = waiters.shift();
    if (w) { taken++; w(conn); }
  });
  return {
    url: `ws://127.0.0.1:${port}`, port, wss, connections,
    nextConnection() {
      if (taken < connections.length) return Promise.resolve(connections[taken++]!);
      return new Promise((resolve) => waiters.push(resolve));
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** The binary messages of a connection, in order. */
export function binaries(conn: ServerConnection): Buffer[] {
  return conn.messages.filter((m): m is { kind: 'binary'; data: Buffer } => m.kind === 'binary').map((m) => m.data);
}

/** The text messages of a connection, in order. */
export function texts(conn: ServerConnection): string[] {
  return conn.messages.filter((m): m is { kind: 'text'; text: string } => m.kind === 'text').map((m) => m.text);
}

/** A channel endpoint that records what was asked of it. */
export class TestEndpoint implements ChannelEndpoint {
  preAnswered = 0;
  answered = 0;
  hungUp: string | undefined;
  allowPreAnswer = true;
  preAnswer(): boolean { this.preAnswered++; return this.allowPreAnswer; }
  answer(): boolean { this.answered++; return true; }
  hangup(_c: Channel, cause: string): void { this.hungUp = cause; }
}

/**
 * Creates a runtime (with its own temp dir and clock if given) and one channel at `rateHz` with
 * `ptimeMs` frames.
 */
export function makeChannel(opts: { rateHz?: number; ptimeMs?: number; runtime?: Runtime } & RuntimeOptions = {}) {
  const runtime = opts.runtime ?? new Runtime({ tempDir: opts.tempDir, clock: opts.clock });
  const endpoint = new TestEndpoint();
  const channel = runtime.channels.create(endpoint, 'test/channel', { name: 'L16', rateHz: opts.rateHz ?? 8000, ptimeMs: opts.ptimeMs ?? 20 },
    { callerIdNumber: '1000', callerIdName: 'Tester', destinationNumber: 'stream' });
  return { runtime, channel, endpoint };
}

/** Collects events from a runtime's bus; `waitFor` resolves with the first (or an earlier) matching one. */
export function collectEvents(runtime: { bus: Runtime['bus'] }) {
  const events: FsEvent[] = [];
  const waiters: Array<{ match: (e: FsEvent) => boolean; resolve: (e: FsEvent) => void }> = [];
  const unsubscribe = runtime.bus.subscribe((e) => {
    events.push(e);
    for (let i = 0; i < waiters.length; i++) {
      if (waiters[i]!.match(e)) { waiters[i]!.resolve(e); waiters.splice(i--, 1); }
    }
  });
  const custom = (subclass: string) => (e: FsEvent) => e.name === 'CUSTOM' && e.subclass === subclass;
  const waitMatching = (match: (e: FsEvent) => boolean, what: string, timeoutMs: number): Promise<FsEvent> => {
    const seen = events.find(match); // `match` may count: it sees the past events first, then each new one once
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${what} event within ${timeoutMs} ms; got ${events.map((e) => e.subclass ?? e.name).join(', ')}`)), timeoutMs);
      waiters.push({ match, resolve: (e) => { clearTimeout(t); resolve(e); } });
    });
  };
  return {
    events,
    unsubscribe,
    /** Events of one mod_audio_stream subclass (short name: connect, json, ...). */
    of(kind: string): FsEvent[] {
      return events.filter(custom(`mod_audio_stream::${kind}`));
    },
    /** Waits for the `count`-th mod_audio_stream event of a kind (short name; an earlier one counts), failing after `timeoutMs`. */
    waitFor(kind: string, timeoutMs = 5000, count = 1): Promise<FsEvent> {
      const match = custom(`mod_audio_stream::${kind}`);
      let seen = 0;
      return waitMatching((e) => match(e) && ++seen === count, kind, timeoutMs);
    },
    /** Waits for the first mod_audio_stream event of any of these kinds (short names), failing after `timeoutMs`. */
    waitForFirst(kinds: string[], timeoutMs = 5000): Promise<FsEvent> {
      const subclasses = kinds.map((k) => `mod_audio_stream::${k}`);
      return waitMatching((e) => e.name === 'CUSTOM' && subclasses.includes(e.subclass ?? ''), kinds.join(' or '), timeoutMs);
    },
    /** Waits for the `count`-th event with this Event-Name (an earlier one counts), failing after `timeoutMs`. */
    waitForEvent(name: string, timeoutMs = 5000, count = 1): Promise<FsEvent> {
      let seen = 0;
      return waitMatching((e) => e.name === name && ++seen === count, name, timeoutMs);
    },
  };
}

/** The stream attached to a channel, if any. */
export function findAudioStream(channel: Channel): AudioStream | undefined {
  const bug = channel.findBug(AUDIO_STREAM_BUG);
  return bug instanceof AudioStream ? bug : undefined;
}

/** Feeds `frames` frames cut from mono `read` / `write` signals (either may be null) into the channel. */
export function feed(channel: Channel, read: Int16Array | null, write: Int16Array | null, frameSamples: number): number {
  const total = Math.max(read?.length ?? 0, write?.length ?? 0);
  let frames = 0;
  for (let off = 0; off < total; off += frameSamples, frames++) {
    const end = Math.min(off + frameSamples, total);
    channel.processFrame(read ? read.subarray(off, end) : null, write ? write.subarray(off, end) : null, performance.now());
  }
  return frames;
}

/** Races `p` against a guard so a broken test fails with a message instead of hanging (no timing is asserted). */
export function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout;
  const guard = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms); });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 5 ms until true, failing after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Checks the exact shape of an error event body and returns its code and text. */
export function errorOf(e: FsEvent): { code: number; error: string } {
  const body = JSON.parse(e.body!) as { status: string; message: { code: number; error: string } };
  assert.deepEqual(Object.keys(body), ['status', 'message']);
  assert.equal(body.status, 'error');
  assert.deepEqual(Object.keys(body.message), ['code', 'error']);
  assert.ok(Number.isInteger(body.message.code));
  assert.equal(typeof body.message.error, 'string');
  assert.ok(body.message.error.length > 0, 'error text is empty');
  assert.equal(e.body, JSON.stringify({ status: 'error', message: { code: body.message.code, error: body.message.error } }));
  return body.message;
}


/** A channel with its own temp dir and event collector, STREAM_* variables set; all undone after the test. */
export function streamChannel(t: TestContext, vars: Record<string, string> = {}, rateHz = 8000, clock?: RuntimeOptions['clock']) {
  const tempDir = mkdtempSync(join(tmpdir(), 'audio-stream-test-'));
  const { runtime, channel, endpoint } = makeChannel({ rateHz, ptimeMs: 20, tempDir, clock });
  for (const [name, value] of Object.entries(vars)) channel.setVariable(name, value);
  const ev = collectEvents(runtime);
  t.after(() => {
    channel.hangup();
    ev.unsubscribe();
    rmSync(tempDir, { recursive: true, force: true });
  });
  const start = (url: string, rest = 'mono 8k') => uuidAudioStream(runtime, `${channel.uuid} start ${url} ${rest}`);
  const stop = () => uuidAudioStream(runtime, `${channel.uuid} stop`);
  return { runtime, channel, endpoint, ev, start, stop, tempDir };
}
