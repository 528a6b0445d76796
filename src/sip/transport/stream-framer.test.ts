import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SipStreamFramer } from './stream-framer.ts';
import { parseMessage } from '../message/parser.ts';
import { sipRequest, TEST_SDP } from '../../../test/helpers/sip/test-kit.ts';

const A = Buffer.from(sipRequest({ method: 'INVITE', body: TEST_SDP, via: 'SIP/2.0/TCP 192.0.2.10:5062;branch=z9hG4bKa' }));
const B = Buffer.from(sipRequest({ method: 'OPTIONS', cseq: 2, via: 'SIP/2.0/TCP 192.0.2.10:5062;branch=z9hG4bKb' }));
const C = Buffer.from(sipRequest({ method: 'INFO', cseq: 3, body: 'Signal=5\r\nDuration=160\r\n', contentType: 'application/dtmf-relay' }));

test('messages split at every possible byte boundary come out whole', () => {
  const stream = Buffer.concat([A, B, C]);
  for (let cut = 1; cut < stream.length; cut += 7) {
    const f = new SipStreamFramer(65536);
    const out = [...f.push(stream.subarray(0, cut)).messages, ...f.push(stream.subarray(cut)).messages];
    assert.deepEqual(out, [A, B, C], `cut at ${cut}`);
    assert.equal(f.buffered, 0);
  }
});

test('byte-by-byte feeding', () => {
  const f = new SipStreamFramer(65536);
  const out: Buffer[] = [];
  for (const byte of Buffer.concat([A, C])) out.push(...f.push(Buffer.from([byte])).messages);
  assert.deepEqual(out, [A, C]);
});

test('several messages in one chunk, with CRLF keepalives between them', () => {
  const f = new SipStreamFramer(65536);
  const r = f.push(Buffer.concat([Buffer.from('\r\n\r\n'), A, Buffer.from('\r\n\r\n'), B, C, Buffer.from('\r\n')]));
  assert.deepEqual(r.messages, [A, B, C]);
  assert.equal(r.pings, 2);
  assert.equal(r.error, undefined);
  const parsed = r.messages.map((m) => parseMessage(m, { stream: true }));
  assert.ok(parsed.every((p) => p.ok));
  assert.equal(parsed[0].ok && parsed[0].value.bodyText, TEST_SDP);
});

test('a partial message waits; its body completes later', () => {
  const f = new SipStreamFramer(65536);
  const headEnd = A.indexOf('\r\n\r\n') + 4;
  assert.deepEqual(f.push(A.subarray(0, headEnd + 10)).messages, []);
  assert.deepEqual(f.push(A.subarray(headEnd + 10)).messages, [A]);
});

test('missing Content-Length on a stream means an empty body', () => {
  const text = B.toString().replace(/Content-Length: 0\r\n/, '');
  const f = new SipStreamFramer(65536);
  assert.deepEqual(f.push(Buffer.from(text + 'OPTIONS')).messages.map(String), [text]);
});

test('oversize header block, oversize Content-Length, and bad Content-Length are fatal for the stream', () => {
  const big = new SipStreamFramer(1024);
  assert.match(big.push(Buffer.alloc(2000, 0x41)).error ?? '', /exceeds/);
  assert.match(big.push(A).error ?? '', /exceeds/, 'stays failed');
  const bigBody = new SipStreamFramer(1024);
  assert.match(bigBody.push(Buffer.from(A.toString().replace(/Content-Length: \d+/, 'Content-Length: 5000'))).error ?? '', /exceeds/);
  const neg = new SipStreamFramer(65536);
  assert.match(neg.push(Buffer.from(A.toString().replace(/Content-Length: \d+/, 'Content-Length: -999'))).error ?? '', /Content-Length/);
  const conflict = new SipStreamFramer(65536);
  assert.match(conflict.push(Buffer.from(B.toString().replace('Content-Length: 0', 'Content-Length: 0\r\nl: 5'))).error ?? '', /Content-Length/);
});

test('phase: idle between messages (and on a keepalive\'s first bytes), header, then body', () => {
  const f = new SipStreamFramer(65536);
  assert.equal(f.phase, 'idle');
  f.push(Buffer.from('\r\n'));
  assert.equal(f.phase, 'idle', 'a lone CRLF waits to be a ping or a pong');
  const headEnd = A.indexOf('\r\n\r\n') + 4;
  f.push(A.subarray(0, 5));
  assert.equal(f.phase, 'header');
  f.push(A.subarray(5, headEnd + 3));
  assert.equal(f.phase, 'body');
  const r = f.push(Buffer.concat([A.subarray(headEnd + 3), B.subarray(0, 1)]));
  assert.deepEqual(r.messages, [A]);
  assert.equal(f.phase, 'header', 'the next message has begun');
  f.push(B.subarray(1));
  assert.equal(f.phase, 'idle');
  assert.equal(f.buffered, 0);
});

test('a large message fed one byte at a time grows the storage in place and comes out whole, twice', () => {
  const big = Buffer.from(sipRequest({ method: 'INFO', body: 'y'.repeat(60_000), contentType: 'text/plain' }));
  const f = new SipStreamFramer(65536);
  for (let round = 0; round < 2; round++) {
    const out: Buffer[] = [];
    for (let i = 0; i < big.length; i++) out.push(...f.push(big.subarray(i, i + 1)).messages);
    assert.equal(out.length, 1);
    assert.ok(out[0].equals(big));
  }
  assert.equal(f.buffered, 0);
});
