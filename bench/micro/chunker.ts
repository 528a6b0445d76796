// Cutting the resampled stream into messages: SampleChunker on pieces that match the chunk size
// and on 30 ms pieces into 20 ms chunks (the tail moves each time), then the whole per-frame
// StreamPipeline (build the frame, resample, chunk) as one stream's engine runs it every 20 ms.
import type { Benchmark } from './harness.ts';
import { Cycle, FRAMES_PER_SECOND, audioFrames } from './inputs.ts';
import { SampleChunker } from '../../src/audio/chunker.ts';
import { StreamPipeline, type MixType } from '../../src/audio-stream/pipeline.ts';

/** Samples in 20 ms at 16 kHz: the chunk of a `16k` stream with the default 20 ms buffer. */
const CHUNK_SAMPLES = 320;

/**
 * A benchmark of one SampleChunker.push of `pieceSamples` (16 kHz audio) and reading the complete
 * chunks as bytes, as StreamPipeline does.
 */
function chunkerBenchmark(name: string, pieceSamples: number): Benchmark {
  let chunker: SampleChunker;
  let pieces: Cycle<Int16Array>;
  /** Pushes one piece; returns the bytes of the chunks it completed (the caller would send them). */
  const push = () => {
    const count = chunker.push(pieces.next());
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += chunker.chunkBytes(i).length;
    return bytes;
  };
  return {
    name,
    bytesPerOp: pieceSamples * 2,
    opsPerCallSecond: 16000 / pieceSamples,
    setup() {
      // Consecutive pieces of one second of 16 kHz audio (the same samples whatever the piece size).
      const second = new Int16Array(16000);
      audioFrames(16000).forEach((frame, i) => second.set(frame, i * frame.length));
      const list: Int16Array[] = [];
      for (let at = 0; at + pieceSamples <= second.length; at += pieceSamples) list.push(second.subarray(at, at + pieceSamples));
      pieces = new Cycle(list);
      chunker = new SampleChunker(CHUNK_SAMPLES);
      // The storage grows to the largest piece on the first pushes: measure the steady state after that.
      for (let i = 0; i < 4; i++) push();
    },
    fn: push,
  };
}

/** A benchmark of StreamPipeline.process on one 20 ms frame of 8 kHz read (and write) audio, to 16 kHz 20 ms messages. */
function pipelineBenchmark(name: string, mix: MixType): Benchmark {
  let pipeline: StreamPipeline;
  let reads: Cycle<Int16Array>;
  let writes: Cycle<Int16Array>;
  return {
    name,
    bytesPerOp: (mix === 'stereo' ? 2 : 1) * 160 * 2,
    opsPerCallSecond: FRAMES_PER_SECOND,
    setup() {
      const stereo = audioFrames(8000, 2);
      // The two sides of the call as separate mono frames, as the media bug hands them over.
      const side = (c: 0 | 1) => stereo.map((f) => Int16Array.from({ length: f.length / 2 }, (_, i) => f[2 * i + c]));
      reads = new Cycle(side(0));
      writes = new Cycle(side(1));
      pipeline = new StreamPipeline({ mix, inputRateHz: 8000, outputRateHz: 16000, bufferMs: 20 });
    },
    fn: () => pipeline.process(reads.next(), mix === 'mono' ? null : writes.next(), 160),
  };
}

/** SampleChunker and StreamPipeline benchmarks (MB/s counts input bytes). */
export const chunkerBenchmarks: Benchmark[] = [
  chunkerBenchmark('chunker: 320-sample pieces, 320 chunks', 320),
  chunkerBenchmark('chunker: 480-sample pieces, 320 chunks', 480),
  pipelineBenchmark('pipeline: mono 8k -> 16k, 20 ms', 'mono'),
  pipelineBenchmark('pipeline: stereo 8k -> 16k, 20 ms', 'stereo'),
];
