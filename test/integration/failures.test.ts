// Every way a stream's WebSocket can fail, produced for real on 127.0.0.1 (ws servers and raw TCP
// servers that answer byte by byte), and the mod_audio_stream error code each must give
// (README, "Where audio-stream differs" items 8, 9 and 12; docs/errors.md); plus the bounds on what may wait for the network.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { DEFAULT_WS_LIMITS } from '../../src/audio-stream/ws-connection.ts';
import { findAudioStream, startTestServer, feed, binaries, errorOf, streamChannel, within, type ServerConnection } from '../helpers/harness.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import {
  startRawServer, closedPort, readRequestHead, switchingProtocols, acceptUpgrade, encodeFrame, type RawServer,
} from '../helpers/raw-server.ts';

const OK = '+OK Success\n';
const WAIT_MS = 8000;
const MIB = 1 << 20;

/** A raw TCP server closed after the test. */
async function rawServer(t: TestContext, onSocket?: (socket: Socket) => void): Promise<RawServer> {
  const s = await startRawServer(onSocket);
  t.after(() => s.close());
  return s;
}

/** A recording ws server closed after the test. */
async function wsServer(t: TestContext, ...args: Parameters<typeof startTestServer>) {
  const s = await startTestServer(...args);
  t.after(() => s.close());
  return s;
}

/** Starts a stream to `url` and expects an error event with `code`; the stream is then gone. */
async function expectError(t: TestContext, url: string, code: number, vars: Record<string, string> = {}): Promise<string> {
  const { ev, start, stop } = streamChannel(t, vars);
  assert.equal(start(url), OK);
  const e = errorOf(await ev.waitFor('error', WAIT_MS));
  assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.error}`);
  assert.match(stop(), /^-ERR /);
  return e.error;
}

/** A raw server that answers every upgrade request with `answer(head)` (bytes written as they are). */
function answering(t: TestContext, answer: (head: string) => string | Buffer): Promise<RawServer> {
  return rawServer(t, (socket) => readRequestHead(socket, (head) => socket.write(answer(head))));
}

/** A raw server that completes the handshake, then writes `frame`. */
function handshakeThen(t: TestContext, frame: Buffer): Promise<RawServer> {
  return rawServer(t, (socket) => acceptUpgrade(socket, () => socket.write(frame)));
}

test('connection refused: code 6', async (t) => {
  const port = await closedPort();
  const text = await expectError(t, `ws://127.0.0.1:${port}/x`, 6);
  assert.match(text, /ECONNREFUSED/);
});

test('unknown host name: code 6', async (t) => {
  // No external network here: the resolver answers NXDOMAIN quickly, and the deadline covers a hang.
  const text = await expectError(t, 'ws://no-such-host.invalid/x', 6, { STREAM_CONNECT_TIMEOUT_MS: '3000' });
  assert.match(text, /ENOTFOUND|EAI_AGAIN|timeout/);
});

/** A raw server that accepts TCP and never answers, and a promise of its first connection. */
async function silentServer(t: TestContext): Promise<{ server: RawServer; accepted: Promise<void> }> {
  let accepted!: () => void;
  const done = new Promise<void>((r) => { accepted = r; });
  const server = await rawServer(t, () => accepted());
  return { server, accepted: done };
}

test('TCP accepted but no answer: connect timeout gives code 6 naming the timeout (on fake time)', async (t) => {
  const { server, accepted } = await silentServer(t);
  const clock = new FakeClock();
  const { ev, start, stop } = streamChannel(t, { STREAM_CONNECT_TIMEOUT_MS: '300' }, 8000, clock);
  assert.equal(start(`ws://127.0.0.1:${server.port}/x`), OK);
  await accepted;
  clock.advance(299);
  assert.equal(ev.of('error').length, 0, 'not before the deadline');
  clock.advance(1);
  const e = errorOf(await ev.waitFor('error', WAIT_MS));
  assert.equal(e.code, 6, e.error);
  assert.match(e.error, /timeout/i);
  assert.match(e.error, /300/);
  assert.match(stop(), /^-ERR /);
});

test('wss:// to a peer that accepts TCP but never speaks TLS: the connect timeout gives code 6 (on fake time)', async (t) => {
  const { server, accepted } = await silentServer(t);
  const clock = new FakeClock();
  const { ev, start } = streamChannel(t, { STREAM_CONNECT_TIMEOUT_MS: '300', STREAM_TLS_CA_FILE: 'NONE' }, 8000, clock);
  assert.equal(start(`wss://127.0.0.1:${server.port}/x`), OK);
  await accepted;
  clock.advance(300);
  const e = errorOf(await ev.waitFor('error', WAIT_MS));
  assert.equal(e.code, 6, e.error);
  assert.match(e.error, /timeout/i);
});

test('heartbeat: no pong from the server gives code 5 (on fake time)', async (t) => {
  const s = await wsServer(t, { autoPong: false });
  const clock = new FakeClock();
  const { ev, start, stop } = streamChannel(t, { STREAM_HEART_BEAT: '0.2' }, 8000, clock);
  assert.equal(start(`${s.url}/x`), OK);
  await ev.waitFor('connect', WAIT_MS);
  const conn = await s.nextConnection();
  const pinged = new Promise((resolve) => conn.socket.once('ping', resolve));
  clock.advance(200); // the first ping goes out
  await pinged;
  clock.advance(100);
  assert.equal(ev.of('error').length, 0, 'the pong is not late yet');
  clock.advance(100); // a whole interval without the pong
  const e = errorOf(await ev.waitFor('error', WAIT_MS));
  assert.equal(e.code, 5, e.error);
  assert.match(e.error, /pong/);
  assert.match(stop(), /^-ERR /);
});

test('heartbeat: a server that answers pings keeps the stream up (on fake time)', async (t) => {
  const s = await wsServer(t);
  const clock = new FakeClock();
  const { ev, start, stop, channel } = streamChannel(t, { STREAM_HEART_BEAT: '0.2' }, 8000, clock);
  assert.equal(start(`${s.url}/x`), OK);
  await ev.waitFor('connect', WAIT_MS);
  const conn = await s.nextConnection();
  let pings = 0;
  conn.socket.on('ping', () => {
    pings++;
    conn.socket.send(`after ping ${pings}`); // ws sends its pong first: once this text is here, so is the pong
  });
  for (let i = 1; i <= 3; i++) {
    clock.advance(200);
    await ev.waitFor('json', WAIT_MS, i);
  }
  clock.advance(200);
  assert.equal(pings, 3, 'one ping per interval');
  assert.equal(ev.of('error').length, 0);
  assert.ok(findAudioStream(channel)?.isOpen);
  assert.equal(stop(), OK);
});

test('HTTP 403 instead of 101: code 2 with the status', async (t) => {
  const s = await answering(t, () => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nConnection: close\r\n\r\nforbidden');
  const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 2);
  assert.match(text, /403/);
});

test('101 with a wrong Sec-WebSocket-Accept: code 2', async (t) => {
  const s = await answering(t, () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + 'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n');
  const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 2);
  assert.match(text, /Sec-WebSocket-Accept/);
});

test('101 with Upgrade: h2c: code 2', async (t) => {
  const s = await answering(t, (head) => switchingProtocols(head).replace('Upgrade: websocket', 'Upgrade: h2c'));
  const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 2);
  assert.match(text, /Upgrade/);
});

test('101 with an extension that was not offered: code 2', async (t) => {
  const s = await answering(t, (head) => switchingProtocols(head).replace('\r\n\r\n', '\r\nSec-WebSocket-Extensions: x-foo\r\n\r\n'));
  await expectError(t, `ws://127.0.0.1:${s.port}/x`, 2);
});

test('101 without Sec-WebSocket-Accept: code 2', async (t) => {
  const s = await answering(t, () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  await expectError(t, `ws://127.0.0.1:${s.port}/x`, 2);
});

test('garbage instead of HTTP: code 1', async (t) => {
  const s = await answering(t, () => Buffer.from('\x00\x01garbage, not HTTP at all\r\n\r\n', 'latin1'));
  await expectError(t, `ws://127.0.0.1:${s.port}/x`, 1);
});

test('a masked frame from the server: code 3', async (t) => {
  const s = await handshakeThen(t, encodeFrame(0x1, Buffer.from('{"hello":1}'), true));
  const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 3);
  assert.match(text, /MASK/);
});

test('an unknown opcode: code 4', async (t) => {
  const s = await handshakeThen(t, encodeFrame(0x3, Buffer.from('abc')));
  const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 4);
  assert.match(text, /opcode/i);
});

test('invalid UTF-8 in a text frame: code 1', async (t) => {
  const s = await handshakeThen(t, encodeFrame(0x1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])));
  const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 1);
  assert.match(text, /UTF-8/);
});

test('a message over the incoming limit (20 MB > 16 MiB): code 4, no crash', async (t) => {
  assert.equal(DEFAULT_WS_LIMITS.maxMessageBytes, 16 * MIB);
  const big = 'x'.repeat(20_000_000);
  const s = await wsServer(t, {}, (conn) => conn.socket.send(big));
  const text = await expectError(t, `${s.url}/x`, 4);
  assert.match(text, /length|size|payload/i);
});

test('the server closes with 4001 "bye": disconnect event, the stream stays attached', async (t) => {
  const s = await wsServer(t, {}, (conn) => setImmediate(() => conn.socket.close(4001, 'bye')));
  const { ev, start, stop, channel } = streamChannel(t);
  assert.equal(start(`${s.url}/x`), OK);
  await ev.waitFor('connect', WAIT_MS);
  const d = await ev.waitFor('disconnect', WAIT_MS);
  assert.equal(d.body, '{"status":"disconnected","message":{"code":4001,"reason":"bye"}}');
  assert.equal(ev.of('error').length, 0);
  assert.ok(findAudioStream(channel), 'stream still attached');
  feed(channel, new Int16Array(160 * 5), null, 160); // silent: nothing to send to, nothing thrown
  assert.equal(stop(), OK);
  assert.equal(findAudioStream(channel), undefined);
});

/** Starts a stream whose server sends one raw play message; resolves with the play file path and the server connection. */
async function streamWithPlayFile(t: TestContext) {
  const s = await wsServer(t);
  const ctx = streamChannel(t);
  assert.equal(ctx.start(`${s.url}/x`), OK);
  await ctx.ev.waitFor('connect', WAIT_MS);
  const conn: ServerConnection = await s.nextConnection();
  const audioData = Buffer.alloc(320, 7).toString('base64');
  conn.socket.send(JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 8000, audioData } }));
  const play = await ctx.ev.waitFor('play', WAIT_MS);
  const file = (JSON.parse(play.body!) as { file: string }).file;
  assert.ok(file.startsWith(join(ctx.tempDir, `${ctx.channel.uuid}_`)), file);
  assert.ok(file.endsWith('.tmp.r8'), file);
  assert.ok(existsSync(file));
  return { ...ctx, conn, file };
}

test('the server drops TCP after open (FIN, no Close frame): code 1, stream gone, play file deleted', async (t) => {
  const { ev, stop, conn, file, channel } = await streamWithPlayFile(t);
  const stream = findAudioStream(channel)!;
  conn.socket.terminate();
  const e = errorOf(await ev.waitFor('error', WAIT_MS));
  assert.equal(e.code, 1, e.error);
  assert.equal(ev.of('disconnect').length, 0);
  assert.equal(findAudioStream(channel), undefined);
  assert.match(stop(), /^-ERR /);
  await stream.finished;
  assert.ok(!existsSync(file), 'play file deleted');
});

test('the server resets TCP after open (RST): code 1, stream gone, play file deleted', async (t) => {
  const { ev, stop, conn, file, channel } = await streamWithPlayFile(t);
  const stream = findAudioStream(channel)!;
  conn.request.socket.resetAndDestroy();
  const e = errorOf(await ev.waitFor('error', WAIT_MS));
  assert.equal(e.code, 1, e.error);
  assert.match(stop(), /^-ERR /);
  await stream.finished;
  assert.ok(!existsSync(file), 'play file deleted');
});

test('while connecting, the queue is bounded: 30 s of audio queues at most 1 MiB / 1024 messages and counts drops', async (t) => {
  const { server: s, accepted } = await silentServer(t);
  const { start, channel, ev } = streamChannel(t, { STREAM_CONNECT_TIMEOUT_MS: '60000' });
  assert.equal(start(`ws://127.0.0.1:${s.port}/x`), OK);
  await accepted;
  const stream = findAudioStream(channel)!;
  const frame = new Int16Array(160);
  let maxBuffered = 0;
  for (let i = 0; i < 1500; i++) {
    feed(channel, frame, null, 160);
    maxBuffered = Math.max(maxBuffered, stream.bufferedBytes);
  }
  assert.ok(maxBuffered <= MIB, `buffered ${maxBuffered} bytes`);
  assert.ok(maxBuffered > 0);
  assert.equal(stream.isOpen, false);
  assert.ok(stream.stats.messagesDropped > 0, 'drops counted');
  assert.equal(stream.stats.messagesDropped, 1500 - DEFAULT_WS_LIMITS.maxQueuedMessages);
  assert.equal(ev.of('error').length, 0);
});

/**
 * Feeds 48 kHz stereo frames (3840-byte messages) to an open stream whose server stopped reading,
 * until drops start; checks that the bytes waiting stay within 1 MiB (+ one message) throughout.
 */
async function feedSlowReader(t: TestContext, stream: NonNullable<ReturnType<typeof findAudioStream>>,
  channel: ReturnType<typeof streamChannel>['channel'], noise: boolean): Promise<void> {
  const messageBytes = stream.chunkByteLength;
  assert.equal(messageBytes, 960 * 2 * 2);
  const read = new Int16Array(960);
  const write = new Int16Array(960);
  let seed = 12345;
  const fill = () => {
    for (let i = 0; i < 960; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0; // noise does not deflate away
      read[i] = (seed >>> 16) - 32768;
      write[i] = (seed & 0xffff) - 32768;
    }
  };
  fill();
  let maxBuffered = 0;
  let frames = 0;
  const step = () => {
    if (noise) fill();
    channel.processFrame(read, write, performance.now());
    frames++;
    maxBuffered = Math.max(maxBuffered, stream.bufferedBytes);
  };
  // Up to ~400 MB of audio: far more than loopback socket buffers hold; stops as soon as drops start.
  for (let batch = 0; batch < 200 && stream.stats.messagesDropped === 0; batch++) {
    for (let i = 0; i < 500; i++) step();
    await new Promise((r) => setImmediate(r));
  }
  t.diagnostic(`drops started within ${frames} frames (${(frames * messageBytes / MIB).toFixed(1)} MiB)`);
  assert.ok(stream.stats.messagesDropped > 0, `no drops after ${frames} frames`);
  assert.ok(maxBuffered <= MIB + messageBytes, `buffered ${maxBuffered} bytes`);
  assert.ok(stream.isOpen);
  // Keep feeding: still bounded, drops keep counting.
  const dropped = stream.stats.messagesDropped;
  for (let i = 0; i < 500; i++) step();
  assert.ok(stream.stats.messagesDropped > dropped);
  assert.ok(maxBuffered <= MIB + messageBytes, `buffered ${maxBuffered} bytes`);
}

test('a server that stops reading: buffered bytes stay bounded and drops are counted', async (t) => {
  let paused: Socket | undefined;
  const s = await rawServer(t, (socket) => acceptUpgrade(socket, () => { socket.pause(); paused = socket; }));
  const { start, channel, ev } = streamChannel(t, { STREAM_MESSAGE_DEFLATE: 'true' }, 48000);
  assert.equal(start(`ws://127.0.0.1:${s.port}/x`, 'stereo 48000'), OK);
  await ev.waitFor('connect', WAIT_MS);
  assert.ok(paused);
  await feedSlowReader(t, findAudioStream(channel)!, channel, false);
  assert.equal(ev.of('error').length, 0);
});

test('a server that stops reading, with permessage-deflate: still bounded', async (t) => {
  const s = await wsServer(t, { perMessageDeflate: true }, (conn) => conn.request.socket.pause());
  const { start, channel, ev } = streamChannel(t, {}, 48000);
  assert.equal(start(`${s.url}/x`, 'stereo 48000'), OK);
  await ev.waitFor('connect', WAIT_MS);
  const conn = await s.nextConnection();
  assert.match(conn.socket.extensions, /permessage-deflate/);
  await feedSlowReader(t, findAudioStream(channel)!, channel, true);
  assert.equal(ev.of('error').length, 0);
});

test('after open, audio and text reach a normal server (sanity check of the harness)', async (t) => {
  const s = await wsServer(t);
  const { ev, start, stop, channel } = streamChannel(t);
  assert.equal(start(`${s.url}/x`), OK);
  await ev.waitFor('connect', WAIT_MS);
  const conn = await s.nextConnection();
  feed(channel, new Int16Array(160 * 3), null, 160);
  await conn.received('binary', 3, WAIT_MS);
  assert.equal(binaries(conn).length, 3);
  assert.equal(stop(), OK);
  assert.equal((await conn.closed).code, 1000);
});

test('a server Close frame gives the disconnect event even if the server then keeps TCP open', async (t) => {
  const closeFrame = encodeFrame(0x8, Buffer.concat([Buffer.from([0x0f, 0xa1]), Buffer.from('bye')])); // 4001 "bye"
  const s = await rawServer(t, (socket) => acceptUpgrade(socket, () => { socket.write(closeFrame); socket.pause(); }));
  const { ev, start, stop, channel } = streamChannel(t);
  assert.equal(start(`ws://127.0.0.1:${s.port}/x`), OK);
  await ev.waitFor('connect', WAIT_MS);
  const d = await ev.waitFor('disconnect', WAIT_MS);
  assert.equal(d.body, '{"status":"disconnected","message":{"code":4001,"reason":"bye"}}');
  assert.equal(ev.of('error').length, 0);
  assert.ok(findAudioStream(channel));
  assert.equal(stop(), OK);
});

test('stop to a server that never answers the Close: the socket is cut and the stream ends', async (t) => {
  const s = await rawServer(t, (socket) => acceptUpgrade(socket, () => socket.pause()));
  const { ev, start, stop, channel } = streamChannel(t);
  assert.equal(start(`ws://127.0.0.1:${s.port}/x`), OK);
  await ev.waitFor('connect', WAIT_MS);
  const stream = findAudioStream(channel)!;
  assert.equal(stop(), OK);
  assert.equal(findAudioStream(channel), undefined);
  await within(stream.finished, 'the stream to end after the close wait');
  assert.equal(ev.of('disconnect').length, 0, 'our own stop fires no event, as the module');
  const serverSide = s.sockets[0]!;
  const gone = new Promise((resolve) => serverSide.once('close', resolve));
  serverSide.resume(); // reads our Close frame, then sees the connection end
  await gone;
  assert.equal(ev.of('error').length, 0);
});
