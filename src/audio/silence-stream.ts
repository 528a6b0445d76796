// silence_stream://<ms>[,<divisor>], as FreeSWITCH's mod_tone_stream plays it: <ms> of silence
// (rate / 1000 * ms samples; 0, negative or no number: until broken off), and with a divisor above
// 0 comfort noise instead of digital silence (switch_generate_sln_silence: the sum of six 16-bit
// linear congruential draws, wrapped to 16 bits, divided by the divisor).
import { cInt } from './teletone.ts';
import type { SampleSource } from './sample-source.ts';

/** What a silence_stream:// spec asks for. */
export interface SilenceSpec {
  /** Milliseconds; Infinity: until broken off. */
  ms: number;
  /** Comfort noise divisor (peak about 32768 / divisor); 0: digital silence. */
  divisor: number;
}

/** Reads the text after `silence_stream://` as mod_tone_stream does (atoi, so anything unreadable is 0: for ever). */
export function parseSilenceSpec(spec: string): SilenceSpec {
  const ms = cInt(spec);
  const comma = spec.indexOf(',');
  const divisor = comma >= 0 ? cInt(spec.slice(comma + 1)) : 0;
  return { ms: ms > 0 ? ms : Infinity, divisor: divisor > 0 ? divisor : 0 };
}

/** Silence (or comfort noise) for a while or for ever, a frame at a time. */
export class SilenceGenerator implements SampleSource {
  private remaining: number;
  private seed: number;

  constructor(private readonly spec: SilenceSpec, private rate: number, seed = 0x2f1d) {
    this.remaining = spec.ms === Infinity ? Infinity : Math.trunc(rate / 1000) * spec.ms;
    this.seed = seed & 0xffff;
  }

  get rateHz(): number {
    return this.rate;
  }

  get ended(): boolean {
    return this.remaining <= 0;
  }

  read(out: Int16Array, offset: number, count: number): number {
    const n = Math.min(count, this.remaining);
    if (n <= 0) return 0;
    if (this.spec.divisor === 0) {
      out.fill(0, offset, offset + n);
    } else {
      const divisor = this.spec.divisor;
      let r = this.seed;
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let x = 0; x < 6; x++) {
          r = (Math.imul(r, 31821) + 13849) & 0xffff;
          sum += (r << 16) >> 16;
        }
        out[offset + i] = (((sum << 16) >> 16) / divisor) | 0;
      }
      this.seed = r;
    }
    this.remaining -= n;
    return n;
  }

  setRate(rateHz: number): void {
    if (this.remaining !== Infinity) this.remaining = Math.round((this.remaining * Math.trunc(rateHz / 1000)) / Math.max(1, Math.trunc(this.rate / 1000)));
    this.rate = rateHz;
  }
}
