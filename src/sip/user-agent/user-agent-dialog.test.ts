import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingCall } from '../dialog/call.ts';
import { flush, parseSent, responseTo, sentStatuses, sipRequest, startTestUa, TEST_SDP, type RequestSpec, type TestUa } from '../../../test/helpers/sip/test-kit.ts';

const RR = ['Record-Route: <sip:p2.example.net:5070;lr>', 'Record-Route: <sip:p1.example.net;lr;transport=udp>'];

/** Sets up an answered and ACKed call; returns helpers to send in-dialog requests. */
async function confirmedCall(options: Parameters<typeof startTestUa>[0] = {}, invite: Partial<RequestSpec> = {}) {
  const t = await startTestUa(options);
  t.transport.inject(sipRequest({ method: 'INVITE', body: TEST_SDP, ...invite }));
  const call = t.calls[0];
  const events: string[] = [];
  call.onTerminated = (r) => events.push(`terminated:${r}`);
  call.onAck = (sdp) => events.push(`ack:${sdp === undefined ? '-' : 'sdp'}`);
  call.answer('v=0\r\no=answer\r\n');
  const ok = parseSent(t.transport.sentStarting('SIP/2.0 200')[0].text);
  const tag = ok.to.params.get('tag')!;
  let seq = 1;
  const send = (spec: Partial<RequestSpec> & { method: string }): void => {
    t.transport.inject(sipRequest({ toTag: tag, branch: `z9hG4bK-${spec.method}-${++seq}`, cseq: seq, callId: invite.callId, ...spec }));
  };
  t.transport.inject(sipRequest({ method: 'ACK', toTag: tag, branch: 'z9hG4bK-ack', cseq: 1, callId: invite.callId }));
  return { ...t, call, events, tag, send };
}

function ackFor(t: TestUa, okText: string, body?: string): void {
  const ok = parseSent(okText);
  t.transport.inject(sipRequest({ method: 'ACK', toTag: ok.to.params.get('tag')!, branch: `z9hG4bK-ack-${ok.cseq.seq}`, cseq: ok.cseq.seq, body }));
}

test('remote BYE: 200, onBye, onTerminated("bye"); a retransmitted BYE is answered from the transaction', async () => {
  const c = await confirmedCall();
  c.call.onBye = () => c.events.push('bye');
  c.send({ method: 'BYE', branch: 'z9hG4bK-bye' });
  assert.deepEqual(c.events, ['ack:-', 'bye', 'terminated:bye']);
  assert.equal(sentStatuses(c.transport).at(-1), 200);
  assert.equal(parseSent(c.transport.sent.at(-1)!.text).cseq.method, 'BYE');
  c.transport.inject(sipRequest({ method: 'BYE', branch: 'z9hG4bK-bye', toTag: c.tag, cseq: 2 }));
  assert.deepEqual(sentStatuses(c.transport).slice(-2), [200, 200]);
  assert.deepEqual(c.events, ['ack:-', 'bye', 'terminated:bye']);
  c.send({ method: 'BYE', branch: 'z9hG4bK-bye-again' });
  assert.equal(sentStatuses(c.transport).at(-1), 481, 'the dialog is gone');
});

test('our BYE: route set as Route (loose routing), Request-URI = remote target, retransmitted until answered', async () => {
  const c = await confirmedCall({}, { headers: RR });
  assert.deepEqual(parseSent(c.transport.sentStarting('SIP/2.0 200')[0].text).getList('record-route'),
    ['<sip:p2.example.net:5070;lr>', '<sip:p1.example.net;lr;transport=udp>'], 'Record-Route copied into the 2xx');
  // p2.example.net is not resolvable here: use IP literals instead.
  const d = await confirmedCall({}, { headers: ['Record-Route: <sip:192.0.2.50:5070;lr>, <sip:192.0.2.51;lr>'], callId: 'call-2' });
  d.call.hangup();
  await flush();
  assert.deepEqual(d.events, ['ack:-', 'terminated:local']);
  const first = d.transport.sentStarting('BYE');
  assert.equal(first.length, 1);
  assert.deepEqual(first[0].dest, { transport: 'udp', address: '192.0.2.50', port: 5070 });
  const bye = parseSent(first[0].text);
  assert.equal(bye.requestUriText, 'sip:alice@192.0.2.10:5062');
  assert.deepEqual(bye.getList('route'), ['<sip:192.0.2.50:5070;lr>', '<sip:192.0.2.51;lr>']);
  assert.equal(bye.from.params.get('tag'), d.tag);
  assert.equal(bye.to.params.get('tag'), 'from-1');
  assert.equal(bye.callId, 'call-2');
  assert.match(bye.via[0].params.get('branch') ?? '', /^z9hG4bK/);
  d.clock.advance(500);
  d.clock.advance(1000);
  d.clock.advance(2000);
  assert.equal(d.transport.sentStarting('BYE').length, 4, 'Timer E: 500, 1000, 2000 ms');
  d.transport.inject(responseTo(first[0].text, 200));
  d.clock.advance(60_000);
  assert.equal(d.transport.sentStarting('BYE').length, 4, 'stopped by the 200');
  assert.equal(d.ua.stats.transactions, 0);
  c.call.hangup();
  d.call.hangup();
});

test('our BYE gives up after Timer F (64*T1)', async () => {
  const c = await confirmedCall({ timers: { T1: 100, T2: 400 } });
  c.call.hangup();
  await flush();
  c.clock.advance(6400);
  const n = c.transport.sentStarting('BYE').length;
  assert.equal(n, 18, 'the BYE, then Timer E at 100, 300, 700 ms and every 400 ms up to 6300 ms');
  c.clock.advance(60_000);
  assert.equal(c.transport.sentStarting('BYE').length, n);
  assert.equal(c.ua.stats.transactions, 0);
});

test('strict route: Request-URI is the first route, the remote target goes last in Route', async () => {
  const c = await confirmedCall({}, { headers: ['Record-Route: <sip:192.0.2.60:5080>'] });
  c.call.hangup();
  await flush();
  const sent = c.transport.sentStarting('BYE')[0];
  const bye = parseSent(sent.text);
  assert.equal(bye.requestUriText, 'sip:192.0.2.60:5080');
  assert.deepEqual(bye.getList('route'), ['<sip:alice@192.0.2.10:5062>']);
  assert.equal(sent.dest.port, 5080);
});

test('re-INVITE: 100, onReinvite with the offer, 200 with our SDP retransmitted until ACK, onAck; target refresh', async () => {
  const c = await confirmedCall();
  let offerSeen: string | undefined;
  c.call.onReinvite = (offer, reply) => {
    offerSeen = offer;
    reply(200, 'v=0\r\no=answer 2\r\n');
    reply(488); // second reply ignored
  };
  c.send({ method: 'INVITE', body: TEST_SDP.replace('sendrecv', 'sendonly'), contact: '<sip:alice@192.0.2.99:5099>' });
  assert.equal(offerSeen?.startsWith('v=0'), true);
  const statuses = sentStatuses(c.transport);
  assert.deepEqual(statuses.slice(-2), [100, 200]);
  const ok = c.transport.sent.at(-1)!.text;
  assert.match(ok, /o=answer 2/);
  c.clock.advance(500);
  assert.equal(sentStatuses(c.transport).at(-1), 200, '2xx to the re-INVITE is retransmitted');
  ackFor(c, ok);
  assert.deepEqual(c.events, ['ack:-', 'ack:-']);
  const n = c.transport.sent.length;
  c.clock.advance(60_000);
  assert.equal(c.transport.sent.length, n);
  c.call.hangup();
  await flush();
  assert.equal(c.transport.sentStarting('BYE')[0].dest.address, '192.0.2.99', 'Contact of the re-INVITE is the new target');
});

test('re-INVITE refused by the owner (488) and re-INVITE with no handler (488); the call goes on', async () => {
  const c = await confirmedCall();
  c.send({ method: 'INVITE', body: TEST_SDP });
  assert.equal(sentStatuses(c.transport).at(-1), 488);
  c.call.onReinvite = (_offer, reply) => reply(488);
  c.send({ method: 'INVITE', body: TEST_SDP });
  assert.equal(sentStatuses(c.transport).at(-1), 488);
  assert.equal(c.call.state, 'confirmed');
});

test('re-INVITE while another is pending: 500 with Retry-After (RFC 3261 §14.2)', async () => {
  const c = await confirmedCall();
  let pendingReply: ((s: number, sdp?: string) => void) | undefined;
  c.call.onReinvite = (_offer, reply) => {
    pendingReply = reply;
  };
  c.send({ method: 'INVITE', body: TEST_SDP });
  c.send({ method: 'INVITE', body: TEST_SDP });
  const last = parseSent(c.transport.sent.at(-1)!.text);
  assert.equal(last.status, 500);
  assert.match(last.getHeader('retry-after') ?? '', /^(10|[0-9])$/);
  c.send({ method: 'UPDATE', body: TEST_SDP });
  assert.equal(sentStatuses(c.transport).at(-1), 500, 'UPDATE with an offer while an offer is pending: 500 (RFC 3311 §5.2)');
  pendingReply!(200, 'v=0\r\n');
  assert.equal(sentStatuses(c.transport).at(-1), 200);
});

test('glare: a re-INVITE or UPDATE offer while our offer (2xx to an offerless INVITE) awaits its ACK gets 491', async () => {
  const t = await startTestUa();
  t.transport.inject(sipRequest({ method: 'INVITE' }));
  const call: IncomingCall = t.calls[0];
  call.answer('v=0\r\no=our-offer\r\n');
  const tag = parseSent(t.transport.sentStarting('SIP/2.0 200')[0].text).to.params.get('tag')!;
  t.transport.inject(sipRequest({ method: 'INVITE', toTag: tag, cseq: 2, branch: 'z9hG4bK-glare', body: TEST_SDP }));
  assert.equal(sentStatuses(t.transport).at(-1), 491);
  t.transport.inject(sipRequest({ method: 'UPDATE', toTag: tag, cseq: 3, branch: 'z9hG4bK-glare-u', body: TEST_SDP }));
  assert.equal(sentStatuses(t.transport).at(-1), 491);
  t.transport.inject(sipRequest({ method: 'ACK', toTag: tag, cseq: 1, branch: 'z9hG4bK-a', body: TEST_SDP }));
  t.transport.inject(sipRequest({ method: 'INVITE', toTag: tag, cseq: 4, branch: 'z9hG4bK-later', body: TEST_SDP }));
  assert.equal(sentStatuses(t.transport).at(-1), 488, 'after the ACK the re-INVITE reaches the owner (no handler: 488)');
});

test('UPDATE: without SDP 200 at once; with SDP the owner answers', async () => {
  const c = await confirmedCall();
  c.send({ method: 'UPDATE' });
  assert.equal(sentStatuses(c.transport).at(-1), 200);
  c.call.onReinvite = (offer, reply) => reply(200, offer === undefined ? undefined : 'v=0\r\no=upd\r\n');
  c.send({ method: 'UPDATE', body: TEST_SDP });
  const res = parseSent(c.transport.sent.at(-1)!.text);
  assert.equal(res.status, 200);
  assert.equal(res.bodyText, 'v=0\r\no=upd\r\n');
  assert.ok(res.getHeader('contact'));
});

test('UPDATE in the early dialog while the INVITE offer is unanswered: 500 + Retry-After', async () => {
  const t = await startTestUa();
  t.transport.inject(sipRequest({ method: 'INVITE', body: TEST_SDP }));
  t.calls[0].progress(180);
  const tag = parseSent(t.transport.sentStarting('SIP/2.0 180')[0].text).to.params.get('tag')!;
  t.transport.inject(sipRequest({ method: 'UPDATE', toTag: tag, cseq: 2, branch: 'z9hG4bK-u', body: TEST_SDP }));
  assert.equal(sentStatuses(t.transport).at(-1), 500);
  t.transport.inject(sipRequest({ method: 'INVITE', toTag: tag, cseq: 3, branch: 'z9hG4bK-ri', body: TEST_SDP }));
  assert.equal(sentStatuses(t.transport).at(-1), 500, 'a re-INVITE before the first INVITE is answered: 500');
});

test('INFO: 200 then onInfo(contentType, body)', async () => {
  const c = await confirmedCall();
  const infos: string[] = [];
  c.call.onInfo = (type, body) => infos.push(`${type}|${body}`);
  c.send({ method: 'INFO', body: 'Signal=5\r\nDuration=160\r\n', contentType: 'application/dtmf-relay' });
  assert.equal(sentStatuses(c.transport).at(-1), 200);
  assert.deepEqual(infos, ['application/dtmf-relay|Signal=5\r\nDuration=160\r\n']);
});

test('in-dialog OPTIONS: 200 with Allow; a lower CSeq: 500; unknown dialog or wrong From tag: 481', async () => {
  const c = await confirmedCall();
  c.send({ method: 'OPTIONS', branch: 'z9hG4bK-keepalive' });
  assert.match(c.transport.sent.at(-1)!.text, /^SIP\/2\.0 200[^]*Allow: INVITE/);
  // Our 200 was lost: the retransmission (same branch and CSeq) is answered 200 again by its transaction, not 500.
  c.transport.inject(sipRequest({ method: 'OPTIONS', toTag: c.tag, branch: 'z9hG4bK-keepalive', cseq: 2 }));
  assert.deepEqual(sentStatuses(c.transport).slice(-2), [200, 200]);
  c.transport.inject(sipRequest({ method: 'INFO', toTag: c.tag, cseq: 1, branch: 'z9hG4bK-old' }));
  assert.equal(sentStatuses(c.transport).at(-1), 500);
  c.transport.inject(sipRequest({ method: 'BYE', toTag: 'not-ours', cseq: 50, branch: 'z9hG4bK-x' }));
  assert.equal(sentStatuses(c.transport).at(-1), 481);
  c.transport.inject(sipRequest({ method: 'BYE', toTag: c.tag, fromTag: 'someone-else', cseq: 51, branch: 'z9hG4bK-y' }));
  assert.equal(sentStatuses(c.transport).at(-1), 481);
  c.transport.inject(sipRequest({ method: 'BYE', cseq: 52, branch: 'z9hG4bK-z' }));
  assert.equal(sentStatuses(c.transport).at(-1), 481, 'BYE without To tag');
  const dropped = c.ua.stats.dropped;
  c.transport.inject(sipRequest({ method: 'ACK', toTag: 'not-ours', cseq: 1, branch: 'z9hG4bK-stray' }));
  assert.equal(c.ua.stats.dropped, dropped + 1, 'a stray ACK is dropped silently');
  assert.equal(c.call.state, 'confirmed');
});

test('CANCEL of a pending re-INVITE: 200 to CANCEL and 487 to the re-INVITE; the call goes on', async () => {
  const c = await confirmedCall();
  c.call.onReinvite = () => {};
  c.send({ method: 'INVITE', body: TEST_SDP, branch: 'z9hG4bK-re' });
  c.transport.inject(sipRequest({ method: 'CANCEL', toTag: c.tag, cseq: 2, branch: 'z9hG4bK-re' }));
  assert.deepEqual(sentStatuses(c.transport).slice(-3), [100, 200, 487]);
  assert.equal(c.call.state, 'confirmed');
});
