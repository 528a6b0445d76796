// Full duplex against a real ws server: binary replies and streamAudio played into the channel's
// write stream, clearAudio, marks, hangup, DTMF to the server, flow control and break. The media
// tick is driven by hand (pull one playback frame, hand both directions to the bugs), as the media
// clock does for a call.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { uuidAudioStream } from '../../src/audio-stream/command.ts';
import { addLogSink } from '../../src/lib/logger.ts';
import type { Channel } from '../../src/channel/channel.ts';
import { within, startTestServer, streamChannel, texts, type ServerConnection, type TestServer } from '../helpers/harness.ts';
import { sine, dominantFrequency, toneLevelDbfs } from '../helpers/audio.ts';
import { Resampler } from '../../src/audio/resampler.ts';
import { renderMetrics } from '../../src/http/metrics.ts';

const OK = '+OK Success\n';

async function server(t: TestContext): Promise<TestServer> {
  const s = await startTestServer();
  t.after(() => s.close());
  return s;
}

/** A stream from an 8 kHz / 20 ms channel to a fresh server, connected; the server's side of it. */
async function duplexStream(t: TestContext, vars: Record<string, string>, rest = 'mono 8k') {
  const s = await server(t);
  const ctx = streamChannel(t, vars);
  const connP = s.nextConnection();
  assert.equal(ctx.start(s.url, rest), OK);
  const conn = await within(connP, 'the connection');
  await ctx.ev.waitFor('connect');
  return { ...ctx, conn };
}

/** One media tick: the playback frame (copied) and both directions handed to the bugs. */
function tick(channel: Channel, read: Int16Array | null = null): Int16Array | null {
  const write = channel.playback.nextFrame(160);
  const copy = write ? Int16Array.from(write) : null;
  channel.processFrame(read ?? new Int16Array(160), write, performance.now());
  return copy;
}

/** Ticks `n` times (letting marks and actions run after each tick); the frames played, silence for none. */
async function ticks(channel: Channel, n: number): Promise<Int16Array> {
  const out = new Int16Array(160 * n);
  for (let i = 0; i < n; i++) {
    const f = tick(channel);
    if (f) out.set(f, i * 160);
    await Promise.resolve();
  }
  return out;
}

/** The server's text messages that parse as JSON of a type. */
function ofType(conn: ServerConnection, type: string): Array<Record<string, unknown>> {
  return texts(conn).flatMap((text) => {
    try {
      const m = JSON.parse(text) as { type?: string };
      return m.type === type ? [m as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/** Waits until the server has `count` messages of a type. */
async function serverGot(conn: ServerConnection, type: string, count = 1): Promise<Array<Record<string, unknown>>> {
  for (let seen = conn.messages.length; ofType(conn, type).length < count; seen++) await conn.received('any', seen + 1);
  return ofType(conn, type);
}

/** Waits until the channel's playback holds at least `ms` of audio (the replies travel over a real socket). */
async function queued(channel: Channel, ms: number): Promise<void> {
  await within((async () => { while (channel.playback.queuedMs < ms) await new Promise((r) => setTimeout(r, 2)); })(), `${ms} ms queued`);
}

const pcm16 = (samples: Int16Array) => Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);

test('binary replies at STREAM_SAMPLE_RATE are resampled to the codec rate and played in order, odd bytes carried', async (t) => {
  const { conn, channel } = await duplexStream(t, { STREAM_SAMPLE_RATE: '16000' });
  const tone = pcm16(sine(900, 16000, 0.5, 0.5)); // 500 ms at 16 kHz = 16000 bytes
  // Pieces of odd lengths: every sample split across two messages at least once.
  for (let off = 0; off < tone.length; off += 1601) conn.socket.send(tone.subarray(off, Math.min(off + 1601, tone.length)));
  await queued(channel, 480);
  const heard = await ticks(channel, 25);
  const body = heard.subarray(160, 160 * 23);
  assert.ok(Math.abs(dominantFrequency(body, 8000) - 900) < 3, 'the 900 Hz tone at 8 kHz');
  assert.ok(Math.abs(toneLevelDbfs(body, 900, 8000) - -6.02) < 0.7, 'at its level');
  assert.ok(Math.abs(channel.playback.queuedMs) < 20 + 1e-6, 'about 500 ms in all');
});

/** Samples from the first to the last one louder than 300 (the bot's audio against digital silence). */
function audibleSpan(x: Int16Array): number {
  const on = x.findIndex((v) => Math.abs(v) > 300);
  if (on < 0) return 0;
  let off = x.length - 1;
  while (Math.abs(x[off]!) <= 300) off--;
  return off - on + 1;
}

test('resampled binary audio plays whole: the resampler\'s tail goes out when the server pauses and before a mark; a clear drops it', async (t) => {
  const { conn, channel } = await duplexStream(t, { STREAM_SAMPLE_RATE: '16000' });
  conn.socket.send(pcm16(sine(900, 16000, 0.1, 0.5))); // 100 ms: 800 samples at 8 kHz, then a pause
  await queued(channel, 95);
  const heard = await ticks(channel, 10);
  assert.ok(Math.abs(audibleSpan(heard) - 800) <= 4, `the whole 100 ms after a pause: ${audibleSpan(heard)} samples`);

  conn.socket.send(pcm16(sine(900, 16000, 0.1, 0.5)));
  conn.socket.send('{"type":"mark","data":{"name":"m"}}');
  await queued(channel, 95);
  let sentBeforeMark = 0;
  for (let i = 0; i < 10 && ofType(conn, 'mark').length === 0; i++) {
    sentBeforeMark += audibleSpan(tick(channel) ?? new Int16Array(0)) > 0 ? 1 : 0;
    await new Promise((r) => setTimeout(r, 5));
  }
  const played = await ticks(channel, 3);
  assert.equal(audibleSpan(played), 0, 'nothing of the audio ahead of the mark plays after it came back');
  assert.ok(sentBeforeMark >= 5, 'the mark came back after the audio');

  conn.socket.send(pcm16(sine(900, 16000, 1, 0.5)));
  await queued(channel, 900);
  await ticks(channel, 5);
  conn.socket.send('{"type":"clearAudio"}');
  await serverGot(conn, 'cleared');
  conn.socket.send(pcm16(new Int16Array(1600))); // 100 ms of digital silence
  await queued(channel, 90);
  const after = await ticks(channel, 8);
  assert.equal(after.filter((v) => Math.abs(v) > 300).length, 0, 'nothing of the cleared audio comes out of the resampler later');
});

test('a mark between two binary messages inserts nothing: the caller hears exactly the stream resampled in one piece, and the mark after its audio', async (t) => {
  const { conn, channel, ev } = await duplexStream(t, { STREAM_SAMPLE_RATE: '16000' });
  const whole = sine(700, 16000, 0.4, 0.5);
  conn.socket.send(pcm16(whole.subarray(0, 3200)));
  conn.socket.send('{"type":"mark","data":{"name":"half"}}');
  conn.socket.send(pcm16(whole.subarray(3200)));
  await queued(channel, 395);
  const heard = new Int16Array(160 * 22);
  let markAtSample = -1;
  for (let i = 0; i < 22; i++) {
    const f = tick(channel);
    if (f) heard.set(f, i * 160);
    await new Promise((r) => setImmediate(r)); // the mark's answer runs after the tick (its event is fired then)
    if (markAtSample < 0 && ev.of('mark').length > 0) markAtSample = (i + 1) * 160;
  }
  const r = new Resampler(1, 16000, 8000);
  const expected = Int16Array.from(r.process(whole));
  r.destroy();
  assert.deepEqual(heard.subarray(0, expected.length), expected, 'sample for sample');
  // The first half (200 ms = 1600 samples) comes out 16 samples (the filter's delay) late: sent in frame 11.
  assert.equal(markAtSample, 11 * 160, 'the mark comes back after the frame carrying the last sample of the first half');
});

test('a bot streaming 20 ms pieces in real time is heard as one continuous signal (its resampler is only flushed when the queue runs dry)', async (t) => {
  const { conn, channel } = await duplexStream(t, { STREAM_SAMPLE_RATE: '16000' });
  const whole = sine(700, 16000, 0.4, 0.5);
  const heard = new Int16Array(160 * 20);
  for (let i = 0; i < 20; i++) {
    const before = channel.playback.queuedMs;
    conn.socket.send(pcm16(whole.subarray(i * 320, (i + 1) * 320)));
    await within((async () => { while (channel.playback.queuedMs <= before) await new Promise((r) => setTimeout(r, 1)); })(), 'the piece');
    const f = tick(channel);
    if (f) heard.set(f, i * 160);
  }
  const r = new Resampler(1, 16000, 8000);
  const expected = Int16Array.from(r.process(whole));
  r.destroy();
  assert.deepEqual(heard, expected, 'sample for sample, as if resampled in one piece');
});

test('STREAM_PLAYBACK: a streamAudio reply is played from memory; the file and the play event are still the module\'s', async (t) => {
  const { conn, channel, ev } = await duplexStream(t, { STREAM_PLAYBACK: 'true' });
  const audio = pcm16(sine(600, 16000, 0.4, 0.5)).toString('base64');
  conn.socket.send(JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 16000, audioData: audio, seq: 1 } }));
  const play = await ev.waitFor('play');
  const body = JSON.parse(play.body!) as { file: string; seq: number };
  assert.equal(body.seq, 1);
  assert.ok(existsSync(body.file), 'the file is written');
  const heard = await ticks(channel, 20);
  assert.ok(Math.abs(dominantFrequency(heard.subarray(160, 160 * 18), 8000) - 600) < 3, 'resampled to 8 kHz and played');
  const starts = ev.events.filter((e) => e.name === 'PLAYBACK_START');
  assert.deepEqual(starts.map((e) => e.get('Playback-File-Path')), [body.file]);
});

test('STREAM_PLAYBACK: an mp3 reply keeps its file and event but is not played (an error log names the type)', async (t) => {
  const lines: string[] = [];
  t.after(addLogSink((level, _scope, message) => { if (level === 'error') lines.push(message); }));
  const { conn, channel, ev } = await duplexStream(t, { STREAM_PLAYBACK: 'true' });
  conn.socket.send(JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'mp3', audioData: 'SUQzBAAAAAAA' } }));
  await ev.waitFor('play');
  assert.equal(channel.playback.queuedMs, 0);
  assert.ok(lines.some((l) => /cannot play a mp3 reply/.test(l)), lines.join('\n'));
});

test('clearAudio drops what is queued and the frame in flight; the server gets cleared with the ms dropped, and the event fires', async (t) => {
  const { conn, channel, ev } = await duplexStream(t, { STREAM_PLAYBACK: 'true' });
  conn.socket.send(pcm16(sine(900, 8000, 2, 0.5)));
  await queued(channel, 1990);
  await ticks(channel, 10);
  conn.socket.send('{"type":"clearAudio"}');
  const [cleared] = await serverGot(conn, 'cleared');
  assert.deepEqual(cleared, { type: 'cleared', data: { droppedMs: 1800 } });
  const e = await ev.waitFor('cleared');
  assert.equal(e.body, JSON.stringify(cleared));
  assert.equal(tick(channel), null, 'silence from the next frame on');
});

test('marks come back played, in order, right after the audio ahead of them was sent; marks behind a clear come back cleared', async (t) => {
  const { conn, channel, ev, runtime } = await duplexStream(t, { STREAM_PLAYBACK: 'true' });
  const piece = pcm16(sine(900, 8000, 0.1, 0.5)); // 100 ms = 5 frames
  conn.socket.send(piece);
  conn.socket.send('{"type":"mark","data":{"name":"one"}}');
  conn.socket.send(piece);
  conn.socket.send('{"type":"mark","data":{"name":"two"}}');
  await queued(channel, 190);
  await new Promise((r) => setTimeout(r, 20)); // the marks are behind the audio on the socket
  await ticks(channel, 4);
  assert.deepEqual(ofType(conn, 'mark'), [], 'nothing before the audio ahead is sent');
  await ticks(channel, 1);
  await serverGot(conn, 'mark', 1);
  await ticks(channel, 5);
  const marks = await serverGot(conn, 'mark', 2);
  assert.deepEqual(marks, [{ type: 'mark', data: { name: 'one', event: 'played' } }, { type: 'mark', data: { name: 'two', event: 'played' } }]);
  assert.deepEqual(ev.of('mark').map((e) => JSON.parse(e.body!) as unknown), marks);
  conn.socket.send(piece);
  conn.socket.send('{"type":"mark","data":{"name":"three"}}');
  conn.socket.send('{"type":"clearAudio"}');
  const all = await serverGot(conn, 'mark', 3);
  assert.deepEqual(all[2], { type: 'mark', data: { name: 'three', event: 'cleared' } });
  await serverGot(conn, 'cleared');
  const metrics = renderMetrics(runtime.channels, runtime.streams);
  assert.match(metrics, /^audio_stream_marks_total\{event="played"\} 2$/m);
  assert.match(metrics, /^audio_stream_marks_total\{event="cleared"\} 1$/m);
  assert.match(metrics, /^audio_stream_clears_total 1$/m);
  assert.match(metrics, /^audio_stream_playback_queued_ms 0$/m);
});

test('hangup from the server: after playout only once the last queued sample was sent; at once without it; any cause', async (t) => {
  const a = await duplexStream(t, { STREAM_PLAYBACK: 'true' });
  a.conn.socket.send(pcm16(sine(900, 8000, 0.06, 0.5))); // 3 frames
  a.conn.socket.send('{"type":"hangup","data":{"cause":"USER_BUSY","afterPlayout":true}}');
  await queued(a.channel, 50);
  await new Promise((r) => setTimeout(r, 20));
  const played = await ticks(a.channel, 3);
  assert.ok(Math.abs(dominantFrequency(played, 8000) - 900) < 5, 'the audio ahead of the hangup plays');
  // Then HANGUP_DRAIN_MS (200 ms, 10 frames) of silence, so the phone plays out its jitter buffer before the BYE.
  const drain = await ticks(a.channel, 9);
  assert.ok(drain.every((v) => v === 0), 'silence while the phone drains');
  assert.equal(a.channel.isHungUp, false);
  await ticks(a.channel, 1);
  assert.equal(await within(a.channel.ended, 'the hangup'), 'USER_BUSY');
  const b = await duplexStream(t, { STREAM_PLAYBACK: 'true' });
  b.conn.socket.send('{"type":"hangup","data":{"cause":"NORMAL_CLEARING"}}');
  assert.equal(await within(b.channel.ended, 'the hangup'), 'NORMAL_CLEARING');
});

test('STREAM_DTMF: each digit of the caller goes to the server with its duration', async (t) => {
  const { conn, channel } = await duplexStream(t, { STREAM_DTMF: 'true' });
  channel.dtmf('5', 120, 'RTP');
  channel.dtmf('#', 80.4, 'ENDPOINT');
  const digits = await serverGot(conn, 'dtmf', 2);
  assert.deepEqual(digits, [{ type: 'dtmf', data: { digit: '5', durationMs: 120 } }, { type: 'dtmf', data: { digit: '#', durationMs: 80 } }]);
});

test('flow control: xoff at 90 % of STREAM_PLAYBACK_MAX_MS, audio over it refused with an error, xon below 80 %', async (t) => {
  const { conn, channel, runtime } = await duplexStream(t, { STREAM_PLAYBACK: 'true', STREAM_PLAYBACK_MAX_MS: '1000' });
  conn.socket.send(pcm16(sine(900, 8000, 0.8, 0.5)));
  conn.socket.send(pcm16(sine(900, 8000, 0.8, 0.5)));
  const [xoff] = await serverGot(conn, 'xoff');
  assert.deepEqual(xoff, { type: 'xoff' });
  const [error] = await serverGot(conn, 'error');
  assert.deepEqual(error, { type: 'error', data: { reason: 'playback queue full', droppedMs: 600 } });
  assert.equal(channel.playback.queuedMs, 1000, 'filled up to the bound, not beyond');
  await ticks(channel, 10);
  assert.deepEqual(ofType(conn, 'xon'), [], 'still above 80 %');
  await ticks(channel, 1);
  await serverGot(conn, 'xon');
  const metrics = runtime.streams.metrics;
  assert.deepEqual([metrics.xoffs, metrics.refusedMs], [1, 600]);
});

test('without STREAM_PLAYBACK: binary replies are ignored and the duplex messages are json events, as the module does', async (t) => {
  const { conn, channel, ev } = await duplexStream(t, {});
  conn.socket.send(pcm16(sine(900, 8000, 0.2, 0.5)));
  conn.socket.send('{"type":"clearAudio"}');
  conn.socket.send('{"type":"mark","data":{"name":"x"}}');
  await ev.waitFor('json', 5000, 2);
  assert.deepEqual(ev.of('json').map((e) => e.body), ['{"type":"clearAudio"}', '{"type":"mark","data":{"name":"x"}}']);
  assert.equal(channel.playback.queuedMs, 0);
  assert.equal(tick(channel), null);
});

test('uuid_audio_stream break (and uuid_break) clear what is queued; the server hears cleared', async (t) => {
  const { conn, channel, runtime } = await duplexStream(t, { STREAM_PLAYBACK: 'true' });
  conn.socket.send(pcm16(sine(900, 8000, 1, 0.5)));
  await queued(channel, 990);
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} break`), OK);
  assert.deepEqual((await serverGot(conn, 'cleared'))[0], { type: 'cleared', data: { droppedMs: 1000 } });
  conn.socket.send(pcm16(sine(900, 8000, 0.5, 0.5)));
  await queued(channel, 490);
  assert.equal(await runtime.api.execute('uuid_break', channel.uuid), '+OK\n');
  assert.deepEqual((await serverGot(conn, 'cleared', 2))[1], { type: 'cleared', data: { droppedMs: 500 } });
  assert.equal(channel.playback.queuedMs, 0);
});

test('a break answers the marks still waiting for the resampler\'s tail `cleared`, before `cleared`, and drops the tail', async (t) => {
  const { conn, channel, runtime } = await duplexStream(t, { STREAM_SAMPLE_RATE: '16000' });
  conn.socket.send(pcm16(sine(900, 16000, 0.5, 0.5)));
  conn.socket.send('{"type":"mark","data":{"name":"m1"}}');
  await queued(channel, 490);
  await new Promise((r) => setTimeout(r, 20)); // the mark is behind the audio on the socket
  assert.equal(uuidAudioStream(runtime, `${channel.uuid} break`), OK);
  await serverGot(conn, 'cleared');
  const flow = texts(conn).map((m) => JSON.parse(m) as { type: string });
  assert.deepEqual(flow.map((m) => m.type), ['mark', 'cleared']);
  assert.deepEqual(flow[0], { type: 'mark', data: { name: 'm1', event: 'cleared' } });
  const after = await ticks(channel, 3);
  assert.ok(after.every((v) => v === 0), 'nothing of the cleared audio (its resampler tail) plays later');
});

test('at most 1000 marks wait for their audio: more are refused with an error; the ones accepted all come back', async (t) => {
  const { conn, channel } = await duplexStream(t, { STREAM_PLAYBACK: 'true' });
  conn.socket.send(pcm16(sine(900, 8000, 0.1, 0.5)));
  for (let i = 0; i < 1003; i++) conn.socket.send(`{"type":"mark","data":{"name":"m${i}"}}`);
  const refused = await serverGot(conn, 'error', 3);
  assert.deepEqual(refused.map((e) => (e.data as { name: string }).name), ['m1000', 'm1001', 'm1002']);
  assert.ok(refused.every((e) => (e.data as { reason: string }).reason === 'too many marks'));
  await ticks(channel, 6);
  const played = await serverGot(conn, 'mark', 1000);
  assert.deepEqual(played.map((m) => (m.data as { name: string }).name), Array.from({ length: 1000 }, (_, i) => `m${i}`), 'in order');
  conn.socket.send('{"type":"mark","data":{"name":"again"}}');
  const [again] = (await serverGot(conn, 'mark', 1001)).slice(1000);
  assert.deepEqual(again, { type: 'mark', data: { name: 'again', event: 'played' } }, 'accepted again once they came back');
});

test('a hangup after playout drains only what the phone still needs: the first hangup counts, and a hangup after a played mark waits out the rest of the 200 ms', async (t) => {
  const a = await duplexStream(t, { STREAM_PLAYBACK: 'true' });
  a.conn.socket.send(pcm16(sine(900, 8000, 0.1, 0.5))); // 5 frames
  a.conn.socket.send('{"type":"mark","data":{"name":"said"}}');
  await queued(a.channel, 95);
  await ticks(a.channel, 5);
  await serverGot(a.conn, 'mark');
  await ticks(a.channel, 4); // 80 ms of silence since the last sample
  a.conn.socket.send('{"type":"hangup","data":{"cause":"USER_BUSY","afterPlayout":true}}');
  a.conn.socket.send('{"type":"hangup","data":{"cause":"CALL_REJECTED","afterPlayout":true}}');
  await new Promise((r) => setTimeout(r, 30));
  await ticks(a.channel, 5);
  assert.equal(a.channel.isHungUp, false, '120 ms more to go');
  await ticks(a.channel, 1);
  assert.equal(await within(a.channel.ended, 'the hangup'), 'USER_BUSY', 'the first hangup counts');
});

test('binary edge cases: an empty message keeps the carried odd byte; a message longer than a second is converted in slices and plays whole, the mark after it last', async (t) => {
  const a = await duplexStream(t, { STREAM_PLAYBACK: 'true' });
  const three = Buffer.from(Int16Array.from([258, 258, 258]).buffer);
  a.conn.socket.send(three.subarray(0, 3));
  a.conn.socket.send(Buffer.alloc(0));
  a.conn.socket.send(three.subarray(3));
  await queued(a.channel, 0.3);
  assert.deepEqual(Array.from(tick(a.channel)!.subarray(0, 4)), [258, 258, 258, 0]);

  const b = await duplexStream(t, { STREAM_SAMPLE_RATE: '16000' });
  const long = sine(500, 16000, 3, 0.5); // 96000 bytes: three slices
  b.conn.socket.send(pcm16(long));
  b.conn.socket.send('{"type":"mark","data":{"name":"end"}}');
  await queued(b.channel, 2990);
  const heard = await ticks(b.channel, 150);
  assert.deepEqual(ofType(b.conn, 'mark'), [], 'the mark waits for the last sample');
  const r = new Resampler(1, 16000, 8000);
  const expected = Int16Array.from(r.process(long));
  r.destroy();
  assert.deepEqual(heard, expected, 'the slices join sample for sample');
  await ticks(b.channel, 1);
  assert.deepEqual(await serverGot(b.conn, 'mark'), [{ type: 'mark', data: { name: 'end', event: 'played' } }]);
});

test('refusals are reported, not echoed: many small messages over the bound give one error at once, then at most one a second with the ms refused since', async (t) => {
  const { conn, channel, runtime } = await duplexStream(t, { STREAM_PLAYBACK: 'true', STREAM_PLAYBACK_MAX_MS: '200' });
  for (let i = 0; i < 200; i++) conn.socket.send(pcm16(sine(900, 8000, 0.01, 0.5))); // 2 s in 10 ms pieces
  await serverGot(conn, 'error');
  await queued(channel, 200);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(ofType(conn, 'error').length, 1, 'one error for the burst so far');
  // The media clock: a second of ticks later the rest of the burst is reported; xon once drained.
  const c = channel as Channel;
  for (let i = 0; i < 55; i++) {
    const f = c.playback.nextFrame(160);
    c.processFrame(new Int16Array(160), f, 1000 + i * 20);
    await Promise.resolve();
  }
  await serverGot(conn, 'xon');
  const errors = ofType(conn, 'error').map((e) => (e.data as { droppedMs: number }).droppedMs);
  assert.equal(errors.length, 2, `the rest reported once: ${errors.join(', ')}`);
  assert.equal(errors[0]! + errors[1]!, 1800, '1.8 s of the 2 s refused, all of it reported');
  assert.equal(Math.round(runtime.streams.metrics.refusedMs), 1800);
});
