// Fixed-delay playout buffer clocked by the media tick. The first packet of a stream fixes the
// schedule: a packet with timestamp ts is played `delay` after the first one, plus (ts - ts0) in
// clock time; packets that come after their turn are late and dropped. Packets live in
// preallocated slots indexed by their frame number, so push and pop are O(1), allocation-free
// and wrap-safe (timestamps compared modulo 2^32, sequence numbers modulo 2^16).
import { SequenceTracker } from './sequence-tracker.ts';

/** How to size and clock a JitterBuffer. */
export interface JitterBufferOptions {
  /** RTP clock units per frame: clockRateHz * ptimeMs / 1000 (160 for 20 ms of PCMU or G722). */
  frameTicks: number;
  /** Packet time in ms (default 20). */
  ptimeMs?: number;
  /** Playout delay in ms (default 60), rounded to whole frames, at least one. */
  delayMs?: number;
  /** Largest payload kept, in bytes; bigger ones are dropped and counted. */
  maxPayloadBytes: number;
  /** Frames the buffer holds ahead of the playout point (rounded up to a power of two; default 16). */
  capacityFrames?: number;
}

/** Counters of a JitterBuffer, cumulative over resets. */
export class JitterStats {
  /** Packets stored. */
  pushed = 0;
  /** Frames handed out by pop(). */
  played = 0;
  /** pop() calls with no frame due (loss, late packet, pause), after the stream started. */
  concealed = 0;
  /** Packets that came after their playout time. */
  late = 0;
  /** Packets whose frame was already stored. */
  duplicates = 0;
  /** Payloads over maxPayloadBytes. */
  oversize = 0;
  /** Times the schedule was re-based on a packet far ahead of or behind it. */
  resyncs = 0;
  /** Packets whose sequence number is not above the highest seen (reordered or duplicated). */
  reordered = 0;
}

/** Consecutive in-order late packets, spread over at least this many - 1 ticks, after which the schedule follows the stream again. */
const RESYNC_AFTER_LATE = 3;

/** The frame returned by pop(); the same object is reused: read it before the next pop or push. */
export interface JitterFrame {
  payload: Uint8Array;
  timestamp: number;
  sequenceNumber: number;
}

/** Fixed-delay playout buffer: push() on receive, pop() once per media tick. */
export class JitterBuffer {
  readonly stats = new JitterStats();
  /** Playout delay in frames. */
  readonly delayFrames: number;
  private readonly frameTicks: number;
  private readonly mask: number;
  private readonly maxPayloadBytes: number;
  private readonly storage: Uint8Array;
  private readonly views: Uint8Array[];
  private readonly slotTs: Uint32Array;
  private readonly slotSeq: Uint16Array;
  private readonly slotFull: Uint8Array;
  private readonly seq = new SequenceTracker();
  private readonly frame: JitterFrame = { payload: new Uint8Array(0), timestamp: 0, sequenceNumber: 0 };
  private started = false;
  private playTs = 0;
  private playIndex = 0;
  private warmup = 0;
  private lateRun = 0;
  private lateSinceIndex = 0;

  constructor(options: JitterBufferOptions) {
    const { frameTicks, maxPayloadBytes } = options;
    if (!(Number.isInteger(frameTicks) && frameTicks > 0)) throw new RangeError(`frameTicks must be a positive integer: ${frameTicks}`);
    if (!(Number.isInteger(maxPayloadBytes) && maxPayloadBytes > 0)) throw new RangeError(`maxPayloadBytes must be positive: ${maxPayloadBytes}`);
    let capacity = 2;
    while (capacity < (options.capacityFrames ?? 16)) capacity <<= 1;
    this.frameTicks = frameTicks;
    this.mask = capacity - 1;
    this.maxPayloadBytes = maxPayloadBytes;
    this.delayFrames = Math.min(capacity - 1, Math.max(1, Math.round((options.delayMs ?? 60) / (options.ptimeMs ?? 20))));
    this.storage = new Uint8Array(capacity * maxPayloadBytes);
    this.views = Array.from({ length: capacity }, (_, i) => this.storage.subarray(i * maxPayloadBytes, i * maxPayloadBytes));
    this.slotTs = new Uint32Array(capacity);
    this.slotSeq = new Uint16Array(capacity);
    this.slotFull = new Uint8Array(capacity);
  }

  /** Packets lost so far by sequence number (RFC 3550 A.3: expected - received), over all streams. */
  get lost(): number {
    return this.seq.lost;
  }

  /** True once a packet has been pushed since construction or reset(). */
  get isStarted(): boolean {
    return this.started;
  }

  /** Copies one packet's payload into its slot; late, duplicate and oversize packets are counted and dropped. */
  push(sequenceNumber: number, timestamp: number, payload: Uint8Array): void {
    if (payload.length > this.maxPayloadBytes) {
      this.stats.oversize++;
      return;
    }
    const older = this.seq.update(sequenceNumber);
    if (older) this.stats.reordered++;
    if (!this.started) this.rebase(timestamp, false);
    let ahead = (timestamp - this.playTs) | 0;
    if (ahead < 0) {
      this.stats.late++;
      // A straggler or a duplicate of a played frame is never a reason to move the schedule.
      if (older || !this.persistentlyLate()) return;
      this.followLate(timestamp);
      ahead = (timestamp - this.playTs) | 0;
    } else if (Math.floor(ahead / this.frameTicks) > this.mask) {
      this.rebase(timestamp, true); // a jump forward, or a sender clock running fast
      ahead = (timestamp - this.playTs) | 0;
    }
    this.lateRun = 0;
    this.store((this.playIndex + Math.floor(ahead / this.frameTicks)) & this.mask, sequenceNumber, timestamp, payload);
  }

  /** The frame due at this tick, or null (nothing due: the caller plays silence). */
  pop(): JitterFrame | null {
    if (!this.started) return null;
    const slot = this.playIndex & this.mask;
    let out: JitterFrame | null = null;
    if (this.slotFull[slot] && ((this.slotTs[slot] - this.playTs) | 0) >= 0 && ((this.slotTs[slot] - this.playTs) | 0) < this.frameTicks) {
      out = this.frame;
      out.payload = this.views[slot];
      out.timestamp = this.slotTs[slot];
      out.sequenceNumber = this.slotSeq[slot];
      this.stats.played++;
    } else if (this.warmup === 0) {
      this.stats.concealed++;
    }
    this.slotFull[slot] = 0;
    if (this.warmup > 0) this.warmup--;
    this.playIndex = (this.playIndex + 1) | 0;
    this.playTs = (this.playTs + this.frameTicks) >>> 0;
    return out;
  }

  /** Forgets the stream (SSRC change, codec change); counters stay. */
  reset(): void {
    this.started = false;
    this.slotFull.fill(0);
    this.lateRun = 0;
    this.seq.restart();
  }

  /**
   * True when in-order packets have been late for a while: a stream that jumped back, paused
   * without advancing its timestamps, or whose delay grew. A burst of late packets at one instant
   * is a network stall instead: its newest packets are in time, and they reset the count.
   */
  private persistentlyLate(): boolean {
    if (this.lateRun++ === 0) this.lateSinceIndex = this.playIndex;
    return this.lateRun >= RESYNC_AFTER_LATE && this.playIndex - this.lateSinceIndex >= RESYNC_AFTER_LATE - 1;
  }

  /** Moves the schedule back so that `timestamp` plays `delayFrames` pops from now, keeping pending frames when on the same frame grid. */
  private followLate(timestamp: number): void {
    const shift = ((this.playTs - timestamp) | 0) / this.frameTicks + this.delayFrames;
    if (!Number.isInteger(shift) || shift > this.mask) {
      this.rebase(timestamp, true);
      return;
    }
    this.stats.resyncs++;
    // The frames re-used as the near end of the ring were its far end: drop what sat there.
    for (let i = this.mask + 1 - shift; i <= this.mask; i++) this.slotFull[(this.playIndex + i) & this.mask] = 0;
    this.playIndex = (this.playIndex - shift) | 0;
    this.playTs = (timestamp - this.delayFrames * this.frameTicks) >>> 0;
    this.lateRun = 0;
  }

  /** Starts a schedule on which `timestamp` plays `delayFrames` pops from now; drops what was pending. */
  private rebase(timestamp: number, resync: boolean): void {
    if (resync) this.stats.resyncs++;
    this.started = true;
    this.slotFull.fill(0);
    this.playTs = (timestamp - this.delayFrames * this.frameTicks) >>> 0;
    this.warmup = this.delayFrames;
    this.lateRun = 0;
  }

  private store(slot: number, sequenceNumber: number, timestamp: number, payload: Uint8Array): void {
    if (this.slotFull[slot] && this.slotTs[slot] === timestamp) {
      this.stats.duplicates++;
      return;
    }
    const len = payload.length;
    let view = this.views[slot];
    if (view.length !== len) {
      const start = slot * this.maxPayloadBytes;
      view = this.views[slot] = this.storage.subarray(start, start + len);
    }
    view.set(payload);
    this.slotTs[slot] = timestamp;
    this.slotSeq[slot] = sequenceNumber;
    this.slotFull[slot] = 1;
    this.stats.pushed++;
  }
}
