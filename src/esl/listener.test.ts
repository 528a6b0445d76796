// One Event Socket connection over a real TCP socket pair on 127.0.0.1: an EslListener on the
// accepted socket, a raw client on the other end (test/helpers/esl-raw.ts) checking bytes. Expected
// texts follow mod_event_socket.c (FreeSWITCH 1.10).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Runtime } from '../service/runtime.ts';
import type { Channel, ChannelEndpoint } from '../channel/channel.ts';
import { addLogSink, Logger } from '../lib/logger.ts';
import { RawEsl, decoded } from '../../test/helpers/esl-raw.ts';
import { until } from '../../test/helpers/harness.ts';
import { EslListener, type ListenerLimits } from './listener.ts';

const GREETING = 'Content-Type: auth/request\n\n';
const GOODBYE = 'Content-Type: text/disconnect-notice\nContent-Length: 67\n\n'
  + 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';
const reply = (text: string): string => `Content-Type: command/reply\nReply-Text: ${text}\n\n`;

interface Fixture {
  runtime: Runtime;
  port: number;
  /** The listener of the n-th accepted connection (0-based), once accepted. */
  listener(n: number): Promise<EslListener>;
  /** What each accepted socket was asked to write, per connection, in order. */
  written: string[][];
}

/** A TCP server on 127.0.0.1:0 whose accepted sockets each get an EslListener (password ClueCon). */
async function serve(t: TestContext, limits: Partial<ListenerLimits> = {}): Promise<Fixture> {
  const runtime = new Runtime();
  const accepted: EslListener[] = [];
  const waiters = new Map<number, (l: EslListener) => void>();
  const sockets = new Set<net.Socket>();
  const written: string[][] = [];
  // As EslServer makes its server: half-open, so that a client's FIN does not cut the replies still due.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // Record what the listener writes (the socket keeps working as is).
    const log: string[] = [];
    written.push(log);
    const write = socket.write.bind(socket) as (data: string | Uint8Array, ...rest: unknown[]) => boolean;
    socket.write = ((data: string | Uint8Array, ...rest: unknown[]) => {
      log.push(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
      return write(data, ...rest);
    }) as typeof socket.write;
    const listener = new EslListener({ esl: runtime.esl, socket, password: 'ClueCon', limits });
    const n = accepted.push(listener) - 1;
    listener.start();
    waiters.get(n)?.(listener);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    for (const ch of [...runtime.channels]) ch.hangup();
  });
  return {
    runtime, port: (server.address() as net.AddressInfo).port, written,
    listener: (n) => (accepted[n] ? Promise.resolve(accepted[n]!) : new Promise((resolve) => waiters.set(n, resolve))),
  };
}

/** A raw client, closed after the test. */
async function client(t: TestContext, f: Fixture, authed = false): Promise<RawEsl> {
  const c = authed ? await RawEsl.authed(f.port) : await RawEsl.connect(f.port);
  t.after(() => c.close());
  return c;
}

const endpoint: ChannelEndpoint = { preAnswer: () => true, answer: () => true, hangup: () => undefined };

function channel(f: Fixture): Channel {
  return f.runtime.channels.create(endpoint, 'test/channel', { name: 'PCMU', rateHz: 8000, ptimeMs: 20 }, { callerIdNumber: '1000' });
}

test('an inbound connection is greeted with auth/request and nothing else', async (t) => {
  const f = await serve(t);
  const c = await client(t, f);
  const greeting = await c.nextReply();
  assert.equal(greeting.raw.toString(), GREETING);
  assert.equal(greeting.contentType, 'auth/request');
  const l = await f.listener(0);
  assert.equal(l.authed, false);
  assert.equal(l.isOpen, true);
  assert.equal(f.runtime.esl.hub.size, 1, 'registered with the hub');
  assert.equal(c.raw.toString(), GREETING);
});

test('auth with the right password: +OK accepted, and commands work', async (t) => {
  const f = await serve(t);
  const c = await client(t, f);
  await c.nextReply();
  assert.equal((await c.command('auth ClueCon')).raw.toString(), reply('+OK accepted'));
  assert.equal((await f.listener(0)).authed, true);
  assert.equal((await c.command('api version short')).raw.toString(), 'Content-Type: api/response\nContent-Length: 16\n\n1.10.12-release\n');
  assert.equal(c.raw.toString(), GREETING + reply('+OK accepted') + 'Content-Type: api/response\nContent-Length: 16\n\n1.10.12-release\n');
});

test('auth with a wrong password: -ERR invalid, the disconnect notice, then the connection closes', async (t) => {
  const f = await serve(t);
  const c = await client(t, f);
  await c.nextReply();
  c.send('auth Cluecon\n\n');
  await c.closed;
  const l = await f.listener(0);
  await l.done;
  assert.equal(c.raw.toString(), GREETING + reply('-ERR invalid') + GOODBYE);
  assert.equal(l.authed, false);
  assert.equal(f.runtime.esl.hub.size, 0, 'left the hub');
});

/** The line of the caller of this function in this file (from the stack). */
function callerLine(): number {
  return Number(/:(\d+):\d+\)?$/.exec(new Error().stack!.split('\n')[2]!)![1]);
}

test('log <level>: log/data frames with FreeSWITCH\'s headers; a channel\'s line names its uuid (Text-Channel 3)', async (t) => {
  const f = await serve(t);
  const c = await client(t, f, true);
  assert.equal((await c.command('log 7')).raw.toString(), reply('+OK log level 7 [7]'));
  const uuid = '0b3c9a1e-5d2f-4c47-9a55-3f1f2a4b6c7d';
  // Each callerLine() is on the line that logs, so it is the Log-Line expected.
  function logsForAChannel(): number {
    const line = callerLine(); new Logger(`mod_audio_stream(${uuid})`).warning('a channel line');
    return line;
  }
  const channelLine = logsForAChannel();
  const coreLine = callerLine(); new Logger('esl-unit').debug('a core line');
  const [a, b] = [await c.nextEvent(), await c.nextEvent()];
  const headers = (frame: typeof a): string => frame.raw.toString().slice(0, frame.raw.length - frame.body.length);
  assert.equal(headers(a), `Content-Type: log/data\nContent-Length: ${a.body.length}\nLog-Level: 4\nText-Channel: 3\n`
    + `Log-File: listener.test.ts\nLog-Func: logsForAChannel\nLog-Line: ${channelLine}\nUser-Data: ${uuid}\n\n`);
  assert.match(a.body.toString(), new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{6} \\d+\\.\\d\\d% \\[WARNING\\] `
    + `listener\\.test\\.ts:${channelLine} mod_audio_stream\\(${uuid}\\) a channel line\\n$`));
  assert.equal(b.headers.get('text-channel'), '0');
  assert.equal(b.headers.get('user-data'), '');
  assert.equal(b.headers.get('log-level'), '7');
  assert.equal(b.headers.get('log-file'), 'listener.test.ts');
  assert.equal(b.headers.get('log-line'), String(coreLine));
  assert.match(b.body.toString(), / \[DEBUG\] listener\.test\.ts:\d+ esl-unit a core line\n$/);
});

test('a command\'s reply comes before the events fired while it runs', async (t) => {
  const f = await serve(t);
  const c = await client(t, f, true);
  assert.equal((await c.command('event plain CHANNEL_ANSWER CHANNEL_HANGUP CUSTOM test::ordered')).raw.toString(),
    reply('+OK event listener enabled plain'));
  const ch = channel(f);
  // uuid_answer fires CHANNEL_ANSWER inside the api command: its api/response must still come first.
  let mark = c.raw.length;
  assert.equal((await c.command(`api uuid_answer ${ch.uuid}`)).raw.toString(), 'Content-Type: api/response\nContent-Length: 4\n\n+OK\n');
  const answer = await c.nextEvent();
  assert.equal(decoded(answer, 'Event-Name'), 'CHANNEL_ANSWER');
  assert.equal(decoded(answer, 'Unique-ID'), ch.uuid);
  assert.equal(c.raw.subarray(mark).toString(), 'Content-Type: api/response\nContent-Length: 4\n\n+OK\n' + answer.raw.toString(),
    'reply, then the event');
  // sendevent fires its event synchronously: the +OK goes first.
  mark = c.raw.length;
  const sent = await c.command('sendevent CUSTOM\nEvent-Subclass: test::ordered\nX-Color: blue');
  const id = /^\+OK ([0-9a-f-]{36})$/.exec(sent.headers.get('reply-text') ?? '')?.[1];
  assert.ok(id, sent.raw.toString());
  const custom = await c.nextEvent();
  assert.equal(decoded(custom, 'Event-UUID'), id);
  assert.equal(decoded(custom, 'X-Color'), 'blue');
  assert.equal(c.raw.subarray(mark).toString(), sent.raw.toString() + custom.raw.toString());
  // uuid_kill: the reply, then CHANNEL_HANGUP (the other hangup events are not subscribed).
  mark = c.raw.length;
  const killed = await c.command(`api uuid_kill ${ch.uuid} USER_BUSY`);
  assert.equal(killed.raw.toString(), 'Content-Type: api/response\nContent-Length: 4\n\n+OK\n');
  const hangup = await c.nextEvent();
  assert.equal(decoded(hangup, 'Hangup-Cause'), 'USER_BUSY');
  assert.equal(c.raw.subarray(mark).toString(), killed.raw.toString() + hangup.raw.toString());
  assert.equal(c.events.length, 0);
});

test('events fired between commands are written at once', async (t) => {
  const f = await serve(t);
  const c = await client(t, f, true);
  await c.command('event json CHANNEL_PARK');
  const ch = channel(f);
  ch.park();
  const park = await c.nextEvent();
  assert.equal(park.contentType, 'text/event-json');
  const json = JSON.parse(park.body.toString()) as Record<string, string>;
  assert.equal(json['Event-Name'], 'CHANNEL_PARK');
  assert.equal(json['Unique-ID'], ch.uuid);
  assert.equal(park.raw.toString(), `Content-Length: ${park.body.length}\nContent-Type: text/event-json\n\n${park.body.toString()}`);
});

test('a client that does not authenticate in time is disconnected with the goodbye notice; an authenticated one stays', async (t) => {
  const f = await serve(t, { authTimeoutMs: 100 });
  const good = await client(t, f);
  good.send('auth ClueCon\n\n'); // at once, well within its 100 ms
  assert.equal((await good.nextReply()).raw.toString(), GREETING);
  assert.equal((await good.nextReply()).raw.toString(), reply('+OK accepted'));
  const idle = await client(t, f);
  await idle.closed;
  assert.equal(idle.raw.toString(), GREETING + GOODBYE);
  const idleListener = await f.listener(1);
  await idleListener.done;
  assert.equal(idleListener.isOpen, false);
  // The first client's own timer has fired too by now (it started earlier): it was authenticated, so it stays.
  assert.equal((await good.command('api uuid_exists nope')).raw.toString(), 'Content-Type: api/response\nContent-Length: 5\n\nfalse');
  assert.equal((await f.listener(0)).isOpen, true);
  assert.equal(f.runtime.esl.hub.size, 1);
});

/**
 * Floods CUSTOM test::flood events (4 KB bodies) in batches until the listener drops the client
 * (it takes no more events at once; its socket is reset by the hub's next flush); returns how many were fired.
 */
async function floodUntilDropped(f: Fixture, listener: EslListener): Promise<number> {
  let fired = 0;
  while (listener.isOpen) {
    assert.ok(fired < 50_000, 'the slow client was never dropped');
    for (let i = 0; i < 50; i++) {
      const e = f.runtime.bus.create('CUSTOM', 'test::flood');
      e.body = 'x'.repeat(4000);
      f.runtime.bus.fire(e);
      fired++;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return fired;
}

test('a client that does not read its events is dropped at once over maxQueueBytes, logged once; another client gets them all', async (t) => {
  const f = await serve(t, { maxQueueBytes: 512 * 1024 });
  const lines: string[] = [];
  const removeSink = addLogSink((level, scope, message) => lines.push(`${level} ${scope} ${message}`));
  t.after(removeSink);
  const slow = await client(t, f, true);
  slow.keepRaw = false;
  assert.equal((await slow.command('event plain CUSTOM test::flood')).headers.get('reply-text'), '+OK event listener enabled plain');
  const fast = await client(t, f, true);
  fast.keepRaw = false;
  let fastGot = 0;
  let lastSequence = 0;
  let outOfOrder = 0;
  const onFast = (frame: { body: Buffer }): void => {
    const sequence = Number((JSON.parse(frame.body.toString()) as Record<string, string>)['Event-Sequence']);
    if (!(sequence > lastSequence)) outOfOrder++;
    lastSequence = sequence;
    fastGot++;
  };
  fast.onEventFrame = onFast;
  await fast.command('event json CUSTOM test::flood');
  const slowListener = await f.listener(0);
  const fastListener = await f.listener(1);
  slow.socket.pause();
  const fired = await floodUntilDropped(f, slowListener);
  assert.equal(slowListener.isOpen, false);
  assert.equal(fastListener.isOpen, true);
  assert.equal(f.runtime.esl.hub.size, 1, 'only the fast client is left');
  assert.equal(f.runtime.esl.hub.droppedClients, 1);
  await slowListener.done; // reset by the hub's next flush, not after a grace period
  const killed = lines.filter((l) => l.includes('Killing listener'));
  assert.equal(killed.length, 1, lines.join('\n'));
  assert.match(killed[0]!, /^error esl Killing listener 127\.0\.0\.1:\d+ because of lost events\. Queue size\[(\d+)\/524288 bytes\]$/);
  assert.ok(Number(/\[(\d+)\//.exec(killed[0]!)![1]) > 524288, 'the queue was over its bound');
  // The fast client got every event, in order, and still works.
  const got = new Promise<void>((resolve) => {
    const check = (): void => { if (fastGot === fired) resolve(); };
    fast.onEventFrame = (frame) => { onFast(frame); check(); };
    check();
  });
  await got;
  assert.equal(fastGot, fired);
  assert.equal(outOfOrder, 0, 'in Event-Sequence order');
  assert.equal((await fast.command('api version short')).body.toString(), '1.10.12-release\n');
});

// FreeSWITCH writes "killed listener because of lost events\n" once 500 events are lost; that
// notice would wait behind the megabytes the client does not read. The client is reset instead, and
// nothing is written to it once it is over its bound.
test('a dropped client\'s connection is reset: no notice, nothing written after the drop', async (t) => {
  const f = await serve(t, { maxQueueBytes: 64 * 1024 });
  const slow = await client(t, f, true);
  slow.keepRaw = false;
  await slow.command('event plain CUSTOM test::flood');
  slow.socket.pause();
  const listener = await f.listener(0);
  await floodUntilDropped(f, listener);
  const writtenAtDrop = f.written[0]!.length;
  await listener.done;
  assert.equal(f.written[0]!.length, writtenAtDrop, 'nothing written after the drop');
  assert.ok(!f.written[0]!.some((w) => w.includes('disconnect-notice')), 'no notice');
  const error = new Promise<string>((resolve) => slow.socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')));
  slow.socket.resume();
  await slow.closed;
  assert.equal(await Promise.race([error, new Promise<string>((r) => setTimeout(() => r('no error'), 2000))]), 'ECONNRESET');
});

test('a client that stops reading for a while but stays under maxQueueBytes keeps every event', async (t) => {
  const f = await serve(t, { maxQueueBytes: 8 << 20 });
  const c = await client(t, f, true);
  c.keepRaw = false;
  let got = 0;
  c.onEventFrame = () => { got++; };
  await c.command('event plain CUSTOM test::flood');
  c.socket.pause();
  for (let i = 0; i < 500; i++) { // 2 MB: the kernel and our queue hold it
    const e = f.runtime.bus.create('CUSTOM', 'test::flood');
    e.body = 'x'.repeat(4000);
    f.runtime.bus.fire(e);
  }
  await new Promise((r) => setTimeout(r, 200));
  c.socket.resume();
  await until(() => got === 500, 5000, `${got} of 500 events`);
  assert.equal((await f.listener(0)).isOpen, true);
  assert.equal(f.runtime.esl.hub.droppedClients, 0);
});

test('exit answers +OK bye, sends the goodbye notice and closes; "..." too; exit works before auth', async (t) => {
  const f = await serve(t);
  const c = await client(t, f, true);
  c.send('exit\n\n');
  await c.closed;
  assert.equal(c.raw.toString(), GREETING + reply('+OK accepted') + reply('+OK bye') + GOODBYE);
  await (await f.listener(0)).done;
  const dots = await client(t, f, true);
  dots.send('...\n\n');
  await dots.closed;
  assert.ok(dots.raw.toString().endsWith(reply('+OK bye') + GOODBYE));
  const early = await client(t, f);
  early.send('exit\n\n');
  await early.closed;
  assert.equal(early.raw.toString(), GREETING + reply('+OK bye') + GOODBYE);
  assert.equal(f.runtime.esl.hub.size, 0);
});

test('commands after exit in the same packet are not run', async (t) => {
  const f = await serve(t);
  const c = await client(t, f, true);
  await c.command('event plain CHANNEL_CREATE');
  c.send('exit\n\napi version\n\n');
  await c.closed;
  assert.ok(c.raw.toString().endsWith(reply('+OK bye') + GOODBYE));
  assert.doesNotMatch(c.raw.toString(), /api\/response/);
});

test('a client that closes its side gets the goodbye notice after the replies to what it sent', async (t) => {
  const f = await serve(t);
  const c = await client(t, f, true);
  c.send('api version short\n\n');
  c.socket.end();
  await c.closed;
  assert.equal(c.raw.toString(), GREETING + reply('+OK accepted') + 'Content-Type: api/response\nContent-Length: 16\n\n1.10.12-release\n' + GOODBYE);
  await (await f.listener(0)).done;
});

test('commands pipelined in one packet are answered in order', async (t) => {
  const f = await serve(t);
  const c = await client(t, f);
  await c.nextReply();
  c.send('auth ClueCon\n\nevent plain CHANNEL_ANSWER\n\nnoevents\n\nnoevents\n\nbogus\n\n');
  const replies = [];
  for (let i = 0; i < 5; i++) replies.push((await c.nextReply()).raw.toString());
  assert.deepEqual(replies, [
    reply('+OK accepted'), reply('+OK event listener enabled plain'), reply('+OK no longer listening for events'),
    reply('-ERR not listening for events'), reply('-ERR command not found'),
  ]);
});
