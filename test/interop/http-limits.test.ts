// HTTP connection bounds and deadlines (issue 10, item 3): over http.maxConnections or
// http.maxConnectionsPerSource a connection gets a 503 JSON answer at once and is closed (counted);
// a client that trickles its request head, or sends nothing, is closed at headersTimeout.
// Real sockets over loopback, sources told apart by binding 127.0.0.x.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, type ClientRequest } from 'node:http';
import { connect } from 'node:net';
import { HttpApi } from '../../src/http/server.ts';
import { serializeJson } from '../../src/events/serialize.ts';
import { makeChannel, until } from '../helpers/harness.ts';

const { runtime, channel } = makeChannel();
const api = new HttpApi({
  channels: runtime.channels, bus: runtime.bus, streams: runtime.streams, listen: { host: '127.0.0.1', port: 0 }, token: undefined,
  maxConnections: 6, maxConnectionsPerSource: 3, headersTimeoutMs: 1000, requestTimeoutMs: 3000,
  execute: (l) => runtime.api.executeLine(l), eventToJson: serializeJson,
});
await api.start();
const port = api.address.port;
after(async () => {
  channel.hangup();
  await api.close();
});

/** An event stream held open from `from`; resolves once its head arrived. */
function openStream(from: string): Promise<ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/events', localAddress: from }, (res) => {
      assert.equal(res.statusCode, 200);
      resolve(req);
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET /health from `from` on a new connection: the status and body. */
function health(from: string): Promise<{ status: number; body: string; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', localAddress: from, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body, retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('connections over the per-source and total bounds get 503 JSON at once; the others are served', async () => {
  const held = [await openStream('127.0.0.1'), await openStream('127.0.0.1'), await openStream('127.0.0.1')];
  await until(() => api.stats.connections === 3, 3000, 'three streams');
  const over = await health('127.0.0.1');
  assert.equal(over.status, 503);
  assert.equal(over.retryAfter, '1');
  assert.match((JSON.parse(over.body) as { error: string }).error, /3 connections open from 127\.0\.0\.1, the most http\.maxConnectionsPerSource allows/);
  assert.equal((await health('127.0.0.2')).status, 200, 'another source is served');
  const viaFetch = await fetch(`http://127.0.0.1:${port}/api/channels`);
  assert.equal(viaFetch.status, 503, 'fetch reads the early answer');
  await viaFetch.body?.cancel();
  held.push(await openStream('127.0.0.2'), await openStream('127.0.0.2'), await openStream('127.0.0.3'));
  await until(() => api.stats.connections === 6, 3000, 'six streams');
  const full = await health('127.0.0.4');
  assert.equal(full.status, 503);
  assert.match((JSON.parse(full.body) as { error: string }).error, /6 connections open, the most http\.maxConnections allows/);
  assert.equal(api.stats.refusedConnections, 3);
  assert.equal(api.eventClients, 6);
  held.pop()!.destroy();
  await until(() => api.stats.connections === 5, 3000, 'one stream closed');
  assert.equal((await health('127.0.0.4')).status, 200, 'a freed slot is usable again');
  for (const r of held) r.destroy();
  await until(() => api.stats.connections === 0 && api.eventClients === 0, 3000, 'every connection given back');
});

test('a 503 before the request is sent or read resets nothing: the answer arrives whole, the socket closes', async () => {
  const held = [await openStream('127.0.0.5'), await openStream('127.0.0.5'), await openStream('127.0.0.5')];
  const answer = await new Promise<string>((resolve) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.5' });
    let text = '';
    s.on('data', (d) => { text += d; });
    s.on('close', () => resolve(text));
    s.on('error', () => undefined);
  });
  assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*\r\n\r\n\{"error":"too many connections: /);
  for (const r of held) r.destroy();
  await until(() => api.stats.connections === 0, 3000, 'given back');
});

test('slowloris: a client that trickles its request head, or sends nothing, is closed at headersTimeout (1 s here)', async () => {
  const trickle = (send: boolean) => new Promise<{ answer: string; bytesSent: number }>((resolve) => {
    const s = connect(port, '127.0.0.1');
    let answer = '';
    let bytesSent = 0;
    let timer: NodeJS.Timeout | undefined;
    s.on('connect', () => {
      if (!send) return;
      s.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      timer = setInterval(() => { s.write('X-Slow: y\r\n'); bytesSent += 11; }, 100);
    });
    s.on('data', (d) => { answer += d; });
    s.on('error', () => undefined);
    s.on('close', () => { clearInterval(timer); resolve({ answer, bytesSent }); });
    setTimeout(() => s.destroy(), 15000).unref(); // without a deadline the test ends here, and fails below
  });
  const [slow, silent] = await Promise.all([trickle(true), trickle(false)]);
  for (const r of [slow, silent]) assert.match(r.answer, /^HTTP\/1\.1 408 Request Timeout/, 'closed by the server');
  assert.ok(slow.bytesSent > 0, 'it kept sending until closed');
  assert.equal(api.stats.connections, 0);
});
