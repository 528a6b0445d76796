import type { SipMessage } from '../message/message.ts';
import type { Peer } from '../transport/peer.ts';
import { timer64T1 } from './timers.ts';
import { isReliable, TimerSlot, type TransactionContext } from './transaction-context.ts';

/** RFC 3261 §17.2.1 states, plus RFC 6026 "Accepted". */
export type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

/** What the INVITE server transaction tells its owner. */
export interface InviteServerEvents {
  /** The transaction is gone (remove it from the table). */
  onTerminated(): void;
  /** Timer H fired: no ACK for our non-2xx final response. */
  onAckTimeout?(): void;
  /** The transport failed to send a response. */
  onTransportError?(err: Error): void;
}

/**
 * INVITE server transaction (RFC 3261 §17.2.1 as updated by RFC 6026 §7.1): replays the last response to
 * INVITE retransmissions, retransmits a non-2xx final with Timer G until ACK (Timer H bounds it),
 * absorbs the ACK (Timer I), and after a 2xx stays "Accepted" for Timer L absorbing INVITE retransmissions.
 */
export class InviteServerTransaction {
  state: InviteServerState = 'proceeding';
  /** Set by the TU: called when a CANCEL matches this transaction; returns nothing. */
  cancelHandler: (() => void) | undefined;
  /** The To tag of our responses (also used in the 200 to a CANCEL, RFC 3261 §9.2). */
  toTag: string | undefined;
  private lastResponse: Buffer | undefined;
  private lastStatus = 0;
  private readonly timerG: TimerSlot;
  private readonly timerHLI: TimerSlot;
  private intervalG: number;

  constructor(
    private readonly ctx: TransactionContext,
    readonly key: string,
    readonly request: SipMessage,
    readonly destination: Peer,
    private readonly events: InviteServerEvents,
  ) {
    this.timerG = new TimerSlot(ctx.clock);
    this.timerHLI = new TimerSlot(ctx.clock);
    this.intervalG = ctx.timers.T1;
  }

  /** Status of the last response sent (0 before any). */
  get status(): number {
    return this.lastStatus;
  }

  /** True until a final response has been sent. */
  get pending(): boolean {
    return this.state === 'proceeding';
  }

  /** Sends a response from the TU; returns false when the state does not allow it. */
  respond(status: number, data: Buffer): boolean {
    if (this.state === 'accepted' && status >= 200 && status < 300) {
      this.send(data); // RFC 6026: 2xx retransmissions from the TU pass through
      return true;
    }
    if (this.state !== 'proceeding') return false;
    this.lastResponse = data;
    this.lastStatus = status;
    this.send(data);
    if (status >= 200 && status < 300) {
      this.state = 'accepted';
      this.timerHLI.set(timer64T1(this.ctx.timers), () => this.terminate()); // Timer L
    } else if (status >= 300) {
      this.state = 'completed';
      if (!isReliable(this.destination)) this.armG();
      this.timerHLI.set(timer64T1(this.ctx.timers), () => this.ackTimeout()); // Timer H
    }
    return true;
  }

  /** A retransmitted INVITE or an ACK matched this transaction; returns true when the ACK must go to the TU. */
  receive(req: SipMessage): boolean {
    if (req.method === 'ACK') return this.receiveAck();
    this.ctx.stats.absorbed++;
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse !== undefined) {
      this.send(this.lastResponse);
    }
    return false;
  }

  private receiveAck(): boolean {
    if (this.state === 'accepted') return true; // an ACK for a 2xx reusing the INVITE branch
    if (this.state === 'completed') {
      this.state = 'confirmed';
      this.timerG.clear();
      const timerI = isReliable(this.destination) ? 0 : this.ctx.timers.T4;
      this.timerHLI.set(timerI, () => this.terminate());
    } else {
      this.ctx.stats.absorbed++;
    }
    return false;
  }

  private armG(): void {
    this.timerG.set(this.intervalG, () => {
      if (this.state !== 'completed' || this.lastResponse === undefined) return;
      this.ctx.stats.retransmissions++;
      this.send(this.lastResponse);
      this.intervalG = Math.min(2 * this.intervalG, this.ctx.timers.T2);
      this.armG();
    });
  }

  private ackTimeout(): void {
    this.events.onAckTimeout?.();
    this.terminate();
  }

  private send(data: Buffer): void {
    this.ctx.transport.send(data, this.destination, (err) => {
      if (this.state === 'terminated') return;
      this.events.onTransportError?.(err);
      this.terminate();
    });
  }

  /** Ends the transaction now (also used when the UA closes). */
  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timerG.clear();
    this.timerHLI.clear();
    this.events.onTerminated();
  }
}
