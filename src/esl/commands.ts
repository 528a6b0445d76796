// The Event Socket commands, in the order and with the replies of mod_event_socket.c
// parse_command (FreeSWITCH 1.10): commands are recognised by case-insensitive prefix, a command
// nothing recognises (or that answers nothing) gets `-ERR command not found`.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { EslContext, RemoteSession } from './context.ts';
import type { Channel } from '../channel/channel.ts';
import { FsEvent } from '../events/event.ts';
import { serializePlain, type EventFormat } from '../events/serialize.ts';
import { switchTrue } from '../lib/switch-true.ts';
import { freeswitchLevel, Logger } from '../lib/logger.ts';
import { nameEvent } from './event-names.ts';
import { headerValue, type EslMessage } from './frame.ts';
import type { EventSubscription } from './subscription.ts';
import { apiResponse } from './wire.ts';
import { parseCallCommand, runCallCommand } from './sendmsg.ts';

/** The reply to a command nothing recognises (and to one that answers nothing). */
export const NOT_FOUND = '-ERR command not found';

const log = new Logger('esl');

/** What a command may read and change on its connection. */
export interface CommandContext {
  readonly esl: EslContext;
  readonly password: string | undefined;
  readonly subscription: EventSubscription;
  authed: boolean;
  format: EventFormat;
  /** The controlled call (outbound, or inbound after `myevents <uuid>`). */
  session: Channel | RemoteSession | undefined;
  /** LFLAG_OUTBOUND / LFLAG_FULL / LFLAG_ASYNC. */
  readonly outbound: boolean;
  readonly full: boolean;
  async: boolean;
  connected: boolean;
  lingerSec: number | undefined;
  resume: boolean;
  divertEvents: boolean;
  /** Log level of `log <level>` (FreeSWITCH numbers, 7 = debug), undefined when not logging. */
  logLevel: number | undefined;
  /** Ends the connection once the reply is written (exit, bad password). */
  stop(): void;
  /**
   * A login failed (`auth` with a wrong password, any `userauth`; `user` is userauth's user@domain):
   * logged and counted; resolves when the `-ERR invalid` may be sent (later for a source that keeps failing).
   */
  loginFailed?(command: 'auth' | 'userauth', user?: string): Promise<void>;
  /** Writes bytes to the client now (replies that are not a command/reply). */
  writeRaw(text: string): void;
}

/** switch_log_str2level: a name (any case) or a number (negative: 0; 64, SWITCH_LOG_INVALID, is invalid; more: 63). */
function str2level(text: string): number | undefined {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    return n === 64 ? undefined : n > 64 ? 63 : Math.max(0, n);
  }
  return freeswitchLevel(text);
}

/** The text after the first space at or after `from`, split at single spaces, as strchr loops do. */
function tokensAfter(cmd: string, from: number): string[] {
  const sp = cmd.indexOf(' ', from);
  return sp < 0 ? [] : cmd.slice(sp + 1).split(' ');
}

function splitFirst(text: string): [string, string | undefined] {
  const sp = text.indexOf(' ');
  return sp < 0 ? [text, undefined] : [text.slice(0, sp), text.slice(sp + 1)];
}

function passwordMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Handles one message; resolves with the command/reply text, or undefined when the command wrote
 * its own answer (api, connect). A reply starting with `~` carries its own header lines.
 */
export async function runCommand(ctx: CommandContext, msg: EslMessage): Promise<string | undefined> {
  const cmd = msg.command;
  const lc = cmd.toLowerCase();
  if (lc.startsWith('exit') || lc.startsWith('...')) {
    ctx.stop();
    return '+OK bye';
  }
  if (!ctx.authed) return authenticate(ctx, cmd, lc);
  const reply = await dispatch(ctx, msg, cmd, lc);
  return reply === '' ? NOT_FOUND : reply;
}

/** Longest userauth user@domain a failed login's log line names. */
const MAX_LOGGED_USER = 128;

async function authenticate(ctx: CommandContext, cmd: string, lc: string): Promise<string> {
  if (lc.startsWith('auth ')) {
    if (ctx.password !== undefined && passwordMatches(cmd.slice(5), ctx.password)) {
      ctx.authed = true;
      return '+OK accepted';
    }
    ctx.stop();
    await ctx.loginFailed?.('auth');
    return '-ERR invalid';
  }
  if (lc.startsWith('userauth ')) {
    // No user directory here: every userauth fails as for an unknown user. The password (after
    // the first ':', as parse_command splits `user@domain:pass`) is never logged.
    ctx.stop();
    const user = cmd.slice(9).split(':', 1)[0]!.slice(0, MAX_LOGGED_USER);
    await ctx.loginFailed?.('userauth', user);
    return '-ERR invalid';
  }
  return NOT_FOUND;
}

async function dispatch(ctx: CommandContext, msg: EslMessage, cmd: string, lc: string): Promise<string | undefined> {
  if (lc.startsWith('filter ')) return filter(ctx, cmd);
  const local = ctx.session && !isRemote(ctx.session) ? ctx.session : undefined;
  if (ctx.session && lc.startsWith('resume')) {
    ctx.resume = true;
    if (local) local.setVariable('socket_resume', 'true');
    else await ctx.esl.api.execute('uuid_setvar', `${ctx.session.uuid} socket_resume true`);
    return '+OK';
  }
  if (ctx.session || lc.startsWith('myevents ')) {
    if (local && lc.startsWith('connect')) return connect(ctx, local);
    if (ctx.session && lc.startsWith('getvar')) return local ? getvar(local, cmd) : remoteGetvar(ctx, ctx.session.uuid, cmd);
    if (lc.startsWith('myevents')) return myevents(ctx, cmd);
  }
  if (lc.startsWith('divert_events')) return divertEvents(ctx, cmd);
  if (lc.startsWith('sendmsg')) return sendmsg(ctx, msg, cmd);
  if (ctx.outbound && !ctx.full) return NOT_FOUND;
  if (lc.startsWith('sendevent')) return sendevent(ctx, msg, cmd);
  if (lc.startsWith('api ')) {
    // Text that is not UTF-8 (e.g. uuid_audio_stream metadata) is refused, not passed on mangled.
    if (msg.invalidUtf8) {
      ctx.writeRaw(apiResponse('-ERR the command is not valid UTF-8\n'));
      return undefined;
    }
    return api(ctx, msg, cmd);
  }
  if (lc.startsWith('bgapi ')) return bgapi(ctx, msg, cmd);
  if (lc.startsWith('log')) return logCommand(ctx, cmd);
  if (lc.startsWith('linger')) return linger(ctx, cmd);
  if (lc.startsWith('nolinger')) return nolinger(ctx);
  if (lc.startsWith('nolog')) return nolog(ctx);
  if (lc.startsWith('event')) return event(ctx, cmd);
  if (lc.startsWith('nixevent')) return nixevent(ctx, cmd);
  if (lc.startsWith('noevents')) return ctx.subscription.clear() ? '+OK no longer listening for events' : '-ERR not listening for events';
  return NOT_FOUND;
}

/** `filter <header> <value>`, `filter add ...`, `filter delete <header> [value]`, `filter delete all`. */
function filter(ctx: CommandContext, cmd: string): string {
  const [name, value] = splitFirst(cmd.slice(7).replace(/^ +/, ''));
  if (name.toLowerCase() === 'delete' && value !== undefined) {
    const [header, headerVal] = splitFirst(value);
    ctx.subscription.deleteFilter(header, headerVal);
    return `+OK filter deleted. [${header}][${headerVal ?? ''}]`;
  }
  if (value === undefined) return '-ERR invalid syntax';
  let [header, headerVal]: [string, string | undefined] = [name, value];
  if (name.toLowerCase() === 'add') [header, headerVal] = splitFirst(value);
  if (headerVal === undefined) return '-ERR invalid syntax';
  ctx.subscription.addFilter(header, headerVal);
  return `+OK filter added. [${header}]=[${headerVal}]`;
}

/**
 * Outbound `connect`: the channel data as a serialized CHANNEL_DATA event (caller profile as
 * `Channel-*`, channel data, then Content-Type command/reply, Reply-Text `+OK\n`, Socket-Mode, Control),
 * written without an envelope.
 */
function connect(ctx: CommandContext, channel: Channel): undefined {
  ctx.connected = true;
  const event = ctx.esl.bus.create('CHANNEL_DATA');
  const profile = new FsEvent('CHANNEL_DATA');
  channel.addEventData(profile);
  for (const [name, value] of profile.headers) {
    if (name.startsWith('Caller-')) event.add(`Channel-${name.slice(7)}`, value);
  }
  channel.addEventData(event);
  event.add('Content-Type', 'command/reply').add('Reply-Text', '+OK\n')
    .add('Socket-Mode', ctx.async ? 'async' : 'static').add('Control', ctx.full ? 'full' : 'single-channel');
  ctx.writeRaw(serializePlain(event));
  return undefined;
}

/** `getvar <name>`: the value as the reply (an unset variable makes the reply empty: `-ERR command not found`). */
function getvar(channel: Channel, cmd: string): string {
  const [, name] = splitFirst(cmd);
  return name === undefined ? '' : channel.getVariable(name) ?? '';
}

function isRemote(session: Channel | RemoteSession): session is RemoteSession {
  return 'remote' in session;
}

async function remoteGetvar(ctx: CommandContext, uuid: string, cmd: string): Promise<string> {
  const [, name] = splitFirst(cmd);
  return name === undefined ? '' : (await ctx.esl.remote?.getVariable(uuid, name)) ?? '';
}

/** `myevents [<uuid> [plain|json|xml]]`: events of one call only (binds an inbound connection to it). */
function myevents(ctx: CommandContext, cmd: string): string {
  if (ctx.subscription.myEventsUuid !== undefined) return '-ERR aready enabled.';
  if (!ctx.session) {
    const [uuid, fmt] = splitFirst(cmd.slice(9));
    const channel = ctx.esl.channels.get(uuid) ?? ctx.esl.remote?.session(uuid);
    if (!channel) return '-ERR invalid uuid';
    ctx.session = channel;
    ctx.async = true;
    const f = fmt?.toLowerCase();
    if (f === 'xml' || f === 'plain' || f === 'json') ctx.format = f;
  }
  ctx.subscription.subscribeMyEvents(ctx.session.uuid);
  if (cmd.includes('xml') || cmd.includes('XML')) ctx.format = 'xml';
  if (cmd.includes('json') || cmd.includes('JSON')) ctx.format = 'json';
  return '+OK Events Enabled';
}

function divertEvents(ctx: CommandContext, cmd: string): string {
  if (!ctx.session) return '-ERR not controlling a session.';
  const onoff = cmd.slice(13).trim();
  if (!onoff) return '-ERR missing value.';
  ctx.divertEvents = onoff.toLowerCase() === 'on';
  return ctx.divertEvents ? '+OK events diverted' : '+OK events not diverted';
}

/**
 * `sendmsg [<uuid>]`: without a uuid (or with its own) on a controlled call, the call command runs on
 * it, waited for unless the connection is async or the message says `async: true`; with another
 * uuid it is queued on that channel.
 */
async function sendmsg(ctx: CommandContext, msg: EslMessage, cmd: string): Promise<string> {
  let uuid = cmd.slice(7).trim() || headerValue(msg, 'session-id')?.trim() || '';
  if (uuid && ctx.session && uuid === ctx.session.uuid) uuid = '';
  const channel = !uuid ? ctx.session : ctx.esl.channels.get(uuid) ?? ctx.esl.remote?.session(uuid);
  if (!channel && !(uuid && ctx.esl.remote)) return `-ERR invalid session id [${uuid}]`;
  const command = parseCallCommand(msg);
  if (typeof command === 'string') return command;
  const target = channel?.uuid ?? uuid;
  const wait = channel !== undefined && channel === ctx.session && !uuid && !ctx.async && !switchTrue(headerValue(msg, 'async'));
  const run = channel && !isRemote(channel)
    ? runCallCommand(ctx.esl.applications, channel, command)
    : ctx.esl.remote!.callCommand(target, command);
  if (!channel) {
    // A uuid of another thread: the reply says whether it had the call.
    const reply = await run.catch(() => undefined);
    return reply === undefined ? `-ERR invalid session id [${uuid}]` : '+OK';
  }
  const done = run.catch((err: Error) => {
    log.error(`sendmsg ${target}: ${err.message}`);
    return '-ERR';
  });
  if (wait) await done;
  return '+OK';
}

/** `sendevent <NAME>`: fires an event built from the message's headers and body; replies `+OK <Event-UUID>`. */
function sendevent(ctx: CommandContext, msg: EslMessage, cmd: string): string {
  const name = nameEvent(cmd.slice(9).trim()) ?? 'CLONE';
  const subclass = name === 'CUSTOM' ? headerValue(msg, 'event-subclass') : undefined;
  const event = ctx.esl.bus.create(name, subclass);
  const eventUuid = randomUUID();
  event.add('Command', cmd);
  for (const [k, v] of msg.headers) {
    const lk = k.toLowerCase();
    if (lk !== 'content-length' && lk !== 'event-name' && lk !== 'event-subclass') event.add(k, v);
  }
  event.add('Event-UUID', eventUuid);
  if (msg.body) event.body = msg.body.toString('utf8');
  ctx.esl.bus.fire(event);
  return `+OK ${eventUuid}`;
}

/**
 * `api <command> [args]`: the api/response (Content-Length in bytes; `-ERR no reply\n` when empty).
 * With the header `console_execute: true` (fs_cli sends it) the line runs as FreeSWITCH's console runs it
 * (`;;` separates commands; an unknown last command names the whole line).
 */
async function api(ctx: CommandContext, msg: EslMessage, cmd: string): Promise<undefined> {
  const line = cmd.slice(4);
  let reply: string;
  if (switchTrue(headerValue(msg, 'console_execute'))) {
    reply = await ctx.esl.api.executeConsole(line);
  } else {
    const [name, args] = splitFirst(line);
    reply = await ctx.esl.api.execute(name, args ?? '');
  }
  ctx.writeRaw(apiResponse(reply === '' ? '-ERR no reply\n' : reply));
  return undefined;
}

/**
 * `bgapi <command> [args]` (optional Job-UUID header, cut to 36 characters as FreeSWITCH does):
 * replies at once, then fires BACKGROUND_JOB with Job-UUID, Job-Owner-UUID (controlled call),
 * Job-Command, Job-Command-Arg and the output as body.
 */
function bgapi(ctx: CommandContext, msg: EslMessage, cmd: string): string {
  const [name, args] = splitFirst(cmd.slice(6));
  const jobUuid = headerValue(msg, 'job-uuid')?.slice(0, 36) || randomUUID();
  const owner = ctx.session?.uuid;
  const esl = ctx.esl;
  setImmediate(() => {
    void esl.api.execute(name, args ?? '').then((output) => {
      const event = esl.bus.create('BACKGROUND_JOB').add('Job-UUID', jobUuid);
      if (owner) event.add('Job-Owner-UUID', owner);
      event.add('Job-Command', name);
      if (args !== undefined) event.add('Job-Command-Arg', args);
      event.body = output;
      esl.bus.fire(event);
    });
  });
  return `~Reply-Text: +OK Job-UUID: ${jobUuid}\nJob-UUID: ${jobUuid}\n\n`;
}

/** `log [level]` (default debug): log/data frames for every line at that level or more severe. */
function logCommand(ctx: CommandContext, cmd: string): string {
  let levelText = cmd.slice(3).replace(/^ +/, '');
  const sp = levelText.indexOf(' ');
  if (sp >= 0) levelText = levelText.slice(0, sp);
  const level = levelText ? str2level(levelText) : 7;
  if (level === undefined) return '-ERR invalid log level';
  ctx.logLevel = level;
  return `+OK log level ${levelText} [${level}]`;
}

function nolog(ctx: CommandContext): string {
  if (ctx.logLevel === undefined) return '-ERR not loging';
  ctx.logLevel = undefined;
  return '+OK no longer logging';
}

/** `linger [seconds]`: keep the connection after the call hangs up (forever without seconds). */
function linger(ctx: CommandContext, cmd: string): string {
  if (!ctx.session) return '-ERR not controlling a session';
  const seconds = cmd[6] === ' ' && cmd.length > 7 ? Number.parseInt(cmd.slice(7), 10) || 0 : -1;
  ctx.lingerSec = seconds;
  return seconds !== -1 ? `+OK will linger ${seconds} seconds` : '+OK will linger';
}

function nolinger(ctx: CommandContext): string {
  if (!ctx.session) return '-ERR not controlling a session';
  ctx.lingerSec = undefined;
  return '+OK will not linger';
}

/** `event [plain|json|xml] <names...>`: accumulates names; the format changes even without names. */
function event(ctx: CommandContext, cmd: string): string {
  const { format, keys } = ctx.subscription.subscribe(tokensAfter(cmd, 5));
  if (format) ctx.format = format;
  if (keys === 0) return '-ERR no keywords supplied';
  return `+OK event listener enabled ${ctx.format}`;
}

function nixevent(ctx: CommandContext, cmd: string): string {
  if (ctx.subscription.unsubscribe(tokensAfter(cmd, 5)) === 0) return '-ERR no keywords supplied';
  return '+OK events nixed';
}
