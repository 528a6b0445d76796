// A uniform face over the RTP audio codecs: decode one payload, encode one frame, into the
// caller's buffers. One instance per direction of a call (G.722 is stateful).
import { alawDecode, alawEncode, ulawDecode, ulawEncode } from './g711.ts';
import { G722Decoder, G722Encoder } from './g722.ts';
import { l16Decode, l16Encode } from './l16.ts';

/** Audio codecs audio-stream speaks on RTP. */
export type CodecName = 'PCMU' | 'PCMA' | 'G722' | 'L16';

/** One codec instance: s16 PCM at `sampleRateHz` <-> RTP payload bytes. */
export interface AudioCodec {
  readonly name: CodecName;
  /** Sample rate of the PCM side in Hz (16000 for G722). */
  readonly sampleRateHz: number;
  /** RTP timestamp clock rate in Hz (8000 for G722, RFC 3551 §4.5.2). */
  readonly clockRateHz: number;
  /** Decodes one RTP payload into `out` (s16 at sampleRateHz); returns samples written. */
  decode(payload: Uint8Array, out: Int16Array): number;
  /** Encodes samples into `out`; returns bytes written. */
  encode(samples: Int16Array, out: Uint8Array): number;
  /** Payload bytes for `samples` PCM samples. */
  bytesFor(samples: number): number;
  /** Forgets the stream state (G.722's predictors); stateless codecs do nothing. */
  reset(): void;
}

class G711Codec implements AudioCodec {
  readonly sampleRateHz = 8000;
  readonly clockRateHz = 8000;
  constructor(readonly name: 'PCMU' | 'PCMA') {}
  decode(payload: Uint8Array, out: Int16Array): number {
    return this.name === 'PCMU' ? ulawDecode(payload, out) : alawDecode(payload, out);
  }
  encode(samples: Int16Array, out: Uint8Array): number {
    return this.name === 'PCMU' ? ulawEncode(samples, out) : alawEncode(samples, out);
  }
  bytesFor(samples: number): number {
    return samples;
  }
  reset(): void {}
}

class G722Codec implements AudioCodec {
  readonly name = 'G722';
  readonly sampleRateHz = 16000;
  readonly clockRateHz = 8000;
  private readonly encoder = new G722Encoder();
  private readonly decoder = new G722Decoder();
  decode(payload: Uint8Array, out: Int16Array): number {
    return this.decoder.decode(payload, out);
  }
  encode(samples: Int16Array, out: Uint8Array): number {
    return this.encoder.encode(samples, out);
  }
  bytesFor(samples: number): number {
    return samples >> 1;
  }
  reset(): void {
    this.encoder.reset();
    this.decoder.reset();
  }
}

class L16Codec implements AudioCodec {
  readonly name = 'L16';
  readonly clockRateHz: number;
  constructor(readonly sampleRateHz: number) {
    this.clockRateHz = sampleRateHz;
  }
  decode(payload: Uint8Array, out: Int16Array): number {
    return l16Decode(payload, out);
  }
  encode(samples: Int16Array, out: Uint8Array): number {
    return l16Encode(samples, out) * 2;
  }
  bytesFor(samples: number): number {
    return samples * 2;
  }
  reset(): void {}
}

/** Creates a codec; `sampleRateHz` must be 8000 for PCMU/PCMA, 16000 for G722, 8000 or 16000 for L16 (RangeError otherwise). */
export function createCodec(name: CodecName, sampleRateHz: number): AudioCodec {
  switch (name) {
    case 'PCMU':
    case 'PCMA':
      if (sampleRateHz === 8000) return new G711Codec(name);
      break;
    case 'G722':
      if (sampleRateHz === 16000) return new G722Codec();
      break;
    case 'L16':
      if (sampleRateHz === 8000 || sampleRateHz === 16000) return new L16Codec(sampleRateHz);
      break;
  }
  throw new RangeError(`unsupported codec ${String(name)} at ${sampleRateHz} Hz`);
}
