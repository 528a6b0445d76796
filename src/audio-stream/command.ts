import { separateString } from '../lib/separate-string.ts';
import { Logger } from '../lib/logger.ts';
import type { Core } from '../core.ts';
import type { Channel } from '../channel/channel.ts';
import { AudioStream, AUDIO_STREAM_BUG, type AudioStreamParams } from './audio-stream.ts';
import { parseStreamRate, parseStreamUrl } from './url.ts';
import { readStreamOptions } from './options.ts';

/** Syntax shown by `-USAGE:` replies. */
export const UUID_AUDIO_STREAM_SYNTAX =
  '<uuid> [start | stop | send_text | pause | resume] [ws-url] [mono | mixed | stereo] [8k | 16k | 24000 | 32000 | 44100 | 48000] [metadata]';

/** Largest start metadata in UTF-8 bytes. */
export const MAX_METADATA_BYTES = 64 * 1024;

const OK = '+OK Success\n';
const USAGE = `-USAGE: ${UUID_AUDIO_STREAM_SYNTAX}\n`;
const log = new Logger('mod_audio_stream');

function err(why: string): string {
  return `-ERR ${why}\n`;
}

/** Extra hooks for callers that host streams (the CLI keeps play files; the SIP host plays them). */
export interface StreamHooks {
  keepPlayFiles?: boolean;
  onPlayFile?: AudioStreamParams['onPlayFile'];
}

/** The stream attached to a channel, if any. */
export function findAudioStream(channel: Channel): AudioStream | undefined {
  const bug = channel.findBug(AUDIO_STREAM_BUG);
  return bug instanceof AudioStream ? bug : undefined;
}

/**
 * The `uuid_audio_stream` API: splits its arguments as FreeSWITCH does and dispatches to start,
 * send_text, stop, pause and resume. Returns the reply text (`+OK Success`, `-ERR ...`, `-USAGE: ...`),
 * always non-empty and newline-terminated. `start` answers once the stream is attached and connecting.
 */
export function uuidAudioStream(core: Core, args: string, hooks: StreamHooks = {}): string {
  const argv = separateString(args.trim(), 6);
  if (argv.length < 2 || !argv[0]) return USAGE;
  const command = argv[1]!.toLowerCase();
  if (command === 'start' && argv.length < 4) return USAGE;
  const channel = core.registry.get(argv[0]);
  if (!channel) {
    log.error(`Error locating session ${argv[0]}`);
    return err(`no such channel ${argv[0]}`);
  }
  switch (command) {
    case 'start':
      return start(core, channel, argv, hooks);
    case 'send_text':
      return sendText(channel, restOfLine(args));
    case 'stop':
      return stop(channel, restOfLine(args));
    case 'pause':
    case 'resume':
      return pauseResume(channel, command);
    default:
      return err(`unknown command ${argv[1]}: use start, send_text, stop, pause or resume`);
  }
}

/** The text argument of send_text and stop: the rest of the line after the sub-command, quotes stripped. */
function restOfLine(args: string): string | undefined {
  const fields = separateString(args.trim(), 3);
  return fields[2] === undefined || fields[2] === '' ? undefined : fields[2];
}

function start(core: Core, channel: Channel, argv: string[], hooks: StreamHooks): string {
  return startAudioStream(core, channel, { url: argv[2]!, mix: argv[3]!, rate: argv[4], metadata: argv[5] || undefined }, hooks);
}

/** The arguments of `start`, as text. */
export interface StartArgs {
  url: string;
  mix: string;
  rate: string | undefined;
  metadata: string | undefined;
}

/** Validates the start arguments and starts a stream on the channel; returns the API reply. */
export function startAudioStream(core: Core, channel: Channel, args: StartArgs, hooks: StreamHooks = {}): string {
  const mix = args.mix.toLowerCase();
  if (mix !== 'mono' && mix !== 'mixed' && mix !== 'stereo') {
    return err(`invalid mix type: ${args.mix}, must be mono, mixed, or stereo`);
  }
  const rateHz = parseStreamRate(args.rate);
  if (typeof rateHz === 'string') return err(rateHz);
  const url = parseStreamUrl(args.url);
  if (typeof url === 'string') return err(url);
  const metadata = args.metadata;
  if (metadata !== undefined) {
    if (!metadata.isWellFormed()) return err('metadata is not valid UTF-8');
    if (Buffer.byteLength(metadata) > MAX_METADATA_BYTES) return err(`metadata longer than ${MAX_METADATA_BYTES} bytes`);
  }
  if (channel.findBug(AUDIO_STREAM_BUG)) return err('a stream is already running on this channel (bug already attached)');
  if (!channel.preAnswer()) return err('cannot pre-answer the channel');
  const streamLog = new Logger(`mod_audio_stream(${channel.uuid})`);
  const options = readStreamOptions((name) => channel.getVariable(name), (m) => streamLog.warning(m));
  const stream = new AudioStream({
    channel, url, mix, rateHz, metadata, options, tempDir: core.tempDir,
    keepPlayFiles: hooks.keepPlayFiles, onPlayFile: hooks.onPlayFile,
  });
  if (!channel.addBug(stream)) return err('cannot attach the stream to the channel');
  stream.start();
  return OK;
}

function sendText(channel: Channel, text: string | undefined): string {
  if (text === undefined) return err('send_text needs a text');
  if (!text.isWellFormed()) return err('text is not valid UTF-8');
  const stream = findAudioStream(channel);
  if (!stream) return err('no stream on this channel');
  stream.sendText(text);
  return OK;
}

function stop(channel: Channel, text: string | undefined): string {
  if (text !== undefined && !text.isWellFormed()) return err('text is not valid UTF-8');
  const stream = findAudioStream(channel);
  if (!stream) return err('no stream on this channel');
  stream.stop(text);
  return OK;
}

function pauseResume(channel: Channel, command: 'pause' | 'resume'): string {
  const stream = findAudioStream(channel);
  if (!stream) return err('no stream on this channel');
  if (command === 'pause') stream.pause();
  else stream.resume();
  return OK;
}
