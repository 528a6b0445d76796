// The per-channel API commands, with mod_commands.c's replies (FreeSWITCH 1.10): usage texts,
// `-ERR No such channel!\n`, `+OK\n`, and the few that answer without a newline (uuid_getvar,
// uuid_exists) or with `-ERROR\n` (uuid_answer, uuid_pre_answer).
import type { Channel } from '../channel/channel.ts';
import { str2cause } from '../channel/hangup-cause.ts';
import { separateString } from '../lib/separate-string.ts';
import type { EventBus } from '../events/bus.ts';
import { serializeJson, serializePlain, serializeXml } from '../events/serialize.ts';
import { uuidAudioStream, UUID_AUDIO_STREAM_SYNTAX } from '../audio-stream/command.ts';
import type { ApiCommand, ApiContext } from './commands.ts';

/** mod_commands' reply for an unknown uuid. */
export const NO_SUCH_CHANNEL = '-ERR No such channel!\n';
/** Argument syntaxes printed after `-USAGE: ` (mod_commands.c). */
export const SETVAR_SYNTAX = '<uuid> <var> [value]';
export const SETVAR_MULTI_SYNTAX = '<uuid> <var>=<value>;<var>=<value>...';
export const GETVAR_SYNTAX = '<uuid> <var>';
export const KILL_SYNTAX = '<uuid> [cause]';
export const BROADCAST_SYNTAX = '<uuid> <path> [aleg|bleg|holdb|both]';
export const BREAK_SYNTAX = '<uuid> [all]';
export const DUMP_SYNTAX = '<uuid> [format]';

function usage(syntax: string): string {
  return `-USAGE: ${syntax}\n`;
}


/** First field and the rest, split at the first space (strchr(cmd, ' ') in mod_commands). */
function splitFirst(args: string): [string, string | undefined] {
  const sp = args.indexOf(' ');
  return sp < 0 ? [args, undefined] : [args.slice(0, sp), args.slice(sp + 1)];
}

/** `uuid_setvar <uuid> <var> [value]`: without a value the variable is unset. */
export function uuidSetvar(ctx: ApiContext, args: string): string {
  const argv = separateString(args, 3);
  if ((argv.length !== 2 && argv.length !== 3) || !argv[0]) return usage(SETVAR_SYNTAX);
  const channel = ctx.channels.get(argv[0]);
  if (!channel) return NO_SUCH_CHANNEL;
  if (!argv[1]) return '-ERR No variable specified\n';
  channel.setVariable(argv[1], argv.length === 3 && argv[2] !== '' ? argv[2] : undefined);
  return '+OK\n';
}

/** `uuid_setvar_multi <uuid> <var>=<value>;...`; FreeSWITCH prints the usage after `-ERR No such channel!`. */
export function uuidSetvarMulti(ctx: ApiContext, args: string): string {
  const [uuid, vars] = splitFirst(args);
  if (!args || vars === undefined) return usage(SETVAR_MULTI_SYNTAX);
  const channel = ctx.channels.get(uuid);
  if (!channel) return NO_SUCH_CHANNEL + usage(SETVAR_MULTI_SYNTAX);
  let out = '';
  let set = 0;
  for (const pair of separateString(`^^;${vars}`, 64)) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (!name) {
      out += '-ERR No variable specified\n';
      continue;
    }
    channel.setVariable(name, eq < 0 || eq === pair.length - 1 ? undefined : pair.slice(eq + 1));
    set++;
  }
  return set > 0 ? `${out}+OK\n` : out + usage(SETVAR_MULTI_SYNTAX);
}

/** `uuid_getvar <uuid> <var>`: the value with no newline, or `_undef_`. */
export function uuidGetvar(ctx: ApiContext, args: string): string {
  const argv = separateString(args, 4);
  if (argv.length < 2 || !argv[0]) return usage(GETVAR_SYNTAX);
  const channel = ctx.channels.get(argv[0]);
  if (!channel) return NO_SUCH_CHANNEL;
  if (!argv[1]) return '-ERR No variable name specified!\n';
  return channel.getVariable(argv[1]) ?? '_undef_';
}

/** `uuid_kill <uuid> [cause]` (default and unknown causes: NORMAL_CLEARING). */
export function uuidKill(ctx: ApiContext, args: string): string {
  if (!args) return usage(KILL_SYNTAX);
  const [uuid, causeText] = splitFirst(args);
  const channel = ctx.channels.get(uuid);
  if (!channel) return NO_SUCH_CHANNEL;
  channel.hangup((causeText && str2cause(causeText)) || 'NORMAL_CLEARING');
  return '+OK\n';
}

/** `uuid_answer <uuid>`. */
export function uuidAnswer(ctx: ApiContext, args: string): string {
  const channel = ctx.channels.get(args);
  return channel && channel.answer() ? '+OK\n' : '-ERROR\n';
}

/** `uuid_pre_answer <uuid>`. */
export function uuidPreAnswer(ctx: ApiContext, args: string): string {
  const channel = ctx.channels.get(args);
  return channel && channel.preAnswer() ? '+OK\n' : '-ERROR\n';
}

/**
 * `uuid_broadcast <uuid> <path> [aleg|bleg|holdb|both]`: queues `playback <path>` on the channel
 * (after any application already queued, as switch_ivr_broadcast does). A channel has one leg here:
 * it plays for `aleg`, `both` or no leg given; `bleg`/`holdb` alone play nothing. The path goes
 * through the playback application, so only what sounds.dirs allows is read; a refusal still
 * answers `+OK Message sent` here (the application answers FILE NOT FOUND), as FreeSWITCH does.
 */
export function uuidBroadcast(ctx: ApiContext, args: string): string {
  const argv = separateString(args, 4);
  if (!args || argv.length < 2) return usage(BROADCAST_SYNTAX);
  const channel = ctx.channels.get(argv[0]!);
  if (!channel) return '-ERR invalid uuid\n';
  const legs = argv[2]?.toLowerCase();
  if (legs === undefined || legs.includes('aleg') || legs.includes('both')) {
    void ctx.applications.queue(channel, 'playback', argv[1]!);
  }
  return '+OK Message sent\n';
}

/**
 * `uuid_break <uuid> [all]`: stops what the channel is playing; `all` also drops the applications
 * queued behind it. The playback queue is emptied in both cases (Playback offers no per-file break).
 */
export function uuidBreak(ctx: ApiContext, args: string): string {
  if (!args) return usage(BREAK_SYNTAX);
  const [uuid, flag] = splitFirst(args);
  const channel = ctx.channels.get(uuid);
  if (!channel) return NO_SUCH_CHANNEL;
  if (flag?.includes('all')) ctx.applications.flush(channel);
  channel.playback.clear();
  return '+OK\n';
}

/** `uuid_exists <uuid>`: `true` or `false`, no newline. */
export function uuidExists(ctx: ApiContext, args: string): string {
  return args && ctx.channels.get(args) ? 'true' : 'false';
}

/**
 * `uuid_dump <uuid> [format]`: the channel's CHANNEL_DATA event, serialized: `txt` (default,
 * URL-encoded values), `plain` (`Name: [value]`), `json` or `xml`.
 */
export function uuidDump(ctx: ApiContext, args: string): string {
  const argv = separateString(args, 2);
  if (!argv[0]) return usage(DUMP_SYNTAX);
  const channel = ctx.channels.get(argv[0]);
  if (!channel) return NO_SUCH_CHANNEL;
  const format = (argv[1] ?? 'txt').toLowerCase();
  const event = channelDataEvent(ctx.bus, channel);
  if (format === 'xml') return serializeXml(event);
  if (format === 'json') return serializeJson(event);
  return serializePlain(event, format !== 'plain');
}

/** A CHANNEL_DATA event carrying the channel's data (switch_channel_event_set_data). */
export function channelDataEvent(bus: EventBus, channel: Channel) {
  const event = bus.create('CHANNEL_DATA');
  channel.addEventData(event);
  return event;
}

/**
 * `hupall [cause] [<var> <value> ...]`: hangs up every channel (or those whose variables all match),
 * default cause MANAGER_REQUEST.
 */
export async function hupall(ctx: ApiContext, args: string): Promise<string> {
  const argv = args ? separateString(args, 11) : [];
  const cause = (argv[0] && str2cause(argv[0])) || 'MANAGER_REQUEST';
  const vars: Array<[string, string]> = [];
  for (let i = 1; i < argv.length - 1; i += 2) {
    if (argv[i] && argv[i + 1]) vars.push([argv[i]!, argv[i + 1]!]);
  }
  for (const channel of [...ctx.channels]) {
    if (vars.every(([k, v]) => channel.getVariable(k) === v)) channel.hangup(cause);
  }
  await ctx.remote?.broadcast('hupall', args);
  if (vars.length === 0) return `+OK hangup all channels with cause ${cause}\n`;
  const more = vars.length > 1 ? '...' : '';
  return `+OK hangup all channels matching [${argv[1]}]=[${argv[2]}]${more} with cause: ${cause}\n`;
}

/** `uuid_audio_stream`: the module's API (audio-stream/command.ts). */
function uuidAudioStreamCommand(ctx: ApiContext, args: string): string {
  return uuidAudioStream(ctx, args);
}

/** The per-channel commands. */
export const CHANNEL_COMMANDS: readonly ApiCommand[] = [
  { name: 'uuid_audio_stream', syntax: UUID_AUDIO_STREAM_SYNTAX, description: 'audio_stream API', run: uuidAudioStreamCommand },
  { name: 'uuid_setvar', syntax: SETVAR_SYNTAX, description: 'Set a variable', run: uuidSetvar },
  { name: 'uuid_setvar_multi', syntax: SETVAR_MULTI_SYNTAX, description: 'Set multiple variables', run: uuidSetvarMulti },
  { name: 'uuid_getvar', syntax: GETVAR_SYNTAX, description: 'Get a variable from a channel', run: uuidGetvar },
  { name: 'uuid_kill', syntax: KILL_SYNTAX, description: 'Kill channel', run: uuidKill },
  { name: 'uuid_answer', syntax: '<uuid>', description: 'answer', run: uuidAnswer },
  { name: 'uuid_pre_answer', syntax: '<uuid>', description: 'pre_answer', run: uuidPreAnswer },
  { name: 'uuid_broadcast', syntax: BROADCAST_SYNTAX, description: 'Execute dialplan application', run: uuidBroadcast },
  { name: 'uuid_break', syntax: BREAK_SYNTAX, description: 'Break out of media sent to channel', run: uuidBreak },
  { name: 'uuid_exists', syntax: '<uuid>', description: 'Check if a uuid exists', run: uuidExists },
  { name: 'uuid_dump', syntax: DUMP_SYNTAX, description: 'Dump session vars', run: uuidDump },
  { name: 'hupall', syntax: '<cause> [<var> <value>]', description: 'hupall', run: hupall },
];
