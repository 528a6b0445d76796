import { AppError, type ErrorCode } from '../lib/errors.ts';

/**
 * The number each stream failure is reported as in a `mod_audio_stream::error` event body: the
 * module's codes (libwsc's enum).
 */
export const STREAM_ERROR_NUMBERS = {
  STREAM_IO: 1,
  STREAM_INVALID_HEADER: 2,
  STREAM_SERVER_MASKED: 3,
  STREAM_NOT_SUPPORTED: 4,
  STREAM_PING_TIMEOUT: 5,
  STREAM_CONNECT_FAILED: 6,
  STREAM_TLS_INIT_FAILED: 7,
  STREAM_SSL_HANDSHAKE_FAILED: 8,
  STREAM_SSL_ERROR: 9,
} as const satisfies Partial<Record<ErrorCode, number>>;

/** The error codes of a stream's connection. */
export type StreamErrorCode = keyof typeof STREAM_ERROR_NUMBERS;

/** A failure of one stream's connection: an AppError with a STREAM_* code. */
export type StreamError = AppError & { readonly code: StreamErrorCode };

/** Makes a StreamError. */
export function streamError(code: StreamErrorCode, message: string): StreamError {
  return new AppError(code, message) as StreamError;
}

/** True for an AppError with a STREAM_* code. */
export function isStreamError(err: unknown): err is StreamError {
  return err instanceof AppError && Object.hasOwn(STREAM_ERROR_NUMBERS, err.code);
}

/** The number of a stream error in the event body (1..9). */
export function streamErrorNumber(code: StreamErrorCode): number {
  return STREAM_ERROR_NUMBERS[code];
}

/** Where the connection was when a failure happened: it decides between some codes. */
export type ConnectPhase = 'connecting' | 'open';

const HANDSHAKE_MESSAGES = [
  'Unexpected server response',
  'Invalid Upgrade header',
  'Invalid Sec-WebSocket-Accept header',
  'Missing Sec-WebSocket-Accept header',
  'Server sent a Sec-WebSocket-Extensions header',
  'Server sent a subprotocol',
  'Server sent no subprotocol',
  'Server indicated an extension that was not requested',
  'Invalid Sec-WebSocket-Extensions header',
];

const CERT_VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
]);

const CONNECT_CODES = new Set([
  'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH',
  'ETIMEDOUT', 'EADDRNOTAVAIL', 'ENETDOWN', 'EHOSTDOWN',
]);

/** Maps an error from `ws`, `net` or `tls` to mod_audio_stream's code (the table in docs/errors.md). */
export function classifyError(err: unknown, phase: ConnectPhase): StreamError {
  if (isStreamError(err)) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  // OpenSSL messages end with a newline; keep the event text on one line.
  const message = (typeof e?.message === 'string' && e.message.trim() ? e.message : String(err)).trim().replace(/\s*\n\s*/g, ' ');
  const text = code && !message.includes(code) ? `${message} (${code})` : message;
  if (code === 'WS_ERR_UNEXPECTED_MASK') return streamError('STREAM_SERVER_MASKED', text);
  if (HANDSHAKE_MESSAGES.some((m) => message.startsWith(m))) return streamError('STREAM_INVALID_HEADER', text);
  if (code.startsWith('WS_ERR_')) {
    if (code === 'WS_ERR_INVALID_UTF8') return streamError('STREAM_IO', text);
    return streamError('STREAM_NOT_SUPPORTED', text);
  }
  if (CERT_VERIFY_CODES.has(code)) return streamError('STREAM_SSL_HANDSHAKE_FAILED', text);
  if (code.startsWith('ERR_OSSL_')) return streamError('STREAM_TLS_INIT_FAILED', text);
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || code.startsWith('ERR_TLS_')) {
    return streamError(phase === 'open' ? 'STREAM_SSL_ERROR' : 'STREAM_SSL_HANDSHAKE_FAILED', text);
  }
  if (CONNECT_CODES.has(code)) return streamError('STREAM_CONNECT_FAILED', text);
  return streamError('STREAM_IO', text);
}
