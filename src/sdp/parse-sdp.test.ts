import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSdp, SDP_LIMITS } from './parse-sdp.ts';
import { serializeSdp } from './serialize-sdp.ts';
import { isAppError, type ErrorCode } from '../lib/errors.ts';
import { BARESIP, LINPHONE, SIPP_UAC, VIDEO_AND_AUDIO, sdp } from './fixtures.test-data.ts';

function throwsCode(text: string, code: ErrorCode): void {
  assert.throws(() => parseSdp(text), (err: unknown) => isAppError(err, code), text.slice(0, 60));
}

test('parses a SIPp offer', () => {
  const sd = parseSdp(SIPP_UAC);
  assert.equal(sd.version, 0);
  assert.deepEqual(sd.origin, { username: 'user1', sessionId: '53655765', sessionVersion: '2353687637', netType: 'IN', addrType: 'IP4', address: '127.0.0.1' });
  assert.equal(sd.sessionName, '-');
  assert.deepEqual(sd.connection, { netType: 'IN', addrType: 'IP4', address: '127.0.0.1' });
  assert.deepEqual(sd.timing, [{ start: '0', stop: '0', repeats: [] }]);
  assert.equal(sd.media.length, 1);
  const m = sd.media[0];
  assert.deepEqual([m.type, m.port, m.portCount, m.protocol, m.formats], ['audio', 6000, 1, 'RTP/AVP', ['0']]);
  assert.deepEqual(m.attributes, [{ name: 'rtpmap', value: '0 PCMU/8000' }]);
});

test('parses baresip and linphone offers: attributes at both levels, flags, values with colons', () => {
  const b = parseSdp(BARESIP);
  assert.deepEqual(b.attributes, [{ name: 'tool', value: 'baresip 1.0.0' }]);
  const m = b.media[0];
  assert.equal(m.formats.length, 15);
  assert.ok(m.attributes.some((a) => a.name === 'sendrecv' && a.value === null));
  assert.ok(m.attributes.some((a) => a.name === 'ssrc' && a.value === '3233781363 cname:sip:bob@127.0.0.1:5071'));
  const l = parseSdp(LINPHONE);
  assert.equal(l.attributes[0].value, 'rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics');
  assert.deepEqual(l.media[0].formats, ['96', '97', '98', '0', '8', '18', '101', '99', '100']);
});

test('parses several m= sections with their own lines', () => {
  const sd = parseSdp(VIDEO_AND_AUDIO);
  assert.deepEqual(sd.media.map((m) => [m.type, m.port, m.protocol]), [['video', 9000, 'RTP/AVP'], ['audio', 9002, 'RTP/AVP'], ['application', 9004, 'UDP/BFCP']]);
  assert.deepEqual(sd.media[2].formats, ['*']);
});

test('tolerates LF line ends, blank lines, no t=, empty s=, extra spaces, unknown types; keeps IPv6 and ttl', () => {
  const sd = parseSdp('v=0\no=- 1 2 IN IP6 ::1\ns=\n\nx=unknown\nc=IN IP6 ::1\nm=audio  5000/2 RTP/AVP 0 8\nc=IN IP4 224.2.1.1/127/3\nb=AS:64\n');
  assert.equal(sd.sessionName, '');
  assert.equal(sd.timing.length, 0);
  assert.deepEqual(sd.connection, { netType: 'IN', addrType: 'IP6', address: '::1' });
  assert.equal(sd.media[0].portCount, 2);
  assert.deepEqual(sd.media[0].connection, { netType: 'IN', addrType: 'IP4', address: '224.2.1.1', suffix: '127/3' });
  assert.deepEqual(sd.media[0].bandwidths, [{ type: 'AS', value: 64 }]);
});

test('serialize(parse(x)) is stable and parses back to the same structure', () => {
  for (const text of [SIPP_UAC, BARESIP, LINPHONE, VIDEO_AND_AUDIO]) {
    const once = serializeSdp(parseSdp(text));
    assert.deepEqual(parseSdp(once), parseSdp(text));
    assert.equal(serializeSdp(parseSdp(once)), once);
    assert.ok(once.endsWith('\r\n') && !once.includes('\n\n'));
  }
  assert.equal(serializeSdp(parseSdp(SIPP_UAC)), SIPP_UAC);
});

test('malformed descriptions throw AppError with a stable code', () => {
  throwsCode('', 'SDP_MISSING');
  throwsCode('hello world', 'SDP_SYNTAX');
  throwsCode(sdp('o=- 1 1 IN IP4 127.0.0.1', 'v=0', 's=-'), 'SDP_SYNTAX');
  throwsCode(sdp('v=1', 'o=- 1 1 IN IP4 127.0.0.1', 's=-'), 'SDP_VALUE');
  throwsCode(sdp('v=0', 's=-'), 'SDP_MISSING');
  throwsCode(sdp('v=0', 'o=- 1 1 IN IP4', 's=-'), 'SDP_VALUE');
  throwsCode(sdp('v=0', 'o=- x 1 IN IP4 127.0.0.1', 's=-'), 'SDP_VALUE');
  throwsCode(sdp('v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'm=audio 70000 RTP/AVP 0'), 'SDP_VALUE');
  throwsCode(sdp('v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'm=audio 5000 RTP/AVP'), 'SDP_VALUE');
  throwsCode(sdp('v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'm=audio 5000 RTP/AVP 0', 's=again'), 'SDP_SYNTAX');
  throwsCode(sdp('v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4'), 'SDP_VALUE');
  throwsCode(sdp('v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'b=AS'), 'SDP_VALUE');
  throwsCode(sdp('v=0', 'o=- 1 1 IN IP4 127.0.0.1', 'o=- 1 1 IN IP4 127.0.0.1', 's=-'), 'SDP_SYNTAX');
  throwsCode(sdp('v=0', 'm=audio 5000 RTP/AVP 0'), 'SDP_MISSING');
  throwsCode(sdp('v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'Xa=b'), 'SDP_SYNTAX');
});

test('size bounds: long text, long lines, too many lines, m= sections, formats', () => {
  const head = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-'];
  throwsCode('v=0\r\n' + 'a=x\r\n'.repeat(SDP_LIMITS.maxChars / 5), 'SDP_TOO_LARGE');
  throwsCode(sdp(...head, 'a=' + 'x'.repeat(SDP_LIMITS.maxLineChars)), 'SDP_TOO_LARGE');
  throwsCode(sdp(...head, ...Array(SDP_LIMITS.maxLines).fill('a=x')), 'SDP_TOO_LARGE');
  throwsCode(sdp(...head, ...Array(SDP_LIMITS.maxMedia + 1).fill('m=audio 0 RTP/AVP 0')), 'SDP_TOO_LARGE');
  const fmts = Array.from({ length: SDP_LIMITS.maxFormats + 1 }, (_, i) => String(i % 128)).join(' ');
  throwsCode(sdp(...head, `m=audio 5000 RTP/AVP ${fmts}`), 'SDP_TOO_LARGE');
});
