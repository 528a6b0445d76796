// The sdp module's public API: pure SDP parse/serialize and offer/answer for one audio stream.
export { parseSdp, SDP_LIMITS } from './parse-sdp.ts';
export { serializeSdp } from './serialize-sdp.ts';
export type {
  MediaDescription, SdpAttribute, SdpBandwidth, SdpConnection, SdpOrigin, SdpTiming, SessionDescription,
} from './session-description.ts';
export type { CodecName, MediaDirection, NegotiatedMedia, NegotiationError } from './negotiated-media.ts';
export { acceptAnswer, answerOffer, createOffer, type AnswerOptions, type OfferOptions } from './offer-answer.ts';
