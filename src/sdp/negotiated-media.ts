// What offer/answer settled for the one audio stream of a call: what the RTP session needs.
import type { CodecName } from '../codec/codec.ts';
import type { AppError } from '../lib/errors.ts';

export type { CodecName };

/** Media direction attribute values (RFC 3264 §5.1). */
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** The negotiated audio stream, from our side. */
export interface NegotiatedMedia {
  codec: {
    name: CodecName;
    payloadType: number;
    /** RTP timestamp clock in Hz (8000 for G722, RFC 3551 §4.5.2). */
    clockRateHz: number;
    /** PCM sample rate in Hz (16000 for G722). */
    sampleRateHz: number;
    channels: 1;
  };
  /** RFC 4733 events, when both sides have them. */
  telephoneEvent?: { payloadType: number; clockRateHz: number };
  /** Packet time in ms: a=ptime when 10..60, else 20. */
  ptimeMs: number;
  /** OUR direction (the answer's when we answer): remote sendonly -> we recvonly. */
  direction: MediaDirection;
  /** Where the peer receives: c= (media or session level) and the m= port; port 0 = rejected/disabled. */
  remote: { address: string; port: number; family: 4 | 6 };
}

/** Why an offer or an answer could not be used (SDP_MALFORMED, SDP_NO_AUDIO or SDP_NO_COMMON_CODEC); the message is for logs. */
export type NegotiationError = AppError;
