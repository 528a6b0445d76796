// Outbound Event Socket (`socket` application): a tiny ESL application server in the test (a plain
// net server) receives the call, sends `connect` and gets the channel data, subscribes with
// myevents, lingers, answers the call and starts a stream on it with sendmsg, then hangs up.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '../../src/service/runtime.ts';
import { SOCKET_APPLICATION, connectOutbound, parseSocketTarget } from '../../src/esl/outbound.ts';
import type { Channel } from '../../src/channel/channel.ts';

/** Runs the `socket` application on a channel; resolves with its Application-Response. */
async function socketApplication(runtime: Runtime, channel: Channel, data: string): Promise<string> {
  const r = await SOCKET_APPLICATION.run(channel, data, { esl: runtime.esl });
  return r.ok ? r.value : `-ERR ${r.error.message}`;
}
import { makeChannel, startTestServer, feed, binaries, texts, until, type TestServer } from '../helpers/harness.ts';
import { sine } from '../helpers/audio.ts';
import { RawEsl, decoded, plainBody, type EslFrame } from '../helpers/esl-raw.ts';

const tempDir = mkdtempSync(join(tmpdir(), 'as-esl-out-'));
let ws: TestServer;
before(async () => { ws = await startTestServer(); });
after(async () => {
  await ws.close();
  rmSync(tempDir, { recursive: true, force: true });
});

/** An ESL application server: hands each accepted call connection to `onCall`. */
async function appServer(onCall: (app: RawEsl) => Promise<void>): Promise<{ port: number; server: Server; done: Promise<void> }> {
  let resolveDone!: () => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => { resolveDone = res; rejectDone = rej; });
  const server = createServer((socket: Socket) => {
    onCall(RawEsl.wrap(socket)).then(resolveDone, rejectDone);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server, done };
}

function replyText(f: EslFrame): string | undefined {
  return f.headers.get('reply-text');
}

async function nextEventNamed(app: RawEsl, name: string, subclass?: string): Promise<EslFrame> {
  return app.nextEvent((f) => decoded(f, 'Event-Name') === name && (subclass === undefined || decoded(f, 'Event-Subclass') === subclass));
}

test('socket async full: connect, myevents, linger, answer and audio_stream by sendmsg, hangup, exit', async () => {
  const runtime = new Runtime({ tempDir });
  const { channel, endpoint } = makeChannel({ runtime, rateHz: 8000 });
  const wsConn = ws.nextConnection();
  const app = await appServer(async (a) => {
    const data = await a.command('connect');
    // The channel data: a serialized CHANNEL_DATA event (values URL-encoded) ending with the reply headers.
    assert.equal(data.headers.get('content-type'), 'command/reply');
    assert.equal(data.headers.get('reply-text'), '%2BOK%0A');
    assert.equal(data.headers.get('socket-mode'), 'async');
    assert.equal(data.headers.get('control'), 'full');
    assert.equal(data.headers.get('event-name'), 'CHANNEL_DATA');
    assert.equal(data.headers.get('unique-id'), channel.uuid);
    assert.equal(data.headers.get('channel-caller-id-number'), '1000');
    assert.equal(data.headers.get('caller-destination-number'), 'stream');
    assert.equal(data.headers.get('variable_socket_host'), '127.0.0.1');
    assert.ok(data.raw.toString().endsWith('Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n'));
    assert.equal(replyText(await a.command('myevents')), '+OK Events Enabled');
    assert.equal(replyText(await a.command('linger')), '+OK will linger');
    assert.equal(replyText(await a.command('event plain CUSTOM mod_audio_stream::connect mod_audio_stream::disconnect')),
      '+OK event listener enabled plain');
    assert.equal((await a.command('api uuid_getvar ' + channel.uuid + ' caller_id_name')).body.toString(), 'Tester');
    assert.equal(replyText(await a.command('sendmsg\ncall-command: execute\nexecute-app-name: answer')), '+OK');
    await nextEventNamed(a, 'CHANNEL_ANSWER');
    const start = `start ${ws.url}/outbound mono 8k {"from":"outbound"}`;
    assert.equal(replyText(await a.command(`sendmsg\ncall-command: execute\nexecute-app-name: audio_stream\nexecute-app-arg: ${start}`)), '+OK');
    const connected = await nextEventNamed(a, 'CUSTOM', 'mod_audio_stream::connect');
    assert.equal(decoded(connected, 'Unique-ID'), channel.uuid);
    assert.equal(plainBody(connected), '{"status":"connected"}');
    const complete = await a.nextEvent((f) => decoded(f, 'Event-Name') === 'CHANNEL_EXECUTE_COMPLETE' && decoded(f, 'Application') === 'audio_stream');
    assert.equal(decoded(complete, 'Application-Response'), '+OK Success');
    feed(channel, sine(800, 8000, 0.1), null, 160);
    assert.equal(replyText(await a.command('sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING')), '+OK');
    await nextEventNamed(a, 'CHANNEL_HANGUP');
    await nextEventNamed(a, 'CHANNEL_HANGUP_COMPLETE');
    const linger = await a.nextReply();
    assert.equal(linger.headers.get('content-disposition'), 'linger');
    assert.equal(linger.headers.get('controlled-session-uuid'), channel.uuid);
    a.send('exit\n\n');
    assert.equal(replyText(await a.nextReply()), '+OK bye');
    const bye = await a.nextReply();
    assert.equal(bye.raw.toString(), `Content-Type: text/disconnect-notice\nControlled-Session-UUID: ${channel.uuid}\n`
      + 'Content-Disposition: disconnect\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n');
    await a.closed;
  });
  try {
    const result = socketApplication(runtime, channel, `127.0.0.1:${app.port} async full`);
    await app.done;
    assert.equal(await result, '+OK');
    assert.equal(endpoint.answered, 1);
    assert.equal(endpoint.hungUp, 'NORMAL_CLEARING');
    const sc = await wsConn;
    await sc.closed;
    assert.deepEqual(texts(sc), ['{"from":"outbound"}']);
    assert.equal(binaries(sc).reduce((n, b) => n + b.length, 0), 0.1 * 8000 * 2);
  } finally {
    app.server.close();
  }
});

test('the application closing the socket hangs the call up; after `resume` the call stays', async () => {
  const runtime = new Runtime({ tempDir });
  const first = makeChannel({ runtime });
  const app1 = await appServer(async (a) => {
    await a.command('connect');
    a.close();
  });
  assert.equal(await socketApplication(runtime, first.channel, `127.0.0.1:${app1.port} async full`), '+OK');
  assert.equal(first.endpoint.hungUp, 'NORMAL_CLEARING');
  app1.server.close();

  const second = makeChannel({ runtime });
  const app2 = await appServer(async (a) => {
    await a.command('connect');
    assert.equal(replyText(await a.command('resume')), '+OK');
    a.send('exit\n\n');
    await a.closed;
  });
  assert.equal(await socketApplication(runtime, second.channel, `127.0.0.1:${app2.port} async`), '+OK');
  assert.equal(second.channel.isHungUp, false);
  assert.equal(second.channel.getVariable('socket_resume'), 'true');
  assert.equal(second.channel.isParked, true, 'parked (in CS_EXECUTE, as FreeSWITCH runs park)');
  second.channel.hangup();
  app2.server.close();
});

test('without full only the call commands work; the first command\'s reply is not sent', async () => {
  const runtime = new Runtime({ tempDir });
  const { channel } = makeChannel({ runtime });
  const app = await appServer(async (a) => {
    a.send('myevents\n\n'); // first command: FreeSWITCH parses it without answering
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(a.replies.length, 0);
    assert.equal(replyText(await a.command('api status')), '-ERR command not found');
    assert.equal(replyText(await a.command('linger')), '-ERR command not found');
    assert.equal(replyText(await a.command('event plain ALL')), '-ERR command not found');
    assert.equal(replyText(await a.command('getvar caller_id_number')), '1000');
    assert.equal(replyText(await a.command('getvar not_set')), '-ERR command not found');
    assert.equal(replyText(await a.command('filter Event-Name CHANNEL_ANSWER')), '+OK filter added. [Event-Name]=[CHANNEL_ANSWER]');
    assert.equal(replyText(await a.command('divert_events on')), '+OK events diverted');
    const data = await a.command('connect');
    assert.equal(data.headers.get('control'), 'single-channel');
    assert.equal(data.headers.get('socket-mode'), 'static');
    assert.equal(replyText(await a.command('sendmsg\ncall-command: execute\nexecute-app-name: answer')), '+OK');
    assert.equal(decoded(await a.nextEvent(), 'Event-Name'), 'CHANNEL_ANSWER');
    assert.equal(replyText(await a.command('sendmsg\ncall-command: hangup')), '+OK');
    await a.closed; // no linger: the connection ends with the call
    assert.ok(a.raw.toString().includes('Content-Disposition: disconnect\n'));
  });
  assert.equal(await socketApplication(runtime, channel, `127.0.0.1:${app.port}`), '+OK');
  await app.done;
  assert.equal(channel.hangupCause, 'NORMAL_CLEARING');
  app.server.close();
});

test('sync mode waits for the application before replying; async replies at once', async () => {
  const runtime = new Runtime({ tempDir });
  const timings: Record<string, number> = {};
  for (const mode of ['', 'async']) {
    const { channel } = makeChannel({ runtime });
    const app = await appServer(async (a) => {
      await a.command('connect');
      const t0 = performance.now();
      assert.equal(replyText(await a.command('sendmsg\ncall-command: execute\nexecute-app-name: sleep\nexecute-app-arg: 300')), '+OK');
      timings[mode || 'sync'] = performance.now() - t0;
      assert.equal(replyText(await a.command('sendmsg\ncall-command: hangup')), '+OK');
      await a.closed;
    });
    await socketApplication(runtime, channel, `127.0.0.1:${app.port} ${mode} full`);
    await app.done;
    app.server.close();
  }
  assert.ok(timings.sync! >= 280, `sync took ${timings.sync}`);
  assert.ok(timings.async! < 200, `async took ${timings.async}`);
});

test('an unreachable application: -ERR Socket Error, the call is left to the route', async () => {
  const runtime = new Runtime({ tempDir });
  const { channel } = makeChannel({ runtime });
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  assert.match(await socketApplication(runtime, channel, `127.0.0.1:${port} async full`), /^-ERR Socket Error! cannot connect to 127\.0\.0\.1:\d+/);
  assert.equal(channel.isHungUp, false);
  assert.equal(await socketApplication(runtime, channel, ''), '-ERR Parse Error!');
  await assert.rejects(connectOutbound(runtime.esl, channel, ':8084', ''), /Missing Host/);
  channel.hangup();
});

test('socket targets as socket_function reads them', () => {
  assert.deepEqual(parseSocketTarget('127.0.0.1:9000'), { host: '127.0.0.1', port: 9000, path: undefined });
  assert.deepEqual(parseSocketTarget('app.example'), { host: 'app.example', port: 8084, path: undefined });
  assert.deepEqual(parseSocketTarget('::1:8021'), { host: '::1', port: 8021, path: undefined });
  assert.deepEqual(parseSocketTarget('[::1]:8022/ivr'), { host: '::1', port: 8022, path: 'ivr' });
  assert.deepEqual(parseSocketTarget('10.0.0.1:8084/x/y'), { host: '10.0.0.1', port: 8084, path: 'x/y' });
});

test('the call hanging up while the application is connected ends a non-lingering socket', async () => {
  const runtime = new Runtime({ tempDir });
  const { channel } = makeChannel({ runtime });
  const app = await appServer(async (a) => {
    await a.command('connect');
    await a.command('myevents');
    channel.hangup('USER_BUSY');
    assert.equal(decoded(await a.nextEvent(), 'Event-Name'), 'CHANNEL_HANGUP');
    await a.closed;
  });
  assert.equal(await socketApplication(runtime, channel, `127.0.0.1:${app.port} async full`), '+OK');
  await app.done;
  assert.equal(channel.hangupCause, 'USER_BUSY');
  await until(() => true, 10);
  app.server.close();
});
