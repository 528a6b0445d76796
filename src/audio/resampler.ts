// Streaming s16 resampler over the speexdsp resampler compiled to WASM (SIMD build), the same
// algorithm FreeSWITCH's switch_resample / mod_audio_stream use. The WASM module is instantiated
// once at module load (top-level await) so Resampler can be constructed synchronously.
import SpeexResamplerInit from '@echogarden/speex-resampler-wasm/simd';

/** The subset of the emscripten module this wrapper uses (pointers are byte offsets into the WASM heap). */
interface SpeexModule {
  _speex_resampler_init(channels: number, inRate: number, outRate: number, quality: number, errPtr: number): number;
  _speex_resampler_process_interleaved_int(st: number, inPtr: number, inLenPtr: number, outPtr: number, outLenPtr: number): number;
  _speex_resampler_destroy(st: number): void;
  _speex_resampler_get_output_latency(st: number): number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  HEAP16: Int16Array;
  HEAP32: Int32Array;
  HEAPU32: Uint32Array;
}

const speex = (await SpeexResamplerInit()) as SpeexModule;

/** Module-wide scratch words (byte pointers): error code, in-length and out-length in/out parameters. */
const ERR_PTR = speex._malloc(12);
const IN_LEN_PTR = ERR_PTR + 4;
const OUT_LEN_PTR = ERR_PTR + 8;

/** FreeSWITCH's SWITCH_RESAMPLE_QUALITY (speex quality 0..10). */
const DEFAULT_QUALITY = 2;
/** Highest rate accepted (Hz). */
const MAX_RATE_HZ = 1_000_000;
/** Extra output frames reserved beyond the exact ratio (frames per channel). */
const OUT_MARGIN_FRAMES = 16;
/** Smallest input capacity allocated up front: 20 ms at 48 kHz (frames per channel). */
const MIN_IN_FRAMES = 960;

/** Throws RangeError unless `rate` is an integer in 1..MAX_RATE_HZ (Hz). */
function checkRate(name: string, rate: number): void {
  if (!Number.isInteger(rate) || rate < 1 || rate > MAX_RATE_HZ) throw new RangeError(`Resampler: bad ${name} ${rate} (integer 1..${MAX_RATE_HZ} Hz)`);
}

/** Streaming s16 resampler (speexdsp, quality 2 by default as FreeSWITCH's SWITCH_RESAMPLE_QUALITY); state carries across calls. */
export class Resampler {
  /** Interleaved channel count. */
  readonly channels: 1 | 2;
  /** Input sample rate (Hz). */
  readonly inRateHz: number;
  /** Output sample rate (Hz). */
  readonly outRateHz: number;

  /** Speex state pointer; 0 once destroyed. */
  private state = 0;
  /** WASM input buffer (byte pointer) and its capacity (frames per channel, plus one spare sample). */
  private inPtr = 0;
  private inCapFrames = 0;
  /** WASM output buffer (byte pointer) and its capacity (frames per channel). */
  private outPtr = 0;
  private outCapFrames = 0;
  /** JS-side output storage (interleaved samples) and the cached views handed out. */
  private out = new Int16Array(0);
  private viewA = new Int16Array(0);
  private viewB = new Int16Array(0);
  /** Trailing sample of an incomplete stereo frame, carried to the next call. */
  private pending = 0;
  private hasPending = false;

  /** Creates a resampler from `inRateHz` to `outRateHz` (Hz, integers) for 1 or 2 interleaved channels; `quality` 0..10. */
  constructor(channels: 1 | 2, inRateHz: number, outRateHz: number, quality = DEFAULT_QUALITY) {
    if (channels !== 1 && channels !== 2) throw new RangeError(`Resampler: bad channel count ${String(channels)} (1 or 2)`);
    checkRate('input rate', inRateHz);
    checkRate('output rate', outRateHz);
    if (!Number.isInteger(quality) || quality < 0 || quality > 10) throw new RangeError(`Resampler: bad quality ${quality} (integer 0..10)`);
    this.channels = channels;
    this.inRateHz = inRateHz;
    this.outRateHz = outRateHz;
    this.state = speex._speex_resampler_init(channels, inRateHz, outRateHz, quality, ERR_PTR);
    if (this.state === 0) throw new Error(`Resampler: speex_resampler_init failed (error ${speex.HEAP32[ERR_PTR >> 2]})`);
    this.reserve(Math.max(MIN_IN_FRAMES, Math.ceil((inRateHz * 20) / 1000)));
  }

  /** Resamples interleaved samples; returns a view into an internal buffer, valid until the next call. Consumes all input. */
  process(input: Int16Array): Int16Array {
    if (this.state === 0) return this.view(0); // destroyed: no output rather than an exception on the audio path
    const ch = this.channels;
    const total = input.length + (this.hasPending ? 1 : 0);
    const frames = ch === 1 ? total : total >> 1;
    if (frames + 1 > this.inCapFrames) this.reserve(Math.max(frames + 1, this.inCapFrames * 2));
    this.loadInput(input, total);
    const produced = this.run(frames);
    return this.view(produced * ch);
  }

  /**
   * The filter's delay in output frames: the last input given comes out only that many frames
   * later (pushed by the next input, or by silence to flush it). 0 once destroyed.
   */
  get outputLatency(): number {
    return this.state === 0 ? 0 : speex._speex_resampler_get_output_latency(this.state);
  }

  /** Frees the WASM state; idempotent. */
  destroy(): void {
    if (this.state === 0) return;
    speex._speex_resampler_destroy(this.state);
    speex._free(this.inPtr);
    speex._free(this.outPtr);
    this.state = this.inPtr = this.outPtr = 0;
    this.inCapFrames = this.outCapFrames = 0;
  }

  /** Output frames (per channel) that `frames` input frames can produce, with margin. */
  private outFramesFor(frames: number): number {
    return Math.ceil((frames * this.outRateHz) / this.inRateHz) + OUT_MARGIN_FRAMES;
  }

  /** (Re)allocates WASM and JS buffers for `frames` input frames per call; only ever grows. */
  private reserve(frames: number): void {
    const ch = this.channels;
    if (this.inPtr !== 0) speex._free(this.inPtr);
    if (this.outPtr !== 0) speex._free(this.outPtr);
    this.inCapFrames = frames;
    this.outCapFrames = this.outFramesFor(frames);
    this.inPtr = speex._malloc((frames + 1) * ch * 2);
    this.outPtr = speex._malloc(this.outCapFrames * ch * 2);
    this.growOut(this.outCapFrames * ch);
  }

  /** Ensures the JS output storage holds at least `samples` samples, keeping its contents. */
  private growOut(samples: number): void {
    if (this.out.length >= samples) return;
    const bigger = new Int16Array(Math.max(samples, this.out.length * 2));
    bigger.set(this.out);
    this.out = bigger;
    this.viewA = this.viewB = new Int16Array(0);
  }

  /** Copies the carried sample plus `input` into the WASM input buffer; keeps a trailing half frame for later. */
  private loadInput(input: Int16Array, total: number): void {
    const heap = speex.HEAP16;
    let at = this.inPtr >> 1;
    if (this.hasPending) heap[at++] = this.pending;
    heap.set(input, at);
    const carry = this.channels === 2 && (total & 1) === 1;
    if (carry && input.length > 0) this.pending = input[input.length - 1];
    this.hasPending = carry;
  }

  /** Runs speex until all `frames` input frames are consumed; returns output frames written to `out`. */
  private run(frames: number): number {
    const ch = this.channels;
    let consumed = 0;
    let produced = 0;
    while (consumed < frames) {
      const u32 = speex.HEAPU32;
      u32[IN_LEN_PTR >> 2] = frames - consumed;
      u32[OUT_LEN_PTR >> 2] = this.outCapFrames;
      speex._speex_resampler_process_interleaved_int(this.state, this.inPtr + consumed * ch * 2, IN_LEN_PTR, this.outPtr, OUT_LEN_PTR);
      const used = speex.HEAPU32[IN_LEN_PTR >> 2];
      const made = speex.HEAPU32[OUT_LEN_PTR >> 2];
      this.copyOut(produced * ch, made * ch);
      consumed += used;
      produced += made;
      if (used === 0 && made === 0) break; // defensive: speex made no progress
    }
    return produced;
  }

  /** Appends `count` samples from the WASM output buffer to `out` at sample index `at`. */
  private copyOut(at: number, count: number): void {
    if (at + count > this.out.length) this.growOut(at + count);
    const heap = speex.HEAP16;
    const src = this.outPtr >> 1;
    const dst = this.out;
    for (let i = 0; i < count; i++) dst[at + i] = heap[src + i];
  }

  /** Returns a view of the first `samples` output samples, reusing the last two views to avoid allocation. */
  private view(samples: number): Int16Array {
    if (this.viewA.length === samples && this.viewA.buffer === this.out.buffer) return this.viewA;
    if (this.viewB.length === samples && this.viewB.buffer === this.out.buffer) return this.viewB;
    this.viewB = this.viewA;
    this.viewA = this.out.subarray(0, samples);
    return this.viewA;
  }
}
