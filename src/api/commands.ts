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

const log = new Logger('api');

/** What API commands work on. */
export interface ApiContext {
  channels: ChannelRegistry;
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
   */
  async execute(name: string, args: string): Promise<string> {
    const command = this.get(name);
    if (!command) return `-ERR ${name} Command not found!\n`;
    try {
      return await command.run(this.ctx, args.trim());
    } catch (err) {
      log.error(`${name} ${args}: ${(err as Error).stack ?? messageOf(err)}`);
      return `-ERR ${messageOf(err)}\n`;
    }
  }

  /** Splits `<command> <args>` at the first space and runs it (for the CLI and HTTP layers). */
  executeLine(line: string): Promise<string> {
    const trimmed = line.trim();
    const sp = trimmed.indexOf(' ');
    return sp < 0 ? this.execute(trimmed, '') : this.execute(trimmed.slice(0, sp), trimmed.slice(sp + 1));
  }
}
