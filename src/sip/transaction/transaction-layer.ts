import { InviteServerTransaction, type InviteServerEvents } from './invite-server-transaction.ts';
import type { SipMessage } from '../message/message.ts';
import { tagOf } from '../message/name-addr.ts';
import { NonInviteClientTransaction, type NonInviteClientEvents } from './non-invite-client-transaction.ts';
import { NonInviteServerTransaction } from './non-invite-server-transaction.ts';
import type { Peer } from '../transport/peer.ts';
import type { TransactionContext } from './transaction-context.ts';
import { branchOf, MAGIC_COOKIE, sentBy } from '../message/via.ts';
import { responseDestination } from '../transport/via-routing.ts';

/** Any server transaction. */
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

/**
 * The transaction tables (RFC 3261 §17.1.3, §17.2.3): creates transactions, matches requests and
 * responses to them, and forgets them when they terminate.
 */
export class TransactionLayer {
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, NonInviteClientTransaction>();

  constructor(readonly ctx: TransactionContext) {}

  /** Live server transactions. */
  get serverCount(): number {
    return this.servers.size;
  }

  /** Live client transactions. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** The server transaction a request belongs to (ACK → its INVITE's), if any. */
  findServer(req: SipMessage): ServerTransaction | undefined {
    return this.servers.get(serverKey(req, req.method === 'ACK' ? 'INVITE' : req.method));
  }

  /** The INVITE transaction a CANCEL targets (same branch and sent-by, RFC 3261 §9.2), if any. */
  findCancelTarget(cancel: SipMessage): InviteServerTransaction | undefined {
    const tx = this.servers.get(serverKey(cancel, 'INVITE'));
    return tx instanceof InviteServerTransaction ? tx : undefined;
  }

  /** Creates the INVITE server transaction of a new INVITE received from `source`. */
  createInviteServer(req: SipMessage, source: Peer, events: Omit<InviteServerEvents, 'onTerminated'>): InviteServerTransaction {
    const key = serverKey(req, 'INVITE');
    const tx = new InviteServerTransaction(this.ctx, key, req, responseDestination(req.via[0], source), {
      ...events,
      onTerminated: () => this.servers.delete(key),
    });
    this.servers.set(key, tx);
    return tx;
  }

  /** Creates the server transaction of a new non-INVITE request. */
  createNonInviteServer(req: SipMessage, source: Peer): NonInviteServerTransaction {
    const key = serverKey(req, req.method);
    const tx = new NonInviteServerTransaction(this.ctx, key, req, responseDestination(req.via[0], source), () => this.servers.delete(key));
    this.servers.set(key, tx);
    return tx;
  }

  /** Sends a non-INVITE request (`branch` is its top Via branch) through a new client transaction. */
  sendRequest(data: Buffer, branch: string, method: string, dest: Peer, events: Omit<NonInviteClientEvents, 'onTerminated'>): NonInviteClientTransaction {
    const key = `${branch}|${method}`;
    const tx = new NonInviteClientTransaction(this.ctx, key, data, dest, { ...events, onTerminated: () => this.clients.delete(key) });
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  /** The client transaction a response belongs to (top Via branch + CSeq method), if any. */
  findClient(res: SipMessage): NonInviteClientTransaction | undefined {
    const branch = branchOf(res.via[0]);
    return branch === undefined ? undefined : this.clients.get(`${branch}|${res.cseq.method}`);
  }

  /** Terminates every transaction (UA shutdown). */
  closeAll(): void {
    for (const tx of [...this.servers.values(), ...this.clients.values()]) tx.terminate();
  }
}

/** RFC 3261 §17.2.3 matching key; RFC 2543 requests (no magic cookie) fall back to dialog identifiers. */
function serverKey(req: SipMessage, method: string): string {
  const via = req.via[0];
  const branch = branchOf(via);
  if (branch !== undefined && branch.startsWith(MAGIC_COOKIE) && branch.length > MAGIC_COOKIE.length) {
    return `${branch}|${sentBy(via)}|${method}`;
  }
  return `2543|${req.requestUriText}|${tagOf(req.from) ?? ''}|${req.callId}|${req.cseq.seq}|${sentBy(via)}|${method}`;
}
