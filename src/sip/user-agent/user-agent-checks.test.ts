import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSent, sentStatuses, sipRequest, startTestUa, TEST_SDP } from '../../../test/helpers/sip/test-kit.ts';

test('OPTIONS outside a dialog: 200 with Allow, Accept, Supported and a To tag', async () => {
  const { transport, calls } = await startTestUa({ userAgent: 'test-ua/1' });
  transport.inject(sipRequest({ method: 'OPTIONS' }));
  const res = parseSent(transport.sent[0].text);
  assert.equal(res.status, 200);
  assert.deepEqual(res.getList('allow'), ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO', 'UPDATE']);
  assert.match(res.getHeader('accept') ?? '', /application\/sdp/);
  assert.equal(res.hasHeader('supported'), true);
  assert.equal(res.getHeader('server'), 'test-ua/1');
  assert.ok(res.to.params.get('tag'));
  assert.equal(calls.length, 0);
});

test('unsupported methods: 405 for known SIP methods, 501 for unknown ones, both with Allow', async () => {
  const { transport } = await startTestUa();
  for (const method of ['SUBSCRIBE', 'MESSAGE', 'REFER', 'REGISTER', 'PUBLISH']) {
    transport.inject(sipRequest({ method, branch: `z9hG4bK-${method}` }));
    const res = parseSent(transport.sent.at(-1)!.text);
    assert.equal(res.status, 405, method);
    assert.ok(res.getHeader('allow')?.includes('INVITE'));
  }
  transport.inject(sipRequest({ method: 'FOOBAR', branch: 'z9hG4bK-foo' }));
  assert.equal(parseSent(transport.sent.at(-1)!.text).status, 501);
});

test('Require with an unknown option tag: 420 listing it in Unsupported', async () => {
  const { transport, calls } = await startTestUa();
  transport.inject(sipRequest({ method: 'INVITE', body: TEST_SDP, headers: ['Require: 100rel, timer'] }));
  const res = parseSent(transport.sent.at(-1)!.text);
  assert.equal(res.status, 420);
  assert.equal(res.getHeader('unsupported'), '100rel, timer');
  assert.equal(calls.length, 0);
  transport.inject(sipRequest({ method: 'INVITE', body: TEST_SDP, branch: 'z9hG4bK-2', callId: 'c2', headers: ['Supported: 100rel, timer'] }));
  assert.equal(calls.length, 1, 'Supported (not Require) is fine');
});

test('INVITE with a body that is not SDP: 415 with Accept; Content-Encoding gzip: 415', async () => {
  const { transport, calls, ua } = await startTestUa();
  transport.inject(sipRequest({ method: 'INVITE', body: '<audio/>', contentType: 'application/unknownformat' }));
  const res = parseSent(transport.sent.at(-1)!.text);
  assert.equal(res.status, 415);
  assert.equal(res.getHeader('accept'), 'application/sdp');
  transport.inject(sipRequest({ method: 'INVITE', body: TEST_SDP, branch: 'z9hG4bK-2', callId: 'c2', headers: ['Content-Encoding: gzip'] }));
  assert.equal(parseSent(transport.sent.at(-1)!.text).status, 415);
  assert.equal(calls.length, 0);
  assert.equal(ua.stats.calls, 0);
});

test('Max-Forwards 0: 483 (OPTIONS excepted); non-SIP Request-URI: 416', async () => {
  const { transport } = await startTestUa();
  transport.inject(sipRequest({ method: 'INVITE', maxForwards: 0, body: TEST_SDP }));
  assert.equal(sentStatuses(transport).at(-1), 483);
  transport.inject(sipRequest({ method: 'BYE', maxForwards: 0, branch: 'z9hG4bK-mf', toTag: 'x' }));
  assert.equal(sentStatuses(transport).at(-1), 483);
  transport.inject(sipRequest({ method: 'OPTIONS', maxForwards: 0, branch: 'z9hG4bK-mf0' }));
  assert.equal(sentStatuses(transport).at(-1), 200, 'OPTIONS with Max-Forwards 0 is answered as final recipient');
  transport.inject(sipRequest({ method: 'OPTIONS', uri: 'tel:+15551234', branch: 'z9hG4bK-tel' }));
  assert.equal(sentStatuses(transport).at(-1), 416);
});

test('a missing mandatory header: 400 naming it (To tag added, rport/received stamped); no Via: dropped and counted', async () => {
  const { transport, ua } = await startTestUa();
  transport.inject(sipRequest({ method: 'INVITE', body: TEST_SDP }).replace(/Call-ID: [^\r]*\r\n/, ''));
  const res = transport.sent.at(-1)!;
  assert.match(res.text, /^SIP\/2\.0 400 Bad Request \(missing call-id header\)\r\n/);
  assert.match(res.text, /\r\nVia: SIP\/2\.0\/UDP 192\.0\.2\.10:5062;branch=z9hG4bK-test-1;rport=5062;received=192\.0\.2\.10\r\n/);
  assert.match(res.text, /\r\nTo: <sip:service@127\.0\.0\.1:5060>;tag=\w+\r\n/);
  assert.match(res.text, /\r\nCSeq: 1 INVITE\r\n/);
  assert.equal(res.dest.port, 5062);
  const n = transport.sent.length;
  transport.inject(sipRequest({ method: 'INVITE', body: TEST_SDP }).replace(/Via: [^\r]*\r\n/, ''));
  assert.equal(transport.sent.length, n, 'no Via: no response');
  assert.equal(ua.stats.malformed, 2);
});

test('UDP body shorter than Content-Length: 400; longer: truncated to Content-Length', async () => {
  const { transport, calls } = await startTestUa();
  const text = sipRequest({ method: 'INVITE', body: TEST_SDP });
  transport.inject(text.slice(0, -10));
  assert.equal(sentStatuses(transport).at(-1), 400);
  transport.inject(text + 'garbage after the body');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].offer, TEST_SDP);
});

test('oversize datagrams are dropped and counted; junk never throws', async () => {
  const { transport, ua } = await startTestUa({ maxMessageBytes: 2048 });
  transport.inject(sipRequest({ method: 'OPTIONS', headers: [`X-Pad: ${'a'.repeat(3000)}`] }));
  assert.equal(transport.sent.length, 0);
  assert.equal(ua.stats.oversize, 1);
  for (let i = 0; i < 500; i++) transport.inject(Buffer.from(Array.from({ length: i % 97 }, (_, j) => (i * 13 + j * 101) % 256)));
  transport.inject(Buffer.alloc(0));
  transport.inject('\r\n\r\n');
  assert.ok(ua.stats.malformed > 0);
  assert.equal(ua.stats.received, 503);
});

test('a response nobody asked for is dropped; close() is idempotent and stops processing', async () => {
  const { transport, ua } = await startTestUa();
  transport.inject('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnope\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n');
  assert.equal(ua.stats.dropped, 1);
  await Promise.all([ua.close(), ua.close()]);
  assert.equal(transport.closed, true);
  transport.inject(sipRequest({ method: 'OPTIONS' }));
  assert.equal(transport.sent.length, 0);
});

test('OPTIONS, refusals and requests outside any dialog are answered statelessly: a flood keeps no transaction, a retransmission gets the same answer', async () => {
  const { transport, ua } = await startTestUa();
  const flood = [
    ...Array.from({ length: 200 }, (_, i) => sipRequest({ method: 'OPTIONS', branch: `z9hG4bK-o${i}`, callId: `o${i}` })),
    ...Array.from({ length: 200 }, (_, i) => sipRequest({ method: 'INVITE', body: TEST_SDP, branch: `z9hG4bK-r${i}`, callId: `r${i}`, headers: ['Require: 100rel'] })),
    ...Array.from({ length: 200 }, (_, i) => sipRequest({ method: 'BYE', branch: `z9hG4bK-b${i}`, callId: `b${i}`, toTag: 'gone' })),
    ...Array.from({ length: 200 }, (_, i) => sipRequest({ method: 'SUBSCRIBE', branch: `z9hG4bK-s${i}`, callId: `s${i}` })),
  ];
  for (const req of flood) transport.inject(req);
  const statuses = sentStatuses(transport);
  assert.equal(statuses.length, 800, 'every request answered once');
  assert.deepEqual([...new Set(statuses)].sort(), [200, 405, 420, 481]);
  assert.equal(ua.stats.transactions, 0, 'no transaction kept for any of them');
  // A retransmission (same branch, Call-ID, CSeq) is answered again, with the same To tag.
  const first = parseSent(transport.sent[0]!.text);
  transport.inject(flood[0]!);
  const again = parseSent(transport.sent.at(-1)!.text);
  assert.equal(again.status, 200);
  assert.equal(again.to.params.get('tag'), first.to.params.get('tag'));
  assert.ok(first.to.params.get('tag'));
  const refused = parseSent(transport.sent[200]!.text);
  assert.equal(refused.status, 420);
  assert.notEqual(refused.to.params.get('tag'), first.to.params.get('tag'), 'each request its own tag');
});

test('the ACK of a refusal answered statelessly is absorbed, not counted as a stray', async () => {
  const { transport, ua } = await startTestUa();
  transport.inject(sipRequest({ method: 'INVITE', body: TEST_SDP, branch: 'z9hG4bK-req', callId: 'req1', headers: ['Require: 100rel'] }));
  const refused = parseSent(transport.sent.at(-1)!.text);
  assert.equal(refused.status, 420);
  const dropped = ua.stats.dropped;
  transport.inject(sipRequest({ method: 'ACK', branch: 'z9hG4bK-req', callId: 'req1', toTag: refused.to.params.get('tag')! }));
  assert.equal(ua.stats.dropped, dropped, 'its ACK (same branch, our To tag) is expected');
  transport.inject(sipRequest({ method: 'ACK', branch: 'z9hG4bK-other', callId: 'req1', toTag: 'whatever' }));
  assert.equal(ua.stats.dropped, dropped + 1, 'a stray ACK is still counted');
});
