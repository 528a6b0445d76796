import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { EslContext } from './context.ts';
import { Logger } from '../lib/logger.ts';
import { Acl } from '../lib/acl.ts';
import { EslListener, type ListenerLimits } from './listener.ts';
import { GOODBYE, SHUTTING_DOWN, disconnectNotice, rudeRejection } from './wire.ts';

const log = new Logger('esl');

/** FreeSWITCH's default Event Socket password. */
export const DEFAULT_ESL_PASSWORD = 'ClueCon';

/** Options of the inbound Event Socket server (the `esl` section of the config). */
export interface EslServerOptions {
  listen: { host: string; port: number };
  password: string;
  /** CIDRs allowed to connect (IPv4 and IPv6); empty allows everyone. */
  acl: string[];
  /** Per-connection bounds (defaults: DEFAULT_LISTENER_LIMITS). */
  limits?: Partial<ListenerLimits>;
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

  constructor(private readonly esl: EslContext, private readonly options: EslServerOptions) {
    this.acl = new Acl(options.acl);
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
    const listener = new EslListener({ esl: this.esl, socket, password: this.options.password, limits: this.options.limits });
    this.listeners.add(listener);
    void listener.done.then(() => this.listeners.delete(listener));
    listener.start();
  }

  /** Stops accepting, tells every client the system is shutting down and closes them. Idempotent. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const clients = [...this.listeners];
    for (const l of clients) l.finish(SHUTTING_DOWN);
    await Promise.all([closed, ...clients.map((l) => l.done)]);
  }
}
