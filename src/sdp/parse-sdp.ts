// SDP parser (RFC 4566 §5), bounded in size. Lenient where real peers are sloppy (LF line ends,
// blank lines, empty s=, no t=, unknown line types are skipped), strict on what we read
// (field counts, numbers, ports, the order of session and media lines).
import { AppError, type ErrorCode } from '../lib/errors.ts';

/** A malformed SDP text; `line` is 1-based (0 when not about one line). */
function sdpError(code: ErrorCode, message: string, line = 0): AppError {
  return new AppError(code, line > 0 ? `${message} (line ${line})` : message);
}
import type {
  MediaDescription,
  SdpAttribute,
  SdpBandwidth,
  SdpConnection,
  SdpOrigin,
  SessionDescription,
} from './session-description.ts';

/** Bounds that keep a hostile or broken description cheap to reject. */
export const SDP_LIMITS = {
  /** Longest accepted description (UTF-16 code units, about bytes for SDP's ASCII). */
  maxChars: 64 * 1024,
  /** Longest accepted line (chars). */
  maxLineChars: 4096,
  /** Most lines in one description. */
  maxLines: 2048,
  /** Most m= sections. */
  maxMedia: 32,
  /** Most formats on one m= line. */
  maxFormats: 128,
} as const;

/** Session-level line types that must not follow the first m= line. */
const SESSION_ONLY = new Set(['v', 'o', 's', 'u', 'e', 'p', 't', 'r', 'z']);

const DECIMAL = /^[0-9]{1,20}$/;

/** Parses an SDP text; throws AppError (SDP_TOO_LARGE, SDP_SYNTAX, SDP_MISSING or SDP_VALUE) when it is malformed or too large. */
export function parseSdp(text: string): SessionDescription {
  if (text.length > SDP_LIMITS.maxChars) throw sdpError('SDP_TOO_LARGE', `SDP longer than ${SDP_LIMITS.maxChars} chars`);
  const lines = text.split('\n');
  if (lines.length > SDP_LIMITS.maxLines) throw sdpError('SDP_TOO_LARGE', `SDP has more than ${SDP_LIMITS.maxLines} lines`);
  const parser = new LineParser();
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    parser.line(line, i + 1);
  }
  return parser.finish();
}

/** Accumulates lines into a SessionDescription, tracking whether we are inside an m= section. */
class LineParser {
  private readonly sd: SessionDescription = {
    version: -1,
    origin: { username: '', sessionId: '', sessionVersion: '', netType: '', addrType: '', address: '' },
    sessionName: '',
    emails: [],
    phones: [],
    bandwidths: [],
    timing: [],
    attributes: [],
    media: [],
  };
  private seen = new Set<string>();
  private media: MediaDescription | null = null;

  line(line: string, n: number): void {
    if (line.length > SDP_LIMITS.maxLineChars) throw sdpError('SDP_TOO_LARGE', 'line too long', n);
    if (line.length < 2 || line[1] !== '=' || line[0] < 'a' || line[0] > 'z') {
      throw sdpError('SDP_SYNTAX', `not a <type>=<value> line: ${JSON.stringify(line.slice(0, 40))}`, n);
    }
    const type = line[0];
    const value = line.slice(2);
    if (this.seen.size === 0 && type !== 'v') throw sdpError('SDP_SYNTAX', 'the first line must be v=', n);
    if (type === 'm') return this.mediaLine(value, n);
    if (this.media) return this.mediaLevel(this.media, type, value, n);
    this.sessionLevel(type, value, n);
  }

  finish(): SessionDescription {
    if (!this.seen.has('v')) throw sdpError('SDP_MISSING', 'no v= line');
    if (!this.seen.has('o')) throw sdpError('SDP_MISSING', 'no o= line');
    if (!this.seen.has('s')) throw sdpError('SDP_MISSING', 'no s= line');
    return this.sd;
  }

  private once(type: string, n: number): void {
    if (this.seen.has(type)) throw sdpError('SDP_SYNTAX', `more than one ${type}= line`, n);
    this.seen.add(type);
  }

  private sessionLevel(type: string, value: string, n: number): void {
    const sd = this.sd;
    switch (type) {
      case 'v':
        this.once('v', n);
        if (value.trim() !== '0') throw sdpError('SDP_VALUE', `unsupported SDP version ${JSON.stringify(value)}`, n);
        sd.version = 0;
        return;
      case 'o': this.once('o', n); sd.origin = parseOrigin(value, n); return;
      case 's': this.once('s', n); sd.sessionName = value; return;
      case 'i': this.once('i', n); sd.information = value; return;
      case 'u': this.once('u', n); sd.uri = value; return;
      case 'e': sd.emails.push(value); return;
      case 'p': sd.phones.push(value); return;
      case 'c': this.once('c', n); sd.connection = parseConnection(value, n); return;
      case 'b': sd.bandwidths.push(parseBandwidth(value, n)); return;
      case 't': sd.timing.push(parseTiming(value, n)); return;
      case 'r': {
        const last = sd.timing.at(-1);
        if (!last) throw sdpError('SDP_SYNTAX', 'r= without t=', n);
        last.repeats.push(value);
        return;
      }
      case 'z': sd.timeZones = value; return;
      case 'k': sd.key = value; return;
      case 'a': sd.attributes.push(parseAttribute(value)); return;
      default: return; // RFC 4566 §5: unknown types are not ours to interpret; skip them
    }
  }

  private mediaLine(value: string, n: number): void {
    if (!this.seen.has('o') || !this.seen.has('s')) throw sdpError('SDP_MISSING', 'm= before o= and s=', n);
    if (this.sd.media.length >= SDP_LIMITS.maxMedia) throw sdpError('SDP_TOO_LARGE', `more than ${SDP_LIMITS.maxMedia} m= lines`, n);
    this.media = parseMedia(value, n);
    this.sd.media.push(this.media);
  }

  private mediaLevel(m: MediaDescription, type: string, value: string, n: number): void {
    switch (type) {
      case 'i': m.information = value; return;
      case 'c': m.connection = parseConnection(value, n); return;
      case 'b': m.bandwidths.push(parseBandwidth(value, n)); return;
      case 'k': m.key = value; return;
      case 'a': m.attributes.push(parseAttribute(value)); return;
      default:
        if (SESSION_ONLY.has(type)) throw sdpError('SDP_SYNTAX', `${type}= inside an m= section`, n);
    }
  }
}

/** Splits on runs of spaces (RFC 4566 uses single spaces; peers sometimes send more). */
function fields(value: string): string[] {
  return value.trim().split(/ +/);
}

function parseOrigin(value: string, n: number): SdpOrigin {
  const f = fields(value);
  if (f.length !== 6) throw sdpError('SDP_VALUE', `o= needs 6 fields, got ${f.length}`, n);
  const [username, sessionId, sessionVersion, netType, addrType, address] = f;
  if (!DECIMAL.test(sessionId) || !DECIMAL.test(sessionVersion)) throw sdpError('SDP_VALUE', 'o= session id and version must be decimal', n);
  return { username, sessionId, sessionVersion, netType, addrType, address };
}

function parseConnection(value: string, n: number): SdpConnection {
  const f = fields(value);
  if (f.length !== 3) throw sdpError('SDP_VALUE', `c= needs 3 fields, got ${f.length}`, n);
  const [netType, addrType, rest] = f;
  const slash = rest.indexOf('/');
  const conn: SdpConnection = { netType, addrType, address: slash < 0 ? rest : rest.slice(0, slash) };
  if (slash >= 0) conn.suffix = rest.slice(slash + 1);
  if (conn.address === '') throw sdpError('SDP_VALUE', 'c= without an address', n);
  return conn;
}

function parseBandwidth(value: string, n: number): SdpBandwidth {
  const colon = value.indexOf(':');
  const bw = colon > 0 ? value.slice(colon + 1).trim() : '';
  if (colon <= 0 || !DECIMAL.test(bw)) throw sdpError('SDP_VALUE', 'b= must be <type>:<number>', n);
  return { type: value.slice(0, colon), value: Number(bw) };
}

function parseTiming(value: string, n: number): { start: string; stop: string; repeats: string[] } {
  const f = fields(value);
  if (f.length !== 2 || !DECIMAL.test(f[0]) || !DECIMAL.test(f[1])) throw sdpError('SDP_VALUE', 't= must be <start> <stop>', n);
  return { start: f[0], stop: f[1], repeats: [] };
}

function parseAttribute(value: string): SdpAttribute {
  const colon = value.indexOf(':');
  if (colon < 0) return { name: value.trim(), value: null };
  return { name: value.slice(0, colon).trim(), value: value.slice(colon + 1) };
}

function parseMedia(value: string, n: number): MediaDescription {
  const f = fields(value);
  if (f.length < 4) throw sdpError('SDP_VALUE', `m= needs at least 4 fields, got ${f.length}`, n);
  if (f.length - 3 > SDP_LIMITS.maxFormats) throw sdpError('SDP_TOO_LARGE', `more than ${SDP_LIMITS.maxFormats} formats`, n);
  const [type, portField, protocol] = f;
  const m = /^([0-9]{1,5})(?:\/([0-9]{1,5}))?$/.exec(portField);
  const port = m ? Number(m[1]) : NaN;
  const portCount = m?.[2] ? Number(m[2]) : 1;
  if (!(port >= 0 && port <= 65535) || portCount < 1) throw sdpError('SDP_VALUE', `bad m= port ${JSON.stringify(portField)}`, n);
  return { type, port, portCount, protocol, formats: f.slice(3), bandwidths: [], attributes: [] };
}
