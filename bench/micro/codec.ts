// The RTP audio codecs on one 20 ms frame: G.711 μ-law and A-law (160 samples <-> 160 bytes, a
// table lookup per sample) and G.722 (320 samples at 16 kHz <-> 160 bytes, sub-band ADPCM with
// state carried across frames). Decoders get what the encoder made of the same audio.
import type { Benchmark } from './harness.ts';
import { Cycle, FRAMES_PER_SECOND, audioFrames } from './inputs.ts';
import { alawDecode, alawEncode, ulawDecode, ulawEncode } from '../../src/codec/g711.ts';
import { G722Decoder, G722Encoder } from '../../src/codec/g722.ts';

/** Frame codec functions, as g711.ts exports them (the counts are samples). */
type Encode = (src: Int16Array, dst: Uint8Array) => number;
type Decode = (src: Uint8Array, dst: Int16Array) => number;

/** Encodes each frame into a new payload (setup only). */
function encodeAll(frames: Int16Array[], encode: Encode, bytesPerFrame: number): Uint8Array[] {
  return frames.map((frame) => {
    const payload = new Uint8Array(bytesPerFrame);
    if (encode(frame, payload) !== bytesPerFrame) throw new Error('codec: unexpected payload size');
    return payload;
  });
}

function g711Benchmarks(law: string, encode: Encode, decode: Decode): Benchmark[] {
  let frames: Cycle<Int16Array>;
  let payloads: Cycle<Uint8Array>;
  let payload: Uint8Array;
  let pcm: Int16Array;
  const setup = () => {
    payload = new Uint8Array(160);
    pcm = new Int16Array(160);
    const audio = audioFrames(8000);
    frames = new Cycle(audio);
    payloads = new Cycle(encodeAll(audio, encode, 160));
  };
  return [
    { name: `codec: ${law} encode 160`, bytesPerOp: 320, opsPerCallSecond: FRAMES_PER_SECOND, setup, fn: () => encode(frames.next(), payload) },
    { name: `codec: ${law} decode 160`, bytesPerOp: 160, opsPerCallSecond: FRAMES_PER_SECOND, setup, fn: () => decode(payloads.next(), pcm) },
  ];
}

function g722Benchmarks(): Benchmark[] {
  let encoder: G722Encoder;
  let decoder: G722Decoder;
  let frames: Cycle<Int16Array>;
  let payloads: Cycle<Uint8Array>;
  let payload: Uint8Array;
  let pcm: Int16Array;
  const setup = () => {
    payload = new Uint8Array(160);
    pcm = new Int16Array(320);
    const audio = audioFrames(16000);
    // One encoder over the whole second, as one call's stream would be encoded.
    const reference = new G722Encoder();
    payloads = new Cycle(encodeAll(audio, (src, dst) => reference.encode(src, dst), 160));
    frames = new Cycle(audio);
    encoder = new G722Encoder();
    decoder = new G722Decoder();
  };
  return [
    { name: 'codec: G.722 encode 320', bytesPerOp: 640, opsPerCallSecond: FRAMES_PER_SECOND, setup, fn: () => encoder.encode(frames.next(), payload) },
    { name: 'codec: G.722 decode 160 B', bytesPerOp: 160, opsPerCallSecond: FRAMES_PER_SECOND, setup, fn: () => decoder.decode(payloads.next(), pcm) },
  ];
}

/** Codec benchmarks (MB/s counts input bytes: PCM for encoders, payload for decoders). */
export const codecBenchmarks: Benchmark[] = [
  ...g711Benchmarks('PCMU', ulawEncode, ulawDecode),
  ...g711Benchmarks('PCMA', alawEncode, alawDecode),
  ...g722Benchmarks(),
];
