import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAppError } from '../../lib/errors.ts';

const SipSyntaxError = (err: unknown): boolean => isAppError(err, 'SIP_SYNTAX');
import { branchOf, formatVia, parseVia, parseViaList, sentBy } from './via.ts';
import { responseDestination, stampVia } from '../transport/via-routing.ts';

test('parses sent-protocol with LWS around slashes, sent-by and params', () => {
  const [a, b] = parseViaList('SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8  ,  SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239');
  assert.equal(a.protocol, 'SIP/2.0');
  assert.equal(a.transport, 'TCP');
  assert.equal(a.host, 'spindle.example.com');
  assert.equal(branchOf(a), 'z9hG4bK9ikj8');
  assert.equal(b.transport, 'UDP');
  assert.equal(b.host, '192.168.255.111');
  assert.equal(branchOf(b), 'z9hG4bK30239');
});

test('port, IPv6 sent-by, valueless rport, received', () => {
  const v = parseVia('SIP/2.0/udp [2001:db8::1]:5062;rport;branch=z9hG4bKx;received=2001:db8::2');
  assert.equal(v.transport, 'UDP');
  assert.equal(v.host, '[2001:db8::1]');
  assert.equal(v.port, 5062);
  assert.equal(v.params.get('rport'), null);
  assert.equal(v.params.get('received'), '2001:db8::2');
  assert.equal(sentBy(v), '2001:db8::1:5062');
  assert.equal(sentBy(parseVia('SIP/2.0/TLS h.example.com')), 'h.example.com:5061');
});

test('formatVia', () => {
  const v = parseVia('SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport');
  assert.equal(formatVia(v), 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport');
});

test('RFC 3581: received and rport are stamped; responses go to source IP and port', () => {
  const v = parseVia('SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport');
  const src = { transport: 'udp' as const, address: '203.0.113.9', port: 40123 };
  stampVia(v, src);
  assert.equal(v.params.get('received'), '203.0.113.9');
  assert.equal(v.params.get('rport'), '40123');
  assert.deepEqual(responseDestination(v, src), { transport: 'udp', address: '203.0.113.9', port: 40123 });
});

test('RFC 3261 §18.2.2 without rport: received address, sent-by port (default 5060)', () => {
  const v = parseVia('SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1');
  const src = { transport: 'udp' as const, address: '192.0.2.4', port: 33333 };
  stampVia(v, src);
  assert.equal(v.params.get('received'), '192.0.2.4');
  assert.equal(v.params.has('rport'), false);
  assert.deepEqual(responseDestination(v, src), { transport: 'udp', address: '192.0.2.4', port: 5060 });
  const same = parseVia('SIP/2.0/UDP 192.0.2.4:5070;branch=z9hG4bK1');
  stampVia(same, src);
  assert.equal(same.params.has('received'), false, 'no received when sent-by is the source address');
  const tcp = { transport: 'tcp' as const, address: '192.0.2.4', port: 40000, connectionId: 7 };
  assert.deepEqual(responseDestination(same, tcp), tcp, 'TCP responses go back on the connection');
});

test('client-supplied received and bogus rport values cannot redirect responses', () => {
  const src = { transport: 'udp' as const, address: '192.0.2.4', port: 5070 };
  const spoof = parseVia('SIP/2.0/UDP 192.0.2.4:5070;branch=z9hG4bK1;received=203.0.113.66');
  stampVia(spoof, src);
  assert.deepEqual(responseDestination(spoof, src), src);
  const bogus = parseVia('SIP/2.0/UDP 192.0.2.4:5070;branch=z9hG4bK1;rport=abc');
  stampVia(bogus, src);
  assert.equal(bogus.params.get('rport'), '5070');
  const bogus2 = parseVia('SIP/2.0/UDP 192.0.2.4:5071;branch=z9hG4bK1;rport=abc');
  assert.equal(responseDestination(bogus2, src).port, 5071);
});

test('rejects malformed Via values', () => {
  for (const bad of ['SIP/2.0/UDP 192.0.2.15;;', ';', '', 'SIP/2.0 host', 'SIP/2.0/UDP', 'SIP/2.0/UDP host:x', 'SIP/2.0/UDPhost', 'SIP/2.0/UDP host junk']) {
    assert.throws(() => parseVia(bad), SipSyntaxError, bad);
  }
  assert.throws(() => parseViaList('SIP/2.0/UDP a;branch=1,,'), SipSyntaxError);
});
