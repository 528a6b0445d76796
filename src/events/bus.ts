import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { FsEvent } from './event.ts';
import { FailureLog } from '../lib/failure-log.ts';
import { Logger } from '../lib/logger.ts';

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
  readonly coreUuid = randomUUID();
  readonly hostname = hostname();
  private sequence = 0;
  private readonly listeners = new Set<EventListener>();
  /** Listeners that threw (counted, and logged once per cause); delivery to the others goes on. */
  readonly failures = new FailureLog(new Logger('events'), 'an event listener');

  /** Subscribes; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Creates an event stamped with the standard headers, in FreeSWITCH's order. */
  create(name: string, subclass?: string): FsEvent {
    const event = new FsEvent(name, subclass);
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
      .add('Event-Calling-File', 'audio-stream')
      .add('Event-Calling-Function', event.subclass ?? event.name)
      .add('Event-Calling-Line-Number', 0)
      .add('Event-Sequence', ++this.sequence);
    // As captured from FreeSWITCH: a CUSTOM event's Event-Subclass follows Event-Sequence.
    if (subclass !== undefined) event.add('Event-Subclass', subclass);
    return event;
  }

  /** Delivers the event to every listener, in subscription order. */
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
