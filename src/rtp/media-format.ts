// Frame arithmetic of a negotiated stream: how many samples, clock ticks and bytes one ptime is.
import type { NegotiatedMedia } from '../sdp/negotiated-media.ts';
import type { AudioCodec } from '../codec/codec.ts';

/** Sizes of one packet time of a stream. */
export interface FrameFormat {
  /** PCM samples per frame at the codec's sample rate (320 for 20 ms of G722). */
  samplesPerFrame: number;
  /** RTP clock ticks per frame (160 for 20 ms of G722). */
  frameTicks: number;
  /** Payload bytes per frame (160 for 20 ms of G722 or PCMU). */
  frameBytes: number;
}

/** The frame sizes of `media` with `codec`. */
export function frameFormatOf(media: NegotiatedMedia, codec: AudioCodec): FrameFormat {
  const samplesPerFrame = Math.round((media.codec.sampleRateHz * media.ptimeMs) / 1000);
  return {
    samplesPerFrame,
    frameTicks: Math.round((media.codec.clockRateHz * media.ptimeMs) / 1000),
    frameBytes: codec.bytesFor(samplesPerFrame),
  };
}
