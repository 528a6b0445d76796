import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../test/helpers/fake-clock.ts';
import { MemoryTransport } from '../../../test/helpers/sip/memory-transport.ts';
import { parseMessage } from '../message/parser.ts';
import type { SipMessage } from '../message/message.ts';
import { sipRequest, responseTo } from '../../../test/helpers/sip/test-kit.ts';
import { TransactionLayer } from './transaction-layer.ts';
import type { Peer } from '../transport/peer.ts';

const UDP: Peer = { transport: 'udp', address: '192.0.2.10', port: 5062 };
const TCP: Peer = { transport: 'tcp', address: '192.0.2.10', port: 40000, connectionId: 1 };

function setup() {
  const clock = new FakeClock();
  const transport = new MemoryTransport();
  const layer = new TransactionLayer({ clock, transport, timers: { T1: 500, T2: 4000, T4: 5000 }, stats: { retransmissions: 0, absorbed: 0 } });
  return { clock, transport, layer };
}

function req(text: string): SipMessage {
  const r = parseMessage(Buffer.from(text));
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const INVITE = sipRequest({ method: 'INVITE' });

test('INVITE server: Accepted state (RFC 6026) absorbs INVITE retransmissions silently, Timer L ends it', () => {
  const { clock, transport, layer } = setup();
  const tx = layer.createInviteServer(req(INVITE), UDP, {});
  tx.respond(100, Buffer.from('100'));
  tx.respond(200, Buffer.from('200'));
  assert.equal(tx.state, 'accepted');
  assert.equal(layer.findServer(req(INVITE)), tx);
  tx.receive(req(INVITE));
  assert.deepEqual(transport.sent.map((s) => s.text), ['100', '200'], 'no replay from the transaction in Accepted');
  assert.equal(tx.respond(200, Buffer.from('200 again')), true, '2xx retransmissions from the TU pass');
  assert.equal(tx.respond(486, Buffer.from('486')), false);
  clock.advance(32_000);
  assert.equal(tx.state, 'terminated');
  assert.equal(layer.findServer(req(INVITE)), undefined);
});

test('INVITE server: ACK to a non-2xx moves to Confirmed; Timer I is T4 on UDP and 0 on TCP', () => {
  const { clock, layer } = setup();
  const udp = layer.createInviteServer(req(INVITE), UDP, {});
  udp.respond(486, Buffer.from('486'));
  assert.equal(udp.receive(req(sipRequest({ method: 'ACK', toTag: 'x' }))), false);
  assert.equal(udp.state, 'confirmed');
  clock.advance(4999);
  assert.equal(udp.state, 'confirmed');
  clock.advance(1);
  assert.equal(udp.state, 'terminated');
  const tcp = layer.createInviteServer(req(sipRequest({ method: 'INVITE', via: 'SIP/2.0/TCP 192.0.2.10;branch=z9hG4bKt' })), TCP, {});
  tcp.respond(486, Buffer.from('486'));
  tcp.receive(req(sipRequest({ method: 'ACK', via: 'SIP/2.0/TCP 192.0.2.10;branch=z9hG4bKt', toTag: 'x' })));
  clock.advance(0);
  assert.equal(tcp.state, 'terminated');
});

test('INVITE server over TCP: no Timer G retransmissions, Timer H still bounds the wait for ACK', () => {
  const { clock, transport, layer } = setup();
  let timedOut = false;
  const tx = layer.createInviteServer(req(INVITE), TCP, { onAckTimeout: () => { timedOut = true; } });
  tx.respond(603, Buffer.from('603'));
  clock.advance(31_999);
  assert.equal(transport.sent.length, 1);
  clock.advance(1);
  assert.equal(timedOut, true);
  assert.equal(tx.state, 'terminated');
});

test('non-INVITE server: Trying absorbs, Completed replays the final response for Timer J (64*T1 UDP, 0 TCP)', () => {
  const { clock, transport, layer } = setup();
  const bye = req(sipRequest({ method: 'BYE', toTag: 't' }));
  const tx = layer.createNonInviteServer(bye, UDP);
  tx.receive(bye);
  assert.equal(transport.sent.length, 0, 'nothing to replay while Trying');
  tx.respond(200, Buffer.from('200'));
  tx.receive(bye);
  assert.deepEqual(transport.sent.map((s) => s.text), ['200', '200']);
  assert.equal(tx.respond(500, Buffer.from('500')), false);
  clock.advance(31_999);
  assert.equal(tx.state, 'completed');
  clock.advance(1);
  assert.equal(tx.state, 'terminated');
  const tcp = layer.createNonInviteServer(req(sipRequest({ method: 'OPTIONS', via: 'SIP/2.0/TCP h;branch=z9hG4bKo' })), TCP);
  tcp.respond(200, Buffer.from('200'));
  clock.advance(0);
  assert.equal(tcp.state, 'terminated');
});

test('non-INVITE client: Timer E doubles to T2, stays at T2 after a provisional; a final response stops it', () => {
  const { clock, transport, layer } = setup();
  const responses: number[] = [];
  const bye = sipRequest({ method: 'BYE', branch: 'z9hG4bKclient', toTag: 't' });
  const tx = layer.sendRequest(Buffer.from(bye), 'z9hG4bKclient', 'BYE', UDP, { onResponse: (r) => responses.push(r.status) });
  const times: number[] = [];
  for (let t = 0; t < 12_000; t += 100) {
    const n = transport.sent.length;
    clock.advance(100);
    if (transport.sent.length > n) times.push(clock.now());
  }
  assert.deepEqual(times, [500, 1500, 3500, 7500, 11500]);
  const prov = req(responseTo(bye, 100).replace('100 Whatever', '100 Trying'));
  layer.findClient(prov)?.receive(prov);
  assert.equal(tx.state, 'proceeding');
  clock.advance(4000);
  assert.equal(transport.sent.length, 7, 'Proceeding: retransmit every T2');
  const ok = req(responseTo(bye, 200));
  assert.equal(layer.findClient(ok), tx);
  tx.receive(ok);
  tx.receive(ok);
  assert.deepEqual(responses, [100, 200]);
  clock.advance(5000);
  assert.equal(tx.state, 'terminated', 'Timer K = T4 on UDP');
  assert.equal(transport.sent.length, 7);
});

test('non-INVITE client over TCP: no retransmissions; Timer F reports a timeout', () => {
  const { clock, transport, layer } = setup();
  let timeouts = 0;
  layer.sendRequest(Buffer.from('BYE'), 'z9hG4bKc2', 'BYE', TCP, { onTimeout: () => timeouts++ });
  clock.advance(32_000);
  assert.equal(transport.sent.length, 1);
  assert.equal(timeouts, 1);
  assert.equal(layer.clientCount, 0);
});

test('RFC 2543 requests (no magic cookie) match by Call-ID, From tag, CSeq and sent-by', () => {
  const { layer } = setup();
  const old = sipRequest({ method: 'INVITE', via: 'SIP/2.0/UDP 192.0.2.10:5062' });
  const tx = layer.createInviteServer(req(old), UDP, {});
  assert.equal(layer.findServer(req(old)), tx);
  assert.equal(layer.findServer(req(sipRequest({ method: 'ACK', via: 'SIP/2.0/UDP 192.0.2.10:5062', toTag: 'x' }))), tx);
  assert.equal(layer.findServer(req(sipRequest({ method: 'INVITE', via: 'SIP/2.0/UDP 192.0.2.10:5062', cseq: 2 }))), undefined);
});
