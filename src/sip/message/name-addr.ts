import { expect, formatParams, isToken, isWsp, parseParams, readQuoted, skipWsp, type Params } from './grammar.ts';
import { formatUri, parseUri, MAX_URI_CHARS, type SipUri } from './uri.ts';

/** A From/To/Contact/Route/Record-Route value (RFC 3261 §20.10, §25.1 name-addr / addr-spec). */
export interface NameAddr {
  /** Display name, unquoted and unescaped; undefined when absent. */
  displayName?: string;
  uri: SipUri;
  /** Header parameters after the URI (tag, expires, q...), names lower-cased. */
  params: Params;
  /** The value exactly as received (trimmed), so route sets can be echoed unchanged. */
  raw: string;
}

/** Parses one name-addr or addr-spec value; throws a SIP_SYNTAX AppError when malformed. */
export function parseNameAddr(text: string): NameAddr {
  const raw = text.trim();
  expect(raw.length > 0 && raw.length <= MAX_URI_CHARS * 2, 'empty or oversized address');
  let i = 0;
  let displayName: string | undefined;
  if (raw[0] === '"') {
    const q = readQuoted(raw, 0);
    displayName = q.value;
    i = skipWsp(raw, q.end);
    expect(raw[i] === '<', 'quoted display name not followed by <');
  } else {
    const lt = raw.indexOf('<');
    if (lt >= 0) {
      displayName = parseTokenDisplayName(raw.slice(0, lt));
      i = lt;
    }
  }
  let uriText: string;
  if (raw[i] === '<') {
    const gt = raw.indexOf('>', i);
    expect(gt > i, 'unterminated <');
    uriText = raw.slice(i + 1, gt);
    i = gt + 1;
  } else {
    // addr-spec: the URI ends at the first ';' and must not contain ',', '?' or ';' (RFC 3261 §20.10).
    let j = i;
    while (j < raw.length && raw[j] !== ';' && !isWsp(raw[j])) j++;
    uriText = raw.slice(i, j);
    expect(!uriText.includes('?') && !uriText.includes(','), 'addr-spec with ? or , must be in <>');
    i = j;
  }
  const uri = parseUri(uriText);
  const { params, end } = parseParams(raw, i);
  expect(end === raw.length, 'trailing characters after address');
  return displayName === undefined ? { uri, params, raw } : { displayName, uri, params, raw };
}

/** `*(token LWS)` display name (RFC 4475 `lwsdisp` allows no LWS before '<'). */
function parseTokenDisplayName(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed.length === 0) return undefined;
  const words = trimmed.split(/[ \t]+/);
  expect(words.every(isToken), 'display name has non-token characters and is not quoted');
  return words.join(' ');
}

/** Serialises as `"Display" <uri>;params` (always name-addr form). */
export function formatNameAddr(addr: { displayName?: string; uri: SipUri; params: Params }): string {
  const name = addr.displayName !== undefined && addr.displayName !== ''
    ? `"${addr.displayName.replace(/["\\]/g, '\\$&')}" `
    : '';
  return `${name}<${formatUri(addr.uri)}>${formatParams(addr.params)}`;
}

/** The `tag` header parameter, or undefined. */
export function tagOf(addr: NameAddr): string | undefined {
  const tag = addr.params.get('tag');
  return tag === null ? undefined : tag;
}
