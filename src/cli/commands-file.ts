import { usageError } from './args.ts';

/** One timed command of a `--commands` file: run `command` (a uuid_audio_stream sub-command) at `atMs` of media time. */
export interface TimedCommand {
  atMs: number;
  command: string;
  line: number;
}

const ALLOWED = new Set(['pause', 'resume', 'send_text', 'stop']);

/** Largest commands file accepted, in bytes. */
export const MAX_COMMANDS_FILE_BYTES = 1 << 20;

/**
 * Parses `<seconds> <sub-command> [args]` lines (blank lines and `#` comments skipped), e.g.
 * `1.5 pause`, `2.5 send_text hello`, `4 stop bye`. Sorted by time, stable for equal times.
 */
export function parseCommandsFile(text: string): TimedCommand[] {
  if (text.length > MAX_COMMANDS_FILE_BYTES) throw usageError(`commands file larger than ${MAX_COMMANDS_FILE_BYTES} bytes`);
  const commands: TimedCommand[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(\d+(?:\.\d+)?)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) throw usageError(`commands line ${i + 1}: expected "<seconds> <command> [args]", got ${JSON.stringify(line)}`);
    const name = m[2]!.toLowerCase();
    if (!ALLOWED.has(name)) throw usageError(`commands line ${i + 1}: unknown command ${m[2]} (use pause, resume, send_text or stop)`);
    commands.push({ atMs: Math.round(Number(m[1]) * 1000), command: m[3] ? `${name} ${m[3]}` : name, line: i + 1 });
  });
  return commands.sort((a, b) => a.atMs - b.atMs);
}
