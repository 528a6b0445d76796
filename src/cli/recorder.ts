import { closeSync, openSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { interleaveStereo } from '../audio/mix.ts';
import { WAV_HEADER_BYTES, writeWavHeader } from '../audio/wav.ts';

/** Most audio bytes a RIFF file can hold. */
const MAX_DATA_BYTES = 0xffffffff - (WAV_HEADER_BYTES - 8);

/**
 * A stereo 16-bit WAV written as the run goes (`--record`): left and right frames are interleaved
 * into a buffer that is written out about once a second; the header's sizes are set on close.
 */
export class StereoWavRecorder {
  private readonly fd: number;
  private readonly buffer: Int16Array;
  private filled = 0;
  private dataBytes = 0;
  private full = false;
  private closed = false;

  /** Opens (creates or truncates) `path`; throws the file system's error. */
  constructor(readonly path: string, private readonly rateHz: number) {
    this.fd = openSync(path, 'w');
    const header = Buffer.alloc(WAV_HEADER_BYTES);
    writeWavHeader(header, 0, rateHz, 2);
    writeSync(this.fd, header);
    this.buffer = new Int16Array(rateHz * 2); // one second, interleaved
  }

  /** Appends n samples of each side (null: silence). Returns false once the file is full (4 GiB). */
  write(left: Int16Array | null, right: Int16Array | null, n: number): boolean {
    if (this.closed || this.full) return false;
    if (this.filled + 2 * n > this.buffer.length) this.flush();
    if (2 * n > this.buffer.length) return true; // a frame longer than a second: never from a channel
    interleaveStereo(left, right, this.buffer.subarray(this.filled, this.filled + 2 * n), n);
    this.filled += 2 * n;
    return !this.full;
  }

  /** Writes what is buffered and the final header. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    const header = Buffer.alloc(WAV_HEADER_BYTES);
    writeWavHeader(header, this.dataBytes, this.rateHz, 2);
    writeSync(this.fd, header, 0, header.length, 0);
    closeSync(this.fd);
  }

  /** Seconds of audio written so far. */
  get seconds(): number {
    return (this.dataBytes + this.filled * 2) / 4 / this.rateHz;
  }

  private flush(): void {
    if (this.filled === 0) return;
    let bytes = this.filled * 2;
    if (this.dataBytes + bytes > MAX_DATA_BYTES) {
      bytes = Math.floor((MAX_DATA_BYTES - this.dataBytes) / 4) * 4;
      this.full = true;
    }
    const data = Buffer.from(this.buffer.buffer, this.buffer.byteOffset, bytes);
    writeSync(this.fd, endianness() === 'LE' ? data : Buffer.from(data).swap16()); // WAV is little-endian
    this.dataBytes += bytes;
    this.filled = 0;
  }
}
