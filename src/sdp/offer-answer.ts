// SDP offer/answer (RFC 3264) for one audio stream: answer an offer, make an offer, read the
// answer to our offer. Other m= lines are rejected with port 0 and kept in order (§6).
import { randomInt } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { CodecName } from '../codec/codec.ts';
import type { MediaDirection, NegotiatedMedia } from './negotiated-media.ts';
import { parseSdp } from './parse-sdp.ts';
import {
  directionOf, intersect, isHoldAddress, isRtpAudio, payloadTypesOf, ptimeOf, remoteOf, reverseDirection, rtpMapOf, withoutReceiving,
} from './media-section.ts';
import { fail, isAppError, ok, type AppError, type Result } from '../lib/errors.ts';
import { serializeSdp } from './serialize-sdp.ts';
import type { MediaDescription, SessionDescription } from './session-description.ts';
import {
  isTelephoneEvent, matchCodec, OFFER_TELEPHONE_EVENT_PT, SUPPORTED_CODECS, TELEPHONE_EVENTS_FMTP, type CodecSpec,
} from './supported-codecs.ts';

/** Every codec we speak, the default of `preferences`. */
const ALL_CODECS: readonly CodecName[] = ['PCMU', 'PCMA', 'G722', 'L16'];
/** Packet time when none is given or it is outside 10..60 ms. */
const DEFAULT_PTIME_MS = 20;

/** Our side of an answer. */
export interface AnswerOptions {
  /** Our RTP address (IPv4 or IPv6 literal), written in o= and c=. */
  address: string;
  /** Our RTP port (1..65535). */
  port: number;
  /** Codecs we accept (default all); with `negotiation: 'greedy'` also our order of preference. */
  preferences?: CodecName[];
  /** FreeSWITCH's inbound-codec-negotiation: 'generous' (default) takes the offerer's order, 'greedy' ours. */
  negotiation?: 'generous' | 'greedy';
  /** o= session id (decimal digits; default random). */
  sessionId?: string;
  /** o= session version; pass a higher one for each changed answer or re-offer (default 1). */
  sessionVersion?: number;
}

/** Our side of an offer. */
export interface OfferOptions {
  address: string;
  port: number;
  /** a=ptime in ms (10..60, default 20). */
  ptimeMs?: number;
  sessionId?: string;
  sessionVersion?: number;
  /** Codecs to offer in this order (default PCMU, PCMA, G722, L16/8000, L16/16000). */
  preferences?: CodecName[];
  /** Direction to offer (default sendrecv; sendonly to hold, RFC 3264 §8.4). */
  direction?: MediaDirection;
}

/** Answers an SDP offer: the answer text and the negotiated stream, or why the offer is unusable (488 material). */
export function answerOffer(offerSdp: string, local: AnswerOptions): Result<{ answerSdp: string; media: NegotiatedMedia }> {
  checkLocal(local);
  const parsed = parseOrError(offerSdp, 'offer');
  if (!parsed.ok) return parsed;
  const offer = parsed.value;
  const allowed = local.preferences ?? ALL_CODECS;
  let chosen: { media: NegotiatedMedia; description: MediaDescription } | undefined;
  let problem: { ok: false; error: AppError } | undefined;
  const lines = offer.media.map((m) => {
    if (chosen || !isRtpAudio(m) || m.port === 0) return rejected(m);
    const r = negotiateOffered(offer, m, allowed, local);
    if (!r.ok) {
      problem ??= r;
      return rejected(m);
    }
    chosen = r.value;
    return r.value.description;
  });
  if (!chosen) return problem ?? fail('SDP_NO_AUDIO', 'the offer has no enabled RTP/AVP audio stream');
  return ok({ answerSdp: serializeSdp(localSession(local, lines)), media: chosen.media });
}

/** Makes an offer (for an INVITE without SDP, or a re-INVITE): PCMU, PCMA, G722, L16/8000, L16/16000 and telephone-event. */
export function createOffer(local: OfferOptions): string {
  checkLocal(local);
  const ptimeMs = clampPtime(local.ptimeMs);
  const allowed = local.preferences ?? ALL_CODECS;
  const specs: CodecSpec[] = [];
  for (const name of allowed) for (const s of SUPPORTED_CODECS) if (s.name === name && !specs.includes(s)) specs.push(s);
  if (specs.length === 0) throw new RangeError('createOffer: no codec to offer');
  const m: MediaDescription = {
    type: 'audio', port: local.port, portCount: 1, protocol: 'RTP/AVP',
    formats: [...specs.map((s) => String(s.offerPayloadType)), String(OFFER_TELEPHONE_EVENT_PT)],
    bandwidths: [],
    attributes: [
      ...specs.map((s) => ({ name: 'rtpmap', value: `${s.offerPayloadType} ${s.rtpmap}` })),
      { name: 'rtpmap', value: `${OFFER_TELEPHONE_EVENT_PT} telephone-event/8000` },
      { name: 'fmtp', value: `${OFFER_TELEPHONE_EVENT_PT} ${TELEPHONE_EVENTS_FMTP}` },
      { name: 'ptime', value: String(ptimeMs) },
      { name: local.direction ?? 'sendrecv', value: null },
    ],
  };
  return serializeSdp(localSession(local, [m]));
}

/** Reads the answer to an offer we sent: the negotiated stream, or why it is unusable. */
export function acceptAnswer(offerWeSent: string, answerSdp: string): Result<NegotiatedMedia> {
  const ours = parseOrError(offerWeSent, 'offer');
  if (!ours.ok) return ours;
  const answered = parseOrError(answerSdp, 'answer');
  if (!answered.ok) return answered;
  const offer = ours.value;
  const answer = answered.value;
  const index = offer.media.findIndex((m) => isRtpAudio(m) && m.port !== 0);
  if (index < 0) return fail('SDP_MALFORMED', 'our offer has no audio stream');
  const om = offer.media[index];
  const am = answer.media[index];
  if (!am || am.type !== 'audio') return fail('SDP_MALFORMED', `the answer has no m=audio line at position ${index + 1}`);
  if (am.port === 0) return fail('SDP_NO_AUDIO', 'the answer rejected the audio stream');
  const remoteResult = remoteOf(answer, am);
  if (!remoteResult.ok) return remoteResult;
  const remote = remoteResult.value;
  const offered = new Set(payloadTypesOf(om));
  const pts = payloadTypesOf(am).filter((pt) => offered.has(pt));
  const mapOf = (pt: number) => rtpMapOf(am, pt) ?? rtpMapOf(om, pt);
  const codec = pickCodec(pts, mapOf, ALL_CODECS, false);
  if (!codec) return fail('SDP_NO_COMMON_CODEC', `no offered codec in the answer's ${am.formats.join(' ')}`);
  let theirs = directionOf(answer, am);
  if (isHoldAddress(remote.address)) theirs = withoutReceiving(theirs);
  return ok({
    codec: codecOf(codec.spec, codec.pt),
    ...telephoneEventOf(pts, mapOf, codec.spec.clockRateHz),
    ptimeMs: clampPtime(ptimeOf(answer, am) ?? ptimeOf(offer, om)),
    direction: intersect(reverseDirection(theirs), directionOf(offer, om)),
    remote,
  });
}

function negotiateOffered(
  offer: SessionDescription, m: MediaDescription, allowed: readonly CodecName[], local: AnswerOptions,
): Result<{ media: NegotiatedMedia; description: MediaDescription }> {
  const remoteResult = remoteOf(offer, m);
  if (!remoteResult.ok) return remoteResult;
  const remote = remoteResult.value;
  const pts = payloadTypesOf(m);
  const mapOf = (pt: number) => rtpMapOf(m, pt);
  const codec = pickCodec(pts, mapOf, allowed, local.negotiation === 'greedy');
  if (!codec) return fail('SDP_NO_COMMON_CODEC', `none of ${allowed.join(', ')} in the offered ${m.formats.join(' ')}`);
  let theirs = directionOf(offer, m);
  if (isHoldAddress(remote.address)) theirs = withoutReceiving(theirs);
  const media: NegotiatedMedia = {
    codec: codecOf(codec.spec, codec.pt),
    ...telephoneEventOf(pts, mapOf, codec.spec.clockRateHz),
    ptimeMs: clampPtime(ptimeOf(offer, m)),
    direction: reverseDirection(theirs),
    remote,
  };
  return ok({ media, description: answerMedia(m, media, local.port, codec.spec) });
}

/** The accepted m= section of our answer: the chosen codec, telephone-event, ptime and direction. */
function answerMedia(offered: MediaDescription, media: NegotiatedMedia, port: number, spec: CodecSpec): MediaDescription {
  const te = media.telephoneEvent;
  const formats = [String(media.codec.payloadType)];
  const attributes = [{ name: 'rtpmap', value: `${media.codec.payloadType} ${spec.rtpmap}` }];
  if (te) {
    formats.push(String(te.payloadType));
    attributes.push({ name: 'rtpmap', value: `${te.payloadType} telephone-event/${te.clockRateHz}` });
    attributes.push({ name: 'fmtp', value: `${te.payloadType} ${TELEPHONE_EVENTS_FMTP}` });
  }
  attributes.push({ name: 'ptime', value: String(media.ptimeMs) });
  return {
    type: 'audio', port, portCount: 1, protocol: offered.protocol, formats, bandwidths: [],
    attributes: [...attributes, { name: media.direction, value: null }],
  };
}

/** First payload type naming an allowed codec: in the listed order, or (greedy) in the order of `allowed`. */
function pickCodec(
  pts: number[], mapOf: (pt: number) => ReturnType<typeof rtpMapOf>, allowed: readonly CodecName[], greedy: boolean,
): { spec: CodecSpec; pt: number } | undefined {
  const matches: { spec: CodecSpec; pt: number }[] = [];
  for (const pt of pts) {
    const map = mapOf(pt);
    const spec = map && matchCodec(map, allowed);
    if (spec) matches.push({ spec, pt });
  }
  if (!greedy) return matches[0];
  for (const name of allowed) {
    const m = matches.find((x) => x.spec.name === name);
    if (m) return m;
  }
  return undefined;
}

/** The telephone-event payload type to use: the one at the codec's clock, else at 8000 Hz. */
function telephoneEventOf(
  pts: number[], mapOf: (pt: number) => ReturnType<typeof rtpMapOf>, codecClockHz: number,
): { telephoneEvent?: NegotiatedMedia['telephoneEvent'] } {
  let best: NegotiatedMedia['telephoneEvent'];
  for (const pt of pts) {
    const map = mapOf(pt);
    if (!map || !isTelephoneEvent(map) || map.channels !== 1) continue;
    if (map.clockRateHz === codecClockHz) return { telephoneEvent: { payloadType: pt, clockRateHz: map.clockRateHz } };
    if (map.clockRateHz === 8000 && !best) best = { payloadType: pt, clockRateHz: 8000 };
  }
  return best ? { telephoneEvent: best } : {};
}

function codecOf(spec: CodecSpec, payloadType: number): NegotiatedMedia['codec'] {
  return { name: spec.name, payloadType, clockRateHz: spec.clockRateHz, sampleRateHz: spec.sampleRateHz, channels: 1 };
}

/** A rejected m= section: port 0, the offer's protocol and formats, no attributes (RFC 3264 §6). */
function rejected(m: MediaDescription): MediaDescription {
  return { type: m.type, port: 0, portCount: 1, protocol: m.protocol, formats: m.formats.length > 0 ? m.formats : ['0'], bandwidths: [], attributes: [] };
}

function clampPtime(ms: number | undefined): number {
  return ms !== undefined && Number.isInteger(ms) && ms >= 10 && ms <= 60 ? ms : DEFAULT_PTIME_MS;
}

function parseOrError(text: string, what: string): Result<SessionDescription> {
  try {
    return ok(parseSdp(text));
  } catch (err) {
    if (isAppError(err)) return fail('SDP_MALFORMED', `${what}: ${err.message}`);
    throw err;
  }
}

function checkLocal(local: { address: string; port: number; sessionId?: string; sessionVersion?: number }): void {
  if (!isIPv4(local.address) && !isIPv6(local.address)) throw new RangeError(`local address must be an IP literal: ${local.address}`);
  if (!Number.isInteger(local.port) || local.port < 1 || local.port > 65535) throw new RangeError(`local port must be 1..65535: ${local.port}`);
  if (local.sessionId !== undefined && !/^[0-9]{1,20}$/.test(local.sessionId)) throw new RangeError('sessionId must be decimal digits');
  if (local.sessionVersion !== undefined && !(Number.isSafeInteger(local.sessionVersion) && local.sessionVersion >= 0)) {
    throw new RangeError('sessionVersion must be a non-negative integer');
  }
}

/** Our session-level lines around `media`. */
function localSession(local: { address: string; sessionId?: string; sessionVersion?: number }, media: MediaDescription[]): SessionDescription {
  const addrType = isIPv6(local.address) ? 'IP6' : 'IP4';
  return {
    version: 0,
    origin: {
      username: 'audio-stream', sessionId: local.sessionId ?? String(randomInt(1, 2 ** 47)),
      sessionVersion: String(local.sessionVersion ?? 1), netType: 'IN', addrType, address: local.address,
    },
    sessionName: 'audio-stream',
    emails: [], phones: [], bandwidths: [], attributes: [], media,
    connection: { netType: 'IN', addrType, address: local.address },
    timing: [{ start: '0', stop: '0', repeats: [] }],
  };
}
