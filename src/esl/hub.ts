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
}

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
