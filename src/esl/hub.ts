import type { EventBus } from '../events/bus.ts';
import type { FsEvent } from '../events/event.ts';
import { serializeEvent, type EventFormat } from '../events/serialize.ts';
import { IdleCpu } from '../lib/idle-cpu.ts';
import { addLogSink, LOG_LEVELS, type LogLevel, type LogOrigin } from '../lib/logger.ts';
import { eventEnvelope, logData, TEXT_CHANNEL_LOG, TEXT_CHANNEL_SESSION } from './wire.ts';

const frames = new WeakMap<FsEvent, Partial<Record<EventFormat, Buffer>>>();

/**
 * The wire frame (envelope + serialized event) of an event in one format, serialized once per
 * format whatever the number of clients (cached with the event object).
 */
export function eventFrame(event: FsEvent, format: EventFormat): Buffer {
  let byFormat = frames.get(event);
  if (!byFormat) {
    byFormat = {};
    frames.set(event, byFormat);
  }
  return (byFormat[format] ??= Buffer.from(eventEnvelope(format, serializeEvent(event, format))));
}

/** A connection fed by the hub. */
export interface HubClient {
  /** Called for every event fired on the core; must be quick and never throw. */
  deliverEvent(event: FsEvent): void;
  /** The level of `log <level>` (FreeSWITCH numbers), undefined when the client does not log. */
  readonly logLevel: number | undefined;
  /** Called for every log line at or under its log level; `frame` is the log/data frame. */
  deliverLog(level: number, frame: Buffer): void;
  /** Called after the turn of the event loop in which the client asked for it (flushSoon); returns the bytes written. */
  flush(): number;
}

/**
 * How long one flush of the clients' output may run before the rest waits for the next turn of the
 * event loop, in ms: the media clock's timers and RTP run in between, whatever the number of
 * clients that have megabytes to write.
 */
const FLUSH_SLICE_MS = 4;

/** FreeSWITCH's level names for the log/data text. */
const LEVEL_TEXT: Record<LogLevel, string> = { error: 'ERR', warning: 'WARNING', notice: 'NOTICE', info: 'INFO', debug: 'DEBUG' };

function timestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)}`;
}

/**
 * One per service: the single bus subscription and log sink of every Event Socket connection
 * (inbound and outbound). The bus subscription exists while a connection exists; the log sink only
 * while a connection logs, so that debug lines are not even built otherwise (Logger.enabled).
 */
export class EslHub {
  private readonly clients = new Set<HubClient>();
  private unsubscribe: (() => void) | undefined;
  private removeSink: (() => void) | undefined;
  private inLog = false;
  /** The idle CPU of every log line, sampled at most once a second. */
  private readonly idleCpu = new IdleCpu(1000);
  /** Clients with output waiting, flushed by one setImmediate (in order, a slice at a time). */
  private toFlush: HubClient[] = [];
  private flushScheduled = false;
  /** The last flush ran out of its slice before serving every client (output is behind). */
  private behind = false;
  private caughtUpWaiters: Array<() => void> = [];
  /** Connections dropped because they did not read their events (over their queue bound). */
  droppedClients = 0;

  constructor(private readonly bus: EventBus) {}

  /** Number of connections. */
  get size(): number {
    return this.clients.size;
  }

  add(client: HubClient): void {
    this.clients.add(client);
    this.unsubscribe ??= this.bus.subscribe((e) => this.onEvent(e));
  }

  remove(client: HubClient): void {
    this.clients.delete(client);
    if (this.clients.size === 0 && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = undefined;
    }
    this.logLevelsChanged();
  }

  /**
   * Has `client.flush()` called after the current turn of the event loop (the client asks once per
   * batch): the events fired during one turn reach each client in one socket write, and one
   * setImmediate serves every client.
   */
  flushSoon(client: HubClient): void {
    this.toFlush.push(client);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushSome());
    }
  }

  /** Flushes clients in order for at most FLUSH_SLICE_MS; the others go first in the next turn. */
  private flushSome(): void {
    this.flushScheduled = false;
    const clients = this.toFlush;
    this.toFlush = [];
    const deadline = performance.now() + FLUSH_SLICE_MS;
    let i = 0;
    while (i < clients.length) {
      clients[i++]!.flush();
      if (performance.now() >= deadline) break;
    }
    if (i < clients.length) {
      this.behind = true;
      this.toFlush = clients.slice(i).concat(this.toFlush);
      this.flushScheduled = true;
      setImmediate(() => this.flushSome());
      return;
    }
    this.behind = false;
    const waiters = this.caughtUpWaiters;
    this.caughtUpWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * While the clients' output is behind (the last flush could not serve them all in its slice),
   * a promise of when it has caught up; else undefined. A connection waits for it before running
   * its next command, so that a client firing events (sendevent) goes no faster than they reach
   * the other clients, instead of filling every queue.
   */
  caughtUp(): Promise<void> | undefined {
    if (!this.behind) return undefined;
    return new Promise((resolve) => this.caughtUpWaiters.push(resolve));
  }

  /** Counts a connection dropped for not reading its events. */
  countDropped(): void {
    this.droppedClients++;
  }

  /** A client started or stopped logging: the log sink is attached only while one logs. */
  logLevelsChanged(): void {
    let logging = false;
    for (const c of this.clients) if (c.logLevel !== undefined) logging = true;
    if (logging && !this.removeSink) {
      this.removeSink = addLogSink((level, scope, message, origin) => this.onLog(level, scope, message, origin));
    } else if (!logging && this.removeSink) {
      this.removeSink();
      this.removeSink = undefined;
    }
  }

  private onEvent(event: FsEvent): void {
    // A client may leave the set while being delivered to (killed); Set iteration allows that.
    for (const client of this.clients) client.deliverEvent(event);
  }

  /**
   * A log line as switch_log prints it: `<date> <idle cpu>% [<LEVEL>] <file>:<line> <scope> <message>`,
   * in a log/data frame whose Log-File, Log-Func and Log-Line name the TypeScript source that logged
   * it, and whose User-Data is the channel's uuid for a channel's line (Text-Channel 3,
   * SWITCH_CHANNEL_ID_SESSION, as SWITCH_CHANNEL_SESSION_LOG sends it), empty otherwise (Text-Channel 0).
   */
  private onLog(level: LogLevel, scope: string, message: string, origin: LogOrigin): void {
    if (this.inLog) return; // a line logged while delivering a line is not delivered again
    const num = LOG_LEVELS[level];
    let wanted = false;
    for (const c of this.clients) if (c.logLevel !== undefined && num <= c.logLevel) wanted = true;
    if (!wanted) return;
    this.inLog = true;
    try {
      const now = new Date();
      const site = origin.site();
      const data = `${timestamp(now)} ${this.idleCpu.percent(now.getTime()).toFixed(2)}% [${LEVEL_TEXT[level]}] `
        + `${site.file}:${site.line} ${scope} ${message}\n`;
      const frame = Buffer.from(logData({
        level: num, channel: origin.uuid ? TEXT_CHANNEL_SESSION : TEXT_CHANNEL_LOG, file: site.file, func: site.func,
        line: site.line, userData: origin.uuid ?? '', data,
      }));
      for (const client of this.clients) client.deliverLog(num, frame);
    } finally {
      this.inLog = false;
    }
  }
}
