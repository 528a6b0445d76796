// One Event Socket connection (FreeSWITCH's listener_t), inbound or outbound: reads commands one at
// a time, writes their replies, delivers subscribed events and log lines, and ends the way
// mod_event_socket does (disconnect notice, linger, dropped when it does not read its events).
import type { Socket } from 'node:net';
import type { EslContext } from './context.ts';
import type { Channel } from '../channel/channel.ts';
import type { FsEvent } from '../events/event.ts';
import type { EventFormat } from '../events/serialize.ts';
import { Logger } from '../lib/logger.ts';
import { DEFAULT_FRAME_LIMITS, EslFrameParser, type EslMessage, type FrameLimits } from './frame.ts';
import { EventSubscription } from './subscription.ts';
import { runCommand, type CommandContext } from './commands.ts';
import { eventFrame, type EslHub, type HubClient } from './hub.ts';
import { AUTH_REQUEST, GOODBYE, LOST_EVENTS, commandReply, disconnectNotice, lingerNotice } from './wire.ts';

const log = new Logger('esl');

/** How long a client dropped for lost events has to read what its socket holds before it is cut, ms. */
const KILL_GRACE_MS = 2000;

/** Bounds of one connection. */
export interface ListenerLimits extends FrameLimits {
  /**
   * Bytes written to the client and not yet taken by it, beyond which its events are lost
   * (default 8 MiB): a client that does not read never slows the core or other clients.
   */
  maxQueueBytes: number;
  /** Events lost in a row after which the client is dropped (FreeSWITCH's MAX_MISSED, 500). */
  maxLostEvents: number;
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
  ...DEFAULT_FRAME_LIMITS, maxQueueBytes: 8 << 20, maxLostEvents: 500, maxPendingCommands: 64, authTimeoutMs: 25_000,
};

/** Options of a connection. */
export interface EslListenerOptions {
  esl: EslContext;
  socket: Socket;
  limits?: Partial<ListenerLimits>;
  /** Inbound: the password `auth` must give (the connection starts with `auth/request`). */
  password?: string;
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
  authed: boolean;
  format: EventFormat = 'plain';
  session: Channel | undefined;
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
  private lost = 0;
  private sessionDown = false;
  private awaitingFirstCommand: boolean;
  private timers: NodeJS.Timeout[] = [];
  private resolveDone!: () => void;
  private resolveConnected!: () => void;
  private currentLogLevel: number | undefined;

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
    this.write(disconnectNotice(message, this.session?.uuid));
    this.socket.end();
    this.addTimer(2000, () => this.socket.destroy());
    this.detach();
  }

  /**
   * Drops a client that fell too far behind: no event is queued for it any more; the notice goes
   * after what the socket already holds, and the socket is cut after a grace period, so a client
   * that was only slow still reads it (FreeSWITCH writes it behind what its socket holds too).
   */
  kill(message: string): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.held = [];
    this.heldBytes = 0;
    this.write(disconnectNotice(message, this.session?.uuid));
    this.socket.end();
    this.addTimer(KILL_GRACE_MS, () => this.socket.destroy());
    this.detach();
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

  private write(data: string | Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(data);
  }

  /** An event or log frame: held while a command runs, lost when the client is too far behind. */
  private queueFrame(frame: Buffer): void {
    const pending = this.socket.writableLength + this.heldBytes;
    if (pending + frame.length > this.limits.maxQueueBytes) {
      if (++this.lost > this.limits.maxLostEvents) {
        log.error(`${this.peer}: Killing listener because of too many lost events. Lost [${this.lost}] `
          + `Queue size[${pending}/${this.limits.maxQueueBytes}]`);
        this.kill(LOST_EVENTS);
      }
      return;
    }
    if (this.lost > 0) {
      log.error(`${this.peer}: Lost ${this.lost} events!`);
      this.lost = 0;
    }
    if (this.holding > 0) {
      this.held.push(frame);
      this.heldBytes += frame.length;
    } else {
      this.write(frame);
    }
  }

  private flushHeld(): void {
    if (this.held.length === 0) return;
    const frames = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const f of frames) this.write(f);
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
    this.inbox.length = 0;
    this.detach();
    this.resolveConnected();
    this.resolveDone();
  }
}
