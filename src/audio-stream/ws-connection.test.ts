import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { WsConnection, DEFAULT_WS_LIMITS, type WsLimits } from './ws-connection.ts';
import { readStreamOptions } from './options.ts';
import { parseStreamUrl } from './url.ts';
import { StreamMetrics } from './metrics.ts';
import type { StreamError } from './errors.ts';
import { CoarseTimer } from '../lib/coarse-timer.ts';
import { FakeClock } from '../../test/helpers/fake-clock.ts';
import { within, startTestServer, type ServerConnection, type TestServer } from '../../test/helpers/harness.ts';
import { startRawServer } from '../../test/helpers/raw-server.ts';
import type { ServerOptions } from 'ws';

/** A promise with its resolver. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

/** Resolves once the server side of a connection holds at least `n` messages. */
const serverMessages = (conn: ServerConnection, n: number): Promise<void> => conn.received('any', n);

const turn = () => new Promise<void>((r) => setImmediate(r));

async function testServer(t: TestContext, options: Omit<ServerOptions, 'port' | 'host'> = {}, onConnection?: (c: ServerConnection) => void): Promise<TestServer> {
  const srv = await startTestServer(options, onConnection);
  t.after(() => srv.close());
  return srv;
}

/**
 * A WsConnection to `url` on fake time, with STREAM_* variables `vars`; what its handlers see is
 * recorded in `calls` (in order) and as promises. `onOpen` runs inside the connection's onOpen.
 */
function connection(url: string, vars: Record<string, string> = {}, opts: { limits?: WsLimits; onOpen?: (c: WsConnection) => void } = {}) {
  const warnings: string[] = [];
  const options = readStreamOptions((name) => vars[name], (m) => warnings.push(m));
  assert.deepEqual(warnings, []);
  const parsed = parseStreamUrl(url);
  assert.ok(parsed.ok, 'url parses');
  const clock = new FakeClock();
  const ticker = new CoarseTimer(clock);
  const metrics = new StreamMetrics();
  const calls: string[] = [];
  const texts: string[] = [];
  const opened = deferred<void>();
  const closedByServer = deferred<{ code: number; reason: string }>();
  const errored = deferred<StreamError>();
  const closed = deferred<void>();
  const textWaiters: Array<() => void> = [];
  let conn!: WsConnection;
  conn = new WsConnection(parsed.value, options, {
    onOpen: () => { calls.push('open'); opts.onOpen?.(conn); opened.resolve(); },
    onText: (text) => { calls.push('text'); texts.push(text); textWaiters.splice(0).forEach((w) => w()); },
    onBinary: () => { calls.push('binary'); },
    onClose: (code, reason) => { calls.push('close'); closedByServer.resolve({ code, reason }); },
    onError: (error) => { calls.push('error'); errored.resolve(error); },
    onClosed: () => { calls.push('closed'); closed.resolve(); },
  }, opts.limits ?? DEFAULT_WS_LIMITS, { clock, ticker, metrics });
  /** Resolves once `n` texts arrived. */
  const textCount = (n: number): Promise<void> => {
    if (texts.length >= n) return Promise.resolve();
    return within(new Promise<void>((resolve) => {
      const check = () => { if (texts.length >= n) resolve(); else textWaiters.push(check); };
      textWaiters.push(check);
    }), `${n} texts at the client`);
  };
  return {
    conn, clock, metrics, calls, texts, textCount, options,
    /** Each resolves when its handler is called (awaited through within(), so a missing call fails). */
    opened: () => within(opened.promise, 'onOpen'),
    closedByServer: () => within(closedByServer.promise, 'onClose'),
    errored: () => within(errored.promise, 'onError'),
    closed: () => within(closed.promise, 'onClosed'),
    erroredPromise: errored.promise,
  };
}

test('messages queued while connecting go out after the ones onOpen sends (metadata first)', async (t) => {
  const srv = await testServer(t);
  const c = connection(srv.url, {}, { onOpen: (conn) => { assert.equal(conn.sendText('{"metadata":1}'), true); } });
  c.conn.connect();
  assert.equal(c.conn.isOpen, false);
  const audio = Buffer.from([1, 2, 3, 4, 5, 6]);
  assert.equal(c.conn.sendText('queued text'), true);
  assert.equal(c.conn.sendBinary(audio, true), true);
  audio.fill(0); // `reusable`: the caller overwrites it, the queue kept a copy
  assert.equal(c.conn.sendBinary(Buffer.from([7, 8]), false), true);
  assert.equal(c.conn.bufferedBytes, 11 + 6 + 2, 'bytes queued while connecting');
  assert.equal(c.metrics.messagesSent, 0, 'nothing sent before open');
  const sc = await within(srv.nextConnection(), 'a server connection');
  await c.opened();
  assert.equal(c.conn.isOpen, true);
  await serverMessages(sc, 4);
  assert.deepEqual(sc.messages, [
    { kind: 'text', text: '{"metadata":1}' },
    { kind: 'text', text: 'queued text' },
    { kind: 'binary', data: Buffer.from([1, 2, 3, 4, 5, 6]) },
    { kind: 'binary', data: Buffer.from([7, 8]) },
  ]);
  assert.equal(c.metrics.messagesSent, 4);
  assert.equal(c.metrics.bytesSent, 14 + 11 + 6 + 2);
  assert.deepEqual(c.conn.stats, { messagesSent: 4, bytesSent: 33, messagesDropped: 0 });
  // Once open, messages go straight out, after the queue.
  assert.equal(c.conn.sendText('live'), true);
  await serverMessages(sc, 5);
  assert.deepEqual(sc.messages[4], { kind: 'text', text: 'live' });
  assert.deepEqual(c.calls, ['open']);
});

test('permessage-deflate is offered unless STREAM_MESSAGE_DEFLATE is true; the upgrade carries an Origin', async (t) => {
  const srv = await testServer(t);
  const offered = connection(`${srv.url}/path?q=1`);
  offered.conn.connect();
  const a = await within(srv.nextConnection(), 'first connection');
  assert.match(a.request.headers['sec-websocket-extensions'] ?? '', /^permessage-deflate/);
  assert.equal(a.request.url, '/path?q=1');
  assert.equal(a.request.headers.origin, `http://127.0.0.1:${srv.port}`);

  const disabled = connection(srv.url, { STREAM_MESSAGE_DEFLATE: 'true' });
  assert.equal(disabled.options.deflate, false);
  disabled.conn.connect();
  const b = await within(srv.nextConnection(), 'second connection');
  assert.equal(b.request.headers['sec-websocket-extensions'], undefined);
  await offered.opened();
  await disabled.opened();
});

test('with deflate negotiated, a reusable buffer is copied before it is compressed', async (t) => {
  const srv = await testServer(t, { perMessageDeflate: true });
  const c = connection(srv.url);
  c.conn.connect();
  const sc = await within(srv.nextConnection(), 'a server connection');
  await c.opened();
  assert.match(sc.socket.extensions, /permessage-deflate/, 'deflate negotiated');
  const reused = Buffer.alloc(2048); // over ws's 1 KiB deflate threshold: compressed later, from the buffer
  const expected: Buffer[] = [];
  for (let i = 0; i < 5; i++) {
    reused.fill(i + 1);
    expected.push(Buffer.from(reused));
    assert.equal(c.conn.sendBinary(reused, true), true);
  }
  reused.fill(0xee);
  await serverMessages(sc, 5);
  assert.deepEqual(sc.messages, expected.map((data) => ({ kind: 'binary', data })));
});

test('the connect deadline fires on fake time: STREAM_TIMEOUT (10, as the module), 5000 ms unless set', async (t) => {
  assert.equal(connection('ws://127.0.0.1:9', {}).options.connectTimeoutMs, 5000);
  const accepted = deferred<Socket>();
  // Accepts and never answers the upgrade; resolves once the request is in (the client saw its connect).
  const raw = await startRawServer((s) => s.once('data', () => accepted.resolve(s)));
  t.after(() => raw.close());
  const c = connection(`ws://127.0.0.1:${raw.port}`, { STREAM_CONNECT_TIMEOUT_MS: '2500' });
  assert.equal(c.options.connectTimeoutMs, 2500);
  c.conn.connect();
  assert.equal(c.conn.sendBinary(Buffer.from([1, 2]), true), true, 'queued while connecting');
  const socket = await within(accepted.promise, 'the TCP connection');
  const socketClosed = once(socket, 'close');
  c.clock.advance(2499);
  assert.deepEqual(c.calls, [], 'not before the deadline');
  c.clock.advance(1);
  const error = await c.errored();
  assert.equal(error.code, 'STREAM_TIMEOUT');
  assert.equal(error.message, 'connection timeout after 2500 ms (STREAM_CONNECT_TIMEOUT_MS): the server accepted the connection but did not answer the WebSocket upgrade');
  await within(socketClosed, 'the client to drop the TCP connection');
  await turn();
  assert.deepEqual(c.calls, ['error'], 'one error, no close or closed after it');
  assert.equal(c.conn.isOpen, false);
  assert.equal(c.conn.bufferedBytes, 0, 'the queue is dropped');
  assert.equal(c.conn.sendBinary(Buffer.from([1]), true), false);
  assert.equal(c.conn.sendText('late'), false);
});

test('a heartbeat whose pongs come keeps the connection up', async (t) => {
  let pings = 0;
  const srv = await testServer(t, {}, (sc) => {
    // ws answers the ping first, then emits it: this text follows the pong on the wire.
    sc.socket.on('ping', (data) => { pings++; sc.socket.send(`after pong ${pings} ${data.toString()}`); });
  });
  const c = connection(srv.url, { STREAM_HEART_BEAT: '1' });
  assert.equal(c.options.heartbeatMs, 1000);
  c.conn.connect();
  await c.opened();
  for (let step = 1; step <= 50; step++) {
    c.clock.advance(100);
    await turn();
    if (step % 10 === 0) await c.textCount(step / 10); // the pong of this ping has arrived
  }
  assert.equal(c.clock.now(), 5000);
  assert.deepEqual(c.texts, [1, 2, 3, 4, 5].map((n) => `after pong ${n} ping`));
  assert.deepEqual(c.calls, ['open', 'text', 'text', 'text', 'text', 'text']);
  assert.equal(c.conn.isOpen, true);
});

test('a heartbeat without pongs fails with STREAM_PING_TIMEOUT', async (t) => {
  const pinged = deferred<string>();
  const srv = await testServer(t, { autoPong: false }, (sc) => sc.socket.on('ping', (d) => pinged.resolve(d.toString())));
  const c = connection(srv.url, { STREAM_HEART_BEAT: '1' });
  c.conn.connect();
  const sc = await within(srv.nextConnection(), 'a server connection');
  await c.opened();
  let failedAt = -1;
  void c.erroredPromise.then(() => { failedAt = c.clock.now(); });
  for (let step = 1; step <= 30 && c.calls.length < 2; step++) {
    c.clock.advance(100);
    await turn();
    if (c.clock.now() === 1000) assert.equal(await within(pinged.promise, 'the first ping'), 'ping');
  }
  const error = await c.errored();
  assert.equal(error.code, 'STREAM_PING_TIMEOUT');
  assert.equal(error.message, 'no pong within 1000 ms of a ping');
  assert.equal(failedAt, 2000, 'one interval after the unanswered ping (fake time)');
  const closed = await within(sc.closed, 'the server side to close');
  assert.equal(closed.code, 1006, 'the socket is cut, no close frame');
  assert.deepEqual(c.calls, ['open', 'error']);
  assert.equal(c.conn.isOpen, false);
});

test('the bound on messages queued while connecting drops audio and counts it', async (t) => {
  const srv = await testServer(t);
  const c = connection(srv.url, {}, { limits: { ...DEFAULT_WS_LIMITS, maxQueuedMessages: 3 } });
  c.conn.connect();
  const sent = [1, 2, 3, 4, 5].map((i) => c.conn.sendBinary(Buffer.alloc(4, i), true));
  assert.deepEqual(sent, [true, true, true, false, false]);
  assert.equal(c.metrics.messagesDropped, 2);
  assert.equal(c.conn.stats.messagesDropped, 2);
  assert.equal(c.conn.bufferedBytes, 12);
  const sc = await within(srv.nextConnection(), 'a server connection');
  await c.opened();
  await serverMessages(sc, 3);
  assert.deepEqual(sc.messages, [1, 2, 3].map((i) => ({ kind: 'binary', data: Buffer.alloc(4, i) })));
  // Open now: the connecting bound no longer applies.
  assert.equal(c.conn.sendBinary(Buffer.alloc(4, 9), true), true);
  await serverMessages(sc, 4);
  assert.deepEqual(sc.messages[3], { kind: 'binary', data: Buffer.alloc(4, 9) });
  assert.equal(c.metrics.messagesDropped, 2);
  assert.equal(c.metrics.messagesSent, 4);
});

test('the bound on bytes queued while connecting, and on bytes buffered once open', async (t) => {
  const srv = await testServer(t);
  const c = connection(srv.url, {}, { limits: { ...DEFAULT_WS_LIMITS, maxQueuedBytes: 10, maxBufferedBytes: 16 } });
  c.conn.connect();
  assert.deepEqual([1, 2, 3].map((i) => c.conn.sendBinary(Buffer.alloc(4, i), true)), [true, true, false]);
  assert.equal(c.conn.sendBinary(Buffer.alloc(2, 4), true), true, 'a smaller one still fits: 10 bytes');
  assert.equal(c.metrics.messagesDropped, 1);
  const sc = await within(srv.nextConnection(), 'a server connection');
  await c.opened();
  assert.equal(c.conn.sendBinary(Buffer.alloc(17, 5), true), false, 'larger than maxBufferedBytes');
  assert.equal(c.metrics.messagesDropped, 2);
  assert.equal(c.conn.sendBinary(Buffer.alloc(16, 6), true), true);
  await serverMessages(sc, 4);
  assert.deepEqual(sc.messages.map((m) => (m.kind === 'binary' ? [...m.data] : m.text)), [
    [1, 1, 1, 1], [2, 2, 2, 2], [4, 4], Array(16).fill(6),
  ]);
});

test('close() while connecting sends the queue once open, then closes with 1000', async (t) => {
  const srv = await testServer(t);
  const c = connection(srv.url, {}, { onOpen: (conn) => conn.sendText('metadata') });
  c.conn.connect();
  assert.equal(c.conn.sendBinary(Buffer.from([1, 2, 3, 4]), true), true);
  assert.equal(c.conn.sendText('stop text'), true);
  c.conn.close();
  assert.equal(c.conn.sendBinary(Buffer.from([5, 6]), true), false, 'nothing more after close()');
  assert.equal(c.conn.sendText('late'), false);
  const sc = await within(srv.nextConnection(), 'a server connection');
  const { code, reason } = await within(sc.closed, 'the close frame');
  assert.equal(code, 1000);
  assert.equal(reason, 'Normal closure');
  assert.deepEqual(sc.messages, [
    { kind: 'text', text: 'metadata' },
    { kind: 'binary', data: Buffer.from([1, 2, 3, 4]) },
    { kind: 'text', text: 'stop text' },
  ]);
  await c.closed();
  assert.deepEqual(c.calls, ['open', 'closed']);
  assert.equal(c.metrics.messagesSent, 3);
  assert.equal(c.conn.isOpen, false);
});

test('close() once open closes with 1000 "Normal closure" and fires onClosed', async (t) => {
  const srv = await testServer(t);
  const c = connection(srv.url);
  c.conn.connect();
  const sc = await within(srv.nextConnection(), 'a server connection');
  await c.opened();
  c.conn.sendText('last');
  c.conn.close();
  c.conn.close(); // idempotent
  assert.equal(c.conn.sendText('after'), false);
  assert.deepEqual(await within(sc.closed, 'the close frame'), { code: 1000, reason: 'Normal closure' });
  await c.closed();
  assert.deepEqual(sc.messages, [{ kind: 'text', text: 'last' }]);
  assert.deepEqual(c.calls, ['open', 'closed']);
});

test("the server's close frame gives onClose(code, reason); its texts and binaries before it give onText and onBinary", async (t) => {
  const srv = await testServer(t, {}, (sc) => {
    sc.socket.send('hello');
    sc.socket.send(Buffer.from([1, 2, 3])); // the stream plays it in full duplex, ignores it otherwise
    sc.socket.send('{"type":"x"}');
    sc.socket.close(4001, 'going away');
  });
  const c = connection(srv.url);
  c.conn.connect();
  const { code, reason } = await c.closedByServer();
  assert.equal(code, 4001);
  assert.equal(reason, 'going away');
  assert.deepEqual(c.texts, ['hello', '{"type":"x"}']);
  assert.deepEqual(c.calls, ['open', 'text', 'binary', 'text', 'close']);
  assert.equal(c.conn.isOpen, false);
  assert.equal(c.conn.sendBinary(Buffer.from([1]), true), false);
  c.conn.close(); // after the server closed: nothing happens
  await turn();
  assert.deepEqual(c.calls, ['open', 'text', 'binary', 'text', 'close']);
});

test('a close frame with no reason gives onClose(1000, "")', async (t) => {
  const srv = await testServer(t, {}, (sc) => sc.socket.close(1000));
  const c = connection(srv.url);
  c.conn.connect();
  assert.deepEqual(await c.closedByServer(), { code: 1000, reason: '' });
  assert.deepEqual(c.calls, ['open', 'close']);
});

test('UTF-8 is checked on whole messages: a character split across fragments arrives whole, with deflate too', async (t) => {
  const srv = await testServer(t, { perMessageDeflate: true }, (sc) => {
    // ws sends each fragment as its own frame; 'é' (c3 a9) is cut between the two.
    const bytes = Buffer.from('{"text":"café au lait"}');
    const cut = bytes.indexOf(0xc3) + 1;
    sc.socket.send(bytes.subarray(0, cut), { binary: false, fin: false });
    sc.socket.send(bytes.subarray(cut), { binary: false, fin: true });
  });
  const c = connection(srv.url);
  c.conn.connect();
  await c.textCount(1);
  assert.deepEqual(c.texts, ['{"text":"café au lait"}']);
  assert.deepEqual(c.calls, ['open', 'text']);
});

test('a text message that is not UTF-8 fails with STREAM_PROTOCOL and we close with 1007', async (t) => {
  const srv = await testServer(t, {}, (sc) => sc.socket.send(Buffer.from([0x22, 0xc3, 0x28, 0x22]), { binary: false }));
  const c = connection(srv.url);
  c.conn.connect();
  const error = await c.errored();
  assert.equal(error.code, 'STREAM_PROTOCOL');
  assert.equal(error.message, 'WebSocket protocol error (1007): the server sent invalid UTF-8 in a text message');
  const sc = await srv.nextConnection();
  assert.equal((await within(sc.closed, 'the close at the server')).code, 1007);
  assert.deepEqual(c.calls, ['open', 'error']);
});

test('the server\'s pings are answered, at most 20 pongs a second; the 101st ping within a second is a ping flood: error 11, Close 1008', async (t) => {
  const srv = await testServer(t);
  const c = connection(srv.url);
  c.conn.connect();
  const sc = await within(srv.nextConnection(), 'a server connection');
  await c.opened();
  let pongs = 0;
  const pongData: string[] = [];
  sc.socket.on('pong', (data) => { pongs++; pongData.push(String(data)); });
  const pongCount = (n: number) => within((async () => { while (pongs < n) await new Promise((r) => setTimeout(r, 5)); })(), `${n} pongs`);
  for (let i = 0; i < 5; i++) sc.socket.ping(`p${i}`);
  await pongCount(5);
  assert.deepEqual(pongData, ['p0', 'p1', 'p2', 'p3', 'p4'], 'each ping answered with its own data');
  // 40 more within the same second (time stands still on the fake clock): 15 more pongs, then none.
  for (let i = 0; i < 40; i++) sc.socket.ping('q');
  await pongCount(20);
  sc.socket.ping('marker'); // a ping after the burst: not answered either, so once the server saw the text after it, nothing more came
  assert.equal(c.conn.sendText('after the burst'), true);
  await sc.received('text', 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pongs, 20, 'no more than 20 pongs in one second');
  // A second later the budget is back.
  c.clock.advance(1000);
  for (let i = 0; i < 3; i++) sc.socket.ping('r');
  await pongCount(23);
  assert.equal(c.metrics.pingFloods, 0);
  assert.deepEqual(c.calls, ['open']);
  // A flood: thousands of pings at once.
  for (let i = 0; i < 3000; i++) sc.socket.ping('f');
  const error = await c.errored();
  assert.equal(error.code, 'STREAM_PROTOCOL');
  assert.equal(error.message, 'WebSocket protocol error (1008): ping flood: 101 pings in 1 s (at most 100 are allowed)');
  assert.equal(c.metrics.pingFloods, 1);
  assert.deepEqual(c.calls, ['open', 'error'], 'one error, nothing after it');
  const closed = await within(sc.closed, 'the server side to close');
  assert.ok(closed.code === 1008 || closed.code === 1006, `the close frame 1008 (or the cut socket), got ${closed.code}`);
  assert.ok(pongs <= 40, `at most 20 pongs in the flood's second too (${pongs - 23} answered of 3000)`);
});
