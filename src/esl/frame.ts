// The Event Socket input framing, as mod_event_socket.c read_packet() reads it: blank lines
// before a message are skipped; a message is a block of lines ending at two LFs (CRs in between
// are ignored); its first line is the command, the others `Name: value` headers (lines without a
// colon are dropped, spaces after the colon skipped); a Content-Length header is followed by that
// many bytes of body. Unlike FreeSWITCH (10 MB per block, any Content-Length), both are bounded.
import { isUtf8 } from 'node:buffer';
import { AppError } from '../lib/errors.ts';

/** One client message. Header names keep their spelling; look them up with `headerValue`. */
export interface EslMessage {
  /** The first line, trailing spaces and tabs removed (clients such as modesl add one). */
  command: string;
  headers: Array<[string, string]>;
  body: Buffer | undefined;
  /** The command line or headers were not valid UTF-8 (they were decoded with replacement characters). */
  invalidUtf8?: boolean;
}

/** Input the server refuses to buffer (an AppError ESL_FRAME_TOO_LARGE): the connection is closed. */
export function frameTooLarge(message: string): AppError {
  return new AppError('ESL_FRAME_TOO_LARGE', message);
}

/** Bounds of one message, in bytes. */
export interface FrameLimits {
  /** Largest command line plus headers (default 1 MiB). */
  maxHeaderBytes: number;
  /** Largest body announced by Content-Length (default 4 MiB). */
  maxBodyBytes: number;
}

/** Default bounds: 1 MiB of command and headers, 4 MiB of body. */
export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxHeaderBytes: 1 << 20, maxBodyBytes: 4 << 20 };

const LF = 0x0a;
const CR = 0x0d;

/** Case-insensitive header lookup (FreeSWITCH headers are). */
export function headerValue(msg: EslMessage, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [n, v] of msg.headers) if (n.toLowerCase() === lower) return v;
  return undefined;
}

/** atoi: optional spaces and sign, then digits; 0 when there are none. */
function atoi(text: string): number {
  const m = /^\s*([+-]?\d+)/.exec(text);
  return m ? Number.parseInt(m[1]!, 10) : 0;
}

/** Splits a header block into the command and headers (lines end at any run of CR/LF). */
function parseBlock(text: string): EslMessage {
  const lines = text.split(/[\r\n]+/);
  const command = (lines[0] ?? '').replace(/[ \t]+$/, '');
  const headers: Array<[string, string]> = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (line === '' || colon < 0) continue;
    headers.push([line.slice(0, colon), line.slice(colon + 1).replace(/^ +/, '')]);
  }
  return { command, headers, body: undefined };
}

/** Incremental parser of client messages; `push` returns the messages completed by a chunk. */
export class EslFrameParser {
  /** Bytes of the current block or body received so far (each byte is scanned once). */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** LFs seen since the last byte that was neither CR nor LF. */
  private lfCount = 0;
  /** A block waiting for its body. */
  private pending: { msg: EslMessage; bodyBytes: number } | undefined;

  constructor(private readonly limits: FrameLimits = DEFAULT_FRAME_LIMITS) {}

  /** Bytes buffered and not yet part of a message. */
  get bufferedBytes(): number {
    return this.heldBytes;
  }

  /** Feeds bytes; throws an AppError ESL_FRAME_TOO_LARGE when a bound is exceeded (the caller drops the client). */
  push(chunk: Buffer): EslMessage[] {
    const out: EslMessage[] = [];
    let data = chunk;
    while (data.length > 0) {
      data = this.pending ? this.takeBody(data, out) : this.takeBlock(data, out);
    }
    return out;
  }

  /** Consumes body bytes; returns what is left of `data`. */
  private takeBody(data: Buffer, out: EslMessage[]): Buffer {
    const p = this.pending!;
    const need = p.bodyBytes - this.heldBytes;
    if (data.length < need) {
      this.hold(data);
      return data.subarray(data.length);
    }
    this.hold(data.subarray(0, need));
    p.msg.body = this.release();
    this.pending = undefined;
    out.push(p.msg);
    return data.subarray(need);
  }

  /** Consumes header-block bytes; returns what is left of `data`. */
  private takeBlock(data: Buffer, out: EslMessage[]): Buffer {
    if (this.heldBytes === 0) {
      // read_packet discards CR and LF bytes that come before a message.
      let i = 0;
      while (i < data.length && (data[i] === LF || data[i] === CR)) i++;
      data = data.subarray(i);
      if (data.length === 0) return data;
    }
    const end = this.findBlockEnd(data);
    if (end < 0) {
      this.hold(data);
      if (this.heldBytes > this.limits.maxHeaderBytes) {
        throw frameTooLarge(`command and headers longer than ${this.limits.maxHeaderBytes} bytes`);
      }
      return data.subarray(data.length);
    }
    this.hold(data.subarray(0, end + 1));
    const raw = this.release();
    const msg = parseBlock(raw.toString('utf8'));
    if (!isUtf8(raw)) msg.invalidUtf8 = true;
    const length = headerValue(msg, 'content-length');
    const bodyBytes = length === undefined ? 0 : atoi(length);
    if (bodyBytes > this.limits.maxBodyBytes) {
      throw frameTooLarge(`Content-Length ${bodyBytes} larger than ${this.limits.maxBodyBytes} bytes`);
    }
    if (bodyBytes > 0) this.pending = { msg, bodyBytes };
    else out.push(msg);
    return data.subarray(end + 1);
  }

  /** Index in `data` of the LF that ends the block (the second LF with only CRs since the first), or -1. */
  private findBlockEnd(data: Buffer): number {
    for (let i = 0; i < data.length; i++) {
      const b = data[i];
      if (b === LF) {
        if (++this.lfCount === 2) {
          this.lfCount = 0;
          return i;
        }
      } else if (b !== CR) {
        this.lfCount = 0;
      }
    }
    return -1;
  }

  private hold(part: Buffer): void {
    if (part.length === 0) return;
    this.held.push(part);
    this.heldBytes += part.length;
  }

  /** The held bytes as one buffer (copied, so the socket's chunks can be freed). */
  private release(): Buffer {
    const all = Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    return all;
  }
}
