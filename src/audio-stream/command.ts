// The `uuid_audio_stream` API, the module's text interface: FreeSWITCH's argument splitting, the
// sub-commands, and the replies (`+OK Success`, `-ERR <what is wrong>`, `-USAGE: ...`), which are
// rendered here and nowhere else.
import { separateString } from '../lib/separate-string.ts';
import { Logger } from '../lib/logger.ts';
import { fail, ok, type Result } from '../lib/errors.ts';
import type { Channel } from '../channel/channel.ts';
import type { ChannelLookup } from '../channel/registry.ts';
import type { AudioStreamEngine } from './engine.ts';
import type { AudioStream } from './audio-stream.ts';

/**
 * Syntax shown by `-USAGE:` replies and `show api`: the module's own string, byte for byte (an
 * application may match on it), though `graceful-shutdown` is not a command there either and
 * `break` and the other rates are ours (README).
 */
export const UUID_AUDIO_STREAM_SYNTAX =
  '<uuid> [start | stop | send_text | pause | resume | graceful-shutdown ] [wss-url | path] [mono | mixed | stereo] [8000 | 16000] [metadata]';

const OK = '+OK Success\n';
const USAGE = `-USAGE: ${UUID_AUDIO_STREAM_SYNTAX}\n`;
const log = new Logger('mod_audio_stream');

/** What `uuid_audio_stream` works on. */
export interface UuidAudioStreamContext {
  channels: ChannelLookup;
  streams: AudioStreamEngine;
}

/**
 * `uuid_audio_stream <uuid> start|send_text|stop|pause|resume ...`: splits its arguments as
 * FreeSWITCH does and dispatches. Returns the reply text, always non-empty and newline-terminated.
 * `start` answers once the stream is attached and connecting.
 */
export function uuidAudioStream(ctx: UuidAudioStreamContext, args: string): string {
  const result = audioStreamCommand(ctx, args);
  if (result.ok) return OK;
  return result.error.code === 'USAGE' ? USAGE : `-ERR ${result.error.message}\n`;
}

/** The same command as a Result (the `audio_stream` dialplan application runs it); a usage problem is USAGE, its message the syntax. */
export function audioStreamCommand(ctx: UuidAudioStreamContext, args: string): Result<unknown> {
  const argv = separateString(args.trim(), 6);
  const command = argv[1]?.toLowerCase();
  if (argv.length < 2 || !argv[0] || (command === 'start' && argv.length < 4)) {
    return fail('USAGE', UUID_AUDIO_STREAM_SYNTAX);
  }
  const channel = ctx.channels.get(argv[0]);
  if (!channel) {
    log.error(`Error locating session ${argv[0]}`);
    return fail('NO_SUCH_CHANNEL', `no such channel ${argv[0]}`);
  }
  return run(ctx.streams, channel, command!, argv, args);
}

function run(streams: AudioStreamEngine, channel: Channel, command: string, argv: string[], args: string): Result<unknown> {
  switch (command) {
    case 'start':
      return streams.start(channel, { url: argv[2]!, mix: argv[3]!, rate: argv[4], metadata: argv[5] || undefined });
    case 'send_text': {
      const text = restOfLine(args);
      if (text === undefined) return fail('INVALID_ARGUMENT', 'send_text needs a text');
      if (!text.isWellFormed()) return fail('INVALID_ARGUMENT', 'text is not valid UTF-8');
      return withStream(streams, channel, (s) => s.sendText(text));
    }
    case 'stop': {
      const text = restOfLine(args);
      if (text !== undefined && !text.isWellFormed()) return fail('INVALID_ARGUMENT', 'text is not valid UTF-8');
      return withStream(streams, channel, (s) => s.stop(text));
    }
    case 'pause':
      return withStream(streams, channel, (s) => s.pause());
    case 'resume':
      return withStream(streams, channel, (s) => s.resume());
    case 'break':
      return withStream(streams, channel, (s) => s.breakPlayback());
    default:
      return fail('INVALID_ARGUMENT', `unknown command ${argv[1]}: use start, send_text, stop, pause, resume or break`);
  }
}

/** Runs `action` on the channel's stream; NO_STREAM when there is none. */
function withStream(streams: AudioStreamEngine, channel: Channel, action: (stream: AudioStream) => void): Result<void> {
  const stream = streams.find(channel);
  if (!stream) return fail('NO_STREAM', 'no stream on this channel');
  action(stream);
  return ok(undefined);
}

/** The text argument of send_text and stop: the rest of the line after the sub-command, quotes stripped. */
function restOfLine(args: string): string | undefined {
  const fields = separateString(args.trim(), 3);
  return fields[2] === undefined || fields[2] === '' ? undefined : fields[2];
}
