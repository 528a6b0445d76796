import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../test/helpers/fake-clock.ts';
import { MemoryTransport } from '../../../test/helpers/sip/memory-transport.ts';
import { flush, parseSent, sentStatuses, sipRequest, startTestUa, TEST_SDP } from '../../../test/helpers/sip/test-kit.ts';
import { SipUserAgent } from './user-agent.ts';

const INVITE = sipRequest({ method: 'INVITE', body: TEST_SDP });

/** The ACK a UAC sends for our 2xx: new branch, same CSeq number, our To tag. */
function ackFor(okText: string, body?: string): string {
  const ok = parseSent(okText);
  return sipRequest({ method: 'ACK', branch: 'z9hG4bK-ack-1', toTag: ok.to.params.get('tag')!, cseq: ok.cseq.seq, body });
}

test('INVITE: 100 Trying at once, onInvite once, retransmissions absorbed by replaying the last response', async () => {
  const { transport, calls, ua } = await startTestUa();
  transport.inject(INVITE);
  assert.deepEqual(sentStatuses(transport), [100]);
  assert.equal(calls.length, 1);
  const call = calls[0];
  assert.equal(call.state, 'incoming');
  assert.equal(call.offer, TEST_SDP);
  assert.equal(call.source.address, '192.0.2.10');
  assert.equal(call.invite.getHeader('max-forwards'), '70');
  transport.inject(INVITE);
  assert.deepEqual(sentStatuses(transport), [100, 100]);
  call.progress(180);
  assert.equal(call.state, 'early');
  transport.inject(INVITE);
  assert.deepEqual(sentStatuses(transport), [100, 100, 180, 180]);
  assert.equal(calls.length, 1, 'a retransmission is not a new call');
  assert.equal(ua.stats.absorbed, 2);
  const ringing = parseSent(transport.sentStarting('SIP/2.0 180')[0].text);
  assert.ok(ringing.to.params.get('tag'), '180 carries our To tag');
  assert.match(ringing.getHeader('contact') ?? '', /^<sip:service@127\.0\.0\.1:5060>$/);
  const trying = parseSent(transport.sentStarting('SIP/2.0 100')[0].text);
  assert.equal(trying.to.params.has('tag'), false);
  assert.equal(trying.via[0].params.get('rport'), '5062', 'rport filled with the source port');
  assert.equal(transport.sent[0].dest.port, 5062);
});

test('200 OK is retransmitted (T1 doubling to T2) until the ACK, then stops; onAck fires once', async () => {
  const { transport, calls, clock } = await startTestUa();
  transport.inject(INVITE);
  const call = calls[0];
  let acks = 0;
  call.onAck = (sdp) => {
    acks++;
    assert.equal(sdp, undefined, 'the INVITE had the offer: the ACK carries no answer');
  };
  call.answer('v=0\r\n');
  assert.equal(call.state, 'confirmed');
  const count = (): number => transport.sentStarting('SIP/2.0 200').length;
  assert.equal(count(), 1);
  clock.advance(499);
  assert.equal(count(), 1);
  clock.advance(1); // 500
  assert.equal(count(), 2);
  clock.advance(1000); // 1500
  assert.equal(count(), 3);
  clock.advance(2000); // 3500
  assert.equal(count(), 4);
  clock.advance(4000); // 7500: interval capped at T2 = 4 s
  assert.equal(count(), 5);
  clock.advance(4000); // 11500
  assert.equal(count(), 6);
  const ok = transport.sentStarting('SIP/2.0 200')[0].text;
  assert.match(ok, /\r\nContent-Type: application\/sdp\r\n/);
  assert.match(ok, /\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE\r\n/);
  transport.inject(ackFor(ok));
  clock.advance(60_000);
  assert.equal(count(), 6);
  assert.equal(acks, 1);
  transport.inject(ackFor(ok)); // a retransmitted ACK
  assert.equal(acks, 1);
  assert.equal(transport.sentStarting('BYE').length, 0);
});

test('no ACK within 64*T1: BYE is sent and onTerminated("ack-timeout")', async () => {
  const { transport, calls, clock } = await startTestUa({ timers: { T1: 100, T2: 400 } });
  transport.inject(INVITE);
  const reasons: string[] = [];
  calls[0].onTerminated = (r) => reasons.push(r);
  calls[0].answer('v=0\r\n');
  clock.advance(6399);
  assert.equal(transport.sentStarting('BYE').length, 0);
  clock.advance(1);
  await flush();
  assert.deepEqual(reasons, ['ack-timeout']);
  assert.equal(calls[0].state, 'terminated');
  const byes = transport.sentStarting('BYE');
  assert.equal(byes.length, 1);
  const bye = parseSent(byes[0].text);
  assert.equal(bye.requestUriText, 'sip:alice@192.0.2.10:5062');
  assert.equal(byes[0].dest.port, 5062);
  const okCount = transport.sentStarting('SIP/2.0 200').length;
  clock.advance(10_000);
  assert.equal(transport.sentStarting('SIP/2.0 200').length, okCount, '2xx retransmissions stopped');
});

test('hangup before the ACK arrives: the BYE waits for the ACK (RFC 3261 §15)', async () => {
  const { transport, calls, clock } = await startTestUa();
  transport.inject(INVITE);
  const reasons: string[] = [];
  calls[0].onTerminated = (r) => reasons.push(r);
  calls[0].answer('v=0\r\n');
  calls[0].hangup();
  calls[0].hangup();
  assert.deepEqual(reasons, ['local']);
  await flush();
  assert.equal(transport.sentStarting('BYE').length, 0);
  transport.inject(ackFor(transport.sentStarting('SIP/2.0 200')[0].text));
  await flush();
  assert.equal(transport.sentStarting('BYE').length, 1);
  clock.advance(60_000);
  await flush();
  assert.deepEqual(reasons, ['local']);
});

test('INVITE without an offer: our 200 carries the offer and the ACK the answer', async () => {
  const { transport, calls } = await startTestUa();
  transport.inject(sipRequest({ method: 'INVITE' }));
  const call = calls[0];
  assert.equal(call.offer, undefined);
  let answer: string | undefined;
  call.onAck = (sdp) => {
    answer = sdp;
  };
  call.progress(183, 'v=0\r\n');
  assert.doesNotMatch(transport.sentStarting('SIP/2.0 183')[0].text, /v=0/, 'no offer in an unreliable provisional');
  call.answer('v=0\r\no=offer\r\n');
  transport.inject(ackFor(transport.sentStarting('SIP/2.0 200')[0].text, TEST_SDP));
  assert.equal(answer, TEST_SDP);
});

test('CANCEL before answer: 200 to the CANCEL, 487 to the INVITE (same To tag), onCancel; ACK absorbed', async () => {
  const { transport, calls, clock, ua } = await startTestUa();
  transport.inject(INVITE);
  const call = calls[0];
  const events: string[] = [];
  call.onCancel = () => events.push('cancel');
  call.onTerminated = (r) => events.push(`terminated:${r}`);
  call.progress(180);
  transport.inject(sipRequest({ method: 'CANCEL' }));
  assert.deepEqual(events, ['cancel', 'terminated:cancel']);
  assert.equal(call.state, 'terminated');
  const ok = parseSent(transport.sentStarting('SIP/2.0 200')[0].text);
  assert.equal(ok.cseq.method, 'CANCEL');
  const terminated = parseSent(transport.sentStarting('SIP/2.0 487')[0].text);
  assert.equal(terminated.cseq.method, 'INVITE');
  const ringing = parseSent(transport.sentStarting('SIP/2.0 180')[0].text);
  assert.equal(terminated.to.params.get('tag'), ringing.to.params.get('tag'));
  assert.equal(ok.to.params.get('tag'), ringing.to.params.get('tag'));
  clock.advance(500);
  assert.equal(transport.sentStarting('SIP/2.0 487').length, 2, 'Timer G retransmits the 487');
  const dropped = ua.stats.dropped;
  transport.inject(sipRequest({ method: 'ACK', toTag: terminated.to.params.get('tag')! }));
  clock.advance(40_000);
  assert.equal(transport.sentStarting('SIP/2.0 487').length, 2);
  assert.equal(ua.stats.dropped, dropped, 'the ACK for the 487 was absorbed by the transaction');
  call.answer('v=0\r\n');
  assert.equal(transport.sentStarting('SIP/2.0 200').length, 1, 'answer after cancel is ignored');
  transport.inject(sipRequest({ method: 'CANCEL', branch: 'z9hG4bK-unknown' }));
  assert.equal(sentStatuses(transport).at(-1), 481);
});

test('reject: 486 retransmitted by Timer G until ACK; without ACK Timer H ends it', async () => {
  const { transport, calls, clock, ua } = await startTestUa({ timers: { T1: 100, T2: 400 } });
  transport.inject(INVITE);
  const reasons: string[] = [];
  calls[0].onTerminated = (r) => reasons.push(r);
  calls[0].reject(486);
  assert.deepEqual(reasons, ['local']);
  clock.advance(100 + 200 + 400 + 400);
  assert.equal(transport.sentStarting('SIP/2.0 486').length, 5);
  clock.advance(10_000);
  assert.equal(transport.sentStarting('SIP/2.0 486').length, 5 + 0 + Math.floor((6400 - 1100) / 400), 'retransmits at T2 until Timer H');
  assert.equal(ua.stats.transactions, 0, 'Timer H removed the transaction');
  assert.equal(ua.stats.calls, 0);
  assert.throws(() => calls[0].reject(200), RangeError);
});

test('an INVITE nobody answers ends with 408 and onTerminated("timeout")', async () => {
  const { transport, calls, clock } = await startTestUa({ inviteTimeoutMs: 10_000 });
  transport.inject(INVITE);
  const reasons: string[] = [];
  calls[0].onTerminated = (r) => reasons.push(r);
  clock.advance(10_000);
  assert.deepEqual(reasons, ['timeout']);
  assert.deepEqual(sentStatuses(transport), [100, 408]);
});

test('hangup before answer sends 480; the default onInvite rejects with 480', async () => {
  const t = await startTestUa();
  t.transport.inject(INVITE);
  t.calls[0].hangup();
  assert.deepEqual(sentStatuses(t.transport), [100, 480]);
  const transport = new MemoryTransport();
  const ua = new SipUserAgent({ listen: { host: '127.0.0.1', port: 5060 } }, { clock: new FakeClock(), transport });
  await ua.start();
  transport.inject(INVITE);
  assert.deepEqual(sentStatuses(transport), [100, 480]);
});

test('an owner that throws in onInvite gets a 500, and the UA keeps working', async () => {
  const { transport, ua } = await startTestUa();
  ua.onInvite = () => {
    throw new Error('boom');
  };
  transport.inject(INVITE);
  assert.deepEqual(sentStatuses(transport), [100, 500]);
  transport.inject(sipRequest({ method: 'OPTIONS', branch: 'z9hG4bK-o' }));
  assert.deepEqual(sentStatuses(transport), [100, 500, 200]);
});

test('a merged INVITE (same Call-ID, From tag, CSeq, other branch) gets 482', async () => {
  const { transport, calls } = await startTestUa();
  transport.inject(INVITE);
  transport.inject(sipRequest({ method: 'INVITE', body: TEST_SDP, branch: 'z9hG4bK-other-path' }));
  assert.equal(calls.length, 1);
  assert.deepEqual(sentStatuses(transport), [100, 482]);
});

test('TCP: responses go back on the connection, Contact says transport=tcp, the connection is retained', async () => {
  const { transport, calls } = await startTestUa();
  const source = { transport: 'tcp' as const, address: '192.0.2.10', port: 40001, connectionId: 9 };
  transport.inject(sipRequest({ method: 'INVITE', body: TEST_SDP, via: 'SIP/2.0/TCP 192.0.2.10:5062;branch=z9hG4bK-t' }), source);
  assert.deepEqual(transport.sent[0].dest, source);
  assert.equal(transport.retained.get(9), 1);
  calls[0].answer('v=0\r\n');
  assert.match(transport.sentStarting('SIP/2.0 200')[0].text, /Contact: <sip:service@127\.0\.0\.1:5060;transport=tcp>/);
  transport.inject(sipRequest({ method: 'BYE', via: 'SIP/2.0/TCP 192.0.2.10:5062;branch=z9hG4bK-b', cseq: 2,
    toTag: parseSent(transport.sentStarting('SIP/2.0 200')[0].text).to.params.get('tag')! }), source);
  assert.equal(transport.retained.has(9), false, 'released when the call ended');
});
