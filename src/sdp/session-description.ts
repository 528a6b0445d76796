// The parsed form of an SDP session description (RFC 4566 §5). Field names follow the RFC's
// grammar; values stay strings where the RFC allows more than we interpret (NTP times, ids).

/** o= (RFC 4566 §5.2). */
export interface SdpOrigin {
  username: string;
  /** Decimal digits; kept as a string since it may exceed 2^53. */
  sessionId: string;
  /** Decimal digits; incremented by the sender on each changed description (RFC 3264 §8). */
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

/** c= (RFC 4566 §5.7); a multicast `/ttl/count` suffix is kept apart from the address. */
export interface SdpConnection {
  netType: string;
  /** `IP4` or `IP6` (other values are kept as sent). */
  addrType: string;
  address: string;
  /** The `/ttl[/count]` suffix without its leading slash, if any. */
  suffix?: string;
}

/** b= (RFC 4566 §5.8): `type:bandwidth` in kbit/s (or the type's own unit). */
export interface SdpBandwidth {
  type: string;
  value: number;
}

/** a= (RFC 4566 §5.13): `name:value`, or a flag (`value` null) such as `sendrecv`. */
export interface SdpAttribute {
  name: string;
  value: string | null;
}

/** t= (RFC 4566 §5.9) with the r= lines that follow it. */
export interface SdpTiming {
  start: string;
  stop: string;
  repeats: string[];
}

/** One m= section (RFC 4566 §5.14) with its own i=, c=, b=, k= and a= lines. */
export interface MediaDescription {
  /** `audio`, `video`, `application`, ... */
  type: string;
  /** Transport port; 0 = rejected or disabled stream (RFC 3264 §6). */
  port: number;
  /** The `/<number of ports>` of m=, 1 when absent. */
  portCount: number;
  /** `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, ... */
  protocol: string;
  /** Format list: RTP payload type numbers as strings for RTP protocols. */
  formats: string[];
  information?: string;
  connection?: SdpConnection;
  bandwidths: SdpBandwidth[];
  key?: string;
  attributes: SdpAttribute[];
}

/** A whole session description: session-level fields then the m= sections in order. */
export interface SessionDescription {
  /** v= (always 0). */
  version: number;
  origin: SdpOrigin;
  /** s= (may be empty or a single space in the wild). */
  sessionName: string;
  information?: string;
  uri?: string;
  emails: string[];
  phones: string[];
  connection?: SdpConnection;
  bandwidths: SdpBandwidth[];
  timing: SdpTiming[];
  /** z= as sent. */
  timeZones?: string;
  key?: string;
  attributes: SdpAttribute[];
  media: MediaDescription[];
}
