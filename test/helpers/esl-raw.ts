// A raw Event Socket client for tests: a plain TCP socket that keeps every byte received and
// splits them into frames (header block, then Content-Length bytes of body), so tests can check
// replies byte for byte.
import { connect, type Socket } from 'node:net';

/** One frame received from the server. */
export interface EslFrame {
  /** Header names lower-cased; values as sent (not URL-decoded). */
  headers: Map<string, string>;
  body: Buffer;
  /** The frame's exact bytes. */
  raw: Buffer;
  contentType: string;
}

const REPLY_TYPES = new Set(['auth/request', 'command/reply', 'api/response', 'text/disconnect-notice', 'text/rude-rejection']);

function parseHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(': ');
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 2));
  }
  return headers;
}

type Waiter = { match: (f: EslFrame) => boolean; resolve: (f: EslFrame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** A raw client connection. */
export class RawEsl {
  /** Every byte received, in order. */
  raw: Buffer = Buffer.alloc(0);
  /** Replies and notices not yet taken by `nextReply`. */
  readonly replies: EslFrame[] = [];
  /** Events and log lines not yet taken by `nextEvent`. */
  readonly events: EslFrame[] = [];
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>;
  isClosed = false;
  /** Keep every byte in `raw` (off for floods). */
  keepRaw = true;
  /** When set, events are handed to it instead of being queued. */
  onEventFrame: ((f: EslFrame) => void) | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private readonly waiters: Waiter[] = [];

  private constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) => socket.on('close', () => {
      this.isClosed = true;
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error('connection closed'));
      }
      resolve();
    }));
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => socket.end());
    socket.on('error', () => undefined);
  }

  /** Connects to host:port. */
  static connect(port: number, host = '127.0.0.1'): Promise<RawEsl> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host, allowHalfOpen: true });
      s.once('error', reject);
      s.once('connect', () => resolve(new RawEsl(s)));
    });
  }

  /** Wraps a socket accepted by a test server (an outbound application's side). */
  static wrap(socket: Socket): RawEsl {
    return new RawEsl(socket);
  }

  /** Connects, waits for auth/request and authenticates; resolves with the auth reply. */
  static async authed(port: number, password = 'ClueCon'): Promise<RawEsl> {
    const c = await RawEsl.connect(port);
    await c.nextReply();
    const reply = await c.command(`auth ${password}`);
    if (reply.headers.get('reply-text') !== '+OK accepted') throw new Error(`auth failed: ${reply.raw.toString()}`);
    return c;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends `<text>\n\n` and waits for the next reply. */
  command(text: string, timeoutMs = 3000): Promise<EslFrame> {
    this.send(`${text}\n\n`);
    return this.nextReply(timeoutMs);
  }

  nextReply(timeoutMs = 3000): Promise<EslFrame> {
    return this.take(this.replies, () => true, timeoutMs);
  }

  /** The next event (or log line) matching `match`; earlier ones that do not match stay queued. */
  nextEvent(match: (f: EslFrame) => boolean = () => true, timeoutMs = 3000): Promise<EslFrame> {
    return this.take(this.events, match, timeoutMs);
  }

  private take(queue: EslFrame[], match: (f: EslFrame) => boolean, timeoutMs: number): Promise<EslFrame> {
    const i = queue.findIndex(match);
    if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]!);
    if (this.isClosed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const isReply = queue === this.replies;
      const w: Waiter = {
        match: (f) => (REPLY_TYPES.has(f.contentType) === isReply) && match(f),
        resolve, reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          reject(new Error(`no frame within ${timeoutMs} ms; received so far:\n${this.raw.toString().slice(-2000)}`));
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  private onData(d: Buffer): void {
    if (this.keepRaw) this.raw = Buffer.concat([this.raw, d]);
    this.pending = this.pending.length === 0 ? d : Buffer.concat([this.pending, d]);
    for (;;) {
      const end = this.pending.indexOf('\n\n');
      if (end < 0) return;
      const headers = parseHeaders(this.pending.toString('utf8', 0, end));
      const length = Number(headers.get('content-length') ?? 0);
      if (this.pending.length < end + 2 + length) return;
      const raw = Buffer.from(this.pending.subarray(0, end + 2 + length));
      const frame: EslFrame = { headers, body: raw.subarray(end + 2), raw, contentType: headers.get('content-type') ?? '' };
      this.pending = this.pending.subarray(end + 2 + length);
      this.dispatch(frame);
    }
  }

  private dispatch(frame: EslFrame): void {
    const isReply = REPLY_TYPES.has(frame.contentType);
    if (!isReply && this.onEventFrame) return this.onEventFrame(frame);
    const w = this.waiters.find((x) => x.match(frame));
    if (w) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      clearTimeout(w.timer);
      w.resolve(frame);
      return;
    }
    (isReply ? this.replies : this.events).push(frame);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** URL-decodes the value of a plain event header. */
export function decoded(frame: EslFrame, name: string): string | undefined {
  return plainHeaders(frame).get(name.toLowerCase());
}

/** The headers of a text/event-plain frame's body in order, names as sent, values URL-decoded (kept as sent when not decodable). */
export function plainHeaderList(frame: EslFrame): Array<[string, string]> {
  const text = frame.body.toString('utf8');
  const end = text.indexOf('\n\n');
  const out: Array<[string, string]> = [];
  for (const line of text.slice(0, end < 0 ? text.length : end).split('\n')) {
    const colon = line.indexOf(': ');
    if (colon <= 0) continue;
    let value = line.slice(colon + 2);
    try { value = decodeURIComponent(value); } catch { /* kept as sent */ }
    out.push([line.slice(0, colon), value]);
  }
  return out;
}

/** The headers of a text/event-plain frame's body, URL-decoded, names lower-cased. */
export function plainHeaders(frame: EslFrame): Map<string, string> {
  return new Map(plainHeaderList(frame).map(([name, value]) => [name.toLowerCase(), value]));
}

/** The body of a text/event-plain frame's event (after its own Content-Length). */
export function plainBody(frame: EslFrame): string {
  const buf = frame.body;
  const end = buf.indexOf('\n\n');
  return end < 0 ? '' : buf.subarray(end + 2).toString('utf8');
}
