import { expect, formatParams, isToken, parseParams, skipWsp, splitCommaList, type Params } from './grammar.ts';
import { hostAddress } from './uri.ts';

/** RFC 3261 §8.1.1.7 branch prefix of transaction ids built by RFC 3261 elements. */
export const MAGIC_COOKIE = 'z9hG4bK';

/** Longest single Via value accepted, in characters (RFC 4475 `longreq` has a ~230-character branch). */
export const MAX_VIA_CHARS = 4096;

/** One Via value (RFC 3261 §20.42): `SIP/2.0/UDP host:port;branch=...;rport;received=...`. */
export interface Via {
  /** Protocol name and version, upper-case ("SIP/2.0"). */
  protocol: string;
  /** Upper-case transport (UDP, TCP, TLS, SCTP, WS, or an unknown token). */
  transport: string;
  /** sent-by host; IPv6 keeps its brackets. */
  host: string;
  /** sent-by port, undefined when absent (default 5060/5061). */
  port?: number;
  /** branch, received, rport, maddr, ttl...; names lower-cased, valueless → null. */
  params: Params;
}

const HOST_RE = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.?)$/;

/** Parses a whole Via header field value (one or more comma-separated via-parms); throws a SIP_SYNTAX AppError. */
export function parseViaList(value: string): Via[] {
  const parts = splitCommaList(value);
  return parts.map((part) => parseVia(part));
}

/** Parses one via-parm. LWS is allowed around the '/' of sent-protocol and around ';' and '='. */
export function parseVia(text: string): Via {
  const s = text.trim();
  expect(s.length > 0 && s.length <= MAX_VIA_CHARS, 'empty or oversized Via value');
  let i = 0;
  const fields: string[] = [];
  for (let k = 0; k < 3; k++) {
    i = skipWsp(s, i);
    let j = i;
    while (j < s.length && isToken(s[j])) j++;
    fields.push(s.slice(i, j));
    i = skipWsp(s, j);
    if (k < 2) {
      expect(s[i] === '/', 'malformed Via sent-protocol');
      i++;
    }
  }
  expect(fields.every((f) => f.length > 0), 'malformed Via sent-protocol');
  expect(i > 0 && (s[i - 1] === ' ' || s[i - 1] === '\t'), 'Via sent-protocol not followed by LWS');
  let j = i;
  if (s[j] === '[') j = s.indexOf(']', j) + 1;
  while (j > 0 && j < s.length && s[j] !== ':' && s[j] !== ';' && s[j] !== ' ' && s[j] !== '\t') j++;
  expect(j > i, 'Via without sent-by');
  const host = s.slice(i, j);
  expect(HOST_RE.test(host), 'invalid Via host');
  i = skipWsp(s, j);
  let port: number | undefined;
  if (s[i] === ':') {
    i = skipWsp(s, i + 1);
    let k = i;
    while (k < s.length && s[k] >= '0' && s[k] <= '9') k++;
    port = Number(s.slice(i, k));
    expect(k > i && k - i <= 5 && port <= 65535, 'invalid Via port');
    i = k;
  }
  const { params, end } = parseParams(s, i);
  expect(end === s.length, 'trailing characters in Via');
  const via: Via = { protocol: `${fields[0]}/${fields[1]}`.toUpperCase(), transport: fields[2].toUpperCase(), host, params };
  if (port !== undefined) via.port = port;
  return via;
}

/** Serialises a Via value ("SIP/2.0/UDP host:port;params"). */
export function formatVia(via: Via): string {
  const port = via.port !== undefined ? `:${via.port}` : '';
  return `${via.protocol}/${via.transport} ${via.host}${port}${formatParams(via.params)}`;
}

/** The branch parameter, or undefined. */
export function branchOf(via: Via): string | undefined {
  return via.params.get('branch') ?? undefined;
}

/** `host:port` of sent-by with the transport's default port filled in (transaction matching, RFC 3261 §17.2.3). */
export function sentBy(via: Via): string {
  const port = via.port ?? (via.transport === 'TLS' ? 5061 : 5060);
  return `${hostAddress(via.host).toLowerCase()}:${port}`;
}
