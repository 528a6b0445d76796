// The codecs audio-stream puts on the wire, and how they appear in SDP.
import type { CodecName } from '../codec/codec.ts';
import type { RtpMap } from './media-section.ts';

/** One codec as offered and answered. */
export interface CodecSpec {
  name: CodecName;
  /** RTP timestamp clock in Hz. */
  clockRateHz: number;
  /** PCM sample rate in Hz. */
  sampleRateHz: number;
  /** Payload type used in our offers (static for PCMU, PCMA, G722; dynamic for L16). */
  offerPayloadType: number;
  /** `encoding/clock` of the a=rtpmap line. */
  rtpmap: string;
}

/** Our codecs in the order we offer them (FreeSWITCH's default order: narrowband G.711 first). */
export const SUPPORTED_CODECS: readonly CodecSpec[] = [
  { name: 'PCMU', clockRateHz: 8000, sampleRateHz: 8000, offerPayloadType: 0, rtpmap: 'PCMU/8000' },
  { name: 'PCMA', clockRateHz: 8000, sampleRateHz: 8000, offerPayloadType: 8, rtpmap: 'PCMA/8000' },
  { name: 'G722', clockRateHz: 8000, sampleRateHz: 16000, offerPayloadType: 9, rtpmap: 'G722/8000' },
  { name: 'L16', clockRateHz: 8000, sampleRateHz: 8000, offerPayloadType: 96, rtpmap: 'L16/8000' },
  { name: 'L16', clockRateHz: 16000, sampleRateHz: 16000, offerPayloadType: 97, rtpmap: 'L16/16000' },
];

/** Payload type of telephone-event in our offers. */
export const OFFER_TELEPHONE_EVENT_PT = 101;

/** Events we announce in a=fmtp for telephone-event: DTMF 0-9 * # A-D (RFC 4733 §3.2). */
export const TELEPHONE_EVENTS_FMTP = '0-15';

/** The supported codec an rtpmap names, if any (mono only; G722/16000, a common mistake, counts as G722). */
export function matchCodec(map: RtpMap, allowed: readonly CodecName[]): CodecSpec | undefined {
  if (map.channels !== 1) return undefined;
  const encoding = map.encoding.toUpperCase();
  for (const spec of SUPPORTED_CODECS) {
    if (spec.name !== encoding || !allowed.includes(spec.name)) continue;
    if (spec.clockRateHz === map.clockRateHz || (spec.name === 'G722' && map.clockRateHz === 16000)) return spec;
  }
  return undefined;
}

/** True when the rtpmap is RFC 4733 telephone-event. */
export function isTelephoneEvent(map: RtpMap): boolean {
  return map.encoding.toLowerCase() === 'telephone-event';
}
