// The codec module's public API: the uniform codec face and the codecs behind it.
export { createCodec, type AudioCodec, type CodecName } from './codec.ts';
export { G722Decoder, G722Encoder } from './g722.ts';
export { l16Decode, l16Encode } from './l16.ts';
export { alawDecode, alawEncode, ulawDecode, ulawEncode } from './g711.ts';
