// The API commands (`api ...` on the Event Socket, POST /api/command, `audio-stream cli -x`), with
// FreeSWITCH's reply texts. A small registry lets other layers add or replace commands.
import type { Core } from '../core.ts';
import { uuidAudioStream, UUID_AUDIO_STREAM_SYNTAX } from '../audio-stream/command.ts';
import { Logger } from '../lib/logger.ts';
import {
  hupall, uuidAnswer, uuidBreak, uuidBroadcast, uuidDump, uuidExists, uuidGetvar, uuidKill, uuidPreAnswer,
  uuidSetvar, uuidSetvarMulti, BREAK_SYNTAX, BROADCAST_SYNTAX, DUMP_SYNTAX, GETVAR_SYNTAX, KILL_SYNTAX,
  SETVAR_MULTI_SYNTAX, SETVAR_SYNTAX,
} from './channel-commands.ts';
import { show, SHOW_SYNTAX } from './show-channels.ts';
import { status, version } from './system-commands.ts';

const log = new Logger('api');

/** Runs one command: `args` is everything after the command name. Returns the reply text. */
export type ApiHandler = (core: Core, args: string) => string | Promise<string>;

/** A registered command. */
export interface ApiCommand {
  /** Lower-case name, as typed after `api`. */
  name: string;
  handler: ApiHandler;
  /** Argument syntax, as in `-USAGE:` replies. */
  syntax: string;
  description: string;
}

/** Commands by name (case-insensitive). */
export class ApiRegistry {
  private readonly commands = new Map<string, ApiCommand>();

  /** Adds a command, or replaces the one with the same name. */
  register(name: string, handler: ApiHandler, info: { syntax?: string; description?: string } = {}): void {
    const key = name.toLowerCase();
    this.commands.set(key, { name: key, handler, syntax: info.syntax ?? '', description: info.description ?? '' });
  }

  /** Removes a command; true if it existed. */
  unregister(name: string): boolean {
    return this.commands.delete(name.toLowerCase());
  }

  /** The command with this name. */
  get(name: string): ApiCommand | undefined {
    return this.commands.get(name.toLowerCase());
  }

  /** Registered names, in registration order. */
  names(): string[] {
    return [...this.commands.keys()];
  }
}

/** The built-in commands (SPEC §6). */
export const API_COMMAND_NAMES = [
  'uuid_audio_stream', 'uuid_setvar', 'uuid_setvar_multi', 'uuid_getvar', 'uuid_kill', 'uuid_answer',
  'uuid_pre_answer', 'uuid_broadcast', 'uuid_break', 'uuid_exists', 'uuid_dump', 'show', 'status', 'version',
  'hupall',
] as const;

/** A registry holding the built-in commands. */
export function createApiRegistry(): ApiRegistry {
  const r = new ApiRegistry();
  r.register('uuid_audio_stream', (core, args) => uuidAudioStream(core, args),
    { syntax: UUID_AUDIO_STREAM_SYNTAX, description: 'audio_stream API' });
  r.register('uuid_setvar', uuidSetvar, { syntax: SETVAR_SYNTAX, description: 'Set a variable' });
  r.register('uuid_setvar_multi', uuidSetvarMulti, { syntax: SETVAR_MULTI_SYNTAX, description: 'Set multiple variables' });
  r.register('uuid_getvar', uuidGetvar, { syntax: GETVAR_SYNTAX, description: 'Get a variable from a channel' });
  r.register('uuid_kill', uuidKill, { syntax: KILL_SYNTAX, description: 'Kill channel' });
  r.register('uuid_answer', uuidAnswer, { syntax: '<uuid>', description: 'answer' });
  r.register('uuid_pre_answer', uuidPreAnswer, { syntax: '<uuid>', description: 'pre_answer' });
  r.register('uuid_broadcast', uuidBroadcast, { syntax: BROADCAST_SYNTAX, description: 'Execute dialplan application' });
  r.register('uuid_break', uuidBreak, { syntax: BREAK_SYNTAX, description: 'Break out of media sent to channel' });
  r.register('uuid_exists', uuidExists, { syntax: '<uuid>', description: 'Check if a uuid exists' });
  r.register('uuid_dump', uuidDump, { syntax: DUMP_SYNTAX, description: 'Dump session vars' });
  r.register('show', show, { syntax: SHOW_SYNTAX, description: 'Show various reports' });
  r.register('status', (core) => status(core), { syntax: '', description: 'Show current status' });
  r.register('version', version, { syntax: '[short]', description: 'Version' });
  r.register('hupall', hupall, { syntax: '<cause> [<var> <value>]', description: 'hupall' });
  return r;
}

/** The process-wide registry used by executeApi; add commands with `apiCommands.register(...)`. */
export const apiCommands = createApiRegistry();

/**
 * Runs an API command and resolves with its reply exactly as FreeSWITCH prints it (most replies end
 * with a newline; uuid_getvar and uuid_exists do not). Unknown commands answer
 * `-ERR <name> Command not found!\n`. Arguments are trimmed; a handler that throws answers `-ERR <message>\n`.
 */
export async function executeApi(core: Core, command: string, args: string, registry: ApiRegistry = apiCommands): Promise<string> {
  const entry = registry.get(command);
  if (!entry) return `-ERR ${command} Command not found!\n`;
  try {
    return await entry.handler(core, args.trim());
  } catch (err) {
    log.error(`${command} ${args}: ${(err as Error).stack ?? err}`);
    return `-ERR ${(err as Error).message}\n`;
  }
}

/** Splits `<command> <args>` at the first space and runs it (for the CLI and HTTP layers). */
export function executeApiLine(core: Core, line: string, registry: ApiRegistry = apiCommands): Promise<string> {
  const trimmed = line.trim();
  const sp = trimmed.indexOf(' ');
  return sp < 0 ? executeApi(core, trimmed, '', registry) : executeApi(core, trimmed.slice(0, sp), trimmed.slice(sp + 1), registry);
}
