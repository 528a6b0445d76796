import type { FsEvent } from '../events/event.ts';
import type { EventFormat } from '../events/serialize.ts';
import { EVENT_NAMES, MYEVENTS_EVENTS, nameEvent } from './event-names.ts';

/** One `filter <header> <value>` line, parsed once. */
interface Filter {
  name: string;
  value: string;
  /** `+` (include, the default) or `-` (exclude) prefix. */
  positive: boolean;
  /** The value without its `+`/`-`/space prefix. */
  compareTo: string;
  /** For values starting with `/`: the regex, or null when it does not compile (never matches). */
  regex: RegExp | null | undefined;
}

const ALL_NAMES = EVENT_NAMES.filter((n) => n !== 'ALL');

/** A value `/pattern/flags` as switch_regex_perform reads it (`i` caseless, `s` dot-all); null if malformed. */
function compileFilterRegex(value: string): RegExp | null {
  const close = value.lastIndexOf('/');
  if (close <= 0) return null;
  const opts = value.slice(close + 1);
  let flags = '';
  if (opts.includes('i')) flags += 'i';
  if (opts.includes('s')) flags += 's';
  try {
    return new RegExp(value.slice(1, close), flags);
  } catch {
    return null;
  }
}

/** ASCII-only case-insensitive equality, as strcasecmp. */
function equalsIgnoreCase(a: string, b: string): boolean {
  return a.length === b.length && a.toLowerCase() === b.toLowerCase();
}

/**
 * What one Event Socket connection listens to, with mod_event_socket's rules (event_handler and
 * parse_command): event names accumulate across `event` commands, `ALL` takes everything, tokens
 * after `CUSTOM` are subclasses, filters narrow, `myevents` keeps one call's events.
 */
export class EventSubscription {
  /** LFLAG_EVENTS: set by event/nixevent/myevents, cleared by noevents. */
  enabled = false;
  /** LFLAG_MYEVENTS: only events of this uuid (or of background jobs it owns) pass. */
  myEventsUuid: string | undefined;
  private all = false;
  private readonly names = new Set<string>();
  private readonly subclasses = new Set<string>();
  private readonly filters: Filter[] = [];

  /**
   * `event <tokens>`: the first token may be a format; names are case-insensitive; after CUSTOM
   * every token is a subclass. Returns the format change and how many event names were accepted.
   */
  subscribe(tokens: string[]): { format: EventFormat | undefined; keys: number } {
    let format: EventFormat | undefined;
    let keys = 0;
    let custom = false;
    tokens.forEach((token, i) => {
      const lower = token.toLowerCase();
      if (i === 0 && (lower === 'plain' || lower === 'json' || lower === 'xml')) {
        format = lower;
        return;
      }
      if (custom) {
        this.subclasses.add(token);
        return;
      }
      const name = nameEvent(token);
      if (!name) return;
      keys++;
      if (name === 'ALL') {
        this.all = true;
        for (const n of ALL_NAMES) this.names.add(n);
      } else {
        this.names.add(name);
      }
      if (name === 'CUSTOM') custom = true;
    });
    if (keys > 0) this.enabled = true;
    return { format, keys };
  }

  /** `nixevent <tokens>`: removes names (ALL removes everything) and, after CUSTOM, subclasses. */
  unsubscribe(tokens: string[]): number {
    let keys = 0;
    let custom = false;
    for (const token of tokens) {
      if (custom) {
        this.subclasses.delete(token);
        continue;
      }
      const name = nameEvent(token);
      if (!name) continue;
      keys++;
      if (name === 'CUSTOM') {
        custom = true;
      } else if (name === 'ALL') {
        this.all = false;
        this.names.clear();
      } else {
        this.all = false;
        this.names.delete(name);
      }
    }
    if (keys > 0) this.enabled = true;
    return keys;
  }

  /** `noevents`: forgets every name and subclass; false if events were not enabled. */
  clear(): boolean {
    if (!this.enabled) return false;
    this.enabled = false;
    this.all = false;
    this.names.clear();
    this.subclasses.clear();
    return true;
  }

  /** `myevents`: the channel event list, and only events whose Unique-ID is `uuid`. */
  subscribeMyEvents(uuid: string | undefined): void {
    for (const n of MYEVENTS_EVENTS) this.names.add(n);
    this.myEventsUuid = uuid;
    this.enabled = true;
  }

  /** `filter <name> <value>`; several values per header are kept, in order. */
  addFilter(name: string, value: string): void {
    let i = 0;
    let positive = true;
    for (; i < value.length; i++) {
      const c = value[i];
      if (c === '+') positive = true;
      else if (c === '-') positive = false;
      else if (c !== ' ') break;
    }
    const regex = value.startsWith('/') ? compileFilterRegex(value) : undefined;
    this.filters.push({ name, value, positive, compareTo: value.slice(i), regex });
  }

  /** `filter delete <name> [value]` (all values when none) or `filter delete all`. */
  deleteFilter(name: string, value: string | undefined): void {
    if (name.toLowerCase() === 'all') {
      this.filters.length = 0;
      return;
    }
    for (let i = this.filters.length - 1; i >= 0; i--) {
      const f = this.filters[i]!;
      if (equalsIgnoreCase(f.name, name) && (value === undefined || f.value === value)) this.filters.splice(i, 1);
    }
  }

  /** Number of filters (for tests and diagnostics). */
  get filterCount(): number {
    return this.filters.length;
  }

  /** event_handler's decision for one event. */
  wants(event: FsEvent): boolean {
    if (!this.enabled) return false;
    let send = this.all || (this.names.has(event.name)
      && (event.name !== 'CUSTOM' || event.subclass === undefined || this.subclasses.has(event.subclass)));
    if (send && this.filters.length > 0) send = this.passesFilters(event);
    if (send && this.myEventsUuid !== undefined) {
      const uuid = event.get('Unique-ID');
      send = uuid === this.myEventsUuid || event.get('Job-Owner-UUID') === this.myEventsUuid;
    }
    return send;
  }

  /** The filter walk: some include filter must match and no exclude filter may. */
  private passesFilters(event: FsEvent): boolean {
    let send = false;
    for (const f of this.filters) {
      const value = event.get(f.name);
      if (value === undefined || value === '') continue;
      if (send && f.positive) continue;
      const match = f.regex !== undefined ? f.regex !== null && f.regex.test(value) : equalsIgnoreCase(value, f.compareTo);
      if (!match) continue;
      if (!f.positive) return false;
      send = true;
    }
    return send;
  }
}
