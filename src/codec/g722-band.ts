// One sub-band ADPCM loop of ITU-T G.722: the log scale factor adaptation (blocks 3L/3H) and the
// adaptive pole-zero predictor (block 4: RECONS, PARREC, UPPOL2, UPPOL1, UPZERO, DELAYA, FILTEP,
// FILTEZ, PREDIC). The encoder and the decoder run the same loop on the same quantized
// differences, so they stay in step.
import * as T from './g722-tables.ts';

/** Module-local binding of the antilog table (imported names are getter calls under tsx). */
const ILB = T.ILB;

/** Saturates to the 16-bit two's complement range (the Recommendation's "limit"). */
export function sat16(x: number): number {
  return x > 32767 ? 32767 : x < -32768 ? -32768 : x;
}

/** Parameters that differ between the lower and the higher sub-band. */
export interface BandParams {
  /** Upper limit of the log scale factor NB (18432 lower, 22528 higher). */
  nbMax: number;
  /** SCALEL/SCALEH shift base (8 lower, 10 higher). */
  scaleShift: number;
  /** Initial (and minimum) quantizer scale factor DET (32 lower, 8 higher). */
  detMin: number;
}

/** Lower sub-band parameters (LOGSCL, SCALEL). */
export const LOWER_BAND: BandParams = { nbMax: 18432, scaleShift: 8, detMin: 32 };
/** Higher sub-band parameters (LOGSCH, SCALEH). */
export const HIGHER_BAND: BandParams = { nbMax: 22528, scaleShift: 10, detMin: 8 };

/** True when two 16-bit values have the same sign bit (the Recommendation's SGi == SGj). */
function sameSign(x: number, y: number): boolean {
  return (x ^ y) >= 0;
}

/** UPZERO for one coefficient: sign-sign step (`step` 0 or 128) and leakage 32640/32768. */
function upzero(b: number, dq: number, d: number, step: number): number {
  return sat16((sameSign(dq, d) ? step : 0 - step) + ((b * 32640) >> 15)); // 0 - x, not -x: -0 leaves integer arithmetic
}

/** State of one sub-band: scale factor and predictor; all values stay within 16 bits. Taps are unrolled fields: they are read per sample. */
export class G722Band {
  /** Quantizer scale factor DETL / DETH. */
  det = 0;
  /** Signal estimate SL / SH for the next sample. */
  estimate = 0;
  private nb = 0;
  private readonly nbMax: number;
  private readonly scaleShift: number;
  private readonly detMin: number;
  private a1 = 0;
  private a2 = 0;
  /** Zero-section coefficients BL1..BL6 and past quantized differences DLT1..DLT6. */
  private b1 = 0; private b2 = 0; private b3 = 0; private b4 = 0; private b5 = 0; private b6 = 0;
  private d1 = 0; private d2 = 0; private d3 = 0; private d4 = 0; private d5 = 0; private d6 = 0;
  private p1 = 0;
  private p2 = 0;
  private r1 = 0;
  private r2 = 0;
  private sz = 0;

  constructor(params: BandParams) {
    this.nbMax = params.nbMax;
    this.scaleShift = params.scaleShift;
    this.detMin = params.detMin;
    this.reset();
  }

  /** Back to the initial state of the Recommendation (reset of §3.6 / §4.4). */
  reset(): void {
    this.det = this.detMin;
    this.estimate = this.nb = this.a1 = this.a2 = 0;
    this.b1 = this.b2 = this.b3 = this.b4 = this.b5 = this.b6 = 0;
    this.d1 = this.d2 = this.d3 = this.d4 = this.d5 = this.d6 = 0;
    this.p1 = this.p2 = this.r1 = this.r2 = this.sz = 0;
  }

  /** LOGSCL/LOGSCH then SCALEL/SCALEH: leaks NB, adds the code's multiplier `weight`, recomputes DET. */
  adaptScale(weight: number): void {
    let nb = ((this.nb * 127) >> 7) + weight;
    if (nb < 0) nb = 0;
    else if (nb > this.nbMax) nb = this.nbMax;
    this.nb = nb;
    const mantissa = ILB[(nb >> 6) & 31];
    const shift = this.scaleShift - (nb >> 11);
    this.det = (shift < 0 ? mantissa << -shift : mantissa >> shift) << 2;
  }

  /** Block 4 for one quantized difference `d`: adapts the predictor and computes the next estimate. */
  update(d: number): void {
    const r0 = sat16(this.estimate + d);
    const p0 = sat16(this.sz + d);
    // UPPOL2: second pole coefficient.
    const wd1 = sat16(this.a1 * 4);
    let wd2 = sameSign(p0, this.p1) ? 0 - wd1 : wd1;
    if (wd2 > 32767) wd2 = 32767;
    let ap2 = (wd2 >> 7) + (sameSign(p0, this.p2) ? 128 : -128) + ((this.a2 * 32512) >> 15);
    if (ap2 > 12288) ap2 = 12288;
    else if (ap2 < -12288) ap2 = -12288;
    // UPPOL1: first pole coefficient, bounded by the stability limit 15360 - |AP2|.
    let ap1 = sat16((sameSign(p0, this.p1) ? 192 : -192) + ((this.a1 * 32640) >> 15));
    const lim = sat16(15360 - ap2);
    if (ap1 > lim) ap1 = lim;
    else if (ap1 < -lim) ap1 = -lim;
    // UPZERO with the differences before DELAYA shifts them.
    const step = d === 0 ? 0 : 128;
    const b1 = (this.b1 = upzero(this.b1, this.d1, d, step));
    const b2 = (this.b2 = upzero(this.b2, this.d2, d, step));
    const b3 = (this.b3 = upzero(this.b3, this.d3, d, step));
    const b4 = (this.b4 = upzero(this.b4, this.d4, d, step));
    const b5 = (this.b5 = upzero(this.b5, this.d5, d, step));
    const b6 = (this.b6 = upzero(this.b6, this.d6, d, step));
    // DELAYA.
    this.d6 = this.d5; this.d5 = this.d4; this.d4 = this.d3; this.d3 = this.d2; this.d2 = this.d1; this.d1 = d;
    this.a1 = ap1;
    this.a2 = ap2;
    this.p2 = this.p1;
    this.p1 = p0;
    this.r2 = this.r1;
    this.r1 = r0;
    // FILTEP, FILTEZ (accumulated with saturation, DLT6 first), PREDIC.
    const sp = sat16(((ap1 * sat16(r0 * 2)) >> 15) + ((ap2 * sat16(this.r2 * 2)) >> 15));
    let sz = (b6 * sat16(this.d6 * 2)) >> 15;
    sz = sat16(sz + ((b5 * sat16(this.d5 * 2)) >> 15));
    sz = sat16(sz + ((b4 * sat16(this.d4 * 2)) >> 15));
    sz = sat16(sz + ((b3 * sat16(this.d3 * 2)) >> 15));
    sz = sat16(sz + ((b2 * sat16(this.d2 * 2)) >> 15));
    sz = sat16(sz + ((b1 * sat16(d * 2)) >> 15));
    this.sz = sz;
    this.estimate = sat16(sp + sz);
  }
}
