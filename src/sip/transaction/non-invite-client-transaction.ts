import type { SipMessage } from '../message/message.ts';
import type { Peer } from '../transport/peer.ts';
import { timer64T1 } from './timers.ts';
import { isReliable, TimerSlot, type TransactionContext } from './transaction-context.ts';

/** RFC 3261 §17.1.2 states. */
export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/** What the client transaction reports to its TU; exactly one of onResponse(final)/onTimeout/onTransportError ends it. */
export interface NonInviteClientEvents {
  /** Every response (provisional and the final one). */
  onResponse?(res: SipMessage): void;
  /** Timer F: no final response within 64*T1. */
  onTimeout?(): void;
  onTransportError?(err: Error): void;
  /** The transaction left the table. */
  onTerminated(): void;
}

/**
 * Non-INVITE client transaction (RFC 3261 §17.1.2), used for the BYE we send: Timer E retransmits on
 * UDP (T1 doubling to T2, T2 once a provisional came), Timer F (64*T1) gives up, Timer K absorbs
 * response retransmissions after the final one.
 */
export class NonInviteClientTransaction {
  state: NonInviteClientState = 'trying';
  private readonly timerE: TimerSlot;
  private readonly timerFK: TimerSlot;
  private intervalE: number;

  constructor(
    private readonly ctx: TransactionContext,
    readonly key: string,
    private readonly data: Buffer,
    readonly destination: Peer,
    private readonly events: NonInviteClientEvents,
  ) {
    this.timerE = new TimerSlot(ctx.clock);
    this.timerFK = new TimerSlot(ctx.clock);
    this.intervalE = ctx.timers.T1;
  }

  /** Sends the request and arms Timers E (UDP) and F. */
  start(): void {
    this.send();
    if (!isReliable(this.destination)) this.armE();
    this.timerFK.set(timer64T1(this.ctx.timers), () => {
      if (this.state === 'trying' || this.state === 'proceeding') {
        this.events.onTimeout?.();
        this.terminate();
      }
    });
  }

  /** A response matched this transaction (RFC 3261 §17.1.3). */
  receive(res: SipMessage): void {
    if (this.state === 'completed' || this.state === 'terminated') {
      this.ctx.stats.absorbed++;
      return;
    }
    if (res.status < 200) {
      this.state = 'proceeding';
      this.events.onResponse?.(res);
      return;
    }
    this.state = 'completed';
    this.timerE.clear();
    this.events.onResponse?.(res);
    this.timerFK.set(isReliable(this.destination) ? 0 : this.ctx.timers.T4, () => this.terminate()); // Timer K
  }

  private armE(): void {
    this.timerE.set(this.intervalE, () => {
      if (this.state !== 'trying' && this.state !== 'proceeding') return;
      this.ctx.stats.retransmissions++;
      this.send();
      this.intervalE = this.state === 'proceeding' ? this.ctx.timers.T2 : Math.min(2 * this.intervalE, this.ctx.timers.T2);
      this.armE();
    });
  }

  private send(): void {
    this.ctx.transport.send(this.data, this.destination, (err) => {
      if (this.state !== 'trying' && this.state !== 'proceeding') return;
      this.events.onTransportError?.(err);
      this.terminate();
    });
  }

  /** Ends the transaction now. */
  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timerE.clear();
    this.timerFK.clear();
    this.events.onTerminated();
  }
}
