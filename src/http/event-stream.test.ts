import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { EventBus } from '../events/bus.ts';
import { FsEvent } from '../events/event.ts';
import { serializeJson } from '../events/serialize.ts';
import { EventStreamFanout, eventFilter, redactEvent } from './event-stream.ts';
import { Logger } from '../lib/logger.ts';
import { HttpApi, parseHostHeader } from './server.ts';
import { makeChannel, until } from '../../test/helpers/harness.ts';

test('eventFilter: names, subclasses alone or with CUSTOM, one channel', () => {
  const custom = (sub: string, uuid = 'u1') => new FsEvent('CUSTOM', sub).add('Unique-ID', uuid);
  const answer = new FsEvent('CHANNEL_ANSWER').add('Unique-ID', 'u1');
  const f = (q: string) => eventFilter(new URL(`http://h/api/events?${q}`));
  assert.equal(f('')(answer), true);
  assert.equal(f('events=channel_answer')(answer), true);
  assert.equal(f('events=CHANNEL_HANGUP')(answer), false);
  assert.equal(f('subclass=a::b')(custom('a::b')), true);
  assert.equal(f('subclass=a::b')(custom('a::c')), false);
  assert.equal(f('subclass=a::b')(answer), false);
  assert.equal(f('events=CUSTOM,CHANNEL_ANSWER&subclass=a::b')(answer), true);
  assert.equal(f('events=CUSTOM&subclass=a::b')(custom('x::y')), false);
  assert.equal(f('uuid=u2')(answer), false);
  assert.equal(f('uuid=u1&subclass=a::b')(custom('a::b')), true);
});

test('redactEvent: the same event when nothing is secret, else a copy with the secrets redacted', () => {
  const plain = new FsEvent('CHANNEL_ANSWER').add('variable_sip_from_user', '1000');
  assert.equal(redactEvent(plain), plain);
  const secret = new FsEvent('CUSTOM', 'x::y').add('variable_API_TOKEN', 't').add('variable_STREAM_EXTRA_HEADERS', '{"A":"b"}').add('X-Password', 'p').add('Other', 'o');
  secret.body = 'body';
  const shown = redactEvent(secret);
  assert.notEqual(shown, secret);
  assert.deepEqual(shown.headers, [['Event-Subclass', 'x::y'], ['Event-Name', 'CUSTOM'], ['variable_API_TOKEN', '[redacted]'],
    ['variable_STREAM_EXTRA_HEADERS', '{"A":"[redacted]"}'], ['X-Password', '[redacted]'], ['Other', 'o']]);
  assert.equal(shown.body, 'body');
  assert.equal(secret.get('variable_API_TOKEN'), 't', 'the original is untouched');
});

test('parseHostHeader: names, IPv4, bracketed IPv6, ports; malformed ones refused', () => {
  assert.deepEqual(parseHostHeader('Example.COM.:8080'), { name: 'example.com', port: '8080' });
  assert.deepEqual(parseHostHeader('[::1]:80'), { name: '::1', port: '80' });
  assert.deepEqual(parseHostHeader('127.0.0.1'), { name: '127.0.0.1', port: '' });
  for (const bad of ['', 'a b', 'user@host', 'host:port', 'host:123456', '[::1', 'a/b', ':80']) assert.equal(parseHostHeader(bad), undefined, bad);
});

test('one serialization per event, however many stream clients get it', async () => {
  const { runtime, channel } = makeChannel();
  const bus = new EventBus();
  const api = new HttpApi({ channels: runtime.channels, bus, streams: runtime.streams, listen: { host: '127.0.0.1', port: 0 }, token: undefined,
    execute: async () => '', eventToJson: serializeJson });
  await api.start();
  const got: string[] = [];
  const reqs = [0, 1, 2, 3, 4].map(() => {
    const req = request({ host: '127.0.0.1', port: api.address.port, path: '/api/events' }, (res) => { res.setEncoding('utf8'); res.on('data', (d: string) => got.push(d)); });
    req.end();
    return req;
  });
  try {
    await until(() => api.eventClients === 5, 3000, 'five clients');
    for (let i = 0; i < 10; i++) bus.fire(bus.create('CUSTOM', 'one::each'));
    await until(() => got.join('').split('event: one::each').length - 1 === 50, 3000, 'every client got every event');
    assert.equal(api.stats.eventsSerialized, 10);
  } finally {
    for (const r of reqs) r.destroy();
    channel.hangup();
    await api.close();
  }
});

test('the flush to the clients runs in slices: a slow flush leaves the rest for the next turns, in order, each client once', async () => {
  const bus = new EventBus();
  const fanout = new EventStreamFanout({ bus, eventToJson: serializeJson, maxQueueBytes: 1 << 20, log: new Logger('test') });
  const turns: number[][] = [];
  let turn = 0;
  // Stand-ins for the responses: an uncork that takes 10 ms, as copying megabytes into a socket does.
  const fakes = Array.from({ length: 8 }, (_, i) => {
    let corked = 0;
    return {
      writableLength: 0, destroyed: false,
      cork: () => { corked++; },
      uncork: () => {
        corked--;
        (turns[turn] ??= []).push(i);
        const until = performance.now() + 10;
        while (performance.now() < until) { /* the kernel copying */ }
      },
      write: () => true,
      on: () => undefined,
      get corked() { return corked; },
    };
  });
  for (const [i, f] of fakes.entries()) fanout.add(f as never, () => true, `client ${i}`);
  bus.fire(new FsEvent('HEARTBEAT'));
  for (let t = 0; t < 10 && turns.flat().length < fakes.length; t++) {
    await new Promise((r) => setImmediate(r));
    turn++;
  }
  const order = turns.flat();
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7], 'every client flushed once, in the order it was corked');
  assert.ok(turns.filter(Boolean).length >= 2, `spread over turns (${JSON.stringify(turns)})`);
  assert.ok(turns.every((t) => !t || t.length <= 3), `at most 25 ms of 10 ms flushes per turn (${JSON.stringify(turns)})`);
  assert.ok(fakes.every((f) => f.corked === 0), 'every cork undone');
});
