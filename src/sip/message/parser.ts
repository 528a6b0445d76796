import { AppError, isAppError, type CodedError, type ErrorCode, type Result } from '../../lib/errors.ts';
import { headerKey, isToken, parseDecimal, splitCommaList, syntaxError } from './grammar.ts';
import { isValidSipDate, parseCSeq } from './header-values.ts';
import { SipMessage, type SipHeader } from './message.ts';
import { parseNameAddr } from './name-addr.ts';
import { parseUri, type SipUri } from './uri.ts';
import { parseVia, type Via } from './via.ts';

/** Default bound on a whole message (headers + body), bytes. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;
/** Bound on the number of header lines in one message. */
export const MAX_HEADER_LINES = 512;

/** How a buffer reached us: a datagram (UDP) or one framed message cut from a stream (TCP). */
export interface ParseOptions {
  /** Message size bound in bytes (default 64 KiB). */
  maxBytes?: number;
  /** True for stream transports: Content-Length is authoritative and the framer cut exactly one message. */
  stream?: boolean;
}

/** Why a message was refused, with what is needed to answer it (when it is a request with a usable Via). */
export interface ParseFailure extends CodedError {
  /** SIP_SYNTAX, SIP_VERSION or SIP_TOO_LARGE. */
  readonly code: ErrorCode;
  /** What is wrong, for the log and the reason phrase. */
  readonly message: string;
  /** The response to send: 400 (SIP_SYNTAX) or 505 (SIP_VERSION) to a request; 0 means drop silently (responses, garbage, oversize). */
  status: number;
  /** True/false when the start line was recognised. */
  isRequest: boolean | undefined;
  /** Request method, when known. */
  method?: string;
  /** Header lines parsed before the failure (From/To/Call-ID/CSeq are copied into the error response). */
  headers: SipHeader[];
}

/** Outcome of parseMessage: never throws. */
export type ParseResult = Result<SipMessage, ParseFailure>;

const SIP_VERSION = 'SIP/2.0';
const SINGLE_HEADERS = ['from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-type'] as const;

interface StartLine {
  isRequest: boolean;
  method?: string;
  uriText?: string;
  status?: number;
  reason?: string;
  version: string;
  /** Set when the request line is malformed but the method is readable (answer 400 once headers are parsed). */
  error?: string;
}

/**
 * Parses one SIP message (RFC 3261 §7, §18.3). Datagrams: a body shorter than Content-Length is an
 * error, extra bytes after it are ignored (RFC 4475 `dblreq`); a missing Content-Length means "the
 * rest". Streams: the framer already cut exactly one message. Never throws.
 */
export function parseMessage(buf: Buffer, options: ParseOptions = {}): ParseResult {
  const state: { headers: SipHeader[]; start?: StartLine } = { headers: [] };
  try {
    return { ok: true, value: parseOrThrow(buf, options, state) };
  } catch (err) {
    const known = isAppError(err);
    const code: ErrorCode = known ? err.code : 'SIP_SYNTAX';
    const isRequest = state.start?.isRequest;
    return {
      ok: false,
      error: {
        code, message: known ? err.message : 'unparseable message', status: responseStatus(code, isRequest),
        isRequest, method: state.start?.method, headers: state.headers,
      },
    };
  }
}

/** The stateless answer to a refused message (RFC 3261 §8.2.2, §8.2.3 for the version); 0 = none. */
function responseStatus(code: ErrorCode, isRequest: boolean | undefined): number {
  if (isRequest !== true) return 0;
  return code === 'SIP_SYNTAX' ? 400 : code === 'SIP_VERSION' ? 505 : 0;
}

function parseOrThrow(buf: Buffer, options: ParseOptions, state: { headers: SipHeader[]; start?: StartLine }): SipMessage {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (buf.length > maxBytes) throw new AppError('SIP_TOO_LARGE', `message of ${buf.length} bytes exceeds ${maxBytes}`);
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++; // §7.5: ignore leading CRLFs
  const { headerEnd, bodyStart } = findHeaderEnd(buf, start);
  const lines = unfoldLines(buf.toString('utf8', start, headerEnd));
  const startLine = parseStartLine(lines.shift() ?? '');
  state.start = startLine;
  if (lines.length > MAX_HEADER_LINES) throw syntaxError('too many header lines');
  let lineError: string | undefined;
  for (const line of lines) {
    const header = parseHeaderLine(line);
    if (typeof header === 'string') lineError ??= header;
    else state.headers.push(header);
  }
  if (startLine.error !== undefined) throw syntaxError(startLine.error);
  if (lineError !== undefined) throw syntaxError(lineError);
  if (bodyStart < 0) throw syntaxError('no empty line after the headers');
  if (startLine.version !== SIP_VERSION) {
    throw new AppError('SIP_VERSION', `unsupported version ${startLine.version}`);
  }
  return buildMessage(buf, bodyStart, startLine, state.headers, options.stream === true);
}

function findHeaderEnd(buf: Buffer, start: number): { headerEnd: number; bodyStart: number } {
  const crlf = buf.indexOf('\r\n\r\n', start, 'latin1');
  const lf = buf.indexOf('\n\n', start, 'latin1');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { headerEnd: crlf, bodyStart: crlf + 4 };
  if (lf >= 0) return { headerEnd: lf, bodyStart: lf + 2 };
  return { headerEnd: buf.length, bodyStart: -1 };
}

/** Splits the header section into logical lines: a line starting with SP/HTAB continues the previous one (§7.3.1). */
function unfoldLines(text: string): string[] {
  const lines: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && lines.length > 1) {
      lines[lines.length - 1] += ' ' + trimLws(line);
    } else {
      lines.push(line); // bounded by the message size; the count is checked once the start line is known
    }
  }
  return lines;
}

function parseStartLine(line: string): StartLine {
  if (line.startsWith('SIP/')) {
    const m = /^(SIP\/[0-9]+\.[0-9]+) ([1-6][0-9]{2})(?: (.*))?$/.exec(line);
    if (m === null) throw syntaxError('malformed status line');
    return { isRequest: false, version: m[1].toUpperCase(), status: Number(m[2]), reason: m[3] ?? '' };
  }
  // Exactly one SP between the three elements (RFC 4475 `lwsstart`, `trws`, `lwsruri`).
  const m = /^([^ ]+) ([^ ]+) (SIP\/[0-9]+\.[0-9]+)$/i.exec(line);
  const method = /^[^ ]+/.exec(line)?.[0];
  if (m === null || !isToken(m[1])) {
    const looksLikeRequest = method !== undefined && isToken(method) && line.length > method.length;
    if (looksLikeRequest) return { isRequest: true, method, version: SIP_VERSION, error: 'malformed request line' };
    throw syntaxError('malformed start line');
  }
  return { isRequest: true, method: m[1], uriText: m[2], version: m[3].toUpperCase() };
}

/** A header line, or the reason it is malformed (the other lines are still collected for the 400). */
function parseHeaderLine(line: string): SipHeader | string {
  const colon = line.indexOf(':');
  if (colon <= 0) return 'header line without a colon';
  const name = line.slice(0, colon).replace(/[ \t]+$/, '');
  if (!isToken(name)) return `invalid header name "${name.slice(0, 40)}"`;
  return { name, value: trimLws(line.slice(colon + 1)) };
}

/** Trims SP and HTAB only (String.trim would also eat U+FEFF and other Unicode spaces of UTF-8 values). */
function trimLws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

function buildMessage(buf: Buffer, bodyStart: number, start: StartLine, headers: SipHeader[], stream: boolean): SipMessage {
  const byKey = groupHeaders(headers);
  for (const key of SINGLE_HEADERS) {
    const values = byKey.get(key);
    if (values !== undefined && values.length > 1) throw syntaxError(`more than one ${key} header`);
  }
  const { via, viaValues } = parseVias(byKey.get('via'));
  const from = parseNameAddr(required(byKey, 'from'));
  const to = parseNameAddr(required(byKey, 'to'));
  const callId = required(byKey, 'call-id');
  if (/\s/.test(callId)) throw syntaxError('invalid Call-ID');
  const cseq = parseCSeq(required(byKey, 'cseq'));
  let requestUri: SipUri | undefined;
  if (start.isRequest) {
    requestUri = parseUri(start.uriText ?? '');
    if (requestUri.headers !== undefined) throw syntaxError('headers in Request-URI'); // §19.1.1, RFC 4475 `escruri`
    if (cseq.method !== start.method) throw syntaxError('CSeq method does not match the request method');
  }
  validateOptional(byKey);
  const body = cutBody(buf, bodyStart, byKey.get('content-length'), stream);
  return new SipMessage({
    method: start.isRequest ? start.method! : cseq.method,
    requestUri, requestUriText: start.uriText, status: start.status, reason: start.reason,
    headers, body, via, viaValues, from, to, callId, cseq,
  });
}

function groupHeaders(headers: SipHeader[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const h of headers) {
    const key = headerKey(h.name);
    const list = map.get(key);
    if (list) list.push(h.value);
    else map.set(key, [h.value]);
  }
  return map;
}

function required(byKey: Map<string, string[]>, key: string): string {
  const value = byKey.get(key)?.[0];
  if (value === undefined || value.length === 0) throw syntaxError(`missing ${key} header`);
  return value;
}

function parseVias(lines: string[] | undefined): { via: Via[]; viaValues: string[] } {
  if (lines === undefined) throw syntaxError('missing via header');
  const viaValues = lines.flatMap((line) => splitCommaList(line));
  return { via: viaValues.map((v) => parseVia(v)), viaValues };
}

/** Headers that are optional but, when present, must be well formed for us to act on the message. */
function validateOptional(byKey: Map<string, string[]>): void {
  const maxForwards = byKey.get('max-forwards')?.[0];
  if (maxForwards !== undefined && parseDecimal(maxForwards, 255) === undefined) {
    throw syntaxError('invalid Max-Forwards');
  }
  const date = byKey.get('date')?.[0];
  if (date !== undefined && !isValidSipDate(date)) throw syntaxError('invalid Date'); // RFC 4475 `baddate`
  for (const key of ['contact', 'route', 'record-route']) {
    for (const line of byKey.get(key) ?? []) {
      if (key === 'contact' && line.trim() === '*') continue;
      for (const value of splitCommaList(line)) parseNameAddr(value);
    }
  }
}

function cutBody(buf: Buffer, bodyStart: number, lengths: string[] | undefined, stream: boolean): Buffer {
  let length: number | undefined;
  for (const text of lengths ?? []) {
    const n = parseDecimal(text, 0x7fffffff);
    if (n === undefined) throw syntaxError('invalid Content-Length'); // RFC 4475 `ncl`
    if (length !== undefined && n !== length) throw syntaxError('conflicting Content-Length headers');
    length = n;
  }
  const available = buf.length - bodyStart;
  if (length === undefined) return stream ? Buffer.alloc(0) : buf.subarray(bodyStart);
  if (length > available) throw syntaxError('body shorter than Content-Length'); // RFC 4475 `clerr`
  return buf.subarray(bodyStart, bodyStart + length);
}
