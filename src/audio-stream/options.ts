import { switchTrue } from '../lib/switch-true.ts';
import { parseStreamRate } from './url.ts';

/** Stream settings read from the STREAM_* channel variables when a stream starts. */
export interface StreamOptions {
  /** Offer permessage-deflate (true unless STREAM_MESSAGE_DEFLATE is true, which disables it). */
  deflate: boolean;
  /** Heartbeat ping interval in ms (STREAM_HEART_BEAT seconds), 0 = none. */
  heartbeatMs: number;
  /** Skip the log line of each incoming message (STREAM_SUPPRESS_LOG). */
  suppressLog: boolean;
  /** Audio per binary message in ms (STREAM_BUFFER_SIZE, default 20). */
  bufferMs: number;
  /** Extra HTTP headers for the upgrade request (STREAM_EXTRA_HEADERS, a JSON object of strings). */
  extraHeaders: Record<string, string>;
  /** SYSTEM (OS trust store), NONE (no verification) or a PEM file (STREAM_TLS_CA_FILE). */
  tlsCaFile: string;
  /** Client certificate and key PEM files; used only when both are set. */
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  /** Skip the host name check but still verify the chain (STREAM_TLS_DISABLE_HOSTNAME_VALIDATION). */
  tlsDisableHostnameValidation: boolean;
  /** Deadline for DNS + TCP + TLS + upgrade in ms (STREAM_CONNECT_TIMEOUT_MS, default 5000). */
  connectTimeoutMs: number;
  /** Rate of the server's binary replies (STREAM_SAMPLE_RATE; it turns full duplex on), or undefined. */
  sampleRateHz: number | undefined;
  /** Most audio the playback queue holds, ms (STREAM_PLAYBACK_MAX_MS, default 60000). */
  playbackMaxMs: number;
  /** Send the caller's DTMF digits to the server (STREAM_DTMF). */
  dtmf: boolean;
  /** Reconnect attempts after the connection is lost once open (STREAM_RECONNECT, default 0: no reconnect). */
  reconnectAttempts: number;
  /** Base delay before the first reconnect attempt, ms (STREAM_RECONNECT_BACKOFF_MS, default 500; doubled each attempt, capped, jittered). */
  reconnectBackoffMs: number;
  /** Audio kept during a reconnection and sent once reconnected, ms (STREAM_RECONNECT_BUFFER_MS, default 10000). */
  reconnectBufferMs: number;
}

/** Defaults when a variable is unset. */
export const DEFAULT_BUFFER_MS = 20;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_PLAYBACK_MAX_MS = 60000;
export const DEFAULT_RECONNECT_BACKOFF_MS = 500;
export const DEFAULT_RECONNECT_BUFFER_MS = 10000;
/** Bounds of the reconnect variables. */
export const MAX_RECONNECT_ATTEMPTS = 1000;
export const MAX_RECONNECT_BUFFER_MS = 60000;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Reads StreamOptions from channel variables; bad values fall back to defaults with a warning. */
export function readStreamOptions(get: (name: string) => string | undefined, warn: (message: string) => void): StreamOptions {
  return {
    deflate: !switchTrue(get('STREAM_MESSAGE_DEFLATE')),
    heartbeatMs: readHeartbeat(get('STREAM_HEART_BEAT'), warn),
    suppressLog: switchTrue(get('STREAM_SUPPRESS_LOG')),
    bufferMs: readBufferMs(get('STREAM_BUFFER_SIZE'), warn),
    extraHeaders: readExtraHeaders(get('STREAM_EXTRA_HEADERS'), warn),
    tlsCaFile: get('STREAM_TLS_CA_FILE')?.trim() || 'SYSTEM',
    tlsCertFile: get('STREAM_TLS_CERT_FILE')?.trim() || undefined,
    tlsKeyFile: get('STREAM_TLS_KEY_FILE')?.trim() || undefined,
    tlsDisableHostnameValidation: switchTrue(get('STREAM_TLS_DISABLE_HOSTNAME_VALIDATION')),
    connectTimeoutMs: readConnectTimeout(get('STREAM_CONNECT_TIMEOUT_MS'), warn),
    sampleRateHz: readSampleRate(get('STREAM_SAMPLE_RATE'), warn),
    playbackMaxMs: readPlaybackMaxMs(get('STREAM_PLAYBACK_MAX_MS'), warn),
    dtmf: switchTrue(get('STREAM_DTMF')),
    reconnectAttempts: readInteger(get('STREAM_RECONNECT'), 'STREAM_RECONNECT', 'a number of attempts', 0, MAX_RECONNECT_ATTEMPTS, 0, warn),
    reconnectBackoffMs: readInteger(get('STREAM_RECONNECT_BACKOFF_MS'), 'STREAM_RECONNECT_BACKOFF_MS', 'a number of ms', 10, 60000,
      DEFAULT_RECONNECT_BACKOFF_MS, warn),
    reconnectBufferMs: readInteger(get('STREAM_RECONNECT_BUFFER_MS'), 'STREAM_RECONNECT_BUFFER_MS', 'a number of ms', 0, MAX_RECONNECT_BUFFER_MS,
      DEFAULT_RECONNECT_BUFFER_MS, warn),
  };
}

/** An integer variable from `min` to `max`; unset is `fallback`, a bad value `fallback` with a warning. */
function readInteger(value: string | undefined, name: string, what: string, min: number, max: number, fallback: number,
  warn: (m: string) => void): number {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value.trim());
  if (!Number.isInteger(n) || n < min || n > max) {
    warn(`${name}=${value} is not ${what} from ${min} to ${max}; using ${fallback}`);
    return fallback;
  }
  return n;
}

function readSampleRate(value: string | undefined, warn: (m: string) => void): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const rate = parseStreamRate(value);
  if (rate.ok) return rate.value;
  warn(`STREAM_SAMPLE_RATE=${value}: ${rate.error.message}; ignored (with STREAM_PLAYBACK, binary replies are played at the stream's rate)`);
  return undefined;
}

function readPlaybackMaxMs(value: string | undefined, warn: (m: string) => void): number {
  if (value === undefined || value.trim() === '') return DEFAULT_PLAYBACK_MAX_MS;
  const ms = Number(value.trim());
  if (!Number.isInteger(ms) || ms < 100 || ms > 600000) {
    warn(`STREAM_PLAYBACK_MAX_MS=${value} is not a number of ms from 100 to 600000; using ${DEFAULT_PLAYBACK_MAX_MS}`);
    return DEFAULT_PLAYBACK_MAX_MS;
  }
  return ms;
}

function readHeartbeat(value: string | undefined, warn: (m: string) => void): number {
  if (value === undefined || value.trim() === '') return 0;
  const seconds = Number(value.trim());
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 86400) {
    warn(`STREAM_HEART_BEAT=${value} is not a number of seconds; no heartbeat`);
    return 0;
  }
  return Math.round(seconds * 1000);
}

function readBufferMs(value: string | undefined, warn: (m: string) => void): number {
  if (value === undefined || value.trim() === '') return DEFAULT_BUFFER_MS;
  const ms = Number(value.trim());
  if (!Number.isInteger(ms) || ms <= 0 || ms % 10 !== 0 || ms > 60000) {
    warn(`Buffer size of ${value} is not a multiple of 10ms. Using default ${DEFAULT_BUFFER_MS}ms.`);
    return DEFAULT_BUFFER_MS;
  }
  return ms;
}

function readConnectTimeout(value: string | undefined, warn: (m: string) => void): number {
  if (value === undefined || value.trim() === '') return DEFAULT_CONNECT_TIMEOUT_MS;
  const ms = Number(value.trim());
  if (!Number.isInteger(ms) || ms <= 0 || ms > 600000) {
    warn(`STREAM_CONNECT_TIMEOUT_MS=${value} is not a positive number of ms; using ${DEFAULT_CONNECT_TIMEOUT_MS}`);
    return DEFAULT_CONNECT_TIMEOUT_MS;
  }
  return ms;
}

function readExtraHeaders(value: string | undefined, warn: (m: string) => void): Record<string, string> {
  const headers: Record<string, string> = {};
  if (value === undefined || value.trim() === '') return headers;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    warn('STREAM_EXTRA_HEADERS is not valid JSON; no extra headers sent');
    return headers;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    warn('STREAM_EXTRA_HEADERS is not a JSON object; no extra headers sent');
    return headers;
  }
  for (const [name, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') continue; // as the C module: only string members are used
    if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(v)) {
      warn(`STREAM_EXTRA_HEADERS: header ${JSON.stringify(name)} has an invalid name or value; skipped`);
      continue;
    }
    // Defined, not assigned: a header named __proto__ is a header, not a prototype.
    Object.defineProperty(headers, name, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return headers;
}
