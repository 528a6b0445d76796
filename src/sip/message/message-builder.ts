import { headerKey } from './grammar.ts';
import { newTag } from './ids.ts';
import type { SipHeader, SipMessage } from './message.ts';
import { tagOf } from './name-addr.ts';
import { reasonPhrase } from './reason-phrases.ts';
import { formatVia, type Via } from './via.ts';

/** Ordered header lines to write: [name, value]. */
export type HeaderList = Array<[string, string]>;

/** Writes a start line, headers, Content-Type (when a body is given) and Content-Length, then the body. */
export function serializeMessage(startLine: string, headers: HeaderList, body?: string | Buffer, contentType?: string): Buffer {
  const bodyBuf = body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  let head = `${startLine}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  if (bodyBuf.length > 0 && contentType !== undefined) head += `Content-Type: ${contentType}\r\n`;
  head += `Content-Length: ${bodyBuf.length}\r\n\r\n`;
  return bodyBuf.length > 0 ? Buffer.concat([Buffer.from(head, 'utf8'), bodyBuf]) : Buffer.from(head, 'utf8');
}

/** Options of a response built from a request. */
export interface ResponseOptions {
  /** Reason phrase (default from the status). */
  reason?: string;
  /** To tag added when the request's To has none (RFC 3261 §8.2.6.2); omit for 100 Trying. */
  toTag?: string;
  /** Extra headers after the mandatory ones (Contact, Record-Route, Allow...). */
  headers?: HeaderList;
  body?: string | Buffer;
  /** Content-Type of the body (default application/sdp). */
  contentType?: string;
  /** Server header value. */
  server?: string;
}

/**
 * Builds a response (RFC 3261 §8.2.6): Via list copied (the top one with received/rport as stamped),
 * From, To (+ our tag), Call-ID and CSeq copied, then the extra headers, Server and Content-Length.
 */
export function buildResponse(req: SipMessage, status: number, options: ResponseOptions = {}): Buffer {
  const headers: HeaderList = viaLines(req.via[0], req.viaValues.slice(1));
  headers.push(['From', req.from.raw]);
  const addTag = options.toTag !== undefined && tagOf(req.to) === undefined;
  headers.push(['To', addTag ? `${req.to.raw};tag=${options.toTag}` : req.to.raw]);
  headers.push(['Call-ID', req.callId], ['CSeq', `${req.cseq.seq} ${req.cseq.method}`]);
  headers.push(...(options.headers ?? []));
  if (options.server) headers.push(['Server', options.server]);
  const start = `SIP/2.0 ${status} ${options.reason ?? reasonPhrase(status)}`;
  return serializeMessage(start, headers, options.body, options.contentType ?? 'application/sdp');
}

function viaLines(top: Via, rest: readonly string[]): HeaderList {
  return [['Via', formatVia(top)], ...rest.map((v): [string, string] => ['Via', v])];
}

/**
 * A stateless error response to a request the parser refused (RFC 3261 §8.2): headers copied raw from
 * what was readable; `top` is the parsed and stamped top Via, `restVias` the other Via values.
 */
export function buildErrorResponse(parsedHeaders: readonly SipHeader[], top: Via, restVias: readonly string[],
  status: number, reason: string, server?: string): Buffer {
  const headers: HeaderList = viaLines(top, restVias);
  for (const key of ['from', 'to', 'call-id', 'cseq']) {
    const h = parsedHeaders.find((x) => headerKey(x.name) === key);
    if (h === undefined) continue;
    const name = key === 'call-id' ? 'Call-ID' : key === 'cseq' ? 'CSeq' : key === 'from' ? 'From' : 'To';
    const needsTag = key === 'to' && !/;\s*tag\s*=/i.test(h.value);
    headers.push([name, needsTag ? `${h.value};tag=${newTag()}` : h.value]);
  }
  if (server) headers.push(['Server', server]);
  return serializeMessage(`SIP/2.0 ${status} ${reason}`, headers);
}
