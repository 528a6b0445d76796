// Control exactly like FreeSWITCH: during a real SIPp call, an ESL application (modesl) drives the
// stream; audio-stream cli -x and the HTTP API work against the running service; an outbound
// socket application takes a call from a route.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ulawEncode } from '../../src/codec/g711.ts';
import { startTestServer, binaries, texts, until, type TestServer } from '../helpers/harness.ts';
import { runSipp, requireProgram, calleeHangsUpScenario } from '../helpers/sipp.ts';
import { startServe, runCli, writeServeConfig, type ServeProcess } from '../helpers/serve-process.ts';
import { modeslConnect, modeslApi, modeslNextEvent, modeslClose } from '../helpers/esl-clients.ts';
import type { Event as EslEvent } from 'modesl';
import { sine, pcmFromBuffer, dominantFrequency } from '../helpers/audio.ts';

const dir = mkdtempSync(join(tmpdir(), 'as-control-'));
const ulaw = join(dir, 'tone.ulaw');
let ws: TestServer;
let app: { port: number; close: () => void; sockets: Socket[]; received: string[] };
let svc: ServeProcess;

before(async () => {
  requireProgram('sipp');
  const tone = sine(440, 8000, 30, 0.4);
  const bytes = new Uint8Array(tone.length);
  ulawEncode(tone, bytes);
  writeFileSync(ulaw, bytes);
  ws = await startTestServer();
  app = await startOutboundApp();
  const config = writeServeConfig(join(dir, 'audio-stream.yaml'), {
    rtpPortMin: 38000, rtpPortMax: 38400, tempDir: join(dir, 'play'), eslPassword: 's3cret', routes: `
  - match: { destination: "^app" }
    actions:
      - answer
      - socket: 127.0.0.1:${app.port} async full
  - actions: [ answer, park ]`,
  });
  svc = await startServe(['--config', config]);
});

after(async () => {
  await svc?.stop();
  await ws?.close();
  app?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A tiny outbound ESL application: on each call it starts a stream with sendmsg, then hangs up. */
function startOutboundApp(): Promise<{ port: number; close: () => void; sockets: Socket[]; received: string[] }> {
  const sockets: Socket[] = [];
  const received: string[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    let buffer = '';
    let step = 0;
    socket.on('data', (d) => {
      buffer += d.toString();
      received.push(d.toString());
      if (step === 0 && buffer.includes('\n\n')) {
        step = 1;
        // The channel data reply to `connect`: start a stream, then hang up after a while.
        socket.write(`sendmsg\ncall-command: execute\nexecute-app-name: audio_stream\nexecute-app-arg: start ${ws.url}/outbound mono 8k {"via":"socket"}\n\n`);
        setTimeout(() => socket.write('sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n'), 1500);
      }
    });
    socket.write('connect\n\n');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: (server.address() as { port: number }).port, close: () => { for (const s of sockets) s.destroy(); server.close(); }, sockets, received,
  })));
}

async function http(path: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${svc.httpPort}${path}`, init);
  return { status: res.status, body: await res.text() };
}

test('an ESL application drives a stream on a live SIPp call: start, pause, resume, send_text, stop', async () => {
  const conn = await modeslConnect(svc.eslPort, 's3cret');
  try {
    const subscribed = new Promise<void>((r) => conn.events('plain', 'CHANNEL_ANSWER CUSTOM mod_audio_stream::connect mod_audio_stream::json mod_audio_stream::disconnect', () => r()));
    await subscribed;
    const answered = modeslNextEvent(conn, 'CHANNEL_ANSWER', undefined, 15000);
    const sipp = runSipp({ dir, name: 'esl-call', scenario: calleeHangsUpScenario(ulaw, 30000), target: `127.0.0.1:${svc.sipPort}`,
      service: 'park', mediaPort: 45000 });
    const uuid = (await answered).getHeader('Unique-ID')!;
    assert.ok(uuid);
    const connP = ws.nextConnection();
    const connected = modeslNextEvent(conn, 'CUSTOM', 'mod_audio_stream::connect', 5000);
    assert.equal(await modeslApi(conn, 'uuid_audio_stream', `${uuid} start ${ws.url}/esl mono 16k {"from":"esl"}`), '+OK Success\n');
    const ev = await connected;
    assert.equal(ev.getHeader('Unique-ID'), uuid);
    assert.equal(ev.getHeader('Caller-Caller-ID-Number'), '1000');
    assert.equal(ev.getBody(), '{"status":"connected"}');
    const server = await connP;
    const json = modeslNextEvent(conn, 'CUSTOM', 'mod_audio_stream::json', 5000);
    server.socket.send('{"type":"transcript","text":"hello"}');
    assert.equal((await json).getBody(), '{"type":"transcript","text":"hello"}');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(await modeslApi(conn, 'uuid_audio_stream', `${uuid} pause`), '+OK Success\n');
    // Let what was already in flight arrive (a loaded machine may be slow), then nothing more may come.
    let pausedAt = -1;
    for (let i = 0; i < 30 && pausedAt !== binaries(server).length; i++) {
      pausedAt = binaries(server).length;
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(binaries(server).length, pausedAt, 'nothing sent while paused');
    assert.equal(await modeslApi(conn, 'uuid_audio_stream', `${uuid} send_text hello from the app`), '+OK Success\n');
    assert.equal(await modeslApi(conn, 'uuid_audio_stream', `${uuid} resume`), '+OK Success\n');
    await until(() => binaries(server).length > pausedAt + 10, 5000, 'audio after resume');
    let disconnects = 0;
    const countDisconnects = (e: EslEvent) => { if (e.getHeader('Event-Subclass') === 'mod_audio_stream::disconnect') disconnects++; };
    conn.on('esl::event::**', countDisconnects);
    assert.equal(await modeslApi(conn, 'uuid_audio_stream', `${uuid} stop goodbye`), '+OK Success\n');
    assert.deepEqual(await server.closed, { code: 1000, reason: 'Normal closure' });
    await new Promise((r) => setTimeout(r, 300));
    conn.off('esl::event::**', countDisconnects);
    assert.equal(disconnects, 0, 'a stop fires no disconnect, as the module');
    assert.deepEqual(texts(server), ['{"from":"esl"}', 'hello from the app', 'goodbye']);
    const audio = pcmFromBuffer(Buffer.concat(binaries(server)));
    assert.ok(Math.abs(dominantFrequency(audio.subarray(3200), 16000) - 440) < 3, 'the caller\'s audio');

    // HTTP API and the CLI against the same live call.
    const channels = JSON.parse((await http('/api/channels')).body) as { channels: Array<{ uuid: string }> };
    assert.ok(channels.channels.some((c) => c.uuid === uuid));
    const one = JSON.parse((await http(`/api/channels/${uuid}`)).body) as { variables: Record<string, string> };
    assert.equal(one.variables.sip_from_user, '1000');
    const cmd = await http('/api/command', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command: `uuid_getvar ${uuid} sip_h_X-Test-Case` }) });
    assert.deepEqual(JSON.parse(cmd.body), { ok: true, reply: 'sipp-1' });
    const metrics = await http('/metrics');
    assert.match(metrics.body, /^audio_stream_channels 1$/m);
    assert.match(metrics.body, /^audio_stream_esl_clients 1$/m);
    const bad = await runCli(['cli', '-P', String(svc.eslPort), '-p', 's3cret', '-x', 'uuid_audio_stream 00000000-0000-4000-8000-000000000000 stop']);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^-ERR/);
    const kill = await runCli(['cli', '-H', '127.0.0.1', '-P', String(svc.eslPort), '-p', 's3cret', '-x', `uuid_kill ${uuid}`]);
    assert.equal(kill.code, 0, kill.stderr);
    assert.equal(kill.stdout, '+OK\n');
    const r = await sipp;
    assert.equal(r.code, 0, `SIPp got the BYE of uuid_kill: ${r.stdout}`);
  } finally {
    await modeslClose(conn);
  }
});

test('a route hands the call to an outbound ESL application, which streams it and hangs up', async () => {
  const connP = ws.nextConnection();
  const r = await runSipp({ dir, name: 'outbound', scenario: calleeHangsUpScenario(ulaw, 15000), target: `127.0.0.1:${svc.sipPort}`,
    service: 'app', mediaPort: 45100 });
  assert.equal(r.code, 0, `SIPp got the app's hangup as BYE: ${r.stdout}`);
  const conn = await connP;
  await conn.closed;
  assert.equal(conn.request.url, '/outbound');
  assert.deepEqual(texts(conn)[0], '{"via":"socket"}');
  assert.ok(binaries(conn).length >= 20, 'audio streamed until the app hung up');
  const data = app.received.join('');
  assert.match(data, /Channel-Name: /, 'the app got the channel data');
  assert.match(data, /Caller-Destination-Number: app/);
});

test('HTTP API: health, errors as JSON, bearer-less on loopback, event stream', async () => {
  const health = await http('/health');
  assert.equal(health.status, 200);
  assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok');
  const missing = await http('/api/channels/nope');
  assert.equal(missing.status, 404);
  assert.match((JSON.parse(missing.body) as { error: string }).error, /no such channel/);
  assert.equal((await http('/nope')).status, 404);
  assert.equal((await http('/api/command', { method: 'GET' })).status, 405);
  const badJson = await http('/api/command', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
  assert.equal(badJson.status, 400);
  const unknown = await http('/api/command', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ command: 'no_such_command x' }) });
  assert.deepEqual(JSON.parse(unknown.body), { ok: false, reply: '-ERR no_such_command Command not found!\n' });
  const status = await runCli(['cli', '-P', String(svc.eslPort), '-p', 's3cret', '-x', 'status']);
  assert.equal(status.code, 0);
  assert.match(status.stdout, /UP /);
});
