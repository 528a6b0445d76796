// A tiny micro-benchmark runner: warm up, pick a batch size whose duration the clock can time
// well, then run batches for a fixed time and report the mean cost of one operation.

/** One micro-benchmark: `fn` is one operation, `setup` runs once before the warm-up. */
export interface Benchmark {
  /** Unique, "area: what" (the --filter matches substrings of it). */
  name: string;
  /** Bytes one operation processes, for MB/s; read after setup() so setup may compute it. */
  bytesPerOp?: number;
  /** How often one call does this operation per second of media (50 for a 20 ms frame), for calls/core. */
  opsPerCallSecond?: number;
  /** Builds the inputs and the object under test (not measured). */
  setup?: () => void;
  /** One operation; its result goes to a sink so that the optimiser cannot drop the work. */
  fn: () => unknown;
}

/** How long to warm up and to measure one benchmark. */
export interface MeasureOptions {
  /** Measuring time per benchmark, seconds (default 1). */
  seconds?: number;
  /** Warm-up time per benchmark, seconds (default 0.2). */
  warmupSeconds?: number;
}

/** The measurement of one benchmark. */
export interface BenchmarkResult {
  name: string;
  /** Mean time of one operation over the whole measuring window, ns. */
  nsPerOp: number;
  /** Median over the batches of the time of one operation, ns (less sensitive to GC pauses and preemption). */
  medianBatchNsPerOp: number;
  /** 1e9 / nsPerOp. */
  opsPerSecond: number;
  /** Decimal megabytes (1e6 bytes) per second, when the benchmark gives bytesPerOp. */
  megabytesPerSecond?: number;
  /** Concurrent calls one core could carry doing only this operation, when the benchmark gives opsPerCallSecond. */
  callsPerCore?: number;
  /** Operations measured. */
  ops: number;
  /** Operations per batch, and batches measured. */
  batchOps: number;
  batches: number;
}

/** A batch should last about this long: far above the clock's resolution and the cost of reading it. */
const TARGET_BATCH_NS = 5_000_000;

/**
 * Every result is written here. A store to a module variable is observable, so V8 can neither
 * drop the store nor the work that produced it.
 */
let sink: unknown;

/** The last value a benchmark returned (keeps the sink observably used). */
export function lastSinkValue(): unknown {
  return sink;
}

/** Runs `fn` `count` times; returns the elapsed ns. */
function runBatch(fn: () => unknown, count: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) sink = fn();
  return Number(process.hrtime.bigint() - start);
}

let primed = false;

/**
 * The `fn()` call in runBatch sees every benchmark in turn. Left alone, the first benchmark would
 * be inlined there and later ones would pay a generic call after the deoptimisations: results
 * would depend on the order. Calling it with several different functions first makes the call
 * site megamorphic for every benchmark alike (a few ns per op, see measureOverhead).
 */
function primeCallSite(): void {
  if (primed) return;
  primed = true;
  for (const f of [() => 1, () => 'a', () => null, () => [], () => ({}), () => undefined]) runBatch(f, 10_000);
}

/** Warms `bench` up (its setup must have run) and returns operations per batch. */
function warmUp(bench: Benchmark, warmupNs: number): number {
  let count = 1;
  let spent = 0;
  for (;;) {
    const ns = runBatch(bench.fn, count);
    spent += ns;
    if (spent >= warmupNs && ns >= TARGET_BATCH_NS / 2) return count; // an op slower than a batch keeps count 1
    if (ns < TARGET_BATCH_NS) count *= 2;
  }
}

/** Runs one benchmark: setup, warm-up, then batches until `seconds` have passed. */
export function measure(bench: Benchmark, options: MeasureOptions = {}): BenchmarkResult {
  const measureNs = (options.seconds ?? 1) * 1e9;
  const warmupNs = (options.warmupSeconds ?? 0.2) * 1e9;
  primeCallSite();
  bench.setup?.();
  const batchOps = warmUp(bench, warmupNs);
  const perOp: number[] = [];
  let totalNs = 0;
  while (totalNs < measureNs || perOp.length < 3) {
    const ns = runBatch(bench.fn, batchOps);
    totalNs += ns;
    perOp.push(ns / batchOps);
  }
  const ops = batchOps * perOp.length;
  const nsPerOp = totalNs / ops;
  const opsPerSecond = 1e9 / nsPerOp;
  const result: BenchmarkResult = {
    name: bench.name,
    nsPerOp,
    medianBatchNsPerOp: median(perOp),
    opsPerSecond,
    ops,
    batchOps,
    batches: perOp.length,
  };
  if (bench.bytesPerOp !== undefined) result.megabytesPerSecond = (opsPerSecond * bench.bytesPerOp) / 1e6;
  if (bench.opsPerCallSecond !== undefined) result.callsPerCore = opsPerSecond / bench.opsPerCallSecond;
  return result;
}

/** Cost of the harness itself per operation (the megamorphic call and the sink store), ns. */
export function measureOverhead(options: MeasureOptions = {}): number {
  let n = 0;
  return measure({ name: 'harness: empty fn', fn: () => ++n }, options).nsPerOp;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
