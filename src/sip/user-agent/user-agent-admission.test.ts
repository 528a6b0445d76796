import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addLogSink, type LogLevel } from '../../lib/logger.ts';
import type { Peer } from '../transport/peer.ts';
import type { AdmissionLimits } from './admission.ts';
import { parseSent, sentStatuses, sipRequest, startTestUa, TEST_SDP, type TestUa } from '../../../test/helpers/sip/test-kit.ts';

const WIDE: AdmissionLimits = { maxSessions: 1000, sessionsPerSecond: 1000, invitesPerSourcePerSecond: 1000, maxPendingPerSource: 1000 };

function from(address: string, port = 5062): Peer {
  return { transport: 'udp', address, port };
}

let seq = 0;
/** A new INVITE (own Call-ID and branch) from `source`. */
function invite(t: TestUa, source: Peer, callId = `c${++seq}`): string {
  const text = sipRequest({
    method: 'INVITE', body: TEST_SDP, callId, branch: `z9hG4bK-${callId}`,
    via: `SIP/2.0/UDP ${source.address}:${source.port};branch=z9hG4bK-${callId};rport`,
  });
  t.transport.inject(text, source);
  return text;
}

/** The last response sent, parsed. */
function last(t: TestUa) {
  return parseSent(t.transport.sent.at(-1)!.text);
}

function assertRefused(t: TestUa, reason: string, retryAfter: string, key: string): void {
  const res = last(t);
  assert.equal(res.status, 503);
  assert.equal(res.reason, reason);
  assert.equal(res.getHeader('retry-after'), retryAfter);
  assert.match(res.getHeader('warning') ?? '', new RegExp(`^399 127\\.0\\.0\\.1:5060 "sip\\.${key} reached"$`));
  assert.ok(res.to.params.get('tag'), 'a To tag on the 503');
}

function startUa(limits: Partial<AdmissionLimits>) {
  return startTestUa({ admission: { ...WIDE, ...limits } });
}

test('max sessions: the INVITE over it gets 503 Maximum Calls In Progress + Retry-After 300, no call and no transaction', async () => {
  const t = await startUa({ maxSessions: 2 });
  invite(t, from('192.0.2.1'));
  invite(t, from('192.0.2.2'));
  const txBefore = t.ua.stats.transactions;
  const refused = invite(t, from('192.0.2.3'));
  assert.equal(t.calls.length, 2, 'onInvite was not called: no channel, no RTP port');
  assertRefused(t, 'Maximum Calls In Progress', '300', 'maxSessions');
  assert.equal(t.ua.stats.transactions, txBefore, 'stateless: nothing left behind');
  assert.equal(t.transport.sent.at(-1)!.dest.address, '192.0.2.3');
  const tag = last(t).to.params.get('tag');
  t.transport.inject(refused, from('192.0.2.3'));
  assert.equal(last(t).to.params.get('tag'), tag, 'a retransmission gets the same To tag (RFC 3261 §8.2.7)');
  t.clock.advance(60_000);
  assert.equal(t.transport.sentStarting('SIP/2.0 503').length, 2, 'no retransmission of a stateless 503');
  t.calls[0].reject(486);
  invite(t, from('192.0.2.3'));
  assert.equal(t.calls.length, 3, 'a call over frees a session');
  assert.deepEqual(t.ua.refusedBy, { maxSessions: 2, sessionsPerSecond: 0, invitesPerSourcePerSecond: 0, maxPendingPerSource: 0 });
  assert.equal(t.ua.stats.refused, 2);
});

test('sessions per second: 503 Maximum Calls In Progress + Retry-After 1; a second later calls are admitted again', async () => {
  const t = await startUa({ sessionsPerSecond: 3 });
  for (let i = 0; i < 3; i++) invite(t, from(`192.0.2.${i + 1}`));
  invite(t, from('192.0.2.9'));
  assert.equal(t.calls.length, 3);
  assertRefused(t, 'Maximum Calls In Progress', '1', 'sessionsPerSecond');
  t.clock.advance(1000);
  for (let i = 0; i < 3; i++) invite(t, from('192.0.2.9'));
  assert.equal(t.calls.length, 6);
  assert.equal(t.ua.refusedBy.sessionsPerSecond, 1);
});

test('per-source rate: a flooding source is refused first, so another source still gets the global rate', async () => {
  const t = await startUa({ sessionsPerSecond: 10, invitesPerSourcePerSecond: 2 });
  for (let i = 0; i < 50; i++) invite(t, from('203.0.113.66'));
  assertRefused(t, 'Source Call Rate Exceeded', '1', 'invitesPerSourcePerSecond');
  for (let i = 0; i < 8; i++) invite(t, from(`198.51.100.${i + 1}`));
  assert.equal(t.calls.length, 10, '2 from the flooder, 8 from the others');
  assert.deepEqual(sentStatuses(t.transport).filter((s) => s === 503).length, 48);
});

test('pending per source: unconfirmed calls (ringing, or 2xx not ACKed) count until the ACK or the end', async () => {
  const t = await startUa({ maxPendingPerSource: 2 });
  const src = from('192.0.2.50');
  invite(t, src);
  invite(t, src);
  t.calls[0].progress(180);
  t.calls[1].answer('v=0\r\n');
  invite(t, src);
  assert.equal(t.calls.length, 2);
  assertRefused(t, 'Too Many Pending Calls From Source', '32', 'maxPendingPerSource');
  invite(t, from('192.0.2.51'));
  assert.equal(t.calls.length, 3, 'another source is not affected');
  const ok = parseSent(t.transport.sentStarting('SIP/2.0 200')[0].text);
  t.transport.inject(sipRequest({ method: 'ACK', callId: ok.callId, toTag: ok.to.params.get('tag')!, branch: 'z9hG4bK-ack',
    via: `SIP/2.0/UDP 192.0.2.50:5062;branch=z9hG4bK-ack;rport` }), src);
  invite(t, src);
  assert.equal(t.calls.length, 4, 'the ACK confirmed a call: room for one more');
  invite(t, src);
  assert.equal(t.calls.length, 4);
  t.calls[0].reject(486);
  invite(t, src);
  assert.equal(t.calls.length, 5, 'a call ended before answer frees its place');
});

test('never-ACKed calls hold a source\'s place until the 2xx gives up (64*T1), then free it', async () => {
  const t = await startUa({ maxPendingPerSource: 1 });
  t.ua.onInvite = (call) => { t.calls.push(call); call.answer('v=0\r\n'); };
  const src = from('192.0.2.60');
  invite(t, src);
  invite(t, src);
  assert.equal(t.calls.length, 1);
  t.clock.advance(32_000);
  assert.equal(t.transport.sentStarting('BYE').length, 1, 'BYE after the ACK timeout');
  invite(t, src);
  assert.equal(t.calls.length, 2);
});

test('re-INVITE, BYE, CANCEL and OPTIONS are never refused by admission', async () => {
  const t = await startUa({ maxSessions: 1, sessionsPerSecond: 1, invitesPerSourcePerSecond: 1, maxPendingPerSource: 1 });
  const src = from('192.0.2.1');
  invite(t, src, 'answered');
  t.calls[0].answer('v=0\r\n');
  const ok = parseSent(t.transport.sentStarting('SIP/2.0 200')[0].text);
  const tag = ok.to.params.get('tag')!;
  const inDialog = (method: string, cseq: number, body?: string) => t.transport.inject(sipRequest({
    method, callId: 'answered', toTag: tag, cseq, branch: `z9hG4bK-${method}-${cseq}`, body,
    via: `SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK-${method}-${cseq};rport` }), src);
  inDialog('ACK', 1);
  t.transport.inject(sipRequest({ method: 'OPTIONS', callId: 'o1', branch: 'z9hG4bK-o1' }), src);
  assert.equal(last(t).status, 200, 'OPTIONS');
  let reinvites = 0;
  t.calls[0].onReinvite = (_offer, reply) => { reinvites++; reply(200, 'v=0\r\n'); };
  inDialog('INVITE', 2, TEST_SDP);
  assert.equal(reinvites, 1, 're-INVITE reached the call');
  assert.equal(last(t).status, 200);
  inDialog('ACK', 2);
  invite(t, src, 'pending');
  assert.equal(last(t).status, 503, 'a new call is refused meanwhile');
  inDialog('BYE', 3);
  assert.equal(last(t).status, 200, 'BYE');
  t.clock.advance(2000);
  invite(t, src, 'ringing');
  assert.equal(t.calls.length, 2);
  t.transport.inject(sipRequest({ method: 'CANCEL', callId: 'ringing', branch: 'z9hG4bK-ringing', cseqMethod: 'CANCEL',
    via: 'SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK-ringing;rport' }), src);
  assert.deepEqual(sentStatuses(t.transport).slice(-2), [200, 487], 'CANCEL answered, INVITE 487');
  assert.equal(t.ua.stats.refused, 1);
});

test('refusals are logged once per burst: a warning, one summary per 10 s while it lasts, a notice when it ends', async () => {
  const t = await startUa({ invitesPerSourcePerSecond: 1 });
  const lines: Array<[LogLevel, string]> = [];
  const remove = addLogSink((level, scope, message) => { if (scope === 'sip') lines.push([level, message]); });
  try {
    for (let second = 0; second < 25; second++) {
      for (let i = 0; i < 100; i++) invite(t, from('203.0.113.7'));
      t.clock.advance(1000);
    }
    t.clock.advance(20_000);
  } finally {
    remove();
  }
  assert.equal(t.ua.refusedBy.invitesPerSourcePerSecond, 25 * 99);
  const texts = lines.map(([level, m]) => `${level}: ${m}`);
  assert.equal(lines.length, 5, texts.join('\n'));
  assert.match(texts[0], /^warning: refusing new calls: 503 Source Call Rate Exceeded \(sip\.invitesPerSourcePerSecond reached\) to udp 203\.0\.113\.7:5062; more are counted and summed up every 10 s$/);
  assert.equal(texts[1], 'warning: refused 989 new calls in the last 10 s: 989 over sip.invitesPerSourcePerSecond');
  assert.equal(texts[2], 'warning: refused 990 new calls in the last 10 s: 990 over sip.invitesPerSourcePerSecond');
  assert.equal(texts[3], 'warning: refused 495 new calls in the last 10 s: 495 over sip.invitesPerSourcePerSecond');
  assert.equal(texts[4], 'notice: no new calls refused for 10 s (2475 refused in that burst)');
});
