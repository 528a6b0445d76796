import type { ApiCommand } from './commands.ts';
import { CHANNEL_COMMANDS } from './channel-commands.ts';
import { SHOW_COMMAND } from './show-channels.ts';
import { SYSTEM_COMMANDS } from './system-commands.ts';

/** Every built-in API command (the Event Socket, HTTP and the CLI run them), in the order `show` lists them. */
export const BUILTIN_COMMANDS: readonly ApiCommand[] = [...CHANNEL_COMMANDS, SHOW_COMMAND, ...SYSTEM_COMMANDS];
