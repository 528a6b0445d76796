// Files play only from the sound directories (issue 10, item 7), against `audio-stream serve` with
// a real SIPp call and an ESL application (modesl): a relative name is found in sounds.dirs and
// heard in the stream (its samples found exactly in the right channel of a stereo stream), the
// stream's own play file plays, and a secret outside (absolute, `..`, a symlink out of the sound
// dir, a missing name) is refused with `+OK Message sent`, FILE NOT FOUND and PLAYBACK_STOP fail
// with one text for all, and never reaches the stream.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Event as EslEvent } from 'modesl';
import { writeWav } from '../../src/audio/wav.ts';
import { ulawEncode } from '../../src/codec/g711.ts';
import { startTestServer, binaries, until } from '../helpers/harness.ts';
import { runSipp, requireProgram, calleeHangsUpScenario } from '../helpers/sipp.ts';
import { startServe, writeServeConfig } from '../helpers/serve-process.ts';
import { modeslConnect, modeslApi, modeslNextEvent, modeslClose } from '../helpers/esl-clients.ts';
import { sine, deinterleave, pcmFromBuffer } from '../helpers/audio.ts';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'as-sound-dirs-')));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A pseudo-random signal (a seeded LCG), different for each seed, so each file is recognisable sample for sample. */
function signal(samples: number, seed: number): Int16Array {
  const out = new Int16Array(samples);
  let x = seed;
  for (let i = 0; i < samples; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = ((x >>> 16) & 0x3fff) - 0x2000;
  }
  return out;
}

/** True when `needle` occurs in `hay` sample for sample. */
function contains(hay: Int16Array, needle: Int16Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

test('uuid_broadcast plays a relative name from sounds.dirs and the stream\'s own play file; paths outside are refused with one text', { timeout: 120_000 }, async () => {
  requireProgram('sipp');
  const sounds = join(dir, 'sounds');
  const outside = join(dir, 'outside');
  mkdirSync(join(sounds, 'en'), { recursive: true });
  mkdirSync(outside);
  const prompt = signal(8000, 11);
  const secret = signal(8000, 99);
  writeFileSync(join(sounds, 'en', 'prompt.wav'), writeWav(prompt, 8000, 1));
  writeFileSync(join(outside, 'secret.wav'), writeWav(secret, 8000, 1));
  symlinkSync(join(outside, 'secret.wav'), join(sounds, 'link.wav'));
  const ws = await startTestServer();
  const tempDir = join(dir, 'play');
  const config = writeServeConfig(join(dir, 'audio-stream.yaml'), { rtpPortMin: 26620, rtpPortMax: 26639, rtpTimeoutSec: 60, tempDir, soundDirs: [sounds] });
  const tone = sine(440, 8000, 60, 0.3);
  const ulaw = new Uint8Array(tone.length);
  ulawEncode(tone, ulaw);
  writeFileSync(join(dir, 'tone.ulaw'), ulaw);
  const svc = await startServe(['--config', config]);
  const conn = await modeslConnect(svc.eslPort);
  try {
    await new Promise<void>((r) => conn.events('plain', 'CHANNEL_ANSWER CHANNEL_EXECUTE_COMPLETE PLAYBACK_START PLAYBACK_STOP CUSTOM mod_audio_stream::play', () => r()));
    const answered = modeslNextEvent(conn, 'CHANNEL_ANSWER', undefined, 15_000);
    const sipp = runSipp({ dir, name: 'sound-dirs', scenario: calleeHangsUpScenario(join(dir, 'tone.ulaw'), 90_000), target: `127.0.0.1:${svc.sipPort}`,
      service: 'park', mediaPort: 26670, localPort: 26676 });
    const uuid = (await answered).getHeader('Unique-ID')!;
    const nextConnection = ws.nextConnection();
    assert.equal(await modeslApi(conn, 'uuid_audio_stream', `${uuid} start ${ws.url}/sounds stereo 8k`), '+OK Success\n');
    const server = await nextConnection;
    await server.received('binary', 5, 10_000);

    /** uuid_broadcast of one path, waited for: the reply, the Application-Response, the playback events in between. */
    const broadcast = async (path: string) => {
      const seen: EslEvent[] = [];
      const on = (e: EslEvent) => { if (e.getHeader('Unique-ID') === uuid) seen.push(e); };
      conn.on('esl::event::**', on);
      const reply = await modeslApi(conn, 'uuid_broadcast', `${uuid} ${path} aleg`);
      await until(() => seen.some((e) => e.getHeader('Event-Name') === 'CHANNEL_EXECUTE_COMPLETE' && e.getHeader('Application-Data') === path), 20_000, `playback ${path} done`);
      conn.off('esl::event::**', on);
      const named = (name: string) => seen.filter((e) => e.getHeader('Event-Name') === name);
      return {
        reply,
        response: named('CHANNEL_EXECUTE_COMPLETE')[0]!.getHeader('Application-Response'),
        starts: named('PLAYBACK_START').map((e) => e.getHeader('Playback-File-Path')),
        stops: named('PLAYBACK_STOP').map((e) => [e.getHeader('Playback-File-Path'), e.getHeader('Playback-Status'), e.getHeader('Playback-Error')]),
      };
    };

    const played = await broadcast('en/prompt.wav');
    assert.deepEqual(played, { reply: '+OK Message sent\n', response: 'FILE PLAYED', starts: [join(sounds, 'en/prompt.wav')],
      stops: [[join(sounds, 'en/prompt.wav'), 'done', null]] });

    for (const path of [join(outside, 'secret.wav'), '../outside/secret.wav', 'en/../../outside/secret.wav', `${sounds}/../outside/secret.wav`,
      'link.wav', 'missing.wav', join(sounds, 'en'), `tone_stream://path=${join(outside, 'secret.wav')}`]) {
      assert.deepEqual(await broadcast(path), { reply: '+OK Message sent\n', response: 'FILE NOT FOUND', starts: [],
        stops: [[path, 'fail', 'file not found or not allowed']] }, path);
    }

    // The stream's own play file (from a streamAudio reply) plays.
    const own = signal(4000, 7);
    const playEvent = modeslNextEvent(conn, 'CUSTOM', 'mod_audio_stream::play', 10_000);
    server.socket.send(JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 8000, audioData: Buffer.from(own.buffer).toString('base64') } }));
    const file = (JSON.parse((await playEvent).getBody()) as { file: string }).file;
    const ownPlayed = await broadcast(file);
    assert.equal(ownPlayed.response, 'FILE PLAYED');
    assert.deepEqual(ownPlayed.starts, [file]);

    const count = binaries(server).length;
    await until(() => binaries(server).length >= count + 10, 10_000, 'audio after the last playback');
    assert.equal(await modeslApi(conn, 'uuid_audio_stream', `${uuid} stop`), '+OK Success\n');
    await server.closed;
    const [, right] = deinterleave(pcmFromBuffer(Buffer.concat(binaries(server))));
    assert.ok(contains(right, prompt.subarray(2000, 2400)), 'the prompt from the sound dir is in the stream, sample for sample');
    assert.ok(contains(right, own.subarray(1000, 1400)), 'the own play file is in the stream');
    assert.ok(!contains(right, secret.subarray(2000, 2040)), 'no sample run of the secret');
    assert.equal(await modeslApi(conn, 'uuid_kill', uuid), '+OK\n');
    const r = await sipp;
    assert.equal(r.code, 0, `SIPp got our BYE: ${r.stdout.slice(-500)}${r.stderr.slice(-500)}`);
  } finally {
    await modeslClose(conn);
    await svc.stop();
    await ws.close();
  }
});
