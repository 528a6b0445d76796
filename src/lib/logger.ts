/** Log levels in FreeSWITCH's order of severity (lower is more severe). */
export const LOG_LEVELS = { error: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

/** FreeSWITCH's level names (SWITCH_LEVEL_NAMES), any case, and their numbers. */
const FREESWITCH_LEVELS: Readonly<Record<string, number>> = {
  console: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7,
};

/** The number of a FreeSWITCH level name (any case), or undefined (`error` is not one). */
export function freeswitchLevel(name: string): number | undefined {
  const key = name.toLowerCase();
  return Object.hasOwn(FREESWITCH_LEVELS, key) ? FREESWITCH_LEVELS[key] : undefined;
}

/** The level of ours a FreeSWITCH level number is written at (console, alert and crit as error). */
export function levelOfFreeswitch(level: number): LogLevel {
  return level <= 3 ? 'error' : level === 4 ? 'warning' : level === 5 ? 'notice' : level === 6 ? 'info' : 'debug';
}

/** Where log lines go; tests and the ESL `log` command can add sinks. */
export type LogSink = (level: LogLevel, scope: string, message: string) => void;

const sinks = new Set<LogSink>();
let threshold: number = levelFromEnv(process.env.AUDIO_STREAM_LOG_LEVEL);

function levelFromEnv(value: string | undefined): number {
  if (value === 'off') return 0;
  if (value && Object.hasOwn(LOG_LEVELS, value)) return LOG_LEVELS[value as LogLevel];
  return LOG_LEVELS.info;
}

/** Sets the most verbose level written to stderr (default `info`, or AUDIO_STREAM_LOG_LEVEL: error, warning, notice, info, debug or off). */
export function setLogLevel(level: LogLevel): void {
  threshold = LOG_LEVELS[level];
}

/** Adds a sink that receives every line regardless of the stderr level; returns its remover. */
export function addLogSink(sink: LogSink): () => void {
  sinks.add(sink);
  return () => sinks.delete(sink);
}

function write(level: LogLevel, scope: string, message: string): void {
  if (LOG_LEVELS[level] <= threshold) {
    process.stderr.write(`${new Date().toISOString()} [${level.toUpperCase()}] ${scope}: ${message}\n`);
  }
  for (const sink of sinks) sink(level, scope, message);
}

/** A named logger; never used per media frame. */
export class Logger {
  constructor(readonly scope: string) {}
  /** True when a line at `level` would be written somewhere (lets callers skip building it). */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS[level] <= threshold || sinks.size > 0;
  }
  debug(message: string): void { if (this.enabled('debug')) write('debug', this.scope, message); }
  info(message: string): void { write('info', this.scope, message); }
  notice(message: string): void { write('notice', this.scope, message); }
  warning(message: string): void { write('warning', this.scope, message); }
  error(message: string): void { write('error', this.scope, message); }
}
