// A stream that survives its server's restart (STREAM_RECONNECT): which losses reconnect, how long
// to wait before each attempt, and the ring that keeps the audio captured during the gap. The
// stream (AudioStream) runs the attempts; the rules are here. README and docs/errors.md say the same.
import type { StreamErrorCode } from './errors.ts';

/**
 * Close codes of the server that reconnect (RFC 6455 §7.4.1 and the IANA registry): 1001 going
 * away (a server shutting down or redeploying), 1011 internal error, 1012 service restart,
 * 1013 try again later, 1014 bad gateway (a proxy lost its upstream). Every other code (1000 and
 * the server's own 4000-4999 included) is a deliberate end: a `disconnect`, as without reconnect.
 */
export const RECONNECT_CLOSE_CODES: ReadonlySet<number> = new Set([1001, 1011, 1012, 1013, 1014]);

/**
 * Failures of an open connection that reconnect: the connection broke without a Close frame
 * (1: TCP reset, EOF, the abnormal closure ws reports as 1006, any socket error) and a missed
 * pong (5). A protocol violation (11, the ping flood included), a message over the size bound (4)
 * and TLS errors (9) are the server's doing or a broken peer: the error event, as without reconnect.
 */
export const RECONNECT_ERROR_CODES: ReadonlySet<StreamErrorCode> = new Set<StreamErrorCode>(['STREAM_IO', 'STREAM_PING_TIMEOUT']);

/**
 * Failures of a reconnect attempt that end the reconnection at once, attempts left or not: our own
 * TLS setup (7: the CA file, certificate or key went missing or bad) cannot heal by waiting.
 */
export const RECONNECT_HOPELESS_CODES: ReadonlySet<StreamErrorCode> = new Set<StreamErrorCode>(['STREAM_TLS_INIT_FAILED']);

/** The longest wait before an attempt, ms, whatever the attempt and STREAM_RECONNECT_BACKOFF_MS. */
export const RECONNECT_BACKOFF_CAP_MS = 5000;

/**
 * A connection that opened again must stay up this long for the next loss to start with a fresh
 * count of attempts; a loss sooner goes on counting, so a server that accepts and closes at once
 * (a crash loop) ends in the error event after STREAM_RECONNECT attempts instead of forever.
 */
export const RECONNECT_STABLE_MS = 10000;

/**
 * The wait before reconnect attempt `attempt` (1, 2, ...), ms: the base doubled per attempt
 * (base, 2 base, 4 base, ...) and capped at RECONNECT_BACKOFF_CAP_MS, then "equal jitter": a uniform
 * value between half of it and all of it, so streams cut by one server restart do not all come
 * back at the same instant. `random` is in [0, 1).
 */
export function reconnectDelayMs(baseMs: number, attempt: number, random: number = Math.random()): number {
  const nominal = Math.min(RECONNECT_BACKOFF_CAP_MS, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.max(1, Math.round(nominal / 2 + (nominal / 2) * random));
}

/**
 * The audio captured while a stream reconnects: a ring of whole messages (exactly STREAM_BUFFER_SIZE
 * ms each), allocated once, STREAM_RECONNECT_BUFFER_MS long (rounded down to whole messages). When
 * it is full the oldest message is overwritten and counted. Nothing is allocated per message.
 */
export class GapBuffer {
  /** Messages it holds at most. */
  readonly capacity: number;
  private readonly storage: Buffer;
  /** One view per slot, made once. */
  private readonly slots: Buffer[];
  private first = 0;
  private size = 0;
  /** Messages overwritten since the last clear(). */
  dropped = 0;

  constructor(readonly chunkBytes: number, capacity: number) {
    this.capacity = Math.max(0, Math.floor(capacity));
    this.storage = Buffer.alloc(this.capacity * chunkBytes);
    this.slots = Array.from({ length: this.capacity }, (_, i) => this.storage.subarray(i * chunkBytes, (i + 1) * chunkBytes));
  }

  /** Messages held now. */
  get count(): number {
    return this.size;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.size * this.chunkBytes;
  }

  /** Copies one message in (the newest); when full, the oldest is overwritten and counted. */
  push(chunk: Buffer): void {
    if (this.capacity === 0) {
      this.dropped++;
      return;
    }
    let slot: number;
    if (this.size < this.capacity) {
      slot = (this.first + this.size) % this.capacity;
      this.size++;
    } else {
      slot = this.first;
      this.first = (this.first + 1) % this.capacity;
      this.dropped++;
    }
    chunk.copy(this.slots[slot]!, 0, 0, this.chunkBytes);
  }

  /** Message `i` from the oldest (0) on: a view of the ring, valid until the next push or clear. */
  at(i: number): Buffer {
    if (i < 0 || i >= this.size) throw new RangeError(`message ${i} of ${this.size}`);
    return this.slots[(this.first + i) % this.capacity]!;
  }

  /** Empties it and resets the drop count (the storage is kept for the next gap). */
  clear(): void {
    this.first = 0;
    this.size = 0;
    this.dropped = 0;
  }
}
