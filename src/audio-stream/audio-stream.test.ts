import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerOptions } from 'ws';
import { AudioStream } from './audio-stream.ts';
import { FakeClock } from '../../test/helpers/fake-clock.ts';
import {
  within, streamChannel, collectEvents, feed, startTestServer, binaries, texts,
  type ServerConnection, type TestServer,
} from '../../test/helpers/harness.ts';
import { closedPort } from '../../test/helpers/raw-server.ts';
import { sine, dominantFrequency, pcmFromBuffer } from '../../test/helpers/audio.ts';

/** Resolves once the server side of a connection holds at least `n` messages. */
const serverMessages = (conn: ServerConnection, n: number): Promise<void> => conn.received('any', n);

async function testServer(t: TestContext, options: Omit<ServerOptions, 'port' | 'host'> = {}, onConnection?: (c: ServerConnection) => void): Promise<TestServer> {
  const srv = await startTestServer(options, onConnection);
  t.after(() => srv.close());
  return srv;
}

/** A runtime on fake time with its own temp dir, one 8 kHz / 20 ms channel and an event collector; all undone after the test. */
function setup(t: TestContext, vars: Record<string, string> = {}) {
  const clock = new FakeClock();
  const { runtime, channel, endpoint, ev, tempDir } = streamChannel(t, vars, 8000, clock);
  const start = (url: string, mix = 'mono', rate: string | undefined = '8k', metadata: string | undefined = undefined) =>
    runtime.streams.start(channel, { url, mix, rate, metadata });
  /** Starts and returns the stream, failing the test if start fails. */
  const started = (url: string, mix = 'mono', rate: string | undefined = '8k', metadata: string | undefined = undefined): AudioStream => {
    const r = start(url, mix, rate, metadata);
    assert.ok(r.ok, r.ok ? '' : `start failed: ${r.error.code} ${r.error.message}`);
    return r.value;
  };
  return { runtime, channel, endpoint, ev, start, started, tempDir, clock };
}

/** A frame-sized ramp of distinct values. */
function ramp(n: number, start: number, step = 1): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => start + i * step);
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

const samples = (bufs: Buffer[]) => concat(bufs.map((b) => Int16Array.from(pcmFromBuffer(b))));

test('start validation failures return { ok: false } with their code and attach nothing', async (t) => {
  const srv = await testServer(t);
  const s = setup(t);
  const cases: Array<[Parameters<typeof s.start>, string, RegExp]> = [
    [[srv.url, 'quad'], 'INVALID_ARGUMENT', /invalid mix type: quad/],
    [[srv.url, 'mono', '12k'], 'INVALID_ARGUMENT', /invalid sample rate "12k"/],
    [['http://127.0.0.1:9', 'mono'], 'INVALID_ARGUMENT', /must start with ws:\/\/ or wss:\/\//],
    [['ws://127.0.0.1:9/#x', 'mono'], 'INVALID_ARGUMENT', /fragments are not allowed/],
    [[srv.url, 'mono', '8k', '{"x":"\ud800"}'], 'INVALID_ARGUMENT', /metadata is not valid UTF-8/],
    [[srv.url, 'mono', '8k', 'x'.repeat(64 * 1024 + 1)], 'INVALID_ARGUMENT', /metadata longer than 65536 bytes/],
  ];
  for (const [args, code, message] of cases) {
    const r = s.start(...args);
    assert.equal(r.ok, false, String(args[1]));
    if (r.ok) continue;
    assert.equal(r.error.code, code);
    assert.match(r.error.message, message);
  }
  assert.equal(s.endpoint.preAnswered, 0, 'arguments are checked before the channel is pre-answered');
  assert.equal(s.runtime.streams.find(s.channel), undefined);
  assert.equal(s.runtime.streams.metrics.started, 0);

  s.endpoint.allowPreAnswer = false;
  const noMedia = s.start(srv.url);
  assert.equal(noMedia.ok, false);
  assert.equal(!noMedia.ok && noMedia.error.code, 'CHANNEL_NO_MEDIA');
  assert.equal(s.endpoint.preAnswered, 1);
  assert.equal(s.runtime.streams.find(s.channel), undefined);
  assert.equal(s.channel.answerState, 'ringing');

  s.endpoint.allowPreAnswer = true;
  const first = s.started(srv.url, 'MONO', undefined);
  assert.equal(s.channel.answerState, 'early', 'start pre-answered the channel');
  const progress = await s.ev.waitForEvent('CHANNEL_PROGRESS_MEDIA');
  assert.equal(progress.get('Unique-ID'), s.channel.uuid);
  assert.equal(s.runtime.streams.find(s.channel), first);
  assert.equal(first.chunkByteLength, 320, 'no rate given: 8 kHz, 20 ms');
  const again = s.start(srv.url, 'stereo', '16k');
  assert.equal(again.ok, false);
  assert.equal(!again.ok && again.error.code, 'STREAM_EXISTS');
  assert.equal(s.runtime.streams.find(s.channel), first, 'the first stream is untouched');
  assert.equal(s.runtime.streams.metrics.started, 1);
  await s.ev.waitFor('connect');
});

test('metadata reaches the server first, even with audio fed while connecting', async (t) => {
  const srv = await testServer(t);
  const s = setup(t);
  const stream = s.started(srv.url, 'mono', '8k', '{"call":"meta"}');
  assert.equal(stream.isOpen, false);
  const signal = ramp(160 * 10, -4000, 3);
  assert.equal(feed(s.channel, signal, null, 160), 10);
  assert.equal(stream.bufferedBytes, 10 * 320, 'queued while connecting');
  const sc = await within(srv.nextConnection(), 'a server connection');
  const connect = await s.ev.waitFor('connect');
  assert.equal(connect.body, '{"status":"connected"}');
  assert.equal(connect.get('Unique-ID'), s.channel.uuid);
  await serverMessages(sc, 11);
  assert.deepEqual(sc.messages[0], { kind: 'text', text: '{"call":"meta"}' });
  const audio = sc.messages.slice(1);
  assert.ok(audio.every((m) => m.kind === 'binary' && m.data.length === 320));
  assert.deepEqual(samples(binaries(sc)), signal, 'the audio queued while connecting, in order and intact');
  assert.equal(stream.isOpen, true);
});

test('pause drops the audio until resume', async (t) => {
  const srv = await testServer(t);
  const s = setup(t);
  const stream = s.started(srv.url);
  const sc = await within(srv.nextConnection(), 'a server connection');
  await s.ev.waitFor('connect');
  const a = new Int16Array(160 * 3).fill(111);
  const b = new Int16Array(160 * 3).fill(222);
  const c = new Int16Array(160 * 2).fill(333);
  feed(s.channel, a, null, 160);
  stream.pause();
  stream.pause(); // idempotent
  assert.equal(stream.isPaused, true);
  feed(s.channel, b, null, 160);
  stream.resume();
  assert.equal(stream.isPaused, false);
  feed(s.channel, c, null, 160);
  await serverMessages(sc, 5);
  // Messages keep their order on the socket: anything sent while paused would be before the last one.
  assert.deepEqual(binaries(sc).map((m) => pcmFromBuffer(m)[0]), [111, 111, 111, 333, 333]);
  assert.deepEqual(samples(binaries(sc)), concat([a, c]));
  assert.equal(stream.stats.messagesSent, 5);
});

test('stop flushes the partial chunk, sends the stop text, closes with 1000 and detaches', async (t) => {
  const srv = await testServer(t);
  const s = setup(t);
  const stream = s.started(srv.url, 'mono', '8k', 'hello');
  const sc = await within(srv.nextConnection(), 'a server connection');
  await s.ev.waitFor('connect');
  const signal = ramp(400, 100, 2); // two 20 ms messages and 80 samples over
  feed(s.channel, signal, null, 160);
  stream.stop('bye now');
  assert.equal(s.runtime.streams.find(s.channel), undefined, 'detached at once');
  feed(s.channel, ramp(160, 0), null, 160); // no longer reaches the stream
  stream.stop('again'); // idempotent
  const closed = await within(sc.closed, 'the close frame');
  assert.deepEqual(closed, { code: 1000, reason: 'Normal closure' });
  assert.deepEqual(texts(sc), ['hello', 'bye now']);
  assert.deepEqual(sc.messages.map((m) => (m.kind === 'text' ? m.text : m.data.length)), ['hello', 320, 320, 160, 'bye now']);
  assert.deepEqual(samples(binaries(sc)), signal, 'the tail is the last 80 samples');
  await within(stream.finished, 'finished');
  assert.equal(s.ev.of('disconnect').length, 0, 'a stop fires no disconnect, as the module');
  assert.equal(s.ev.of('error').length, 0);
});

test('stop while connecting keeps the metadata, the audio and the stop text, then closes; no event fires', async (t) => {
  const srv = await testServer(t);
  const s = setup(t);
  const stream = s.started(srv.url, 'mono', '8k', '{"m":1}');
  const signal = ramp(200, -100);
  feed(s.channel, signal, null, 160);
  stream.stop('bye');
  const sc = await within(srv.nextConnection(), 'a server connection');
  assert.deepEqual(await within(sc.closed, 'the close frame'), { code: 1000, reason: 'Normal closure' });
  assert.deepEqual(sc.messages.map((m) => (m.kind === 'text' ? m.text : m.data.length)), ['{"m":1}', 320, 80, 'bye']);
  assert.deepEqual(samples(binaries(sc)), signal);
  await within(stream.finished, 'finished');
  assert.equal(s.ev.of('connect').length, 0, 'no connect event for a stopped stream');
  assert.equal(s.ev.of('disconnect').length, 0);
});

test('stop while connecting to a server that refuses: +OK, then no error event ever', async (t) => {
  const s = setup(t);
  const port = await closedPort();
  const stream = s.started(`ws://127.0.0.1:${port}/`, 'mono', '8k', 'meta');
  stream.stop('bye');
  await within(stream.finished, 'finished');
  assert.deepEqual(s.ev.events.filter((e) => e.subclass?.startsWith('mod_audio_stream::')).map((e) => e.subclass), [], 'nothing fires after a stop');
  assert.equal(s.runtime.streams.find(s.channel), undefined);
});

test('a codec change keeps the requested rate: same message size, same pitch', async (t) => {
  const srv = await testServer(t);
  const s = setup(t);
  const stream = s.started(srv.url, 'mono', '16k');
  assert.equal(stream.chunkByteLength, 640);
  const sc = await within(srv.nextConnection(), 'a server connection');
  await s.ev.waitFor('connect');
  feed(s.channel, sine(440, 8000, 0.5), null, 160);
  s.channel.setCodec({ name: 'L16', rateHz: 16000, ptimeMs: 20 });
  feed(s.channel, sine(440, 16000, 0.5), null, 320);
  stream.stop();
  await within(sc.closed, 'the close frame');
  const msgs = binaries(sc);
  for (const m of msgs.slice(0, -1)) assert.equal(m.length, 640, 'every message but the tail is 20 ms at 16 kHz');
  const all = samples(msgs);
  // One second at 16 kHz (less a few samples of resampler delay): a stream that kept resampling
  // from 8 kHz would have sent 1.5 s.
  assert.ok(all.length >= 15_800 && all.length <= 16_000, `got ${all.length} samples`);
  const f1 = dominantFrequency(all.subarray(800, 7500), 16000);
  const f2 = dominantFrequency(all.subarray(8500, 15_500), 16000);
  assert.ok(Math.abs(f1 - 440) < 3, `before the change: ${f1} Hz`);
  assert.ok(Math.abs(f2 - 440) < 3, `after the change: ${f2} Hz`);
});

test('a codec change of packet time: silent ticks follow the new frame size', async (t) => {
  const srv = await testServer(t);
  const s = setup(t);
  s.started(srv.url, 'mixed', '8k');
  const sc = await within(srv.nextConnection(), 'a server connection');
  await s.ev.waitFor('connect');
  s.channel.processFrame(null, null, 0); // 20 ms of silence: one message
  s.channel.setCodec({ name: 'L16', rateHz: 8000, ptimeMs: 40 });
  s.channel.processFrame(null, null, 0); // 40 ms: two messages
  s.channel.processFrame(null, null, 0);
  await serverMessages(sc, 5);
  assert.deepEqual(binaries(sc), Array.from({ length: 5 }, () => Buffer.alloc(320)));
});

test("the engine's metrics follow the streams", async (t) => {
  const srv = await testServer(t);
  const s = setup(t);
  const m = s.runtime.streams.metrics;
  assert.deepEqual([m.started, m.connecting, m.open, m.messagesSent], [0, 0, 0, 0]);
  const stream = s.started(srv.url, 'mono', '8k', 'meta');
  assert.deepEqual([m.started, m.connecting, m.open], [1, 1, 0]);
  feed(s.channel, ramp(160 * 3, 0), null, 160);
  assert.equal(m.messagesSent, 0, 'queued, not sent yet');
  const sc = await within(srv.nextConnection(), 'a server connection');
  await s.ev.waitFor('connect');
  assert.deepEqual([m.connecting, m.open], [0, 1]);
  assert.equal(m.messagesSent, 4, 'metadata and three messages');
  assert.equal(m.bytesSent, 4 + 3 * 320);
  feed(s.channel, ramp(160 * 2, 0), null, 160);
  assert.equal(m.messagesSent, 6);
  assert.equal(m.messagesDropped, 0);
  stream.stop();
  await within(stream.finished, 'finished');
  await within(sc.closed, 'the close frame');
  assert.deepEqual([m.started, m.connecting, m.open], [1, 0, 0]);

  // A stream whose connection fails: the gauge goes back and the error is counted by number.
  const port = await closedPort();
  const failing = s.started(`ws://127.0.0.1:${port}`);
  assert.deepEqual([m.started, m.connecting, m.open], [2, 1, 0]);
  const error = await s.ev.waitFor('error');
  assert.deepEqual(JSON.parse(error.body!).message.code, 6);
  await within(failing.finished, 'finished');
  assert.deepEqual([m.started, m.connecting, m.open], [2, 0, 0]);
  assert.deepEqual([...m.errorsByCode], [[6, 1]]);
  assert.equal(s.runtime.streams.find(s.channel), undefined, 'an error tears the stream down');
});

test("the server's close leaves the stream attached and silent until stop", async (t) => {
  const srv = await testServer(t, {}, (sc) => sc.socket.close(4000, 'done with you'));
  const s = setup(t);
  const stream = s.started(srv.url);
  const disconnect = await s.ev.waitFor('disconnect');
  assert.equal(disconnect.body, '{"status":"disconnected","message":{"code":4000,"reason":"done with you"}}');
  assert.equal(s.runtime.streams.find(s.channel), stream, 'still attached');
  assert.equal(s.runtime.streams.metrics.open, 0);
  feed(s.channel, ramp(160, 1), null, 160);
  assert.equal(stream.stats.messagesDropped, 0, 'nothing is sent, nor counted as dropped');
  let finished = false;
  void stream.finished.then(() => { finished = true; });
  await new Promise((r) => setImmediate(r));
  assert.equal(finished, false, 'not finished before stop');
  stream.stop();
  await within(stream.finished, 'finished');
  assert.equal(s.runtime.streams.find(s.channel), undefined);
  assert.equal(s.ev.of('disconnect').length, 1, 'no second disconnect on stop');
});

test('play files are numbered per channel across streams and deleted when each stream ends', async (t) => {
  const streamAudio = '{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":8000,"audioData":"AAAA"}}';
  const srv = await testServer(t, {}, (sc) => sc.socket.send(streamAudio));
  const s = setup(t);
  const first = s.started(srv.url);
  const play1 = await s.ev.waitFor('play');
  const f0 = join(s.tempDir, `${s.channel.uuid}_0.tmp.r8`);
  assert.equal(play1.body, JSON.stringify({ audioDataType: 'raw', sampleRate: 8000, file: f0 }));
  assert.deepEqual(readFileSync(f0), Buffer.alloc(3), '"AAAA" is three zero bytes');
  first.stop();
  await within(first.finished, 'the first stream finished');
  assert.equal(existsSync(f0), false, 'deleted once the stream is finished');

  const ev2 = collectEvents(s.runtime);
  t.after(() => ev2.unsubscribe());
  const second = s.started(srv.url);
  const play2 = await ev2.waitFor('play');
  const f1 = join(s.tempDir, `${s.channel.uuid}_1.tmp.r8`);
  assert.equal(play2.body, JSON.stringify({ audioDataType: 'raw', sampleRate: 8000, file: f1 }));
  assert.deepEqual(readFileSync(f1), Buffer.alloc(3));
  assert.equal(ev2.of('json').length, 0);
  second.stop();
  await within(second.finished, 'the second stream finished');
  assert.deepEqual(readdirSync(s.tempDir), []);
});
