// The HTTP API in-process: bearer token, errors as JSON, the live event stream, metrics.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { HttpApi } from '../../src/http/server.ts';
import { serializeJson } from '../../src/events/serialize.ts';
import { uuidAudioStream } from '../../src/audio-stream/command.ts';
import { makeChannel, startTestServer, collectEvents, until } from '../helpers/harness.ts';

const { runtime, channel } = makeChannel();
const api = new HttpApi({ channels: runtime.channels, bus: runtime.bus, streams: runtime.streams, listen: { host: '127.0.0.1', port: 0 }, token: 't0ken', execute: (l) => runtime.api.executeLine(l), eventToJson: serializeJson });
await api.start();
const base = `http://127.0.0.1:${api.address.port}`;
after(async () => {
  channel.hangup();
  await api.close();
});
const auth = { authorization: 'Bearer t0ken' };

test('a token protects everything but /health', async () => {
  assert.equal((await fetch(`${base}/health`)).status, 200);
  const denied = await fetch(`${base}/api/channels`);
  assert.equal(denied.status, 401);
  assert.match(((await denied.json()) as { error: string }).error, /Bearer/);
  assert.equal((await fetch(`${base}/api/channels`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  const ok = await fetch(`${base}/api/channels`, { headers: auth });
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { channels: Array<{ uuid: string }> }).channels[0]!.uuid, channel.uuid);
});

test('a malformed channel id is a 400, not a 500', async () => {
  const res = await fetch(`${base}/api/channels/%E0%A4%A`, { headers: auth });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { error: string }).error, /percent-encoding/);
});

test('a token is required off loopback', () => {
  assert.throws(() => new HttpApi({ channels: runtime.channels, bus: runtime.bus, streams: runtime.streams, listen: { host: '0.0.0.0', port: 0 }, token: undefined, execute: async () => '', eventToJson: serializeJson }), /http\.token is required/);
});

test('POST /api/command runs API commands with the ESL replies; bodies are bounded', async () => {
  const post = (body: string, type = 'application/json') => fetch(`${base}/api/command`, { method: 'POST', headers: { ...auth, 'content-type': type }, body });
  assert.deepEqual(await (await post(JSON.stringify({ command: 'uuid_setvar', args: `${channel.uuid} foo bar` }))).json(), { ok: true, reply: '+OK\n' });
  assert.deepEqual(await (await post(JSON.stringify({ command: `uuid_getvar ${channel.uuid} foo` }), 'application/json; charset=utf-8')).json(), { ok: true, reply: 'bar' });
  assert.equal((await post(JSON.stringify({ cmd: 'x' }))).status, 400);
  assert.equal((await post(JSON.stringify({ command: 'x'.repeat(70 * 1024) }))).status, 413);
  const usage = await (await post(JSON.stringify({ command: 'uuid_audio_stream' }))).json() as { ok: boolean; reply: string };
  assert.equal(usage.ok, false);
  assert.match(usage.reply, /^-USAGE/);
});

test('metrics in the Prometheus text format', async () => {
  const text = await (await fetch(`${base}/metrics`, { headers: auth })).text();
  assert.match(text, /^# TYPE audio_stream_channels gauge$/m);
  assert.match(text, /^audio_stream_channels 1$/m);
  assert.match(text, /^audio_stream_stream_errors_total\{code="6"\} \d+$/m);
  assert.match(text, /^process_resident_memory_bytes \d+$/m);
});

test('the live event stream delivers the chosen events as JSON', async () => {
  const ws = await startTestServer();
  const ev = collectEvents(runtime);
  const lines: string[] = [];
  const req = request(`${base}/api/events?subclass=mod_audio_stream::connect`, { headers: auth });
  const opened = new Promise<void>((resolve) => req.on('response', (res) => {
    res.setEncoding('utf8');
    res.on('data', (d: string) => lines.push(...d.split('\n')));
    resolve();
  }));
  req.end();
  await opened;
  await until(() => api.eventClients === 1, 2000, 'subscribed');
  channel.setVariable('unrelated', 'x');
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} start ${ws.url} mono`), '+OK Success\n');
  await ev.waitFor('connect');
  await until(() => lines.some((l) => l.startsWith('data: ')), 3000, 'an event');
  const data = lines.filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as Record<string, string>);
  assert.equal(data.length, 1, 'only the subscribed subclass');
  assert.equal(data[0]!['Event-Subclass'], 'mod_audio_stream::connect');
  assert.equal(data[0]!['Unique-ID'], channel.uuid);
  assert.equal(data[0]!._body, '{"status":"connected"}');
  assert.ok(lines.includes('event: mod_audio_stream::connect'));
  req.destroy();
  uuidAudioStream(runtime, `${channel.uuid} stop`);
  await ws.close();
});
