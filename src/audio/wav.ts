// WAV (RIFF/WAVE) reader and writer. The reader is defensive: every read is bounds-checked and
// malformed input raises an AppError WAV_INVALID, never a RangeError from Buffer.
import { AppError } from '../lib/errors.ts';
import { endianness } from 'node:os';
import { alawDecode, ulawDecode } from '../codec/g711.ts';

/** Sample encodings parseWav understands (all decoded to interleaved s16). */
export type WavFormat = 'pcm16' | 'ulaw' | 'alaw' | 'pcm8';

/** Decoded WAV contents: rate (Hz), channel count, interleaved s16 samples, and the source encoding. */
export interface WavData {
  sampleRateHz: number;
  channels: number;
  samples: Int16Array;
  format: WavFormat;
}

/** Malformed or unsupported WAV input: an AppError WAV_INVALID. */
function wavError(message: string): AppError {
  return new AppError('WAV_INVALID', message);
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_ALAW = 6;
const WAVE_FORMAT_MULAW = 7;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** Bytes 2..15 of every KSDATAFORMAT_SUBTYPE_* GUID (after the 16-bit format tag). */
const KSDATAFORMAT_TAIL = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]);
const MIN_RATE_HZ = 1000;
const MAX_RATE_HZ = 384000;
const MAX_CHANNELS = 8;
/** Canonical PCM header size (bytes). */
/** Size of the canonical 16-bit PCM WAV header writeWav and writeWavHeader write. */
export const WAV_HEADER_BYTES = 44;
const HEADER_BYTES = WAV_HEADER_BYTES;

/** Human-readable names for format tags that appear in error messages. */
const FORMAT_NAMES: Record<number, string> = {
  2: 'MS ADPCM',
  [WAVE_FORMAT_IEEE_FLOAT]: 'IEEE float',
  0x11: 'IMA ADPCM',
  0x31: 'GSM 6.10',
  0x55: 'MPEG layer 3',
};

/** Parsed `fmt ` chunk fields (tag resolved through WAVE_FORMAT_EXTENSIBLE). */
interface FmtChunk {
  tag: number;
  channels: number;
  sampleRateHz: number;
  bitsPerSample: number;
}

/** Location of the `data` payload inside the buffer (byte offsets). */
interface DataChunk {
  start: number;
  length: number;
}

/** Reads the format tag hidden in a WAVE_FORMAT_EXTENSIBLE fmt chunk body starting at `body`. */
function extensibleTag(buf: Buffer, body: number, size: number): number {
  if (size < 40) throw wavError(`fmt chunk too short for WAVE_FORMAT_EXTENSIBLE (${size} bytes, need 40)`);
  const guid = body + 24;
  if (!buf.subarray(guid + 2, guid + 16).equals(KSDATAFORMAT_TAIL)) throw wavError('unsupported WAVE_FORMAT_EXTENSIBLE subformat GUID');
  return buf.readUInt16LE(guid);
}

/** Parses a `fmt ` chunk body of `size` bytes at offset `body` (the caller has checked it lies inside `buf`). */
function parseFmt(buf: Buffer, body: number, size: number): FmtChunk {
  if (size < 16) throw wavError(`fmt chunk too short (${size} bytes, need 16)`);
  let tag = buf.readUInt16LE(body);
  if (tag === WAVE_FORMAT_EXTENSIBLE) tag = extensibleTag(buf, body, size);
  return {
    tag,
    channels: buf.readUInt16LE(body + 2),
    sampleRateHz: buf.readUInt32LE(body + 4),
    bitsPerSample: buf.readUInt16LE(body + 14),
  };
}

/** Maps a format tag and bit depth to a supported encoding, or throws an AppError WAV_INVALID. */
function resolveFormat(fmt: FmtChunk): WavFormat {
  const { tag, bitsPerSample: bits } = fmt;
  if (tag === WAVE_FORMAT_PCM) {
    if (bits === 16) return 'pcm16';
    if (bits === 8) return 'pcm8';
    throw wavError(`unsupported PCM bit depth ${bits} (only 8 and 16)`);
  }
  if (tag === WAVE_FORMAT_MULAW || tag === WAVE_FORMAT_ALAW) {
    if (bits !== 8) throw wavError(`unsupported G.711 bit depth ${bits} (must be 8)`);
    return tag === WAVE_FORMAT_MULAW ? 'ulaw' : 'alaw';
  }
  throw wavError(`unsupported WAV format ${tag} (${FORMAT_NAMES[tag] ?? 'unknown'})`);
}

/** Checks channel count and rate are in the accepted ranges, or throws an AppError WAV_INVALID. */
function validateFmt(fmt: FmtChunk): void {
  if (fmt.channels < 1 || fmt.channels > MAX_CHANNELS) throw wavError(`unsupported channel count ${fmt.channels} (1..${MAX_CHANNELS})`);
  if (fmt.sampleRateHz < MIN_RATE_HZ || fmt.sampleRateHz > MAX_RATE_HZ) {
    throw wavError(`unsupported sample rate ${fmt.sampleRateHz} Hz (${MIN_RATE_HZ}..${MAX_RATE_HZ})`);
  }
}

/** Walks the RIFF chunk list (any order, odd sizes padded) and returns the fmt and data chunks. */
function findChunks(buf: Buffer): { fmt: FmtChunk | undefined; data: DataChunk | undefined } {
  let fmt: FmtChunk | undefined;
  let data: DataChunk | undefined;
  let pos = 12;
  while (pos + 8 <= buf.length && (fmt === undefined || data === undefined)) {
    const id = buf.toString('latin1', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    const body = pos + 8;
    const available = buf.length - body;
    if (id === 'fmt ' && fmt === undefined) {
      if (size > available) throw wavError(`fmt chunk truncated (${size} bytes declared, ${available} present)`);
      fmt = parseFmt(buf, body, size);
    } else if (id === 'data' && data === undefined) {
      // Streaming writers leave a placeholder size (e.g. 0xFFFFFFFF) or the file was cut: keep what is there.
      data = { start: body, length: Math.min(size, available) };
      if (size >= available) break;
    }
    pos = body + size + (size & 1);
  }
  return { fmt, data };
}

/** Decodes `frames * channels` samples of `format` from `buf` at byte offset `start` into s16. */
function decodeSamples(buf: Buffer, start: number, count: number, format: WavFormat): Int16Array {
  const out = new Int16Array(count);
  const bytes = buf.subarray(start, start + (format === 'pcm16' ? count * 2 : count));
  if (format === 'pcm16') {
    for (let i = 0; i < count; i++) out[i] = bytes.readInt16LE(2 * i);
  } else if (format === 'pcm8') {
    for (let i = 0; i < count; i++) out[i] = (bytes[i] - 128) << 8;
  } else if (format === 'ulaw') {
    ulawDecode(bytes, out, count);
  } else {
    alawDecode(bytes, out, count);
  }
  return out;
}

/** Parses a RIFF/WAVE file (PCM 8/16-bit, extensible PCM, μ-law, A-law) into interleaved s16; throws an AppError WAV_INVALID on malformed or unsupported input. */
export function parseWav(buf: Buffer): WavData {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw wavError('not a RIFF/WAVE file');
  }
  const { fmt, data } = findChunks(buf);
  if (fmt === undefined) throw wavError('no fmt chunk');
  const format = resolveFormat(fmt);
  validateFmt(fmt);
  if (data === undefined) throw wavError('no data chunk');
  const frameBytes = fmt.channels * (format === 'pcm16' ? 2 : 1);
  const frames = Math.floor(data.length / frameBytes);
  const samples = decodeSamples(buf, data.start, frames * fmt.channels, format);
  return { sampleRateHz: fmt.sampleRateHz, channels: fmt.channels, samples, format };
}

/** Writes the canonical 44-byte PCM header for `dataBytes` bytes of s16 audio into `out`. */
/** Writes the canonical 44-byte header of a 16-bit PCM WAV holding `dataBytes` of audio at the start of `out`. */
export function writeWavHeader(out: Buffer, dataBytes: number, sampleRateHz: number, channels: number): void {
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'latin1');
  out.write('fmt ', 12, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  out.writeUInt16LE(channels, 22);
  out.writeUInt32LE(sampleRateHz, 24);
  out.writeUInt32LE(sampleRateHz * channels * 2, 28);
  out.writeUInt16LE(channels * 2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(dataBytes, 40);
}

/** Encodes interleaved s16 `samples` at `sampleRateHz` (Hz) with `channels` channels as a 16-bit PCM WAV (canonical 44-byte header). */
export function writeWav(samples: Int16Array, sampleRateHz: number, channels: number): Buffer {
  if (!Number.isInteger(channels) || channels < 1 || channels > 65535) throw new RangeError(`writeWav: bad channel count ${channels}`);
  if (!Number.isInteger(sampleRateHz) || sampleRateHz < 1 || sampleRateHz * channels * 2 > 0xffffffff) {
    throw new RangeError(`writeWav: bad sample rate ${sampleRateHz}`);
  }
  if (samples.length % channels !== 0) throw new RangeError(`writeWav: ${samples.length} samples is not a whole number of ${channels}-channel frames`);
  const dataBytes = samples.length * 2;
  if (HEADER_BYTES - 8 + dataBytes > 0xffffffff) throw new RangeError('writeWav: audio too long for a RIFF file');
  const out = Buffer.alloc(HEADER_BYTES + dataBytes);
  writeWavHeader(out, dataBytes, sampleRateHz, channels);
  if (endianness() === 'LE') {
    Buffer.from(samples.buffer, samples.byteOffset, dataBytes).copy(out, HEADER_BYTES);
  } else {
    for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i], HEADER_BYTES + 2 * i);
  }
  return out;
}
