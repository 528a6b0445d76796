// Bad input and bad clients on the Event Socket: commands before auth, garbage, unknown commands,
// oversized Content-Length, endless headers, a subscriber that stops reading while events flood,
// and the ACL. Each gets FreeSWITCH's answer or a disconnect, and other clients carry on.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { addLogSink } from '../../src/lib/logger.ts';
import { makeChannel, until } from '../helpers/harness.ts';
import { RawEsl } from '../helpers/esl-raw.ts';
import { startEsl, modeslConnect, modeslApi, modeslClose, type EslFixture } from '../helpers/esl-clients.ts';

const fixtures: EslFixture[] = [];
after(async () => { await Promise.all(fixtures.map((f) => f.close())); });

async function server(options: Parameters<typeof startEsl>[0] = {}): Promise<EslFixture> {
  const f = await startEsl(options);
  fixtures.push(f);
  return f;
}

function captureLog(): { lines: string[]; stop: () => void } {
  const lines: string[] = [];
  const stop = addLogSink((level, scope, message) => lines.push(`${level} ${scope} ${message}`));
  return { lines, stop };
}

const NOT_FOUND = 'Content-Type: command/reply\nReply-Text: -ERR command not found\n\n';
const GOODBYE = 'Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';

test('before auth: commands and garbage get -ERR command not found and the connection stays', async () => {
  const esl = await server();
  const c = await RawEsl.connect(esl.port);
  await c.nextReply();
  assert.equal((await c.command('api status')).raw.toString(), NOT_FOUND);
  assert.equal((await c.command('event plain ALL')).raw.toString(), NOT_FOUND);
  c.send(Buffer.from([0x00, 0xff, 0xfe, 0x41, 0x0a, 0x0a]));
  assert.equal((await c.nextReply()).raw.toString(), NOT_FOUND);
  assert.equal((await c.command('auth')).raw.toString(), NOT_FOUND);
  assert.equal((await c.command('AUTH ClueCon')).headers.get('reply-text'), '+OK accepted');
  assert.equal((await c.command('hello world')).raw.toString(), NOT_FOUND);
  assert.equal((await c.command('api')).raw.toString(), NOT_FOUND);
  assert.equal((await c.command('api status')).contentType, 'api/response');
  c.send('exit\n\n');
  await c.closed;
  assert.ok(c.raw.toString().endsWith(`Content-Type: command/reply\nReply-Text: +OK bye\n\n${GOODBYE}`));
});

test('a client that does not authenticate in time is disconnected', async () => {
  const esl = await server({ limits: { authTimeoutMs: 150 } });
  const log = captureLog();
  const idle = await RawEsl.connect(esl.port);
  const chatty = await RawEsl.connect(esl.port);
  await chatty.nextReply();
  assert.equal((await chatty.command('api status')).raw.toString(), NOT_FOUND);
  const good = await RawEsl.authed(esl.port);
  await Promise.all([idle.closed, chatty.closed]);
  log.stop();
  assert.equal(idle.raw.toString(), `Content-Type: auth/request\n\n${GOODBYE}`);
  assert.ok(chatty.raw.toString().endsWith(GOODBYE));
  assert.ok(log.lines.some((l) => l.includes('not authenticated within 150 ms')));
  assert.equal((await good.command('api uuid_exists x')).body.toString(), 'false', 'authenticated clients stay');
  good.close();
});

test('exit works before auth', async () => {
  const esl = await server();
  const c = await RawEsl.connect(esl.port);
  c.send('exit\n\n');
  await c.closed;
  assert.equal(c.raw.toString(), `Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: +OK bye\n\n${GOODBYE}`);
});

test('an oversized Content-Length or endless header lines disconnect that client only, with a log line', async () => {
  const esl = await server({ limits: { maxHeaderBytes: 64 * 1024, maxBodyBytes: 1024 * 1024 } });
  const log = captureLog();
  const good = await modeslConnect(esl.port);
  try {
    const big = await RawEsl.authed(esl.port);
    big.send('sendevent CUSTOM\nContent-Length: 99999999999\n\n');
    await big.closed;
    assert.ok(big.raw.toString().endsWith(`Content-Type: command/reply\nReply-Text: -ERR command parse error.\n\n${GOODBYE}`), big.raw.toString());
    const endless = await RawEsl.authed(esl.port);
    const line = Buffer.from(`X-Header: ${'a'.repeat(100)}\n`);
    for (let i = 0; i < 1000 && !endless.isClosed; i++) endless.send(line);
    await endless.closed;
    assert.ok(endless.raw.toString().includes('-ERR command parse error.'));
    assert.ok(log.lines.some((l) => l.includes('Content-Length 99999999999 larger than')), log.lines.join('\n'));
    assert.ok(log.lines.some((l) => l.includes('longer than 65536 bytes')), log.lines.join('\n'));
    assert.match(await modeslApi(good, 'status'), /^UP /, 'another client is unaffected');
  } finally {
    log.stop();
    await modeslClose(good);
  }
});

test('a subscriber that stops reading is dropped at once over its queue bound; calls and other clients go on', async () => {
  const esl = await server({ limits: { maxQueueBytes: 512 * 1024 } });
  const { channel } = makeChannel({ runtime: esl.runtime });
  const log = captureLog();
  const slow = await RawEsl.authed(esl.port);
  await slow.command('event plain ALL');
  slow.socket.pause();
  const fast = await RawEsl.authed(esl.port);
  fast.keepRaw = false;
  let received = 0;
  fast.onEventFrame = () => { received++; };
  await fast.command('event json CUSTOM test::flood');
  assert.equal(esl.server.clientCount, 2);
  const body = JSON.stringify({ pad: 'x'.repeat(4000) });
  // Batches of 50 events, the next one once the reading client has the last (this process serves
  // and reads both: on a loaded box a reader left behind would cross the bound too), until the
  // silent client is dropped; how much its socket absorbs first (the kernel's buffers) is the kernel's.
  let slowest = 0;
  let total = 0;
  while (esl.server.clientCount === 2 && total < 40_000) {
    const t0 = performance.now();
    for (let j = 0; j < 50; j++) channel.fire('CUSTOM', 'test::flood', body);
    total += 50;
    slowest = Math.max(slowest, performance.now() - t0);
    await until(() => received === total || fast.isClosed, 5000, `the reading client keeps up (${received} of ${total})`);
  }
  assert.ok(!fast.isClosed, `the reading client stays (dropped after ${received} of ${total} events)`);
  assert.equal(esl.server.clientCount, 1, `the silent client is dropped (${total} events fired, 40,000 at most)`);
  assert.equal(received, total, 'the reading client got every event');
  log.stop();
  assert.ok(log.lines.some((l) => l.includes('because of lost events. Queue size[')), log.lines.join('\n'));
  assert.ok(slowest < 250, `firing 50 events took ${slowest.toFixed(0)} ms`);
  assert.equal((await fast.command('api uuid_exists ' + channel.uuid)).body.toString(), 'true');
  fast.close();
  slow.close();
  channel.hangup();
});

test('ACL: a client outside the networks gets text/rude-rejection, then the disconnect notice', async () => {
  const esl = await server({ acl: ['10.0.0.0/8'] });
  const log = captureLog();
  const c = await RawEsl.connect(esl.port);
  await c.closed;
  log.stop();
  assert.equal(c.raw.toString(), 'Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n' + GOODBYE);
  assert.ok(log.lines.some((l) => l.includes('IP 127.0.0.1 Rejected by acl "10.0.0.0/8"')), log.lines.join('\n'));
  assert.equal(esl.server.clientCount, 0);
});

test('ACL: IPv6 loopback allowed by ::1/128', async (t) => {
  let esl: EslFixture;
  try {
    esl = await server({ listen: { host: '::1', port: 0 }, acl: ['::1/128'] });
  } catch {
    t.skip('no IPv6 loopback here');
    return;
  }
  const c = await RawEsl.connect(esl.port, '::1');
  assert.equal((await c.nextReply()).contentType, 'auth/request');
  assert.equal((await c.command('auth ClueCon')).headers.get('reply-text'), '+OK accepted');
  c.close();
});

test('close(): clients are told the system is shutting down', async () => {
  const esl = await startEsl();
  const c = await RawEsl.authed(esl.port);
  await esl.close();
  await c.closed;
  assert.ok(c.raw.toString().endsWith('Content-Type: text/disconnect-notice\nContent-Length: 31\n\nThe system is being shut down.\n'));
  await esl.close();
});

test('the default password is warned about at start', async () => {
  const log = captureLog();
  const a = await server({ password: 'ClueCon' });
  const b = await server({ password: 's3cret' });
  log.stop();
  assert.equal(log.lines.filter((l) => l.startsWith('warning esl') && l.includes('default ClueCon')).length, 1);
  assert.ok(a.port > 0 && b.port > 0);
});
