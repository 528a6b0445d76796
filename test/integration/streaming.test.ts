// The audio a WebSocket server receives, checked by content: sizes, frequency, level, channel
// separation, saturation, metadata order, pause, stop with tail and text, for every mix type.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidAudioStream } from '../../src/audio-stream/command.ts';
import { findAudioStream, makeChannel, collectEvents, startTestServer, feed, binaries, texts, type TestServer } from '../helpers/harness.ts';
import { sine, deinterleave, toneLevelDbfs, dominantFrequency, snrDb, pcmFromBuffer } from '../helpers/audio.ts';

const tempDir = mkdtempSync(join(tmpdir(), 'as-streaming-'));
const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(tempDir, { recursive: true, force: true });
});

async function server(): Promise<TestServer> {
  const s = await startTestServer({ perMessageDeflate: true });
  servers.push(s);
  return s;
}

interface Scenario {
  codecRateHz: number;
  ptimeMs: number;
  mix: 'mono' | 'mixed' | 'stereo';
  rate: string;
  rateHz: number;
  bufferMs?: number;
  read: Int16Array | null;
  write: Int16Array | null;
  metadata?: string;
  vars?: Record<string, string>;
  stopText?: string;
}

/** Runs one stream from start to stop and returns what the server got. */
async function run(s: Scenario) {
  const srv = await server();
  const { runtime, channel } = makeChannel({ rateHz: s.codecRateHz, ptimeMs: s.ptimeMs, tempDir });
  channel.answer();
  if (s.bufferMs) channel.setVariable('STREAM_BUFFER_SIZE', String(s.bufferMs));
  for (const [k, v] of Object.entries(s.vars ?? {})) channel.setVariable(k, v);
  const ev = collectEvents(runtime);
  const meta = s.metadata ? ` ${s.metadata}` : '';
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} start ${srv.url}/audio ${s.mix} ${s.rate}${meta}`), '+OK Success\n');
  const connP = srv.nextConnection();
  await ev.waitFor('connect');
  const conn = await connP;
  const frameSamples = (s.codecRateHz * s.ptimeMs) / 1000;
  feed(channel, s.read, s.write, frameSamples);
  const stop = s.stopText ? `stop ${s.stopText}` : 'stop';
  const stream = findAudioStream(channel)!;
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} ${stop}`), '+OK Success\n');
  const closed = await conn.closed;
  await stream.finished;
  assert.equal(ev.of('disconnect').length, 0, 'a stop fires no disconnect, as the module');
  channel.hangup();
  const bins = binaries(conn);
  const pcm = pcmFromBuffer(Buffer.concat(bins));
  return { conn, bins, pcm, closed, texts: texts(conn), events: ev };
}

function chunkBytes(rateHz: number, bufferMs: number, channels: number): number {
  return Math.round((rateHz * bufferMs) / 1000) * channels * 2;
}

function assertExactSizes(bins: Buffer[], size: number): void {
  assert.ok(bins.length > 1, 'several messages');
  for (let i = 0; i < bins.length - 1; i++) assert.equal(bins[i]!.length, size, `message ${i} size`);
  assert.ok(bins.at(-1)!.length <= size && bins.at(-1)!.length > 0, 'the tail is at most one chunk');
}

/** Skip the resampler's start-up (50 ms) before measuring a tone. */
function settled(samples: Int16Array, rateHz: number): Int16Array {
  return samples.subarray(Math.round(rateHz * 0.05));
}

const monoCases = [
  { codecRateHz: 8000, ptimeMs: 20, rate: '16k', rateHz: 16000, bufferMs: 20 },
  { codecRateHz: 8000, ptimeMs: 30, rate: '8k', rateHz: 8000, bufferMs: 100 },
  { codecRateHz: 16000, ptimeMs: 30, rate: '8k', rateHz: 8000, bufferMs: 40 },
  { codecRateHz: 8000, ptimeMs: 20, rate: '44100', rateHz: 44100, bufferMs: 20 },
  { codecRateHz: 48000, ptimeMs: 20, rate: '16k', rateHz: 16000, bufferMs: 60 },
  { codecRateHz: 16000, ptimeMs: 20, rate: '24000', rateHz: 24000, bufferMs: 20 },
];

for (const c of monoCases) {
  test(`mono ${c.codecRateHz} Hz ptime ${c.ptimeMs} -> ${c.rate}, ${c.bufferMs} ms messages: exact sizes, tone and level kept`, async () => {
    const seconds = 1.01;
    const tone = sine(1000, c.codecRateHz, seconds, 0.5);
    const r = await run({ ...c, mix: 'mono', read: tone, write: null });
    assertExactSizes(r.bins, chunkBytes(c.rateHz, c.bufferMs, 1));
    assert.equal(r.pcm.length, Math.round(c.rateHz * seconds), 'every sample arrives, the tail included');
    const body = settled(r.pcm, c.rateHz);
    assert.ok(Math.abs(dominantFrequency(body, c.rateHz) - 1000) < 2, 'frequency');
    assert.ok(Math.abs(toneLevelDbfs(body, 1000, c.rateHz) - -6.02) < 0.5, 'level');
    assert.ok(snrDb(body, 1000, c.rateHz) > 50, 'clean');
    assert.deepEqual(r.closed, { code: 1000, reason: 'Normal closure' });
  });
}

test('stereo: left is the read stream, right the write stream, no leakage, resampled 8k -> 16k', async () => {
  const left = sine(440, 8000, 1, 0.5);
  const right = sine(1500, 8000, 1, 0.25);
  const r = await run({ codecRateHz: 8000, ptimeMs: 20, mix: 'stereo', rate: '16k', rateHz: 16000, read: left, write: right });
  assertExactSizes(r.bins, chunkBytes(16000, 20, 2));
  const [l, rr] = deinterleave(r.pcm);
  const L = settled(l, 16000);
  const R = settled(rr, 16000);
  assert.ok(Math.abs(dominantFrequency(L, 16000) - 440) < 2);
  assert.ok(Math.abs(dominantFrequency(R, 16000) - 1500) < 2);
  assert.ok(Math.abs(toneLevelDbfs(L, 440, 16000) - -6.02) < 0.5);
  assert.ok(Math.abs(toneLevelDbfs(R, 1500, 16000) - -12.04) < 0.5);
  assert.ok(toneLevelDbfs(L, 1500, 16000) < -70, 'right does not leak into left');
  assert.ok(toneLevelDbfs(R, 440, 16000) < -70, 'left does not leak into right');
});

test('stereo at the codec rate with 30 ms packets and 100 ms messages is sample-exact', async () => {
  const left = sine(700, 8000, 0.95, 0.3);
  const right = sine(2100, 8000, 0.95, 0.3);
  const r = await run({ codecRateHz: 8000, ptimeMs: 30, mix: 'stereo', rate: '8k', rateHz: 8000, bufferMs: 100, read: left, write: right });
  assertExactSizes(r.bins, chunkBytes(8000, 100, 2));
  const [l, rr] = deinterleave(r.pcm);
  assert.deepEqual(l, left);
  assert.deepEqual(rr, right);
});

test('mixed is the saturating sum of read and write', async () => {
  const read = sine(500, 8000, 0.5, 0.9);
  const write = sine(500, 8000, 0.5, 0.9);
  const r = await run({ codecRateHz: 8000, ptimeMs: 20, mix: 'mixed', rate: '8k', rateHz: 8000, read, write });
  const expected = read.map((v, i) => Math.max(-32768, Math.min(32767, v + write[i]!)));
  assert.deepEqual(r.pcm, Int16Array.from(expected));
  assert.ok(r.pcm.includes(32767) && r.pcm.includes(-32768), 'the sum clipped');
});

test('mixed with a silent direction carries the other one, resampled', async () => {
  const read = sine(800, 8000, 1, 0.4);
  const r = await run({ codecRateHz: 8000, ptimeMs: 20, mix: 'mixed', rate: '16k', rateHz: 16000, read, write: null });
  const body = settled(r.pcm, 16000);
  assert.equal(r.pcm.length, 16000);
  assert.ok(Math.abs(dominantFrequency(body, 16000) - 800) < 2);
  assert.ok(Math.abs(toneLevelDbfs(body, 800, 16000) - 20 * Math.log10(0.4)) < 0.5);
});

test('metadata is the first message even when audio is fed before the connection opens', async () => {
  const srv = await server();
  const { runtime, channel } = makeChannel({ tempDir });
  const ev = collectEvents(runtime);
  const meta = '{"callId": "abc 123", "lang": "en"}';
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} start ${srv.url} mono 8k ${meta}`), '+OK Success\n');
  feed(channel, sine(440, 8000, 0.2), null, 160); // queued while connecting
  const conn = await srv.nextConnection();
  await ev.waitFor('connect');
  feed(channel, sine(440, 8000, 0.2), null, 160);
  uuidAudioStream(runtime, `${channel.uuid} stop`);
  await conn.closed;
  assert.deepEqual(conn.messages[0], { kind: 'text', text: meta });
  assert.equal(binaries(conn).length, 20, 'queued audio kept, in order after the metadata');
  channel.hangup();
});

test('nothing is sent while paused; audio resumes after resume', async () => {
  const srv = await server();
  const { runtime, channel } = makeChannel({ tempDir });
  const ev = collectEvents(runtime);
  uuidAudioStream(runtime, `${channel.uuid} start ${srv.url} mono 8k`);
  const conn = await srv.nextConnection();
  await ev.waitFor('connect');
  feed(channel, sine(400, 8000, 0.5), null, 160);
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} pause`), '+OK Success\n');
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} PAUSE`), '+OK Success\n', 'idempotent, case-insensitive');
  feed(channel, sine(2000, 8000, 0.5), null, 160);
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} send_text while paused`), '+OK Success\n');
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} resume`), '+OK Success\n');
  feed(channel, sine(400, 8000, 0.5), null, 160);
  uuidAudioStream(runtime, `${channel.uuid} stop`);
  await conn.closed;
  const pcm = pcmFromBuffer(Buffer.concat(binaries(conn)));
  assert.equal(pcm.length, 8000, 'only the unpaused second');
  assert.ok(toneLevelDbfs(pcm, 2000, 8000) < -80, 'no audio from the pause');
  assert.deepEqual(texts(conn), ['while paused']);
  channel.hangup();
});

test('stop flushes the partial chunk, then sends the whole text, then closes 1000', async () => {
  const r = await run({
    codecRateHz: 8000, ptimeMs: 20, mix: 'mono', rate: '8k', rateHz: 8000, bufferMs: 100,
    read: sine(300, 8000, 1.03), write: null, stopText: "'good bye' and thanks",
  });
  assert.equal(r.bins.length, 11);
  assert.equal(r.bins.at(-1)!.length, 30 * 8 * 2, 'the 30 ms tail');
  assert.equal(r.conn.messages.at(-1)!.kind, 'text');
  assert.deepEqual(r.texts, ['good bye and thanks']);
  assert.deepEqual(r.closed, { code: 1000, reason: 'Normal closure' });
});

test('send_text takes the rest of the line; an unknown sub-command and a missing text are errors', async () => {
  const srv = await server();
  const { runtime, channel } = makeChannel({ tempDir });
  const ev = collectEvents(runtime);
  uuidAudioStream(runtime, `${channel.uuid} start ${srv.url} mono`);
  const conn = await srv.nextConnection();
  await ev.waitFor('connect');
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} send_text {"event": "dtmf", "digit": "5"}`), '+OK Success\n');
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} send_text 'it''s quoted'  two  spaces`), '+OK Success\n');
  assert.match(uuidAudioStream(runtime, `${channel.uuid} send_text`), /^-ERR .+\n$/);
  assert.match(uuidAudioStream(runtime, `${channel.uuid} graceful-shutdown`), /^-ERR unknown command/);
  uuidAudioStream(runtime, `${channel.uuid} stop`);
  await conn.closed;
  assert.deepEqual(texts(conn), ['{"event": "dtmf", "digit": "5"}', 'its quoted  two  spaces']);
  channel.hangup();
});

test('permessage-deflate is offered by default and off with STREAM_MESSAGE_DEFLATE=true; extra headers are sent', async () => {
  for (const [value, negotiated] of [[undefined, true], ['true', false]] as const) {
    const srv = await server();
    const { runtime, channel } = makeChannel({ tempDir });
    if (value) channel.setVariable('STREAM_MESSAGE_DEFLATE', value);
    channel.setVariable('STREAM_EXTRA_HEADERS', '{"X-Call-Id":"call-42","Authorization":"Bearer t0k","X-Num":5}');
    const ev = collectEvents(runtime);
    uuidAudioStream(runtime, `${channel.uuid} start ${srv.url}/p?q=1 stereo 16k`);
    const conn = await srv.nextConnection();
    await ev.waitFor('connect');
    assert.equal(conn.socket.extensions.includes('permessage-deflate'), negotiated);
    assert.equal(conn.request.headers['x-call-id'], 'call-42');
    assert.equal(conn.request.headers.authorization, 'Bearer t0k');
    assert.equal(conn.request.headers['x-num'], undefined, 'only string members are headers');
    assert.equal(conn.request.url, '/p?q=1');
    const tone = sine(1000, 8000, 0.4, 0.5);
    feed(channel, tone, tone, 160);
    uuidAudioStream(runtime, `${channel.uuid} stop`);
    await conn.closed;
    const [l] = deinterleave(pcmFromBuffer(Buffer.concat(binaries(conn))));
    assert.ok(Math.abs(dominantFrequency(settled(l, 16000), 16000) - 1000) < 2, 'audio intact through deflate');
    channel.hangup();
  }
});

test('a codec change mid-stream (re-INVITE to G.722) keeps the sent rate and pitch right', async () => {
  const srv = await server();
  const { runtime, channel } = makeChannel({ rateHz: 8000, tempDir });
  const ev = collectEvents(runtime);
  uuidAudioStream(runtime, `${channel.uuid} start ${srv.url} mono 16k`);
  const conn = await srv.nextConnection();
  await ev.waitFor('connect');
  feed(channel, sine(700, 8000, 0.5, 0.5), null, 160);
  channel.setCodec({ name: 'G722', rateHz: 16000, ptimeMs: 20 });
  feed(channel, sine(700, 16000, 0.5, 0.5), null, 320);
  uuidAudioStream(runtime, `${channel.uuid} stop`);
  await conn.closed;
  const pcm = pcmFromBuffer(Buffer.concat(binaries(conn)));
  assert.equal(pcm.length, 16000, 'one second at 16 kHz, not 1.5 s');
  const after = pcm.subarray(8800);
  assert.ok(Math.abs(dominantFrequency(after, 16000) - 700) < 2, 'same pitch after the change');
  assert.ok(Math.abs(toneLevelDbfs(after, 700, 16000) - -6.02) < 0.5);
  channel.hangup();
});

test('audio queued while connecting all arrives after the metadata, with permessage-deflate', async () => {
  const srv = await server();
  const { runtime, channel } = makeChannel({ rateHz: 8000, tempDir });
  channel.setVariable('STREAM_BUFFER_SIZE', '100');
  const ev = collectEvents(runtime);
  uuidAudioStream(runtime, `${channel.uuid} start ${srv.url} stereo 16k {"m":1}`);
  const tone = sine(900, 8000, 5, 0.5);
  feed(channel, tone, tone, 160); // 5 s fed before the upgrade completes
  const conn = await srv.nextConnection();
  await ev.waitFor('connect');
  uuidAudioStream(runtime, `${channel.uuid} stop`);
  await conn.closed;
  assert.ok(conn.socket.extensions.includes('permessage-deflate'));
  assert.deepEqual(conn.messages[0], { kind: 'text', text: '{"m":1}' });
  assert.equal(binaries(conn).length, 50, 'all 50 chunks of 100 ms');
  assert.equal(findAudioStream(channel), undefined);
  channel.hangup();
});
