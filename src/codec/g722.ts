// ITU-T G.722 sub-band ADPCM at 64 kbit/s (mode 1): 16 kHz s16 <-> one octet per two samples,
// the octet being IH (2 bits, higher band) << 6 | IL (6 bits, lower band), as RTP carries it
// (RFC 3551 §4.5.2). Stateful per direction of a call; writes into the caller's buffers.
import { G722Band, HIGHER_BAND, LOWER_BAND } from './g722-band.ts';
import * as B from './g722-band.ts';
import { QmfAnalysis, QmfSynthesis } from './g722-qmf.ts';
import * as T from './g722-tables.ts';

// Module-local bindings: tsx/esbuild compiles imported names to getter calls, which cost more
// than the arithmetic here (measured 4x slower per frame).
const { IHN, IHP, ILN, ILP, Q2, Q6, QM2, QM4, QM6, RH2, RL42, WH, WL } = T;
const sat16 = B.sat16;

/** Number of items to process: `count` (default `available`) clamped to 0..available. */
function clampCount(available: number, count: number | undefined): number {
  const n = count === undefined ? available : Math.floor(count);
  return n > 0 ? Math.min(n, available) : 0;
}

/** QUANTL: the interval index MIL (1..30) of magnitude `wd` for scale factor `det` (binary search over Q6). */
function quantizeLowerIndex(wd: number, det: number): number {
  let lo = 1;
  let hi = 30; // first index whose decision level exceeds wd; 30 = above the last level
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (wd < (Q6[mid] * det) >> 12) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** G.722 encoder (64 kbit/s): s16 at 16 kHz in, one byte per two samples out. */
export class G722Encoder {
  private readonly qmf = new QmfAnalysis();
  private readonly lower = new G722Band(LOWER_BAND);
  private readonly higher = new G722Band(HIGHER_BAND);

  /** Encodes `count` (default all; rounded down to even) samples into `dst`; returns bytes written (samples / 2, bounded by dst). */
  encode(src: Int16Array, dst: Uint8Array, count?: number): number {
    const bytes = clampCount(Math.min(src.length >> 1, dst.length), count === undefined ? undefined : count / 2);
    const qmf = this.qmf;
    for (let i = 0; i < bytes; i++) {
      qmf.analyze(src[2 * i], src[2 * i + 1]);
      dst[i] = (this.encodeHigher(qmf.high) << 6) | this.encodeLower(qmf.low);
    }
    return bytes;
  }

  /** Back to the initial state (a new stream). */
  reset(): void {
    this.qmf.reset();
    this.lower.reset();
    this.higher.reset();
  }

  /** Blocks 1L-4L: returns the 6-bit code IL. */
  private encodeLower(xl: number): number {
    const band = this.lower;
    const el = sat16(xl - band.estimate);
    const wd = el >= 0 ? el : ~el; // -(el + 1), without the -0 of el = -1
    const mil = quantizeLowerIndex(wd, band.det);
    const il = el < 0 ? ILN[mil] : ILP[mil];
    const ril = il >> 2;
    const dlt = (band.det * QM4[ril]) >> 15;
    band.adaptScale(WL[RL42[ril]]);
    band.update(dlt);
    return il;
  }

  /** Blocks 1H-4H: returns the 2-bit code IH. */
  private encodeHigher(xh: number): number {
    const band = this.higher;
    const eh = sat16(xh - band.estimate);
    const wd = eh >= 0 ? eh : ~eh;
    const mih = wd >= (Q2 * band.det) >> 12 ? 2 : 1;
    const ih = eh < 0 ? IHN[mih] : IHP[mih];
    const dh = (band.det * QM2[ih]) >> 15;
    band.adaptScale(WH[RH2[ih]]);
    band.update(dh);
    return ih;
  }
}

/** G.722 decoder (64 kbit/s): one byte per two samples in, s16 at 16 kHz out. */
export class G722Decoder {
  private readonly qmf = new QmfSynthesis();
  private readonly lower = new G722Band(LOWER_BAND);
  private readonly higher = new G722Band(HIGHER_BAND);

  /** Decodes `count` (default all) bytes into `dst`; returns samples written (2 per byte, bounded by dst). */
  decode(src: Uint8Array, dst: Int16Array, count?: number): number {
    const bytes = clampCount(Math.min(src.length, dst.length >> 1), count);
    const qmf = this.qmf;
    for (let i = 0; i < bytes; i++) {
      const code = src[i];
      qmf.synthesize(this.decodeLower(code & 0x3f), this.decodeHigher(code >> 6));
      dst[2 * i] = qmf.first;
      dst[2 * i + 1] = qmf.second;
    }
    return bytes * 2;
  }

  /** Back to the initial state (a new stream). */
  reset(): void {
    this.qmf.reset();
    this.lower.reset();
    this.higher.reset();
  }

  /** Blocks 5L, 6L (output from the 6-bit code) and 2L-4L (adaptation from its 4-bit part): returns rL. */
  private decodeLower(il: number): number {
    const band = this.lower;
    let rl = band.estimate + ((band.det * QM6[il]) >> 15);
    if (rl > 16383) rl = 16383;
    else if (rl < -16384) rl = -16384;
    const ril = il >> 2;
    const dlt = (band.det * QM4[ril]) >> 15;
    band.adaptScale(WL[RL42[ril]]);
    band.update(dlt);
    return rl;
  }

  /** Blocks 2H-6H: returns rH. */
  private decodeHigher(ih: number): number {
    const band = this.higher;
    const dh = (band.det * QM2[ih]) >> 15;
    let rh = band.estimate + dh;
    if (rh > 16383) rh = 16383;
    else if (rh < -16384) rh = -16384;
    band.adaptScale(WH[RH2[ih]]);
    band.update(dh);
    return rh;
  }
}
