// What the server sends back: json events, streamAudio play files, malformed messages, cleanup.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidAudioStream } from '../../src/audio-stream/command.ts';
import { addLogSink, type LogLevel } from '../../src/lib/logger.ts';
import { findAudioStream, makeChannel, collectEvents, startTestServer, feed, binaries, type TestServer } from '../helpers/harness.ts';
import { sine } from '../helpers/audio.ts';

const root = mkdtempSync(join(tmpdir(), 'as-messages-'));
const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(root, { recursive: true, force: true });
});

const logs: Array<{ level: LogLevel; scope: string; message: string }> = [];
addLogSink((level, scope, message) => logs.push({ level, scope, message }));

async function connected(vars: Record<string, string> = {}) {
  const srv = await startTestServer();
  servers.push(srv);
  const tempDir = mkdtempSync(join(root, 't-'));
  const { runtime, channel } = makeChannel({ tempDir });
  for (const [k, v] of Object.entries(vars)) channel.setVariable(k, v);
  const ev = collectEvents(runtime);
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} start ${srv.url} mono 8k`), '+OK Success\n');
  const conn = await srv.nextConnection();
  await ev.waitFor('connect');
  return { srv, conn, runtime, channel, ev, tempDir };
}

const pcm = Buffer.from(Int16Array.from([1, -2, 300, -400, 32767, -32768]).buffer);

test('a streamAudio raw message becomes a file and a play event; other text becomes json', async () => {
  const { conn, channel, ev, tempDir } = await connected();
  conn.socket.send('hello, not json');
  conn.socket.send('{"type":"transcript","text":"hi"}');
  conn.socket.send(JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 16000, audioData: pcm.toString('base64'), seq: 7, tag: { a: [1, 2] } } }));
  conn.socket.send(JSON.stringify({ Type: 'streamAudio', DATA: { AudioDataType: 'wav', AUDIODATA: pcm.toString('base64url') } }));
  await ev.waitFor('play', 5000, 2);
  const json = ev.of('json').map((e) => e.body);
  assert.deepEqual(json, ['hello, not json', '{"type":"transcript","text":"hi"}']);
  const [p0, p1] = ev.of('play').map((e) => JSON.parse(e.body!) as Record<string, unknown>);
  const f0 = join(tempDir, `${channel.uuid}_0.tmp.r16`);
  assert.equal(ev.of('play')[0]!.body, `{"audioDataType":"raw","sampleRate":16000,"seq":7,"tag":{"a":[1,2]},"file":${JSON.stringify(f0)}}`);
  assert.deepEqual(readFileSync(f0), pcm);
  assert.equal(p1!.file, join(tempDir, `${channel.uuid}_1.tmp.wav`));
  assert.deepEqual(Object.keys(p1!), ['AudioDataType', 'file']);
  assert.deepEqual(readFileSync(p1!.file as string), pcm);
  assert.ok(p0);
  // Events arrive in message order.
  const order = ev.events.filter((e) => e.subclass === 'mod_audio_stream::json' || e.subclass === 'mod_audio_stream::play').map((e) => e.subclass);
  assert.deepEqual(order, ['mod_audio_stream::json', 'mod_audio_stream::json', 'mod_audio_stream::play', 'mod_audio_stream::play']);
  const stream = findAudioStream(channel)!;
  channel.hangup();
  await stream.finished; // the connection is over and the play files are deleted
  assert.ok(!existsSync(f0) && !existsSync(p1!.file as string), 'files deleted on hangup');
  assert.deepEqual(readdirSync(tempDir), []);
});

test('every raw rate maps to its extension (.r8..r64, .r11025, .r22050, .r44100); other types keep theirs', async () => {
  const { conn, runtime, channel, ev } = await connected();
  const types: Array<[Record<string, unknown>, string]> = [
    [{ audioDataType: 'raw', sampleRate: 8000 }, '.r8'], [{ audioDataType: 'raw', sampleRate: 24000 }, '.r24'],
    [{ audioDataType: 'raw', sampleRate: 48000 }, '.r48'], [{ audioDataType: 'raw', sampleRate: 64000 }, '.r64'],
    [{ audioDataType: 'raw', sampleRate: 11025 }, '.r11025'], [{ audioDataType: 'raw', sampleRate: 22050 }, '.r22050'],
    [{ audioDataType: 'raw', sampleRate: 44100 }, '.r44100'],
    [{ audioDataType: 'mp3' }, '.mp3'], [{ audioDataType: 'ogg' }, '.ogg'], [{ audioDataType: 'pcmu' }, '.pcmu'], [{ audioDataType: 'pcma' }, '.pcma'],
  ];
  for (const [data] of types) conn.socket.send(JSON.stringify({ type: 'streamAudio', data: { ...data, audioData: 'AAAA' } }));
  await ev.waitFor('play', 5000, types.length);
  const files = ev.of('play').map((e) => (JSON.parse(e.body!) as { file: string }).file);
  types.forEach(([, ext], i) => assert.ok(files[i]!.endsWith(`_${i}.tmp${ext}`), files[i]));
  const stream = findAudioStream(channel)!;
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} stop`), '+OK Success\n');
  await stream.finished;
  assert.ok(files.every((f) => !existsSync(f)), 'files deleted on stop');
  channel.hangup();
});

test('malformed streamAudio messages become json events with an error log, and streaming goes on', async () => {
  const { conn, channel, ev } = await connected();
  const bad = [
    '{"type":"streamAudio"}',
    '{"type":"streamAudio","data":{"audioData":"AAAA"}}',
    '{"type":"streamAudio","data":{"audioDataType":"flac","audioData":"AAAA"}}',
    '{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":12000,"audioData":"AAAA"}}',
    '{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":"8000","audioData":"AAAA"}}',
    '{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":8000}}',
    '{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":8000,"audioData":"AA AA"}}',
    '{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":8000,"audioData":"A"}}',
    '{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":8000,"audioData":42}}',
    '{"type":"streamAudio","data":[1,2]}',
    '{"type":"streamAudio",',
  ];
  const before = logs.length;
  for (const m of bad) conn.socket.send(m);
  await ev.waitFor('json', 5000, bad.length);
  assert.deepEqual(ev.of('json').map((e) => e.body), bad);
  assert.equal(ev.of('play').length, 0);
  const errors = logs.slice(before).filter((l) => l.level === 'error' && l.scope.includes(channel.uuid)).map((l) => l.message);
  for (const expected of [/no data in streamAudio/, /no audioDataType/, /unsupported audio type: flac/, /unsupported sample rate: 12000/,
    /unsupported sample rate: 8000/, /no audioData/, /base64 decode error/]) {
    assert.ok(errors.some((e) => expected.test(e)), `log ${expected}`);
  }
  feed(channel, sine(440, 8000, 0.2), null, 160);
  await conn.received('binary', 10);
  assert.equal(binaries(conn).length, 10, 'audio still flowing');
  channel.hangup();
});

test('STREAM_SUPPRESS_LOG silences only the per-message log line', async () => {
  for (const suppress of [false, true]) {
    const { conn, channel, ev } = await connected(suppress ? { STREAM_SUPPRESS_LOG: 'true' } : {});
    const before = logs.length;
    conn.socket.send('marker-message');
    await ev.waitFor('json');
    const lines = logs.slice(before).filter((l) => l.message.includes('marker-message'));
    assert.equal(lines.length, suppress ? 0 : 1, `suppress=${suppress}`);
    channel.hangup();
  }
});

test('a message over the 16 MiB bound is an error (code 4), not an out-of-memory', async () => {
  const { conn, runtime, channel, ev } = await connected();
  conn.socket.send('x'.repeat(20 * 1024 * 1024));
  const e = await ev.waitFor('error', 10000);
  const body = JSON.parse(e.body!) as { status: string; message: { code: number; error: string } };
  assert.equal(body.status, 'error');
  assert.equal(body.message.code, 4);
  assert.match(uuidAudioStream(runtime, `${channel.uuid} stop`), /^-ERR/, 'an error tears the stream down');
  channel.hangup();
});

test('incoming binary messages are ignored', async () => {
  const { conn, channel, ev } = await connected();
  conn.socket.send(Buffer.alloc(100));
  conn.socket.send('after-binary');
  await ev.waitFor('json');
  assert.deepEqual(ev.of('json').map((e) => e.body), ['after-binary']);
  channel.hangup();
});

test('a new stream after stop never reuses (or loses) the play file names of the old one', async () => {
  const { srv, conn, runtime, channel, ev, tempDir } = await connected();
  conn.socket.send(JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 8000, audioData: 'AAAA' } }));
  await ev.waitFor('play');
  const first = findAudioStream(channel)!;
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} stop`), '+OK Success\n');
  const nextP = srv.nextConnection();
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} start ${srv.url} mono 8k`), '+OK Success\n');
  const next = await nextP;
  await ev.waitFor('connect', 5000, 2);
  next.socket.send(JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 8000, audioData: 'AQID' } }));
  await ev.waitFor('play', 5000, 2);
  const second = (JSON.parse(ev.of('play')[1]!.body!) as { file: string }).file;
  assert.equal(second, join(tempDir, `${channel.uuid}_1.tmp.r8`));
  await first.finished; // the old stream's close and cleanup are done
  assert.deepEqual(readFileSync(second), Buffer.from([1, 2, 3]), 'the new file is still there');
  channel.hangup();
});

test('a streamAudio member named __proto__ is kept in the play event, as any other member', async () => {
  const { conn, channel, ev } = await connected();
  conn.socket.send('{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":8000,"__proto__":{"x":1},"audioData":"AAAA"}}');
  const play = await ev.waitFor('play');
  assert.match(play.body!, /^\{"audioDataType":"raw","sampleRate":8000,"__proto__":\{"x":1\},"file":".*_0\.tmp\.r8"\}$/);
  channel.hangup();
});
