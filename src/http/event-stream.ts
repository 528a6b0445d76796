// The live event stream (Server-Sent Events) of the HTTP API: one bus listener for every client;
// each event is redacted and serialized once, into one Buffer written to every client that wants
// it. A client that leaves more than maxQueueBytes unread (the socket's buffer plus Node's) is
// dropped at once, so a client that does not read costs a bounded amount of memory and no time.
import type { ServerResponse } from 'node:http';
import type { EventBus } from '../events/bus.ts';
import { FsEvent } from '../events/event.ts';
import type { Logger } from '../lib/logger.ts';
import { isSecretName, redactValue } from '../lib/redact.ts';

/** Which events one client asked for (`?events=`, `?subclass=`, `?uuid=`). */
export type EventFilter = (event: FsEvent) => boolean;

/**
 * The filter of an /api/events URL: `events` (names, comma or space separated, default ALL unless
 * only `subclass` is given), `subclass` (CUSTOM subclasses; alone, those subclasses only) and `uuid`
 * (the events of one channel).
 */
export function eventFilter(url: URL): EventFilter {
  const names = (url.searchParams.get('events') ?? (url.searchParams.has('subclass') ? '' : 'ALL')).split(/[,\s]+/).filter(Boolean).map((n) => n.toUpperCase());
  const subclasses = (url.searchParams.get('subclass') ?? '').split(/[,\s]+/).filter(Boolean);
  const uuid = url.searchParams.get('uuid') ?? undefined;
  const all = names.includes('ALL');
  const subclassOk = (e: FsEvent) => subclasses.length === 0 || e.name !== 'CUSTOM' || subclasses.includes(e.subclass ?? '');
  return (e) => {
    if (uuid && e.get('Unique-ID') !== uuid) return false;
    if (all || names.includes(e.name)) return subclassOk(e);
    return e.subclass !== undefined && subclasses.includes(e.subclass);
  };
}

/** Header names already judged (secret or not), so an event costs a map lookup per header; cleared when full. */
const secretHeaders = new Map<string, boolean>();
const SECRET_CACHE_ENTRIES = 4096;

/** Whether header `name` (a channel variable as `variable_<name>`, or any other header) holds a secret or STREAM_EXTRA_HEADERS. */
function needsRedaction(name: string): boolean {
  let known = secretHeaders.get(name);
  if (known === undefined) {
    const bare = name.startsWith('variable_') ? name.slice(9) : name;
    known = isSecretName(bare) || bare.toLowerCase() === 'stream_extra_headers';
    if (secretHeaders.size >= SECRET_CACHE_ENTRIES) secretHeaders.clear();
    secretHeaders.set(name, known);
  }
  return known;
}

/** The event as the HTTP API shows it: itself when it holds no secret, else a copy with those values redacted (lib/redact.ts). */
export function redactEvent(event: FsEvent): FsEvent {
  let copy: FsEvent | undefined;
  const headers = event.headers;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (!needsRedaction(name)) continue;
    const bare = name.startsWith('variable_') ? name.slice(9) : name;
    const shown = redactValue(bare, value);
    if (shown === value) continue;
    if (!copy) {
      copy = new FsEvent(event.name, event.subclass);
      copy.headers.length = 0;
      for (const [n, v] of headers) copy.headers.push([n, v]);
      copy.body = event.body;
    }
    copy.headers[i] = [name, shown];
  }
  return copy ?? event;
}

/** The error a dropped client's socket is destroyed with (handed to each of its queued writes). */
const DROPPED = Object.assign(new Error('dropped: over http.maxQueueBytes unread'), { code: 'ERR_EVENT_STREAM_DROPPED' });

/** Dropped clients' sockets destroyed per turn of the event loop. */
const CLOSE_PER_TURN = 4;

/**
 * Time one turn of the event loop may spend handing queued events to the kernel: copying into a
 * hundred sockets took up to 230 ms a turn. Past this slice the other clients are flushed first in
 * the next turns, so the media clock and the RTP sockets are served in between (the clock plays
 * what it missed). Not shorter: in a slice of 4 ms, 100 clients whose kernel buffers were still
 * filling (4 MB each) held a client that reads back past http.maxQueueBytes, and it was dropped.
 */
const FLUSH_SLICE_MS = 25;

interface Client {
  res: ServerResponse;
  wants: EventFilter;
  /** Source address and port, for the log. */
  peer: string;
  /** Writes are being gathered until the next flush. */
  corked: boolean;
}

/** What a fan-out needs: the bus, the JSON serializer, the per-client bound and a log. */
export interface EventStreamOptions {
  bus: EventBus;
  eventToJson: (event: FsEvent) => string;
  maxQueueBytes: number;
  log: Logger;
}

/** Every live event stream client of one HTTP API, fed by one bus listener while there is a client. */
export class EventStreamFanout {
  private readonly clients = new Set<Client>();
  private unsubscribe: (() => void) | undefined;
  /** Corked clients in the order they were corked, uncorked by setImmediate, a time slice per turn. */
  private readonly corked: Client[] = [];
  private flushScheduled = false;
  /** Dropped clients whose sockets are still to be destroyed. */
  private closing: ServerResponse[] = [];
  /** Clients dropped because they left more than maxQueueBytes unread. */
  dropped = 0;
  /** Events serialized (once each, whatever the number of clients that got it). */
  serialized = 0;

  constructor(private readonly options: EventStreamOptions) {}

  /** Connected clients. */
  get size(): number {
    return this.clients.size;
  }

  /** Adds a client whose response head is sent; it gets every event `wants` accepts until it closes or is dropped. */
  add(res: ServerResponse, wants: EventFilter, peer: string): void {
    const client: Client = { res, wants, peer, corked: false };
    this.clients.add(client);
    this.unsubscribe ??= this.options.bus.subscribe((event) => this.deliver(event));
    res.on('close', () => this.remove(client));
  }

  /** Ends every stream. */
  closeAll(): void {
    for (const client of [...this.clients]) {
      this.remove(client);
      client.res.end();
    }
  }

  private remove(client: Client): void {
    if (!this.clients.delete(client) || this.clients.size > 0) return;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private deliver(event: FsEvent): void {
    let frame: Buffer | undefined;
    for (const client of this.clients) {
      if (!client.wants(event)) continue;
      frame ??= this.frame(event);
      let pending = client.res.writableLength;
      if (pending + frame.length > this.options.maxQueueBytes && client.corked) {
        // Part of what waits is ours: the client is corked until a later slice. Handed to the
        // kernel now, only what it refuses (a client that does not read) counts against the bound.
        client.corked = false;
        client.res.uncork();
        pending = client.res.writableLength;
      }
      if (pending + frame.length > this.options.maxQueueBytes) {
        this.drop(client, pending);
        continue;
      }
      if (!client.corked) {
        // The events of one turn of the event loop go out in one write per client (one writev), not one each.
        client.res.cork();
        client.corked = true;
        this.corked.push(client);
        this.flushScheduled ||= (setImmediate(this.flush), true);
      }
      client.res.write(frame);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const clients = this.corked;
    const started = performance.now();
    let i = 0;
    while (i < clients.length) {
      const client = clients[i++]!;
      // Already flushed (at its bound, in deliver) or dropped meanwhile: nothing to hand over.
      if (!client.corked || !this.clients.has(client)) continue;
      client.corked = false;
      if (!client.res.destroyed) client.res.uncork();
      if (performance.now() - started >= FLUSH_SLICE_MS) break;
    }
    if (i < clients.length) {
      // Out of time: the rest go out next turn, first, with what they get meanwhile.
      clients.splice(0, i);
      this.flushScheduled = (setImmediate(this.flush), true);
      return;
    }
    clients.length = 0;
  };

  /** `event: <subclass or name>` and `data: <FreeSWITCH JSON>` (which has no raw line break), as one Buffer. */
  private frame(event: FsEvent): Buffer {
    this.serialized++;
    const name = (event.subclass ?? event.name).replace(/[\r\n]/g, ' ');
    return Buffer.from(`event: ${name}\ndata: ${this.options.eventToJson(redactEvent(event))}\n\n`);
  }

  /**
   * Stops writing to the client at once; its socket is destroyed from a queue, a few per turn of the
   * event loop: clients that stop reading together reach the bound together, and closing a hundred
   * sockets with megabytes queued in one turn would stall the media clock.
   */
  private drop(client: Client, pending: number): void {
    this.remove(client);
    this.dropped++;
    this.options.log.warning(`dropped the live event stream client ${client.peer}: ${pending} bytes unread, over http.maxQueueBytes (${this.options.maxQueueBytes})`);
    this.closing.push(client.res);
    if (this.closing.length === 1) setImmediate(this.closeSome);
  }

  private readonly closeSome = (): void => {
    for (const res of this.closing.splice(0, CLOSE_PER_TURN)) {
      // One shared error for every write still queued (Node makes one ERR_STREAM_DESTROYED each otherwise: thousands per client).
      res.destroy(DROPPED);
    }
    if (this.closing.length > 0) setImmediate(this.closeSome);
  };
}
