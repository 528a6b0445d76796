// STREAM_RECONNECT: the ring, the backoff, the variables, and a stream on a real channel whose real
// ws server is killed and started again on the same port, on fake time (so every attempt, delay
// and gap is exact): metadata first, then the texts and the gap's audio in order, then live audio.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerOptions } from 'ws';
import { createServer, type Socket } from 'node:net';
import { GapBuffer, reconnectDelayMs, RECONNECT_BACKOFF_CAP_MS, RECONNECT_CLOSE_CODES } from './reconnect.ts';
import { readStreamOptions } from './options.ts';
import { uuidAudioStream } from './command.ts';
import { FakeClock } from '../../test/helpers/fake-clock.ts';
import { startTestServer, streamChannel, findAudioStream, binaries, texts, until, within, errorOf, type TestServer, type ServerConnection }
  from '../../test/helpers/harness.ts';
import { pcmFromBuffer } from '../../test/helpers/audio.ts';
import { makeTestPki } from '../../test/helpers/tls-certs.ts';
import { startTlsWsServer } from '../../test/helpers/tls-server.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('GapBuffer keeps whole messages in order and overwrites the oldest when full, counting them', () => {
  const ring = new GapBuffer(4, 3);
  const msg = (n: number) => Buffer.from([n, n, n, n]);
  assert.equal(ring.count, 0);
  ring.push(msg(1));
  ring.push(msg(2));
  assert.deepEqual([ring.at(0), ring.at(1)], [msg(1), msg(2)]);
  for (let n = 3; n <= 7; n++) ring.push(msg(n));
  assert.equal(ring.count, 3);
  assert.equal(ring.bytes, 12);
  assert.equal(ring.dropped, 4);
  assert.deepEqual([0, 1, 2].map((i) => ring.at(i)[0]), [5, 6, 7]);
  assert.throws(() => ring.at(3), RangeError);
  const source = msg(8);
  ring.push(source);
  source.fill(0); // copied in: the pipeline reuses its buffer
  assert.equal(ring.at(2)[0], 8);
  ring.clear();
  assert.equal(ring.count, 0);
  assert.equal(ring.dropped, 0);
  ring.push(msg(9));
  assert.deepEqual(ring.at(0), msg(9));
  const none = new GapBuffer(4, 0);
  none.push(msg(1));
  assert.equal(none.count, 0);
  assert.equal(none.dropped, 1);
});

test('the backoff doubles from the base, is capped at 5 s and jittered between half and all of it', () => {
  assert.equal(RECONNECT_BACKOFF_CAP_MS, 5000);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 40].map((a) => reconnectDelayMs(500, a, 0.999999)), [500, 1000, 2000, 4000, 5000, 5000, 5000]);
  assert.deepEqual([1, 2, 3, 4, 5].map((a) => reconnectDelayMs(500, a, 0)), [250, 500, 1000, 2000, 2500]);
  for (let i = 0; i < 200; i++) {
    const d = reconnectDelayMs(300, 2);
    assert.ok(d >= 300 && d <= 600, `${d}`);
  }
  assert.equal(reconnectDelayMs(10, 1, 0), 5);
  assert.deepEqual([...RECONNECT_CLOSE_CODES].sort(), [1001, 1011, 1012, 1013, 1014]);
});

test('STREAM_RECONNECT, STREAM_RECONNECT_BACKOFF_MS and STREAM_RECONNECT_BUFFER_MS: defaults, values, bad values warned', () => {
  const read = (vars: Record<string, string>) => {
    const warnings: string[] = [];
    const o = readStreamOptions((n) => vars[n], (m) => warnings.push(m));
    return { o: [o.reconnectAttempts, o.reconnectBackoffMs, o.reconnectBufferMs], warnings };
  };
  assert.deepEqual(read({}), { o: [0, 500, 10000], warnings: [] });
  assert.deepEqual(read({ STREAM_RECONNECT: '5', STREAM_RECONNECT_BACKOFF_MS: '200', STREAM_RECONNECT_BUFFER_MS: '0' }).o, [5, 200, 0]);
  const bad = read({ STREAM_RECONNECT: 'many', STREAM_RECONNECT_BACKOFF_MS: '5', STREAM_RECONNECT_BUFFER_MS: '60001' });
  assert.deepEqual(bad.o, [0, 500, 10000]);
  assert.deepEqual(bad.warnings, [
    'STREAM_RECONNECT=many is not a number of attempts from 0 to 1000; using 0',
    'STREAM_RECONNECT_BACKOFF_MS=5 is not a number of ms from 10 to 60000; using 500',
    'STREAM_RECONNECT_BUFFER_MS=60001 is not a number of ms from 0 to 60000; using 10000',
  ]);
});

/** 8 kHz mono, 20 ms frames: one message is one frame, 160 samples. */
const FRAME = 160;

/** A server that can be killed (every TCP connection cut, no Close frame, the port closed) and started again on its port. */
async function restartableServer(t: TestContext, onConnection?: (c: ServerConnection) => void) {
  let srv: TestServer = await startTestServer({}, onConnection);
  const port = srv.port;
  const all: ServerConnection[] = [];
  const track = (s: TestServer) => s.wss.on('connection', () => { all.push(s.connections.at(-1)!); });
  track(srv);
  let up = true;
  t.after(() => (up ? srv.close() : undefined));
  return {
    url: srv.url,
    port,
    get server() { return srv; },
    all,
    async kill() { up = false; await srv.close(); },
    async restart() {
      // The same port as before (it was the OS's choice; a test cannot reconnect elsewhere).
      srv = await startTestServer({ port } as Omit<ServerOptions, 'port' | 'host'>, onConnection);
      track(srv);
      up = true;
    },
  };
}

/**
 * A stream on a real channel on fake time, fed with a counting signal (sample k of the call is
 * k mod 32768), so any message names its place in the call.
 */
function countingStream(t: TestContext, vars: Record<string, string>) {
  const clock = new FakeClock();
  const s = streamChannel(t, vars, 8000, clock);
  let next = 0;
  const frame = new Int16Array(FRAME);
  const feed = (frames: number) => {
    for (let f = 0; f < frames; f++) {
      for (let i = 0; i < FRAME; i++) frame[i] = (next++) & 0x7fff;
      s.channel.processFrame(frame, null, clock.now()); // time moves only when a test says so
    }
  };
  return { ...s, clock, feed, get fed() { return next; } };
}

/** The first sample of each binary message, checked to be a run of consecutive samples inside it. */
function starts(conn: ServerConnection): number[] {
  return binaries(conn).map((b) => {
    const pcm = pcmFromBuffer(b);
    assert.equal(pcm.length, FRAME, 'each message is exactly STREAM_BUFFER_SIZE (20 ms)');
    for (let i = 1; i < pcm.length; i++) assert.equal(pcm[i], (pcm[0]! + i) & 0x7fff, 'samples in order within a message');
    return pcm[0]!;
  });
}

const run = (from: number, count: number) => Array.from({ length: count }, (_, i) => ((from + i) * FRAME) & 0x7fff);

test('killed and started again: reconnecting per attempt, then the metadata, the text sent during the gap, the gap\'s audio in order, live audio; no disconnect or error', async (t) => {
  const srv = await restartableServer(t);
  const s = countingStream(t, { STREAM_RECONNECT: '5', STREAM_RECONNECT_BACKOFF_MS: '100' });
  assert.equal(s.start(srv.url, 'mono 8k {"call":1}'), '+OK Success\n');
  const first = await within(srv.server.nextConnection(), 'the first connection');
  await s.ev.waitFor('connect');
  s.feed(10);
  await first.received('binary', 10);
  await srv.kill();
  const stream = findAudioStream(s.channel)!;
  await until(() => stream.isReconnecting, 5000, 'the loss to be seen');
  const reconnecting1 = JSON.parse((await s.ev.waitFor('reconnecting')).body!) as { attempt: number; delayMs: number };
  assert.equal(reconnecting1.attempt, 1);
  assert.ok(reconnecting1.delayMs >= 50 && reconnecting1.delayMs <= 100, `${reconnecting1.delayMs}`);
  s.feed(25); // 500 ms of the call while nobody listens
  assert.equal(uuidAudioStream(s.runtime, `${s.channel.uuid} send_text {"during":"gap"}`), '+OK Success\n');
  s.clock.advance(100); // attempt 1: the port is closed
  const reconnecting2 = JSON.parse((await s.ev.waitFor('reconnecting', 5000, 2)).body!) as { attempt: number; delayMs: number };
  assert.equal(reconnecting2.attempt, 2);
  assert.ok(reconnecting2.delayMs >= 100 && reconnecting2.delayMs <= 200, `${reconnecting2.delayMs}`);
  await srv.restart();
  const secondP = srv.server.nextConnection();
  s.clock.advance(200); // attempt 2
  const second = await within(secondP, 'the reconnection');
  const reconnected = await s.ev.waitFor('reconnected');
  s.feed(5);
  await second.received('binary', 30);
  assert.deepEqual(texts(second), ['{"call":1}', '{"during":"gap"}']);
  assert.equal(second.messages[0]!.kind, 'text', 'the metadata first');
  assert.equal(second.messages[1]!.kind, 'text', 'then the text');
  assert.deepEqual(starts(first), run(0, 10));
  assert.deepEqual(starts(second), run(10, 30), 'the gap\'s 25 messages, then live: nothing lost or repeated');
  const body = JSON.parse(reconnected.body!) as Record<string, number>;
  assert.deepEqual(Object.keys(body), ['gapMs', 'replayedMs', 'droppedMs']);
  assert.equal(body.replayedMs, 500);
  assert.equal(body.droppedMs, 0);
  assert.equal(body.gapMs, 300, 'the fake time from the loss to the reconnection');
  assert.equal(reconnected.get('Unique-ID'), s.channel.uuid, 'with the channel headers of the other events');
  assert.equal(reconnected.get('Event-Subclass'), 'mod_audio_stream::reconnected');
  assert.equal(reconnected.body, JSON.stringify(body), 'compact JSON');
  const kinds = s.ev.events.filter((e) => e.name === 'CUSTOM').map((e) => e.subclass);
  assert.deepEqual(kinds, ['mod_audio_stream::connect', 'mod_audio_stream::reconnecting', 'mod_audio_stream::reconnecting', 'mod_audio_stream::reconnected']);
  const m = s.runtime.streams.metrics;
  assert.deepEqual([m.reconnectAttempts, m.reconnects, m.reconnecting, m.open, m.reconnectReplayedMs, m.reconnectDroppedMs], [2, 1, 0, 1, 500, 0]);
  assert.equal(stream.stats.messagesSent, 1 + 10 + 2 + 30, 'counted over both connections');
  assert.equal(s.stop(), '+OK Success\n');
  assert.deepEqual(await within(second.closed, 'the close'), { code: 1000, reason: 'Normal closure' });
});

test('STREAM_RECONNECT_BUFFER_MS bounds the gap\'s audio: the oldest is dropped and the reconnected event says how much; paused audio is not kept', async (t) => {
  const srv = await restartableServer(t);
  const s = countingStream(t, { STREAM_RECONNECT: '3', STREAM_RECONNECT_BACKOFF_MS: '1000', STREAM_RECONNECT_BUFFER_MS: '200' });
  s.start(srv.url, 'mono 8k');
  const first = await within(srv.server.nextConnection(), 'the first connection');
  await s.ev.waitFor('connect');
  s.feed(4);
  await first.received('binary', 4);
  await srv.kill();
  await until(() => findAudioStream(s.channel)!.isReconnecting, 5000, 'the loss to be seen');
  s.feed(20); // frames 4..23
  uuidAudioStream(s.runtime, `${s.channel.uuid} pause`);
  s.feed(5); // 24..28: paused, not kept
  uuidAudioStream(s.runtime, `${s.channel.uuid} resume`);
  await srv.restart();
  const secondP = srv.server.nextConnection();
  s.feed(3); // 29..31
  s.clock.advance(1000);
  const second = await within(secondP, 'the reconnection');
  const reconnected = JSON.parse((await s.ev.waitFor('reconnected')).body!) as Record<string, number>;
  s.feed(2); // 32, 33 live
  await second.received('binary', 12);
  // 200 ms = 10 messages kept of the 23 captured: 14..23 and 29..31 minus the 3 oldest = 17..23, 29..31.
  assert.deepEqual(starts(second), [...run(17, 7), ...run(29, 3), ...run(32, 2)]);
  assert.equal(reconnected.replayedMs, 200);
  assert.equal(reconnected.droppedMs, 260);
  assert.equal(s.runtime.streams.metrics.reconnectDroppedMs, 260);
  assert.deepEqual(s.ev.of('disconnect'), []);
});

test('when the attempts run out: today\'s error event with the last failure\'s code and message, and the stream is gone', async (t) => {
  const srv = await restartableServer(t);
  const s = countingStream(t, { STREAM_RECONNECT: '2', STREAM_RECONNECT_BACKOFF_MS: '50' });
  s.start(srv.url, 'mono 8k');
  await within(srv.server.nextConnection(), 'the first connection');
  await s.ev.waitFor('connect');
  await srv.kill();
  await s.ev.waitFor('reconnecting');
  s.clock.advance(50);
  await s.ev.waitFor('reconnecting', 5000, 2);
  s.clock.advance(100);
  const error = errorOf(await s.ev.waitFor('error'));
  assert.equal(error.code, 6);
  assert.match(error.error, /^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  assert.deepEqual(s.ev.events.filter((e) => e.name === 'CUSTOM').map((e) => e.subclass),
    ['mod_audio_stream::connect', 'mod_audio_stream::reconnecting', 'mod_audio_stream::reconnecting', 'mod_audio_stream::error']);
  assert.equal(findAudioStream(s.channel), undefined, 'torn down as after any error');
  assert.equal(s.stop(), '-ERR no stream on this channel\n');
  const m = s.runtime.streams.metrics;
  assert.deepEqual([m.reconnectAttempts, m.reconnects, m.reconnectsExhausted, m.reconnecting, m.open, m.connecting], [2, 0, 1, 0, 0, 0]);
  assert.equal(m.errorsByCode.get(6), 1);
});

test('STREAM_RECONNECT unset is today\'s behaviour: a kill is error 1, a Close 1001 a disconnect', async (t) => {
  const killed = await restartableServer(t);
  const a = countingStream(t, {});
  a.start(killed.url, 'mono 8k');
  await within(killed.server.nextConnection(), 'a connection');
  await a.ev.waitFor('connect');
  await killed.kill();
  const error = errorOf(await a.ev.waitFor('error'));
  assert.deepEqual(error, { code: 1, error: 'the server closed the connection without a WebSocket Close frame (abnormal EOF)' });
  assert.deepEqual(a.ev.of('reconnecting'), []);

  const going = await startTestServer({}, (c) => setTimeout(() => c.socket.close(1001, 'going away'), 20));
  t.after(() => going.close());
  const b = countingStream(t, {});
  b.start(going.url, 'mono 8k');
  const body = JSON.parse((await b.ev.waitFor('disconnect')).body!) as unknown;
  assert.deepEqual(body, { status: 'disconnected', message: { code: 1001, reason: 'going away' } });
  assert.deepEqual(b.ev.of('reconnecting'), []);
});

test('which losses reconnect: a Close 1012 does; a Close 1000, a Close 4000 and a protocol violation do not', async (t) => {
  const cases: Array<{ act: (c: ServerConnection) => void; reconnects: boolean; then: string }> = [
    { act: (c) => c.socket.close(1012, 'restart'), reconnects: true, then: 'reconnecting' },
    { act: (c) => c.socket.close(1000, 'bye'), reconnects: false, then: 'disconnect' },
    { act: (c) => c.socket.close(4000, 'app'), reconnects: false, then: 'disconnect' },
    { act: (c) => c.socket.send(Buffer.from([0xc3, 0x28]), { binary: false }), reconnects: false, then: 'error' },
  ];
  for (const k of cases) {
    let n = 0;
    const srv = await startTestServer({}, (c) => { if (n++ === 0) setTimeout(() => k.act(c), 20); });
    t.after(() => srv.close());
    const s = countingStream(t, { STREAM_RECONNECT: '3' });
    s.start(srv.url, 'mono 8k');
    const e = await s.ev.waitForFirst(['reconnecting', 'disconnect', 'error']);
    assert.equal(e.subclass, `mod_audio_stream::${k.then}`);
    if (!k.reconnects) continue;
    s.clock.advance(500);
    await s.ev.waitFor('reconnected');
    assert.equal(srv.connections.length, 2);
  }
});

test('stop during the gap cancels the reconnection: +OK, nothing fires, nothing connects', async (t) => {
  const srv = await restartableServer(t);
  const s = countingStream(t, { STREAM_RECONNECT: '5', STREAM_RECONNECT_BACKOFF_MS: '100' });
  s.start(srv.url, 'mono 8k');
  await within(srv.server.nextConnection(), 'the first connection');
  await s.ev.waitFor('connect');
  await srv.kill();
  await s.ev.waitFor('reconnecting');
  s.feed(5);
  const stream = findAudioStream(s.channel)!;
  assert.equal(s.stop(), '+OK Success\n');
  await within(stream.finished, 'the stream to finish');
  await srv.restart();
  s.clock.advance(10000);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(srv.all.length, 1, 'no connection after the stop');
  assert.deepEqual(s.ev.events.filter((e) => e.name === 'CUSTOM').map((e) => e.subclass), ['mod_audio_stream::connect', 'mod_audio_stream::reconnecting']);
  const m = s.runtime.streams.metrics;
  assert.deepEqual([m.reconnecting, m.open, m.connecting, m.reconnectAttempts], [0, 0, 0, 0]);
});

test('a hangup while an attempt is connecting aborts it: the socket is cut, nothing fires', async (t) => {
  const srv = await restartableServer(t);
  const s = countingStream(t, { STREAM_RECONNECT: '5', STREAM_RECONNECT_BACKOFF_MS: '100' });
  s.start(srv.url, 'mono 8k');
  await within(srv.server.nextConnection(), 'the first connection');
  await s.ev.waitFor('connect');
  await srv.kill();
  await s.ev.waitFor('reconnecting');
  // On the same port, a TCP server that never answers the upgrade: the attempt stays connecting.
  const silent = createServer();
  const accepted = new Promise<Socket>((resolve) => silent.once('connection', resolve));
  await new Promise<void>((resolve) => silent.listen(srv.port, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => silent.close(() => resolve())));
  s.clock.advance(100);
  const socket = await within(accepted, 'the attempt');
  const cut = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  const stream = findAudioStream(s.channel)!;
  s.channel.hangup();
  await within(stream.finished, 'the stream to finish');
  await within(cut, 'the attempt cut');
  s.clock.advance(10000);
  assert.deepEqual(s.ev.events.filter((e) => e.name === 'CUSTOM').map((e) => e.subclass), ['mod_audio_stream::connect', 'mod_audio_stream::reconnecting']);
  const m = s.runtime.streams.metrics;
  assert.deepEqual([m.reconnecting, m.open, m.connecting, m.reconnectAttempts], [0, 0, 0, 1]);
});

test('full duplex: what the old connection queued keeps playing through the gap; a mark played meanwhile is answered on the new connection after the metadata', async (t) => {
  const srv = await restartableServer(t);
  const s = countingStream(t, { STREAM_RECONNECT: '5', STREAM_RECONNECT_BACKOFF_MS: '100', STREAM_SAMPLE_RATE: '8000' });
  s.start(srv.url, 'mono 8k {"m":1}');
  const first = await within(srv.server.nextConnection(), 'the first connection');
  await s.ev.waitFor('connect');
  const reply = new Int16Array(8000).fill(1000); // 1 s at 1000
  first.socket.send(Buffer.from(reply.buffer));
  first.socket.send('{"type":"mark","data":{"name":"end"}}');
  await until(() => s.channel.playback.queuedMs >= 900, 5000, 'the reply queued');
  await srv.kill();
  await s.ev.waitFor('reconnecting');
  let loud = 0;
  for (let f = 0; f < 60; f++) {
    const out = s.channel.playback.nextFrame(FRAME);
    if (out && out.some((x) => x > 500)) loud++;
    s.feed(1);
  }
  assert.ok(loud >= 45, `the queued reply played during the gap (${loud} frames)`);
  await srv.restart();
  const secondP = srv.server.nextConnection();
  s.clock.advance(1000);
  const second = await within(secondP, 'the reconnection');
  await second.received('text', 2);
  assert.deepEqual(texts(second).slice(0, 2), ['{"m":1}', '{"type":"mark","data":{"name":"end","event":"played"}}']);
});

test('a server that accepts and closes at once (a crash loop) is tried STREAM_RECONNECT times in all, then the loss is reported as today', async (t) => {
  const srv = await startTestServer({}, (c) => setTimeout(() => c.socket.close(1011, 'crash'), 20));
  t.after(() => srv.close());
  const s = countingStream(t, { STREAM_RECONNECT: '3', STREAM_RECONNECT_BACKOFF_MS: '50' });
  s.start(srv.url, 'mono 8k');
  for (let i = 1; i <= 3; i++) {
    await s.ev.waitFor('reconnecting', 5000, i);
    s.clock.advance(1000); // the backoff, well under RECONNECT_STABLE_MS since the last reconnection
    await s.ev.waitFor('reconnected', 5000, i);
  }
  const body = JSON.parse((await s.ev.waitFor('disconnect')).body!) as unknown;
  assert.deepEqual(body, { status: 'disconnected', message: { code: 1011, reason: 'crash' } });
  assert.equal(srv.connections.length, 4, 'the first connection and 3 attempts');
  assert.deepEqual(s.ev.of('reconnecting').map((e) => (JSON.parse(e.body!) as { attempt: number }).attempt), [1, 2, 3]);
  assert.equal(s.runtime.streams.metrics.reconnectsExhausted, 1);
});

test('a reconnect attempt whose own TLS setup fails (7: the CA file is gone) ends the reconnection at once: no retry can mend it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'as-reconnect-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makeTestPki(dir);
  const srv = await startTlsWsServer({ cert: pki.server.cert, key: pki.server.key });
  let closed = false;
  t.after(() => (closed ? undefined : srv.close()));
  const s = countingStream(t, { STREAM_RECONNECT: '5', STREAM_RECONNECT_BACKOFF_MS: '50', STREAM_TLS_CA_FILE: pki.ca.certFile });
  s.start(`wss://localhost:${srv.port}/tls`, 'mono 8k');
  await within(srv.nextConnection(), 'the first connection');
  await s.ev.waitFor('connect');
  rmSync(pki.ca.certFile); // the operator's CA file goes away
  closed = true;
  await srv.close(); // the server restarts: every connection cut
  await s.ev.waitFor('reconnecting');
  s.clock.advance(100); // the first attempt is due
  const error = errorOf(await s.ev.waitFor('error'));
  assert.equal(error.code, 7);
  s.clock.advance(10_000);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.ev.events.filter((e) => e.name === 'CUSTOM').map((e) => e.subclass),
    ['mod_audio_stream::connect', 'mod_audio_stream::reconnecting', 'mod_audio_stream::error'], 'one attempt, then the error');
  assert.equal(s.runtime.streams.metrics.reconnectAttempts, 1);
});
