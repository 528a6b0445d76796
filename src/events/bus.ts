import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { FsEvent } from './event.ts';
import { FailureLog } from '../lib/failure-log.ts';
import { Logger } from '../lib/logger.ts';

/**
 * Where an event is made, for its Event-Calling-File, -Function and -Line-Number headers (FreeSWITCH
 * names its C source there): one of our files (its base name, as switch_cut_path leaves it) and the
 * function as V8 names it in a stack trace (`Channel.hangup`, `new Channel`). The line is looked up once, from the
 * stack of the first event made at that site, and kept on the site.
 */
export interface EventSite {
  readonly file: string;
  readonly func: string;
  /** Filled on first use (0 when the function is not on the stack). */
  line?: number;
}

/** Declares the site of a function that makes events (keep one per function, at module level). */
export function eventSite(file: string, func: string): EventSite {
  return { file, func };
}

/** Events made without a site name the bus itself. */
const BUS_SITE = eventSite('bus.ts', 'EventBus.create');

const STACK_FRAME = /^\s*at (?:async )?((?:new )?\S+) \((.*):(\d+):\d+\)$/;

/** The line of `site.func` in `site.file` on the current stack (a one-time cost per site). */
function lineOf(site: EventSite): number {
  const stack = new Error().stack ?? '';
  for (const frame of stack.split('\n')) {
    const m = STACK_FRAME.exec(frame);
    if (m && m[1] === site.func && (m[2]!.endsWith(`/${site.file}`) || m[2] === site.file)) return Number(m[3]);
  }
  return 0;
}

/** Receives every fired event; must not throw and must be quick (queue work elsewhere). */
export type EventListener = (event: FsEvent) => void;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `YYYY-MM-DD hh:mm:ss` in local time, as Event-Date-Local. */
export function formatLocalDate(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The in-process event bus: adds FreeSWITCH's standard headers at fire time and fans out. */
export class EventBus {
  /** Core-UUID of this process, as FreeSWITCH's switch_core_get_uuid. */
  readonly coreUuid: string;
  readonly hostname: string;
  private sequence = 0;

  /** A media worker's bus takes the main thread's Core-UUID and host name: its events are the process's. */
  constructor(identity: { coreUuid?: string; hostname?: string } = {}) {
    this.coreUuid = identity.coreUuid ?? randomUUID();
    this.hostname = identity.hostname ?? hostname();
  }
  private readonly listeners = new Set<EventListener>();
  /** Listeners that threw (counted, and logged once per cause); delivery to the others goes on. */
  readonly failures = new FailureLog(new Logger('events'), 'an event listener');

  /** Subscribes; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Creates an event stamped with the standard headers, in FreeSWITCH's order (after Event-Subclass
   * and Event-Name); `site` is the function making it (Event-Calling-*), the bus itself by default.
   */
  create(name: string, subclass?: string, site: EventSite = BUS_SITE): FsEvent {
    const event = new FsEvent(name, subclass);
    site.line ??= lineOf(site);
    const now = new Date();
    const micros = BigInt(now.getTime()) * 1000n;
    event
      .add('Core-UUID', this.coreUuid)
      .add('FreeSWITCH-Hostname', this.hostname)
      .add('FreeSWITCH-Switchname', this.hostname)
      .add('FreeSWITCH-IPv4', '127.0.0.1')
      .add('FreeSWITCH-IPv6', '::1')
      .add('Event-Date-Local', formatLocalDate(now))
      .add('Event-Date-GMT', now.toUTCString())
      .add('Event-Date-Timestamp', micros.toString())
      .add('Event-Calling-File', site.file)
      .add('Event-Calling-Function', site.func)
      .add('Event-Calling-Line-Number', site.line)
      .add('Event-Sequence', ++this.sequence);
    return event;
  }

  /** Delivers the event to every listener, in subscription order. */
  /**
   * Fires an event made on another bus of this process (a media worker's): it takes this bus's next
   * Event-Sequence, so that every listener here sees one increasing sequence, as on FreeSWITCH.
   */
  refire(event: FsEvent): void {
    event.set('Event-Sequence', ++this.sequence);
    this.fire(event);
  }

  fire(event: FsEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.failures.report(err); // a listener's bug must not stop delivery to the others or reach the media path
      }
    }
  }
}
