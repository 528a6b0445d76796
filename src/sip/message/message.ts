import { headerKey, LIST_HEADERS, splitCommaList } from './grammar.ts';
import { mediaTypeName, type CSeq } from './header-values.ts';
import type { NameAddr } from './name-addr.ts';
import type { SipUri } from './uri.ts';
import type { Via } from './via.ts';

/** One header field line: its name as written (any case or compact form) and its unfolded, trimmed value. */
export interface SipHeader {
  name: string;
  value: string;
}

/** What the parser fills in; see SipMessage for the meaning of each field. */
export interface SipMessageInit {
  method: string;
  requestUri?: SipUri;
  requestUriText?: string;
  status?: number;
  reason?: string;
  headers: SipHeader[];
  body: Buffer;
  via: Via[];
  viaValues: string[];
  from: NameAddr;
  to: NameAddr;
  callId: string;
  cseq: CSeq;
}

/**
 * A parsed, validated SIP request or response (RFC 3261 §7). The mandatory headers are parsed
 * into typed fields; every header (X-..., unknown ones too) stays reachable by name, case- and
 * compact-form-insensitively.
 */
export class SipMessage {
  /** Request method, or the CSeq method of a response. */
  readonly method: string;
  /** Parsed Request-URI (requests only). */
  readonly requestUri: SipUri | undefined;
  /** Request-URI as received (requests only). */
  readonly requestUriText: string | undefined;
  /** Status code (responses only; 0 for requests). */
  readonly status: number;
  /** Reason phrase (responses only). */
  readonly reason: string;
  /** Header lines in order of arrival. */
  readonly headers: readonly SipHeader[];
  /** Body bytes (exactly Content-Length of them). */
  readonly body: Buffer;
  /** Every Via value, top first; `via[0]` gets `received`/`rport` filled by the UA (RFC 3581). */
  readonly via: Via[];
  /** The raw text of each Via value, aligned with `via` (copied unchanged into responses). */
  readonly viaValues: readonly string[];
  readonly from: NameAddr;
  readonly to: NameAddr;
  readonly callId: string;
  readonly cseq: CSeq;
  private index: Map<string, string[]> | undefined;

  constructor(init: SipMessageInit) {
    this.method = init.method;
    this.requestUri = init.requestUri;
    this.requestUriText = init.requestUriText;
    this.status = init.status ?? 0;
    this.reason = init.reason ?? '';
    this.headers = init.headers;
    this.body = init.body;
    this.via = init.via;
    this.viaValues = init.viaValues;
    this.from = init.from;
    this.to = init.to;
    this.callId = init.callId;
    this.cseq = init.cseq;
  }

  /**
   * The message as it came (start line, header lines in order, body), to be parsed again elsewhere
   * (a media worker gets its calls' requests this way). What the user agent filled into `via[0]`
   * (received, rport) is not in it.
   */
  toWire(): Buffer {
    const start = this.isRequest ? `${this.method} ${this.requestUriText ?? ''} SIP/2.0` : `SIP/2.0 ${this.status} ${this.reason}`;
    let head = `${start}\r\n`;
    for (const h of this.headers) head += `${h.name}: ${h.value}\r\n`;
    return Buffer.concat([Buffer.from(`${head}\r\n`, 'utf8'), this.body]);
  }

  /** True for requests. */
  get isRequest(): boolean {
    return this.status === 0;
  }

  private lookup(name: string): string[] {
    if (this.index === undefined) {
      this.index = new Map();
      for (const h of this.headers) {
        const key = headerKey(h.name);
        const list = this.index.get(key);
        if (list) list.push(h.value);
        else this.index.set(key, [h.value]);
      }
    }
    return this.index.get(headerKey(name)) ?? [];
  }

  /** The first value of a header (any case, compact form accepted), or undefined. */
  getHeader(name: string): string | undefined {
    return this.lookup(name)[0];
  }

  /** Every header line's value for this name, in order (a comma list in one line stays one entry). */
  getHeaders(name: string): string[] {
    return [...this.lookup(name)];
  }

  /** Every comma-separated element of a list header (Via, Route, Allow, Require...) across lines. */
  getList(name: string): string[] {
    const values = this.lookup(name);
    if (!LIST_HEADERS.has(headerKey(name))) return [...values];
    return values.flatMap((v) => splitCommaList(v)).filter((v) => v.length > 0);
  }

  /** Every header line as [name as received, value], in order (e.g. to copy all X- headers). */
  headerEntries(): Array<[string, string]> {
    return this.headers.map((h): [string, string] => [h.name, h.value]);
  }

  /** True when at least one line of this header exists. */
  hasHeader(name: string): boolean {
    return this.lookup(name).length > 0;
  }

  /** Lower-case `type/subtype` of Content-Type, or undefined. */
  get contentType(): string | undefined {
    return mediaTypeName(this.getHeader('content-type'));
  }

  /** The body decoded as UTF-8. */
  get bodyText(): string {
    return this.body.toString('utf8');
  }
}
