import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Runtime, DEFAULT_TEMP_DIR } from '../service/runtime.ts';
import type { Channel, ChannelEndpoint } from '../channel/channel.ts';
import { WavSource } from '../channel/wav-source.ts';
import { parseWav } from '../audio/wav.ts';
import { uuidAudioStream } from '../audio-stream/command.ts';
import type { AudioStream } from '../audio-stream/audio-stream.ts';
import type { FsEvent } from '../events/event.ts';
import { parseArgs, lastOption, usageError } from './args.ts';
import { isAppError } from '../lib/errors.ts';
import { parseCommandsFile, type TimedCommand } from './commands-file.ts';
import { StereoWavRecorder } from './recorder.ts';
import { mixSaturating } from '../audio/mix.ts';

export const STREAM_HELP = `Usage: audio-stream stream <file.wav> <ws-url> [mono|mixed|stereo] [8k|16k|<rate>] [metadata...] [options]

Plays a WAV file as a call channel and streams it to a WebSocket server exactly as
uuid_audio_stream would: a mono file is the read stream (what the caller says), a stereo
file is read (left) and write (right); the file's rate is the codec rate.
With --var STREAM_PLAYBACK=true (or STREAM_SAMPLE_RATE) the server's replies play into the
channel's write stream as in a call (docs/duplex.md): mixed and stereo streams carry them back.
Each mod_audio_stream event is printed on stdout as one JSON line; logs go to stderr.

Arguments:
  mono|mixed|stereo      what is streamed (default mono)
  8k|16k|<rate>          rate sent: 8k, 16k, another multiple of 8000 up to 64000, 11025,
                         22050 or 44100 (default 8k)
  metadata...            text sent first, before any audio (the rest of the line)

Options:
  --var NAME=VALUE       set a channel variable, e.g. --var STREAM_BUFFER_SIZE=100 (repeatable)
  --ptime <ms>           packet time of the channel (default 20)
  --speed <x>            1 = real time (default), 2 = twice as fast, 0 = as fast as the server takes it
  --commands <file>      timed commands, one a line:
                         <seconds> <pause|resume|send_text|stop|break|dtmf> [args]
                         (seconds of audio from the start; dtmf <digits>[@<ms>] sends the
                         caller's digits, 100 ms each by default; a stop ends the run, which
                         then outlasts the file with silence if needed)
  --record <out.wav>     write the conversation as a stereo WAV: left the caller's audio as
                         streamed, right what the caller would have heard (the bot included)
  --temp-dir <dir>       where play files are written (default ${DEFAULT_TEMP_DIR})
  --keep-files           keep play files after exit (by default they are deleted on stop)
  -h, --help             this text

Without a stop command the run ends at the end of the file, once the bot's audio queued by
then has played; a hangup from the server ends it too.
Exit status: 0 when the file was streamed and the stream stopped cleanly (or the server hung
up); 1 when the stream failed or the server closed it; 2 for bad arguments; 130 on Ctrl-C (the
stream is stopped cleanly and the recording kept).`;

/** Largest WAV file accepted, in bytes. */
const MAX_WAV_BYTES = 1 << 30;
/** With --speed 0: the share of the stream's buffer bound that may fill before feeding pauses (so nothing is dropped). */
const FAST_HIGH_WATER_SHARE = 0.5;
/** With --speed 0: frames fed between two turns of the event loop (so server replies are read meanwhile). */
const FAST_BATCH_FRAMES = 20;

/** Where the stream command writes. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
}

interface StreamPlan {
  file: string;
  url: string;
  mix: string;
  rate: string | undefined;
  metadata: string | undefined;
  vars: Array<[string, string]>;
  ptimeMs: number;
  speed: number;
  commands: TimedCommand[];
  tempDir: string;
  keepFiles: boolean;
  record: string | undefined;
}

const MIX_WORDS = new Set(['mono', 'mixed', 'stereo']);

async function planFromArgs(argv: string[]): Promise<StreamPlan | 'help'> {
  const args = parseArgs(argv, ['var', 'ptime', 'speed', 'commands', 'temp-dir', 'record'], ['help', 'h', 'keep-files']);
  if (args.flags.has('help') || args.flags.has('h')) return 'help';
  const [file, url, mix, rate, ...meta] = args.positionals;
  if (!file || !url) throw usageError('needs <file.wav> and <ws-url> (see --help)');
  if (mix !== undefined && !MIX_WORDS.has(mix.toLowerCase())) throw usageError(`invalid mix type ${mix}: use mono, mixed or stereo`);
  const vars = (args.options.get('var') ?? []).map((v): [string, string] => {
    const eq = v.indexOf('=');
    if (eq <= 0) throw usageError(`--var needs NAME=VALUE, got ${JSON.stringify(v)}`);
    return [v.slice(0, eq), v.slice(eq + 1)];
  });
  const ptimeMs = Number(lastOption(args, 'ptime') ?? 20);
  if (!Number.isInteger(ptimeMs) || ptimeMs < 10 || ptimeMs > 120) throw usageError('--ptime must be a whole number of ms from 10 to 120');
  const speed = Number(lastOption(args, 'speed') ?? 1);
  if (!Number.isFinite(speed) || speed < 0 || speed > 100) throw usageError('--speed must be a number from 0 to 100');
  const commandsFile = lastOption(args, 'commands');
  let commands: TimedCommand[] = [];
  if (commandsFile) {
    let text: string;
    try {
      text = await readFile(commandsFile, 'utf8');
    } catch (err) {
      throw usageError(`cannot read --commands ${commandsFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    commands = parseCommandsFile(text);
  }
  return {
    file, url, mix: mix ?? 'mono', rate, metadata: meta.length ? meta.join(' ') : undefined, vars, ptimeMs, speed, commands,
    tempDir: lastOption(args, 'temp-dir') ?? DEFAULT_TEMP_DIR, keepFiles: args.flags.has('keep-files'),
    record: lastOption(args, 'record'),
  };
}

async function loadWav(file: string): Promise<{ samples: Int16Array; channels: 1 | 2; rateHz: number }> {
  let buf: Buffer;
  try {
    const st = await stat(file);
    if (st.size > MAX_WAV_BYTES) throw usageError(`${file} is larger than ${MAX_WAV_BYTES} bytes`);
    buf = await readFile(file);
  } catch (err) {
    if (isAppError(err, 'USAGE')) throw err;
    throw usageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const wav = parseWav(buf);
    if (wav.channels !== 1 && wav.channels !== 2) throw usageError(`${file} has ${wav.channels} channels: use a mono or stereo file`);
    if (wav.sampleRateHz < 8000 || wav.sampleRateHz > 48000) throw usageError(`${file} is at ${wav.sampleRateHz} Hz: use 8000 to 48000 Hz`);
    return { samples: wav.samples, channels: wav.channels, rateHz: wav.sampleRateHz };
  } catch (err) {
    if (isAppError(err, 'WAV_INVALID')) throw usageError(`${file}: ${err.message}`);
    throw err;
  }
}

/** A file "call": always able to answer; hanging up needs no signalling. */
const fileEndpoint: ChannelEndpoint = {
  preAnswer: () => true,
  answer: () => true,
  hangup: () => undefined,
};

/** One run of the stream command. */
class StreamRun {
  private readonly source: WavSource;
  private framesFed = 0;
  private nextCommand = 0;
  private readonly hasStopCommand: boolean;
  private removeClock: (() => void) | undefined;
  private progressTimer: NodeJS.Timeout | undefined;
  private outcome: { code: number; reason?: string } | undefined;
  private resolveDone!: () => void;
  readonly done = new Promise<void>((r) => { this.resolveDone = r; });
  private credit = 0;
  private opened = false;
  /** The file has ended: the run waits for the bot's audio queued by then to play. */
  private draining = false;
  /** The write frame: the file's write side mixed with the bot's audio. */
  private readonly mixed: Int16Array;

  constructor(
    private readonly plan: StreamPlan,
    private readonly channel: Channel,
    private readonly stream: AudioStream,
    private readonly runtime: Runtime,
    wav: { samples: Int16Array; channels: 1 | 2; rateHz: number },
    private readonly io: CliIo,
    private readonly recorder: StereoWavRecorder | undefined,
  ) {
    this.source = new WavSource(wav.samples, wav.channels, wav.rateHz, plan.ptimeMs);
    this.mixed = new Int16Array(this.source.frameSamples);
    this.hasStopCommand = plan.commands.some((c) => c.command === 'stop' || c.command.startsWith('stop '));
  }

  /** Handles the stream's events: prints them and ends the run on error, a server close or a hangup. */
  onEvent(event: FsEvent): void {
    if (event.get('Unique-ID') !== this.channel.uuid) return;
    if (event.name === 'CHANNEL_HANGUP' && !this.outcome) {
      this.io.stderr.write(`the server hung up the call (${event.get('Hangup-Cause') ?? 'NORMAL_CLEARING'})\n`);
      this.finish(0);
      return;
    }
    const subclass = event.subclass;
    if (event.name !== 'CUSTOM' || !subclass?.startsWith('mod_audio_stream::')) return;
    const line = { subclass, body: event.body ?? '', uuid: this.channel.uuid, timestamp: event.get('Event-Date-Timestamp') };
    this.io.stdout.write(`${JSON.stringify(line)}\n`);
    if (subclass === 'mod_audio_stream::connect') {
      this.opened = true;
      // Start on the next turn, so a reply that came with the upgrade is handled first.
      if (this.plan.speed === 0) setImmediate(() => this.pumpFast());
    } else if (subclass === 'mod_audio_stream::error') {
      this.finish(1, `stream error: ${describeBody(event.body)}`);
    } else if (subclass === 'mod_audio_stream::disconnect' && !this.outcome) {
      this.finish(1, `the server closed the connection: ${describeBody(event.body)}`);
    }
  }

  start(): void {
    if (this.plan.speed > 0) {
      this.removeClock = this.runtime.mediaClock.add(this.plan.ptimeMs, (due) => this.onTick(due));
    }
    if ('isTTY' in this.io.stderr && this.io.stderr.isTTY) {
      this.progressTimer = setInterval(() => this.printProgress(), 250);
      this.progressTimer.unref();
    }
  }

  private onTick(dueMs: number): void {
    this.credit += this.plan.speed;
    while (this.credit >= 1 && !this.outcome) {
      this.credit -= 1;
      this.feedOne(dueMs);
    }
  }

  private pumpFast(): void {
    if (this.outcome || !this.opened) return;
    let fed = 0;
    while (!this.outcome && this.stream.bufferedBytes < this.stream.maxBufferedBytes * FAST_HIGH_WATER_SHARE && fed < FAST_BATCH_FRAMES) {
      this.feedOne(this.runtime.clock.now());
      fed++;
    }
    if (this.outcome) return;
    if (fed === FAST_BATCH_FRAMES) setImmediate(() => this.pumpFast());
    else setTimeout(() => this.pumpFast(), 2);
  }

  private feedOne(dueMs: number): void {
    const mediaMs = this.framesFed * this.plan.ptimeMs;
    while (this.nextCommand < this.plan.commands.length && this.plan.commands[this.nextCommand]!.atMs <= mediaMs) {
      const cmd = this.plan.commands[this.nextCommand++]!;
      const reply = this.run(cmd);
      this.io.stderr.write(`${(mediaMs / 1000).toFixed(2)}s ${cmd.command} -> ${reply}\n`);
      if (/^stop\b/.test(cmd.command)) {
        this.finish(0);
        return;
      }
    }
    if (this.outcome) return; // a command hung up
    if (this.source.ended && !this.hasStopCommand && !this.draining) {
      if (this.channel.playback.queuedMs === 0 && !this.stream.repliesPending) {
        this.finish(0);
        return;
      }
      // The caller stays on the line (silent) until the bot's replies received by now have played.
      this.draining = true;
      this.stream.afterReplies(() => this.finish(0));
    }
    const frame = this.source.next();
    const n = frame.read.length;
    const bot = this.channel.playback.nextFrame(this.source.frameSamples);
    let write = frame.write;
    if (bot) write = frame.write ? this.mixed.subarray(0, mixSaturating(frame.write, bot, this.mixed, n)) : bot.subarray(0, n);
    this.channel.processFrame(frame.read, write, dueMs);
    this.recorder?.write(frame.read, write, n);
    this.framesFed++;
  }

  /** One timed command: a uuid_audio_stream sub-command, or `dtmf <digit>` (the caller presses a key). */
  private run(cmd: TimedCommand): string {
    if (cmd.dtmf) {
      this.channel.dtmf(cmd.dtmf.digit, cmd.dtmf.durationMs, 'APP');
      return '+OK';
    }
    return uuidAudioStream(this.runtime, `${this.channel.uuid} ${cmd.command}`).trimEnd();
  }

  /** Ends the run once: stops the stream (if still attached), waits for the close, hangs up. */
  finish(code: number, reason?: string): void {
    if (this.outcome) return;
    this.outcome = { code, reason };
    this.removeClock?.();
    clearInterval(this.progressTimer);
    if (this.progressTimer) this.io.stderr.write('\n');
    if (this.runtime.streams.find(this.channel) === this.stream) this.stream.stop();
    const guard = setTimeout(() => this.resolveDone(), 10_000);
    void this.stream.finished.then(() => {
      clearTimeout(guard);
      this.resolveDone();
    });
  }

  get result(): { code: number; reason?: string } {
    return this.outcome ?? { code: 1, reason: 'interrupted' };
  }

  private printProgress(): void {
    const pos = Math.min(this.source.positionMs, this.source.durationMs) / 1000;
    const total = this.source.durationMs / 1000;
    const pct = total > 0 ? Math.round((pos / total) * 100) : 100;
    const s = this.stream.stats;
    this.io.stderr.write(`\r${pos.toFixed(1)} s / ${total.toFixed(1)} s  ${pct}%  ${s.messagesSent} messages sent` +
      `${s.messagesDropped ? `, ${s.messagesDropped} dropped` : ''}${this.stream.isPaused ? '  (paused)' : ''}   `);
  }
}

function describeBody(body: string | undefined): string {
  try {
    const msg = (JSON.parse(body ?? '') as { message?: { code?: number; error?: string; reason?: string } }).message;
    if (msg) return `${msg.code ?? '?'} ${msg.error ?? msg.reason ?? ''}`.trim();
  } catch {
    // fall through to the raw body
  }
  return body ?? '';
}

/** `audio-stream stream ...`: returns the exit status. */
export async function streamCommand(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let plan: StreamPlan | 'help';
  let wav: Awaited<ReturnType<typeof loadWav>>;
  try {
    plan = await planFromArgs(argv);
    if (plan === 'help') {
      io.stdout.write(`${STREAM_HELP}\n`);
      return 0;
    }
    wav = await loadWav(plan.file);
  } catch (err) {
    if (isAppError(err, 'USAGE')) {
      io.stderr.write(`audio-stream stream: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  let recorder: StereoWavRecorder | undefined;
  if (plan.record) {
    try {
      recorder = new StereoWavRecorder(plan.record, wav.rateHz);
    } catch (err) {
      io.stderr.write(`audio-stream stream: cannot write --record ${plan.record}: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
      return 2;
    }
  }
  const runtime = new Runtime({ tempDir: plan.tempDir });
  const channel = runtime.channels.create(fileEndpoint, `file/${basename(plan.file)}`, { name: 'L16', rateHz: wav.rateHz, ptimeMs: plan.ptimeMs },
    { callerIdNumber: 'audio-stream', callerIdName: 'audio-stream', destinationNumber: 'stream' });
  for (const [name, value] of plan.vars) channel.setVariable(name, value);
  channel.answer();
  let run: StreamRun | undefined;
  const pending: FsEvent[] = [];
  const unsubscribe = runtime.bus.subscribe((event) => (run ? run.onEvent(event) : pending.push(event)));
  const started = runtime.streams.start(channel, { url: plan.url, mix: plan.mix, rate: plan.rate, metadata: plan.metadata },
    { keepPlayFiles: plan.keepFiles });
  if (!started.ok) {
    unsubscribe();
    channel.hangup();
    recorder?.close();
    io.stderr.write(`audio-stream stream: ${started.error.message}\n`);
    return 2;
  }
  run = new StreamRun(plan, channel, started.value, runtime, wav, io, recorder);
  for (const event of pending) run.onEvent(event);
  run.start();
  const interrupt = () => run!.finish(130, 'interrupted');
  process.once('SIGINT', interrupt);
  await run.done;
  process.off('SIGINT', interrupt);
  unsubscribe();
  channel.hangup('NORMAL_CLEARING');
  if (recorder) {
    recorder.close();
    io.stderr.write(`recorded ${recorder.seconds.toFixed(2)} s to ${recorder.path}\n`);
  }
  const { code, reason } = run.result;
  if (reason) io.stderr.write(`audio-stream stream: ${reason}\n`);
  return code;
}
