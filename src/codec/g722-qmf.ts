// The 24-tap quadrature mirror filters of ITU-T G.722 §3.2 (transmit) and §4.5 (receive).
// Delay lines are rings stored twice, so a window of the newest taps is always contiguous.
import * as T from './g722-tables.ts';
import * as B from './g722-band.ts';

// Module-local bindings: imported names are getter calls under tsx, too slow per sample.
const H = T.QMF_COEFFS;
const sat16 = B.sat16;

/** Transmit QMF: two 16 kHz s16 samples in, one lower and one higher sub-band sample (15-bit) out. */
export class QmfAnalysis {
  /** Lower sub-band sample xL of the last `analyze`. */
  low = 0;
  /** Higher sub-band sample xH of the last `analyze`. */
  high = 0;
  /** x(j - k) at ring[pos + k], k = 0..23. */
  private readonly ring = new Int32Array(48);
  private pos = 0;

  /** Filters the pair (`older`, `newer`) and sets `low` and `high`. */
  analyze(older: number, newer: number): void {
    this.push(older);
    this.push(newer);
    const ring = this.ring;
    const p = this.pos;
    let xa = 0;
    let xb = 0;
    for (let k = 0; k < 24; k += 2) {
      xa += H[k] * ring[p + k];
      xb += H[k + 1] * ring[p + k + 1];
    }
    // 16-bit input: >> 14 (instead of the 14-bit input's >> 13) keeps sub-band signals in 15 bits.
    this.low = (xa + xb) >> 14;
    this.high = (xa - xb) >> 14;
  }

  /** Clears the delay line. */
  reset(): void {
    this.ring.fill(0);
    this.pos = 0;
    this.low = this.high = 0;
  }

  private push(x: number): void {
    const p = this.pos === 0 ? 23 : this.pos - 1;
    this.ring[p] = x;
    this.ring[p + 24] = x;
    this.pos = p;
  }
}

/** Receive QMF: one lower and one higher sub-band sample in, two 16 kHz s16 samples out. */
export class QmfSynthesis {
  /** Earlier output sample of the last `synthesize`. */
  first = 0;
  /** Later output sample of the last `synthesize`. */
  second = 0;
  /** Histories of rL - rH and rL + rH, newest at [pos], stored twice. */
  private readonly diff = new Int32Array(24);
  private readonly sum = new Int32Array(24);
  private pos = 0;

  /** Filters the reconstructed sub-band pair (`rl`, `rh`) and sets `first` and `second`. */
  synthesize(rl: number, rh: number): void {
    const p = this.pos === 0 ? 11 : this.pos - 1;
    this.pos = p;
    const diff = this.diff;
    const sum = this.sum;
    diff[p] = diff[p + 12] = rl - rh;
    sum[p] = sum[p + 12] = rl + rh;
    let even = 0;
    let odd = 0;
    for (let m = 0; m < 12; m++) {
      even += H[2 * m] * diff[p + m];
      odd += H[2 * m + 1] * sum[p + m];
    }
    this.first = sat16(even >> 11);
    this.second = sat16(odd >> 11);
  }

  /** Clears the delay lines. */
  reset(): void {
    this.diff.fill(0);
    this.sum.fill(0);
    this.pos = 0;
    this.first = this.second = 0;
  }
}
