/** mod_audio_stream's error codes (libwsc's enum), carried in `mod_audio_stream::error` events. */
export const StreamErrorCode = {
  IO: 1,
  INVALID_HEADER: 2,
  SERVER_MASKED: 3,
  NOT_SUPPORTED: 4,
  PING_TIMEOUT: 5,
  CONNECT_FAILED: 6,
  TLS_INIT_FAILED: 7,
  SSL_HANDSHAKE_FAILED: 8,
  SSL_ERROR: 9,
} as const;
export type StreamErrorCode = (typeof StreamErrorCode)[keyof typeof StreamErrorCode];

/** A failure of one stream, with the code reported to the application. */
export class StreamError extends Error {
  constructor(readonly code: StreamErrorCode, message: string) {
    super(message);
    this.name = 'StreamError';
  }
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

/** Maps an error from `ws`, `net` or `tls` to mod_audio_stream's code (rules in building-blocks §1.2). */
export function classifyError(err: unknown, phase: ConnectPhase): StreamError {
  if (err instanceof StreamError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  // OpenSSL messages end with a newline; keep the event text on one line.
  const message = (typeof e?.message === 'string' && e.message.trim() ? e.message : String(err)).trim().replace(/\s*\n\s*/g, ' ');
  const text = code && !message.includes(code) ? `${message} (${code})` : message;
  if (code === 'WS_ERR_UNEXPECTED_MASK') return new StreamError(StreamErrorCode.SERVER_MASKED, text);
  if (HANDSHAKE_MESSAGES.some((m) => message.startsWith(m))) return new StreamError(StreamErrorCode.INVALID_HEADER, text);
  if (code.startsWith('WS_ERR_')) {
    if (code === 'WS_ERR_INVALID_UTF8') return new StreamError(StreamErrorCode.IO, text);
    return new StreamError(StreamErrorCode.NOT_SUPPORTED, text);
  }
  if (CERT_VERIFY_CODES.has(code)) return new StreamError(StreamErrorCode.SSL_HANDSHAKE_FAILED, text);
  if (code.startsWith('ERR_OSSL_')) return new StreamError(StreamErrorCode.TLS_INIT_FAILED, text);
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || code.startsWith('ERR_TLS_')) {
    return new StreamError(phase === 'open' ? StreamErrorCode.SSL_ERROR : StreamErrorCode.SSL_HANDSHAKE_FAILED, text);
  }
  if (CONNECT_CODES.has(code)) return new StreamError(StreamErrorCode.CONNECT_FAILED, text);
  return new StreamError(StreamErrorCode.IO, text);
}
