// The send half of a call's RTP, without a socket: encode one frame and write its packet with
// the stream's sequence number, timestamp, marker and SSRC (RFC 3550 §5.1).
import { randomInt } from 'node:crypto';
import { createCodec, type AudioCodec } from '../codec/codec.ts';
import type { NegotiatedMedia } from '../sdp/negotiated-media.ts';
import { frameFormatOf } from './media-format.ts';
import { RTP_HEADER_BYTES, writeRtpHeader } from './packet.ts';

/** Initial values, random by default (RFC 3550 §5.1); tests set them to exercise wrap-around. */
export interface RtpSenderOptions {
  ssrc?: number;
  initialSequenceNumber?: number;
  initialTimestamp?: number;
}

/** One call's outgoing stream state; per-frame calls never throw and do not allocate. */
export class RtpSender {
  /** 32-bit SSRC of our stream. */
  readonly ssrc: number;
  /** Sequence number of the next packet (16-bit). */
  sequenceNumber: number;
  /** RTP timestamp of the next packet (32-bit). */
  timestamp: number;
  /** Packets written. */
  sent = 0;
  private encoder!: AudioCodec;
  private payloadType = 0;
  private samplesPerFrame = 0;
  private frameTicks = 0;
  private ticksPerSample = 1;
  private markerNext = true;

  constructor(media: NegotiatedMedia, options: RtpSenderOptions = {}) {
    this.ssrc = (options.ssrc ?? randomInt(0, 2 ** 32 - 1)) >>> 0;
    this.sequenceNumber = (options.initialSequenceNumber ?? randomInt(0, 65536)) & 0xffff;
    this.timestamp = (options.initialTimestamp ?? randomInt(0, 2 ** 32 - 1)) >>> 0;
    this.configure(media);
  }

  /** Bytes a packet of one frame takes (header + payload). */
  get packetBytes(): number {
    return RTP_HEADER_BYTES + this.encoder.bytesFor(this.samplesPerFrame);
  }

  /** Takes a new negotiated stream: a new encoder when the codec changes; the next packet has the marker. */
  configure(media: NegotiatedMedia): void {
    const c = media.codec;
    if (!this.encoder || this.encoder.name !== c.name || this.encoder.sampleRateHz !== c.sampleRateHz) {
      this.encoder = createCodec(c.name, c.sampleRateHz);
    }
    const format = frameFormatOf(media, this.encoder);
    this.payloadType = c.payloadType;
    this.samplesPerFrame = format.samplesPerFrame;
    this.frameTicks = format.frameTicks;
    this.ticksPerSample = c.clockRateHz / c.sampleRateHz;
    this.markerNext = true;
  }

  /**
   * Encodes up to one frame of `samples` into a packet in `out`; returns its length (0 if `out` is too small).
   * `payload` must be `out.subarray(RTP_HEADER_BYTES)`, made once by the caller so that no view is made per packet.
   */
  writePacket(samples: Int16Array, out: Uint8Array, payload: Uint8Array): number {
    if (out.length < this.packetBytes || payload.byteOffset !== out.byteOffset + RTP_HEADER_BYTES) return 0;
    const n = Math.min(samples.length, this.samplesPerFrame);
    const bytes = this.encoder.encode(n === samples.length ? samples : samples.subarray(0, n), payload);
    writeRtpHeader(out, this.markerNext, this.payloadType, this.sequenceNumber, this.timestamp, this.ssrc);
    this.markerNext = false;
    this.sequenceNumber = (this.sequenceNumber + 1) & 0xffff;
    this.timestamp = (this.timestamp + Math.round(n * this.ticksPerSample)) >>> 0;
    this.sent++;
    return RTP_HEADER_BYTES + bytes;
  }

  /** A frame time with nothing sent (hold, silence): the timestamp keeps time, the next packet has the marker. */
  skipFrame(): void {
    this.timestamp = (this.timestamp + this.frameTicks) >>> 0;
    this.markerNext = true;
  }
}
