import { AppError } from '../../lib/errors.ts';

/**
 * RFC 3261 §25.1 character classes and the small lexical helpers every SIP header parser shares:
 * header-name canonicalisation (compact forms, §7.3.3), comma-list splitting that respects quotes
 * and angle brackets (§7.3.1), generic-param lists with LWS (§25.1), quoted strings.
 */

/**
 * A SIP syntax error: an AppError SIP_SYNTAX, thrown inside the SIP parsers only; the message parser
 * catches it and answers 400 (it never leaves src/sip).
 */
export function syntaxError(message: string): AppError {
  return new AppError('SIP_SYNTAX', message);
}

/** Throws a SIP_SYNTAX AppError with `message` when `ok` is false. */
export function expect(ok: boolean, message: string): asserts ok {
  if (!ok) throw syntaxError(message);
}

const TOKEN_EXTRA = "-.!%*_+`'~";
const TOKEN = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9]/.test(ch) || TOKEN_EXTRA.includes(ch)) TOKEN[c] = 1;
}

/** True when every character of `s` is a token character (RFC 3261 §25.1 `token`) and `s` is not empty. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) return false;
  }
  return true;
}

/** True for SP and HTAB. */
export function isWsp(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/** RFC 3261 §7.3.3 compact header names, lower-case, mapped to their lower-case full names. */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type',
  f: 'from', s: 'subject', k: 'supported', t: 'to', v: 'via', o: 'event', r: 'refer-to',
  b: 'referred-by', u: 'allow-events', x: 'session-expires', y: 'identity', a: 'accept-contact',
  j: 'reject-contact', d: 'request-disposition',
};

/** The lower-case full name of a header name given in any case or compact form ("V" → "via"). */
export function headerKey(name: string): string {
  const lower = name.toLowerCase();
  // Own properties only: a header named `constructor` or `__proto__` must stay a plain name.
  return Object.hasOwn(COMPACT_FORMS, lower) ? COMPACT_FORMS[lower]! : lower;
}

/** Headers whose values are comma-separated lists (RFC 3261 §7.3.1); others (From, To, Date, X-...) are never split. */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  'via', 'route', 'record-route', 'contact', 'allow', 'supported', 'require', 'proxy-require',
  'unsupported', 'accept', 'accept-encoding', 'accept-language', 'content-encoding', 'allow-events',
  'in-reply-to', 'path', 'service-route', 'security-client', 'security-server', 'security-verify',
]);

/**
 * Splits a header value at commas outside quoted strings and `<...>`; parts are trimmed.
 * Empty parts are kept (callers decide whether `a,,b` is an error). Bounded by the value's length.
 */
export function splitCommaList(value: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (inQuote) {
      if (ch === '\\') i++;
      else if (ch === '"') inQuote = false;
    } else if (ch === '"') inQuote = true;
    else if (ch === '<') inAngle = true;
    else if (ch === '>') inAngle = false;
    else if (ch === ',' && !inAngle) {
      parts.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(value.slice(start).trim());
  return parts;
}

/** Reads a quoted-string starting at `s[start] === '"'`; returns its unescaped content and the index after the closing quote. */
export function readQuoted(s: string, start: number): { value: string; end: number } {
  expect(s[start] === '"', 'expected a quoted string');
  let out = '';
  for (let i = start + 1; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\\') {
      expect(i + 1 < s.length, 'unterminated quoted string');
      out += s[++i];
    } else if (ch === '"') {
      return { value: out, end: i + 1 };
    } else {
      out += ch;
    }
  }
  throw syntaxError('unterminated quoted string');
}

/** Returns the index of the first non-SP/HTAB character at or after `i`. */
export function skipWsp(s: string, i: number): number {
  while (i < s.length && isWsp(s[i])) i++;
  return i;
}

/** Ordered parameters; names lower-cased; a parameter without `=value` maps to null. */
export type Params = Map<string, string | null>;

const GEN_VALUE_EXTRA = '[]:'; // host (IPv6 references) may appear in gen-value

function isGenValueChar(c: string): boolean {
  return isToken(c) || GEN_VALUE_EXTRA.includes(c);
}

/**
 * Parses `*( SEMI generic-param )` (RFC 3261 §25.1) from `s` at `i`, allowing LWS around `;` and `=`.
 * Stops at `stopAt` characters (e.g. `,` for a list) or the end; returns the params and the stop index.
 */
export function parseParams(s: string, i: number, stopAt = ''): { params: Params; end: number } {
  const params: Params = new Map();
  i = skipWsp(s, i);
  while (i < s.length && !stopAt.includes(s[i])) {
    expect(s[i] === ';', `unexpected "${s[i]}" before parameters`);
    i = skipWsp(s, i + 1);
    let j = i;
    while (j < s.length && isToken(s[j])) j++;
    const name = s.slice(i, j);
    expect(name.length > 0, 'empty parameter name');
    i = skipWsp(s, j);
    let value: string | null = null;
    if (s[i] === '=') {
      i = skipWsp(s, i + 1);
      if (s[i] === '"') {
        const q = readQuoted(s, i);
        value = q.value;
        i = q.end;
      } else {
        j = i;
        while (j < s.length && isGenValueChar(s[j])) j++;
        value = s.slice(i, j);
        expect(value.length > 0, `empty value for parameter ${name}`);
        i = j;
      }
      i = skipWsp(s, i);
    }
    params.set(name.toLowerCase(), value);
  }
  return { params, end: i };
}

/** Serialises params as `;name=value;flag` (values that are not tokens/hosts are quoted). */
export function formatParams(params: Params): string {
  let out = '';
  for (const [name, value] of params) {
    if (value === null) out += `;${name}`;
    else if ([...value].every(isGenValueChar) && value.length > 0) out += `;${name}=${value}`;
    else out += `;${name}="${value.replace(/["\\]/g, '\\$&')}"`;
  }
  return out;
}

/** Parses a non-negative decimal (leading zeros allowed, LWS trimmed); undefined when not digits or above `max`. */
export function parseDecimal(text: string, max: number): number | undefined {
  const s = text.trim();
  if (s.length === 0 || s.length > 32 || !/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}
