// The inbound Event Socket server over real TCP on loopback: connection bounds (in total and per
// source address, sources told apart by binding clients to 127.0.0.x) and failed logins.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Runtime } from '../service/runtime.ts';
import { addLogSink } from '../lib/logger.ts';
import { RawEsl } from '../../test/helpers/esl-raw.ts';
import { until } from '../../test/helpers/harness.ts';
import { EslServer, type EslServerOptions } from './server.ts';

const GREETING = 'Content-Type: auth/request\n\n';
const GOODBYE = 'Content-Type: text/disconnect-notice\nContent-Length: 67\n\n'
  + 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';
/** What FreeSWITCH sends a client its ACL refuses; a client over a bound gets the same. */
const REFUSED = 'Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n' + GOODBYE;
const INVALID = 'Content-Type: command/reply\nReply-Text: -ERR invalid\n\n';

async function start(t: TestContext, options: Partial<EslServerOptions> = {}): Promise<{ server: EslServer; port: number }> {
  const runtime = new Runtime();
  const server = new EslServer(runtime.esl, { listen: { host: '127.0.0.1', port: 0 }, password: 's3cret', acl: [], ...options });
  await server.start();
  t.after(() => server.close());
  return { server, port: server.address.port };
}

/** A raw client from `localAddress` (any 127.0.0.0/8 address is loopback). */
async function from(t: TestContext, port: number, localAddress = '127.0.0.1'): Promise<RawEsl> {
  const socket = connect({ port, host: '127.0.0.1', localAddress, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  const c = RawEsl.wrap(socket);
  t.after(() => c.close());
  return c;
}

function captureLog(t: TestContext): string[] {
  const lines: string[] = [];
  t.after(addLogSink((level, scope, message) => { if (scope === 'esl') lines.push(`${level} ${message}`); }));
  return lines;
}

test('over esl.maxConnectionsPerSource a new connection is refused at once as the ACL refuses, counted, logged once per burst', async (t) => {
  const lines = captureLog(t);
  const { server, port } = await start(t, { maxConnections: 10, maxConnectionsPerSource: 2 });
  const a = await from(t, port);
  const b = await from(t, port);
  assert.equal((await a.nextReply()).raw.toString(), GREETING);
  await b.nextReply();
  const refused = [];
  for (let i = 0; i < 3; i++) refused.push(await from(t, port));
  await Promise.all(refused.map((c) => c.closed));
  for (const c of refused) assert.equal(c.raw.toString(), REFUSED);
  assert.equal(server.stats.refusedConnections, 3);
  const logged = lines.filter((l) => l.includes('Rejected'));
  assert.deepEqual(logged, ['warning IP 127.0.0.1 Rejected: 2 Event Socket connections from this address already '
    + '(esl.maxConnectionsPerSource) (further ones for 60 s are counted, not logged)']);
  // Another source still gets in; the ones in are untouched.
  const other = await from(t, port, '127.0.0.2');
  assert.equal((await other.nextReply()).raw.toString(), GREETING);
  assert.equal((await a.command('auth s3cret')).headers.get('reply-text'), '+OK accepted');
  // One leaves: its source may connect again.
  b.close();
  await until(() => server.clientCount === 2, 3000, 'b gone');
  const again = await from(t, port);
  assert.equal((await again.nextReply()).raw.toString(), GREETING);
  assert.equal(server.clientCount, 3);
});

test('over esl.maxConnections a connection from any source is refused', async (t) => {
  const { server, port } = await start(t, { maxConnections: 2, maxConnectionsPerSource: 2 });
  const a = await from(t, port, '127.0.0.1');
  const b = await from(t, port, '127.0.0.2');
  await Promise.all([a.nextReply(), b.nextReply()]);
  const c = await from(t, port, '127.0.0.3');
  await c.closed;
  assert.equal(c.raw.toString(), REFUSED);
  assert.equal(server.stats.refusedConnections, 1);
  assert.equal(server.clientCount, 2);
});

test('a wrong password and userauth are logged with the source address; the reply stays -ERR invalid byte for byte', async (t) => {
  const lines = captureLog(t);
  const { server, port } = await start(t);
  const c = await from(t, port, '127.0.0.5');
  await c.nextReply();
  c.send('auth ClueCon\n\n');
  await c.closed;
  assert.equal(c.raw.toString(), GREETING + INVALID + GOODBYE);
  const u = await from(t, port, '127.0.0.5');
  await u.nextReply();
  u.send('userauth 1000@default:hunter2\n\n');
  await u.closed;
  assert.equal(u.raw.toString(), GREETING + INVALID + GOODBYE);
  assert.deepEqual(lines.filter((l) => l.includes('auth failure')), [
    'warning Event Socket auth failure (auth) from ip 127.0.0.5',
    'warning Event Socket auth failure (userauth) for [1000@default] from ip 127.0.0.5',
  ]);
  assert.ok(!lines.some((l) => l.includes('hunter2')), 'the password is never logged');
  assert.equal(server.stats.loginFailures, 2);
  const ok = await from(t, port, '127.0.0.5');
  await ok.nextReply();
  assert.equal((await ok.command('auth s3cret')).headers.get('reply-text'), '+OK accepted', 'the right password still works');
});

test('a source that keeps failing gets its -ERR invalid later, is summed up, and other sources are not slowed', async (t) => {
  const lines = captureLog(t);
  const { port } = await start(t, { loginFailureLimits: { loggedPerWindow: 2, delayMs: 400, windowMs: 1500 } });
  const attempt = async (address: string): Promise<{ ms: number; raw: string }> => {
    const c = await from(t, port, address);
    await c.nextReply();
    const t0 = performance.now();
    c.send('auth guess\n\n');
    await c.closed;
    return { ms: performance.now() - t0, raw: c.raw.toString() };
  };
  for (let i = 0; i < 2; i++) await attempt('127.0.0.7');
  const throttled = await attempt('127.0.0.7');
  assert.ok(throttled.ms >= 390, `the third reply waited (${throttled.ms.toFixed(0)} ms)`);
  assert.equal(throttled.raw, GREETING + INVALID + GOODBYE);
  await attempt('127.0.0.7');
  const other = await attempt('127.0.0.8');
  assert.equal(other.raw, GREETING + INVALID + GOODBYE);
  assert.equal(lines.filter((l) => l.includes('auth failure (auth) from ip 127.0.0.7')).length, 2);
  await until(() => lines.some((l) => l.includes('auth failures from ip 127.0.0.7: 2 more')), 5000, 'the summary');
});
