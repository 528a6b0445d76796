// Reused send buffers for one socket. dgram.send() reads its buffer on a later tick (after the
// address lookup), so a buffer is reused only once its send callback has run; a burst longer
// than the ring (a clock catching up) gets one-off buffers.
import { RTP_HEADER_BYTES } from './packet.ts';

/** One buffer to fill and send: `payload` is `packet` after the RTP header; pass `done` to dgram.send. */
export interface SendSlot {
  packet: Buffer;
  payload: Uint8Array;
  done: (err: Error | null) => void;
}

/** A ring of `size` packet buffers of `packetBytes`, each free again when its send completes. */
export class SendRing {
  /** Send callbacks that reported an error. */
  errors = 0;
  /** Sends that found every buffer in flight and used a one-off buffer. */
  overflows = 0;
  private slots: SendSlot[] = [];
  private readonly busy: Uint8Array;
  private next = 0;
  private generation = 0;

  constructor(private readonly size: number, packetBytes: number) {
    this.busy = new Uint8Array(size);
    this.resize(packetBytes);
  }

  /** Largest packet a slot holds, in bytes. */
  get packetBytes(): number {
    return this.slots[0].packet.length;
  }

  /** Replaces the buffers with ones of `packetBytes` (a codec change); buffers in flight are left to finish. */
  resize(packetBytes: number): void {
    const generation = ++this.generation;
    this.slots = [];
    this.busy.fill(0);
    for (let i = 0; i < this.size; i++) {
      const packet = Buffer.alloc(packetBytes);
      this.slots.push({ packet, payload: packet.subarray(RTP_HEADER_BYTES), done: (err) => this.finished(generation, i, err) });
    }
  }

  /** The next free slot, marked busy until its `done` runs. */
  take(): SendSlot {
    const i = this.next;
    this.next = (i + 1) % this.size;
    if (!this.busy[i]) {
      this.busy[i] = 1;
      return this.slots[i];
    }
    this.overflows++;
    const packet = Buffer.alloc(this.slots[i].packet.length);
    return { packet, payload: packet.subarray(RTP_HEADER_BYTES), done: this.oneOffDone };
  }

  /** Gives back a slot that was taken but not sent. */
  giveBack(slot: SendSlot): void {
    slot.done(null);
  }

  private finished(generation: number, i: number, err: Error | null): void {
    if (err) this.errors++;
    if (generation === this.generation) this.busy[i] = 0;
  }

  private readonly oneOffDone = (err: Error | null): void => {
    if (err) this.errors++;
  };
}
