// classifyError gives each failure of ws, net and tls the code the real module reports for the
// same fault (docs/errors.md, the fault matrix); the faults themselves run for real in
// test/integration/failures.test.ts and tls.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyError, streamError, streamErrorNumber, STREAM_ERROR_NUMBERS } from './errors.ts';

function err(message: string, code?: string): Error {
  return Object.assign(new Error(message), code ? { code } : {});
}

function number(e: Error, phase: 'connecting' | 'tls' | 'open'): number {
  return streamErrorNumber(classifyError(e, phase).code);
}

test('the numbers are libwsc 1.1\'s, without the two the module never reports (3, 8)', () => {
  assert.deepEqual(Object.values(STREAM_ERROR_NUMBERS).sort((a, b) => a - b), [1, 2, 4, 5, 6, 7, 9, 10, 11]);
  assert.equal(STREAM_ERROR_NUMBERS.STREAM_TIMEOUT, 10);
  assert.equal(STREAM_ERROR_NUMBERS.STREAM_PROTOCOL, 11);
});

test('a socket failure is 6 before the upgrade and 1 after it, whatever the errno', () => {
  for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ECONNRESET', 'EPIPE', 'ESOMETHINGELSE']) {
    assert.equal(number(err(`x ${code}`, code), 'connecting'), 6, code);
    assert.equal(number(err(`x ${code}`, code), 'open'), 1, code);
  }
  assert.equal(number(err('no code at all'), 'connecting'), 6);
  assert.equal(number(err('no code at all'), 'open'), 1);
  assert.equal(classifyError(err('read ECONNRESET', 'ECONNRESET'), 'open').message, 'the connection broke after the upgrade (read ECONNRESET)');
});

test('an answer that is not HTTP, and a hang-up before the answer, are 6 naming the cause', () => {
  const notHttp = classifyError(err('Parse Error: Expected HTTP/, RTSP/ or ICE/', 'HPE_INVALID_CONSTANT'), 'connecting');
  assert.equal(notHttp.code, 'STREAM_CONNECT_FAILED');
  assert.equal(notHttp.message, 'WebSocket upgrade failed: the answer is not HTTP (Parse Error: Expected HTTP/, RTSP/ or ICE/, HPE_INVALID_CONSTANT)');
  const hangUp = classifyError(err('socket hang up', 'ECONNRESET'), 'connecting');
  assert.equal(hangUp.message, 'the server closed the connection before answering the upgrade (socket hang up, ECONNRESET)');
  assert.equal(classifyError(err('Unexpected server response: 403'), 'connecting').code, 'STREAM_CONNECT_FAILED');
});

test("the 101 checks ws makes and the module does not are 2", () => {
  for (const m of ['Invalid Upgrade header', 'Invalid Sec-WebSocket-Accept header', 'Server sent a subprotocol but none was requested',
    'Server indicated an extension that was not requested']) {
    const e = classifyError(err(m), 'connecting');
    assert.equal(e.code, 'STREAM_INVALID_HEADER', m);
    assert.equal(e.message, `invalid WebSocket upgrade answer: ${m}`);
  }
});

test('protocol violations are 11 with the close code libwsc answers; a message over the bound is 4', () => {
  const masked = classifyError(err('Invalid WebSocket frame: MASK must be clear', 'WS_ERR_UNEXPECTED_MASK'), 'open');
  assert.equal(masked.code, 'STREAM_PROTOCOL');
  assert.equal(masked.message, 'WebSocket protocol error (1002): the server sent a masked frame (MASK must be clear, WS_ERR_UNEXPECTED_MASK)');
  const utf8 = classifyError(err('Invalid WebSocket frame: invalid UTF-8 sequence', 'WS_ERR_INVALID_UTF8'), 'open');
  assert.match(utf8.message, /^WebSocket protocol error \(1007\): /);
  assert.equal(number(err('Invalid WebSocket frame: invalid opcode 7', 'WS_ERR_INVALID_OPCODE'), 'open'), 11);
  assert.equal(number(err('Invalid WebSocket frame: something new', 'WS_ERR_SOMETHING_NEW'), 'open'), 11);
  const big = classifyError(err('Max payload size exceeded', 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'), 'open');
  assert.equal(big.code, 'STREAM_NOT_SUPPORTED');
  assert.equal(big.message, 'the server sent a message over the size limit (Max payload size exceeded, WS_ERR_UNSUPPORTED_MESSAGE_LENGTH)');
});

test('TLS: verification and handshake failures are 9, so are TLS failures after the upgrade; TLS setup is 7', () => {
  for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
    const e = classifyError(err('bad certificate', code), 'connecting');
    assert.equal(e.code, 'STREAM_SSL_ERROR', code);
    assert.equal(e.message, `TLS certificate verification failed: bad certificate (${code})`);
  }
  const openssl = 'write EPROTO 80FC6973997F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n';
  assert.equal(classifyError(err(openssl, 'EPROTO'), 'connecting').message, 'TLS handshake failed: wrong version number (EPROTO)');
  const after = classifyError(err('decryption failed or bad record mac', 'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC'), 'open');
  assert.equal(after.code, 'STREAM_SSL_ERROR');
  assert.match(after.message, /^TLS error after the upgrade: /);
  assert.equal(number(err('no start line', 'ERR_OSSL_PEM_NO_START_LINE'), 'connecting'), 7);
  // During the handshake every failure is TLS (9), a certificate code we do not list included;
  // an OpenSSL error once connected is 9 too (7 is only the setup before any connection).
  for (const code of ['CERT_REVOKED', 'CERT_CHAIN_TOO_LONG', 'INVALID_PURPOSE', 'ERR_OSSL_SSL_SOMETHING', 'ECONNRESET']) {
    assert.equal(number(err('handshake went wrong', code), 'tls'), 9, code);
  }
  assert.match(classifyError(err('handshake went wrong', 'CERT_REVOKED'), 'tls').message, /^TLS handshake failed: /);
  assert.equal(number(err('bad record', 'ERR_OSSL_BAD_RECORD'), 'open'), 9);
});

test('a StreamError passes through unchanged', () => {
  const e = streamError('STREAM_TIMEOUT', 'connection timeout after 1 ms');
  assert.equal(classifyError(e, 'open'), e);
});
