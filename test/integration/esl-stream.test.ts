// mod_audio_stream over the Event Socket: a stream started, paused, resumed, sent text and stopped
// with `api uuid_audio_stream ...` on a harness channel against a real WebSocket server; the
// CUSTOM mod_audio_stream::* events reach modesl (plain) and esl-lite (json) with the channel's
// headers and the module's JSON bodies, and the audio reaches the server.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Event as EslEvent } from 'modesl';
import { Runtime } from '../../src/service/runtime.ts';
import { makeChannel, startTestServer, feed, binaries, texts, type TestServer } from '../helpers/harness.ts';
import { sine } from '../helpers/audio.ts';
import { RawEsl, decoded, plainBody } from '../helpers/esl-raw.ts';
import {
  startEsl, modeslConnect, modeslApi, modeslNextEvent, modeslClose, eslLiteClient, type EslFixture,
} from '../helpers/esl-clients.ts';

const tempDir = mkdtempSync(join(tmpdir(), 'as-esl-stream-'));
let esl: EslFixture;
let ws: TestServer;
before(async () => {
  esl = await startEsl({ runtime: new Runtime({ tempDir }) });
  ws = await startTestServer();
});
after(async () => {
  await esl.close();
  await ws.close();
  rmSync(tempDir, { recursive: true, force: true });
});

const SUBCLASSES = ['connect', 'disconnect', 'json', 'error'].map((s) => `mod_audio_stream::${s}`);

test('start, pause, resume, send_text and stop over ESL; CUSTOM events with channel headers and bodies', async () => {
  const { channel } = makeChannel({ runtime: esl.runtime, rateHz: 8000 });
  channel.answer();
  const conn = await modeslConnect(esl.port);
  await new Promise((r) => conn.events('plain', `CUSTOM ${SUBCLASSES.join(' ')}`, r));
  const raw = await RawEsl.authed(esl.port);
  await raw.command(`event plain CUSTOM ${SUBCLASSES.join(' ')}`);
  const lite = eslLiteClient(esl.port);
  const liteConnect = new Promise<{ data: Record<string, unknown>; response: unknown }>((resolve) =>
    lite.custom.on('mod_audio_stream::connect', (d) => resolve({ data: d.body.data, response: d.body.response })));
  await new Promise((r) => setTimeout(r, 200)); // esl-lite subscribes after its auth
  try {
    const serverConn = ws.nextConnection();
    const connected = modeslNextEvent(conn, 'CUSTOM', 'mod_audio_stream::connect');
    assert.equal(await modeslApi(conn, 'uuid_audio_stream', `${channel.uuid} start ${ws.url}/bot mono 16k {"call":"é 1"}`), '+OK Success\n');
    const e = await connected;
    assertChannelHeaders(e, channel.uuid);
    assert.equal(e.getBody(), '{"status":"connected"}');
    const rawConnect = await raw.nextEvent();
    assert.equal(decoded(rawConnect, 'Event-Subclass'), 'mod_audio_stream::connect');
    assert.equal(plainBody(rawConnect), '{"status":"connected"}');
    const lc = await liteConnect;
    assert.equal(lc.data['Unique-ID'], channel.uuid);
    assert.equal(lc.data['Caller-Caller-ID-Number'], '1000');
    assert.equal(lc.response, '{"status":"connected"}');

    const sc = await serverConn;
    feed(channel, sine(1000, 8000, 0.2), null, 160);
    assert.equal(await modeslApi(conn, 'uuid_audio_stream', `${channel.uuid} pause`), '+OK Success\n');
    feed(channel, sine(1000, 8000, 0.2), null, 160);
    assert.equal(await modeslApi(conn, 'uuid_audio_stream', `${channel.uuid} resume`), '+OK Success\n');
    feed(channel, sine(1000, 8000, 0.2), null, 160);
    assert.equal(await modeslApi(conn, 'uuid_audio_stream', `${channel.uuid} send_text {"hello":"bot"}`), '+OK Success\n');

    const json = modeslNextEvent(conn, 'CUSTOM', 'mod_audio_stream::json');
    sc.socket.send('{"type":"note","text":"hi there"}');
    assert.equal((await json).getBody(), '{"type":"note","text":"hi there"}');

    assert.equal(await modeslApi(conn, 'uuid_audio_stream', `${channel.uuid} stop bye`), '+OK Success\n');
    await sc.closed;

    const t = texts(sc);
    assert.deepEqual(t, ['{"call":"é 1"}', '{"hello":"bot"}', 'bye']);
    const audioBytes = binaries(sc).reduce((n, b) => n + b.length, 0);
    // 0.4 s streamed (0.2 s paused) at 16 kHz, 2 bytes per sample
    assert.equal(audioBytes, 0.4 * 16000 * 2);
    assert.match(await modeslApi(conn, 'uuid_audio_stream', `${channel.uuid} stop`), /^-ERR /);
  } finally {
    lite.end();
    raw.close();
    await modeslClose(conn);
    channel.hangup();
  }
});

test('an error from the stream (refused connection) arrives as mod_audio_stream::error', async () => {
  const { channel } = makeChannel({ runtime: esl.runtime });
  const raw = await RawEsl.authed(esl.port);
  await raw.command('event json CUSTOM mod_audio_stream::error');
  const reply = await raw.command(`api uuid_audio_stream ${channel.uuid} start ws://127.0.0.1:1 mono 8k`);
  assert.equal(reply.body.toString(), '+OK Success\n');
  const e = JSON.parse((await raw.nextEvent()).body.toString()) as Record<string, string>;
  assert.equal(e['Event-Subclass'], 'mod_audio_stream::error');
  assert.equal(e['Unique-ID'], channel.uuid);
  const body = JSON.parse(e['_body']!) as { status: string; message: { code: number } };
  assert.equal(body.status, 'error');
  assert.equal(body.message.code, 6);
  assert.equal(e['Content-Length'], String(Buffer.byteLength(e['_body']!)));
  raw.close();
  channel.hangup();
});

function assertChannelHeaders(e: EslEvent, uuid: string): void {
  assert.equal(e.getHeader('Event-Name'), 'CUSTOM');
  assert.equal(e.getHeader('Unique-ID'), uuid);
  assert.equal(e.getHeader('Channel-Name'), 'test/channel');
  assert.equal(e.getHeader('Caller-Caller-ID-Number'), '1000');
  assert.equal(e.getHeader('Caller-Destination-Number'), 'stream');
  assert.equal(e.getHeader('variable_uuid'), uuid);
  assert.ok(e.getHeader('Core-UUID'));
  assert.ok(e.getHeader('Event-Sequence'));
}
