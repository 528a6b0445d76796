import type { Peer } from '../transport/peer.ts';
import { timer64T1 } from './timers.ts';
import { TimerSlot, type TransactionContext } from './transaction-context.ts';

/**
 * The UAS core's 2xx retransmission (RFC 3261 §13.3.1.4): resend the 2xx at T1, doubling up to T2,
 * until the ACK arrives; give up after 64*T1 and report (the caller then sends BYE).
 */
export class TwoXxRetransmitter {
  /** CSeq number of the INVITE this 2xx answers (the ACK carries the same). */
  readonly seq: number;
  private readonly retransmit: TimerSlot;
  private readonly deadline: TimerSlot;
  private interval: number;

  constructor(
    private readonly ctx: TransactionContext,
    seq: number,
    private readonly data: Buffer,
    private readonly destination: Peer,
    onTimeout: () => void,
  ) {
    this.seq = seq;
    this.retransmit = new TimerSlot(ctx.clock);
    this.deadline = new TimerSlot(ctx.clock);
    this.interval = ctx.timers.T1;
    this.arm();
    this.deadline.set(timer64T1(ctx.timers), () => {
      this.stop();
      onTimeout();
    });
  }

  private arm(): void {
    this.retransmit.set(this.interval, () => {
      this.ctx.stats.retransmissions++;
      this.ctx.transport.send(this.data, this.destination);
      this.interval = Math.min(2 * this.interval, this.ctx.timers.T2);
      this.arm();
    });
  }

  /** Stops retransmitting (ACK received, BYE received, or shutdown). */
  stop(): void {
    this.retransmit.clear();
    this.deadline.clear();
  }
}
