// FreeSWITCH's three event serializations, byte for byte:
// - plain: switch_event_serialize (src/switch_event.c), header values through switch_url_encode
//   (src/switch_utils.c), body after its own `Content-Length: n` and a blank line;
// - json: switch_event_serialize_json (cJSON_PrintUnformatted of one flat object of strings,
//   `Content-Length` and `_body` last when there is a body);
// - xml: switch_event_xmlize + switch_xml_toxml (src/switch_xml.c, see serialize-xml.ts).
// FreeSWITCH never stores a header with an empty value (switch_event_base_add_header deletes it
// instead), so headers whose value is '' are left out of every format here.
import type { FsEvent } from './event.ts';
import { toFsXml, type XmlNode } from './serialize-xml.ts';

export { toFsXml, type XmlNode } from './serialize-xml.ts';

/** The event formats of the Event Socket (`event plain|json|xml`). */
export type EventFormat = 'plain' | 'json' | 'xml';

/** SWITCH_URL_UNSAFE (switch_utils.h): bytes switch_url_encode always escapes, besides controls and non-ASCII. */
export const SWITCH_URL_UNSAFE = '\r\n #%&+:;<=>?@[\\]^`{|}"';

const HEX = '0123456789ABCDEF';
/** Per byte: its encoded form. */
const ENCODED_BYTE: string[] = Array.from({ length: 256 }, (_, b) => {
  const unsafe = b < 0x20 || b > 0x7e || SWITCH_URL_UNSAFE.includes(String.fromCharCode(b));
  return unsafe ? `%${HEX[b >> 4]}${HEX[b & 15]}` : String.fromCharCode(b);
});
/** Strings made only of bytes that stay as they are. */
const NOTHING_TO_ENCODE = /^[!$'()*,\-./0-9A-Z_a-z~]*$/;

/**
 * switch_url_encode: every byte of the UTF-8 form that is a control, above `~`, or one of
 * SWITCH_URL_UNSAFE becomes `%XX` (upper-case hex); everything else is kept.
 */
export function urlEncode(value: string): string {
  if (NOTHING_TO_ENCODE.test(value)) return value;
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += ENCODED_BYTE[bytes[i]!];
  return out;
}

/**
 * switch_event_serialize(event, encode): `Name: value\n` per header (URL-encoded when `encode`,
 * else `[value]` as uuid_dump's `plain` format prints), then `Content-Length: n\n\n<body>` when the
 * body is not empty, else a blank line. n counts bytes.
 */
export function serializePlain(event: FsEvent, encode = true): string {
  let out = '';
  for (const [name, value] of event.headers) {
    if (value === '') continue;
    out += `${name}: ${encode ? urlEncode(value) : `[${value}]`}\n`;
  }
  const body = event.body;
  if (body !== undefined && body !== '') return `${out}Content-Length: ${Buffer.byteLength(body)}\n\n${body}`;
  return `${out}\n`;
}

/**
 * switch_event_serialize_json: `{"Name":"value",...}` unformatted, with `"Content-Length":"n"` and
 * `"_body":"..."` appended whenever the event has a body (even an empty one). JSON.stringify escapes
 * strings as cJSON does (`\"`, `\\`, `\b\f\n\r\t`, other controls as `\u00xx`, UTF-8 kept).
 */
export function serializeJson(event: FsEvent): string {
  const parts: string[] = [];
  for (const [name, value] of event.headers) {
    if (value !== '') parts.push(`${JSON.stringify(name)}:${JSON.stringify(value)}`);
  }
  const body = event.body;
  if (body !== undefined) {
    parts.push(`"Content-Length":${JSON.stringify(String(Buffer.byteLength(body)))}`, `"_body":${JSON.stringify(body)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * switch_event_xmlize: `<event><headers>` with one element per header (value URL-encoded, then
 * XML-escaped), then, for a non-empty body, `<Content-Length>` and `<body>` as children of `<event>`;
 * printed by switch_xml_toxml (two-space indent, a newline after every closing tag).
 */
export function serializeXml(event: FsEvent): string {
  const headers: XmlNode[] = [];
  for (const [name, value] of event.headers) {
    if (value !== '') headers.push({ name, text: urlEncode(value) });
  }
  const children: XmlNode[] = [{ name: 'headers', children: headers }];
  const body = event.body;
  if (body !== undefined && body !== '') {
    children.push({ name: 'Content-Length', text: String(Buffer.byteLength(body)) }, { name: 'body', text: body });
  }
  return toFsXml({ name: 'event', children });
}

/** The event serialized in one of the Event Socket formats. */
export function serializeEvent(event: FsEvent, format: EventFormat): string {
  switch (format) {
    case 'plain': return serializePlain(event);
    case 'json': return serializeJson(event);
    case 'xml': return serializeXml(event);
  }
}
