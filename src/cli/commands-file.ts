import { usageError } from './args.ts';

/**
 * One timed command of a `--commands` file: run `command` (a uuid_audio_stream sub-command) at
 * `atMs` of media time, or, for `dtmf`, the caller's digit ending then.
 */
export interface TimedCommand {
  atMs: number;
  command: string;
  line: number;
  dtmf?: { digit: string; durationMs: number };
}

const ALLOWED = new Set(['pause', 'resume', 'send_text', 'stop', 'break', 'dtmf']);

/** DTMF digits a caller can send (RFC 4733 events 0-15). */
const DTMF_DIGITS = /^[0-9*#A-D]+$/i;
/** Length of a digit when the line does not say (`dtmf 12@150` says 150 ms), and the gap between two. */
export const DTMF_DEFAULT_MS = 100;
export const DTMF_GAP_MS = 50;

/** Largest commands file accepted, in bytes. */
export const MAX_COMMANDS_FILE_BYTES = 1 << 20;

/**
 * Parses `<seconds> <sub-command> [args]` lines (blank lines and `#` comments skipped), e.g.
 * `1.5 pause`, `2.5 send_text hello`, `3 break`, `4 stop bye`, `5 dtmf 12#@120` (as uuid_send_dtmf:
 * digits, optionally @ their length in ms; each digit is one command at its end, 50 ms apart).
 * Sorted by time, stable for equal times.
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
    if (!ALLOWED.has(name)) throw usageError(`commands line ${i + 1}: unknown command ${m[2]} (use pause, resume, send_text, stop, break or dtmf)`);
    const atMs = Math.round(Number(m[1]) * 1000);
    if (name === 'dtmf') {
      commands.push(...dtmfCommands(atMs, m[3] ?? '', i + 1));
      return;
    }
    commands.push({ atMs, command: m[3] ? `${name} ${m[3]}` : name, line: i + 1 });
  });
  return commands.sort((a, b) => a.atMs - b.atMs);
}

/** `dtmf <digits>[@<ms>]`: one command per digit, at the end of the digit. */
function dtmfCommands(atMs: number, args: string, line: number): TimedCommand[] {
  const m = /^(\S+?)(?:@(\d+))?$/.exec(args.trim());
  if (!m || !DTMF_DIGITS.test(m[1]!)) throw usageError(`commands line ${line}: dtmf needs digits (0-9, *, #, A-D), optionally @<ms>, got ${JSON.stringify(args)}`);
  const durationMs = m[2] === undefined ? DTMF_DEFAULT_MS : Number(m[2]);
  if (durationMs < 10 || durationMs > 10_000) throw usageError(`commands line ${line}: a digit lasts 10 to 10000 ms, got ${durationMs}`);
  return [...m[1]!.toUpperCase()].map((digit, k) => ({
    atMs: atMs + k * (durationMs + DTMF_GAP_MS) + durationMs,
    command: `dtmf ${digit}`,
    line,
    dtmf: { digit, durationMs },
  }));
}
