// One error model for the whole service: an AppError carries a stable code from ERROR_CODES and a
// message naming the cause. Functions that can fail on bad input return a Result; exceptions are
// for the truly unexpected. Wire text (`-ERR ...`, a SIP status, an HTTP status and JSON body, the
// body of a mod_audio_stream::error event) is made from the code only at the edge that speaks
// that protocol. docs/errors.md lists the same codes; test/architecture/errors.test.ts fails when
// the two drift apart.

/** Every error code, with when it happens. */
export const ERROR_CODES = {
  // Start-up and command lines.
  CONFIG_INVALID: 'a configuration value is missing, malformed or out of range (serve exits 2)',
  USAGE: 'a command line is missing an argument or has a malformed one (the CLI exits 2)',
  STARTUP_FAILED: 'serve cannot start: a listen address is in use or not permitted, or tempDir cannot be used (serve exits 2)',
  ACL_INVALID: 'an entry of an access list is not an address or CIDR',
  // Files.
  WAV_INVALID: 'a WAV file is malformed or in an unsupported format',
  PLAYBACK_UNSUPPORTED: 'a file to play has a type that cannot be played',
  PLAYBACK_TOO_LARGE: 'a file to play is larger than 64 MiB',
  PLAYBACK_QUEUE_FULL: 'a channel already has 600 s of audio queued',
  PLAYBACK_NOT_FOUND: 'a file to play is missing, outside sounds.dirs and the stream\'s play files, unreadable or not a regular file (one answer for all)',
  PLAY_FILE_REFUSED: 'a streamAudio reply is not written to a file: over the play-file budget, empty, or the file system did not answer in time',
  TONE_STREAM_INVALID: 'a tone_stream:// is over its bounds (4096 characters a line, 10000 tones) or its path= file cannot be read',
  // SIP, SDP and RTP.
  SIP_SYNTAX: 'a SIP message or header is malformed (answered 400)',
  SIP_VERSION: 'a SIP request names another version than SIP/2.0 (answered 505)',
  SIP_TOO_LARGE: 'a SIP message is over the size bound (dropped)',
  SDP_TOO_LARGE: 'an SDP text, line or list is over its bound',
  SDP_SYNTAX: 'an SDP line is not <type>=<value> or is out of order',
  SDP_MISSING: 'a required SDP line (v=, o=, s=) is missing',
  SDP_VALUE: 'an SDP field has a bad value (version, port, field count, address)',
  SDP_MALFORMED: 'an offer or answer cannot be used: unparseable, no usable c= address, m= lines out of step (answered 488)',
  SDP_NO_AUDIO: 'an offer or answer has no usable audio stream (answered 488)',
  SDP_NO_COMMON_CODEC: 'an offer or answer shares no codec with us (answered 488)',
  RTP_NO_PORT: 'every RTP port of the configured range is taken (answered 503)',
  RTP_BIND: 'the RTP socket cannot be bound (answered 503)',
  // Channels, applications and API commands.
  NO_SUCH_CHANNEL: 'no live channel has this uuid',
  CHANNEL_HUNG_UP: 'the channel hung up before or while the action ran',
  CHANNEL_NO_MEDIA: 'the channel cannot be (pre-)answered, so it has no media',
  INVALID_ARGUMENT: 'an API command or application argument is malformed',
  UNKNOWN_APPLICATION: 'no dialplan application has this name',
  APPLICATION_FAILED: 'a dialplan application threw (a bug: logged with its stack)',
  SOCKET_FAILED: 'the socket application cannot reach its Event Socket server',
  STREAM_EXISTS: 'a stream is already attached to the channel',
  NO_STREAM: 'no stream is attached to the channel',
  // A stream's WebSocket connection (the `code` of a mod_audio_stream::error event is its number).
  STREAM_IO: 'the connection broke after the upgrade (1)',
  STREAM_INVALID_HEADER: 'the 101 answer is not a valid upgrade: wrong Sec-WebSocket-Accept or Upgrade, an extension or subprotocol not offered (2)',
  STREAM_NOT_SUPPORTED: 'the server sent a message over 16 MiB (4)',
  STREAM_PING_TIMEOUT: 'no pong before the next heartbeat ping (5)',
  STREAM_CONNECT_FAILED: 'DNS or TCP failed, or the upgrade was not answered with 101 (6)',
  STREAM_TLS_INIT_FAILED: 'the CA file, client certificate or key cannot be used (7)',
  STREAM_SSL_ERROR: 'the TLS handshake failed, or TLS failed after the upgrade (9)',
  STREAM_TIMEOUT: 'the connection and upgrade did not finish within STREAM_CONNECT_TIMEOUT_MS (10)',
  STREAM_PROTOCOL: 'the server broke the WebSocket protocol (11)',
  // The control plane's own protocols.
  ESL_FRAME_TOO_LARGE: 'an Event Socket message is over its header or body bound',
  HTTP_BAD_REQUEST: 'an HTTP request is malformed (400)',
  HTTP_UNAUTHORIZED: 'an HTTP request lacks the bearer token (401)',
  HTTP_FORBIDDEN: 'an HTTP request names another Host than this server, or comes from a web page whose Origin is not allowed (403)',
  HTTP_NOT_FOUND: 'no HTTP endpoint or channel at this path (404)',
  HTTP_METHOD_NOT_ALLOWED: 'the HTTP endpoint does not take this method (405)',
  HTTP_BODY_TOO_LARGE: 'an HTTP request body is over 64 KiB (413)',
  HTTP_UNSUPPORTED_MEDIA_TYPE: 'a POST to the JSON API is not Content-Type: application/json (415)',
  HTTP_UNAVAILABLE: 'an HTTP connection is over http.maxConnections or http.maxConnectionsPerSource (503, answered at once)',
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** What every error value carries, thrown or returned. */
export interface CodedError {
  readonly code: ErrorCode;
  readonly message: string;
}

/** The one error class: a code from ERROR_CODES and a message that names the cause. */
export class AppError extends Error implements CodedError {
  override readonly name = 'AppError';

  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The outcome of an operation that can fail on bad input. */
export type Result<T, E extends CodedError = AppError> = { ok: true; value: T } | { ok: false; error: E };

/** A successful Result. */
export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

/** A failed Result with a new AppError. */
export function fail(code: ErrorCode, message: string): { ok: false; error: AppError } {
  return { ok: false, error: new AppError(code, message) };
}

/** True when `err` is an AppError (with `code`, when given). */
export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}

/** The message of anything thrown (an Error's message, or the value as text). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
