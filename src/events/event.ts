/** A FreeSWITCH-shaped event: ordered headers (names as FreeSWITCH spells them) and an optional body. */
export class FsEvent {
  /** Header name/value pairs in insertion order; a name appears at most once. */
  readonly headers: Array<[string, string]> = [];
  /** Event body (for mod_audio_stream events: compact JSON), or undefined. */
  body: string | undefined;

  /**
   * Creates an event with its Event-Name header, preceded by Event-Subclass when there is a subclass:
   * the order every Event Socket client of FreeSWITCH sees (mod_event_socket hands each listener a
   * switch_event_dup copy, which starts with Event-Subclass and then copies the other headers). The
   * bus adds the standard headers after them.
   */
  constructor(readonly name: string, readonly subclass?: string) {
    if (subclass !== undefined) this.headers.push(['Event-Subclass', subclass]);
    this.headers.push(['Event-Name', name]);
  }

  /** Appends a header the caller knows is not there yet (no lookup). */
  add(name: string, value: string | number): this {
    this.headers.push([name, String(value)]);
    return this;
  }

  /** Adds or replaces a header. */
  set(name: string, value: string | number): this {
    const text = String(value);
    const lower = name.toLowerCase();
    const existing = this.headers.find(([n]) => n.toLowerCase() === lower);
    if (existing) existing[1] = text;
    else this.headers.push([name, text]);
    return this;
  }

  /** Header value by case-insensitive name. */
  get(name: string): string | undefined {
    const lower = name.toLowerCase();
    return this.headers.find(([n]) => n.toLowerCase() === lower)?.[1];
  }
}
