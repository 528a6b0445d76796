/**
 * Audio made on demand instead of decoded up front (a tone_stream:// or silence_stream:// "file"):
 * mono s16 at `rateHz`, written straight into the caller's frame, so nothing is allocated per frame.
 */
export interface SampleSource {
  /** The rate samples are made at, Hz. */
  readonly rateHz: number;
  /** True once every sample has been handed out (at once for a source with none). */
  readonly ended: boolean;
  /** Writes up to `count` samples to `out` from `offset`; returns how many (fewer only at the end). */
  read(out: Int16Array, offset: number, count: number): number;
  /** Goes on at another rate (a codec change mid-call), from the same point in time. */
  setRate(rateHz: number): void;
}
