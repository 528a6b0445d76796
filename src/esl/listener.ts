// One Event Socket connection (FreeSWITCH's listener_t), inbound or outbound: reads commands one at
// a time, writes their replies, delivers subscribed events and log lines, and ends the way
// mod_event_socket does (disconnect notice, linger), or at once when it does not read its events.
import type { Socket } from 'node:net';
import type { EslContext, RemoteSession } from './context.ts';
import type { Channel } from '../channel/channel.ts';
import type { FsEvent } from '../events/event.ts';
import type { EventFormat } from '../events/serialize.ts';
import { Logger } from '../lib/logger.ts';
import { DEFAULT_FRAME_LIMITS, EslFrameParser, type EslMessage, type FrameLimits } from './frame.ts';
import { EventSubscription } from './subscription.ts';
import { runCommand, type CommandContext } from './commands.ts';
import { eventFrame, type EslHub, type HubClient } from './hub.ts';
import type { LoginFailures } from './login-failures.ts';
import { AUTH_REQUEST, GOODBYE, commandReply, disconnectNotice, lingerNotice } from './wire.ts';
import { sourceKey } from '../lib/source-address.ts';

const log = new Logger('esl');

/** Bounds of one connection. */
export interface ListenerLimits extends FrameLimits {
  /**
   * Bytes of events and log lines waiting for the client (held behind a running command, or in
   * the socket's buffer: socket.writableLength) beyond which it is dropped at once (default 4 MiB,
   * `esl.maxQueueBytes`): a client that does not read never slows the core or other clients.
   */
  maxQueueBytes: number;
  /** Commands received and not yet answered before reading from the client pauses (default 64). */
  maxPendingCommands: number;
  /**
   * How long an inbound client may stay unauthenticated, and an outbound application may take to
   * send its first command, in ms (default 25 s, read_packet's timeout in FreeSWITCH).
   */
  authTimeoutMs: number;
}

/** Default bounds of a connection (see ListenerLimits). */
export const DEFAULT_LISTENER_LIMITS: ListenerLimits = {
  ...DEFAULT_FRAME_LIMITS, maxQueueBytes: 4 << 20, maxPendingCommands: 64, authTimeoutMs: 25_000,
};

/** Options of a connection. */
export interface EslListenerOptions {
  esl: EslContext;
  socket: Socket;
  limits?: Partial<ListenerLimits>;
  /** Inbound: the password `auth` must give (the connection starts with `auth/request`). */
  password?: string;
  /** Inbound: where failed logins are counted, logged and throttled (per source address). */
  loginFailures?: LoginFailures;
  /** The client's address as the server counts it (default: the socket's remote address). */
  source?: string;
  /** Outbound (the `socket` application): the call it controls and the socket's keywords. */
  outbound?: { channel: Channel; async: boolean; full: boolean };
}

/** An Event Socket connection. */
export class EslListener implements CommandContext, HubClient {
  readonly esl: EslContext;
  readonly password: string | undefined;
  readonly subscription = new EventSubscription();
  readonly outbound: boolean;
  readonly full: boolean;
  readonly peer: string;
  /** The client's address (no port), as failed logins name it. */
  readonly source: string;
  authed: boolean;
  format: EventFormat = 'plain';
  session: Channel | RemoteSession | undefined;
  async: boolean;
  connected = false;
  lingerSec: number | undefined;
  resume = false;
  divertEvents = false;
  /** Resolves once the socket is closed. */
  readonly done: Promise<void>;
  /** Resolves when the outbound application has sent `connect`. */
  readonly connectedPromise: Promise<void>;

  private readonly socket: Socket;
  private readonly limits: ListenerLimits;
  private readonly parser: EslFrameParser;
  private readonly hub: EslHub;
  private state: 'new' | 'open' | 'closing' | 'closed' = 'new';
  private running = true;
  private readonly inbox: EslMessage[] = [];
  private processing = false;
  private inputEnded = false;
  /** While a command runs, events wait here so that its reply goes first (as in FreeSWITCH). */
  private holding = 0;
  private held: Buffer[] = [];
  private heldBytes = 0;
  /**
   * Output waiting for the hub's next flush (events, log lines, and what follows them): kept here,
   * not in the socket's buffer, so that it leaves in one write per flush and dropping the client
   * only forgets an array.
   */
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  /** A flush is due: the hub has this client in its list, or a drain will put it there. */
  private flushDue = false;
  /** Dropped: the hub's next flush resets the socket. */
  private resetDue = false;
  private sessionDown = false;
  private awaitingFirstCommand: boolean;
  private timers: NodeJS.Timeout[] = [];
  private resolveDone!: () => void;
  private resolveConnected!: () => void;
  private currentLogLevel: number | undefined;
  private readonly loginFailures: LoginFailures | undefined;

  constructor(options: EslListenerOptions) {
    this.esl = options.esl;
    this.socket = options.socket;
    this.limits = { ...DEFAULT_LISTENER_LIMITS, ...options.limits };
    this.parser = new EslFrameParser(this.limits);
    this.hub = options.esl.hub;
    this.password = options.password;
    this.outbound = options.outbound !== undefined;
    this.full = options.outbound ? options.outbound.full : true;
    this.async = options.outbound?.async ?? false;
    this.session = options.outbound?.channel;
    this.authed = this.outbound;
    this.awaitingFirstCommand = this.outbound;
    this.peer = `${options.socket.remoteAddress}:${options.socket.remotePort}`;
    this.source = options.source ?? options.socket.remoteAddress ?? '';
    this.loginFailures = options.loginFailures;
    this.done = new Promise((r) => { this.resolveDone = r; });
    this.connectedPromise = new Promise((r) => { this.resolveConnected = r; });
  }

  /** Starts reading; an inbound connection is greeted with `auth/request`. */
  start(): void {
    if (this.state !== 'new') return;
    this.state = 'open';
    const s = this.socket;
    s.setNoDelay(true);
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('end', () => { this.inputEnded = true; this.pump(); });
    s.on('error', (err) => log.debug(`${this.peer}: ${err.message}`));
    s.on('close', () => this.onClose());
    this.hub.add(this);
    const timeoutMs = this.limits.authTimeoutMs;
    if (this.outbound) {
      this.addTimer(timeoutMs, () => {
        if (!this.awaitingFirstCommand) return;
        log.error(`${this.peer}: no command within ${timeoutMs} ms: Socket Error!`);
        this.finish(GOODBYE);
      });
    } else {
      this.write(AUTH_REQUEST);
      // FreeSWITCH waits 25 s for the first packet; here the bound holds until `auth` succeeds.
      this.addTimer(timeoutMs, () => {
        if (this.authed) return;
        log.warning(`${this.peer}: not authenticated within ${timeoutMs} ms: disconnecting`);
        this.finish(GOODBYE);
      });
    }
    if (this.session?.isHungUp) this.onSessionDown();
  }

  /** True until the connection starts closing. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  // ---- CommandContext ----

  /** Level of `log <level>`, undefined when not logging. */
  get logLevel(): number | undefined {
    return this.currentLogLevel;
  }

  set logLevel(level: number | undefined) {
    this.currentLogLevel = level;
    this.hub.logLevelsChanged();
  }

  stop(): void {
    this.running = false;
  }

  writeRaw(text: string): void {
    this.write(text);
  }

  /** A failed `auth`/`userauth`: logged and counted per source; waits when the source is throttled. */
  async loginFailed(command: 'auth' | 'userauth', user?: string): Promise<void> {
    const delayMs = this.loginFailures?.record({ ip: this.source, key: sourceKey(this.source), command, user }) ?? 0;
    if (delayMs > 0) await new Promise<void>((resolve) => this.addTimer(delayMs, resolve));
  }

  // ---- HubClient ----

  deliverEvent(event: FsEvent): void {
    if (this.state !== 'open') return;
    if (this.subscription.wants(event)) this.queueFrame(eventFrame(event, this.format));
    if (this.session && !this.sessionDown && this.session.isHungUp) this.onSessionDown();
  }

  deliverLog(level: number, frame: Buffer): void {
    if (this.state === 'open' && this.logLevel !== undefined && level <= this.logLevel) this.queueFrame(frame);
  }

  // ---- closing ----

  /** Ends the connection with a disconnect notice (the `done:` path of listener_run). */
  finish(message: string): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.flushHeld();
    this.writeWaiting();
    this.write(disconnectNotice(message, this.session?.uuid));
    this.socket.end();
    this.addTimer(2000, () => this.socket.destroy());
    this.detach();
  }

  /**
   * Drops a client whose queue went over maxQueueBytes, at once: it gets nothing more, and its
   * socket is reset by the hub's next flush, which frees what our buffer and the kernel's hold for
   * it (a notice would only wait behind the megabytes it does not read; resetting a socket that
   * holds megabytes costs about a millisecond, so a hundred dropped by one event are reset over
   * several turns of the event loop). FreeSWITCH kills such a listener too, once 500 events are
   * lost, with a CRIT line; this one is logged once, with the client's address.
   */
  private drop(queuedBytes: number): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    log.error(`Killing listener ${this.peer} because of lost events. Queue size[${queuedBytes}/${this.limits.maxQueueBytes} bytes]`);
    this.hub.countDropped();
    this.held = [];
    this.heldBytes = 0;
    this.waiting = [];
    this.waitingBytes = 0;
    this.resetDue = true;
    this.detach();
    this.flushDue = true;
    this.hub.flushSoon(this); // even when a drain was awaited: it may never come
  }

  private reset(): void {
    this.resetDue = false;
    if (this.socket.destroyed) return;
    try {
      this.socket.resetAndDestroy();
    } catch {
      this.socket.destroy(); // not a TCP socket (an outbound socket to a unix path)
    }
  }

  /**
   * Hub: writes what waits, in one write, unless the socket is still over its high-water mark
   * (then once it drains). Returns the bytes written.
   */
  flush(): number {
    this.flushDue = false;
    if (this.resetDue) {
      this.reset();
      return 0;
    }
    if (this.waiting.length === 0 || this.state === 'closed') return 0;
    if (this.socket.writableNeedDrain) {
      this.flushDue = true;
      this.socket.once('drain', () => this.hub.flushSoon(this));
      return 0;
    }
    return this.writeWaiting();
  }

  // ---- input ----

  private onData(chunk: Buffer): void {
    if (this.state !== 'open') return;
    let messages: EslMessage[];
    try {
      messages = this.parser.push(chunk);
    } catch (err) {
      log.warning(`${this.peer}: ${(err as Error).message}: disconnecting`);
      this.inbox.length = 0;
      this.write(commandReply('-ERR command parse error.'));
      this.finish(GOODBYE);
      return;
    }
    this.inbox.push(...messages);
    if (this.inbox.length > this.limits.maxPendingCommands) this.socket.pause();
    this.pump();
  }

  private pump(): void {
    if (this.processing) return;
    this.processing = true;
    void this.processInbox();
  }

  private async processInbox(): Promise<void> {
    try {
      while (this.inbox.length > 0 && this.state === 'open' && this.running) {
        const behind = this.hub.caughtUp();
        if (behind) await behind;
        if (this.state !== 'open' || !this.running) break;
        const msg = this.inbox.shift()!;
        if (this.socket.isPaused() && this.inbox.length <= this.limits.maxPendingCommands / 2) this.socket.resume();
        await this.process(msg);
      }
    } finally {
      this.processing = false;
    }
    if (this.state === 'open' && (!this.running || (this.inputEnded && this.inbox.length === 0))) this.finish(GOODBYE);
  }

  private async process(msg: EslMessage): Promise<void> {
    this.holding++;
    try {
      let reply: string | undefined;
      try {
        reply = await runCommand(this, msg);
      } catch (err) {
        log.error(`${this.peer}: ${msg.command}: ${(err as Error).stack ?? err}`);
        reply = `-ERR ${(err as Error).message}`;
      }
      if (this.awaitingFirstCommand) {
        // listener_run parses an outbound connection's first packet without answering it.
        this.awaitingFirstCommand = false;
        reply = undefined;
      }
      if (reply !== undefined && this.state === 'open') this.write(commandReply(reply));
      if (this.connected) this.resolveConnected();
    } finally {
      if (--this.holding === 0) this.flushHeld();
    }
  }

  // ---- output ----

  /** Replies and notices: now, unless output waits for the hub's flush (then behind it, in order). */
  private write(data: string | Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    if (this.waiting.length === 0) {
      this.socket.write(data);
      return;
    }
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    this.waiting.push(buf);
    this.waitingBytes += buf.length;
  }

  /**
   * An event or log frame (the one Buffer every client of its format gets): held while a command
   * runs (its reply goes first), else queued for the hub's flush, which writes a turn's frames in
   * one write and spreads the writes of many clients over turns of the event loop. The client is
   * dropped when what waits for it is over maxQueueBytes: what its socket holds (writableLength),
   * what is held behind a command, and what is queued here once the socket stopped draining (a
   * turn's batch for a socket that drains does not count, unless it is over the bound by itself).
   */
  private queueFrame(frame: Buffer): void {
    const max = this.limits.maxQueueBytes;
    const waiting = this.waitingBytes + frame.length;
    const queued = this.socket.writableLength + this.heldBytes + (this.socket.writableNeedDrain ? waiting : 0);
    if (queued > max || waiting > max) {
      this.drop(Math.max(queued, waiting));
      return;
    }
    if (this.holding > 0) {
      this.held.push(frame);
      this.heldBytes += frame.length;
      return;
    }
    this.waiting.push(frame);
    this.waitingBytes += frame.length;
    if (!this.flushDue) {
      this.flushDue = true;
      this.hub.flushSoon(this);
    }
  }

  /** What waits, in one write (corked: one writev); returns its bytes. */
  private writeWaiting(): number {
    const frames = this.waiting;
    const bytes = this.waitingBytes;
    this.waiting = [];
    this.waitingBytes = 0;
    if (frames.length === 0 || this.socket.destroyed || !this.socket.writable) return 0;
    this.socket.cork();
    for (const f of frames) this.socket.write(f);
    this.socket.uncork();
    return bytes;
  }

  /** A command has answered: the frames held behind its reply are queued. */
  private flushHeld(): void {
    if (this.held.length === 0) return;
    const frames = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const f of frames) {
      this.waiting.push(f);
      this.waitingBytes += f.length;
    }
    if (!this.flushDue) {
      this.flushDue = true;
      this.hub.flushSoon(this);
    }
  }

  // ---- the controlled call ----

  /** The call hung up: linger (notice, then close after the linger time) or close now. */
  private onSessionDown(): void {
    this.sessionDown = true;
    const channel = this.session!;
    if (this.lingerSec !== undefined) {
      log.debug(`${channel.name} Socket Linger ${this.lingerSec}`);
      this.queueFrame(Buffer.from(lingerNotice(channel.uuid, channel.name, this.lingerSec)));
      if (this.lingerSec !== -1) this.addTimer(Math.max(0, this.lingerSec) * 1000, () => this.finish(GOODBYE));
      return;
    }
    this.running = false;
    if (!this.processing) this.finish(GOODBYE);
  }

  // ---- lifecycle ----

  private addTimer(ms: number, fn: () => void): void {
    const t = setTimeout(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private detach(): void {
    this.hub.remove(this);
    this.running = false;
  }

  private onClose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.held = [];
    this.heldBytes = 0;
    this.waiting = [];
    this.waitingBytes = 0;
    this.inbox.length = 0;
    this.detach();
    this.resolveConnected();
    this.resolveDone();
  }
}
