// Reading one m= section for offer/answer: rtpmap, ptime, direction, the peer address
// (RFC 4566 §6, RFC 3264 §5.1, §8.4), static payload types from RFC 3551 Table 4.
import { isIPv4, isIPv6 } from 'node:net';
import type { MediaDirection, NegotiatedMedia } from './negotiated-media.ts';
import { fail, ok, type Result } from '../lib/errors.ts';
import type { MediaDescription, SessionDescription } from './session-description.ts';

/** One payload type's encoding. */
export interface RtpMap {
  payloadType: number;
  /** Encoding name as sent (compare case-insensitively). */
  encoding: string;
  clockRateHz: number;
  channels: number;
}

/** Static audio payload types (RFC 3551 Table 4) used when an offer lists them without rtpmap. */
const STATIC_AUDIO: Record<number, [string, number]> = {
  0: ['PCMU', 8000], 3: ['GSM', 8000], 4: ['G723', 8000], 8: ['PCMA', 8000],
  9: ['G722', 8000], 13: ['CN', 8000], 18: ['G729', 8000],
};

const DIRECTIONS = new Set<string>(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

/** The encoding of payload type `pt` in `m`: its a=rtpmap, else the static assignment; undefined if unknown. */
export function rtpMapOf(m: MediaDescription, pt: number): RtpMap | undefined {
  for (const a of m.attributes) {
    if (a.name !== 'rtpmap' || a.value === null) continue;
    const match = /^\s*([0-9]{1,3})\s+([^/\s]+)\/([0-9]{1,6})(?:\/([0-9]{1,2}))?\s*$/.exec(a.value);
    if (!match || Number(match[1]) !== pt) continue;
    return { payloadType: pt, encoding: match[2], clockRateHz: Number(match[3]), channels: match[4] ? Number(match[4]) : 1 };
  }
  const st = STATIC_AUDIO[pt];
  return st ? { payloadType: pt, encoding: st[0], clockRateHz: st[1], channels: 1 } : undefined;
}

/** Payload type numbers of the m= line (non-numeric or out-of-range formats are skipped). */
export function payloadTypesOf(m: MediaDescription): number[] {
  const out: number[] = [];
  for (const f of m.formats) {
    if (/^[0-9]{1,3}$/.test(f) && Number(f) <= 127) out.push(Number(f));
  }
  return out;
}

/** The value of the first a=`name` of the m= section, else of the session; undefined if absent. */
function attributeOf(sd: SessionDescription, m: MediaDescription, name: string): string | null | undefined {
  const own = m.attributes.find((a) => a.name === name);
  if (own) return own.value;
  return sd.attributes.find((a) => a.name === name)?.value;
}

/** The direction attribute of the m= section, else of the session, else sendrecv. */
export function directionOf(sd: SessionDescription, m: MediaDescription): MediaDirection {
  for (const list of [m.attributes, sd.attributes]) {
    for (const a of list) if (a.value === null && DIRECTIONS.has(a.name)) return a.name as MediaDirection;
  }
  return 'sendrecv';
}

/** a=ptime in ms (media, else session level), rounded; undefined when absent or not a number. */
export function ptimeOf(sd: SessionDescription, m: MediaDescription): number | undefined {
  const v = attributeOf(sd, m, 'ptime');
  if (v === undefined || v === null) return undefined;
  const ms = Number(v.trim());
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** The direction seen from the other side of the stream (RFC 3264 §6.1). */
export function reverseDirection(d: MediaDirection): MediaDirection {
  return d === 'sendonly' ? 'recvonly' : d === 'recvonly' ? 'sendonly' : d;
}

/** `d` without the sending half (used when the peer's address is the c=0.0.0.0 hold address). */
export function withoutReceiving(d: MediaDirection): MediaDirection {
  return d === 'sendrecv' ? 'sendonly' : d === 'recvonly' ? 'inactive' : d;
}

/** The peer's RTP address: c= of the m= section, else of the session; IP literals only. */
export function remoteOf(sd: SessionDescription, m: MediaDescription): Result<NegotiatedMedia['remote']> {
  const c = m.connection ?? sd.connection;
  if (!c) return fail('SDP_MALFORMED', 'no c= line for the audio stream');
  if (c.netType !== 'IN') return fail('SDP_MALFORMED', `c= network type ${c.netType}`);
  const family = c.addrType === 'IP4' && isIPv4(c.address) ? 4 : c.addrType === 'IP6' && isIPv6(c.address) ? 6 : 0;
  if (family === 0) return fail('SDP_MALFORMED', `c= is not an ${c.addrType} address literal: ${c.address}`);
  return ok({ address: c.address, port: m.port, family });
}

/** RFC 2543 hold: c= 0.0.0.0 (or :: for IPv6) means "do not send to me" (RFC 3264 §8.4). */
export function isHoldAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** True for an RTP/AVP or RTP/AVPF audio stream (what we can answer: no SRTP). */
export function isRtpAudio(m: MediaDescription): boolean {
  return m.type === 'audio' && /^RTP\/AVPF?$/i.test(m.protocol);
}

/** Both sides' sending and receiving halves combined. */
export function intersect(a: MediaDirection, b: MediaDirection): MediaDirection {
  const send = a !== 'recvonly' && a !== 'inactive' && b !== 'recvonly' && b !== 'inactive';
  const recv = a !== 'sendonly' && a !== 'inactive' && b !== 'sendonly' && b !== 'inactive';
  return send ? (recv ? 'sendrecv' : 'sendonly') : recv ? 'recvonly' : 'inactive';
}
