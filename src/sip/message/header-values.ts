import { expect, isToken, parseDecimal, parseParams, splitCommaList, type Params } from './grammar.ts';

/** Longest CSeq or media-type value accepted, in characters. */
export const MAX_SHORT_VALUE_CHARS = 1024;

/** Largest CSeq sequence number (RFC 3261 §8.1.1.5: 2**32 - 1). */
export const MAX_CSEQ = 0xffffffff;

/** A CSeq value: sequence number and method. */
export interface CSeq {
  seq: number;
  method: string;
}

/** Parses `1*DIGIT LWS Method`; throws a SIP_SYNTAX AppError (RFC 4475 `scalar02` has an overlarge number). */
export function parseCSeq(value: string): CSeq {
  expect(value.length <= MAX_SHORT_VALUE_CHARS, 'oversized CSeq');
  const m = /^\s*([0-9]+)[ \t]+(\S+)\s*$/.exec(value);
  expect(m !== null, 'malformed CSeq');
  const seq = parseDecimal(m[1], MAX_CSEQ);
  expect(seq !== undefined, 'CSeq number out of range');
  expect(isToken(m[2]), 'invalid CSeq method');
  return { seq, method: m[2] };
}

/** A media type (Content-Type, Accept): lower-case type/subtype plus parameters. */
export interface MediaType {
  type: string;
  subtype: string;
  params: Params;
}

/** Parses `type "/" subtype *(;param)` (RFC 3261 §20.15); throws a SIP_SYNTAX AppError. */
export function parseMediaType(value: string): MediaType {
  expect(value.length <= MAX_SHORT_VALUE_CHARS, 'oversized media type');
  const m = /^\s*([^\s/;]+)\s*\/\s*([^\s;]+)/.exec(value);
  expect(m !== null && isToken(m[1]) && isToken(m[2]), 'malformed media type');
  const { params, end } = parseParams(value, m[0].length);
  expect(end === value.length, 'malformed media type parameters');
  return { type: m[1].toLowerCase(), subtype: m[2].toLowerCase(), params };
}

/** `type/subtype` in lower case, without parameters; undefined when the value is malformed. */
export function mediaTypeName(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const t = parseMediaType(value);
    return `${t.type}/${t.subtype}`;
  } catch {
    return undefined;
  }
}

/** Option tags of Require/Supported/Unsupported values (lower-cased tokens; empty entries ignored). */
export function parseOptionTags(values: readonly string[]): string[] {
  const tags: string[] = [];
  for (const value of values) {
    for (const part of splitCommaList(value)) if (part.length > 0) tags.push(part.toLowerCase());
  }
  return tags;
}

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** True for an RFC 3261 §20.17 SIP-date (RFC 1123 form, time zone exactly "GMT"; RFC 4475 `baddate`). */
export function isValidSipDate(value: string): boolean {
  const m = /^\s*([A-Za-z]{3}), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT\s*$/.exec(value);
  if (m === null) return false;
  return DAYS.includes(m[1]) && MONTHS.includes(m[3]) && Number(m[5]) < 24 && Number(m[6]) < 60 && Number(m[7]) < 61;
}
