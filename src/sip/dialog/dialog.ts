import { newBranch, initialCSeq } from '../message/ids.ts';
import { serializeMessage, type HeaderList } from '../message/message-builder.ts';
import type { SipMessage } from '../message/message.ts';
import { parseNameAddr, tagOf } from '../message/name-addr.ts';
import type { Peer } from '../transport/peer.ts';
import { formatUri, uriHost, type SipUri } from '../message/uri.ts';

/** How our in-dialog requests identify us: the Via sent-by and the User-Agent header. */
export interface LocalIdentity {
  /** Host for Via sent-by (our advertised address). */
  host: string;
  port: number;
  userAgent: string;
}

/** An in-dialog request ready to send, and where to. */
export interface DialogRequest {
  data: Buffer;
  branch: string;
  /** The URI the request goes to first: the first loose route, or the Request-URI. */
  nextHop: SipUri;
}

/**
 * The UAS side of a dialog (RFC 3261 §12.1.1): Call-ID and tags, the remote target from Contact, the
 * route set from Record-Route (kept as received, echoed as Route), local and remote CSeq.
 */
export class Dialog {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  /** Our address with our tag: the To of the INVITE (used as From of our requests). */
  readonly localAddress: string;
  /** The peer's address with its tag: the From of the INVITE (used as To of our requests). */
  readonly remoteAddress: string;
  /** Where in-dialog requests go (the latest Contact, §12.2.2 target refresh). */
  remoteTarget: SipUri;
  /** Record-Route values of the INVITE, in order (§12.1.1: the UAS keeps their order). */
  readonly routeSet: readonly string[];
  /** CSeq of our last request (random start). */
  localSeq = initialCSeq();
  /** Highest CSeq seen from the peer. */
  remoteSeq: number;
  /** Where the INVITE came from (TCP: its connection). */
  readonly flow: Peer;

  constructor(invite: SipMessage, localTag: string, flow: Peer) {
    this.callId = invite.callId;
    this.localTag = localTag;
    this.remoteTag = tagOf(invite.from) ?? '';
    this.localAddress = `${invite.to.raw};tag=${localTag}`;
    this.remoteAddress = invite.from.raw;
    this.remoteTarget = contactUri(invite) ?? sourceUri(flow);
    this.routeSet = invite.getList('record-route');
    this.remoteSeq = invite.cseq.seq;
    this.flow = flow;
  }

  /** Accepts a new remote CSeq (§12.2.2): false when it is not higher than the last one (answer 500). */
  acceptRemoteSeq(seq: number): boolean {
    if (seq <= this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** Target refresh from a re-INVITE or UPDATE Contact (§12.2.2). */
  refreshTarget(req: SipMessage): void {
    const uri = contactUri(req);
    if (uri !== undefined) this.remoteTarget = uri;
  }

  /** Request-URI, Route values and first hop of our next request (§12.2.1.1 loose or strict routing). */
  route(): { requestUri: SipUri; routeValues: string[]; nextHop: SipUri } {
    const first = this.routeSet.length > 0 ? parseNameAddr(this.routeSet[0]) : undefined;
    if (first === undefined) return { requestUri: this.remoteTarget, routeValues: [], nextHop: this.remoteTarget };
    if (first.uri.params.has('lr')) return { requestUri: this.remoteTarget, routeValues: [...this.routeSet], nextHop: first.uri };
    const requestUri = { ...first.uri, headers: undefined };
    return { requestUri, routeValues: [...this.routeSet.slice(1), `<${formatUri(this.remoteTarget)}>`], nextHop: requestUri };
  }

  /** Builds an in-dialog request (BYE) over `transport`, with the route set and the next local CSeq. */
  buildRequest(method: string, local: LocalIdentity, transport: Peer['transport']): DialogRequest {
    const branch = newBranch();
    const { requestUri, routeValues, nextHop } = this.route();
    const headers: HeaderList = [
      ['Via', `SIP/2.0/${transport.toUpperCase()} ${uriHost(local.host)}:${local.port};branch=${branch};rport`],
      ['Max-Forwards', '70'],
      ...routeValues.map((r): [string, string] => ['Route', r]),
      ['From', this.localAddress],
      ['To', this.remoteAddress],
      ['Call-ID', this.callId],
      ['CSeq', `${++this.localSeq} ${method}`],
      ['User-Agent', local.userAgent],
    ];
    return { data: serializeMessage(`${method} ${formatUri(requestUri)} SIP/2.0`, headers), branch, nextHop };
  }
}

function contactUri(req: SipMessage): SipUri | undefined {
  const first = req.getList('contact')[0];
  if (first === undefined || first === '*') return undefined;
  return parseNameAddr(first).uri;
}

function sourceUri(flow: Peer): SipUri {
  return { scheme: 'sip', host: uriHost(flow.address), port: flow.port, params: new Map([['transport', flow.transport]]) };
}
