// A SIP call whose signalling stays on the main thread while its media runs in a media worker.
// The main thread keeps the INVITE dialog (transactions, timers, retransmissions); the worker gets
// an IncomingCall that behaves like it: the requests the call receives come over as CallEvents, what
// the channel does to the call (183, 200, a final error, BYE) goes back as CallOps. Signalling only:
// a few messages per call, never one per media frame.
import type { SipMessage } from '../sip/message/message.ts';
import { Logger } from '../lib/logger.ts';
import { parseMessage } from '../sip/message/parser.ts';
import type { SipUri } from '../sip/message/uri.ts';
import type { NameAddr } from '../sip/message/name-addr.ts';
import type { TransportProtocol } from '../sip/transport/peer.ts';
import type { CallState, IncomingCall, TerminationReason } from '../sip/dialog/call.ts';

/** A new call, as the main thread hands it to a worker. */
export interface CallOffer {
  /** The main thread's key of the call (its link). */
  key: number;
  /** The INVITE as received (SipMessage.toWire). */
  invite: Uint8Array;
  offer: string | undefined;
  source: { transport: TransportProtocol; address: string; port: number };
  state: CallState;
}

/** What happened to the call on the main thread (with the dialog's state after it). */
export type CallEvent =
  | { ev: 'ack'; key: number; state: CallState; sdp: string | undefined; ack: Uint8Array }
  | { ev: 'cancel'; key: number; state: CallState }
  | { ev: 'bye'; key: number; state: CallState }
  | { ev: 'reinvite'; key: number; state: CallState; id: number; offer: string | undefined; method: 'INVITE' | 'UPDATE'; req: Uint8Array }
  | { ev: 'info'; key: number; state: CallState; contentType: string; body: string }
  | { ev: 'terminated'; key: number; state: CallState; reason: TerminationReason };

/** What the channel does to the call, for the main thread to send. */
export type CallOp =
  | { op: 'progress'; key: number; status: 180 | 183; sdp: string | undefined }
  | { op: 'answer'; key: number; sdp: string }
  | { op: 'reject'; key: number; status: number; reason: string | undefined }
  | { op: 'hangup'; key: number }
  | { op: 'offer-reply'; key: number; id: number; status: number; sdp: string | undefined };

const log = new Logger('remote-call');

const STATE_RANK: Readonly<Record<CallState, number>> = { incoming: 0, early: 1, confirmed: 2, terminated: 3 };

/** A request of the call, parsed again from its wire form (it was valid when the main thread parsed it). */
function reparse(wire: Uint8Array): SipMessage {
  // No size bound here: the main thread bounded and validated it, and toWire may have made it longer (CRLF, `: `).
  const parsed = parseMessage(Buffer.from(wire.buffer, wire.byteOffset, wire.byteLength), { maxBytes: Number.POSITIVE_INFINITY });
  if (!parsed.ok) throw new Error(`a request of the call did not parse again: ${parsed.error.message}`);
  return parsed.value;
}

/** The worker's side: an IncomingCall whose answers go to the main thread through `send`. */
export class RemoteIncomingCall implements IncomingCall {
  onAck?: (sdp: string | undefined, ack: SipMessage) => void;
  onCancel?: () => void;
  onBye?: () => void;
  onReinvite?: (offer: string | undefined, reply: (status: number, sdp?: string) => void, method: 'INVITE' | 'UPDATE', req: SipMessage) => void;
  onInfo?: (contentType: string, body: string) => void;
  onTerminated?: (reason: TerminationReason) => void;
  readonly key: number;
  readonly invite: SipMessage;
  readonly offer: string | undefined;
  readonly source: { transport: TransportProtocol; address: string; port: number };
  private current: CallState;

  constructor(offer: CallOffer, private readonly send: (op: CallOp) => void) {
    this.key = offer.key;
    this.invite = reparse(offer.invite);
    this.offer = offer.offer;
    this.source = offer.source;
    this.current = offer.state;
  }

  get callId(): string { return this.invite.callId; }
  get requestUri(): SipUri { return this.invite.requestUri!; }
  get from(): NameAddr { return this.invite.from; }
  get to(): NameAddr { return this.invite.to; }
  /** The dialog's state as far as this thread knows: what it did itself, and what the main thread reported. */
  get state(): CallState { return this.current; }

  progress(status: 180 | 183, sdp?: string): void {
    if (this.current !== 'incoming' && this.current !== 'early') return;
    this.advance('early');
    this.send({ op: 'progress', key: this.key, status, sdp });
  }

  answer(sdp: string): void {
    if (this.current !== 'incoming' && this.current !== 'early') return;
    this.advance('confirmed');
    this.send({ op: 'answer', key: this.key, sdp });
  }

  reject(status: number, reason?: string): void {
    if (!Number.isInteger(status) || status < 300 || status > 699) throw new RangeError(`reject status must be 300-699, got ${status}`);
    if (this.current !== 'incoming' && this.current !== 'early') return;
    this.advance('terminated');
    this.send({ op: 'reject', key: this.key, status, reason });
  }

  hangup(): void {
    if (this.current === 'terminated') return;
    this.advance('terminated');
    this.send({ op: 'hangup', key: this.key });
  }

  /**
   * A CallEvent of this call from the main thread. A handler that throws is logged, as ServerCall's
   * owner errors are, and never takes the worker (and its other calls) down; a failed offer gets 500.
   */
  handle(e: CallEvent): void {
    try {
      this.dispatch(e);
    } catch (err) {
      log.error(`call ${this.key} (${e.ev}): ${(err as Error).stack ?? String(err)}`);
      if (e.ev === 'reinvite') this.send({ op: 'offer-reply', key: this.key, id: e.id, status: 500, sdp: undefined });
    }
  }

  private dispatch(e: CallEvent): void {
    const ended = this.current === 'terminated';
    this.advance(e.state);
    switch (e.ev) {
      case 'ack':
        if (!ended) this.onAck?.(e.sdp, reparse(e.ack));
        break;
      case 'cancel':
        if (!ended) this.onCancel?.();
        break;
      case 'bye':
        if (!ended) this.onBye?.();
        break;
      case 'reinvite': {
        const reply = (status: number, sdp?: string): void => this.send({ op: 'offer-reply', key: this.key, id: e.id, status, sdp });
        if (ended || !this.onReinvite) reply(ended ? 481 : 488);
        else this.onReinvite(e.offer, reply, e.method, reparse(e.req));
        break;
      }
      case 'info':
        if (!ended) this.onInfo?.(e.contentType, e.body);
        break;
      case 'terminated':
        this.onTerminated?.(e.reason);
        break;
    }
  }

  /** States only move forward: a report sent before the main thread saw our answer cannot take it back. */
  private advance(state: CallState): void {
    if (STATE_RANK[state] > STATE_RANK[this.current]) this.current = state;
  }
}

/**
 * The main thread's side: forwards what happens to `call` as CallEvents and applies the worker's
 * CallOps to it. Returns the function that applies a CallOp.
 */
export function linkCall(key: number, call: IncomingCall, send: (e: CallEvent) => void): (op: CallOp) => void {
  const replies = new Map<number, (status: number, sdp?: string) => void>();
  let nextReply = 0;
  call.onAck = (sdp, ack) => send({ ev: 'ack', key, state: call.state, sdp, ack: ack.toWire() });
  call.onCancel = () => send({ ev: 'cancel', key, state: call.state });
  call.onBye = () => send({ ev: 'bye', key, state: call.state });
  call.onReinvite = (offer, reply, method, req) => {
    const id = ++nextReply;
    replies.set(id, reply);
    send({ ev: 'reinvite', key, state: call.state, id, offer, method, req: req.toWire() });
  };
  call.onInfo = (contentType, body) => send({ ev: 'info', key, state: call.state, contentType, body });
  call.onTerminated = (reason) => send({ ev: 'terminated', key, state: call.state, reason });
  return (op) => {
    switch (op.op) {
      case 'progress': call.progress(op.status, op.sdp); break;
      case 'answer': call.answer(op.sdp); break;
      case 'reject': call.reject(op.status, op.reason); break;
      case 'hangup': call.hangup(); break;
      case 'offer-reply': {
        const reply = replies.get(op.id);
        replies.delete(op.id);
        reply?.(op.status, op.sdp);
        break;
      }
    }
  };
}

/** The CallOffer of a new call. */
export function callOffer(key: number, call: IncomingCall): CallOffer {
  return { key, invite: call.invite.toWire(), offer: call.offer, source: { ...call.source }, state: call.state };
}
