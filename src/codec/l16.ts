// L16 (RFC 3551 §4.5.11): 16-bit signed linear PCM in network byte order (big-endian) on the wire.

/** Number of items to process: `count` (default `available`) clamped to 0..available. */
function clampCount(available: number, count: number | undefined): number {
  const n = count === undefined ? available : Math.floor(count);
  return n > 0 ? Math.min(n, available) : 0;
}

/** Writes `count` (default all) s16 samples as big-endian bytes into `dst`; returns samples written (2 bytes each, bounded by dst). */
export function l16Encode(src: Int16Array, dst: Uint8Array, count?: number): number {
  const n = clampCount(Math.min(src.length, dst.length >> 1), count);
  for (let i = 0, o = 0; i < n; i++, o += 2) {
    const s = src[i];
    dst[o] = (s >> 8) & 0xff;
    dst[o + 1] = s & 0xff;
  }
  return n;
}

/** Reads big-endian s16 samples from `count` (default all, rounded down to even) bytes of `src` into `dst`; returns samples written. */
export function l16Decode(src: Uint8Array, dst: Int16Array, count?: number): number {
  const bytes = count === undefined ? src.length : Math.min(src.length, Math.max(0, Math.floor(count)));
  const n = Math.min(bytes >> 1, dst.length);
  for (let i = 0, o = 0; i < n; i++, o += 2) dst[i] = (src[o] << 8) | src[o + 1]; // Int16Array wraps to s16
  return n;
}
