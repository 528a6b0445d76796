import { fail, ok, type Result } from '../lib/errors.ts';

/** Longest URL accepted by `start`, in characters (the C module's buffer is 4096 bytes). */
export const MAX_URL_LENGTH = 4096;

/** A validated WebSocket URL. */
export interface StreamUrl {
  /** The URL as given to the WebSocket client (normalised by WHATWG URL parsing). */
  href: string;
  secure: boolean;
  /** Host name or address without IPv6 brackets. */
  host: string;
  port: number;
}

/** Parses a `ws://` or `wss://` URL (IPv6 literals, ports, paths and queries); INVALID_ARGUMENT when it is not one. */
export function parseStreamUrl(text: string): Result<StreamUrl> {
  if (text.length > MAX_URL_LENGTH) return fail('INVALID_ARGUMENT', `websocket url longer than ${MAX_URL_LENGTH} characters`);
  const scheme = /^(wss?):\/\//i.exec(text);
  if (!scheme) return fail('INVALID_ARGUMENT', `invalid websocket url ${JSON.stringify(text)}: must start with ws:// or wss://`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail('INVALID_ARGUMENT', `invalid websocket url ${JSON.stringify(text)}`);
  }
  if (!url.hostname) return fail('INVALID_ARGUMENT', `invalid websocket url ${JSON.stringify(text)}: no host`);
  if (url.hash) return fail('INVALID_ARGUMENT', `invalid websocket url ${JSON.stringify(text)}: fragments are not allowed`);
  // `ws://user:password@host` becomes an `Authorization: Basic` header (the module refuses userinfo);
  // a user without a password sends no header at all, never an empty password.
  if (url.username && !url.password) url.username = '';
  const secure = url.protocol === 'wss:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  return ok({ href: url.href, secure, host, port });
}

/**
 * The rates audio-stream sends and plays, in Hz: every multiple of 8000 up to 64000 (as the module
 * accepts) and 11025, 22050, 44100. The same set for `start`, STREAM_SAMPLE_RATE and raw streamAudio.
 */
export const STREAM_RATES_HZ: readonly number[] = [8000, 11025, 16000, 22050, 24000, 32000, 40000, 44100, 48000, 56000, 64000];

/** True for a rate of STREAM_RATES_HZ. */
export function isStreamRate(hz: number): boolean {
  return STREAM_RATES_HZ.includes(hz);
}

/** Parses a rate: `8k`, `16k`, `44.1k`, `22050`...; INVALID_ARGUMENT when it is not one of STREAM_RATES_HZ. */
export function parseStreamRate(text: string | undefined): Result<number> {
  if (text === undefined || text === '') return ok(8000);
  const m = /^(\d+(?:\.\d+)?)(k?)$/i.exec(text.trim());
  const hz = m ? Math.round(Number(m[1]) * (m[2] ? 1000 : 1)) : NaN;
  if (!isStreamRate(hz)) {
    return fail('INVALID_ARGUMENT', `invalid sample rate ${JSON.stringify(text)}: use 8k, 16k or another multiple of 8000 up to 64000, 11025, 22050 or 44100`);
  }
  return ok(hz);
}
