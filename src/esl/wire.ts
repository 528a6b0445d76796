// What the Event Socket server writes, formatted as mod_event_socket.c writes it (LF only).
import type { EventFormat } from '../events/serialize.ts';

/** The greeting of an inbound connection. */
export const AUTH_REQUEST = 'Content-Type: auth/request\n\n';

/** Body of the notice sent when a connection ends normally. */
export const GOODBYE = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';
/** Body of the notice sent when the server shuts down. */
export const SHUTTING_DOWN = 'The system is being shut down.\n';
/** Body of the ACL rejection. */
export const ACCESS_DENIED = 'Access Denied, go away.\n';

/**
 * A command/reply. A reply starting with `~` carries its own header lines (bgapi, userauth) and is
 * sent as `Content-Type: command/reply\n` + the rest; any other is `Reply-Text: <reply>\n\n`.
 */
export function commandReply(reply: string): string {
  if (reply.startsWith('~')) return `Content-Type: command/reply\n${reply.slice(1)}`;
  return `Content-Type: command/reply\nReply-Text: ${reply}\n\n`;
}

/** An api/response; Content-Length counts bytes. */
export function apiResponse(body: string): string {
  return `Content-Type: api/response\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`;
}

/** The envelope of one serialized event. */
export function eventEnvelope(format: EventFormat, serialized: string): string {
  return `Content-Length: ${Buffer.byteLength(serialized)}\nContent-Type: text/event-${format}\n\n${serialized}`;
}

/**
 * A text/disconnect-notice; connections controlling a call (outbound, or after `myevents <uuid>`)
 * name it and say `disconnect`.
 */
export function disconnectNotice(message: string, sessionUuid?: string): string {
  const length = Buffer.byteLength(message);
  if (sessionUuid === undefined) return `Content-Type: text/disconnect-notice\nContent-Length: ${length}\n\n${message}`;
  return `Content-Type: text/disconnect-notice\nControlled-Session-UUID: ${sessionUuid}\n`
    + `Content-Disposition: disconnect\nContent-Length: ${length}\n\n${message}`;
}

/** The notice of a lingering connection whose call has hung up. */
export function lingerNotice(sessionUuid: string, channelName: string, lingerSec: number): string {
  return `Content-Type: text/disconnect-notice\nControlled-Session-UUID: ${sessionUuid}\nContent-Disposition: linger\n`
    + `Channel-Name: ${channelName}\nLinger-Time: ${lingerSec}\nContent-Length: 0\n\n`;
}

/** The ACL rejection. */
export function rudeRejection(): string {
  return `Content-Type: text/rude-rejection\nContent-Length: ${Buffer.byteLength(ACCESS_DENIED)}\n\n${ACCESS_DENIED}`;
}

/** switch_text_channel_t: a line of the core (SWITCH_CHANNEL_LOG). */
export const TEXT_CHANNEL_LOG = 0;
/** switch_text_channel_t: a line of a session (SWITCH_CHANNEL_SESSION_LOG); User-Data is its uuid. */
export const TEXT_CHANNEL_SESSION = 3;

/** One log line after `log <level>` (switch_log_node_t). */
export interface LogLine {
  level: number;
  /** Text-Channel. */
  channel: number;
  file: string;
  func: string;
  line: number;
  userData: string;
  data: string;
}

/** A log/data frame. */
export function logData(l: LogLine): string {
  return `Content-Type: log/data\nContent-Length: ${Buffer.byteLength(l.data)}\nLog-Level: ${l.level}\nText-Channel: ${l.channel}\n`
    + `Log-File: ${l.file}\nLog-Func: ${l.func}\nLog-Line: ${l.line}\nUser-Data: ${l.userData}\n\n${l.data}`;
}
