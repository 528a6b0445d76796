import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TcpEndpoint, type TcpEndpointOptions } from './tcp-endpoint.ts';
import type { TransportStats } from './transport.ts';
import { sipRequest } from '../../../test/helpers/sip/test-kit.ts';

const OPTIONS = Buffer.from(sipRequest({ method: 'OPTIONS', via: 'SIP/2.0/TCP 127.0.0.1:5062;branch=z9hG4bK-o' }));

interface Client {
  socket: net.Socket;
  /** performance.now() when the server closed it (undefined while open). */
  closedAt(): number | undefined;
  closed: Promise<number>;
  received(): string;
}

async function start(options: Partial<TcpEndpointOptions>) {
  const stats: TransportStats = { received: 0, sent: 0, framingErrors: 0, transportErrors: 0, connectionsRefused: 0, headerTimeouts: 0, idleClosed: 0 };
  const messages: string[] = [];
  const logs: string[] = [];
  const endpoint = new TcpEndpoint({ maxMessageBytes: 65536, idleTimeoutMs: 60_000, ...options }, stats, (data) => messages.push(data.toString()),
    { warning: (m) => logs.push(`warning: ${m}`), notice: (m) => logs.push(`notice: ${m}`) });
  const port = await endpoint.listen('127.0.0.1', 0);
  const clients: Client[] = [];
  const connect = async (localAddress = '127.0.0.1'): Promise<Client> => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    socket.setNoDelay(true);
    let closedAt: number | undefined;
    let text = '';
    socket.on('data', (d) => { text += d; });
    socket.on('error', () => {});
    const closed = new Promise<number>((resolve) => socket.on('close', () => { closedAt ??= performance.now(); resolve(closedAt); }));
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const client = { socket, closedAt: () => closedAt, closed, received: () => text };
    clients.push(client);
    return client;
  };
  const close = async () => {
    for (const c of clients) c.socket.destroy();
    await endpoint.close();
  };
  return { endpoint, stats, messages, logs, connect, close };
}

/** Resolves with `what` or rejects after `ms` (a generous deadline, not a timing assertion). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, sleep(ms).then(() => { throw new Error(`${what}: not within ${ms} ms`); })]);
}

test('a header block trickled one byte at a time is closed at the header deadline; trickling does not extend it', async () => {
  const e = await start({ headerTimeoutMs: 300 });
  try {
    const idle = await e.connect();
    const slow = await e.connect();
    const text = 'INVITE sip:service@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5062\r\n';
    const firstByteAt = performance.now();
    let i = 0;
    const trickle = setInterval(() => { if (!slow.socket.destroyed) slow.socket.write(text[i++ % text.length]); }, 20);
    slow.socket.write(text[i++]);
    const closedAt = await within(slow.closed, 10_000, 'slowloris closed');
    clearInterval(trickle);
    assert.ok(closedAt - firstByteAt >= 295, `not before the deadline (after ${Math.round(closedAt - firstByteAt)} ms)`);
    assert.equal(e.stats.headerTimeouts, 1);
    assert.equal(idle.closedAt(), undefined, 'an idle connection is not subject to the header deadline');
    assert.deepEqual(e.messages, []);
    assert.equal(e.logs.length, 1);
    assert.match(e.logs[0], /^warning: closing tcp 127\.0\.0\.1:\d+: a message's header block took longer than sip\.tcp\.headerTimeoutMs \(300 ms\); /);
  } finally {
    await e.close();
  }
});

test('a body trickled after its header gets its own deadline; a message sent in pieces within it is delivered', async () => {
  const e = await start({ headerTimeoutMs: 400 });
  try {
    const ok = await e.connect();
    ok.socket.write(OPTIONS.subarray(0, 20));
    await sleep(100);
    ok.socket.write(OPTIONS.subarray(20));
    const slowBody = await e.connect();
    slowBody.socket.write(sipRequest({ method: 'INFO', body: 'x'.repeat(100), contentType: 'text/plain' }).slice(0, -90));
    const trickle = setInterval(() => { if (!slowBody.socket.destroyed) slowBody.socket.write('x'); }, 20);
    await within(slowBody.closed, 10_000, 'slow body closed');
    clearInterval(trickle);
    assert.equal(e.messages.length, 1, 'the OPTIONS came out whole');
    assert.equal(ok.closedAt(), undefined);
    assert.equal(e.stats.headerTimeouts, 1);
    assert.match(e.logs[0], /a message's body took longer/);
  } finally {
    await e.close();
  }
});

test('idle timeout: keepalive pings are answered but do not keep a connection open; complete messages do', async () => {
  const e = await start({ idleTimeoutMs: 400, headerTimeoutMs: 5000 });
  try {
    const pinging = await e.connect();
    const talking = await e.connect();
    const silent = await e.connect();
    const startedAt = performance.now();
    const ping = setInterval(() => { if (!pinging.socket.destroyed) pinging.socket.write('\r\n\r\n'); }, 50);
    const talk = setInterval(() => { if (!talking.socket.destroyed) talking.socket.write(OPTIONS); }, 100);
    const pingClosed = await within(pinging.closed, 10_000, 'pinging connection closed');
    const silentClosed = await within(silent.closed, 10_000, 'silent connection closed');
    clearInterval(ping);
    assert.ok(pingClosed - startedAt >= 395 && silentClosed - startedAt >= 395, 'not before the idle timeout');
    assert.match(pinging.received(), /^(\r\n)+$/, 'pings answered with CRLF');
    assert.equal(talking.closedAt(), undefined, 'a connection carrying messages stays');
    clearInterval(talk);
    await within(talking.closed, 10_000, 'closed once it stops talking');
    assert.equal(e.stats.idleClosed, 3);
    assert.deepEqual(e.logs, [], 'idle closes are not warnings');
  } finally {
    await e.close();
  }
});

test('connection bounds: over the per-source and the total bound a new connection is closed at once, counted, logged once', async () => {
  const e = await start({ maxConnections: 6, maxConnectionsPerSource: 4 });
  try {
    const a = await Promise.all([1, 2, 3, 4].map(() => e.connect('127.0.0.2')));
    const overSource = await e.connect('127.0.0.2');
    await within(overSource.closed, 5000, 'fifth connection from one source closed');
    const b = await Promise.all([1, 2].map(() => e.connect('127.0.0.3')));
    const overTotal = await e.connect('127.0.0.4');
    await within(overTotal.closed, 5000, 'seventh connection closed');
    assert.equal(e.stats.connectionsRefused, 2);
    assert.equal(e.endpoint.connectionCount, 6);
    a[0].socket.destroy();
    await within((async () => { while (e.endpoint.connectionCount > 5) await sleep(10); })(), 5000, 'server saw the close');
    const again = await e.connect('127.0.0.4');
    again.socket.write(OPTIONS);
    await within((async () => { while (e.messages.length < 1) await sleep(10); })(), 5000, 'the new connection is served');
    await sleep(100);
    assert.ok([...a.slice(1), ...b, again].every((c) => c.closedAt() === undefined), 'the others stay open');
    assert.equal(e.logs.length, 1, e.logs.join('\n'));
    assert.match(e.logs[0], /^warning: closing new TCP connections: sip\.tcp\.maxConnectionsPerSource \(4\) reached, by tcp 127\.0\.0\.2:\d+; /);
  } finally {
    await e.close();
  }
});
