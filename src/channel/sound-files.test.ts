import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SoundDirectories, PLAY_FILE_NOT_FOUND } from './sound-files.ts';
import { applicationResponse } from '../dialplan/dialplan.ts';
import { Runtime } from '../service/runtime.ts';
import { makeChannel, collectEvents } from '../../test/helpers/harness.ts';

const UUID = '3c1f6a2e-8b7d-4e5f-9a0b-1c2d3e4f5a6b';

/** Two sound dirs (a/, b/) and an outside dir with a secret, each file a few raw samples. */
function layout(t: TestContext) {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'as-sound-files-')));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const a = join(root, 'a');
  const b = join(root, 'b');
  const outside = join(root, 'outside');
  for (const d of [a, b, join(a, 'sub'), outside]) mkdirSync(d, { recursive: true });
  const pcm = (v: number) => Buffer.from(new Int16Array(160).fill(v).buffer);
  writeFileSync(join(a, 'both.r8'), pcm(100));
  writeFileSync(join(b, 'both.r8'), pcm(200));
  writeFileSync(join(b, 'only-b.r8'), pcm(300));
  writeFileSync(join(a, 'sub', 'deep.r8'), pcm(400));
  writeFileSync(join(outside, 'secret.r8'), pcm(1234));
  symlinkSync(join(outside, 'secret.r8'), join(a, 'link-out.r8'));
  symlinkSync(join(b, 'only-b.r8'), join(a, 'link-in.r8'));
  return { root, a, b, outside, secret: join(outside, 'secret.r8') };
}

test('SoundDirectories: relative names in each dir in order, absolute paths inside; .. and links out lead nowhere', async (t) => {
  const l = layout(t);
  const own = join(l.outside, 'own.r8');
  const dirs = new SoundDirectories([l.a, l.b], (uuid, real) => uuid === UUID && real === own);
  assert.deepEqual(await dirs.locate('both.r8', UUID), { path: join(l.a, 'both.r8'), realPath: join(l.a, 'both.r8') });
  assert.deepEqual(await dirs.locate('only-b.r8', UUID), { path: join(l.b, 'only-b.r8'), realPath: join(l.b, 'only-b.r8') });
  assert.equal((await dirs.locate('sub/deep.r8', UUID))?.realPath, join(l.a, 'sub', 'deep.r8'));
  assert.equal((await dirs.locate(join(l.b, 'only-b.r8'), UUID))?.path, join(l.b, 'only-b.r8'));
  assert.equal((await dirs.locate('link-in.r8', UUID))?.realPath, join(l.b, 'only-b.r8'), 'a link to another sound dir is fine');
  assert.equal((await dirs.locate(`${l.a}/../b/only-b.r8`, UUID))?.realPath, join(l.b, 'only-b.r8'));
  for (const refused of [l.secret, '../outside/secret.r8', 'sub/../../outside/secret.r8', `${l.a}/../outside/secret.r8`, 'link-out.r8',
    'missing.r8', join(l.a, 'missing.r8'), '/etc/passwd', '', 'both.r8\0']) {
    assert.equal(await dirs.locate(refused, UUID), undefined, refused);
  }
  writeFileSync(own, 'x');
  assert.equal((await dirs.locate(own, UUID))?.realPath, own, "the stream's own play file");
  assert.equal(await dirs.locate(own, 'another-channel'), undefined, "not another channel's");
});

/** Runs `playback <data>` on a fresh channel of `runtime`; the response, the PLAYBACK_STOP and the first frame played. */
async function play(runtime: Runtime, data: string) {
  const { channel } = makeChannel({ runtime });
  const ev = collectEvents(runtime);
  const done = runtime.dialplan.execute(channel, 'playback', data);
  await channel.playback.loaded();
  const frame = channel.playback.nextFrame(160);
  const first = frame ? Array.from(frame.subarray(0, 4)) : null;
  while (channel.playback.nextFrame(160));
  const response = applicationResponse(await done);
  const stop = ev.events.find((e) => e.name === 'PLAYBACK_STOP');
  const start = ev.events.find((e) => e.name === 'PLAYBACK_START');
  ev.unsubscribe();
  channel.hangup();
  return { response, first, start, stop };
}

test('playback with sound dirs: a relative name plays from them; every refusal answers FILE NOT FOUND with one text', async (t) => {
  const l = layout(t);
  const runtime = new Runtime({ tempDir: join(l.root, 'tmp'), soundDirs: [l.a, l.b] });
  const played = await play(runtime, 'only-b.r8');
  assert.equal(played.response, 'FILE PLAYED');
  assert.deepEqual(played.first, [300, 300, 300, 300]);
  assert.equal(played.start?.get('Playback-File-Path'), join(l.b, 'only-b.r8'), 'named as FreeSWITCH names a prefixed file');
  assert.equal((await play(runtime, 'both.r8')).first?.[0], 100, 'the first dir wins');
  mkdirSync(join(l.a, 'dir.r8'));
  execFileSync('mkfifo', [join(l.a, 'fifo.r8')]);
  for (const refused of [l.secret, '../outside/secret.r8', 'link-out.r8', 'missing.r8', 'dir.r8', 'fifo.r8',
    `tone_stream://path=${join(l.outside, 'tones.ttml')}`, 'tone_stream://path=../outside/secret.r8']) {
    const r = await play(runtime, refused);
    assert.equal(r.response, 'FILE NOT FOUND', refused);
    assert.equal(r.first, null, `${refused}: nothing played`);
    assert.equal(r.start, undefined);
    assert.equal(r.stop?.get('Playback-Status'), 'fail');
    assert.equal(r.stop?.get('Playback-File-Path'), refused);
    assert.equal(r.stop?.get('Playback-Error'), PLAY_FILE_NOT_FOUND, `${refused}: the one text`);
  }
  writeFileSync(join(l.a, 'beep.ttml'), '%(100,0,1000)\n');
  assert.equal((await play(runtime, `tone_stream://path=${join(l.a, 'beep.ttml')}`)).response, 'FILE PLAYED', 'a tone file from a sound dir');
  assert.equal((await play(runtime, 'tone_stream://%(100,0,440)')).response, 'FILE PLAYED');
  assert.equal((await play(runtime, 'silence_stream://100')).response, 'FILE PLAYED');
});

test('playback without sound dirs (library use) plays any path, as before', async (t) => {
  const l = layout(t);
  const runtime = new Runtime({ tempDir: join(l.root, 'tmp') });
  const r = await play(runtime, l.secret);
  assert.equal(r.response, 'FILE PLAYED');
  assert.deepEqual(r.first, [1234, 1234, 1234, 1234]);
  execFileSync('mkfifo', [join(l.a, 'fifo.r8')]);
  const fifo = await play(runtime, join(l.a, 'fifo.r8'));
  assert.equal(fifo.response, 'FILE NOT FOUND', 'a FIFO is refused, not waited on');
  assert.match(fifo.stop?.get('Playback-Error') ?? '', /not a regular file/);
});
