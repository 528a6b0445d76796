// baresip as a real phone: its microphone (a WAV) reaches our ws server, and the audio the server
// sends back as streamAudio is played into the call (STREAM_PLAYBACK) and heard by baresip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWav, parseWav } from '../../src/audio/wav.ts';
import { startTestServer, binaries, until, type TestServer } from '../helpers/harness.ts';
import { startCallHost } from '../helpers/call-host.ts';
import { baresipCall } from '../helpers/baresip.ts';
import { requireProgram } from '../helpers/sipp.ts';
import { sine, pcmFromBuffer, dominantFrequency, toneLevelDbfs } from '../helpers/audio.ts';

const dir = mkdtempSync(join(tmpdir(), 'as-baresip-'));
let ws: TestServer;

before(async () => {
  requireProgram('baresip');
  // The "bot": as soon as the call's stream connects, it answers with two audio replies.
  ws = await startTestServer({}, (conn) => {
    const reply = (freq: number) => JSON.stringify({ type: 'streamAudio', data: {
      audioDataType: 'raw', sampleRate: 8000, audioData: Buffer.from(sine(freq, 8000, 1, 0.5).buffer).toString('base64') } });
    conn.socket.send(reply(1000));
    conn.socket.send(reply(1600));
  });
});
after(async () => {
  await ws.close();
  rmSync(dir, { recursive: true, force: true });
});

test('baresip hears the server\'s replies through STREAM_PLAYBACK, in order; the server hears baresip', async () => {
  const h = await startCallHost({
    routes: [{ actions: ['answer', { set: 'STREAM_PLAYBACK=true' }, { audio_stream: `start ${ws.url} mono 8k` }, 'park'] }],
    rtpPortMin: 35000,
  });
  try {
    const mic = join(dir, 'mic.wav');
    writeFileSync(mic, writeWav(sine(440, 8000, 8, 0.3), 8000, 1));
    const connP = ws.nextConnection();
    const r = await baresipCall({ dir, uri: `sip:bot@${h.target}`, sourceWav: mic, seconds: 6, sipPort: 25900 });
    assert.ok(r.heardWav, `baresip wrote a dump of what it heard (exit ${r.code}): ${r.output.slice(-2000)}`);
    const conn = await connP;
    await conn.closed;
    // What our server received: baresip's microphone.
    const got = pcmFromBuffer(Buffer.concat(binaries(conn)));
    assert.ok(got.length > 8000 * 3, 'seconds of the caller\'s audio');
    const mid = got.subarray(8000, 8000 * 3);
    assert.ok(Math.abs(dominantFrequency(mid, 8000) - 440) < 3, 'the 440 Hz microphone');
    // What baresip heard: 1 s of 1000 Hz, then 1 s of 1600 Hz, not cut off.
    const heard = parseWav(readFileSync(r.heardWav!));
    const pcm = heard.channels === 1 ? heard.samples : heard.samples.filter((_, i) => i % heard.channels === 0);
    const rate = heard.sampleRateHz;
    const block = Math.round(rate * 0.1);
    const blocks: number[] = [];
    for (let i = 0; i + block <= pcm.length; i += block) {
      const seg = pcm.subarray(i, i + block);
      blocks.push(toneLevelDbfs(seg, 1000, rate) > -12 ? 1000 : toneLevelDbfs(seg, 1600, rate) > -12 ? 1600 : 0);
    }
    const first1000 = blocks.indexOf(1000);
    const first1600 = blocks.indexOf(1600);
    assert.ok(first1000 >= 0, `1000 Hz heard: ${blocks.join(',')}`);
    assert.ok(first1600 > first1000, 'then 1600 Hz');
    assert.ok(blocks.filter((b) => b === 1000).length >= 8, 'about a second of the first reply');
    assert.ok(blocks.filter((b) => b === 1600).length >= 8, 'about a second of the second reply');
    const names = h.events.map((e) => e.subclass ?? e.name);
    assert.equal(names.filter((n) => n === 'mod_audio_stream::play').length, 2, 'play events still fire');
    assert.equal(names.filter((n) => n === 'PLAYBACK_START').length, 2);
    await until(() => h.runtime.channels.size === 0, 5000, 'the call ended');
  } finally {
    await h.close();
  }
});
