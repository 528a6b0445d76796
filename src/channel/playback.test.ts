import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWav } from '../audio/wav.ts';
import { makeChannel, collectEvents } from '../../test/helpers/harness.ts';
import { sine, dominantFrequency, toneLevelDbfs } from '../../test/helpers/audio.ts';

const dir = mkdtempSync(join(tmpdir(), 'as-playback-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function pullAll(channel: ReturnType<typeof makeChannel>['channel'], frameSamples: number, maxFrames: number): Int16Array {
  const out: number[] = [];
  for (let i = 0; i < maxFrames; i++) {
    const f = channel.playback.nextFrame(frameSamples);
    if (!f) break;
    out.push(...f);
  }
  return Int16Array.from(out);
}

test('files play in order at the codec rate: a 16 kHz WAV then a raw .r8 file', async () => {
  const { runtime, channel } = makeChannel({ rateHz: 8000 });
  const ev = collectEvents(runtime);
  const wav = join(dir, 'a.wav');
  writeFileSync(wav, writeWav(sine(500, 16000, 0.5, 0.5), 16000, 1));
  const raw = join(dir, 'b.r8');
  writeFileSync(raw, Buffer.from(sine(1500, 8000, 0.5, 0.25).buffer));
  const first = channel.playback.enqueue(wav);
  const second = channel.playback.enqueue(raw);
  await channel.playback.loaded();
  const audio = pullAll(channel, 160, 1000);
  assert.equal(await first, 'done');
  assert.equal(await second, 'done');
  assert.equal(channel.playback.nextFrame(160), null, 'idle after the queue');
  const a = audio.subarray(200, 3900);
  const b = audio.subarray(4200, 7800);
  assert.ok(Math.abs(dominantFrequency(a, 8000) - 500) < 2);
  assert.ok(Math.abs(toneLevelDbfs(a, 500, 8000) - -6.02) < 0.5);
  assert.ok(Math.abs(dominantFrequency(b, 8000) - 1500) < 2);
  assert.ok(Math.abs(toneLevelDbfs(b, 1500, 8000) - -12.04) < 0.5);
  const names = ev.events.filter((e) => e.name.startsWith('PLAYBACK_')).map((e) => `${e.name} ${e.get('Playback-File-Path')}`);
  assert.deepEqual(names, [`PLAYBACK_START ${wav}`, `PLAYBACK_STOP ${wav}`, `PLAYBACK_START ${raw}`, `PLAYBACK_STOP ${raw}`]);
  channel.hangup();
});

test('while a file plays the channel shows its loop; once it ends, how much played (switch_ivr_play_file\'s variables)', async () => {
  const { runtime, channel } = makeChannel({ rateHz: 8000 });
  const ev = collectEvents(runtime);
  const raw = join(dir, 'loops.r8');
  writeFileSync(raw, Buffer.from(sine(700, 8000, 1).buffer));
  const playing = channel.playback.enqueue(raw);
  await channel.playback.loaded();
  for (let i = 0; i < 10; i++) channel.playback.nextFrame(160);
  assert.equal(channel.getVariable('current_loop'), '1');
  assert.equal(channel.getVariable('total_loops'), '1');
  const start = ev.events.find((e) => e.name === 'PLAYBACK_START')!;
  assert.equal(start.get('variable_current_loop'), '1', 'the start event shows the loop');
  channel.playback.clear();
  assert.equal(await playing, 'break');
  assert.equal(channel.getVariable('current_loop'), undefined);
  assert.equal(channel.getVariable('total_loops'), undefined);
  assert.equal(channel.getVariable('playback_samples'), '1600');
  assert.equal(channel.getVariable('playback_ms'), '200');
  assert.equal(channel.getVariable('playback_seconds'), '0');
  assert.equal(channel.getVariable('playback_last_offset_pos'), '1600');
  const stop = ev.events.find((e) => e.name === 'PLAYBACK_STOP')!;
  assert.equal(stop.get('variable_playback_ms'), '200');
  assert.equal(stop.get('variable_current_loop'), undefined);
  channel.hangup();
});

test('an unreadable or unsupported file fails without blocking the queue; hangup breaks playback', async () => {
  const { channel } = makeChannel({ rateHz: 8000 });
  const bad = channel.playback.enqueue(join(dir, 'missing.wav'));
  const mp3 = join(dir, 'x.mp3');
  writeFileSync(mp3, 'ID3');
  const unsupported = channel.playback.enqueue(mp3);
  const good = join(dir, 'c.r8');
  writeFileSync(good, Buffer.from(sine(700, 8000, 1).buffer));
  const playing = channel.playback.enqueue(good);
  assert.equal(await bad, 'fail');
  assert.equal(await unsupported, 'fail');
  await channel.playback.loaded();
  assert.ok(channel.playback.nextFrame(160));
  channel.hangup();
  assert.equal(await playing, 'break');
});

test('a codec change while a file plays keeps its duration and pitch', async () => {
  const { channel } = makeChannel({ rateHz: 8000 });
  const file = join(dir, 'd.r8');
  writeFileSync(file, Buffer.from(sine(400, 8000, 1, 0.5).buffer));
  const done = channel.playback.enqueue(file);
  await channel.playback.loaded();
  const first = pullAll(channel, 160, 25); // 0.5 s at 8 kHz
  channel.setCodec({ name: 'L16', rateHz: 16000, ptimeMs: 20 });
  const rest = pullAll(channel, 320, 1000);
  assert.equal(await done, 'done');
  assert.equal(first.length, 4000);
  assert.ok(Math.abs(rest.length - 16000 * 0.5) <= 320 + 200, `about 0.5 s left at 16 kHz, got ${rest.length}`);
  assert.ok(Math.abs(dominantFrequency(rest.subarray(200, 7000), 16000) - 400) < 2, 'same pitch');
  channel.hangup();
});

/** Pulls one 20 ms frame at 8 kHz (as the media tick does), then lets the tick's microtasks (marks, actions) run. */
async function tick(channel: ReturnType<typeof makeChannel>['channel']): Promise<Int16Array | null> {
  const f = channel.playback.nextFrame(160);
  const copy = f ? Int16Array.from(f) : null;
  await Promise.resolve();
  return copy;
}

test('streamed audio is appended as it comes and played in real time; an underrun is silence (null)', async () => {
  const { channel } = makeChannel({ rateHz: 8000 });
  const p = channel.playback;
  p.appendStream(Int16Array.from({ length: 100 }, (_, i) => i + 1));
  assert.equal(Math.round(p.queuedMs * 10) / 10, 12.5);
  const first = await tick(channel);
  assert.deepEqual([...first!.subarray(0, 100)], Array.from({ length: 100 }, (_, i) => i + 1));
  assert.deepEqual([...first!.subarray(100)], new Array(60).fill(0), 'the rest of the frame is silence');
  assert.equal(await tick(channel), null, 'nothing left: nothing plays');
  p.appendStream(Int16Array.from({ length: 400 }, () => 7));
  p.appendStream(Int16Array.from({ length: 400 }, () => 9)); // the same segment grows
  const a = await tick(channel);
  const b = await tick(channel);
  const c = await tick(channel);
  assert.deepEqual([a![0], a![159], b![0], b![159], c![79], c![80]], [7, 7, 7, 7, 7, 9]);
  assert.equal(p.queuedMs, (800 - 480) / 8);
  channel.hangup();
});

test('a mark is played once everything queued before it has been pulled, after that tick; marks keep their order', async () => {
  const { channel } = makeChannel({ rateHz: 8000 });
  const p = channel.playback;
  const outcomes: string[] = [];
  p.mark(() => outcomes.push('m0')); // nothing ahead: played at once (after this turn)
  await Promise.resolve();
  assert.deepEqual(outcomes, ['m0']);
  p.appendStream(new Int16Array(320).fill(5)); // 40 ms
  p.mark((o) => outcomes.push(`m1 ${o}`));
  p.appendStream(new Int16Array(160).fill(6)); // 20 ms behind the mark
  p.mark((o) => outcomes.push(`m2 ${o}`));
  await tick(channel);
  assert.deepEqual(outcomes, ['m0'], 'half the audio ahead of m1 is still to send');
  const f = await tick(channel);
  assert.equal(f![159], 5);
  assert.deepEqual(outcomes, ['m0', 'm1 played'], 'm1 right after the tick that sent the last sample ahead of it');
  const g = await tick(channel);
  assert.equal(g![0], 6);
  assert.deepEqual(outcomes, ['m0', 'm1 played', 'm2 played']);
  channel.hangup();
});

test('clear drops what is queued and playing, answers the marks cleared, keeps the actions and reports the dropped samples', async () => {
  const { channel, runtime } = makeChannel({ rateHz: 8000 });
  const ev = collectEvents(runtime);
  const p = channel.playback;
  const file = join(dir, 'clear.r8');
  writeFileSync(file, Buffer.from(sine(700, 8000, 1).buffer));
  const played = p.enqueue(file);
  await p.loaded();
  p.appendStream(new Int16Array(800).fill(3));
  const outcomes: string[] = [];
  p.mark((o) => outcomes.push(o));
  let hungUp = false;
  p.afterPlayout(() => { hungUp = true; });
  const reported: number[] = [];
  p.onCleared((n) => reported.push(n));
  await tick(channel); // 160 samples of the file played
  assert.equal(p.clear(), 8000 - 160 + 800);
  assert.deepEqual(reported, [8000 - 160 + 800]);
  assert.equal(await played, 'break');
  assert.deepEqual(outcomes, ['cleared']);
  assert.equal(p.queuedMs, 0);
  assert.deepEqual(ev.events.filter((e) => e.name.startsWith('PLAYBACK_')).map((e) => `${e.name} ${e.get('Playback-Status') ?? ''}`.trim()),
    ['PLAYBACK_START', 'PLAYBACK_STOP break']);
  await Promise.resolve();
  assert.equal(hungUp, true, 'the action behind the cleared audio runs now');
  assert.equal(await tick(channel), null);
  channel.hangup();
});

test('an action runs after the last sample ahead of it was pulled, not before', async () => {
  const { channel } = makeChannel({ rateHz: 8000 });
  const p = channel.playback;
  p.enqueueAudio(new Int16Array(240).fill(4), 8000);
  let ran = 0;
  p.afterPlayout(() => { ran++; });
  await tick(channel);
  assert.equal(ran, 0);
  const f = await tick(channel);
  assert.deepEqual([f![79], f![80]], [4, 0], 'the last 80 samples, then silence');
  assert.equal(ran, 1);
  channel.hangup();
});

/** PLAYBACK_* events as `NAME [type] path [status]`. */
function playbackEvents(ev: ReturnType<typeof collectEvents>): string[] {
  return ev.events.filter((e) => e.name.startsWith('PLAYBACK_'))
    .map((e) => [e.name, e.get('Playback-File-Type'), e.get('Playback-File-Path'), e.get('Playback-Status')].filter(Boolean).join(' '));
}

test('tone_stream:// plays as a file: generated at the codec rate, in its place in the queue, with FreeSWITCH\'s PLAYBACK_* headers', async () => {
  const { runtime, channel } = makeChannel({ rateHz: 16000 });
  const ev = collectEvents(runtime);
  const file = join(dir, 'before.r16');
  writeFileSync(file, Buffer.from(sine(300, 16000, 0.2, 0.3).buffer));
  const first = channel.playback.enqueue(file);
  const tone = 'tone_stream://%(200,100,1000);loops=2';
  const second = channel.playback.enqueue(tone);
  await channel.playback.loaded();
  const audio = pullAll(channel, 320, 100);
  assert.equal(await first, 'done');
  assert.equal(await second, 'done');
  assert.equal(audio.length, 3200 + 2 * 4800, 'the file, then two plays of 300 ms at 16 kHz');
  assert.ok(Math.abs(dominantFrequency(audio.subarray(3200, 3200 + 3200), 16000) - 1000) < 2);
  assert.ok(audio.subarray(3200 + 3200, 3200 + 4800).every((v) => v === 0), 'the 100 ms off');
  assert.ok(toneLevelDbfs(audio.subarray(3200 + 4800, 3200 + 8000), 1000, 16000) > -11, 'the second play');
  assert.deepEqual(playbackEvents(ev), [
    `PLAYBACK_START ${file}`, `PLAYBACK_STOP ${file} done`,
    `PLAYBACK_START tone_stream ${tone}`, `PLAYBACK_STOP tone_stream ${tone} done`,
  ]);
  // The header order of switch_ivr_play_file: type, path, status.
  const stop = ev.events.filter((e) => e.name === 'PLAYBACK_STOP').at(-1)!;
  const names = stop.headers.map(([n]) => n);
  assert.deepEqual(names.slice(names.indexOf('Playback-File-Type')), ['Playback-File-Type', 'Playback-File-Path', 'Playback-Status']);
  channel.hangup();
});

test('a tone that plays for ever ends with break on clear; silence_stream://-1 too; silence_stream://<ms> plays silence frames', async () => {
  const { runtime, channel } = makeChannel({ rateHz: 8000 });
  const ev = collectEvents(runtime);
  const ring = channel.playback.enqueue('tone_stream://%(2000,4000,440,480);loops=-1');
  await channel.playback.loaded();
  const heard = pullAll(channel, 160, 400); // 8 s
  assert.equal(heard.length, 64000);
  assert.ok(toneLevelDbfs(heard.subarray(48000, 63000), 440, 8000) > -20, 'ringing again in the second cycle');
  channel.playback.clear();
  assert.equal(await ring, 'break');
  const quiet = channel.playback.enqueue('silence_stream://100');
  await channel.playback.loaded();
  const frames = [];
  for (let f = channel.playback.nextFrame(160); f; f = channel.playback.nextFrame(160)) frames.push(Int16Array.from(f));
  assert.equal(await quiet, 'done');
  assert.equal(frames.length, 5, '100 ms of silence frames are sent, not skipped');
  assert.ok(frames.every((f) => f.every((v) => v === 0)));
  const forever = channel.playback.enqueue('silence_stream://-1');
  await channel.playback.loaded();
  for (let i = 0; i < 100; i++) assert.ok(channel.playback.nextFrame(160));
  channel.playback.clear();
  assert.equal(await forever, 'break');
  assert.deepEqual(playbackEvents(ev).map((e) => e.replace(/ \S+:\/\/\S+/, '')), [
    'PLAYBACK_START tone_stream', 'PLAYBACK_STOP tone_stream break',
    'PLAYBACK_START', 'PLAYBACK_STOP done', 'PLAYBACK_START', 'PLAYBACK_STOP break',
  ]);
  channel.hangup();
});

test('a tone script with nothing playable starts and stops at once (done, as FreeSWITCH); an unreadable path= file or a script over the bounds fails with PLAYBACK_STOP fail only', async () => {
  const { runtime, channel } = makeChannel({ rateHz: 8000 });
  const ev = collectEvents(runtime);
  const empty = channel.playback.enqueue('tone_stream://%(100)');
  await channel.playback.loaded();
  assert.equal(channel.playback.nextFrame(160), null, 'no audio');
  assert.equal(await empty, 'done');
  assert.deepEqual(playbackEvents(ev), ['PLAYBACK_START tone_stream tone_stream://%(100)', 'PLAYBACK_STOP tone_stream tone_stream://%(100) done']);
  ev.events.length = 0;
  assert.equal(await channel.playback.enqueue(`tone_stream://path=${join(dir, 'no-such-tones.txt')}`), 'fail');
  assert.equal(await channel.playback.enqueue(`tone_stream://${'1'.repeat(5000)}`), 'fail');
  assert.equal(await channel.playback.enqueue('TONE_STREAM://%(100,0,440)'), 'fail', 'the prefix is lower case, as FreeSWITCH\'s module name');
  // FreeSWITCH fires nothing then; we fire PLAYBACK_STOP with the failure (README, differs 18).
  assert.deepEqual(playbackEvents(ev).map((e) => e.slice(0, 40)), [
    `PLAYBACK_STOP tone_stream tone_stream://path=${join(dir, 'no-such-tones.txt')} fail`.slice(0, 40),
    `PLAYBACK_STOP tone_stream tone_stream://${'1'.repeat(5000)}`.slice(0, 40),
    'PLAYBACK_STOP TONE_STREAM://%(100,0,440) fail'.slice(0, 40),
  ]);
  assert.ok(ev.events.every((e) => e.name !== 'PLAYBACK_STOP' || /\S/.test(e.get('Playback-Error') ?? '')), 'each says why');
  // A path= file: each line is a script.
  const tones = join(dir, 'tones.txt');
  writeFileSync(tones, '%(100,0,500)\n\n%(50,0,1500)\n');
  const fromFile = channel.playback.enqueue(`tone_stream://path=${tones};loops=2`);
  await channel.playback.loaded();
  const audio = pullAll(channel, 160, 100);
  assert.equal(await fromFile, 'done');
  assert.equal(audio.length, 2 * 1200);
  assert.ok(Math.abs(dominantFrequency(audio.subarray(0, 800), 8000) - 500) < 3);
  assert.ok(Math.abs(dominantFrequency(audio.subarray(800, 1200), 8000) - 1500) < 5);
  channel.hangup();
});
