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
