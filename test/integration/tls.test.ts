// wss:// streams against real TLS servers on 127.0.0.1, with certificates made by openssl at test
// time: verification against SYSTEM / a CA file / NONE, host name checks, client certificates,
// SNI, and the TLS_INIT_FAILED (7) / SSL_ERROR (9) error codes: every TLS handshake failure is 9, as
// the real module reports it (README, "Where audio-stream differs" items 9 and 10; docs/errors.md).
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findAudioStream, feed, errorOf, streamChannel } from '../helpers/harness.ts';
import { makeTestPki, type TestPki, type CertPair } from '../helpers/tls-certs.ts';
import { startTlsWsServer, type TlsWsServer } from '../helpers/tls-server.ts';
import { startRawProxy, bogusTlsRecord } from '../helpers/raw-proxy.ts';

const OK = '+OK Success\n';
const WAIT_MS = 8000;

let pki: TestPki;
let pkiDir: string;

before(() => {
  pkiDir = mkdtempSync(join(tmpdir(), 'audio-stream-pki-'));
  pki = makeTestPki(pkiDir);
});

after(() => {
  rmSync(pkiDir, { recursive: true, force: true });
});

/** A TLS ws server closed after the test. */
async function server(t: TestContext, identity: CertPair, extra: Record<string, unknown> = {}): Promise<TlsWsServer> {
  const s = await startTlsWsServer({ cert: identity.cert, key: identity.key, ...extra });
  t.after(() => s.close());
  return s;
}

/** Starts a stream to `url` and expects an error event with `code`; the stream is then gone. */
async function expectError(t: TestContext, vars: Record<string, string>, url: string, code: number): Promise<string> {
  const { ev, start, stop } = streamChannel(t, vars);
  assert.equal(start(url), OK);
  const e = errorOf(await ev.waitFor('error', WAIT_MS));
  assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.error}`);
  assert.equal(ev.of('connect').length, 0);
  assert.match(stop(), /^-ERR /);
  return e.error;
}

/** Starts a stream to `url` and expects a connect event; returns the server's connection. */
async function expectConnect(t: TestContext, s: TlsWsServer, vars: Record<string, string>, url: string) {
  const ctx = streamChannel(t, vars);
  assert.equal(ctx.start(url), OK);
  await ctx.ev.waitForFirst(['connect', 'error'], WAIT_MS);
  assert.deepEqual(ctx.ev.of('error').map((e) => e.body), [], 'expected connect, got an error');
  const conn = await s.nextConnection();
  return { ...ctx, conn };
}

test('a private CA is not trusted by default (STREAM_TLS_CA_FILE unset): code 9', async (t) => {
  const s = await server(t, pki.server);
  const text = await expectError(t, {}, `wss://localhost:${s.port}/x`, 9);
  assert.equal(text, 'TLS certificate verification failed: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)');
});

test('a private CA is not trusted under STREAM_TLS_CA_FILE=SYSTEM: code 9', async (t) => {
  const s = await server(t, pki.server);
  await expectError(t, { STREAM_TLS_CA_FILE: 'SYSTEM' }, `wss://localhost:${s.port}/x`, 9);
});

test('STREAM_TLS_CA_FILE=<ca.pem> connects; audio reaches the server; stop closes with 1000 and fires no event', async (t) => {
  const s = await server(t, pki.server);
  const { channel, ev, stop, conn } = await expectConnect(t, s, { STREAM_TLS_CA_FILE: pki.ca.certFile }, `wss://localhost:${s.port}/x`);
  const frames = feed(channel, new Int16Array(160 * 10).fill(1000), null, 160);
  assert.equal(frames, 10);
  await conn.binaries(10);
  assert.equal(conn.binaryMessages, 10);
  assert.equal(stop(), OK);
  const closed = await conn.closed;
  assert.equal(closed.code, 1000);
  assert.equal(closed.reason, 'Normal closure');
  assert.equal(ev.of('disconnect').length, 0, 'our own stop fires no event, as the module');
  assert.equal(ev.of('error').length, 0);
});

test('the IP SAN is verified for wss://127.0.0.1 (and no SNI is sent for an IP address)', async (t) => {
  const s = await server(t, pki.server);
  await expectConnect(t, s, { STREAM_TLS_CA_FILE: pki.ca.certFile }, `wss://127.0.0.1:${s.port}/x`);
  assert.equal(s.servernames.length, 1);
  assert.ok(!s.servernames[0], `servername ${String(s.servernames[0])}`); // RFC 6066 §3: no IP literals in SNI
});

test('SNI: the server sees servername localhost', async (t) => {
  const s = await server(t, pki.server);
  await expectConnect(t, s, { STREAM_TLS_CA_FILE: pki.ca.certFile }, `wss://localhost:${s.port}/x`);
  assert.deepEqual(s.servernames, ['localhost']);
});

test('a certificate for another host name: code 9 to wss://localhost', async (t) => {
  const s = await server(t, pki.wrongHost);
  const text = await expectError(t, { STREAM_TLS_CA_FILE: pki.ca.certFile }, `wss://localhost:${s.port}/x`, 9);
  assert.match(text, /^TLS certificate verification failed: Hostname\/IP does not match .*ERR_TLS_CERT_ALTNAME_INVALID/);
});

test('a certificate for another host name: code 9 to wss://127.0.0.1', async (t) => {
  const s = await server(t, pki.wrongHost);
  await expectError(t, { STREAM_TLS_CA_FILE: pki.ca.certFile }, `wss://127.0.0.1:${s.port}/x`, 9);
});

test('STREAM_TLS_DISABLE_HOSTNAME_VALIDATION=true accepts the wrong host name (chain still verified)', async (t) => {
  const s = await server(t, pki.wrongHost);
  await expectConnect(t, s, { STREAM_TLS_CA_FILE: pki.ca.certFile, STREAM_TLS_DISABLE_HOSTNAME_VALIDATION: 'true' },
    `wss://localhost:${s.port}/x`);
  await expectConnect(t, s, { STREAM_TLS_CA_FILE: pki.ca.certFile, STREAM_TLS_DISABLE_HOSTNAME_VALIDATION: 'true' },
    `wss://127.0.0.1:${s.port}/x`);
});

test('STREAM_TLS_DISABLE_HOSTNAME_VALIDATION does not skip the chain check: code 9 for an unknown CA', async (t) => {
  const s = await server(t, pki.wrongHost);
  await expectError(t, { STREAM_TLS_DISABLE_HOSTNAME_VALIDATION: 'true' }, `wss://localhost:${s.port}/x`, 9);
});

test('STREAM_TLS_CA_FILE=NONE connects to an untrusted server with the wrong name', async (t) => {
  const s = await server(t, pki.wrongHost);
  await expectConnect(t, s, { STREAM_TLS_CA_FILE: 'NONE' }, `wss://localhost:${s.port}/x`);
});

test('mTLS: the client certificate is presented and the server sees its CN', async (t) => {
  const s = await server(t, pki.server, { requestCert: true, rejectUnauthorized: true, ca: pki.ca.cert });
  const { conn } = await expectConnect(t, s, {
    STREAM_TLS_CA_FILE: pki.ca.certFile, STREAM_TLS_CERT_FILE: pki.client.certFile, STREAM_TLS_KEY_FILE: pki.client.keyFile,
  }, `wss://localhost:${s.port}/x`);
  assert.equal(conn.clientCn, 'client');
});

test('mTLS: without a client certificate the handshake fails with code 9', async (t) => {
  const s = await server(t, pki.server, { requestCert: true, rejectUnauthorized: true, ca: pki.ca.cert });
  const text = await expectError(t, { STREAM_TLS_CA_FILE: pki.ca.certFile }, `wss://localhost:${s.port}/x`, 9);
  assert.equal(text, 'TLS handshake failed: tlsv13 alert certificate required (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED)');
  assert.equal(s.connections.length, 0);
});

test('garbage key file: code 7', async (t) => {
  const text = await expectError(t, {
    STREAM_TLS_CA_FILE: pki.ca.certFile, STREAM_TLS_CERT_FILE: pki.client.certFile, STREAM_TLS_KEY_FILE: pki.garbageTextFile,
  }, 'wss://127.0.0.1:9/x', 7);
  assert.match(text, /STREAM_TLS_KEY_FILE/);
});

test('garbage client certificate file: code 7', async (t) => {
  await expectError(t, {
    STREAM_TLS_CA_FILE: pki.ca.certFile, STREAM_TLS_CERT_FILE: pki.garbagePemFile, STREAM_TLS_KEY_FILE: pki.client.keyFile,
  }, 'wss://127.0.0.1:9/x', 7);
});

test('a key that does not match the certificate: code 7', async (t) => {
  const text = await expectError(t, {
    STREAM_TLS_CA_FILE: pki.ca.certFile, STREAM_TLS_CERT_FILE: pki.client.certFile, STREAM_TLS_KEY_FILE: pki.server.keyFile,
  }, 'wss://127.0.0.1:9/x', 7);
  assert.match(text, /does not match/);
});

test('a missing CA file: code 7', async (t) => {
  const text = await expectError(t, { STREAM_TLS_CA_FILE: join(pkiDir, 'no-such-ca.pem') }, 'wss://127.0.0.1:9/x', 7);
  assert.match(text, /ENOENT/);
});

test('a garbage CA file: code 7', async (t) => {
  await expectError(t, { STREAM_TLS_CA_FILE: pki.garbagePemFile }, 'wss://127.0.0.1:9/x', 7);
  await expectError(t, { STREAM_TLS_CA_FILE: pki.garbageTextFile }, 'wss://127.0.0.1:9/x', 7);
});

test('a missing client certificate or key file: code 7', async (t) => {
  await expectError(t, {
    STREAM_TLS_CERT_FILE: join(pkiDir, 'missing.pem'), STREAM_TLS_KEY_FILE: pki.client.keyFile,
  }, 'wss://127.0.0.1:9/x', 7);
  await expectError(t, {
    STREAM_TLS_CERT_FILE: pki.client.certFile, STREAM_TLS_KEY_FILE: join(pkiDir, 'missing.key'),
  }, 'wss://127.0.0.1:9/x', 7);
});

test('only one of STREAM_TLS_CERT_FILE / STREAM_TLS_KEY_FILE: code 7', async (t) => {
  const text = await expectError(t, { STREAM_TLS_CERT_FILE: pki.client.certFile }, 'wss://127.0.0.1:9/x', 7);
  assert.match(text, /together/);
  await expectError(t, { STREAM_TLS_KEY_FILE: pki.client.keyFile }, 'wss://127.0.0.1:9/x', 7);
});

test('TLS settings do not apply to ws:// URLs (no error for a garbage CA file)', async (t) => {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  t.after(() => new Promise<void>((resolve) => { for (const c of wss.clients) c.terminate(); wss.close(() => resolve()); }));
  const { port } = wss.address() as { port: number };
  const { ev, start, channel } = streamChannel(t, { STREAM_TLS_CA_FILE: pki.garbagePemFile });
  assert.equal(start(`ws://127.0.0.1:${port}/x`), OK);
  await ev.waitFor('connect', WAIT_MS);
  assert.ok(findAudioStream(channel)?.isOpen);
});

test('wss:// to a plain-text server: code 9', async (t) => {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  t.after(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  const { port } = wss.address() as { port: number };
  const text = await expectError(t, { STREAM_TLS_CA_FILE: pki.ca.certFile }, `wss://127.0.0.1:${port}/x`, 9);
  assert.equal(text, 'TLS handshake failed: wrong version number (EPROTO)');
});

test('ws:// to a TLS server: code 6 (the server drops the connection before answering the upgrade)', async (t) => {
  const s = await server(t, pki.server);
  const text = await expectError(t, {}, `ws://127.0.0.1:${s.port}/x`, 6);
  assert.match(text, /closed the connection/);
});

test('a corrupted TLS record after open: code 9, the stream is torn down', async (t) => {
  const s = await server(t, pki.server);
  const proxy = await startRawProxy(s.port);
  t.after(() => proxy.close());
  const { ev, start, stop } = streamChannel(t, { STREAM_TLS_CA_FILE: pki.ca.certFile });
  assert.equal(start(`wss://localhost:${proxy.port}/x`), OK);
  await ev.waitFor('connect', WAIT_MS);
  await s.nextConnection();
  proxy.connections[0]!.client.write(bogusTlsRecord());
  const e = errorOf(await ev.waitFor('error', WAIT_MS));
  assert.equal(e.code, 9, e.error);
  assert.equal(ev.of('disconnect').length, 0);
  assert.match(stop(), /^-ERR /);
});
