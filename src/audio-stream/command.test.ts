import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { uuidAudioStream, UUID_AUDIO_STREAM_SYNTAX } from './command.ts';
import { parseStreamRate, parseStreamUrl } from './url.ts';
import { readStreamOptions } from './options.ts';
import { findAudioStream, makeChannel, collectEvents, startTestServer } from '../../test/helpers/harness.ts';

const usage = `-USAGE: ${UUID_AUDIO_STREAM_SYNTAX}\n`;
const cleanups: Array<() => unknown> = [];
after(async () => { for (const c of cleanups) await c(); });

test('usage replies', () => {
  const { runtime, channel } = makeChannel();
  assert.equal(uuidAudioStream(runtime, ''), usage);
  assert.equal(uuidAudioStream(runtime, channel.uuid), usage);
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} start ws://127.0.0.1:1`), usage);
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} START ws://127.0.0.1:1`), usage, 'START too (the C module crashes here)');
  channel.hangup();
});

test('errors name what is wrong and never answer empty', () => {
  const { runtime, channel } = makeChannel();
  const u = channel.uuid;
  const cases: Array<[string, RegExp]> = [
    ['00000000-0000-4000-8000-000000000000 pause', /^-ERR no such channel/],
    [`${u} start ws://127.0.0.1:9 quad 8k`, /^-ERR invalid mix type: quad/],
    [`${u} start ws://127.0.0.1:9 mono 12000`, /^-ERR invalid sample rate "12000"/],
    [`${u} start ws://127.0.0.1:9 mono 16000abc`, /^-ERR invalid sample rate/],
    [`${u} start http://127.0.0.1:9 mono 8k`, /^-ERR invalid websocket url .*ws:\/\/ or wss:\/\//],
    [`${u} start ws://127.0.0.1:9/#frag mono 8k`, /^-ERR .*fragment/],
    [`${u} start ws:// mono 8k`, /^-ERR invalid websocket url/],
    [`${u} start ws://127.0.0.1:99999 mono 8k`, /^-ERR invalid websocket url/],
    [`${u} stop`, /^-ERR no stream on this channel/],
    [`${u} pause`, /^-ERR no stream/],
    [`${u} resume`, /^-ERR no stream/],
    [`${u} send_text hi`, /^-ERR no stream/],
    [`${u} bogus`, /^-ERR unknown command bogus/],
    [`${u} start ws://127.0.0.1:9 mono 8k {"x":"\ud800"}`, /^-ERR metadata is not valid UTF-8/],
    [`${u} start ws://127.0.0.1:9 mono 8k ${'x'.repeat(65537)}`, /^-ERR metadata longer than 65536 bytes/],
  ];
  for (const [args, re] of cases) {
    const reply = uuidAudioStream(runtime, args);
    assert.match(reply, re, args.slice(0, 80));
    assert.ok(reply.endsWith('\n'));
  }
  assert.equal(findAudioStream(channel), undefined, 'no stream left behind by a failed start');
  channel.hangup();
});

test('start pre-answers an unanswered channel; one stream per channel; restart after stop', async () => {
  const srv = await startTestServer();
  cleanups.push(() => srv.close());
  const { runtime, channel, endpoint } = makeChannel();
  const ev = collectEvents(runtime);
  assert.equal(channel.answerState, 'ringing');
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} start ${srv.url} mono 16k`), '+OK Success\n');
  assert.equal(endpoint.preAnswered, 1);
  assert.equal(channel.answerState, 'early');
  assert.ok(ev.events.some((e) => e.name === 'CHANNEL_PROGRESS_MEDIA'));
  assert.match(uuidAudioStream(runtime, `${channel.uuid} start ${srv.url} mono 16k`), /^-ERR .*already/);
  await ev.waitFor('connect');
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} Stop`), '+OK Success\n');
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} start ${srv.url} stereo 8k`), '+OK Success\n', 'a new start after stop');
  assert.equal(findAudioStream(channel)!.channels, 2);
  channel.hangup();
});

test('a channel that cannot pre-answer refuses start', () => {
  const { runtime, channel, endpoint } = makeChannel();
  endpoint.allowPreAnswer = false;
  assert.match(uuidAudioStream(runtime, `${channel.uuid} start ws://127.0.0.1:9 mono 8k`), /^-ERR cannot pre-answer/);
  channel.hangup();
});

test('connect event carries the channel headers and the exact body', async () => {
  const srv = await startTestServer();
  cleanups.push(() => srv.close());
  const { runtime, channel } = makeChannel();
  channel.setVariable('sip_h_X-Tenant', 'acme');
  const ev = collectEvents(runtime);
  uuidAudioStream(runtime, `${channel.uuid} start ${srv.url} mono 8k`);
  const e = await ev.waitFor('connect');
  assert.equal(e.name, 'CUSTOM');
  // As FreeSWITCH's Event Socket delivers it: Event-Subclass first, then Event-Name.
  assert.deepEqual(e.headers.slice(0, 2).map(([n]) => n), ['Event-Subclass', 'Event-Name']);
  assert.equal(e.get('Event-Subclass'), 'mod_audio_stream::connect');
  assert.equal(e.get('Event-Name'), 'CUSTOM');
  assert.equal(e.get('Unique-ID'), channel.uuid);
  assert.equal(e.get('Channel-Name'), 'test/channel');
  assert.equal(e.get('Caller-Caller-ID-Number'), '1000');
  assert.equal(e.get('Caller-Destination-Number'), 'stream');
  assert.equal(e.get('variable_sip_h_X-Tenant'), 'acme');
  assert.equal(e.get('Core-UUID'), runtime.bus.coreUuid);
  assert.match(e.get('Event-Date-Timestamp')!, /^\d{16}$/);
  // Event-Calling-*: our own source, honestly (the module's say mod_audio_stream.c responseHandler).
  assert.equal(e.get('Event-Calling-File'), 'audio-stream.ts');
  assert.equal(e.get('Event-Calling-Function'), 'AudioStream.fire');
  assert.ok(Number(e.get('Event-Calling-Line-Number')) > 0);
  assert.equal(e.body, '{"status":"connected"}');
  channel.hangup();
});

test('rates and urls', () => {
  const rate = (text: string | undefined) => { const r = parseStreamRate(text); return r.ok ? r.value : 'error'; };
  assert.equal(rate(undefined), 8000);
  assert.equal(rate('8k'), 8000);
  assert.equal(rate('16k'), 16000);
  for (const r of [24000, 32000, 44100, 48000]) assert.equal(rate(String(r)), r);
  assert.equal(rate('44.1k'), 44100);
  for (const bad of ['0', '-8000', '72000', '12000', '11000', 'abc', '16000abc']) assert.equal(rate(bad), 'error', bad);
  for (const [text, hz] of [['64000', 64000], ['40k', 40000], ['11025', 11025], ['22.05k', 22050], ['44100', 44100]] as const) assert.equal(rate(text), hz, text);
  const v6 = parseStreamUrl('ws://[::1]:9000/a?b=c');
  assert.ok(v6.ok);
  assert.equal(v6.value.host, '::1');
  assert.equal(v6.value.port, 9000);
  const tls = parseStreamUrl('wss://example.com/x');
  assert.ok(tls.ok && tls.value.secure && tls.value.port === 443);
  assert.equal(parseStreamUrl('ws://user_name.example:80/').ok, true, 'underscores are fine');
  assert.equal(parseStreamUrl(`ws://h/${'a'.repeat(5000)}`).ok, false);
  // Leniencies the module does not have (README): upper-case scheme and rate suffix.
  const upper = parseStreamUrl('WS://Example.COM:81/p');
  assert.ok(upper.ok && upper.value.href === 'ws://example.com:81/p' && !upper.value.secure);
  assert.equal(rate('16K'), 16000);
  // Userinfo: a password becomes Basic auth (ws sends it); a user alone is dropped, never an empty password.
  const bare = parseStreamUrl('ws://bot@127.0.0.1:9/x');
  assert.ok(bare.ok && bare.value.href === 'ws://127.0.0.1:9/x', bare.ok ? bare.value.href : '');
  const withPassword = parseStreamUrl('ws://bot:s3cret@127.0.0.1:9/x');
  assert.ok(withPassword.ok && withPassword.value.href === 'ws://bot:s3cret@127.0.0.1:9/x');
});

test('options from variables: defaults, parsing and fallbacks', () => {
  const warnings: string[] = [];
  const vars = new Map<string, string>();
  const read = () => readStreamOptions((n) => vars.get(n), (m) => warnings.push(m));
  const d = read();
  assert.deepEqual([d.deflate, d.heartbeatMs, d.bufferMs, d.connectTimeoutMs, d.tlsCaFile, d.suppressLog], [true, 0, 20, 5000, 'SYSTEM', false]);
  vars.set('STREAM_MESSAGE_DEFLATE', 'yes').set('STREAM_HEART_BEAT', '15').set('STREAM_BUFFER_SIZE', '100')
    .set('STREAM_CONNECT_TIMEOUT_MS', '1500').set('STREAM_SUPPRESS_LOG', 'on');
  const o = read();
  assert.deepEqual([o.deflate, o.heartbeatMs, o.bufferMs, o.connectTimeoutMs, o.suppressLog], [false, 15000, 100, 1500, true]);
  vars.set('STREAM_BUFFER_SIZE', '25').set('STREAM_HEART_BEAT', 'often').set('STREAM_EXTRA_HEADERS', '{bad');
  const b = read();
  assert.deepEqual([b.bufferMs, b.heartbeatMs, b.extraHeaders], [20, 0, {}]);
  assert.equal(warnings.length, 3);
  vars.set('STREAM_EXTRA_HEADERS', '{"Bad Name":"x","X-Ok":"y","X-Crlf":"a\\r\\nb"}');
  assert.deepEqual(read().extraHeaders, { 'X-Ok': 'y' });
});
