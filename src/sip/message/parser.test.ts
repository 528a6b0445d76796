import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, type ParseFailure, type ParseResult } from './parser.ts';
import { headerKey } from './grammar.ts';
import type { SipMessage } from './message.ts';

const CRLF = '\r\n';

function msg(lines: string[], body = ''): Buffer {
  return Buffer.from(lines.join(CRLF) + CRLF + CRLF + body, 'utf8');
}

function ok(r: ParseResult): SipMessage {
  if (!r.ok) assert.fail(`expected a valid message, got ${r.error.status} ${r.error.message}`);
  return r.value;
}

function failed(r: ParseResult): ParseFailure {
  if (r.ok) assert.fail('expected a parse failure');
  return r.error;
}

const BASE = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com>',
];

test('request line, mandatory headers and typed fields', () => {
  const m = ok(parseMessage(msg([...BASE, 'Content-Length: 0'])));
  assert.equal(m.isRequest, true);
  assert.equal(m.method, 'INVITE');
  assert.equal(m.requestUri?.user, 'bob');
  assert.equal(m.callId, 'a84b4c76e66710@pc33.atlanta.example.com');
  assert.deepEqual(m.cseq, { seq: 314159, method: 'INVITE' });
  assert.equal(m.from.displayName, 'Alice');
  assert.equal(m.from.params.get('tag'), '1928301774');
  assert.equal(m.to.uri.host, 'biloxi.example.com');
  assert.equal(m.via[0].params.get('branch'), 'z9hG4bK776asdhds');
  assert.equal(m.body.length, 0);
});

test('header names are case-insensitive and compact forms map to full names', () => {
  const m = ok(parseMessage(msg([
    'OPTIONS sip:bob@example.com SIP/2.0', 'v: SIP/2.0/UDP h;branch=z9hG4bK1', 'f: <sip:a@example.com>;tag=1',
    't: sip:bob@example.com', 'i: cid', 'CSEQ: 2 OPTIONS', 'm: <sip:a@h>', 'k: path', 's: hello', 'X-Custom-ID: 42',
    'x-custom-id: 43', 'l: 0',
  ])));
  assert.equal(m.getHeader('Call-ID'), 'cid');
  assert.equal(m.getHeader('i'), 'cid');
  assert.equal(m.getHeader('CONTACT'), '<sip:a@h>');
  assert.equal(m.getHeader('supported'), 'path');
  assert.equal(m.getHeader('Subject'), 'hello');
  assert.deepEqual(m.getHeaders('X-CUSTOM-ID'), ['42', '43']);
  assert.deepEqual(m.headerEntries().filter(([n]) => /^x-/i.test(n)), [['X-Custom-ID', '42'], ['x-custom-id', '43']]);
  assert.equal(m.hasHeader('route'), false);
});

test('header folding: continuation lines join with one space, even inside structured values', () => {
  const m = ok(parseMessage(msg([
    'OPTIONS sip:bob@example.com SIP/2.0', 'Via: SIP/2.0/UDP', '   h.example.com;branch=z9hG4bK1', 'From: <sip:a@example.com>',
    '  ;tag=9', 'To: <sip:b@example.com>', 'Call-ID: c', 'CSeq: 0009', '\tOPTIONS', 'Subject: first line', ' second line', 'Content-Length: 0',
  ])));
  assert.equal(m.via[0].host, 'h.example.com');
  assert.equal(m.from.params.get('tag'), '9');
  assert.deepEqual(m.cseq, { seq: 9, method: 'OPTIONS' });
  assert.equal(m.getHeader('subject'), 'first line second line');
});

test('multi-valued headers: comma lists and repeated lines, in order', () => {
  const m = ok(parseMessage(msg([
    ...BASE.slice(0, 2).map((l) => l), 'Via: SIP/2.0/TCP p1.example.com;branch=z9hG4bKa, SIP/2.0/UDP p2.example.com;branch=z9hG4bKb',
    ...BASE.slice(2), 'Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>', 'Record-Route: <sip:p3.example.com;lr>',
    'Allow: INVITE, ACK,BYE', 'Content-Length: 0',
  ])));
  assert.deepEqual(m.via.map((v) => v.host), ['pc33.atlanta.example.com', 'p1.example.com', 'p2.example.com']);
  assert.deepEqual(m.viaValues.slice(1), ['SIP/2.0/TCP p1.example.com;branch=z9hG4bKa', 'SIP/2.0/UDP p2.example.com;branch=z9hG4bKb']);
  assert.deepEqual(m.getList('record-route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>', '<sip:p3.example.com;lr>']);
  assert.deepEqual(m.getList('allow'), ['INVITE', 'ACK', 'BYE']);
  assert.deepEqual(m.getList('to'), ['Bob <sip:bob@biloxi.example.com>'], 'To is never split');
});

test('UDP bodies: Content-Length bounds the body, extra bytes are ignored, a short body is a 400', () => {
  const body = 'v=0\r\n';
  const exact = ok(parseMessage(msg([...BASE, 'Content-Type: application/sdp', `Content-Length: ${body.length}`], body)));
  assert.equal(exact.bodyText, body);
  assert.equal(exact.contentType, 'application/sdp');
  const longer = ok(parseMessage(msg([...BASE, 'Content-Length: 3'], 'abcdefgh')));
  assert.equal(longer.bodyText, 'abc');
  const shorter = failed(parseMessage(msg([...BASE, 'Content-Length: 50'], 'abc')));
  assert.equal(shorter.status, 400);
  const absent = ok(parseMessage(msg(BASE, 'rest of datagram')));
  assert.equal(absent.bodyText, 'rest of datagram', 'UDP without Content-Length: the body runs to the end');
  const streamAbsent = ok(parseMessage(msg(BASE, ''), { stream: true }));
  assert.equal(streamAbsent.body.length, 0);
});

test('binary bodies survive byte for byte', () => {
  const bin = Buffer.from([0, 1, 2, 0x0d, 0x0a, 0x0d, 0x0a, 0xff, 0x80]);
  const head = Buffer.from([...BASE, 'Content-Type: application/octet-stream', `Content-Length: ${bin.length}`].join(CRLF) + CRLF + CRLF);
  const m = ok(parseMessage(Buffer.concat([head, bin])));
  assert.deepEqual(m.body, bin);
});

test('bad Content-Length values and conflicting duplicates are 400', () => {
  for (const cl of ['-1', 'five', '1 2', '']) {
    assert.equal(failed(parseMessage(msg([...BASE, `Content-Length: ${cl}`]))).status, 400, cl);
  }
  assert.equal(failed(parseMessage(msg([...BASE, 'Content-Length: 0', 'l: 4'], 'abcd'))).status, 400);
});

test('missing mandatory headers are 400 and keep what was readable for the response', () => {
  for (const drop of ['Call-ID', 'CSeq', 'From', 'To', 'Via']) {
    const r = parseMessage(msg(BASE.filter((l) => !l.startsWith(`${drop}:`))));
    const f = failed(r);
    assert.equal(f.status, 400, drop);
    assert.match(f.message, new RegExp(drop, 'i'));
  }
  const r = parseMessage(msg(BASE.filter((l) => !l.startsWith('Call-ID:'))));
  assert.ok(!r.ok && r.error.headers.some((h) => h.name === 'Via'));
});

test('start line strictness: extra spaces, wrong version (505), CSeq method mismatch', () => {
  assert.equal(failed(parseMessage(msg(['INVITE  sip:bob@example.com SIP/2.0', ...BASE.slice(1)]))).status, 400);
  assert.equal(failed(parseMessage(msg(['INVITE sip:bob@example.com SIP/2.0 ', ...BASE.slice(1)]))).status, 400);
  assert.equal(failed(parseMessage(msg(['INVITE sip:bob@example.com SIP/3.0', ...BASE.slice(1)]))).status, 505);
  assert.equal(failed(parseMessage(msg(['BYE sip:bob@example.com SIP/2.0', ...BASE.slice(1)]))).status, 400);
  assert.equal(failed(parseMessage(Buffer.from('\u0000\u0001garbage\r\n\r\n'))).status, 0);
});

test('responses: status line, empty reason, leading CRLFs ignored; bad responses are dropped (status 0)', () => {
  const lines = ['SIP/2.0 180 ', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@h>;tag=1', 'To: <sip:b@h>;tag=2', 'Call-ID: c', 'CSeq: 1 INVITE', 'Content-Length: 0'];
  const m = ok(parseMessage(Buffer.concat([Buffer.from('\r\n\r\n'), msg(lines)])));
  assert.equal(m.isRequest, false);
  assert.equal(m.status, 180);
  assert.equal(m.reason, '');
  assert.equal(m.method, 'INVITE');
  assert.equal(failed(parseMessage(msg(['SIP/2.0 99999 Big', ...lines.slice(1)]))).status, 0);
  assert.equal(failed(parseMessage(msg(lines.filter((l) => !l.startsWith('Call-ID'))))).status, 0);
});

test('size bounds: over maxBytes is refused; too many header lines is refused; nothing throws', () => {
  const big = msg([...BASE, 'Content-Length: 0', `X-Pad: ${'a'.repeat(2000)}`]);
  assert.equal(failed(parseMessage(big, { maxBytes: 1000 })).status, 0);
  const many = msg([...BASE, ...Array.from({ length: 600 }, (_, i) => `X-H${i}: v`), 'Content-Length: 0']);
  assert.equal(failed(parseMessage(many)).status, 400);
  for (let i = 0; i < 2000; i++) {
    const junk = Buffer.from(Array.from({ length: (i % 300) + 1 }, (_, j) => (i * 31 + j * 7) % 256));
    parseMessage(junk); // must not throw
    parseMessage(Buffer.concat([msg(BASE).subarray(0, i % 400), junk]));
  }
});

test('headers named like Object.prototype members stay plain headers', () => {
  const m = ok(parseMessage(msg([...BASE, 'Constructor: x', '__proto__: y', 'toString: z', 'Content-Length: 0'])));
  assert.equal(m.getHeader('constructor'), 'x');
  assert.equal(m.getHeader('__proto__'), 'y');
  assert.equal(m.getHeader('tostring'), 'z');
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) assert.equal(headerKey(name), name.toLowerCase());
});
