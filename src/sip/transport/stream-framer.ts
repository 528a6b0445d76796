import { parseDecimal } from '../message/grammar.ts';

/** What one `push` produced: whole messages, keepalive pings seen, and an error that must close the connection. */
export interface FrameResult {
  /** Complete messages (headers + Content-Length bytes of body), in order. */
  messages: Buffer[];
  /** RFC 5626 §3.5.1 double-CRLF pings seen between messages (answer each with one CRLF). */
  pings: number;
  /** Set when the stream can no longer be framed (oversize, bad Content-Length); nothing more is parsed. */
  error?: string;
}

const CRLF = 0x0d0a;
const EMPTY = Buffer.alloc(0);
/** Smallest owned storage, bytes (a typical INVITE fits). */
const MIN_STORE_BYTES = 4096;
/** Room kept past maxBytes for the chunk that crosses it (a socket read is at most 64 KiB). */
const MAX_CHUNK_SLACK = 65536;

/**
 * Cuts SIP messages out of a byte stream (RFC 3261 §18.3): header block up to the empty line, then
 * exactly Content-Length bytes of body. Incremental across arbitrary chunk boundaries; bounded by
 * `maxBytes` per message so a peer cannot make it buffer without limit.
 */
export class SipStreamFramer {
  /** The unframed bytes: a view of the last chunk, or of `store` once chunks had to be joined. */
  private buf: Buffer = EMPTY;
  /** Owned storage that grows by doubling, so a peer sending one byte per packet costs linear time, not quadratic. */
  private store: Buffer = EMPTY;
  private owned = false;
  private scanFrom = 0;
  private pendingTotal: number | undefined;
  private failed: string | undefined;

  constructor(private readonly maxBytes: number) {}

  /** Bytes buffered and not yet part of a complete message. */
  get buffered(): number {
    return this.buf.length;
  }

  /**
   * Where the stream is: between messages ('idle': nothing buffered but the start of a keepalive's
   * line breaks), inside a message's header block ('header'), or inside its body ('body'). The TCP
   * endpoint's deadlines read it.
   */
  get phase(): 'idle' | 'header' | 'body' {
    if (this.pendingTotal !== undefined) return 'body';
    const b = this.buf;
    for (let i = 0; i < b.length; i++) {
      if (i >= 3 || (b[i] !== 0x0d && b[i] !== 0x0a)) return 'header';
    }
    return 'idle';
  }

  /** Feeds a chunk; returns what became complete. After an error every later push returns the same error. */
  push(chunk: Buffer): FrameResult {
    const result: FrameResult = { messages: [], pings: 0 };
    if (this.failed !== undefined) return { ...result, error: this.failed };
    this.append(chunk);
    for (;;) {
      result.pings += this.skipLeadingLineBreaks();
      if (this.buf.length === 0) break;
      const total = this.pendingTotal ?? this.measure();
      if (this.failed !== undefined) return { ...result, error: this.failed };
      if (total === undefined || this.buf.length < total) break;
      result.messages.push(Buffer.from(this.buf.subarray(0, total)));
      this.buf = this.buf.subarray(total);
      this.scanFrom = 0;
      this.pendingTotal = undefined;
    }
    if (this.buf.length === 0) this.releaseStore();
    return result;
  }

  /** Adds a chunk after the unframed bytes: in place when the owned storage has room, else into storage twice the size. */
  private append(chunk: Buffer): void {
    if (this.buf.length === 0) {
      this.buf = chunk;
      this.releaseStore();
      return;
    }
    const length = this.buf.length + chunk.length;
    if (this.owned) {
      const offset = this.buf.byteOffset - this.store.byteOffset;
      if (offset + length <= this.store.length) {
        chunk.copy(this.store, offset + this.buf.length);
        this.buf = this.store.subarray(offset, offset + length);
        return;
      }
    }
    // Past maxBytes the stream fails anyway: the storage never needs more than that plus one chunk.
    const capacity = Math.max(length, Math.min(2 * length, this.maxBytes + MAX_CHUNK_SLACK));
    const store = Buffer.allocUnsafe(Math.max(capacity, MIN_STORE_BYTES));
    this.buf.copy(store, 0);
    chunk.copy(store, this.buf.length);
    this.store = store;
    this.owned = true;
    this.buf = store.subarray(0, length);
  }

  private releaseStore(): void {
    this.store = EMPTY;
    this.owned = false;
  }

  /** Consumes CRLFs between messages; returns the number of double-CRLF pings among them. */
  private skipLeadingLineBreaks(): number {
    let pings = 0;
    let i = 0;
    const b = this.buf;
    for (;;) {
      if (i + 4 <= b.length && b.readUInt16BE(i) === CRLF && b.readUInt16BE(i + 2) === CRLF) {
        pings++;
        i += 4;
      } else if (i + 2 < b.length && b.readUInt16BE(i) === CRLF && b[i + 2] !== 0x0d) {
        i += 2; // a lone CRLF (a pong, or noise) followed by something else
      } else if (i < b.length && b[i] === 0x0a) {
        i += 1;
      } else {
        break;
      }
    }
    if (i > 0) {
      this.buf = b.subarray(i);
      this.scanFrom = 0;
    }
    return pings;
  }

  /** Finds the header end and Content-Length; returns the message's total size, or undefined to wait for more. */
  private measure(): number | undefined {
    const from = Math.max(0, this.scanFrom - 3);
    const crlf = this.buf.indexOf('\r\n\r\n', from, 'latin1');
    const lf = this.buf.indexOf('\n\n', from, 'latin1');
    const useCrlf = crlf >= 0 && (lf < 0 || crlf < lf);
    const headerEnd = useCrlf ? crlf : lf;
    if (headerEnd < 0) {
      if (this.buf.length > this.maxBytes) this.failed = `header block exceeds ${this.maxBytes} bytes`;
      this.scanFrom = this.buf.length;
      return undefined;
    }
    const bodyStart = headerEnd + (useCrlf ? 4 : 2);
    const length = contentLength(this.buf.toString('latin1', 0, headerEnd));
    if (length === undefined) {
      this.failed = 'invalid Content-Length';
      return undefined;
    }
    const total = bodyStart + length;
    if (total > this.maxBytes) {
      this.failed = `message of ${total} bytes exceeds ${this.maxBytes}`;
      return undefined;
    }
    this.pendingTotal = total;
    return total;
  }
}

/** Content-Length (or `l`) from a header block; 0 when absent; undefined when invalid or conflicting. */
function contentLength(headerText: string): number | undefined {
  const unfolded = headerText.replace(/\r?\n[ \t]+/g, ' ');
  let found: number | undefined;
  for (const m of unfolded.matchAll(/^(?:content-length|l)[ \t]*:(.*)$/gim)) {
    const n = parseDecimal(m[1], 0x7fffffff);
    if (n === undefined || (found !== undefined && found !== n)) return undefined;
    found = n;
  }
  return found ?? 0;
}
