// `npm run bench`: the load benchmarks and the micro-benchmarks, all by default (--streams,
// --calls, --duplex, --micro pick).
//
// Streams (bench/load/streams.ts): N concurrent file channels (8 kHz stereo speech-like audio)
// streamed as stereo 16 kHz in 20 ms messages to a WebSocket sink in another process, deflate off
// and on: CPU per stream-second, messages lost, send delay and RSS per stream;
// bench/results/streams-<date>.json.
// Calls (bench/load/calls.ts): N concurrent PCMU calls over loopback from a load generator process,
// each answered by the SIP/RTP service and streamed mono 16k to the sink; the largest N held with
// nothing lost, CPU and RSS per call; bench/results/calls-<date>.json.
// Duplex calls (bench/load/duplex.ts): the same calls in full duplex (STREAM_SAMPLE_RATE=16000), the bot
// echoing every message back, played to the caller; the largest N held with nothing lost both ways,
// CPU and RSS per call against the one-way calls at the same N, the reply latency (bot -> RTP);
// bench/results/duplex-<date>.json.
// Soak (bench/load/soak.ts, only with --soak <minutes>): the real `audio-stream serve` with 200 churned
// calls streaming, bot replies, marks, play files and ESL subscribers; RSS and descriptor slopes,
// lost frames, temp files left; bench/results/soak-<date>.json.
// Versus FreeSWITCH (bench/load/versus-freeswitch.ts, only with --versus-freeswitch): the calls' load
// against audio-stream and against FreeSWITCH 1.10.12 + mod_audio_stream, one core each; CPU and RSS
// per call, largest N held, as ratios; bench/results/versus-freeswitch-<date>.json.
// Micro (bench/micro/run.ts): the hot parts one by one (SIP parser, RTP parse, playout buffer,
// G.711/G.722, resampler, chunker, the stream pipeline); bench/results/micro-<date>.json.
// Every load configuration runs in fresh processes; this one only orchestrates.
//
//   npm run bench -- [--streams] [--calls] [--duplex] [--micro] [--n 250,500,1000,2000] [--seconds 10] [--deflate off|on|both]
//                    [--calls-n 100,250,500,750,1000] [--calls-seconds 10] [--calls-rate 100] [--no-refine]
//                    [--duplex-n 100,200,300] [--duplex-seconds 8] [--duplex-refine] [--no-compare]
//                    [--soak <minutes>] [--soak-n 200] [--versus-freeswitch] [--versus-n 100,200,300,400,500] [--micro-seconds 1] [--quick] [--warmup 2] [--profile [N:off|on,calls[:N],duplex[:N],...]]
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { relative } from 'node:path';
import type { Calibration } from './load/calibrate.ts';
import { runCallsBench, DEFAULT_CALLS_NS, QUICK_CALLS_NS, type CallsOptions, type CallsRow } from './load/calls.ts';
import { runDuplexBench, DEFAULT_DUPLEX_NS, DEFAULT_DUPLEX_SECONDS, QUICK_DUPLEX_NS, type DuplexOptions } from './load/duplex.ts';
import {
  runStreamsBench, streamsConfigCount, DEFAULT_STREAMS_NS, DEFLATE_HEAVY_N, DEFLATE_HEAVY_MAX_SECONDS, type StreamsOptions,
} from './load/streams.ts';
import { canPin, choosePinning, waitForQuiet, launch, loadScript, nextMessage, exited, RESULTS_DIR, ROOT } from './load/harness.ts';
import { runMicroBenchmarks } from './micro/run.ts';
import { runSoakBench, type SoakOptions } from './load/soak.ts';
import { runVersusBench, DEFAULT_VERSUS_NS, QUICK_VERSUS_NS } from './load/versus-freeswitch.ts';

interface Options extends StreamsOptions {
  quick: boolean;
  /** Which benchmarks run (all unless --streams, --calls, --duplex or --micro pick). */
  streams: boolean;
  calls: boolean;
  duplex: boolean;
  micro: boolean;
  microSeconds: number;
  callsOptions: CallsOptions;
  /** The duplex calls: the calls options (warm-up, rate, retry) with their own N, window, refine and profiles. */
  duplexOptions: DuplexOptions;
  /** The soak (only when --soak gives its minutes; then the others run only if picked too). */
  soak: SoakOptions | undefined;
  /** --versus-freeswitch: the calls against FreeSWITCH + mod_audio_stream side by side, at these N (alone unless others are picked). */
  versus: number[] | undefined;
}

const HELP = `Usage: npm run bench -- [options]

  --streams           run the streams benchmark (file channels streaming stereo 16k)
  --calls             run the calls benchmark (SIP calls streaming mono 16k)
  --duplex            run the duplex calls benchmark (the calls in full duplex: the bot echoes every message, played to the caller)
  --micro             run the micro-benchmarks of the hot parts; none of the four: all of them
  --n <list>          stream counts, comma-separated (default ${DEFAULT_STREAMS_NS.join(',')})
  --seconds <s>       measuring window per configuration (default 10; deflate on at N>=${DEFLATE_HEAVY_N} is capped at ${DEFLATE_HEAVY_MAX_SECONDS})
  --deflate <mode>    off | on | both (default both)
  --warmup <s>        warm-up after all streams connected / all calls up (default 2)
  --calls-n <list>    call counts, tried upward until one does not hold (default ${DEFAULT_CALLS_NS.join(',')})
  --calls-seconds <s> measuring window of the calls benchmark (default: --seconds)
  --calls-rate <r>    calls set up per second (default 100)
  --no-refine         calls: do not try the N halfway between the last N held and the first not held
  --duplex-n <list>   duplex call counts, tried upward until one does not hold (default ${DEFAULT_DUPLEX_NS.join(',')}; rate: --calls-rate)
  --duplex-seconds <s> measuring window of the duplex calls (default ${DEFAULT_DUPLEX_SECONDS}; --calls-seconds or --seconds when given)
  --duplex-refine     duplex: also try the N halfway between the last N held and the first not held (20 s or more)
  --no-compare        duplex: no one-way row at the largest duplex N held after the duplex rows (the ratio then uses
                      the calls benchmark's rows at the same N, if any)
  --soak <minutes>    run the soak: the real audio-stream serve with --soak-n churned calls (10-40 s each) streaming,
                      bot replies, marks, play files and 4 ESL subscribers; RSS and descriptor slopes, lost frames,
                      temp files left (alone unless other benchmarks are picked too)
  --soak-n <n>        calls kept up during the soak (default 200)
  --versus-freeswitch the calls benchmark's load against audio-stream and against the real FreeSWITCH 1.10.12 +
                      mod_audio_stream (../shared/freeswitch or FREESWITCH_BUNDLE), one core each, N upward for
                      each until one does not hold: CPU and RSS per call, largest N held, as ratios (alone unless
                      other benchmarks are picked too; window, rate and warm-up from the calls options)
  --versus-n <list>   call counts of --versus-freeswitch (default ${DEFAULT_VERSUS_NS.join(',')}; --quick ${QUICK_VERSUS_NS.join(',')})
  --micro-seconds <s> measuring time of each micro-benchmark (default 1)
  --quick             streams N=250,1000, deflate off; calls N=${QUICK_CALLS_NS.join(',')}; duplex N=${QUICK_DUPLEX_NS.join(',')}; 5 s windows; micro 0.3 s each
  --pin split|none    split (default): the measured process on one CPU (the least busy) and the sink
                      on another (taskset), so the sink never runs on the engine's core; none: no
                      pinning. Profiled runs pin only the sink (V8's sampling thread needs a core).
  --quiet-wait <s>    before each configuration, wait while other processes keep the machine busy,
                      at most this long over the whole bench (default 60)
  --profile [specs]   also run configurations under node --cpu-prof and summarise where the time
                      goes; specs like 1000:off,1000:on for streams, calls or calls:<N> for calls,
                      duplex or duplex:<N> for duplex calls (alone: the largest N held); default 1000:off, calls and duplex
  -h, --help          this text`;

function parseOptions(argv: string[]): Options {
  const opts: Options = {
    ns: DEFAULT_STREAMS_NS, seconds: 10, deflate: 'both', warmup: 2, profile: [], quick: false, pin: 'split', quietWaitSeconds: 60,
    streams: true, calls: true, duplex: true, micro: true, microSeconds: 1,
    callsOptions: { ns: DEFAULT_CALLS_NS, seconds: 10, warmup: 2, rate: 100, refine: true, retry: true, profile: [] },
    duplexOptions: { ns: DEFAULT_DUPLEX_NS, seconds: 10, warmup: 2, rate: 100, refine: false, retry: true, profile: [], compare: true },
    soak: undefined,
    versus: undefined,
  };
  let versusNs: number[] | undefined;
  let soakCalls = 200;
  let nGiven = false;
  let secondsGiven = false;
  let deflateGiven = false;
  const only = new Set<'streams' | 'calls' | 'duplex' | 'micro'>();
  let callsNGiven = false;
  let duplexNGiven = false;
  let duplexRefine = false;
  let duplexSeconds: number | undefined;
  let callsSeconds: number | undefined;
  let profileGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--n':
        opts.ns = value().split(',').map((s) => {
          const n = Number(s.trim());
          if (!Number.isInteger(n) || n < 1 || n > 20000) throw new Error(`bad stream count ${s}`);
          return n;
        });
        nGiven = true;
        break;
      case '--seconds':
        opts.seconds = Number(value());
        if (!Number.isFinite(opts.seconds) || opts.seconds < 1 || opts.seconds > 600) throw new Error('--seconds must be 1..600');
        secondsGiven = true;
        break;
      case '--deflate': {
        const v = value();
        if (v !== 'off' && v !== 'on' && v !== 'both') throw new Error('--deflate must be off, on or both');
        opts.deflate = v;
        deflateGiven = true;
        break;
      }
      case '--warmup':
        opts.warmup = Number(value());
        if (!Number.isFinite(opts.warmup) || opts.warmup < 0 || opts.warmup > 60) throw new Error('--warmup must be 0..60');
        break;
      case '--quick':
        opts.quick = true;
        break;
      case '--streams':
      case '--calls':
      case '--duplex':
      case '--micro':
        only.add(a.slice(2) as 'streams' | 'calls' | 'duplex' | 'micro');
        break;
      case '--soak': {
        const minutes = Number(value());
        if (!Number.isFinite(minutes) || minutes < 0.5 || minutes > 24 * 60) throw new Error('--soak must be 0.5..1440 minutes');
        opts.soak = { minutes, calls: 0 };
        break;
      }
      case '--versus-freeswitch':
        opts.versus = [];
        break;
      case '--versus-n':
        versusNs = value().split(',').map((s) => {
          const n = Number(s.trim());
          if (!Number.isInteger(n) || n < 1 || n > 2000) throw new Error(`bad call count ${s} (1..2000)`);
          return n;
        });
        break;
      case '--soak-n':
        soakCalls = Number(value());
        if (!Number.isInteger(soakCalls) || soakCalls < 1 || soakCalls > 2000) throw new Error('--soak-n must be 1..2000');
        break;
      case '--micro-seconds':
        opts.microSeconds = Number(value());
        if (!Number.isFinite(opts.microSeconds) || opts.microSeconds < 0.1 || opts.microSeconds > 60) throw new Error('--micro-seconds must be 0.1..60');
        break;
      case '--calls-n':
        opts.callsOptions.ns = value().split(',').map((s) => {
          const n = Number(s.trim());
          if (!Number.isInteger(n) || n < 1 || n > 4000) throw new Error(`bad call count ${s} (1..4000: the service's RTP range holds 5000 ports)`);
          return n;
        });
        callsNGiven = true;
        break;
      case '--duplex-n':
        opts.duplexOptions.ns = value().split(',').map((s) => {
          const n = Number(s.trim());
          if (!Number.isInteger(n) || n < 1 || n > 4000) throw new Error(`bad call count ${s} (1..4000: the service's RTP range holds 5000 ports)`);
          return n;
        });
        duplexNGiven = true;
        break;
      case '--duplex-seconds':
        duplexSeconds = Number(value());
        if (!Number.isFinite(duplexSeconds) || duplexSeconds < 1 || duplexSeconds > 600) throw new Error('--duplex-seconds must be 1..600');
        break;
      case '--duplex-refine':
        duplexRefine = true;
        break;
      case '--no-compare':
        opts.duplexOptions.compare = false;
        break;
      case '--calls-seconds':
        callsSeconds = Number(value());
        if (!Number.isFinite(callsSeconds) || callsSeconds < 1 || callsSeconds > 600) throw new Error('--calls-seconds must be 1..600');
        break;
      case '--calls-rate':
        opts.callsOptions.rate = Number(value());
        if (!Number.isFinite(opts.callsOptions.rate) || opts.callsOptions.rate < 1 || opts.callsOptions.rate > 2000) throw new Error('--calls-rate must be 1..2000');
        break;
      case '--no-refine':
        opts.callsOptions.refine = false;
        break;
      case '--quiet-wait':
        opts.quietWaitSeconds = Number(value());
        if (!Number.isFinite(opts.quietWaitSeconds) || opts.quietWaitSeconds < 0) throw new Error('--quiet-wait must be >= 0');
        break;
      case '--pin': {
        const v = value();
        if (v !== 'split' && v !== 'none') throw new Error('--pin must be split or none');
        opts.pin = v;
        break;
      }
      case '--profile': {
        const next = argv[i + 1];
        const item = '(\\d+(:(on|off))?|(calls|duplex)(:\\d+)?)';
        const specs = next && new RegExp(`^${item}(,${item})*$`).test(next) ? (i++, next) : '1000:off,calls,duplex';
        profileGiven = true;
        opts.profile = [];
        for (const s of specs.split(',')) {
          const [a0, a1] = s.split(':');
          if (a0 === 'calls') opts.callsOptions.profile.push(a1 === undefined ? 'held' : Number(a1));
          else if (a0 === 'duplex') opts.duplexOptions.profile.push(a1 === undefined ? 'held' : Number(a1));
          else opts.profile.push({ n: Number(a0), deflate: a1 === 'on' });
        }
        break;
      }
      case '-h':
      case '--help':
        process.stdout.write(`${HELP}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  if (opts.quick) {
    if (!nGiven) opts.ns = [250, 1000];
    if (!secondsGiven) opts.seconds = 5;
    if (!deflateGiven) opts.deflate = 'off';
    if (!callsNGiven) opts.callsOptions.ns = QUICK_CALLS_NS;
    if (!duplexNGiven) opts.duplexOptions.ns = QUICK_DUPLEX_NS;
    opts.callsOptions.refine = false;
    opts.microSeconds = 0.3;
  }
  if (opts.soak) opts.soak.calls = soakCalls;
  if (opts.versus) opts.versus = versusNs ?? (opts.quick ? QUICK_VERSUS_NS : DEFAULT_VERSUS_NS);
  const all = only.size === 0 && !opts.soak && !opts.versus;
  opts.streams = all || only.has('streams');
  opts.calls = all || only.has('calls');
  opts.duplex = all || only.has('duplex');
  opts.micro = all || only.has('micro');
  opts.callsOptions.seconds = callsSeconds ?? opts.seconds;
  opts.callsOptions.warmup = opts.warmup;
  // A bare --profile with one benchmark picked profiles that one only.
  if (profileGiven && !opts.streams) opts.profile = [];
  if (profileGiven && !opts.calls) opts.callsOptions.profile = [];
  if (profileGiven && !opts.duplex) opts.duplexOptions.profile = [];
  // The duplex calls share the calls benchmark's warm-up, rate and retry; not its window (8 s unless
  // --duplex-seconds, or --seconds / --quick given) nor its refining step (--duplex-refine).
  const { ns: _ns, profile: _profile, refine: _refine, seconds: _seconds, ...shared } = opts.callsOptions;
  Object.assign(opts.duplexOptions, shared, {
    refine: duplexRefine && !opts.quick,
    seconds: duplexSeconds ?? callsSeconds ?? (secondsGiven || opts.quick ? opts.seconds : DEFAULT_DUPLEX_SECONDS),
  });
  return opts;
}

/** The machine's timing floor: how late an idle media clock ticks (a pinned child, 3 s). */
async function calibrate(pinFor: (label: string) => Promise<ReturnType<typeof choosePinning>>): Promise<Calibration | undefined> {
  try {
    const pin = await pinFor('calibration');
    const child = launch(loadScript('calibrate.ts'), ['3'], ['--import', 'tsx'], pin?.worker, ['ignore', 'inherit', 'inherit', 'ipc']);
    const { type: _type, ...calibration } = await nextMessage<Calibration & { type: string }>(child, 'calibration', 20000);
    await exited(child, 5000);
    process.stdout.write(`timing floor (idle media clock, 3 s): tick late p50 ${calibration.lateP50Ms.toFixed(2)} ms, ` +
      `p99 ${calibration.lateP99Ms.toFixed(2)} ms, max ${calibration.lateMaxMs.toFixed(1)} ms\n`);
    return calibration;
  } catch (err) {
    process.stderr.write(`calibration failed: ${(err as Error).message}\n`);
    return undefined;
  }
}

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const argv = process.argv.slice(2);
  const cpu = cpus();
  const pinText = opts.pin === 'split' && canPin ? 'engine pinned to one CPU, sink to another (taskset)' : 'no CPU pinning';
  const what = [
    opts.streams ? `streams: ${streamsConfigCount(opts)} configuration(s), stereo 16 kHz, 20 ms messages, 8 kHz stereo source` : '',
    opts.calls ? `calls: N=${opts.callsOptions.ns.join(',')} upward, PCMU -> mono 16 kHz` : '',
    opts.duplex ? `duplex calls: N=${opts.duplexOptions.ns.join(',')} upward, echoed back at 16 kHz` : '',
    opts.micro ? `micro: ${opts.microSeconds} s each` : '',
    opts.soak ? `soak: ${opts.soak.calls} churned calls for ${opts.soak.minutes} min` : '',
    opts.versus ? `versus FreeSWITCH: N=${opts.versus.join(',')} upward` : '',
  ].filter(Boolean).join('; ');
  process.stdout.write(`audio-stream bench: ${what}; ${cpu.length} CPU(s) ${cpu[0]?.model ?? ''}, node ${process.version}; ${pinText}\n`);
  const quietBudget = { ms: opts.quietWaitSeconds * 1000 };
  const pinFor = async (label: string) => choosePinning(opts.pin, (await waitForQuiet(quietBudget, label))?.slice(1));
  const results: string[] = [];

  if (opts.streams || opts.calls || opts.duplex) {
    const calibration = await calibrate(pinFor);
    if (opts.streams) {
      const streams = await runStreamsBench(opts, stamp, argv, pinFor, quietBudget, calibration);
      process.stdout.write(`${streams.lines.join('\n')}\n`);
      results.push(streams.jsonPath);
    }
    let oneWayRows: CallsRow[] = [];
    if (opts.calls) {
      const calls = await runCallsBench(opts.callsOptions, stamp, argv, pinFor, quietBudget);
      process.stdout.write(`${calls.lines.join('\n')}\n`);
      results.push(calls.jsonPath);
      oneWayRows = calls.rows;
    }
    if (opts.duplex) {
      const duplex = await runDuplexBench(opts.duplexOptions, stamp, argv, pinFor, quietBudget, oneWayRows);
      process.stdout.write(`${duplex.lines.join('\n')}\n`);
      results.push(duplex.jsonPath);
    }
  }
  if (opts.micro) {
    await waitForQuiet(quietBudget, 'micro');
    process.stdout.write('\nmicro-benchmarks (one process, one after the other):\n');
    const micro = runMicroBenchmarks({ seconds: opts.microSeconds });
    if (micro.file) results.push(relative(ROOT, micro.file));
  }
  if (opts.versus) {
    const versus = await runVersusBench({ ...opts.callsOptions, ns: opts.versus, profile: [] }, stamp, argv, pinFor);
    process.stdout.write(`${versus.lines.join('\n')}\n`);
    results.push(versus.jsonPath);
  }
  if (opts.soak) {
    await runSoakBench(opts.soak, stamp);
    results.push(`bench/results/soak-${stamp}.json`);
  }
  process.stdout.write(`\nResults: ${results.join(', ')}\n`);
}

await main();
