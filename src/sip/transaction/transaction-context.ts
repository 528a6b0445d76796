import type { Clock, TimerHandle } from '../../lib/clock.ts';
import type { Peer } from '../transport/peer.ts';
import type { SipTimerValues } from './timers.ts';
import type { SipTransport } from '../transport/transport.ts';

/** Counters the transaction layer keeps. */
export interface TransactionStats {
  /** Our own messages sent again by a timer (Timer A/E/G, 2xx retransmission). */
  retransmissions: number;
  /** Incoming retransmissions answered from a transaction without reaching the TU. */
  absorbed: number;
}

/** What every transaction needs: time, timer values, a way to send, counters. */
export interface TransactionContext {
  readonly clock: Clock;
  readonly timers: SipTimerValues;
  readonly transport: SipTransport;
  readonly stats: TransactionStats;
}

/** One named one-shot timer slot: setting it again replaces the previous timer. */
export class TimerSlot {
  private handle: TimerHandle | undefined;

  constructor(private readonly clock: Clock) {}

  /** (Re)arms the slot. */
  set(ms: number, callback: () => void): void {
    this.clear();
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      callback();
    }, ms);
  }

  /** Disarms the slot. */
  clear(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
  }

  /** True while armed. */
  get armed(): boolean {
    return this.handle !== undefined;
  }
}

/** True when a transport guarantees delivery (TCP): Timers G/E retransmissions are off, I/J/K are 0. */
export function isReliable(peer: Peer): boolean {
  return peer.transport === 'tcp';
}
