// The API commands (`api ...` on the Event Socket, POST /api/command, `audio-stream cli -x`), with
// FreeSWITCH's reply texts. Each command is one ApiCommand object in a list (CHANNEL_COMMANDS,
// SYSTEM_COMMANDS, ...); to add one, add an entry to a list. Other layers may register more.
import type { EventBus } from '../events/bus.ts';
import type { ChannelRegistry } from '../channel/registry.ts';
import type { AudioStreamEngine } from '../audio-stream/engine.ts';
import type { ApplicationQueue } from '../dialplan/dialplan.ts';
import { messageOf } from '../lib/errors.ts';
import { Logger } from '../lib/logger.ts';
import type { CoreStats } from './core-stats.ts';
import { redactForLog } from '../lib/redact.ts';

const log = new Logger('api');

/**
 * The channels of the media workers (`serve` with media.workers): on the main thread, commands on
 * a channel are carried to the worker that has it, and `show channels`, `status` and `hupall`
 * cover every worker.
 */
export interface RemoteChannels {
  /** Live channels of every worker. */
  readonly size: number;
  /** True when a worker has this channel. */
  has(uuid: string): boolean;
  /** Runs a command on the worker that has the channel and resolves with its reply (the API event is the caller's). */
  execute(uuid: string, name: string, args: string): Promise<string>;
  /** `show channels` rows of every worker. */
  rows(): Promise<Array<Record<string, string>>>;
  /** Runs a command on every worker (hupall), waiting for each to have done it. */
  broadcast(name: string, args: string): Promise<void>;
}

/** What API commands work on. */
export interface ApiContext {
  channels: ChannelRegistry;
  /** Channels that live in media workers, when this registry is the main thread's. */
  remote?: RemoteChannels;
  bus: EventBus;
  streams: AudioStreamEngine;
  /** Applications queued on channels (uuid_broadcast, uuid_break all). */
  applications: ApplicationQueue;
  stats: CoreStats;
}

/** One API command. */
export interface ApiCommand {
  /** Lower-case name, as typed after `api`. */
  readonly name: string;
  /** Argument syntax, as in `-USAGE:` replies. */
  readonly syntax: string;
  readonly description: string;
  /** Runs it: `args` is everything after the name, trimmed. Resolves with the reply text, exactly as FreeSWITCH prints it. */
  run(ctx: ApiContext, args: string): string | Promise<string>;
}

/** The commands of one service, by name (case-insensitive), bound to what they work on. */
export class ApiRegistry {
  private readonly commands = new Map<string, ApiCommand>();

  constructor(private readonly ctx: ApiContext, commands: Iterable<ApiCommand> = []) {
    for (const c of commands) this.register(c);
  }

  /** Adds a command, or replaces the one with the same name. */
  register(command: ApiCommand): void {
    this.commands.set(command.name.toLowerCase(), command);
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

  /**
   * Runs an API command and resolves with its reply exactly as FreeSWITCH prints it (most replies end
   * with a newline; uuid_getvar and uuid_exists do not). Unknown commands answer
   * `-ERR <name> Command not found!\n`. Arguments are trimmed; a command that throws answers `-ERR <message>\n`.
   * Fires the `API` event, as switch_api_execute does for every command, known or not.
   */
  async execute(name: string, args: string): Promise<string> {
    const result = await this.run(name, args);
    return result.found ? result.output : `-ERR ${name} Command not found!\n`;
  }

  /** `execute` without the API event: a command a media worker runs for the main thread, which fires it. */
  async executeUnannounced(name: string, args: string): Promise<string> {
    const result = await this.run(name, args, false);
    return result.found ? result.output : `-ERR ${name} Command not found!\n`;
  }

  /**
   * An ESL `api` with the header `console_execute: true` (what fs_cli sends for every typed command
   * and for `-x`), as switch_console_execute runs it: the line is split at `;;` (unless it starts with
   * `alias`), each part at its first space into command and arguments, and the outputs are joined;
   * an unknown command writes `INVALID COMMAND!\n`. When the last command is unknown the reply is
   * `-ERR <the whole line> Command not found!\n`, as mod_event_socket's api_exec answers.
   */
  async executeConsole(line: string): Promise<string> {
    const text = line.replace(/^ +/, '');
    const parts = text.slice(0, 5).toLowerCase() === 'alias' ? [text] : splitConsoleLine(text);
    let output = '';
    let found = false;
    for (const part of parts) {
      const cut = part.search(/[\r\n]/);
      const cmd = cut < 0 ? part : part.slice(0, cut);
      const sp = cmd.indexOf(' ');
      const result = sp < 0 ? await this.run(cmd, '') : await this.run(cmd.slice(0, sp), cmd.slice(sp + 1));
      output += result.found ? result.output : 'INVALID COMMAND!\n';
      found = result.found;
    }
    return found ? output : `-ERR ${line} Command not found!\n`;
  }

  /** switch_api_execute: runs a command (name and arguments stripped of whitespace) and fires `API` after it. */
  private async run(name: string, args: string, announce = true): Promise<{ found: boolean; output: string }> {
    const cmd = stripWhitespace(name);
    const arg = stripWhitespace(args);
    const command = this.get(cmd);
    try {
      if (!command) return { found: false, output: '' };
      try {
        const uuid = this.ctx.remote && cmd.toLowerCase().startsWith('uuid_') ? /^\S+/.exec(arg)?.[0] : undefined;
        if (uuid !== undefined && this.ctx.remote!.has(uuid)) return { found: true, output: await this.ctx.remote!.execute(uuid, cmd, arg) };
        return { found: true, output: await command.run(this.ctx, arg) };
      } catch (err) {
        log.error(`${redactForLog(`${cmd} ${arg}`)}: ${(err as Error).stack ?? messageOf(err)}`);
        return { found: true, output: `-ERR ${messageOf(err)}\n` };
      }
    } finally {
      if (announce) this.announce(cmd, arg);
    }
  }

  private announce(cmd: string, arg: string): void {
    const event = this.ctx.bus.create('API');
    if (cmd) event.add('API-Command', cmd);
    if (arg) event.add('API-Command-Argument', arg);
    this.ctx.bus.fire(event);
  }

  /** Splits `<command> <args>` at the first space and runs it (for the CLI and HTTP layers). */
  executeLine(line: string): Promise<string> {
    const trimmed = line.trim();
    const sp = trimmed.indexOf(' ');
    return sp < 0 ? this.execute(trimmed, '') : this.execute(trimmed.slice(0, sp), trimmed.slice(sp + 1));
  }
}

/** switch_strip_whitespace: CR, LF, tab, space and vertical tab off both ends. */
function stripWhitespace(text: string): string {
  return text.replace(/^[\r\n\t \v]+|[\r\n\t \v]+$/g, '');
}

/** switch_separate_string_string(line, ";;", argv, 128): empty parts kept, the 128th takes the rest. */
function splitConsoleLine(line: string): string[] {
  const parts: string[] = [];
  let rest = line;
  while (parts.length < 127) {
    const at = rest.indexOf(';;');
    if (at < 0) break;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 2);
  }
  parts.push(rest);
  return parts;
}
