import { connect, type Socket } from 'node:net';

/** One Event Socket frame: headers (names as received) and the body. */
export interface EslFrame {
  headers: Map<string, string>;
  body: string;
}

/** Largest frame body accepted from the server, in bytes. */
const MAX_BODY_BYTES = 64 << 20;
/** Largest header block accepted, in bytes. */
const MAX_HEADER_BYTES = 256 * 1024;

/** Splits a byte stream into ESL frames (LF framing, Content-Length bodies in bytes). */
export class EslFrameReader {
  private buffer: Buffer = Buffer.alloc(0);

  /** Adds bytes and returns every complete frame; throws on a frame over the bounds. */
  push(chunk: Buffer): EslFrame[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const frames: EslFrame[] = [];
    for (;;) {
      while (this.buffer.length && (this.buffer[0] === 0x0a || this.buffer[0] === 0x0d)) this.buffer = this.buffer.subarray(1);
      const end = this.buffer.indexOf('\n\n');
      if (end < 0) {
        if (this.buffer.length > MAX_HEADER_BYTES) throw new Error('header block too large');
        return frames;
      }
      const headers = new Map<string, string>();
      for (const line of this.buffer.subarray(0, end).toString('utf8').split('\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const length = Number(headers.get('content-length') ?? 0);
      if (!Number.isInteger(length) || length < 0 || length > MAX_BODY_BYTES) throw new Error(`bad Content-Length ${headers.get('content-length')}`);
      if (this.buffer.length < end + 2 + length) return frames;
      const body = this.buffer.subarray(end + 2, end + 2 + length).toString('utf8');
      this.buffer = this.buffer.subarray(end + 2 + length);
      frames.push({ headers, body });
    }
  }
}

/** A small inbound Event Socket client (what fs_cli is): auth, api, raw commands, events. */
export class EslClient {
  private readonly reader = new EslFrameReader();
  private readonly replies: Array<{ type: string; resolve: (f: EslFrame) => void; reject: (e: Error) => void }> = [];
  private closedError: Error | undefined;
  /** Called for every event and log frame. */
  onEvent: ((frame: EslFrame) => void) | undefined;
  /** Called once when the connection ends. */
  onClose: ((reason: string) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  /** Connects and authenticates; rejects with the server's reason on failure. */
  static async connect(host: string, port: number, password: string, timeoutMs = 5000): Promise<EslClient> {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)));
    const client = new EslClient(socket);
    const greeting = await client.expect('auth/request');
    void greeting;
    const reply = await client.command(`auth ${password}`);
    const text = reply.headers.get('reply-text') ?? '';
    if (!text.startsWith('+OK')) {
      socket.destroy();
      throw new Error(`authentication failed: ${text || 'no reply'}`);
    }
    socket.setTimeout(0);
    return client;
  }

  private onData(chunk: Buffer): void {
    let frames: EslFrame[];
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.socket.destroy(err as Error);
      return;
    }
    for (const frame of frames) {
      const type = frame.headers.get('content-type') ?? '';
      if (type.startsWith('text/event-') || type === 'log/data') {
        this.onEvent?.(frame);
      } else if (type === 'text/disconnect-notice' || type === 'text/rude-rejection') {
        this.fail(new Error(frame.body.trim() || type));
      } else {
        const i = this.replies.findIndex((r) => r.type === type);
        if (i >= 0) this.replies.splice(i, 1)[0]!.resolve(frame);
      }
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const r of this.replies.splice(0)) r.reject(err);
    this.onClose?.(err.message);
    this.socket.destroy();
  }

  private expect(type: string): Promise<EslFrame> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => this.replies.push({ type, resolve, reject }));
  }

  /** Sends a command (`event plain ALL`, `nolog`...) and resolves with its command/reply. */
  command(text: string): Promise<EslFrame> {
    const reply = this.expect('command/reply');
    this.socket.write(`${text.replace(/\n/g, ' ')}\n\n`);
    return reply;
  }

  /** Runs `api <command>` and resolves with the response body. */
  async api(command: string): Promise<string> {
    const reply = this.expect('api/response');
    this.socket.write(`api ${command.replace(/\n/g, ' ')}\n\n`);
    return (await reply).body;
  }

  /** Sends `exit` and closes. */
  close(): void {
    if (!this.closedError) this.socket.end('exit\n\n');
  }
}
