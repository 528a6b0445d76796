import { Logger } from '../../lib/logger.ts';
import { ServerCall, type CallHost, type IncomingCall } from '../dialog/call.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { Dialog } from '../dialog/dialog.ts';
import { newTag, stableTag } from '../message/ids.ts';
import { Admission, type AdmissionLimit, type AdmissionLimits, type Refusal } from './admission.ts';
import { BurstLog } from '../transport/burst-log.ts';
import { InviteServerTransaction } from '../transaction/invite-server-transaction.ts';
import { LogLimiter } from './log-limiter.ts';
import { buildResponse, type HeaderList } from '../message/message-builder.ts';
import { replyToMalformed } from './malformed-reply.ts';
import { CountingTransport } from '../transport/counting-transport.ts';
import type { SipMessage } from '../message/message.ts';
import { tagOf } from '../message/name-addr.ts';
import { nextHopPeer, resolveNextHop } from '../transport/next-hop.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, parseMessage, type ParseFailure } from '../message/parser.ts';
import { formatPeer, type Peer } from '../transport/peer.ts';
import { checkRequest, optionsHeaders } from './request-checks.ts';
import { SocketTransport } from '../transport/socket-transport.ts';
import { resolveTimers, type SipTimerValues } from '../transaction/timers.ts';
import type { TransactionContext } from '../transaction/transaction-context.ts';
import { TransactionLayer, type ServerTransaction } from '../transaction/transaction-layer.ts';
import type { SipTransport, TransportStats } from '../transport/transport.ts';
import { uriHost } from '../message/uri.ts';
import { responseDestination, stampVia } from '../transport/via-routing.ts';

/** Settings of a SipUserAgent. */
export interface SipUserAgentOptions {
  /** UDP and TCP on the same host:port (port 0 = ephemeral: UDP binds first, TCP takes its number). */
  listen: { host: string; port: number };
  /** Host used in Contact and Via (default listen.host). */
  advertisedAddress?: string;
  /** Server/User-Agent header (default 'audio-stream'). */
  userAgent?: string;
  /** Message size bound in bytes (default 64 KiB); bigger datagrams are dropped, bigger TCP messages close the connection. */
  maxMessageBytes?: number;
  /** RFC 3261 T1/T2/T4 in ms (defaults 500/4000/5000; tests shrink them). */
  timers?: Partial<SipTimerValues>;
  /** TCP connections no call uses are closed after this many ms without a complete message (default 300000). */
  tcpIdleTimeoutMs?: number;
  /**
   * SIP over TCP bounds (config sip.tcp): accepted connections in total and per address (over them a
   * new one is closed at once; default unbounded), and the deadline of a started message's header
   * block, then of its body, ms (default 5000).
   */
  tcp?: { maxConnections?: number; maxConnectionsPerSource?: number; headerTimeoutMs?: number };
  /** Limits on new calls (config sip.maxSessions...); over one, an INVITE is answered 503 with Retry-After. Default: none. */
  admission?: AdmissionLimits;
  /** An INVITE neither answered nor rejected after this many ms gets 408 and onTerminated('timeout') (default 180000, Timer C). */
  inviteTimeoutMs?: number;
  /** close() waits up to this many ms (real time) for the BYEs already sent to be answered (default 2000). */
  closeGraceMs?: number;
}

/** Test seams: a clock (FakeClock) and a transport (MemoryTransport) instead of real time and sockets. */
export interface SipUserAgentDeps {
  clock?: Clock;
  transport?: SipTransport;
}

/** A snapshot of the UA's counters. */
export interface SipUserAgentStats {
  /** Datagrams and framed stream messages received. */
  received: number;
  /** Messages refused by the parser (answered 400/505 when possible, else dropped). */
  malformed: number;
  /** Datagrams over maxMessageBytes (dropped). */
  oversize: number;
  /** Messages sent (including retransmissions). */
  sent: number;
  /** Timer-driven retransmissions of our messages. */
  retransmissions: number;
  /** Incoming retransmissions absorbed by transactions. */
  absorbed: number;
  /** Well-formed messages ignored (stray ACKs and responses). */
  dropped: number;
  /** TCP streams closed for framing errors or size. */
  framingErrors: number;
  /** Send failures. */
  transportErrors: number;
  /** New INVITEs answered 503 by admission (by limit: `refusedBy`). */
  refused: number;
  /** New TCP connections closed at once for being over sip.tcp.maxConnections or maxConnectionsPerSource. */
  tcpConnectionsRefused: number;
  /** TCP connections closed because a message's header block (or body) took longer than sip.tcp.headerTimeoutMs. */
  tcpHeaderTimeouts: number;
  /** TCP connections closed idle. */
  tcpIdleClosed: number;
  /** Calls the UA still tracks. */
  calls: number;
  /** Live server + client transactions. */
  transactions: number;
}

const log = new Logger('sip');

/**
 * A SIP user agent server for a media server (RFC 3261 UAS core over UDP and TCP, RFC 3581 rport,
 * RFC 6026 INVITE transactions): new INVITEs go to `onInvite`; everything else (retransmissions,
 * CANCEL, ACK, BYE, re-INVITE, UPDATE, INFO, OPTIONS, errors) is handled here or on the call.
 */
export class SipUserAgent {
  /** Set by the owner: called once per new INVITE. The default rejects with 480. */
  onInvite: (call: IncomingCall) => void = (call) => call.reject(480);

  private readonly options: SipUserAgentOptions;
  private readonly clock: Clock;
  private readonly transport: CountingTransport;
  private readonly transportStats: TransportStats = {
    received: 0, sent: 0, framingErrors: 0, transportErrors: 0, connectionsRefused: 0, headerTimeouts: 0, idleClosed: 0,
  };
  private readonly refused: Record<AdmissionLimit, number> = {
    maxSessions: 0, sessionsPerSecond: 0, invitesPerSourcePerSecond: 0, maxPendingPerSource: 0,
  };
  private readonly admission: Admission | undefined;
  private readonly socketTransport: SocketTransport | undefined;
  private readonly admissionLog: BurstLog;
  /** Admitted calls not yet confirmed, with the source address admission counts them against. */
  private readonly unconfirmed = new Map<ServerCall, string>();
  private readonly counters = { received: 0, malformed: 0, oversize: 0, sent: 0, dropped: 0 };
  private readonly ctx: TransactionContext;
  private readonly layer: TransactionLayer;
  private readonly calls = new Map<string, ServerCall>();
  private readonly invitesInProgress = new Map<string, ServerCall>();
  private readonly malformedLog: LogLimiter;
  private readonly host: CallHost;
  private bound: { host: string; port: number } | undefined;
  private closing: Promise<void> | undefined;
  private closed = false;
  private pendingLookups = 0;

  constructor(options: SipUserAgentOptions, deps: SipUserAgentDeps = {}) {
    this.options = options;
    this.clock = deps.clock ?? systemClock;
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.socketTransport = deps.transport === undefined ? new SocketTransport({
      host: options.listen.host, port: options.listen.port, maxMessageBytes, tcpIdleTimeoutMs: options.tcpIdleTimeoutMs,
      tcpHeaderTimeoutMs: options.tcp?.headerTimeoutMs,
      tcpMaxConnections: options.tcp?.maxConnections,
      tcpMaxConnectionsPerSource: options.tcp?.maxConnectionsPerSource,
    }, this.transportStats, log) : undefined;
    const inner = deps.transport ?? this.socketTransport!;
    this.transport = new CountingTransport(inner, this.counters);
    this.transport.onPacket = (data, source) => this.onPacket(data, source);
    this.ctx = { clock: this.clock, timers: resolveTimers(options.timers), transport: this.transport, stats: { retransmissions: 0, absorbed: 0 } };
    this.layer = new TransactionLayer(this.ctx);
    this.malformedLog = new LogLimiter(log, () => this.clock.now());
    this.admission = options.admission && new Admission(options.admission, () => this.clock.now());
    this.admissionLog = new BurstLog(log, this.clock, 'new calls');
    this.host = this.createCallHost();
  }

  /** The bound address (after start()). */
  get address(): { host: string; port: number } {
    if (this.bound === undefined) throw new Error('SipUserAgent is not started');
    return { ...this.bound };
  }

  /** Counters (a fresh snapshot each time). */
  get stats(): SipUserAgentStats {
    return {
      ...this.counters,
      retransmissions: this.ctx.stats.retransmissions,
      absorbed: this.ctx.stats.absorbed,
      framingErrors: this.transportStats.framingErrors,
      transportErrors: this.transportStats.transportErrors,
      refused: Object.values(this.refused).reduce((a, b) => a + b, 0),
      tcpConnectionsRefused: this.transportStats.connectionsRefused,
      tcpHeaderTimeouts: this.transportStats.headerTimeouts,
      tcpIdleClosed: this.transportStats.idleClosed,
      calls: this.calls.size,
      transactions: this.layer.serverCount + this.layer.clientCount,
    };
  }

  /** New INVITEs answered 503 by admission, by the limit (its config key under `sip`) that refused them (a fresh snapshot). */
  get refusedBy(): Record<AdmissionLimit, number> {
    return { ...this.refused };
  }

  /** Open SIP TCP connections (0 on a transport without TCP). */
  get tcpConnections(): number {
    return this.socketTransport?.tcpConnections ?? 0;
  }

  /** Binds UDP then TCP on the same port; rejects with a clear error (code EADDRINUSE...). */
  async start(): Promise<void> {
    if (this.bound !== undefined) return;
    this.bound = await this.transport.start();
    log.info(`SIP listening on udp+tcp ${uriHost(this.bound.host)}:${this.bound.port}`);
  }

  /**
   * Stops listening and forgets calls and transactions; sends no BYE of its own (the owner hangs up
   * first). BYEs already sent get up to `closeGraceMs` to be answered before the sockets close. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const call of [...this.calls.values()]) call.flushDeferredBye();
      await this.drain(this.options.closeGraceMs ?? 2000);
      this.closed = true;
      for (const call of this.calls.values()) call.shutdown();
      this.calls.clear();
      this.invitesInProgress.clear();
      this.unconfirmed.clear();
      this.admissionLog.close();
      this.layer.closeAll();
      await this.transport.close();
    })();
    return this.closing;
  }

  /** Waits (real time, at most `graceMs`) until our client transactions and DNS lookups are done. */
  private async drain(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while ((this.layer.clientCount > 0 || this.pendingLookups > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private onPacket(data: Buffer, source: Peer): void {
    if (this.closed) return;
    this.counters.received++;
    try {
      const maxBytes = this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
      if (data.length > maxBytes) {
        this.counters.oversize++;
        this.malformedLog.warning(`dropped ${data.length}-byte message from ${formatPeer(source)}: over ${maxBytes}`);
        return;
      }
      const parsed = parseMessage(data, { maxBytes, stream: source.transport === 'tcp' });
      if (!parsed.ok) {
        this.refuse(parsed.error, source);
        return;
      }
      const msg = parsed.value;
      if (msg.isRequest && this.closing !== undefined) {
        this.counters.dropped++; // closing: only answers to our BYEs still matter
      } else if (msg.isRequest) {
        stampVia(msg.via[0], source);
        this.handleRequest(msg, source);
      } else {
        this.handleResponse(msg);
      }
    } catch (err) {
      this.counters.malformed++;
      this.malformedLog.warning(`error handling a message from ${formatPeer(source)}: ${(err as Error).message}`);
    }
  }

  /** A message the parser refused: 400/505 when it is a request with a usable Via, else drop. */
  private refuse(failure: ParseFailure, source: Peer): void {
    this.counters.malformed++;
    this.malformedLog.warning(`malformed message from ${formatPeer(source)}: ${failure.message}`);
    const reply = replyToMalformed(failure, source, this.serverName);
    if (reply !== undefined) this.transport.send(reply.data, reply.dest);
  }

  private handleResponse(res: SipMessage): void {
    const tx = this.layer.findClient(res);
    if (tx === undefined) this.counters.dropped++;
    else tx.receive(res);
  }

  private handleRequest(req: SipMessage, source: Peer): void {
    const existing = this.layer.findServer(req);
    if (existing instanceof InviteServerTransaction) {
      if (existing.receive(req)) this.routeAck(req);
      return;
    }
    if (existing !== undefined) {
      existing.receive(req);
      return;
    }
    if (req.method === 'ACK') {
      this.routeAck(req);
      return;
    }
    if (req.method === 'CANCEL') {
      this.handleCancel(req, source);
      return;
    }
    const refusal = checkRequest(req);
    if (refusal !== undefined) {
      this.respondStateless(req, source, refusal.status, refusal.headers);
      return;
    }
    if (tagOf(req.to) !== undefined) {
      this.handleInDialog(req, source);
      return;
    }
    if (req.method === 'INVITE') this.newInvite(req, source);
    else if (req.method === 'OPTIONS') this.respondStateless(req, source, 200, optionsHeaders());
    else this.respondStateless(req, source, 481, []); // BYE, INFO, UPDATE need a dialog
  }

  /** Creates the server transaction of `req` and answers it with `status`. */
  private respondNew(req: SipMessage, source: Peer, status: number, headers: HeaderList, toTag = newTag()): ServerTransaction {
    const tx = req.method === 'INVITE'
      ? this.layer.createInviteServer(req, source, {})
      : this.layer.createNonInviteServer(req, source);
    tx.respond(status, buildResponse(req, status, { toTag, headers, server: this.serverName }));
    return tx;
  }

  /**
   * Answers a request that needs no state of ours (OPTIONS, and every refusal made from the request
   * alone) statelessly, RFC 3261 §8.2.7: no transaction or timer is kept, so a flood of them (a
   * scanner's OPTIONS, INVITEs with a bad Require) holds no memory for 32 s each; a retransmission is
   * answered again, with the same To tag (derived from the request).
   */
  private respondStateless(req: SipMessage, source: Peer, status: number, headers: HeaderList, reason?: string): void {
    const toTag = statelessTag(req);
    this.transport.send(buildResponse(req, status, { reason, toTag, headers, server: this.serverName }), responseDestination(req.via[0], source));
  }

  private handleCancel(req: SipMessage, source: Peer): void {
    const target = this.layer.findCancelTarget(req);
    if (target === undefined) {
      this.respondStateless(req, source, 481, []);
      return;
    }
    this.respondNew(req, source, 200, [], target.toTag ?? newTag());
    if (target.pending) target.cancelHandler?.();
  }

  private routeAck(ack: SipMessage): void {
    const call = this.findCall(ack);
    if (call !== undefined) call.handleAck(ack);
    else if (tagOf(ack.to) !== statelessTag(ack)) this.counters.dropped++; // not the ACK of a refusal answered statelessly
  }

  private findCall(req: SipMessage): ServerCall | undefined {
    const call = this.calls.get(dialogKey(req.callId, tagOf(req.to) ?? ''));
    return call !== undefined && call.dialog.remoteTag === (tagOf(req.from) ?? '') ? call : undefined;
  }

  private handleInDialog(req: SipMessage, source: Peer): void {
    const call = this.findCall(req);
    if (call === undefined) {
      this.respondStateless(req, source, 481, []);
      return;
    }
    if (!call.dialog.acceptRemoteSeq(req.cseq.seq)) {
      this.respondNew(req, source, 500, []); // §12.2.2: CSeq lower than the last one
      return;
    }
    switch (req.method) {
      case 'BYE': call.handleBye(req, this.layer.createNonInviteServer(req, source)); break;
      case 'UPDATE': call.handleUpdate(req, this.layer.createNonInviteServer(req, source)); break;
      case 'INFO': call.handleInfo(req, this.layer.createNonInviteServer(req, source)); break;
      case 'INVITE': {
        const tx = this.layer.createInviteServer(req, source, {});
        tx.respond(100, buildResponse(req, 100, { server: this.serverName }));
        call.handleReinvite(req, tx);
        break;
      }
      // OPTIONS (a keep-alive): within the call, its transaction answers a retransmission with the
      // same 200 (the CSeq is taken now; a stateless answer would meet the retransmission with 500).
      default: this.respondNew(req, source, 200, optionsHeaders());
    }
  }

  private newInvite(req: SipMessage, source: Peer): void {
    const mergeKey = `${req.callId}|${tagOf(req.from) ?? ''}|${req.cseq.seq}`;
    if (this.invitesInProgress.has(mergeKey)) {
      this.respondStateless(req, source, 482, []); // §8.2.2.2 merged request (same INVITE by another path)
      return;
    }
    const refusal = this.admission?.admit(source.address, this.calls.size);
    if (refusal !== undefined) {
      this.refuseNewCall(req, source, refusal);
      return;
    }
    let call: ServerCall | undefined;
    const tx = this.layer.createInviteServer(req, source, {
      onTransportError: (err) => {
        log.warning(`transport error on call ${req.callId}: ${err.message}`);
        call?.transportFailed();
      },
    });
    tx.respond(100, buildResponse(req, 100, { server: this.serverName }));
    const dialog = new Dialog(req, newTag(), source);
    call = new ServerCall(this.host, req, tx, dialog);
    this.calls.set(dialogKey(dialog.callId, dialog.localTag), call);
    this.invitesInProgress.set(mergeKey, call);
    if (this.admission !== undefined) this.unconfirmed.set(call, source.address);
    if (source.connectionId !== undefined) this.transport.retain(source.connectionId);
    try {
      this.onInvite(call);
    } catch (err) {
      log.error(`onInvite threw: ${(err as Error).message}`);
      call.reject(500);
    }
  }

  /**
   * Answers an INVITE admission refused: 503 with Retry-After, the limit's reason phrase and a Warning
   * naming its config key. Statelessly (RFC 3261 §8.2.7, the To tag derived from the request): a flood
   * of refused INVITEs leaves no transaction or timer behind; a retransmission is judged again.
   */
  private refuseNewCall(req: SipMessage, source: Peer, refusal: Refusal): void {
    this.refused[refusal.limit]++;
    const key = `sip.${refusal.limit}`;
    this.respondStateless(req, source, refusal.status,
      [['Retry-After', String(refusal.retryAfterSec)], ['Warning', `399 ${this.localHostPort} "${key} reached"`]], refusal.reason);
    this.admissionLog.record(`over ${key}`, () => `refusing new calls: 503 ${refusal.reason} (${key} reached) to ${formatPeer(source)}`);
  }

  /** Settles an admitted call's pending count once: confirmed by its ACK, or over. */
  private settle(call: ServerCall): void {
    const address = this.unconfirmed.get(call);
    if (address === undefined) return;
    this.unconfirmed.delete(call);
    this.admission?.settle(address);
  }

  private get localHostPort(): string {
    return `${uriHost(this.options.advertisedAddress ?? this.bound?.host ?? this.options.listen.host)}:${this.bound?.port ?? this.options.listen.port}`;
  }

  private get serverName(): string {
    return this.options.userAgent ?? 'audio-stream';
  }

  private createCallHost(): CallHost {
    const ua = this;
    return {
      ctx: this.ctx,
      get serverName() { return ua.serverName; },
      inviteTimeoutMs: this.options.inviteTimeoutMs ?? 180_000,
      contactFor: (call) => this.contactFor(call),
      sendInDialog: (dialog, method) => this.sendInDialog(dialog, method),
      confirmed: (call) => this.settle(call),
      forget: (call) => this.forget(call),
      ownerError: (what, err) => log.error(`call ${what} handler threw: ${(err as Error).message}`),
    };
  }

  private contactFor(call: ServerCall): string {
    const host = uriHost(this.options.advertisedAddress ?? this.bound?.host ?? this.options.listen.host);
    const user = call.requestUri.user !== undefined ? `${call.requestUri.user}@` : '';
    const transport = call.source.transport === 'tcp' ? ';transport=tcp' : '';
    return `<sip:${user}${host}:${this.bound?.port ?? this.options.listen.port}${transport}>`;
  }

  private forget(call: ServerCall): void {
    this.settle(call);
    const key = dialogKey(call.dialog.callId, call.dialog.localTag);
    if (this.calls.get(key) === call) this.calls.delete(key);
    const mergeKey = `${call.callId}|${call.dialog.remoteTag}|${call.invite.cseq.seq}`;
    if (this.invitesInProgress.get(mergeKey) === call) this.invitesInProgress.delete(mergeKey);
    if (call.source.connectionId !== undefined) this.transport.release(call.source.connectionId);
  }

  private sendInDialog(dialog: Dialog, method: string): void {
    const { nextHop } = dialog.route();
    const direct = nextHopPeer(nextHop, dialog.flow);
    if (direct !== undefined) {
      this.sendInDialogTo(dialog, method, direct); // synchronous: a hangup right before close() still gets out
      return;
    }
    this.pendingLookups++;
    resolveNextHop(nextHop, dialog.flow).then(
      (dest) => this.sendInDialogTo(dialog, method, dest),
      (err: Error) => log.warning(`cannot send ${method} for call ${dialog.callId}: ${err.message}`),
    ).finally(() => this.pendingLookups--);
  }

  private sendInDialogTo(dialog: Dialog, method: string, dest: Peer): void {
    if (this.closed) return;
    const local = {
      host: this.options.advertisedAddress ?? this.bound?.host ?? this.options.listen.host,
      port: this.bound?.port ?? this.options.listen.port,
      userAgent: this.serverName,
    };
    const request = dialog.buildRequest(method, local, dest.transport);
    this.layer.sendRequest(request.data, request.branch, method, dest, {
      onResponse: (res) => {
        if (res.status >= 300) log.notice(`${method} for call ${dialog.callId} answered ${res.status}`);
      },
      onTimeout: () => log.notice(`${method} for call ${dialog.callId} got no answer`),
      onTransportError: (err) => log.notice(`${method} for call ${dialog.callId} failed: ${err.message}`),
    });
  }
}

function dialogKey(callId: string, localTag: string): string {
  return `${callId}\n${localTag}`;
}

/** The To tag of a stateless answer to `req`, the same for its retransmissions and for the ACK of a non-2xx (same branch and CSeq). */
function statelessTag(req: SipMessage): string {
  return stableTag(req.callId, tagOf(req.from) ?? '', req.via[0].params.get('branch') ?? '', String(req.cseq.seq));
}
