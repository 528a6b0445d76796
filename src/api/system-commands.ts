import { readFileSync } from 'node:fs';
import { separateString } from '../lib/separate-string.ts';
import { freeswitchLevel, levelOfFreeswitch, logLevel, setLogLevel } from '../lib/logger.ts';
import type { ApiCommand, ApiContext } from './commands.ts';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The FreeSWITCH release whose Event Socket and API behaviour audio-stream reproduces. */
export const FREESWITCH_COMPAT_VERSION = '1.10.12';
/** audio-stream's own version (package.json). */
export const AUDIO_STREAM_VERSION = packageVersion();
/** switch_version_full(). */
export const VERSION_FULL = `${FREESWITCH_COMPAT_VERSION}-release+audio-stream-${AUDIO_STREAM_VERSION}`;
/** switch_version_revision_human() and switch_version_full_human(). */
export const VERSION_HUMAN = `audio-stream ${AUDIO_STREAM_VERSION} 64bit`;

/**
 * `version [short]`: `FreeSWITCH Version <full> (<human>)\n`, or for short `<major>.<minor>.<micro>\n`,
 * which a release build prints as `1.10.12-release\n` (its micro version is `12-release`).
 */
export function version(_ctx: ApiContext, args: string): string {
  const argv = args ? separateString(args, 2) : [];
  if (argv[0] && argv[0].toLowerCase().includes('short')) return `${FREESWITCH_COMPAT_VERSION}-release\n`;
  return `FreeSWITCH Version ${VERSION_FULL} (${VERSION_HUMAN})\n`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** switch_core_measure_time: a duration in microseconds as years (365 days) down to microseconds. */
export function formatUptime(totalUs: number): string {
  const us = Math.floor(totalUs);
  let t = Math.floor(us / 1000);
  const mms = us % 1000;
  const ms = t % 1000;
  t = Math.floor(t / 1000);
  const sec = t % 60;
  t = Math.floor(t / 60);
  const min = t % 60;
  t = Math.floor(t / 60);
  const hr = t % 24;
  t = Math.floor(t / 24);
  const day = t % 365;
  const yr = Math.floor(t / 365);
  return `UP ${plural(yr, 'year')}, ${plural(day, 'day')}, ${plural(hr, 'hour')}, ${plural(min, 'minute')}, `
    + `${plural(sec, 'second')}, ${plural(ms, 'millisecond')}, ${plural(mms, 'microsecond')}`;
}

/** `status`: mod_commands' status_function text (the stack size line is left out, as on systems without it). */
export function status(ctx: ApiContext): string {
  const s = ctx.stats;
  const now = Date.now();
  const uptimeUs = process.uptime() * 1e6;
  return `${formatUptime(uptimeUs)}\n`
    + `FreeSWITCH (Version ${FREESWITCH_COMPAT_VERSION}-release ${VERSION_HUMAN}) is ready\n`
    + `${s.sessionsSinceStartup} session(s) since startup\n`
    + `${ctx.remote?.size ?? ctx.channels.size} session(s) - peak ${s.peakSessions}, last 5min ${s.peakSessionsFiveMin(now)} \n`
    + `${s.sessionsPerSecond(now)} session(s) per Sec out of max ${s.limits.sessionsPerSecond}, `
    + `peak ${s.peakSessionsPerSecond}, last 5min ${s.peakSessionsPerSecondFiveMin(now)} \n`
    + `${s.limits.maxSessions} session(s) max\n`
    + `min idle cpu 0.00/${s.idleCpuPercent().toFixed(2)}\n`;
}

const UPTIME_SYNTAX = '[us|ms|s|m|h|d|microseconds|milliseconds|seconds|minutes|hours|days]';
const UPTIME_UNITS_US: Record<string, number> = {
  us: 1, microseconds: 1, ms: 1e3, milliseconds: 1e3, s: 1e6, seconds: 1e6, m: 60e6, minutes: 60e6, h: 3600e6, hours: 3600e6, d: 86400e6, days: 86400e6,
};

/** `uptime [unit]`: whole units since the process started (default seconds), as mod_commands prints it. */
function uptime(args: string): string {
  const key = args.toLowerCase() || 's';
  if (!Object.hasOwn(UPTIME_UNITS_US, key)) return `-USAGE: ${UPTIME_SYNTAX}\n`;
  const unit = UPTIME_UNITS_US[key]!;
  return `${Math.floor((process.uptime() * 1e6) / unit)}\n`;
}

/** FreeSWITCH's level names by number (SWITCH_LEVEL_NAMES), as `console loglevel` prints them. */
const LEVEL_NAMES = ['CONSOLE', 'ALERT', 'CRIT', 'ERR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'];
/** The level last set with `console loglevel` (crit and alert are written as error here). */
let consoleLevel: number | undefined;

/**
 * `console loglevel [level]` (mod_console): sets the level of audio-stream's own log (stderr), a
 * FreeSWITCH name or number, and prints it; without a level prints the current one. fs_cli sends it
 * for its `console loglevel` command. The other sub-commands of mod_console (colorize, uuid, json)
 * have no meaning for a log without colours here.
 */
function consoleCommand(args: string): string {
  const [sub, value] = args.trim().split(/\s+/);
  if (sub?.toLowerCase() !== 'loglevel') return '-USAGE: loglevel [level]\n';
  if (value) {
    const n = /^[0-7]$/.test(value) ? Number(value) : freeswitchLevel(value);
    if (n === undefined) return `-ERR Invalid console loglevel (${value})!\n\n`;
    setLogLevel(levelOfFreeswitch(n));
    consoleLevel = n;
  } else if (consoleLevel === undefined) {
    const current = logLevel();
    consoleLevel = current === 'off' ? 0 : { error: 3, warning: 4, notice: 5, info: 6, debug: 7 }[current];
  }
  return `+OK console log level set to ${LEVEL_NAMES[consoleLevel]}\n`;
}

/** The commands about the process itself. */
export const SYSTEM_COMMANDS: readonly ApiCommand[] = [
  { name: 'status', syntax: '', description: 'Show current status', run: (ctx) => status(ctx) },
  { name: 'version', syntax: '[short]', description: 'Version', run: version },
  { name: 'hostname', syntax: '', description: 'Return the system hostname', run: (ctx) => ctx.bus.hostname },
  // The name fs_cli puts in its prompt (`api switchname` at connect); FreeSWITCH-Switchname of every event.
  { name: 'switchname', syntax: '', description: 'Return the switch name', run: (ctx) => ctx.bus.hostname },
  { name: 'uptime', syntax: UPTIME_SYNTAX, description: 'Show uptime', run: (_ctx, args) => uptime(args) },
  { name: 'console', syntax: 'loglevel [level]', description: 'Console', run: (_ctx, args) => consoleCommand(args) },
];
