// G.711 μ-law and A-law, bit-exact with FreeSWITCH's src/include/g711.h (spandsp-derived).
// Encoding goes through a 64 KiB table per law indexed by the sample's 16-bit pattern;
// decoding through a 256-entry table. Tables are built once at module load.

/** μ-law bias added to the magnitude before segment search (linear units, 0x84 = 132). */
const ULAW_BIAS = 0x84;
/** A-law alternate-mark-inversion mask applied to every code (bit pattern). */
const ALAW_AMI_MASK = 0x55;

/** Index (0..31) of the highest set bit of a 32-bit value, as spandsp's top_bit(); -1 for 0. */
function topBit(x: number): number {
  return 31 - Math.clz32(x);
}

/** Reference μ-law encoder (spandsp linear_to_ulaw): s16 sample -> 8-bit code. */
function ulawEncodeRef(sample: number): number {
  let linear: number;
  let mask: number;
  if (sample < 0) {
    linear = ULAW_BIAS - sample;
    mask = 0x7f;
  } else {
    linear = ULAW_BIAS + sample;
    mask = 0xff;
  }
  const seg = topBit(linear | 0xff) - 7;
  if (seg >= 8) return (0x7f ^ mask) & 0xff;
  return (((seg << 4) | ((linear >> (seg + 3)) & 0x0f)) ^ mask) & 0xff;
}

/** Reference μ-law decoder (spandsp ulaw_to_linear): 8-bit code -> s16 sample. */
function ulawDecodeRef(code: number): number {
  const u = ~code & 0xff;
  const t = (((u & 0x0f) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4);
  return u & 0x80 ? ULAW_BIAS - t : t - ULAW_BIAS;
}

/** Reference A-law encoder (spandsp linear_to_alaw): s16 sample -> 8-bit code. */
function alawEncodeRef(sample: number): number {
  let linear = sample;
  let mask: number;
  if (linear >= 0) {
    mask = ALAW_AMI_MASK | 0x80;
  } else {
    mask = ALAW_AMI_MASK;
    linear = -linear - 8;
  }
  const seg = topBit(linear | 0xff) - 7;
  if (seg >= 8) {
    // Positive: out of range (cannot happen for s16). Negative: just below zero (-1..-7).
    return (linear >= 0 ? 0x7f ^ mask : 0x00 ^ mask) & 0xff;
  }
  const shift = seg ? seg + 3 : 4;
  return (((seg << 4) | ((linear >> shift) & 0x0f)) ^ mask) & 0xff;
}

/** Reference A-law decoder (spandsp alaw_to_linear): 8-bit code -> s16 sample. */
function alawDecodeRef(code: number): number {
  const a = (code ^ ALAW_AMI_MASK) & 0xff;
  let i = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  i = seg ? (i + 0x108) << (seg - 1) : i + 8;
  return a & 0x80 ? i : -i;
}

/** Builds a 65536-entry encode table indexed by (sample & 0xFFFF). */
function buildEncodeTable(encode: (sample: number) => number): Uint8Array {
  const table = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) table[i] = encode((i << 16) >> 16);
  return table;
}

/** Builds a 256-entry decode table indexed by code. */
function buildDecodeTable(decode: (code: number) => number): Int16Array {
  const table = new Int16Array(256);
  for (let c = 0; c < 256; c++) table[c] = decode(c);
  return table;
}

const ULAW_ENC = buildEncodeTable(ulawEncodeRef);
const ALAW_ENC = buildEncodeTable(alawEncodeRef);
const ULAW_DEC = buildDecodeTable(ulawDecodeRef);
const ALAW_DEC = buildDecodeTable(alawDecodeRef);

/** Converts any number to a table index: truncates toward zero, clamps to s16, NaN -> 0. */
function toIndex(sample: number): number {
  if (!(sample > -32768)) return sample <= -32768 ? 0x8000 : 0; // NaN and <= -32768
  if (sample >= 32767) return 0x7fff;
  return (sample | 0) & 0xffff;
}

/** Number of items to process: `count` clamped to both array lengths (never throws). */
function clampCount(srcLen: number, dstLen: number, count: number | undefined): number {
  const n = count === undefined ? srcLen : Math.floor(count);
  if (!(n > 0)) return 0;
  return Math.min(n, srcLen, dstLen);
}

/** Encodes `count` (default all) s16 samples to μ-law bytes; returns the number of samples encoded. */
export function ulawEncode(src: Int16Array, dst: Uint8Array, count?: number): number {
  const n = clampCount(src.length, dst.length, count);
  for (let i = 0; i < n; i++) dst[i] = ULAW_ENC[src[i] & 0xffff];
  return n;
}

/** Decodes `count` (default all) μ-law bytes to s16 samples; returns the number of samples decoded. */
export function ulawDecode(src: Uint8Array, dst: Int16Array, count?: number): number {
  const n = clampCount(src.length, dst.length, count);
  for (let i = 0; i < n; i++) dst[i] = ULAW_DEC[src[i]];
  return n;
}

/** Encodes `count` (default all) s16 samples to A-law bytes; returns the number of samples encoded. */
export function alawEncode(src: Int16Array, dst: Uint8Array, count?: number): number {
  const n = clampCount(src.length, dst.length, count);
  for (let i = 0; i < n; i++) dst[i] = ALAW_ENC[src[i] & 0xffff];
  return n;
}

/** Decodes `count` (default all) A-law bytes to s16 samples; returns the number of samples decoded. */
export function alawDecode(src: Uint8Array, dst: Int16Array, count?: number): number {
  const n = clampCount(src.length, dst.length, count);
  for (let i = 0; i < n; i++) dst[i] = ALAW_DEC[src[i]];
  return n;
}

/** Decodes one μ-law code (0..255, low 8 bits used) to a linear s16 sample (-32124..32124). */
export function ulawToLinear(code: number): number {
  return ULAW_DEC[code & 0xff];
}

/** Encodes one linear sample (s16; truncated and clamped if outside) to a μ-law code (0..255). */
export function linearToUlaw(sample: number): number {
  return ULAW_ENC[toIndex(sample)];
}

/** Decodes one A-law code (0..255, low 8 bits used) to a linear s16 sample (-32256..32256). */
export function alawToLinear(code: number): number {
  return ALAW_DEC[code & 0xff];
}

/** Encodes one linear sample (s16; truncated and clamped if outside) to an A-law code (0..255). */
export function linearToAlaw(sample: number): number {
  return ALAW_ENC[toIndex(sample)];
}
