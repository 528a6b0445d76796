// A WebSocket server that misbehaves, for real (`ws` servers on loopback, the real engine and a real
// channel): a ping flood is reported as what it is, and a huge text message does not become a huge
// json event (issue 10, items 10b and 10c).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '../../src/service/runtime.ts';
import { uuidAudioStream } from '../../src/audio-stream/command.ts';
import { addLogSink, type LogLevel } from '../../src/lib/logger.ts';
import { startTestServer, makeChannel, collectEvents, errorOf, within, until, type ServerConnection } from '../helpers/harness.ts';

/** A runtime (with these engine options) and one channel, its stream's log lines and events recorded; all undone after the test. */
function setup(t: TestContext, options: { maxJsonEventBytes?: number } = {}) {
  const tempDir = mkdtempSync(join(tmpdir(), 'as-ws-faults-'));
  const runtime = new Runtime({ tempDir, ...options });
  const { channel } = makeChannel({ runtime });
  const ev = collectEvents(runtime);
  const logs: Array<{ level: LogLevel; message: string }> = [];
  const removeSink = addLogSink((level, scope, message) => { if (scope === `mod_audio_stream(${channel.uuid})`) logs.push({ level, message }); });
  const frame = new Int16Array(160);
  const media = setInterval(() => channel.processFrame(frame, null, performance.now()), 20); // the call goes on in real time
  t.after(() => {
    clearInterval(media);
    removeSink();
    channel.hangup();
    ev.unsubscribe();
    rmSync(tempDir, { recursive: true, force: true });
  });
  return { runtime, channel, ev, logs, start: (url: string) => uuidAudioStream(runtime, `${channel.uuid} start ${url} mono 8k`) };
}

test('a server sending thousands of pings a second: error 11 naming the ping flood, not error 1 "abnormal EOF"; the server got few pongs', async (t) => {
  let pongs = 0;
  let pings = 0;
  const srv = await startTestServer({}, (conn: ServerConnection) => {
    conn.socket.on('pong', () => { pongs++; });
    const flood = setInterval(() => {
      for (let i = 0; i < 50 && conn.socket.readyState === conn.socket.OPEN; i++, pings++) conn.socket.ping();
    }, 10); // 5000 a second
    conn.socket.on('close', () => clearInterval(flood));
  });
  t.after(() => srv.close());
  const s = setup(t);
  assert.equal(s.start(srv.url), '+OK Success\n');
  await s.ev.waitFor('connect');
  const error = errorOf(await s.ev.waitFor('error', 10000));
  assert.equal(error.code, 11);
  assert.equal(error.error, 'WebSocket protocol error (1008): ping flood: 101 pings in 1 s (at most 100 are allowed)');
  const conn = srv.connections[0]!;
  const closed = await within(conn.closed, 'the server side to close');
  t.diagnostic(`the server sent ${pings} pings and got ${pongs} pongs; closed with ${closed.code}`);
  assert.ok(pongs <= 40, `bounded pongs (${pongs})`);
  assert.deepEqual(s.ev.of('disconnect'), []);
  assert.equal(s.runtime.streams.metrics.pingFloods, 1);
  assert.equal(s.runtime.streams.metrics.errorsByCode.get(11), 1);
  assert.ok(s.logs.some((l) => l.level === 'error' && l.message.includes('ping flood')), 'the error log names it');
});

test('a 15 MiB text message becomes no json event: dropped with one error log naming its size and the 1 MiB default bound, counted; smaller ones pass', async (t) => {
  const huge = `{"type":"transcript","text":"${'x'.repeat(15 * 1048576 - 32)}"}`;
  const srv = await startTestServer({ maxPayload: 32 << 20 }, (conn) => {
    conn.socket.send('{"n":1}');
    conn.socket.send(huge);
    conn.socket.send('{"n":2}');
  });
  t.after(() => srv.close());
  const s = setup(t);
  s.start(srv.url);
  await s.ev.waitFor('json', 20000, 2);
  assert.deepEqual(s.ev.of('json').map((e) => e.body), ['{"n":1}', '{"n":2}']);
  const errors = s.logs.filter((l) => l.level === 'error');
  assert.deepEqual(errors.map((l) => l.message), [
    `processMessage - a text message of ${Buffer.byteLength(huge)} bytes is over the bound of 1048576 bytes (stream.maxJsonEventBytes): dropped, no json event`]);
  assert.equal(s.runtime.streams.metrics.jsonEventsDropped, 1);
  assert.deepEqual(s.ev.of('error'), [], 'the stream goes on');
});

test('stream.maxJsonEventBytes reaches the engine: a 4 KiB bound drops a 5000-byte message; a streamAudio larger than it still plays', async (t) => {
  const audio = Buffer.alloc(8000, 7).toString('base64');
  const srv = await startTestServer({}, (conn) => {
    conn.socket.send(`{"text":"${'y'.repeat(5000)}"}`);
    conn.socket.send(JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 8000, audioData: audio } }));
    conn.socket.send('{"after":true}');
  });
  t.after(() => srv.close());
  const s = setup(t, { maxJsonEventBytes: 4096 });
  s.start(srv.url);
  await s.ev.waitFor('json', 10000);
  await until(() => s.ev.of('play').length === 1, 5000, 'the play event');
  assert.deepEqual(s.ev.of('json').map((e) => e.body), ['{"after":true}']);
  assert.equal(s.runtime.streams.metrics.jsonEventsDropped, 1);
  assert.match(s.logs.find((l) => l.level === 'error')!.message, /a text message of 5011 bytes is over the bound of 4096 bytes/);
});
