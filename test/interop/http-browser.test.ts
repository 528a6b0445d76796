// The HTTP API against what a web page can send (issue 10, item 6): a cross-origin or form POST,
// DNS rebinding (a foreign Host), CORS preflights; and redaction of secret variables (item 9).
// Real HTTP requests over loopback (node:http, which lets a test set Host and Origin as a browser would).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { HttpApi } from '../../src/http/server.ts';
import { serializeJson } from '../../src/events/serialize.ts';
import { makeChannel, until } from '../helpers/harness.ts';

const { runtime, channel, endpoint } = makeChannel();
const api = new HttpApi({
  channels: runtime.channels, bus: runtime.bus, streams: runtime.streams, listen: { host: '127.0.0.1', port: 0 }, token: undefined,
  allowedHosts: ['audio.internal', 'proxy.example:8443'], allowedOrigins: ['https://console.example.com'],
  execute: (l) => runtime.api.executeLine(l), eventToJson: serializeJson,
});
await api.start();
const port = api.address.port;
after(async () => {
  channel.hangup();
  await api.close();
});

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One request with exactly these headers (Host included when given). */
function send(method: string, path: string, headers: Record<string, string>, body?: string, localAddress?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, localAddress, setHost: !('host' in headers) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const alive = () => runtime.channels.get(channel.uuid) !== undefined && endpoint.hungUp === undefined;

test('a web page cannot run hupall: text/plain, form and JSON POSTs with a foreign Origin are refused 403', async () => {
  for (const [type, body] of [['text/plain', 'hupall'], ['application/x-www-form-urlencoded', 'command=hupall'], ['multipart/form-data; boundary=x', '--x\r\n\r\nhupall\r\n--x--'],
    ['application/json', '{"command":"hupall"}']]) {
    for (const origin of ['http://evil.example', 'null', 'http://127.0.0.1.evil.example']) {
      const r = await send('POST', '/api/command', { origin, 'content-type': type! }, body);
      assert.equal(r.status, 403, `${type} from ${origin}`);
      assert.match((JSON.parse(r.body) as { error: string }).error, /Origin .* is not allowed/);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
    }
  }
  assert.ok(alive(), 'the channel is still up');
});

test('POST /api/command takes application/json only (415), so a page cannot send it without a preflight', async () => {
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', '']) {
    const r = await send('POST', '/api/command', type ? { 'content-type': type } : {}, 'hupall');
    assert.equal(r.status, 415, type);
    assert.match((JSON.parse(r.body) as { error: string }).error, /application\/json/);
  }
  assert.ok(alive(), 'the channel is still up');
  const ok = await send('POST', '/api/command', { 'content-type': 'Application/JSON; charset=utf-8' }, '{"command":"uuid_exists","args":"' + channel.uuid + '"}');
  assert.deepEqual(JSON.parse(ok.body), { ok: true, reply: 'true' });
});

test('DNS rebinding: a Host that is not this server is refused 403, on every endpoint', async () => {
  for (const host of [`evil.example:${port}`, 'evil.example', `localhost.evil.example:${port}`, `127.0.0.1@evil.example`, '', `audio.internal.evil:${port}`, `proxy.example:8080`]) {
    for (const [method, path] of [['GET', '/api/channels'], ['GET', '/health'], ['GET', '/api/events'], ['POST', '/api/command']]) {
      const r = await send(method!, path!, { host, 'content-type': 'application/json' }, method === 'POST' ? '{"command":"hupall"}' : undefined);
      assert.equal(r.status, 403, `${method} ${path} with Host ${host}`);
      assert.match((JSON.parse(r.body) as { error: string }).error, /Host .* is not this server's/);
    }
  }
  assert.ok(alive(), 'the channel is still up');
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, `127.9.9.9:${port}`, 'audio.internal', `Audio.Internal.:${port}`, 'proxy.example:8443']) {
    assert.equal((await send('GET', '/api/channels', { host })).status, 200, `Host ${host}`);
  }
});

test('the Host may be the address the connection came in on (a server listening on every address)', async () => {
  const wide = new HttpApi({ channels: runtime.channels, bus: runtime.bus, streams: runtime.streams, listen: { host: '0.0.0.0', port: 0 }, token: 'tok',
    execute: async () => '', eventToJson: serializeJson });
  await wide.start();
  try {
    const get = (host: string, connectTo: string) => new Promise<number>((resolve, reject) => {
      const req = request({ host: connectTo, port: wide.address.port, path: '/health', headers: { host }, setHost: false }, (res) => { res.resume(); resolve(res.statusCode!); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(await get(`127.0.0.2:${wide.address.port}`, '127.0.0.2'), 200);
    assert.equal(await get(`10.9.9.9:${wide.address.port}`, '127.0.0.2'), 403, 'another address than the one connected to');
    assert.equal(await get(`0.0.0.0:${wide.address.port}`, '127.0.0.2'), 200, 'the listen address itself');
  } finally {
    await wide.close();
  }
});

test('allowed origins: CORS headers on answers and preflights; other origins get 403 preflights', async () => {
  const origin = 'https://console.example.com';
  const pre = await send('OPTIONS', '/api/command', { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], origin);
  assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
  assert.match(String(pre.headers['access-control-allow-headers']), /Content-Type/i);
  assert.match(String(pre.headers['access-control-allow-headers']), /Authorization/i);
  assert.equal(pre.headers.vary, 'Origin');
  const evil = await send('OPTIONS', '/api/command', { origin: 'http://evil.example', 'access-control-request-method': 'POST' });
  assert.equal(evil.status, 403);
  assert.equal(evil.headers['access-control-allow-origin'], undefined);
  const got = await send('GET', '/api/channels', { origin });
  assert.equal(got.status, 200);
  assert.equal(got.headers['access-control-allow-origin'], origin);
  const err = await send('GET', '/api/channels/nope', { origin });
  assert.equal(err.status, 404);
  assert.equal(err.headers['access-control-allow-origin'], origin, 'errors readable by the allowed page too');
  const same = await send('POST', '/api/command', { origin: `http://127.0.0.1:${port}`, 'content-type': 'application/json' }, '{"command":"uuid_exists","args":"x"}');
  assert.equal(same.status, 200, 'the server\'s own origin');
  const plain = await send('OPTIONS', '/api/channels', {});
  assert.equal(plain.status, 204, 'OPTIONS without an Origin (not a browser)');
  assert.equal(plain.headers.allow, 'GET, POST, OPTIONS');
});

test('a browser request marked cross-site by Sec-Fetch-Site without an allowed Origin is refused; a typed-in URL is not', async () => {
  assert.equal((await send('GET', '/api/channels', { 'sec-fetch-site': 'cross-site' })).status, 403);
  assert.equal((await send('GET', '/api/events', { 'sec-fetch-site': 'same-site' })).status, 403);
  assert.equal((await send('GET', '/api/channels', { 'sec-fetch-site': 'none' })).status, 200);
  assert.equal((await send('GET', '/api/channels', { 'sec-fetch-site': 'cross-site', origin: 'https://console.example.com' })).status, 200);
});

test('non-browser clients are unchanged: Node fetch and a raw client with no Origin', async () => {
  assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
  const r = await fetch(`http://127.0.0.1:${port}/api/command`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ command: 'uuid_exists', args: channel.uuid }) });
  assert.deepEqual(await r.json(), { ok: true, reply: 'true' });
  const http10 = await new Promise<string>((resolve) => {
    // HTTP/1.0 without a Host (curl -0 -H 'Host:'), as old monitoring probes send it.
    void import('node:net').then(({ connect }) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET /health HTTP/1.0\r\n\r\n'));
      let text = '';
      s.on('data', (d) => { text += d; });
      s.on('close', () => resolve(text));
    });
  });
  assert.match(http10, /^HTTP\/1\.1 200 /);
});

test('secrets in channel variables are redacted in /api/channels/<uuid> and the live event stream', async () => {
  channel.setVariable('DB_PASSWORD', 'hunter2');
  channel.setVariable('sip_h_X-Auth-Token', 'tok-123');
  channel.setVariable('STREAM_EXTRA_HEADERS', '{"Authorization":"Bearer s3cret","X-Tenant":"acme"}');
  channel.setVariable('plain_var', 'visible');
  const one = JSON.parse((await send('GET', `/api/channels/${channel.uuid}`, {})).body) as { variables: Record<string, string> };
  assert.equal(one.variables.DB_PASSWORD, '[redacted]');
  assert.equal(one.variables['sip_h_X-Auth-Token'], '[redacted]');
  assert.equal(one.variables.STREAM_EXTRA_HEADERS, '{"Authorization":"[redacted]","X-Tenant":"[redacted]"}');
  assert.equal(one.variables.plain_var, 'visible');
  const list = (await send('GET', '/api/channels', {})).body;
  for (const secret of ['hunter2', 'tok-123', 's3cret']) {
    assert.ok(!JSON.stringify(one).includes(secret), `no ${secret} in /api/channels/<uuid>`);
    assert.ok(!list.includes(secret), `no ${secret} in /api/channels`);
  }
  // The event stream: an event carrying the channel's variables, as CHANNEL_* events do.
  let text = '';
  const req = request({ host: '127.0.0.1', port, path: `/api/events?uuid=${channel.uuid}` }, (res) => { res.setEncoding('utf8'); res.on('data', (d: string) => { text += d; }); });
  req.end();
  await until(() => api.eventClients === 1, 3000, 'subscribed');
  const event = runtime.bus.create('CUSTOM', 'test::vars');
  event.add('Unique-ID', channel.uuid);
  for (const [name, value] of channel.variables) event.add(`variable_${name}`, value);
  runtime.bus.fire(event);
  await until(() => /^data: .*\n\n/m.test(text), 3000, 'the event');
  const data = JSON.parse(/^data: (.*)$/m.exec(text)![1]!) as Record<string, string>;
  assert.equal(data.variable_DB_PASSWORD, '[redacted]');
  assert.equal(data['variable_sip_h_X-Auth-Token'], '[redacted]');
  assert.equal(data.variable_STREAM_EXTRA_HEADERS, '{"Authorization":"[redacted]","X-Tenant":"[redacted]"}');
  assert.equal(data.variable_plain_var, 'visible');
  assert.equal(event.get('variable_DB_PASSWORD'), 'hunter2', 'the event itself (as ESL clients get it) is untouched');
  req.destroy();
});
