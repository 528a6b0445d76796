/** Sums two s16 frames with saturation into `out` (mixed mode); a null side counts as silence. Returns n. */
export function mixSaturating(a: Int16Array | null, b: Int16Array | null, out: Int16Array, n: number): number {
  if (a && b) {
    for (let i = 0; i < n; i++) {
      const s = (i < a.length ? a[i]! : 0) + (i < b.length ? b[i]! : 0);
      out[i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
    }
  } else {
    copyOrSilence(a ?? b, out, 0, 1, n);
  }
  return n;
}

/** Interleaves two s16 frames into stereo `out` (L = left, R = right); a null side is silence. Returns 2n. */
export function interleaveStereo(left: Int16Array | null, right: Int16Array | null, out: Int16Array, n: number): number {
  copyOrSilence(left, out, 0, 2, n);
  copyOrSilence(right, out, 1, 2, n);
  return 2 * n;
}

/** Copies n samples of src into out at offset, step; missing samples (null or short src) are zero. */
function copyOrSilence(src: Int16Array | null, out: Int16Array, offset: number, step: number, n: number): void {
  const have = src ? Math.min(src.length, n) : 0;
  let j = offset;
  for (let i = 0; i < have; i++, j += step) out[j] = src![i]!;
  for (let i = have; i < n; i++, j += step) out[j] = 0;
}
