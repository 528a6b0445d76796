// Every way a stream's WebSocket can fail, produced for real on 127.0.0.1 (ws servers and raw TCP
// servers that answer byte by byte), and the mod_audio_stream event and code each must give: the
// code the real module (FreeSWITCH 1.10.12, libwsc 1.1) reports for the same fault, or ours where
// it reports nothing (the fault matrix of docs/errors.md; README, "Where audio-stream differs"
// items 8, 9 and 12); plus the bounds on what may wait for the network.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { DEFAULT_WS_LIMITS } from '../../src/audio-stream/ws-connection.ts';
import { DEFAULT_CONNECT_TIMEOUT_MS } from '../../src/audio-stream/options.ts';
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

test('connection refused: code 6', async (t) => {
  const port = await closedPort();
  const text = await expectError(t, `ws://127.0.0.1:${port}/x`, 6);
  assert.match(text, /ECONNREFUSED/);
});

test('unknown host name: code 6 (10 if the resolver hangs past the deadline, as the module)', async (t) => {
  // No external network here: the resolver answers NXDOMAIN quickly, and the deadline covers a hang.
  const { ev, start, stop } = streamChannel(t, { STREAM_CONNECT_TIMEOUT_MS: '3000' });
  assert.equal(start('ws://no-such-host.invalid/x'), OK);
  const e = errorOf(await ev.waitFor('error', WAIT_MS));
  if (e.code === 10) assert.match(e.error, /^connection timeout after 3000 ms .*: no TCP connection to no-such-host\.invalid:80$/);
  else {
    assert.equal(e.code, 6, e.error);
    assert.match(e.error, /ENOTFOUND|EAI_AGAIN/);
  }
  assert.match(stop(), /^-ERR /);
});

/**
 * A raw server that accepts TCP and never answers, and a promise of the first bytes of its first
 * connection (the upgrade request or the TLS ClientHello: the client has seen its TCP connect).
 */
async function silentServer(t: TestContext): Promise<{ server: RawServer; accepted: Promise<void> }> {
  let accepted!: () => void;
  const done = new Promise<void>((r) => { accepted = r; });
  const server = await rawServer(t, (socket) => socket.once('data', () => accepted()));
  return { server, accepted: done };
}

test('TCP accepted but no answer: the connect deadline gives code 10 naming the timeout (on fake time)', async (t) => {
  const { server, accepted } = await silentServer(t);
  const clock = new FakeClock();
  const { ev, start, stop } = streamChannel(t, { STREAM_CONNECT_TIMEOUT_MS: '300' }, 8000, clock);
  assert.equal(start(`ws://127.0.0.1:${server.port}/x`), OK);
  await accepted;
  clock.advance(299);
  assert.equal(ev.of('error').length, 0, 'not before the deadline');
  clock.advance(1);
  const e = errorOf(await ev.waitFor('error', WAIT_MS));
  assert.equal(e.code, 10, e.error); // the module: 10 "Timeout" after its own 1 s deadline
  assert.equal(e.error, 'connection timeout after 300 ms (STREAM_CONNECT_TIMEOUT_MS): the server accepted the connection but did not answer the WebSocket upgrade');
  assert.match(stop(), /^-ERR /);
});

test(`the connect deadline is ${DEFAULT_CONNECT_TIMEOUT_MS} ms unless STREAM_CONNECT_TIMEOUT_MS says otherwise (on fake time)`, async (t) => {
  assert.equal(DEFAULT_CONNECT_TIMEOUT_MS, 5000);
  const { server, accepted } = await silentServer(t);
  const clock = new FakeClock();
  const { ev, start } = streamChannel(t, {}, 8000, clock);
  assert.equal(start(`ws://127.0.0.1:${server.port}/x`), OK);
  await accepted;
  clock.advance(4999);
  assert.equal(ev.of('error').length, 0, 'not at 1 s, the deadline of the module');
  clock.advance(1);
  const e = errorOf(await ev.waitFor('error', WAIT_MS));
  assert.equal(e.code, 10, e.error);
  assert.match(e.error, /^connection timeout after 5000 ms /);
});

test('wss:// to a peer that accepts TCP but never speaks TLS: the connect deadline gives code 10 (on fake time)', async (t) => {
  const { server, accepted } = await silentServer(t);
  const clock = new FakeClock();
  const { ev, start } = streamChannel(t, { STREAM_CONNECT_TIMEOUT_MS: '300', STREAM_TLS_CA_FILE: 'NONE' }, 8000, clock);
  assert.equal(start(`wss://127.0.0.1:${server.port}/x`), OK);
  await accepted;
  clock.advance(300);
  const e = errorOf(await ev.waitFor('error', WAIT_MS));
  assert.equal(e.code, 10, e.error);
  assert.equal(e.error, 'connection timeout after 300 ms (STREAM_CONNECT_TIMEOUT_MS): the TLS handshake did not finish');
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

// Answers to the upgrade. The module fails an upgrade with 6 "WebSocket upgrade failed" when the
// answer's head does not hold "HTTP/1.1 101" or lacks a Sec-WebSocket-Accept header, and checks
// nothing else: the other broken 101s below connect with the module; we refuse them with 2.
const HTTP_STATUSES = ['400 Bad Request', '403 Forbidden', '404 Not Found', '500 Internal Server Error', '200 OK'];
for (const status of HTTP_STATUSES) {
  test(`HTTP ${status} instead of 101: code 6 naming the status`, async (t) => {
    const s = await answering(t, () => `HTTP/1.1 ${status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno`);
    const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 6);
    assert.equal(text, `WebSocket upgrade failed: the server answered HTTP ${status} instead of 101 Switching Protocols`);
  });
}

test('101 without Sec-WebSocket-Accept: code 6', async (t) => {
  const s = await answering(t, () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 6);
  assert.equal(text, 'WebSocket upgrade failed: the 101 answer has no Sec-WebSocket-Accept header');
});

test('101 without Upgrade, Connection and Sec-WebSocket-Accept: code 6', async (t) => {
  const s = await answering(t, () => 'HTTP/1.1 101 Switching Protocols\r\n\r\n');
  const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 6);
  assert.match(text, /no Sec-WebSocket-Accept/);
});

test('garbage instead of HTTP: code 6', async (t) => {
  const s = await answering(t, () => Buffer.from('\x00\x01garbage, not HTTP at all\r\n\r\n', 'latin1'));
  const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 6);
  assert.match(text, /^WebSocket upgrade failed: the answer is not HTTP /);
});

test('garbage instead of HTTP, then the server closes: code 6', async (t) => {
  const s = await rawServer(t, (socket) => readRequestHead(socket, () => socket.end('\x00\x01garbage')));
  await expectError(t, `ws://127.0.0.1:${s.port}/x`, 6);
});

test('the server closes TCP during the handshake: code 6', async (t) => {
  const s = await rawServer(t, (socket) => readRequestHead(socket, () => socket.end()));
  const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 6);
  assert.match(text, /closed the connection/);
});

/** Broken 101 answers the module accepts (it connects): ours is code 2, naming what is wrong. */
const BAD_101S: Array<[string, (head: string) => string, RegExp]> = [
  ['a wrong Sec-WebSocket-Accept', () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + 'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n', /Sec-WebSocket-Accept/],
  ['Upgrade: h2c', (head) => switchingProtocols(head).replace('Upgrade: websocket', 'Upgrade: h2c'), /Upgrade/],
  ['no Upgrade and Connection headers', (head) => switchingProtocols(head).replace('Upgrade: websocket\r\nConnection: Upgrade\r\n', ''),
    /no Upgrade: websocket header/],
  ['an extension that was not offered', (head) => switchingProtocols(head).replace('\r\n\r\n', '\r\nSec-WebSocket-Extensions: x-foo\r\n\r\n'),
    /extension/],
  ['a subprotocol that was not offered', (head) => switchingProtocols(head).replace('\r\n\r\n', '\r\nSec-WebSocket-Protocol: chat\r\n\r\n'),
    /subprotocol/],
];
for (const [what, answer, cause] of BAD_101S) {
  test(`101 with ${what}: code 2`, async (t) => {
    const s = await answering(t, answer);
    const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 2);
    assert.match(text, /^invalid WebSocket upgrade answer: /);
    assert.match(text, cause);
  });
}

/** Frame headers with bits changed: `set` ORed into the first byte, `clear` cleared from it. */
function frameWith(opcode: number, payload: Buffer, set: number, clear = 0): Buffer {
  const f = encodeFrame(opcode, payload);
  f[0] = (f[0]! | set) & ~clear;
  return f;
}

// Frames that break the protocol: the module answers Close 1002 (1007 for UTF-8) and reports 11.
const VIOLATIONS: Array<[string, Buffer, string]> = [
  ['a masked frame', encodeFrame(0x1, Buffer.from('{"hello":1}'), true),
    'WebSocket protocol error (1002): the server sent a masked frame (MASK must be clear, WS_ERR_UNEXPECTED_MASK)'],
  ['an unknown opcode', encodeFrame(0x3, Buffer.from('abc')),
    'WebSocket protocol error (1002): the server sent a frame with the unknown opcode 3 (invalid opcode 3, WS_ERR_INVALID_OPCODE)'],
  ['reserved bit RSV1 without an extension', frameWith(0x1, Buffer.from('{}'), 0x40),
    'WebSocket protocol error (1002): the server set the reserved bit RSV1 without a negotiated extension (RSV1 must be clear, WS_ERR_UNEXPECTED_RSV_1)'],
  ['reserved bit RSV2', frameWith(0x1, Buffer.from('{}'), 0x20),
    'WebSocket protocol error (1002): the server set the reserved bits RSV2/RSV3 (RSV2 and RSV3 must be clear, WS_ERR_UNEXPECTED_RSV_2_3)'],
  ['a fragmented control frame', frameWith(0x9, Buffer.from('p'), 0, 0x80),
    'WebSocket protocol error (1002): the server sent a fragmented control frame (FIN must be set, WS_ERR_EXPECTED_FIN)'],
  ['a continuation frame with no message', encodeFrame(0x0, Buffer.from('abc')),
    'WebSocket protocol error (1002): the server sent a continuation frame with no message to continue (invalid opcode 0, WS_ERR_INVALID_OPCODE)'],
  ['a ping over 125 bytes', encodeFrame(0x9, Buffer.alloc(126)),
    'WebSocket protocol error (1002): the server sent a control frame with an invalid length (invalid payload length 126, WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH)'],
  ['invalid UTF-8 in a text frame', encodeFrame(0x1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
    'WebSocket protocol error (1007): the server sent invalid UTF-8 in a text message'],
];
for (const [what, frame, message] of VIOLATIONS) {
  test(`${what} from the server: code 11, and we close with ${message.includes('(1007)') ? 1007 : 1002}`, async (t) => {
    const closeCode = message.includes('(1007)') ? 1007 : 1002;
    let sawClose!: (code: number) => void;
    const closed = new Promise<number>((r) => { sawClose = r; });
    const s = await rawServer(t, (socket) => acceptUpgrade(socket, () => {
      socket.write(frame);
      socket.on('data', (d: Buffer) => {
        // Our Close frame (masked): opcode 8, then the status code under the mask.
        if ((d[0]! & 0x0f) === 0x8 && (d[1]! & 0x7f) >= 2) sawClose(((d[2]! ^ d[6]!) << 8) | (d[3]! ^ d[7]!));
      });
    }));
    const text = await expectError(t, `ws://127.0.0.1:${s.port}/x`, 11);
    assert.equal(text, message);
    assert.equal(await within(closed, 'our Close frame'), closeCode);
  });
}

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

// Close frames from the server are disconnects, with the code and reason libwsc reports.
const CLOSES: Array<[string, Buffer, { code: number; reason: string }]> = [
  ['1002', closePayload(1002, 'protocol'), { code: 1002, reason: 'protocol' }],
  ['1007', closePayload(1007, 'bad data'), { code: 1007, reason: 'bad data' }],
  ['4000', closePayload(4000, 'bye'), { code: 4000, reason: 'bye' }],
  ['no status code (an empty payload): 1000 and no reason', Buffer.alloc(0), { code: 1000, reason: '' }],
  ['the reserved code 1005: 1002 and no reason', closePayload(1005, 'x'), { code: 1002, reason: '' }],
  ['a 1-byte payload: 1002 and no reason', Buffer.from([3]), { code: 1002, reason: '' }],
  ['a reason that is not UTF-8: 1002 and no reason', Buffer.from([0x0f, 0xa0, 0xff, 0xfe]), { code: 1002, reason: '' }],
];

function closePayload(code: number, reason: string): Buffer {
  return Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
}

for (const [what, payload, expected] of CLOSES) {
  test(`a server Close frame with ${what}: a disconnect event, the stream stays attached`, async (t) => {
    const s = await rawServer(t, (socket) => acceptUpgrade(socket, () => {
      socket.write(encodeFrame(0x8, payload));
      setTimeout(() => socket.end(), 50);
    }));
    const { ev, start, stop, channel } = streamChannel(t);
    assert.equal(start(`ws://127.0.0.1:${s.port}/x`), OK);
    await ev.waitFor('connect', WAIT_MS);
    const d = await ev.waitFor('disconnect', WAIT_MS);
    assert.equal(d.body, JSON.stringify({ status: 'disconnected', message: expected }));
    assert.equal(ev.of('error').length, 0);
    assert.ok(findAudioStream(channel), 'stream still attached');
    assert.equal(stop(), OK);
  });
}

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
  assert.equal(e.error, 'the server closed the connection without a WebSocket Close frame (abnormal EOF)');
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
  assert.equal(e.error, 'the connection broke after the upgrade (read ECONNRESET)');
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
