// RTP fixed header (RFC 3550 §5.1): parse into a reused header object, write into a reused
// buffer. Per-packet code: never throws, never allocates except the payload view.

/** Size of the fixed RTP header in bytes (no CSRC, no extension). */
export const RTP_HEADER_BYTES = 12;

/** Fields of one RTP packet's header; one instance is reused for every packet parsed. */
export class RtpHeader {
  marker = false;
  /** 0..127. */
  payloadType = 0;
  /** 16-bit sequence number. */
  sequenceNumber = 0;
  /** 32-bit timestamp (unsigned) in RTP clock units. */
  timestamp = 0;
  /** 32-bit synchronization source (unsigned). */
  ssrc = 0;
  /** Number of valid entries in `csrcs`. */
  csrcCount = 0;
  readonly csrcs = new Uint32Array(15);
  /** Header extension profile (RFC 3550 §5.3.1), -1 when the packet has no extension. */
  extensionProfile = -1;
  /** Offset and length in bytes of the extension data (after its 4-byte header) within the packet. */
  extensionOffset = 0;
  extensionBytes = 0;
  /** Offset and length in bytes of the payload within the packet (padding excluded). */
  payloadOffset = 0;
  payloadBytes = 0;
  /** Padding bytes at the end of the packet (the P bit's count, 0 without padding). */
  paddingBytes = 0;
}

/** Parses RTP packets into one reused RtpHeader, counting what it rejects. */
export class RtpParser {
  /** The header of the last packet parse() accepted. */
  readonly header = new RtpHeader();
  /** Packets rejected as not RTP version 2 or inconsistent lengths. */
  malformed = 0;
  /** Packets that are RTCP multiplexed on the RTP port (RFC 5761 §4: second byte 192..223) and were skipped. */
  rtcp = 0;

  /** Parses `packet`; returns a view of its payload (header in `this.header`), or null (and a counter bumped) if unusable. */
  parse(packet: Uint8Array): Uint8Array | null {
    const len = packet.length;
    if (len < RTP_HEADER_BYTES || packet[0] >> 6 !== 2) return this.reject();
    const b1 = packet[1];
    if (b1 >= 192 && b1 <= 223) {
      this.rtcp++;
      return null;
    }
    const h = this.header;
    const cc = packet[0] & 0x0f;
    let offset = RTP_HEADER_BYTES + 4 * cc;
    if (offset > len) return this.reject();
    h.extensionProfile = -1;
    h.extensionOffset = h.extensionBytes = 0;
    if (packet[0] & 0x10) {
      if (offset + 4 > len) return this.reject();
      const words = (packet[offset + 2] << 8) | packet[offset + 3];
      h.extensionProfile = (packet[offset] << 8) | packet[offset + 1];
      h.extensionOffset = offset + 4;
      h.extensionBytes = words * 4;
      offset += 4 + words * 4;
      if (offset > len) return this.reject();
    }
    let padding = 0;
    if (packet[0] & 0x20) {
      padding = packet[len - 1];
      if (padding === 0 || offset + padding > len) return this.reject();
    }
    h.marker = (b1 & 0x80) !== 0;
    h.payloadType = b1 & 0x7f;
    h.sequenceNumber = (packet[2] << 8) | packet[3];
    h.timestamp = readU32(packet, 4);
    h.ssrc = readU32(packet, 8);
    h.csrcCount = cc;
    for (let i = 0; i < cc; i++) h.csrcs[i] = readU32(packet, 12 + 4 * i);
    h.paddingBytes = padding;
    h.payloadOffset = offset;
    h.payloadBytes = len - offset - padding;
    return packet.subarray(offset, len - padding);
  }

  private reject(): null {
    this.malformed++;
    return null;
  }
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Writes a 12-byte RTP header (version 2, no padding, extension or CSRC) at the start of `out`; returns 12, or 0 if `out` is too small. */
export function writeRtpHeader(out: Uint8Array, marker: boolean, payloadType: number, sequenceNumber: number, timestamp: number, ssrc: number): number {
  if (out.length < RTP_HEADER_BYTES) return 0;
  out[0] = 0x80;
  out[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  out[2] = sequenceNumber >>> 8;
  out[3] = sequenceNumber;
  writeU32(out, 4, timestamp);
  writeU32(out, 8, ssrc);
  return RTP_HEADER_BYTES;
}

/** Writes a whole packet (header with its CSRCs, no extension or padding, then `payload`) into `out`; returns its length, 0 if it does not fit. */
export function serializeRtpPacket(header: RtpHeader, payload: Uint8Array, out: Uint8Array): number {
  const cc = header.csrcCount & 0x0f;
  const headerBytes = RTP_HEADER_BYTES + 4 * cc;
  const total = headerBytes + payload.length;
  if (total > out.length) return 0;
  writeRtpHeader(out, header.marker, header.payloadType, header.sequenceNumber & 0xffff, header.timestamp, header.ssrc);
  out[0] |= cc;
  for (let i = 0; i < cc; i++) writeU32(out, 12 + 4 * i, header.csrcs[i]);
  out.set(payload, headerBytes);
  return total;
}
