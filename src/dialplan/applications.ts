// The built-in dialplan applications. To add one, add an entry to BUILTIN_APPLICATIONS: its name,
// the check of its data at config load, and its run. Routes, ESL `sendmsg execute` and
// `uuid_broadcast` find it from there.
import type { Clock } from '../lib/clock.ts';
import { fail, ok } from '../lib/errors.ts';
import { freeswitchLevel, levelOfFreeswitch, Logger } from '../lib/logger.ts';
import type { Channel } from '../channel/channel.ts';
import { isHangupCause } from '../channel/hangup-cause.ts';
import type { ChannelLookup } from '../channel/registry.ts';
import { checkStreamPath } from '../channel/stream-files.ts';
import type { PlayFileAccess } from '../channel/sound-files.ts';
import { audioStreamCommand } from '../audio-stream/command.ts';
import type { AudioStreamEngine } from '../audio-stream/engine.ts';
import type { Application } from './application.ts';

const log = new Logger('dialplan');

/** What the built-in applications use. */
export interface BuiltinContext {
  /** Time source of `sleep`. */
  clock: Clock;
  /** The mod_audio_stream engine (`audio_stream`). */
  streams: AudioStreamEngine;
  channels: ChannelLookup;
  /** Where `playback` may read files (sounds.dirs and the stream's play files); undefined: anywhere (library use). */
  playFileAccess?: PlayFileAccess;
}

/** Longest sleep, in ms (setTimeout's limit). */
const MAX_SLEEP_MS = 2 ** 31 - 1;

const set: Application<BuiltinContext> = {
  name: 'set',
  needsData: true,
  check: (data) => (/^[^=\s]+=/.test(data) ? ok(undefined) : fail('INVALID_ARGUMENT', 'set needs NAME=VALUE')),
  run(channel, data) {
    const eq = data.indexOf('=');
    if (eq <= 0) return fail('INVALID_ARGUMENT', 'set needs NAME=VALUE');
    channel.setVariable(data.slice(0, eq).trim(), data.slice(eq + 1));
    return ok('+OK');
  },
};

const answer: Application<BuiltinContext> = {
  name: 'answer',
  run: (channel) => (channel.answer() ? ok('+OK') : fail('CHANNEL_NO_MEDIA', 'cannot answer')),
};

const preAnswer: Application<BuiltinContext> = {
  name: 'pre_answer',
  run: (channel) => (channel.preAnswer() ? ok('+OK') : fail('CHANNEL_NO_MEDIA', 'cannot pre-answer')),
};

/**
 * `playback <file>` (a file, tone_stream:// or silence_stream://): waits until played, broken off or
 * refused, with mod_dptools' responses: played or broken off (uuid_break) is `FILE PLAYED`, a file
 * that cannot be opened `FILE NOT FOUND` (and PLAYBACK_STOP with Playback-Status fail). Every way
 * to play a file (routes, `uuid_broadcast`, `sendmsg execute playback`) runs this, so files are
 * read only where `playFileAccess` allows.
 */
const playback: Application<BuiltinContext> = {
  name: 'playback',
  needsData: true,
  check: checkStreamPath,
  async run(channel, data, ctx) {
    if (!channel.preAnswer()) return fail('CHANNEL_NO_MEDIA', 'no media');
    const status = await channel.playback.enqueue(data, ctx.playFileAccess);
    return ok(status === 'fail' ? 'FILE NOT FOUND' : 'FILE PLAYED');
  },
};

/** `audio_stream <uuid_audio_stream arguments after the uuid>`. */
const audioStream: Application<BuiltinContext> = {
  name: 'audio_stream',
  needsData: true,
  run(channel, data, ctx) {
    const result = audioStreamCommand(ctx, `${channel.uuid} ${data}`);
    if (!result.ok) {
      log.error(`${channel.uuid}: audio_stream ${data}: ${result.error.message}`);
      return result;
    }
    return ok('+OK Success');
  },
};

/** `park`: the channel stays up, waiting for an API or ESL command, until it hangs up. */
const park: Application<BuiltinContext> = {
  name: 'park',
  async run(channel) {
    channel.park();
    await channel.ended;
    return ok('+OK');
  },
};

const hangup: Application<BuiltinContext> = {
  name: 'hangup',
  run(channel, data) {
    const cause = data.trim() || 'NORMAL_CLEARING';
    channel.hangup(isHangupCause(cause) ? cause : 'NORMAL_CLEARING');
    return ok('+OK');
  },
};

/** `sleep <ms>`: a hangup ends it at once, and no timer outlives the call. */
const sleep: Application<BuiltinContext> = {
  name: 'sleep',
  needsData: true,
  check: (data) => (/^\d+$/.test(data) ? ok(undefined) : fail('INVALID_ARGUMENT', 'sleep needs a number of milliseconds')),
  async run(channel, data, ctx) {
    const ms = Number(data);
    if (!Number.isInteger(ms) || ms < 0 || ms > MAX_SLEEP_MS) return fail('INVALID_ARGUMENT', `sleep needs milliseconds (0 to ${MAX_SLEEP_MS})`);
    await sleepUnlessHungUp(channel, ms, ctx.clock);
    return ok('+OK');
  },
};

function sleepUnlessHungUp(channel: Channel, ms: number, clock: Clock): Promise<void> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(resolve, ms);
    void channel.ended.then(() => {
      clock.clearTimeout(timer);
      resolve();
    });
  });
}

/** `log [<level>] <message>`: one log line from the dialplan (level debug when the first word is not a level, as mod_dptools). */
const logApp: Application<BuiltinContext> = {
  name: 'log',
  run(channel, data) {
    const sp = data.indexOf(' ');
    const number = sp > 0 ? freeswitchLevel(data.slice(0, sp)) : undefined;
    const text = number === undefined ? data : data.slice(sp + 1);
    new Logger(`dialplan(${channel.uuid})`)[number === undefined ? 'debug' : levelOfFreeswitch(number)](text);
    return ok('+OK');
  },
};

/** The applications every service has (the Event Socket layer adds `socket`). */
export const BUILTIN_APPLICATIONS: ReadonlyArray<Application<BuiltinContext>> = [
  set, answer, preAnswer, playback, audioStream, park, hangup, sleep, logApp,
];
