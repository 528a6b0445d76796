import type { Dialog } from './dialog.ts';
import type { InviteServerTransaction } from '../transaction/invite-server-transaction.ts';
import { buildResponse, type HeaderList } from '../message/message-builder.ts';
import type { SipMessage } from '../message/message.ts';
import type { NameAddr } from '../message/name-addr.ts';
import type { NonInviteServerTransaction } from '../transaction/non-invite-server-transaction.ts';
import type { Peer, TransportProtocol } from '../transport/peer.ts';
import { TimerSlot, type TransactionContext } from '../transaction/transaction-context.ts';
import { TwoXxRetransmitter } from '../transaction/two-xx-retransmitter.ts';
import type { SipUri } from '../message/uri.ts';

/** Where a call is: INVITE received, 18x sent, 2xx sent, or over. */
export type CallState = 'incoming' | 'early' | 'confirmed' | 'terminated';

/** Why a call ended (passed once to onTerminated). */
export type TerminationReason = 'bye' | 'cancel' | 'ack-timeout' | 'local' | 'transport-error' | 'timeout';

/** Methods this UA accepts (Allow header, RFC 3261 §20.5). */
export const ALLOWED_METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO', 'UPDATE'] as const;

/** An incoming SIP call as its owner (the channel layer) sees it. */
export interface IncomingCall {
  readonly callId: string;
  /** The INVITE's Request-URI, parsed. */
  readonly requestUri: SipUri;
  readonly from: NameAddr;
  readonly to: NameAddr;
  /** Where the INVITE came from (TCP: the peer end of its connection). */
  readonly source: { transport: TransportProtocol; address: string; port: number };
  /** The initial INVITE (getHeader/getHeaders reach every header, X- ones included). */
  readonly invite: SipMessage;
  /** SDP body of the INVITE, undefined when it had none (the offer then goes in our 200, the answer in the ACK). */
  readonly offer: string | undefined;
  readonly state: CallState;
  /** Sends 180 or 183 (183 with SDP = early media); ignored after a final response. 100rel is not supported. */
  progress(status: 180 | 183, sdp?: string): void;
  /** 200 OK with SDP, retransmitted (T1 doubling to T2) until ACK; no ACK within 64*T1 → BYE + onTerminated('ack-timeout'). */
  answer(sdp: string): void;
  /** Final non-2xx response (300-699, e.g. 486, 488, 480, 603); ignored after a final response. */
  reject(status: number, reason?: string): void;
  /** Ends the call: BYE once confirmed (after the ACK if it is still awaited), 480 before answer; idempotent. */
  hangup(): void;
  /** ACK for our 2xx (the request itself: its tags, Via, CSeq); carries the SDP answer when the INVITE had no offer. */
  onAck?: (sdp: string | undefined, ack: SipMessage) => void;
  /** CANCEL before answer; 200 (CANCEL) and 487 (INVITE) are already sent. */
  onCancel?: () => void;
  /** Remote BYE, already answered 200. */
  onBye?: () => void;
  /**
   * re-INVITE or UPDATE in the dialog; answer with reply(200, sdp) or reply(488) etc. (491/500 glare
   * is handled here). A re-INVITE without an offer asks for ours: the answer then comes in onAck.
   */
  onReinvite?: (offer: string | undefined, reply: (status: number, sdp?: string) => void, method: 'INVITE' | 'UPDATE', req: SipMessage) => void;
  /** INFO (e.g. application/dtmf-relay); already answered 200. */
  onInfo?: (contentType: string, body: string) => void;
  /** Called once, whatever ended the call. */
  onTerminated?: (reason: TerminationReason) => void;
}

/** What a ServerCall needs from the user agent. */
export interface CallHost {
  readonly ctx: TransactionContext;
  /** Server header value. */
  readonly serverName: string;
  /** Longest time an INVITE may stay unanswered before 408 + onTerminated('timeout'), ms. */
  readonly inviteTimeoutMs: number;
  /** Contact header value for our responses on this call. */
  contactFor(call: ServerCall): string;
  /** Sends an in-dialog request (BYE) through a client transaction. */
  sendInDialog(dialog: Dialog, method: string): void;
  /** The ACK for the 2xx of the initial INVITE came: the call is confirmed (no longer pending admission). */
  confirmed(call: ServerCall): void;
  /** The call needs no more messages: drop it from the dialog table. */
  forget(call: ServerCall): void;
  /** Reports an exception thrown by an owner callback. */
  ownerError(what: string, err: unknown): void;
}

type OfferTx = { kind: 'invite'; tx: InviteServerTransaction; req: SipMessage } | { kind: 'update'; tx: NonInviteServerTransaction; req: SipMessage };

/** The UAS side of one INVITE dialog usage (RFC 3261 §13.3, §14, §15; RFC 3311 UPDATE; RFC 6086 INFO). */
export class ServerCall implements IncomingCall {
  onAck?: (sdp: string | undefined, ack: SipMessage) => void;
  onCancel?: () => void;
  onBye?: () => void;
  onReinvite?: (offer: string | undefined, reply: (status: number, sdp?: string) => void, method: 'INVITE' | 'UPDATE', req: SipMessage) => void;
  onInfo?: (contentType: string, body: string) => void;
  onTerminated?: (reason: TerminationReason) => void;

  readonly offer: string | undefined;
  readonly source: Peer;
  private currentState: CallState = 'incoming';
  private ended = false;
  private released = false;
  private twoXx: TwoXxRetransmitter | undefined;
  /** Our 2xx carried an offer; the answer is expected in the ACK. */
  private localOfferPending = false;
  /** The peer made an offer we have not answered yet. */
  private remoteOfferPending: boolean;
  private pendingOffer: OfferTx | undefined;
  private byeOnAck = false;
  private readonly inviteTimer: TimerSlot;

  constructor(
    private readonly host: CallHost,
    readonly invite: SipMessage,
    readonly inviteTx: InviteServerTransaction,
    readonly dialog: Dialog,
  ) {
    this.offer = sdpOf(invite);
    this.remoteOfferPending = this.offer !== undefined;
    this.source = { ...dialog.flow };
    this.inviteTimer = new TimerSlot(host.ctx.clock);
    this.inviteTimer.set(host.inviteTimeoutMs, () => this.inviteTimedOut());
    inviteTx.cancelHandler = () => this.cancelled();
    inviteTx.toTag = dialog.localTag;
  }

  get callId(): string { return this.invite.callId; }
  get requestUri(): SipUri { return this.invite.requestUri!; }
  get from(): NameAddr { return this.invite.from; }
  get to(): NameAddr { return this.invite.to; }
  get state(): CallState { return this.currentState; }

  progress(status: 180 | 183, sdp?: string): void {
    if (this.ended || !this.inviteTx.pending) return;
    // Without 100rel an offer may not go in a provisional (RFC 3261 §13.2.1): SDP only answers an INVITE offer.
    const body = sdp !== undefined && this.offer !== undefined ? sdp : undefined;
    if (body !== undefined) this.remoteOfferPending = false;
    this.respondInvite(status, body);
    this.currentState = 'early';
  }

  answer(sdp: string): void {
    if (this.ended || !this.inviteTx.pending) return;
    this.inviteTimer.clear();
    this.localOfferPending = this.offer === undefined;
    this.remoteOfferPending = false;
    const data = this.respondInvite(200, sdp);
    this.currentState = 'confirmed';
    this.startTwoXx(this.invite.cseq.seq, data, this.inviteTx.destination);
  }

  reject(status: number, reason?: string): void {
    if (!Number.isInteger(status) || status < 300 || status > 699) throw new RangeError(`reject status must be 300-699, got ${status}`);
    if (this.ended || !this.inviteTx.pending) return;
    this.inviteTimer.clear();
    this.respondInvite(status, undefined, reason);
    this.end('local');
    this.release();
  }

  hangup(): void {
    if (this.ended) return;
    if (this.inviteTx.pending) {
      this.reject(480);
      return;
    }
    this.answerPendingOffer(487);
    this.end('local');
    if (this.twoXx !== undefined) {
      this.byeOnAck = true; // §15: no BYE before the ACK (or its timeout)
      return;
    }
    this.host.sendInDialog(this.dialog, 'BYE');
    this.release();
  }

  /** An ACK for a 2xx of this dialog. */
  handleAck(ack: SipMessage): void {
    if (this.twoXx === undefined || ack.cseq.seq !== this.twoXx.seq) return; // late or duplicate ACK
    this.twoXx.stop();
    this.twoXx = undefined;
    if (ack.cseq.seq === this.invite.cseq.seq) this.host.confirmed(this);
    const answer = this.localOfferPending ? sdpOf(ack) : undefined;
    this.localOfferPending = false;
    if (this.byeOnAck) {
      this.host.sendInDialog(this.dialog, 'BYE');
      this.release();
      return;
    }
    if (!this.ended) this.emit('onAck', () => this.onAck?.(answer, ack));
  }

  /** A BYE of this dialog (already checked for CSeq order); answers 200 and ends the call. */
  handleBye(req: SipMessage, tx: NonInviteServerTransaction): void {
    tx.respond(200, buildResponse(req, 200, { server: this.host.serverName }));
    if (this.inviteTx.pending) this.respondInvite(487);
    this.twoXx?.stop();
    this.twoXx = undefined;
    this.answerPendingOffer(487);
    if (!this.ended) {
      this.end('bye', () => this.onBye?.());
    }
    this.release();
  }

  /** A re-INVITE (RFC 3261 §14.2): 500+Retry-After or 491 on overlap, else the owner decides. */
  handleReinvite(req: SipMessage, tx: InviteServerTransaction): void {
    const refuse = this.overlapStatus(req);
    if (refuse !== undefined) {
      tx.respond(refuse, this.simpleResponse(req, refuse));
      return;
    }
    this.dialog.refreshTarget(req);
    tx.toTag = this.dialog.localTag;
    tx.cancelHandler = () => {
      if (this.pendingOffer?.tx === tx) this.answerPendingOffer(487); // CANCEL of a re-INVITE (§9.2)
    };
    this.offerToOwner({ kind: 'invite', tx, req });
  }

  /** An UPDATE (RFC 3311 §5.2): without SDP just 200; with an offer the same overlap rules, then the owner. */
  handleUpdate(req: SipMessage, tx: NonInviteServerTransaction): void {
    this.dialog.refreshTarget(req);
    if (sdpOf(req) === undefined) {
      tx.respond(200, this.respondTo(req, 200));
      return;
    }
    const refuse = this.overlapStatus(req);
    if (refuse !== undefined) {
      tx.respond(refuse, this.simpleResponse(req, refuse));
      return;
    }
    this.offerToOwner({ kind: 'update', tx, req });
  }

  /** An INFO: 200, then onInfo. */
  handleInfo(req: SipMessage, tx: NonInviteServerTransaction): void {
    tx.respond(200, buildResponse(req, 200, { server: this.host.serverName }));
    if (!this.ended) this.emit('onInfo', () => this.onInfo?.(req.contentType ?? '', req.bodyText));
  }

  /** The UA is closing: a BYE still waiting for the ACK (hangup before ACK) goes out now. */
  flushDeferredBye(): void {
    if (!this.byeOnAck || this.twoXx === undefined) return;
    this.twoXx.stop();
    this.twoXx = undefined;
    this.host.sendInDialog(this.dialog, 'BYE');
    this.release();
  }

  /** The UA is closing: stop every timer, send nothing. */
  shutdown(): void {
    this.inviteTimer.clear();
    this.twoXx?.stop();
    this.twoXx = undefined;
    this.released = true;
  }

  /** A transport failure on this call's INVITE transaction. */
  transportFailed(): void {
    this.twoXx?.stop();
    this.twoXx = undefined;
    this.end('transport-error');
    this.release();
  }

  private cancelled(): void {
    if (this.ended || !this.inviteTx.pending) return;
    this.inviteTimer.clear();
    this.respondInvite(487);
    this.end('cancel', () => this.onCancel?.());
    this.release();
  }

  private inviteTimedOut(): void {
    if (this.ended || !this.inviteTx.pending) return;
    this.respondInvite(408);
    this.end('timeout');
    this.release();
  }

  private ackTimedOut(): void {
    this.twoXx = undefined;
    this.host.sendInDialog(this.dialog, 'BYE');
    this.end('ack-timeout');
    this.release();
  }

  private startTwoXx(seq: number, data: Buffer, destination: Peer): void {
    this.twoXx?.stop();
    this.twoXx = new TwoXxRetransmitter(this.host.ctx, seq, data, destination, () => this.ackTimedOut());
  }

  private overlapStatus(req: SipMessage): number | undefined {
    if (this.ended) return 481;
    const hasOffer = sdpOf(req) !== undefined;
    if (this.localOfferPending && (hasOffer || req.method === 'INVITE')) return 491; // glare with our offer
    if (this.inviteTx.pending && req.method === 'INVITE') return 500; // §14.2: first INVITE not answered yet
    if (this.pendingOffer !== undefined || (this.remoteOfferPending && hasOffer)) return 500; // RFC 3311 §5.2
    return undefined;
  }

  private offerToOwner(pending: OfferTx): void {
    const offer = sdpOf(pending.req);
    this.pendingOffer = pending;
    if (offer !== undefined) this.remoteOfferPending = true;
    let replied = false;
    const reply = (status: number, sdp?: string): void => {
      if (replied || this.pendingOffer !== pending) return;
      replied = true;
      this.replyToOffer(pending, status, sdp);
    };
    if (this.onReinvite === undefined) {
      reply(488);
      return;
    }
    this.emit('onReinvite', () => this.onReinvite?.(offer, reply, pending.kind === 'invite' ? 'INVITE' : 'UPDATE', pending.req));
  }

  private replyToOffer(pending: OfferTx, status: number, sdp: string | undefined): void {
    this.pendingOffer = undefined;
    const offer = sdpOf(pending.req);
    if (offer !== undefined) this.remoteOfferPending = false;
    const data = this.respondTo(pending.req, status, sdp);
    if (pending.kind === 'update') {
      pending.tx.respond(status, data);
      return;
    }
    pending.tx.respond(status, data);
    if (status >= 200 && status < 300) {
      this.localOfferPending = offer === undefined && sdp !== undefined;
      this.startTwoXx(pending.req.cseq.seq, data, pending.tx.destination);
    }
  }

  private answerPendingOffer(status: number): void {
    const pending = this.pendingOffer;
    if (pending === undefined) return;
    this.pendingOffer = undefined;
    pending.tx.respond(status, this.simpleResponse(pending.req, status));
  }

  /** Sends a response to the initial INVITE through its transaction; returns the bytes. */
  private respondInvite(status: number, sdp?: string, reason?: string): Buffer {
    const data = this.respondTo(this.invite, status, sdp, reason);
    this.inviteTx.respond(status, data);
    return data;
  }

  /** A response on this dialog: our To tag; Contact, Record-Route and Allow on 1xx/2xx to INVITE. */
  private respondTo(req: SipMessage, status: number, sdp?: string, reason?: string): Buffer {
    const headers: HeaderList = [];
    const dialogForming = req.method === 'INVITE' && status > 100 && status < 300;
    if (dialogForming || (req.method === 'UPDATE' && status < 300)) headers.push(['Contact', this.host.contactFor(this)]);
    if (dialogForming && req === this.invite) {
      for (const rr of req.getHeaders('record-route')) headers.push(['Record-Route', rr]);
    }
    if (status >= 200 && status < 300) headers.push(['Allow', ALLOWED_METHODS.join(', ')]);
    return buildResponse(req, status, {
      toTag: status === 100 ? undefined : this.dialog.localTag, reason, headers, body: sdp, server: this.host.serverName,
    });
  }

  private simpleResponse(req: SipMessage, status: number): Buffer {
    const headers: HeaderList = status === 500 ? [['Retry-After', String(Math.floor(Math.random() * 11))]] : [];
    return buildResponse(req, status, { toTag: this.dialog.localTag, headers, server: this.host.serverName });
  }

  private end(reason: TerminationReason, before?: () => void): void {
    if (this.ended) return;
    this.ended = true;
    this.currentState = 'terminated';
    this.inviteTimer.clear();
    if (before) this.emit(reason, before);
    this.emit('onTerminated', () => this.onTerminated?.(reason));
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.host.forget(this);
  }

  private emit(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.host.ownerError(what, err);
    }
  }
}

/** The SDP body of a message, or undefined when it has none (or another Content-Type). */
export function sdpOf(msg: SipMessage): string | undefined {
  if (msg.body.length === 0) return undefined;
  const type = msg.contentType;
  return type === undefined || type === 'application/sdp' ? msg.bodyText : undefined;
}
