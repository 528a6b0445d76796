import { expect, type Params } from './grammar.ts';

/** Longest URI text accepted, in characters (RFC 4475 `longreq` URIs are ~400). */
export const MAX_URI_CHARS = 8192;

/**
 * A parsed URI (RFC 3261 §19.1). For `sip`/`sips` every field is filled; for other schemes
 * (tel, urn, http...) only `scheme` and `opaque` are, and `host` is empty.
 * `user`/`password` are kept escaped, exactly as on the wire (see unescapeUriPart).
 */
export interface SipUri {
  /** Lower-case scheme: 'sip', 'sips', or another (absoluteURI). */
  scheme: string;
  user?: string;
  password?: string;
  /** Host as written, IPv6 references keep their brackets ("[2001:db8::1]"). */
  host: string;
  port?: number;
  /** uri-parameters (transport, lr, maddr, user...), names lower-cased, valueless → null. */
  params: Params;
  /** The raw `hname=hvalue&...` part after '?', if any. */
  headers?: string;
  /** For non-SIP schemes: everything after "scheme:". */
  opaque?: string;
}

const ALNUM = 'A-Za-z0-9';
const UNRESERVED = `${ALNUM}\\-_.!~*'()`;
const ESCAPED = '%[0-9A-Fa-f]{2}';
const USER_RE = new RegExp(`^(?:[${UNRESERVED}&=+$,;?/]|${ESCAPED})+$`);
const PASSWORD_RE = new RegExp(`^(?:[${UNRESERVED}&=+$,]|${ESCAPED})*$`);
const PARAMCHARS_RE = new RegExp(`^(?:[${UNRESERVED}\\[\\]/:&+$]|${ESCAPED})+$`);
const HEADERS_RE = new RegExp(`^(?:[${UNRESERVED}\\[\\]/?:+$=&]|${ESCAPED})*$`);
const HOSTNAME_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;
const IPV6REF_RE = /^\[[0-9A-Fa-f:.]{2,45}\]$/;
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*$/;
const OPAQUE_RE = /^[^\s<>"]+$/;

/** Parses a URI; throws a SIP_SYNTAX AppError when it is not valid RFC 3261 syntax (no LWS allowed anywhere). */
export function parseUri(text: string): SipUri {
  expect(text.length > 0 && text.length <= MAX_URI_CHARS, 'URI empty or too long');
  const colon = text.indexOf(':');
  expect(colon > 0, 'URI without scheme');
  const scheme = text.slice(0, colon).toLowerCase();
  expect(SCHEME_RE.test(scheme), 'invalid URI scheme');
  const rest = text.slice(colon + 1);
  if (scheme !== 'sip' && scheme !== 'sips') {
    expect(OPAQUE_RE.test(rest), 'invalid absolute URI');
    return { scheme, host: '', params: new Map(), opaque: rest };
  }
  return parseSipRest(scheme, rest);
}

function parseSipRest(scheme: string, rest: string): SipUri {
  const uri: SipUri = { scheme, host: '', params: new Map() };
  // '@' is legal only in userinfo, so the last one ends it (users may hold ';', '?', '/'...).
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const pc = userinfo.indexOf(':');
    uri.user = pc >= 0 ? userinfo.slice(0, pc) : userinfo;
    expect(USER_RE.test(uri.user), 'invalid URI user');
    if (pc >= 0) {
      uri.password = userinfo.slice(pc + 1);
      expect(PASSWORD_RE.test(uri.password), 'invalid URI password');
    }
    rest = rest.slice(at + 1);
  }
  const afterHost = parseHostPort(uri, rest);
  let i = afterHost;
  const q = rest.indexOf('?', i);
  const paramText = rest.slice(i, q >= 0 ? q : rest.length);
  if (paramText.length > 0) parseUriParams(uri.params, paramText);
  if (q >= 0) {
    uri.headers = rest.slice(q + 1);
    expect(HEADERS_RE.test(uri.headers), 'invalid URI headers');
  }
  return uri;
}

function parseHostPort(uri: SipUri, rest: string): number {
  let i: number;
  if (rest.startsWith('[')) {
    i = rest.indexOf(']');
    expect(i > 0, 'unterminated IPv6 reference');
    uri.host = rest.slice(0, ++i);
    expect(IPV6REF_RE.test(uri.host), 'invalid IPv6 reference');
  } else {
    i = 0;
    while (i < rest.length && rest[i] !== ':' && rest[i] !== ';' && rest[i] !== '?') i++;
    uri.host = rest.slice(0, i);
    expect(HOSTNAME_RE.test(uri.host), 'invalid URI host');
  }
  if (rest[i] === ':') {
    let j = i + 1;
    while (j < rest.length && rest[j] >= '0' && rest[j] <= '9') j++;
    const port = Number(rest.slice(i + 1, j));
    expect(j > i + 1 && j - i <= 6 && port <= 65535, 'invalid URI port');
    uri.port = port;
    i = j;
  }
  expect(i === rest.length || rest[i] === ';' || rest[i] === '?', 'invalid characters after URI host');
  return i;
}

function parseUriParams(params: Params, text: string): void {
  for (const part of text.slice(1).split(';')) {
    const eq = part.indexOf('=');
    const name = eq >= 0 ? part.slice(0, eq) : part;
    expect(PARAMCHARS_RE.test(name), 'invalid URI parameter name');
    const value = eq >= 0 ? part.slice(eq + 1) : null;
    if (value !== null) expect(PARAMCHARS_RE.test(value), 'invalid URI parameter value');
    params.set(name.toLowerCase(), value);
  }
}

/** Serialises a URI back to text (parameters in their original order). */
export function formatUri(uri: SipUri): string {
  if (uri.opaque !== undefined) return `${uri.scheme}:${uri.opaque}`;
  let out = `${uri.scheme}:`;
  if (uri.user !== undefined) out += uri.password !== undefined ? `${uri.user}:${uri.password}@` : `${uri.user}@`;
  out += uri.host;
  if (uri.port !== undefined) out += `:${uri.port}`;
  for (const [name, value] of uri.params) out += value === null ? `;${name}` : `;${name}=${value}`;
  if (uri.headers !== undefined) out += `?${uri.headers}`;
  return out;
}

/** Decodes %HH escapes (never recursively, RFC 3986 §2.4); invalid escapes are left as they are. */
export function unescapeUriPart(text: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      for (const b of Buffer.from(text[i], 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The host usable as a socket address: IPv6 brackets removed. */
export function hostAddress(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** A host for use in a URI or Via: IPv6 addresses get brackets. */
export function uriHost(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}
