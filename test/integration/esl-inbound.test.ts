// The inbound Event Socket against real clients (npm modesl 1.2.1 and esl-lite 3.2.0) and a raw
// TCP socket for byte-exact checks. Expected bytes follow mod_event_socket.c (FreeSWITCH 1.10):
// `Content-Type: command/reply\nReply-Text: <text>\n\n`, `Content-Type: api/response\n
// Content-Length: <bytes>\n\n<body>`, events as `Content-Length: n\nContent-Type: text/event-<fmt>\n\n`.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../../src/lib/logger.ts';
import { makeChannel, collectEvents, until } from '../helpers/harness.ts';
import { RawEsl, decoded, plainBody, plainHeaders } from '../helpers/esl-raw.ts';
import {
  startEsl, modeslConnect, modeslApi, modeslNextEvent, modeslClose, eslLiteClient, type EslFixture,
} from '../helpers/esl-clients.ts';

let esl: EslFixture;
before(async () => { esl = await startEsl(); });
after(async () => { await esl.close(); });

const GOODBYE = 'Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';

function channel() {
  return makeChannel({ runtime: esl.runtime });
}

test('modesl: good password, then api', async () => {
  const conn = await modeslConnect(esl.port);
  assert.match(await modeslApi(conn, 'status'), /^UP \d+ years?, .*\nFreeSWITCH \(Version .*\) is ready\n/);
  await modeslClose(conn);
});

test('modesl: a bad password gets -ERR invalid and the connection is closed', async () => {
  const esl2 = await import('modesl');
  const result = await new Promise<{ reply: string | null; ended: boolean }>((resolve) => {
    const conn = new esl2.default.Connection('127.0.0.1', esl.port, 'wrong');
    let reply: string | null = null;
    conn.on('esl::event::auth::fail', (e: { getHeader(n: string): string | null }) => { reply = e.getHeader('Reply-Text'); });
    conn.on('esl::end', () => resolve({ reply, ended: true }));
  });
  assert.deepEqual(result, { reply: '-ERR invalid', ended: true });
});

test('raw: greeting, wrong password, bytes exactly', async () => {
  const c = await RawEsl.connect(esl.port);
  assert.equal((await c.nextReply()).raw.toString(), 'Content-Type: auth/request\n\n');
  c.send('auth ClueCon2\n\n');
  await c.closed;
  assert.equal(c.raw.toString(), 'Content-Type: auth/request\n\n'
    + 'Content-Type: command/reply\nReply-Text: -ERR invalid\n\n' + GOODBYE);
});

test('raw: api replies byte for byte (Content-Length in bytes)', async () => {
  const { channel: ch } = channel();
  ch.setVariable('who', 'Jöhn €');
  const c = await RawEsl.authed(esl.port);
  assert.equal((await c.command(`api uuid_getvar ${ch.uuid} caller_id_name`)).raw.toString(),
    'Content-Type: api/response\nContent-Length: 6\n\nTester');
  const utf8 = await c.command(`api uuid_getvar ${ch.uuid} who`);
  assert.equal(utf8.raw.toString(), 'Content-Type: api/response\nContent-Length: 9\n\nJöhn €');
  assert.equal(utf8.body.length, 9);
  assert.equal((await c.command('api nosuch thing')).raw.toString(),
    'Content-Type: api/response\nContent-Length: 31\n\n-ERR nosuch Command not found!\n');
  assert.equal((await c.command('api uuid_kill 0000')).raw.toString(),
    'Content-Type: api/response\nContent-Length: 22\n\n-ERR No such channel!\n');
  assert.equal((await c.command('api uuid_setvar')).raw.toString(),
    'Content-Type: api/response\nContent-Length: 29\n\n-USAGE: <uuid> <var> [value]\n');
  const conn = await modeslConnect(esl.port);
  assert.equal(await modeslApi(conn, 'uuid_getvar', `${ch.uuid} who`), 'Jöhn €');
  assert.equal(await modeslApi(conn, 'uuid_exists', ch.uuid), 'true');
  await modeslClose(conn);
  c.send('exit\n\n');
  assert.equal((await c.nextReply()).raw.toString(), 'Content-Type: command/reply\nReply-Text: +OK bye\n\n');
  assert.equal((await c.nextReply()).raw.toString(), GOODBYE);
  await c.closed;
  ch.hangup();
});

test('api with bytes that are not UTF-8 (uuid_audio_stream metadata) is refused, not mangled', async () => {
  const { channel: ch } = channel();
  const c = await RawEsl.authed(esl.port);
  c.send(Buffer.concat([Buffer.from(`api uuid_audio_stream ${ch.uuid} start ws://127.0.0.1:9/x mono 8k {"name":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n\n')]));
  const reply = await c.nextReply();
  assert.equal(reply.raw.toString(), 'Content-Type: api/response\nContent-Length: 36\n\n-ERR the command is not valid UTF-8\n');
  assert.equal((await c.command(`api uuid_audio_stream ${ch.uuid} stop`)).body.toString(), '-ERR no stream on this channel\n', 'nothing was started');
  c.close();
  ch.hangup();
});

test('bgapi: Job-UUID reply at once, then BACKGROUND_JOB with the command, its argument and the output', async () => {
  const { channel: ch } = channel();
  const c = await RawEsl.authed(esl.port);
  await c.command('event plain BACKGROUND_JOB');
  const reply = await c.command(`bgapi uuid_getvar ${ch.uuid} caller_id_number\nJob-UUID: my-job-1`);
  assert.equal(reply.raw.toString(), 'Content-Type: command/reply\nReply-Text: +OK Job-UUID: my-job-1\nJob-UUID: my-job-1\n\n');
  const job = await c.nextEvent();
  assert.equal(job.contentType, 'text/event-plain');
  const h = plainHeaders(job);
  assert.equal(h.get('event-name'), 'BACKGROUND_JOB');
  assert.equal(h.get('job-uuid'), 'my-job-1');
  assert.equal(h.get('job-command'), 'uuid_getvar');
  assert.equal(h.get('job-command-arg'), `${ch.uuid} caller_id_number`);
  assert.equal(h.get('job-owner-uuid'), undefined);
  assert.equal(h.get('content-length'), '4');
  assert.equal(plainBody(job), '1000');
  const generated = await c.command('bgapi version');
  const id = generated.headers.get('job-uuid')!;
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal(generated.headers.get('reply-text'), `+OK Job-UUID: ${id}`);
  assert.equal(decoded(await c.nextEvent(), 'Job-UUID'), id);
  c.close();
  ch.hangup();
});

test('modesl bgapi (Job-UUID header, trailing space) and esl-lite bgapi (lower-case job-uuid, ULID)', async () => {
  const conn = await modeslConnect(esl.port);
  const job = await new Promise<{ getHeader(n: string): string | null; getBody(): string }>((resolve) => conn.bgapi('status', '', resolve));
  assert.equal(job.getHeader('Job-Command'), 'status');
  assert.match(job.getBody(), /^UP /);
  await modeslClose(conn);
  const client = eslLiteClient(esl.port);
  try {
    const res = await client.bgapi('version short', 3000);
    assert.ok(!(res instanceof Error), String(res));
    if (!(res instanceof Error)) {
      assert.equal(res.body.response, '1.10.12-release\n');
      assert.match(String(res.body.jobUUID), /^[0-9A-Z]{26}$/);
    }
  } finally {
    client.end();
  }
});

test('subscriptions in plain, json and xml through modesl, envelopes checked on a raw socket', async () => {
  const { channel: ch } = channel();
  ch.setVariable('note', 'héllo & <bye>');
  const conns = await Promise.all([modeslConnect(esl.port), modeslConnect(esl.port), modeslConnect(esl.port)]);
  const formats = ['plain', 'json', 'xml'] as const;
  await Promise.all(conns.map((conn, i) => new Promise((r) => conn.events(formats[i]!, 'CHANNEL_ANSWER', r))));
  const raws = await Promise.all(formats.map(() => RawEsl.authed(esl.port)));
  for (let i = 0; i < 3; i++) {
    assert.equal((await raws[i]!.command(`event ${formats[i]} CHANNEL_ANSWER`)).headers.get('reply-text'), `+OK event listener enabled ${formats[i]}`);
  }
  const got = conns.map((conn) => modeslNextEvent(conn, 'CHANNEL_ANSWER'));
  ch.answer();
  const events = await Promise.all(got);
  for (const e of events) {
    assert.equal(e.getHeader('Unique-ID'), ch.uuid);
    assert.equal(e.getHeader('Caller-Caller-ID-Number'), '1000');
  }
  assert.equal(events[0]!.getHeader('variable_note'), 'héllo & <bye>');
  assert.equal(events[1]!.getHeader('variable_note'), 'héllo & <bye>');
  // modesl does not URL-decode xml values; FreeSWITCH sends them encoded.
  assert.equal(events[2]!.getHeader('variable_note'), 'h%C3%A9llo%20%26%20%3Cbye%3E');
  const frames = await Promise.all(raws.map((r) => r.nextEvent()));
  assert.deepEqual(frames.map((f) => f.contentType), ['text/event-plain', 'text/event-json', 'text/event-xml']);
  for (const f of frames) assert.equal(Number(f.headers.get('content-length')), f.body.length);
  const json = JSON.parse(frames[1]!.body.toString()) as Record<string, string>;
  assert.equal(json['variable_note'], 'héllo & <bye>');
  assert.equal(json['Event-Name'], 'CHANNEL_ANSWER');
  assert.ok(frames[2]!.body.toString().startsWith('<event>\n  <headers>\n    <Event-Name>CHANNEL_ANSWER</Event-Name>\n'));
  assert.ok(frames[2]!.body.toString().includes('    <variable_note>h%C3%A9llo%20%26%20%3Cbye%3E</variable_note>\n'));
  for (const r of raws) r.close();
  await Promise.all(conns.map(modeslClose));
  ch.hangup();
});

test('event commands: accumulate, format alone, nixevent, noevents, unknown names', async () => {
  const c = await RawEsl.authed(esl.port);
  assert.equal((await c.command('event plain')).headers.get('reply-text'), '-ERR no keywords supplied');
  assert.equal((await c.command('event json NOT_AN_EVENT')).headers.get('reply-text'), '-ERR no keywords supplied');
  assert.equal((await c.command('event CHANNEL_ANSWER')).headers.get('reply-text'), '+OK event listener enabled json');
  assert.equal((await c.command('event plain channel_hangup')).headers.get('reply-text'), '+OK event listener enabled plain');
  assert.equal((await c.command('nixevent')).headers.get('reply-text'), '-ERR no keywords supplied');
  assert.equal((await c.command('nixevent CHANNEL_ANSWER')).headers.get('reply-text'), '+OK events nixed');
  const { channel: ch } = channel();
  ch.answer();
  ch.hangup();
  const e = await c.nextEvent();
  assert.equal(decoded(e, 'Event-Name'), 'CHANNEL_HANGUP', 'CHANNEL_ANSWER was nixed, CHANNEL_HANGUP kept');
  assert.equal((await c.command('noevents')).headers.get('reply-text'), '+OK no longer listening for events');
  assert.equal((await c.command('noevents')).headers.get('reply-text'), '-ERR not listening for events');
  assert.equal((await c.command('divert_events on')).headers.get('reply-text'), '-ERR not controlling a session.');
  assert.equal((await c.command('linger')).headers.get('reply-text'), '-ERR not controlling a session');
  assert.equal((await c.command('resume')).headers.get('reply-text'), '-ERR command not found');
  assert.equal((await c.command('connect')).headers.get('reply-text'), '-ERR command not found');
  assert.equal((await c.command('userauth a@b:c')).headers.get('reply-text'), '-ERR command not found');
  c.close();
});

test('filters: only matching events pass; filter delete restores them (exact replies)', async () => {
  const a = channel().channel;
  const b = channel().channel;
  const c = await RawEsl.authed(esl.port);
  await c.command('event plain CHANNEL_ANSWER CHANNEL_PARK');
  assert.equal((await c.command(`filter Unique-ID ${b.uuid}`)).raw.toString(),
    `Content-Type: command/reply\nReply-Text: +OK filter added. [Unique-ID]=[${b.uuid}]\n\n`);
  assert.equal((await c.command('filter Unique-ID')).headers.get('reply-text'), '-ERR invalid syntax');
  a.answer();
  b.answer();
  const first = await c.nextEvent();
  assert.equal(decoded(first, 'Unique-ID'), b.uuid);
  assert.equal((await c.command(`filter delete Unique-ID ${b.uuid}`)).raw.toString(),
    `Content-Type: command/reply\nReply-Text: +OK filter deleted. [Unique-ID][${b.uuid}]\n\n`);
  a.park();
  assert.equal(decoded(await c.nextEvent(), 'Unique-ID'), a.uuid);
  assert.equal(c.events.length, 0, 'no other event was let through');
  // modesl's filter/filterDelete helpers
  const conn = await modeslConnect(esl.port);
  assert.equal((await new Promise<{ getHeader(n: string): string | null }>((r) => conn.filter('Event-Name', 'CHANNEL_HANGUP', r))).getHeader('Reply-Text'),
    '+OK filter added. [Event-Name]=[CHANNEL_HANGUP]');
  assert.equal((await new Promise<{ getHeader(n: string): string | null }>((r) => conn.filterDelete('Event-Name', 'CHANNEL_HANGUP', r))).getHeader('Reply-Text'),
    '+OK filter deleted. [Event-Name][CHANNEL_HANGUP]');
  await modeslClose(conn);
  c.close();
  a.hangup();
  b.hangup();
});

test('sendmsg: execute set and answer, hangup with a cause, unknown uuid', async () => {
  const { channel: ch, endpoint } = channel();
  const ev = collectEvents(esl.runtime);
  const c = await RawEsl.authed(esl.port);
  assert.equal((await c.command(`sendmsg ${ch.uuid}\ncall-command: execute\nexecute-app-name: set\nexecute-app-arg: foo=bar baz`)).headers.get('reply-text'), '+OK');
  await ev.waitForEvent('CHANNEL_EXECUTE_COMPLETE');
  assert.equal(ch.getVariable('foo'), 'bar baz');
  assert.equal((await c.command(`sendmsg ${ch.uuid}\nCall-Command: execute\nExecute-App-Name: answer`)).headers.get('reply-text'), '+OK');
  await ev.waitForEvent('CHANNEL_EXECUTE_COMPLETE', 5000, 2);
  assert.equal(ch.answerState, 'answered');
  ev.unsubscribe();
  assert.equal((await c.command('sendmsg 1234\ncall-command: execute\nexecute-app-name: answer')).headers.get('reply-text'), '-ERR invalid session id [1234]');
  assert.equal((await c.command('sendmsg\ncall-command: execute\nexecute-app-name: answer')).headers.get('reply-text'), '-ERR invalid session id []');
  assert.equal((await c.command(`sendmsg ${ch.uuid}\ncall-command: unicast`)).headers.get('reply-text'), '-ERR unsupported call-command unicast');
  assert.equal((await c.command(`sendmsg ${ch.uuid}\ncall-command: hangup\nhangup-cause: USER_BUSY`)).headers.get('reply-text'), '+OK');
  assert.equal(endpoint.hungUp, 'USER_BUSY');
  c.close();
});

test('sendmsg Event-UUID becomes the Application-UUID of CHANNEL_EXECUTE_COMPLETE (modesl execute)', async () => {
    const { channel: ch } = channel();
    const conn = await modeslConnect(esl.port);
    try {
      const done = await new Promise<{ getHeader(n: string): string | null }>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no CHANNEL_EXECUTE_COMPLETE matched')), 1500);
        conn.execute('set', 'x=1', ch.uuid, (e) => { clearTimeout(t); resolve(e); });
      });
      assert.equal(done.getHeader('Application'), 'set');
    } finally {
      await modeslClose(conn);
      ch.hangup();
    }
  });

test('myevents <uuid>: that call only; without linger the connection ends after CHANNEL_HANGUP', async () => {
  const { channel: mine } = channel();
  const { channel: other } = channel();
  const c = await RawEsl.authed(esl.port);
  assert.equal((await c.command('myevents 0000')).headers.get('reply-text'), '-ERR invalid uuid');
  assert.equal((await c.command(`myevents ${mine.uuid}`)).headers.get('reply-text'), '+OK Events Enabled');
  assert.equal((await c.command(`myevents ${mine.uuid}`)).headers.get('reply-text'), '-ERR aready enabled.');
  other.answer();
  mine.answer();
  assert.equal(decoded(await c.nextEvent(), 'Unique-ID'), mine.uuid);
  mine.hangup();
  assert.equal(decoded(await c.nextEvent(), 'Event-Name'), 'CHANNEL_HANGUP');
  const notice = await c.nextReply();
  assert.equal(notice.raw.toString(), `Content-Type: text/disconnect-notice\nControlled-Session-UUID: ${mine.uuid}\n`
    + 'Content-Disposition: disconnect\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n');
  await c.closed;
  other.hangup();
});

test('myevents + linger: all hangup events, the linger notice, then exit', async () => {
  const { channel: ch } = channel();
  const c = await RawEsl.authed(esl.port);
  await c.command(`myevents ${ch.uuid} json`);
  assert.equal((await c.command('linger 5')).headers.get('reply-text'), '+OK will linger 5 seconds');
  assert.equal((await c.command('nolinger')).headers.get('reply-text'), '+OK will not linger');
  assert.equal((await c.command('linger')).headers.get('reply-text'), '+OK will linger');
  ch.hangup('NORMAL_CLEARING');
  const names: string[] = [];
  for (let i = 0; i < 6; i++) names.push((JSON.parse((await c.nextEvent()).body.toString()) as Record<string, string>)['Event-Name']!);
  // FreeSWITCH's hangup sequence to CS_DESTROY, less CHANNEL_CALLSTATE (not one of the myevents events).
  assert.deepEqual(names, ['CHANNEL_HANGUP', 'CHANNEL_STATE', 'CHANNEL_STATE', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY', 'CHANNEL_STATE']);
  const linger = await c.nextReply();
  assert.equal(linger.raw.toString(), `Content-Type: text/disconnect-notice\nControlled-Session-UUID: ${ch.uuid}\n`
    + 'Content-Disposition: linger\nChannel-Name: test/channel\nLinger-Time: -1\nContent-Length: 0\n\n');
  assert.equal((await c.command('api version short')).body.toString(), '1.10.12-release\n', 'a lingering connection still takes commands');
  c.send('exit\n\n');
  assert.equal((await c.nextReply()).headers.get('reply-text'), '+OK bye');
  assert.equal((await c.nextReply()).headers.get('content-disposition'), 'disconnect');
  await c.closed;
});

test('log <level>: log/data frames with FreeSWITCH\'s headers; nolog', async () => {
  const c = await RawEsl.authed(esl.port);
  assert.equal((await c.command('log 6')).headers.get('reply-text'), '+OK log level 6 [6]');
  const logger = new Logger('esl-test');
  logger.debug('not at level 6');
  logger.info('hello from the log');
  const frame = await c.nextEvent();
  assert.equal(frame.contentType, 'log/data');
  assert.equal(frame.headers.get('log-level'), '6');
  assert.equal(frame.headers.get('log-file'), 'esl-inbound.test.ts', 'the source file that logged it');
  assert.match(frame.headers.get('log-line')!, /^[1-9]\d*$/);
  assert.equal(frame.headers.get('text-channel'), '0');
  assert.equal(Number(frame.headers.get('content-length')), frame.body.length);
  assert.match(frame.body.toString(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \d+\.\d\d% \[INFO\] esl-inbound\.test\.ts:\d+ esl-test hello from the log\n$/);
  assert.equal((await c.command('log bogus')).headers.get('reply-text'), '-ERR invalid log level');
  assert.equal((await c.command('log warning')).headers.get('reply-text'), '+OK log level warning [4]');
  assert.equal((await c.command('nolog')).headers.get('reply-text'), '+OK no longer logging');
  assert.equal((await c.command('nolog')).headers.get('reply-text'), '-ERR not loging');
  logger.error('not delivered any more');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(c.events.length, 0);
  c.close();
});

test('sendevent fires an event; a subscriber gets it with its headers and body', async () => {
  const c = await RawEsl.authed(esl.port);
  await c.command('event plain CUSTOM my::thing');
  // The body is followed by the helper's blank line, which the server skips as it skips blank lines.
  const reply = await c.command('sendevent CUSTOM\nEvent-Subclass: my::thing\nX-Color: blue\nContent-Length: 5\n\nhello');
  assert.match(reply.headers.get('reply-text')!, /^\+OK [0-9a-f-]{36}$/);
  const e = await c.nextEvent();
  assert.equal(decoded(e, 'Event-Subclass'), 'my::thing');
  assert.equal(decoded(e, 'X-Color'), 'blue');
  assert.equal(plainBody(e), 'hello');
  c.close();
});

test('esl-lite: channel events and CUSTOM subclasses arrive as json', async () => {
  const client = eslLiteClient(esl.port);
  try {
    const answered = new Promise<Record<string, unknown>>((resolve) => client.on('CHANNEL_ANSWER', (d) => resolve(d.body.data)));
    const custom = new Promise<{ data: Record<string, unknown>; response: unknown }>((resolve) =>
      client.custom.on('my::custom', (d) => resolve({ data: d.body.data, response: d.body.response })));
    await until(() => esl.server.clientCount > 0, 2000, 'esl-lite connected');
    await new Promise((r) => setTimeout(r, 200)); // its subscriptions are queued behind auth
    const { channel: ch } = channel();
    ch.answer();
    const data = await answered;
    assert.equal(data['Unique-ID'], ch.uuid);
    ch.fire('CUSTOM', 'my::custom', '{"x":1}');
    const c = await custom;
    assert.equal(c.data['Event-Subclass'], 'my::custom');
    assert.equal(c.response, '{"x":1}');
    ch.hangup();
  } finally {
    client.end();
  }
});
