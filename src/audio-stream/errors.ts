import { AppError, type ErrorCode } from '../lib/errors.ts';

/**
 * The number each stream failure is reported as in a `mod_audio_stream::error` event body: the
 * codes of libwsc 1.1 (the library the module links), each given to the faults the real module
 * reports it for (the fault matrix of docs/errors.md). libwsc's 3 SERVER_MASKED and
 * 8 SSL_HANDSHAKE_FAILED are not here: the module reports a masked frame as 11 and every TLS
 * handshake failure as 9, and so does audio-stream.
 */
export const STREAM_ERROR_NUMBERS = {
  STREAM_IO: 1,
  STREAM_INVALID_HEADER: 2,
  STREAM_NOT_SUPPORTED: 4,
  STREAM_PING_TIMEOUT: 5,
  STREAM_CONNECT_FAILED: 6,
  STREAM_TLS_INIT_FAILED: 7,
  STREAM_SSL_ERROR: 9,
  STREAM_TIMEOUT: 10,
  STREAM_PROTOCOL: 11,
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

/** The number of a stream error in the event body (1..11). */
export function streamErrorNumber(code: StreamErrorCode): number {
  return STREAM_ERROR_NUMBERS[code];
}

/**
 * Where the connection was when a failure happened: it decides between some codes. `tls` is a
 * wss connection whose TCP connection is up and whose TLS handshake has not finished: every
 * failure there is a TLS failure (9), as libwsc reports it.
 */
export type ConnectPhase = 'connecting' | 'tls' | 'open';

// What ws says when a 101 answer fails its checks (the module, which checks only the status line
// and that a Sec-WebSocket-Accept header exists, connects in these cases: ours stay code 2).
const HANDSHAKE_MESSAGES = [
  'Invalid Upgrade header',
  'Invalid Sec-WebSocket-Accept header',
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

/** ws's codes for an incoming message over the size bound: the module has no bound, ours is code 4. */
const TOO_LARGE_CODES = new Set(['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH']);

/** What each protocol violation of the server is, in words (ws's own text follows in the message). */
const PROTOCOL_VIOLATIONS: Record<string, string> = {
  WS_ERR_UNEXPECTED_MASK: 'the server sent a masked frame',
  WS_ERR_UNEXPECTED_RSV_1: 'the server set the reserved bit RSV1 without a negotiated extension',
  WS_ERR_UNEXPECTED_RSV_2_3: 'the server set the reserved bits RSV2/RSV3',
  WS_ERR_EXPECTED_FIN: 'the server sent a fragmented control frame',
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 'the server sent a control frame with an invalid length',
  WS_ERR_INVALID_CLOSE_CODE: 'the server sent a close frame with an invalid status code',
  WS_ERR_INVALID_UTF8: 'the server sent invalid UTF-8 in a text message',
  WS_ERR_TOO_MANY_BUFFERED_PARTS: 'the server sent a message in too many fragments',
};

/** ws's text without its "Invalid WebSocket frame: " prefix, with its code. */
function detail(message: string, code: string): string {
  const text = message.replace(/^Invalid WebSocket frame: /, '');
  return code && !text.includes(code) ? `${text}, ${code}` : text;
}

/** A protocol violation of the server: code 11, worded as libwsc does (with the close code it answers). */
function protocolError(code: string, message: string): StreamError {
  const closeCode = code === 'WS_ERR_INVALID_UTF8' ? 1007 : code === 'WS_ERR_TOO_MANY_BUFFERED_PARTS' ? 1008 : 1002;
  let what = PROTOCOL_VIOLATIONS[code];
  if (code === 'WS_ERR_INVALID_OPCODE') {
    const opcode = /invalid opcode (\d+)/.exec(message)?.[1];
    what = opcode === '0' ? 'the server sent a continuation frame with no message to continue' : `the server sent a frame with the unknown opcode ${opcode ?? '?'}`;
  }
  return streamError('STREAM_PROTOCOL', `WebSocket protocol error (${closeCode}): ${what ?? 'the server broke the protocol'} (${detail(message, code)})`);
}

/**
 * The reason of an OpenSSL error string ("…:error:0A00010B:SSL routines:ssl3_get_record:wrong
 * version number:…" gives "wrong version number (EPROTO)"), or undefined for another text.
 */
function openSslReason(message: string, code: string): string | undefined {
  const reason = /error:[0-9A-F]+:[^:]*:[^:]*:([^:]+)/.exec(message)?.[1]?.trim();
  return reason ? `${reason} (${code})` : undefined;
}

/**
 * Maps an error from `ws`, `net` or `tls` to the code the module reports for the same fault (the
 * fault matrix in docs/errors.md): a failure before the upgrade is 6 unless it is a TLS failure
 * (9) or the server's 101 fails a check the module does not make (2); after the upgrade a socket
 * failure is 1, a TLS failure 9, a protocol violation 11, a message over our bound 4.
 */
export function classifyError(err: unknown, phase: ConnectPhase): StreamError {
  if (isStreamError(err)) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  // OpenSSL messages end with a newline; keep the event text on one line.
  const message = (typeof e?.message === 'string' && e.message.trim() ? e.message : String(err)).trim().replace(/\s*\n\s*/g, ' ');
  const text = code && !message.includes(code) ? `${message} (${code})` : message;
  if (HANDSHAKE_MESSAGES.some((m) => message.startsWith(m))) {
    return streamError('STREAM_INVALID_HEADER', `invalid WebSocket upgrade answer: ${message}`);
  }
  if (message.startsWith('Unexpected server response')) return streamError('STREAM_CONNECT_FAILED', `WebSocket upgrade failed: ${message}`);
  if (TOO_LARGE_CODES.has(code)) return streamError('STREAM_NOT_SUPPORTED', `the server sent a message over the size limit (${detail(message, code)})`);
  if (code.startsWith('WS_ERR_')) return protocolError(code, message);
  if (CERT_VERIFY_CODES.has(code)) return streamError('STREAM_SSL_ERROR', `TLS certificate verification failed: ${text}`);
  if (phase === 'tls') return streamError('STREAM_SSL_ERROR', `TLS handshake failed: ${openSslReason(message, code) ?? text}`);
  // An OpenSSL error before any connection is the TLS setup (7); once connected it is TLS (9).
  if (code.startsWith('ERR_OSSL_') && phase === 'connecting') return streamError('STREAM_TLS_INIT_FAILED', `TLS setup failed: ${text}`);
  if (code.startsWith('ERR_OSSL_')) return streamError('STREAM_SSL_ERROR', `TLS error after the upgrade: ${text}`);
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || code.startsWith('ERR_TLS_')) {
    const tlsText = openSslReason(message, code) ?? text;
    return streamError('STREAM_SSL_ERROR', phase === 'open' ? `TLS error after the upgrade: ${tlsText}` : `TLS handshake failed: ${tlsText}`);
  }
  if (phase === 'open') return streamError('STREAM_IO', `the connection broke after the upgrade (${detail(message, code)})`);
  if (code.startsWith('HPE_')) return streamError('STREAM_CONNECT_FAILED', `WebSocket upgrade failed: the answer is not HTTP (${detail(message, code)})`);
  if (message === 'socket hang up') {
    return streamError('STREAM_CONNECT_FAILED', `the server closed the connection before answering the upgrade (socket hang up${code ? `, ${code}` : ''})`);
  }
  return streamError('STREAM_CONNECT_FAILED', text);
}
