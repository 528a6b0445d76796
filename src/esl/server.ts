import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { EslContext } from './context.ts';
import { Logger } from '../lib/logger.ts';
import { Acl } from '../lib/acl.ts';
import { EslListener, type ListenerLimits } from './listener.ts';
import { LoginFailures, type LoginFailureLimits } from './login-failures.ts';
import { BurstLog } from './burst-log.ts';
import { GOODBYE, SHUTTING_DOWN, disconnectNotice, rudeRejection } from './wire.ts';
import { plainAddress, sourceKey } from '../lib/source-address.ts';

const log = new Logger('esl');

/** FreeSWITCH's default Event Socket password. */
export const DEFAULT_ESL_PASSWORD = 'ClueCon';

/** Options of the inbound Event Socket server (the `esl` section of the config). */
export interface EslServerOptions {
  listen: { host: string; port: number };
  password: string;
  /** CIDRs allowed to connect (IPv4 and IPv6); empty allows everyone. */
  acl: string[];
  /** Connections at once, authenticated or not (default 500); over it a new one is refused at once. */
  maxConnections?: number;
  /** Connections at once from one source address (default 250). */
  maxConnectionsPerSource?: number;
  /** Bytes of events and log lines waiting for one client before it is dropped (default 4 MiB; limits.maxQueueBytes if given). */
  maxQueueBytes?: number;
  /** Per-connection bounds (defaults: DEFAULT_LISTENER_LIMITS). */
  limits?: Partial<ListenerLimits>;
  /** The throttle of failed logins per source (defaults: DEFAULT_LOGIN_FAILURE_LIMITS). */
  loginFailureLimits?: Partial<LoginFailureLimits>;
}

/** Default esl.maxConnections. */
export const DEFAULT_MAX_CONNECTIONS = 500;
/** Default esl.maxConnectionsPerSource. */
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 250;

/** What the Event Socket counted since start (for /metrics). */
export interface EslServerStats {
  /** Connections refused for esl.maxConnections or esl.maxConnectionsPerSource. */
  refusedConnections: number;
  /** `auth` with a wrong password and `userauth` (always refused here). */
  loginFailures: number;
  /** Connections (inbound and outbound) dropped for not reading their events (over maxQueueBytes). */
  droppedSlowClients: number;
}

/** How long close() lets clients read their notice before dropping them, in ms. */
const CLOSE_GRACE_MS = 1000;

/**
 * The inbound Event Socket (mod_event_socket): a TCP server whose clients authenticate with the
 * password, run API commands and subscribe to events, on the wire exactly as FreeSWITCH.
 */
export class EslServer {
  private server: Server | undefined;
  private readonly listeners = new Set<EslListener>();
  private readonly acl: Acl;
  private readonly limits: Partial<ListenerLimits>;
  private readonly maxConnections: number;
  private readonly maxPerSource: number;
  /** Open connections per source address (an entry only while it has one: bounded by maxConnections). */
  private readonly perSource = new Map<string, number>();
  private refused = 0;
  private readonly refusals = new BurstLog(log, (n, seconds) => `${n} more Event Socket connections refused in the last ${seconds} s`);
  private readonly loginFailures: LoginFailures;

  constructor(private readonly esl: EslContext, private readonly options: EslServerOptions) {
    this.acl = new Acl(options.acl);
    this.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.maxPerSource = options.maxConnectionsPerSource ?? DEFAULT_MAX_CONNECTIONS_PER_SOURCE;
    this.limits = { ...options.limits };
    if (options.maxQueueBytes !== undefined && options.limits?.maxQueueBytes === undefined) this.limits.maxQueueBytes = options.maxQueueBytes;
    this.loginFailures = new LoginFailures(log, options.loginFailureLimits);
  }

  /** What was counted since start (for /metrics). */
  get stats(): EslServerStats {
    return { refusedConnections: this.refused, loginFailures: this.loginFailures.total, droppedSlowClients: this.esl.hub.droppedClients };
  }

  /** Binds the listener; rejects if the address cannot be used. */
  async start(): Promise<void> {
    if (this.server) return;
    if (this.options.password === DEFAULT_ESL_PASSWORD) {
      log.warning(`the Event Socket password is the default ${DEFAULT_ESL_PASSWORD}: set esl.password to something else`);
    }
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.listen.port, this.options.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => log.error(`Event Socket server: ${err.message}`));
    this.server = server;
    const a = this.address;
    log.notice(`Event Socket listening on ${a.host}:${a.port}`);
  }

  /** The bound address (the real port when 0 was asked). */
  get address(): { host: string; port: number } {
    const info = this.server?.address() as AddressInfo | null | undefined;
    return info ? { host: info.address, port: info.port } : { ...this.options.listen };
  }

  /** Connected clients (authenticated or not). */
  get clientCount(): number {
    return this.listeners.size;
  }

  private onConnection(socket: Socket): void {
    socket.on('error', () => undefined);
    if (!this.acl.allows(socket.remoteAddress)) {
      log.warning(`IP ${socket.remoteAddress} Rejected by acl "${this.acl.entries.join(', ')}"`);
      socket.end(rudeRejection() + disconnectNotice(GOODBYE));
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
      return;
    }
    const source = plainAddress(socket.remoteAddress);
    const key = sourceKey(socket.remoteAddress);
    const fromSource = this.perSource.get(key) ?? 0;
    if (this.listeners.size >= this.maxConnections) {
      this.refuse(socket, `IP ${source} Rejected: ${this.listeners.size} Event Socket connections already (esl.maxConnections)`);
      return;
    }
    if (fromSource >= this.maxPerSource) {
      this.refuse(socket, `IP ${source} Rejected: ${fromSource} Event Socket connections from ${key === source ? 'this address' : key} already (esl.maxConnectionsPerSource)`);
      return;
    }
    this.perSource.set(key, fromSource + 1);
    const listener = new EslListener({
      esl: this.esl, socket, password: this.options.password, limits: this.limits, loginFailures: this.loginFailures, source,
    });
    this.listeners.add(listener);
    void listener.done.then(() => {
      this.listeners.delete(listener);
      const n = (this.perSource.get(key) ?? 1) - 1;
      if (n > 0) this.perSource.set(key, n);
      else this.perSource.delete(key);
    });
    listener.start();
  }

  /**
   * Refuses a connection over a bound as FreeSWITCH refuses one its ACL denies (text/rude-rejection,
   * then the disconnect notice), and closes it as soon as that is written: a flood of connections
   * holds no descriptor longer than that. Counted; logged once per burst.
   */
  private refuse(socket: Socket, why: string): void {
    this.refused++;
    this.refusals.hit(why);
    socket.end(rudeRejection() + disconnectNotice(GOODBYE), () => socket.destroy());
  }

  /** Stops accepting, tells every client the system is shutting down and closes them. Idempotent. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const clients = [...this.listeners];
    for (const l of clients) l.finish(SHUTTING_DOWN);
    this.refusals.close();
    this.loginFailures.close();
    await Promise.all([closed, ...clients.map((l) => l.done)]);
  }
}
