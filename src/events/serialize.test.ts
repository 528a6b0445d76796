// Golden tests of the event serializations. Where each expectation comes from:
// [C1] A FreeSWITCH event captured on the wire, quoted in modesl@1.2.1 lib/esl/Event.js
//      (Event.prototype.serialize comments): the plain text of a CUSTOM SMS::SEND_MESSAGE event
//      and the JSON of another one. Header names, order and encoded values below are copied
//      from those captures.
// [S1] switch_event_serialize (src/switch_event.c, FreeSWITCH 1.10): `%s: %s\n` per header, value
//      through switch_url_encode; body as `Content-Length: %d\n\n%s`; no body or an empty one: `\n`.
// [S2] switch_url_encode_opt (src/switch_utils.c) and SWITCH_URL_UNSAFE (switch_utils.h):
//      bytes < 0x20, > 0x7e and "\r\n #%&+:;<=>?@[\]^`{|}\"" become %XX in upper-case hex.
// [S3] switch_event_serialize_json_obj: flat object of strings, then "Content-Length" and "_body"
//      whenever the event has a body; cJSON_PrintUnformatted.
// [S4] switch_event_xmlize + switch_xml_toxml_r / switch_xml_ampencode (src/switch_xml.c 1.10):
//      <event>, <headers> with one URL-encoded element per header, then <Content-Length> and <body>
//      as children of <event>; XML_INDENT "  "; a newline before an opening tag when the output
//      ends with '>'; "</name>\n" after every element; non-ASCII text as &#xHEX;.
// [S5] switch_event_base_add_header deletes a header instead of storing an empty value, so
//      FreeSWITCH events never carry empty headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FsEvent } from './event.ts';
import { serializeEvent, serializeJson, serializePlain, serializeXml, urlEncode } from './serialize.ts';
import { toFsXml, xmlAmpEncode } from './serialize-xml.ts';

function eventOf(headers: Array<[string, string]>, body?: string): FsEvent {
  const e = new FsEvent('CUSTOM');
  e.headers.length = 0;
  e.headers.push(...headers);
  e.body = body;
  return e;
}

// [C1] decoded values of the plain capture.
const SMS_HEADERS: Array<[string, string]> = [
  ['Event-Name', 'CUSTOM'],
  ['Core-UUID', '8b192020-7368-4498-9b11-cbe10f48a784'],
  ['FreeSWITCH-Hostname', 'smsdev'],
  ['FreeSWITCH-Switchname', 'smsdev'],
  ['FreeSWITCH-IPv4', '10.1.12.115'],
  ['FreeSWITCH-IPv6', '::1'],
  ['Event-Date-Local', '2012-09-25 14:21:56'],
  ['Event-Date-GMT', 'Tue, 25 Sep 2012 18:21:56 GMT'],
  ['Event-Date-Timestamp', '1348597316736546'],
  ['Event-Calling-File', 'switch_cpp.cpp'],
  ['Event-Calling-Function', 'Event'],
  ['Event-Calling-Line-Number', '262'],
  ['Event-Sequence', '11021'],
  ['Event-Subclass', 'SMS::SEND_MESSAGE'],
  ['proto', 'sip'],
  ['dest_proto', 'sip'],
  ['from', '9515529832'],
  ['from_full', '9515529832'],
  ['to', 'internal/8507585138@sms-proxy-01.bandwidthclec.com'],
  ['subject', 'PATLive Testing'],
  ['type', 'text/plain'],
  ['hint', 'the hint'],
  ['replying', 'true'],
];

test('plain: a captured FreeSWITCH event comes out byte for byte [C1][S1]', () => {
  const expected = 'Event-Name: CUSTOM\n'
    + 'Core-UUID: 8b192020-7368-4498-9b11-cbe10f48a784\n'
    + 'FreeSWITCH-Hostname: smsdev\n'
    + 'FreeSWITCH-Switchname: smsdev\n'
    + 'FreeSWITCH-IPv4: 10.1.12.115\n'
    + 'FreeSWITCH-IPv6: %3A%3A1\n'
    + 'Event-Date-Local: 2012-09-25%2014%3A21%3A56\n'
    + 'Event-Date-GMT: Tue,%2025%20Sep%202012%2018%3A21%3A56%20GMT\n'
    + 'Event-Date-Timestamp: 1348597316736546\n'
    + 'Event-Calling-File: switch_cpp.cpp\n'
    + 'Event-Calling-Function: Event\n'
    + 'Event-Calling-Line-Number: 262\n'
    + 'Event-Sequence: 11021\n'
    + 'Event-Subclass: SMS%3A%3ASEND_MESSAGE\n'
    + 'proto: sip\n'
    + 'dest_proto: sip\n'
    + 'from: 9515529832\n'
    + 'from_full: 9515529832\n'
    + 'to: internal/8507585138%40sms-proxy-01.bandwidthclec.com\n'
    + 'subject: PATLive%20Testing\n'
    + 'type: text/plain\n'
    + 'hint: the%20hint\n'
    + 'replying: true\n'
    + 'Content-Length: 23\n'
    + '\n'
    + 'Hello from Chad Engler!';
  assert.equal(serializePlain(eventOf(SMS_HEADERS, 'Hello from Chad Engler!')), expected);
});

test('plain: no body or an empty body ends with one blank line; the body is not encoded [S1]', () => {
  assert.equal(serializePlain(eventOf([['Event-Name', 'API'], ['A', 'b c']])), 'Event-Name: API\nA: b%20c\n\n');
  assert.equal(serializePlain(eventOf([['Event-Name', 'API']], '')), 'Event-Name: API\n\n');
  assert.equal(serializePlain(eventOf([['Event-Name', 'API']], 'a: b\n\nc')), 'Event-Name: API\nContent-Length: 7\n\na: b\n\nc');
});

test('plain: Content-Length of the body counts UTF-8 bytes [S1]', () => {
  const body = '{"text":"héllo wörld €"}';
  const out = serializePlain(eventOf([['Event-Name', 'CUSTOM']], body));
  assert.equal(out, `Event-Name: CUSTOM\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`);
  assert.equal(Buffer.byteLength(body), 28);
});

test('plain: uuid_dump\'s unencoded form prints [value] [S1]', () => {
  assert.equal(serializePlain(eventOf([['A', 'x y'], ['B', '1']]), false), 'A: [x y]\nB: [1]\n\n');
});

test('plain and json: empty headers are left out [S5]', () => {
  const e = eventOf([['Event-Name', 'X'], ['Caller-Username', ''], ['B', 'c']]);
  assert.equal(serializePlain(e), 'Event-Name: X\nB: c\n\n');
  assert.equal(serializeJson(e), '{"Event-Name":"X","B":"c"}');
});

test('switch_url_encode: unsafe set, controls, DEL and UTF-8 bytes; the rest is kept [S2]', () => {
  assert.equal(urlEncode('\r\n #%&+:;<=>?@[\\]^`{|}"'), '%0D%0A%20%23%25%26%2B%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D%22');
  assert.equal(urlEncode("a-z_A.Z~0/9!$'()*,"), "a-z_A.Z~0/9!$'()*,");
  assert.equal(urlEncode('\t\x7f'), '%09%7F');
  assert.equal(urlEncode('é€'), '%C3%A9%E2%82%AC');
  // An existing %XX is encoded again (switch_url_encode_opt ignores double_encode in 1.10).
  assert.equal(urlEncode('50%25'), '50%2525');
  // From a FreeSWITCH BACKGROUND_JOB capture: Job-Command-Arg: sofia/default/1005%20'%26park'
  assert.equal(urlEncode("sofia/default/1005 '&park'"), "sofia/default/1005%20'%26park'");
});

// [C1] the JSON capture, values as FreeSWITCH sent them.
const SMS_JSON = {
  'Event-Name': 'CUSTOM',
  'Core-UUID': '8b192020-7368-4498-9b11-cbe10f48a784',
  'FreeSWITCH-Hostname': 'smsdev',
  'FreeSWITCH-Switchname': 'smsdev',
  'FreeSWITCH-IPv4': '10.1.12.115',
  'FreeSWITCH-IPv6': '::1',
  'Event-Date-Local': '2012-09-25 14:22:37',
  'Event-Date-GMT': 'Tue, 25 Sep 2012 18:22:37 GMT',
  'Event-Date-Timestamp': '1348597357036551',
  'Event-Calling-File': 'switch_cpp.cpp',
  'Event-Calling-Function': 'Event',
  'Event-Calling-Line-Number': '262',
  'Event-Sequence': '11027',
  'Event-Subclass': 'SMS::SEND_MESSAGE',
  proto: 'sip',
  dest_proto: 'sip',
  from: '9515529832',
  from_full: '9515529832',
  to: 'internal/8507585138@sms-proxy-01.bandwidthclec.com',
  subject: 'PATLive Testing',
  type: 'text/plain',
  hint: 'the hint',
  replying: 'true',
  'Content-Length': '23',
  _body: 'Hello from Chad Engler!',
};

test('json: a captured FreeSWITCH event, unformatted, Content-Length and _body last [C1][S3]', () => {
  const headers = Object.entries(SMS_JSON).filter(([k]) => k !== 'Content-Length' && k !== '_body');
  const out = serializeJson(eventOf(headers, SMS_JSON._body));
  assert.equal(out, JSON.stringify(SMS_JSON));
  assert.ok(out.startsWith('{"Event-Name":"CUSTOM","Core-UUID":"8b192020'));
  assert.ok(out.endsWith('"replying":"true","Content-Length":"23","_body":"Hello from Chad Engler!"}'));
});

test('json: an empty body still adds Content-Length 0 and _body; escapes as cJSON [S3]', () => {
  assert.equal(serializeJson(eventOf([['A', 'x']], '')), '{"A":"x","Content-Length":"0","_body":""}');
  assert.equal(serializeJson(eventOf([['A', 'q"\\\n\t\x01é/']])), '{"A":"q\\"\\\\\\n\\t\\u0001é/"}');
  assert.equal(serializeJson(eventOf([['A', 'x']], 'é')), '{"A":"x","Content-Length":"2","_body":"é"}');
});

test('xml: event with a body, exactly as switch_xml_toxml prints it [S4]', () => {
  const e = eventOf([
    ['Event-Name', 'CUSTOM'],
    ['Event-Subclass', 'mod_audio_stream::connect'],
    ['Caller-Caller-ID-Name', 'Jöhn <x> & "y"'],
  ], '{"status":"connected"}');
  const expected = '<event>\n'
    + '  <headers>\n'
    + '    <Event-Name>CUSTOM</Event-Name>\n'
    + '    <Event-Subclass>mod_audio_stream%3A%3Aconnect</Event-Subclass>\n'
    + '    <Caller-Caller-ID-Name>J%C3%B6hn%20%3Cx%3E%20%26%20%22y%22</Caller-Caller-ID-Name>\n'
    + '  </headers>\n'
    + '  <Content-Length>22</Content-Length>\n'
    + '  <body>{"status":"connected"}</body>\n'
    + '</event>\n';
  assert.equal(serializeXml(e), expected);
});

test('xml: no body element for no or an empty body; body text escaped, UTF-8 as &#x..; [S4]', () => {
  assert.equal(serializeXml(eventOf([['Event-Name', 'API']])), '<event>\n  <headers>\n    <Event-Name>API</Event-Name>\n  </headers>\n</event>\n');
  assert.equal(serializeXml(eventOf([['Event-Name', 'API']], '')), '<event>\n  <headers>\n    <Event-Name>API</Event-Name>\n  </headers>\n</event>\n');
  const out = serializeXml(eventOf([['A', 'b']], 'a<b>&c\r\né😀'));
  assert.ok(out.includes('  <Content-Length>14</Content-Length>\n  <body>a&lt;b&gt;&amp;c&#xD;\n&#xE9;&#x1F600;</body>\n</event>\n'), out);
});

test('xml: a body ending with a newline gets the closing tag indented, as toxml does [S4]', () => {
  const out = serializeXml(eventOf([['A', 'b']], 'line\n'));
  assert.ok(out.endsWith('  <body>line\n  </body>\n</event>\n'), out);
});

test('switch_xml_ampencode: attributes escape quotes and whitespace; "<!" passes the rest raw [S4]', () => {
  assert.equal(xmlAmpEncode('a"b\n\tc', true), 'a&quot;b&#xA;&#x9;c');
  assert.equal(xmlAmpEncode('a"b\n\tc'), 'a"b\n\tc');
  assert.equal(xmlAmpEncode('x<![CDATA[<&é]]>'), 'x<![CDATA[<&é]]>');
  assert.equal(toFsXml({ name: 'result', attrs: [['row_count', '0']] }), '<result row_count="0"></result>\n');
});

test('serializeEvent picks the format', () => {
  const e = eventOf([['Event-Name', 'API']]);
  assert.equal(serializeEvent(e, 'plain'), serializePlain(e));
  assert.equal(serializeEvent(e, 'json'), serializeJson(e));
  assert.equal(serializeEvent(e, 'xml'), serializeXml(e));
});
