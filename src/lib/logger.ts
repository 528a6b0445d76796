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

/** Where a line was logged: the source file (base name), the function and the line, as the call stack says. */
export interface LogSite {
  file: string;
  func: string;
  line: number;
}

/** What a sink may learn about a line besides its text (the Event Socket's log/data headers). */
export interface LogOrigin {
  /** The channel the line belongs to: the uuid of a channel's logger (`new Logger('mod_audio_stream(<uuid>)')`). */
  readonly uuid: string | undefined;
  /** Where it was logged; read from the stack captured with the line, on first use. */
  site(): LogSite;
}

/** Where log lines go; tests and the ESL `log` command can add sinks. */
export type LogSink = (level: LogLevel, scope: string, message: string, origin: LogOrigin) => void;

const sinks = new Set<LogSink>();
let threshold: number = levelFromEnv(process.env.AUDIO_STREAM_LOG_LEVEL);

function levelFromEnv(value: string | undefined): number {
  if (value === 'off') return 0;
  if (value && Object.hasOwn(LOG_LEVELS, value)) return LOG_LEVELS[value as LogLevel];
  return LOG_LEVELS.info;
}

/** Told of every change of the stderr level and of the number of sinks (media workers follow the main thread's). */
export type LogSettingsListener = (level: LogLevel | 'off', sinkCount: number) => void;
const settingsListeners = new Set<LogSettingsListener>();

function settingsChanged(): void {
  const level = logLevel();
  for (const listener of settingsListeners) listener(level, sinks.size);
}

/** Calls `listener` on every change of the level or of the sinks; returns its remover. */
export function onLogSettings(listener: LogSettingsListener): () => void {
  settingsListeners.add(listener);
  return () => settingsListeners.delete(listener);
}

/** Sets the most verbose level written to stderr (default `info`, or AUDIO_STREAM_LOG_LEVEL: error, warning, notice, info, debug or off). */
export function setLogLevel(level: LogLevel | 'off'): void {
  const next = level === 'off' ? 0 : LOG_LEVELS[level];
  if (next === threshold) return;
  threshold = next;
  settingsChanged();
}

/** The most verbose level written to stderr, or 'off'. */
export function logLevel(): LogLevel | 'off' {
  for (const [name, n] of Object.entries(LOG_LEVELS)) if (n === threshold) return name as LogLevel;
  return 'off';
}

/** Adds a sink that receives every line regardless of the stderr level; returns its remover. */
export function addLogSink(sink: LogSink): () => void {
  sinks.add(sink);
  settingsChanged();
  return () => {
    const removed = sinks.delete(sink);
    if (removed) settingsChanged();
    return removed;
  };
}

/** Hands a line logged elsewhere (a media worker, which wrote it to stderr itself) to this thread's sinks only. */
export function deliverToSinks(level: LogLevel, scope: string, message: string, uuid: string | undefined, site: LogSite): void {
  const origin: LogOrigin = { uuid, site: () => site };
  for (const sink of sinks) sink(level, scope, message, origin);
}

const UNKNOWN_SITE: LogSite = { file: '', func: '', line: 0 };
/** One frame of a V8 stack: `at [async] [func (]file:line:column[)]`. */
const FRAME = /^\s*at (?:async )?(?:(.+?) \()?(.+?):(\d+):\d+\)?$/;

/** The frame just above the logger's method, as a LogSite (file base name; `file://` URLs included). */
function parseSite(stack: string | undefined): LogSite {
  const frame = stack?.split('\n', 3)[1];
  const m = frame === undefined ? null : FRAME.exec(frame);
  if (!m) return UNKNOWN_SITE;
  const path = m[2]!;
  return { file: path.slice(path.lastIndexOf('/') + 1), func: m[1] ?? '', line: Number(m[3]) };
}

/** A line's origin: the stack is captured now (one frame, cheap) and read only if a sink asks. */
class Origin implements LogOrigin {
  private readonly trace: { stack?: string } = {};
  private parsed: LogSite | undefined;
  constructor(readonly uuid: string | undefined, above: (message: string) => void) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 1;
    Error.captureStackTrace(this.trace, above);
    Error.stackTraceLimit = limit;
  }
  site(): LogSite {
    return (this.parsed ??= parseSite(this.trace.stack));
  }
}

/** Control characters (C0, DEL, C1) and the Unicode line and paragraph separators. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeControl(c: string): string {
  const code = c.charCodeAt(0);
  return NAMED_ESCAPES[c] ?? (code > 0xff ? `\\u${code.toString(16)}` : `\\x${code.toString(16).padStart(2, '0')}`);
}

/**
 * A log text with every control character written as an escape (`\n`, `\r`, `\t`, `\x1b`,
 * `\u2028`): text from outside (a Call-ID, an API argument, a server's message) can neither
 * forge a line of its own nor send terminal codes to whoever reads the log.
 */
export function escapeLogText(text: string): string {
  return CONTROL.test(text) ? text.replace(CONTROL_ALL, escapeControl) : text;
}

function write(level: LogLevel, logger: Logger, raw: string, method: (message: string) => void): void {
  const message = escapeLogText(raw);
  if (LOG_LEVELS[level] <= threshold) {
    process.stderr.write(`${new Date().toISOString()} [${level.toUpperCase()}] ${logger.scope}: ${message}\n`);
  }
  if (sinks.size === 0) return;
  const origin = new Origin(logger.uuid, method);
  for (const sink of sinks) sink(level, logger.scope, message, origin);
}

/** A channel logger's scope ends with the channel's uuid in parentheses: `mod_audio_stream(<uuid>)`. */
const SCOPE_UUID = /\(([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\)$/i;

/** A named logger; never used per media frame. */
export class Logger {
  /** The channel its lines belong to (the uuid at the end of the scope, or given). */
  readonly uuid: string | undefined;
  /** The name in front of its lines, control characters escaped (a scope may hold a SIP Call-ID). */
  readonly scope: string;
  constructor(scope: string, uuid?: string) {
    this.scope = escapeLogText(scope);
    this.uuid = uuid ?? SCOPE_UUID.exec(scope)?.[1];
  }
  /** True when a line at `level` would be written somewhere (lets callers skip building it). */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS[level] <= threshold || sinks.size > 0;
  }
  debug(message: string): void { if (this.enabled('debug')) write('debug', this, message, this.debug); }
  info(message: string): void { write('info', this, message, this.info); }
  notice(message: string): void { write('notice', this, message, this.notice); }
  warning(message: string): void { write('warning', this, message, this.warning); }
  error(message: string): void { write('error', this, message, this.error); }
}
