// The speexdsp resampler (WASM) on one 20 ms frame per call, as StreamPipeline uses it: the
// common 8 kHz codec rate up to 16 kHz for the server, mono and stereo, and 16 kHz down to 8 kHz.
import type { Benchmark } from './harness.ts';
import { Cycle, FRAMES_PER_SECOND, audioFrames } from './inputs.ts';
import { Resampler } from '../../src/audio/resampler.ts';

/** A benchmark of Resampler.process on consecutive 20 ms frames of test audio (the state carries across frames, as in a call). */
function resampleBenchmark(name: string, channels: 1 | 2, inRateHz: number, outRateHz: number): Benchmark {
  let resampler: Resampler;
  let frames: Cycle<Int16Array>;
  const bench: Benchmark = {
    name,
    opsPerCallSecond: FRAMES_PER_SECOND,
    setup() {
      const input = audioFrames(inRateHz, channels);
      bench.bytesPerOp = input[0].byteLength;
      frames = new Cycle(input);
      resampler = new Resampler(channels, inRateHz, outRateHz);
    },
    fn: () => resampler.process(frames.next()),
  };
  return bench;
}

/** Resampler benchmarks (MB/s counts input bytes). */
export const resamplerBenchmarks: Benchmark[] = [
  resampleBenchmark('resample: 8k -> 16k mono (160 samples)', 1, 8000, 16000),
  resampleBenchmark('resample: 8k -> 16k stereo (2 x 160)', 2, 8000, 16000),
  resampleBenchmark('resample: 16k -> 8k mono (320 samples)', 1, 16000, 8000),
];
