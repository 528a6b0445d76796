// Micro-benchmarks of the media and SIP hot paths, one process, one benchmark after the other:
//   node --import tsx bench/micro/run.ts [--seconds <s>] [--filter <substring>]
// Prints a table and writes bench/results/micro-<date>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, measureOverhead, type Benchmark, type BenchmarkResult } from './harness.ts';
import { chunkerBenchmarks } from './chunker.ts';
import { codecBenchmarks } from './codec.ts';
import { resamplerBenchmarks } from './resampler.ts';
import { rtpBenchmarks } from './rtp.ts';
import { sipParserBenchmarks } from './sip-parser.ts';

/** Every micro-benchmark, in the order they run. */
export const allMicroBenchmarks: readonly Benchmark[] = [
  ...sipParserBenchmarks,
  ...rtpBenchmarks,
  ...codecBenchmarks,
  ...resamplerBenchmarks,
  ...chunkerBenchmarks,
];

/** What runMicroBenchmarks runs and where its output goes. */
export interface MicroBenchmarkOptions {
  /** Measuring time per benchmark, seconds (default 1). */
  seconds?: number;
  /** Warm-up time per benchmark, seconds (default 0.2). */
  warmupSeconds?: number;
  /** Only the benchmarks whose name contains this (case-insensitive). */
  filter?: string;
  /** Print the table to stdout (default true). */
  print?: boolean;
  /** Write the JSON report to bench/results (default true). */
  write?: boolean;
}

/** The JSON report of one run. */
export interface MicroBenchmarkReport {
  kind: 'micro';
  startedAt: string;
  finishedAt: string;
  options: { seconds: number; warmupSeconds: number; filter: string | undefined };
  machine: { node: string; v8: string; platform: string; arch: string; cpuModel: string; cpuCount: number };
  /** Time the harness itself adds to every op (already included in each row's ns/op), ns. */
  harnessOverheadNsPerOp: number;
  rows: BenchmarkResult[];
  /** Where the report was written, when it was. */
  file?: string;
}

const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

/** Runs the (filtered) micro-benchmarks; prints the table and writes the JSON report unless told not to. */
export function runMicroBenchmarks(options: MicroBenchmarkOptions = {}): MicroBenchmarkReport {
  const seconds = options.seconds ?? 1;
  const warmupSeconds = options.warmupSeconds ?? 0.2;
  const filter = options.filter?.toLowerCase();
  const print = options.print ?? true;
  const selected = allMicroBenchmarks.filter((b) => filter === undefined || b.name.toLowerCase().includes(filter));
  if (selected.length === 0) throw new Error(`no micro-benchmark matches "${options.filter}"`);
  const startedAt = new Date();
  const rows: BenchmarkResult[] = [];
  for (const bench of selected) {
    const row = measure(bench, { seconds, warmupSeconds });
    rows.push(row);
    if (print) process.stdout.write(`${rows.length === 1 ? tableHeader() : ''}${tableRow(row)}\n`);
  }
  // Measured last, when the harness's call site has seen every benchmark: the overhead they paid.
  const harnessOverheadNsPerOp = measureOverhead({ seconds: Math.min(seconds, 0.5), warmupSeconds });
  const cpu = cpus();
  const report: MicroBenchmarkReport = {
    kind: 'micro',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: { seconds, warmupSeconds, filter: options.filter },
    machine: {
      node: process.version, v8: process.versions.v8, platform: process.platform, arch: process.arch,
      cpuModel: cpu[0]?.model ?? 'unknown', cpuCount: cpu.length,
    },
    harnessOverheadNsPerOp,
    rows,
  };
  if (print) {
    console.log(`\nharness overhead ${harnessOverheadNsPerOp.toFixed(1)} ns/op (included above); calls/core = ops/s / (ops per call-second)`);
    console.log(`${report.machine.cpuModel} x ${report.machine.cpuCount}, node ${report.machine.node}`);
  }
  if (options.write ?? true) {
    mkdirSync(RESULTS_DIR, { recursive: true });
    const stamp = startedAt.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z'); // as bench/run.ts names its files
    report.file = join(RESULTS_DIR, `micro-${stamp}.json`);
    writeFileSync(report.file, `${JSON.stringify(report, null, 2)}\n`);
    if (print) console.log(`wrote ${report.file}`);
  }
  return report;
}

const COLUMNS = [
  { title: 'benchmark', width: 42 },
  { title: 'ns/op', width: 10 },
  { title: 'ops/s', width: 13 },
  { title: 'MB/s', width: 9 },
  { title: 'calls/core', width: 11 },
] as const;

function tableHeader(): string {
  const cells = COLUMNS.map((c, i) => (i === 0 ? c.title.padEnd(c.width) : c.title.padStart(c.width)));
  return `${cells.join('  ')}\n${COLUMNS.map((c) => '-'.repeat(c.width)).join('  ')}\n`;
}

function tableRow(r: BenchmarkResult): string {
  const values = [
    r.name,
    r.nsPerOp < 100 ? r.nsPerOp.toFixed(1) : Math.round(r.nsPerOp).toLocaleString('en-US'),
    Math.round(r.opsPerSecond).toLocaleString('en-US'),
    r.megabytesPerSecond === undefined ? '' : r.megabytesPerSecond.toFixed(1),
    r.callsPerCore === undefined ? '' : Math.round(r.callsPerCore).toLocaleString('en-US'),
  ];
  return values.map((v, i) => (i === 0 ? v.padEnd(COLUMNS[i].width) : v.padStart(COLUMNS[i].width))).join('  ');
}

/** Parses --seconds and --filter; exits with a usage line on anything else. */
function parseArgs(argv: string[]): MicroBenchmarkOptions {
  const usage = 'usage: node --import tsx bench/micro/run.ts [--seconds <s>] [--filter <substring>]';
  const options: MicroBenchmarkOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (arg === '--seconds' && value !== undefined && Number(value) > 0) options.seconds = Number(value);
    else if (arg === '--filter' && value !== undefined) options.filter = value;
    else {
      console.error(arg === '--help' || arg === '-h' ? usage : `bad argument ${arg}\n${usage}`);
      process.exit(arg === '--help' || arg === '-h' ? 0 : 2);
    }
    i++;
  }
  return options;
}

function main(): void {
  runMicroBenchmarks(parseArgs(process.argv.slice(2)));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
