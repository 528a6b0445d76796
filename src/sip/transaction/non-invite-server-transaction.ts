import type { SipMessage } from '../message/message.ts';
import type { Peer } from '../transport/peer.ts';
import { timer64T1 } from './timers.ts';
import { isReliable, TimerSlot, type TransactionContext } from './transaction-context.ts';

/** RFC 3261 §17.2.2 states. */
export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/**
 * Non-INVITE server transaction (RFC 3261 §17.2.2): absorbs request retransmissions (replaying the
 * last response once there is one) and lingers in Completed for Timer J (64*T1 on UDP, 0 on TCP).
 */
export class NonInviteServerTransaction {
  state: NonInviteServerState = 'trying';
  private lastResponse: Buffer | undefined;
  private readonly timerJ: TimerSlot;

  constructor(
    private readonly ctx: TransactionContext,
    readonly key: string,
    readonly request: SipMessage,
    readonly destination: Peer,
    private readonly onTerminated: () => void,
  ) {
    this.timerJ = new TimerSlot(ctx.clock);
  }

  /** True until a final response has been sent. */
  get pending(): boolean {
    return this.state === 'trying' || this.state === 'proceeding';
  }

  /** Sends a response from the TU; returns false once a final response was sent. */
  respond(status: number, data: Buffer): boolean {
    if (!this.pending) return false;
    this.lastResponse = data;
    this.ctx.transport.send(data, this.destination, () => this.terminate());
    if (status < 200) {
      this.state = 'proceeding';
    } else {
      this.state = 'completed';
      this.timerJ.set(isReliable(this.destination) ? 0 : timer64T1(this.ctx.timers), () => this.terminate());
    }
    return true;
  }

  /** A retransmission of the request arrived. */
  receive(_req: SipMessage): void {
    this.ctx.stats.absorbed++;
    if (this.state !== 'trying' && this.lastResponse !== undefined) {
      this.ctx.transport.send(this.lastResponse, this.destination);
    }
  }

  /** Ends the transaction now. */
  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timerJ.clear();
    this.onTerminated();
  }
}
