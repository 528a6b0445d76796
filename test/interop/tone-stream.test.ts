// tone_stream:// reaches a real phone: baresip calls `audio-stream serve` (answer, park), an ESL
// application (modesl) plays tones with uuid_broadcast and sendmsg execute playback, breaks a
// ringback that would play for ever, and tries paths that cannot be played. What baresip heard (its
// dump, decoded PCMU) is judged by content: which frequency each 10 ms holds (Goertzel), for how
// long, at what level. The replies and events are the ones FreeSWITCH 1.10.12 gives for the same
// commands (seen with the real one).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Event as EslEvent } from 'modesl';
import { writeWav, parseWav } from '../../src/audio/wav.ts';
import { baresipCall } from '../helpers/baresip.ts';
import { requireProgram } from '../helpers/sipp.ts';
import { startServe, writeServeConfig, type ServeProcess } from '../helpers/serve-process.ts';
import { modeslConnect, modeslApi, modeslNextEvent, modeslClose } from '../helpers/esl-clients.ts';
import { dominantFrequency, toneLevelDbfs } from '../helpers/audio.ts';

const RATE = 8000;
const dir = mkdtempSync(join(tmpdir(), 'as-tone-'));
let svc: ServeProcess;

before(async () => {
  requireProgram('baresip');
  const config = writeServeConfig(join(dir, 'audio-stream.yaml'), { rtpPortMin: 39000, rtpPortMax: 39400, tempDir: join(dir, 'play') });
  svc = await startServe(['--config', config]);
});

after(async () => {
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Goertzel level of `freq` in `x`, dB against a full-scale sine. */
function goertzelDb(x: ArrayLike<number>, freq: number): number {
  const coeff = 2 * Math.cos((2 * Math.PI * freq) / RATE);
  let s1 = 0, s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const s0 = x[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return 20 * Math.log10((2 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - coeff * s1 * s2))) / x.length / 32768 + 1e-12);
}

/** What each 10 ms of `pcm` holds: one of the tones played (440+480 as 'ring'), '-' for silence, '?' otherwise. */
function classify(pcm: Int16Array): string[] {
  const out: string[] = [];
  for (let i = 0; i + 80 <= pcm.length; i += 80) {
    const block = pcm.subarray(i, i + 80);
    const levels: Record<string, number> = { 1000: goertzelDb(block, 1000), 1700: goertzelDb(block, 1700), 600: goertzelDb(block, 600) };
    const ring = Math.min(goertzelDb(block, 440), goertzelDb(block, 480));
    let peak = 0;
    for (const v of block) peak = Math.max(peak, Math.abs(v));
    const best = Object.entries(levels).sort((a, b) => b[1] - a[1])[0]!;
    if (peak < 40) out.push('-');
    else if (best[1] > -16) out.push(best[0]);
    else if (ring > -24) out.push('ring');
    else out.push('?');
  }
  return out;
}

/** Consecutive runs of the same label: [label, blocks]. */
function runsOf(labels: string[]): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const l of labels) {
    const last = out.at(-1);
    if (last && last[0] === l) last[1]++;
    else out.push([l, 1]);
  }
  return out;
}

test('uuid_broadcast tone_stream:// over ESL reaches the phone at the right frequencies and lengths; sendmsg playback too; an unplayable path answers as FreeSWITCH', { timeout: 60_000 }, async (t) => {
  const mic = join(dir, 'mic.wav');
  writeFileSync(mic, writeWav(new Int16Array(RATE * 14), RATE, 1));
  const conn = await modeslConnect(svc.eslPort);
  const events: Array<{ name: string; path: string | null; type: string | null; status: string | null; app: string | null; response: string | null; t: number }> = [];
  try {
    await new Promise<void>((r) => conn.events('plain', 'CHANNEL_ANSWER PLAYBACK_START PLAYBACK_STOP CHANNEL_EXECUTE_COMPLETE', () => r()));
    conn.on('esl::event::**', (e: EslEvent) => {
      const name = e.getHeader('Event-Name');
      if (name !== 'PLAYBACK_START' && name !== 'PLAYBACK_STOP' && name !== 'CHANNEL_EXECUTE_COMPLETE') return;
      events.push({ name, path: e.getHeader('Playback-File-Path'), type: e.getHeader('Playback-File-Type'), status: e.getHeader('Playback-Status'),
        app: e.getHeader('Application-Data'), response: e.getHeader('Application-Response'), t: performance.now() });
    });
    const answered = modeslNextEvent(conn, 'CHANNEL_ANSWER', undefined, 15000);
    const call = baresipCall({ dir, uri: `sip:park@127.0.0.1:${svc.sipPort}`, sourceWav: mic, seconds: 11, sipPort: 25980 });
    const uuid = (await answered).getHeader('Unique-ID')!;
    const completeOf = (data: string) => new Promise<EslEvent>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no CHANNEL_EXECUTE_COMPLETE for ${data}`)), 8000);
      const on = (e: EslEvent) => {
        if (e.getHeader('Event-Name') !== 'CHANNEL_EXECUTE_COMPLETE' || e.getHeader('Application-Data') !== data) return;
        clearTimeout(timer);
        conn.off('esl::event::**', on);
        resolve(e);
      };
      conn.on('esl::event::**', on);
    });
    await new Promise((r) => setTimeout(r, 500));

    // A missing file: `+OK Message sent` as FreeSWITCH, the playback ends FILE NOT FOUND, and (ours)
    // PLAYBACK_STOP says it failed (checked with the other events below).
    let done = completeOf('/nonexistent.wav');
    assert.equal(await modeslApi(conn, 'uuid_broadcast', `${uuid} /nonexistent.wav aleg`), '+OK Message sent\n');
    assert.equal((await done).getHeader('Application-Response'), 'FILE NOT FOUND');

    // Two tones: 1000 Hz for 1 s, 500 ms off, 1700 Hz for 800 ms.
    const twoTones = 'tone_stream://%(1000,500,1000);%(800,0,1700)';
    done = completeOf(twoTones);
    assert.equal(await modeslApi(conn, 'uuid_broadcast', `${uuid} ${twoTones} aleg`), '+OK Message sent\n');
    assert.equal((await done).getHeader('Application-Response'), 'FILE PLAYED');

    // sendmsg execute playback (modesl's execute waits for its CHANNEL_EXECUTE_COMPLETE).
    const viaSendmsg = await new Promise<EslEvent>((resolve) => conn.execute('playback', 'tone_stream://%(600,0,600)', uuid, resolve));
    assert.equal(viaSendmsg.getHeader('Application-Response'), 'FILE PLAYED');

    // A bad script: FreeSWITCH starts and stops it at once (done) and answers FILE PLAYED; nothing is heard.
    done = completeOf('tone_stream://%(100)');
    assert.equal(await modeslApi(conn, 'uuid_broadcast', `${uuid} tone_stream://%(100) aleg`), '+OK Message sent\n');
    assert.equal((await done).getHeader('Application-Response'), 'FILE PLAYED');

    // US ringback for ever, broken off after 1.2 s.
    const ring = 'tone_stream://%(2000,4000,440,480);loops=-1';
    done = completeOf(ring);
    const ringStart = modeslNextEvent(conn, 'PLAYBACK_START', undefined, 5000);
    assert.equal(await modeslApi(conn, 'uuid_broadcast', `${uuid} ${ring} both`), '+OK Message sent\n');
    await ringStart;
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(await modeslApi(conn, 'uuid_break', uuid), '+OK\n');
    assert.equal((await done).getHeader('Application-Response'), 'FILE PLAYED');

    const r = await call;
    assert.ok(r.heardWav, `baresip wrote what it heard (exit ${r.code}): ${r.output.slice(-2000)}`);

    // The events, as FreeSWITCH fires them (and ours for the file that could not be played).
    const playbacks = events.filter((e) => e.name !== 'CHANNEL_EXECUTE_COMPLETE').map((e) => [e.name, e.type, e.path, e.status].filter(Boolean).join(' '));
    assert.deepEqual(playbacks, [
      'PLAYBACK_STOP /nonexistent.wav fail',
      `PLAYBACK_START tone_stream ${twoTones}`, `PLAYBACK_STOP tone_stream ${twoTones} done`,
      'PLAYBACK_START tone_stream tone_stream://%(600,0,600)', 'PLAYBACK_STOP tone_stream tone_stream://%(600,0,600) done',
      'PLAYBACK_START tone_stream tone_stream://%(100)', 'PLAYBACK_STOP tone_stream tone_stream://%(100) done',
      `PLAYBACK_START tone_stream ${ring}`, `PLAYBACK_STOP tone_stream ${ring} break`,
    ]);
    const start = events.find((e) => e.name === 'PLAYBACK_START' && e.path === twoTones)!;
    const stop = events.find((e) => e.name === 'PLAYBACK_STOP' && e.path === twoTones)!;
    t.diagnostic(`two tones: PLAYBACK_START to PLAYBACK_STOP ${Math.round(stop.t - start.t)} ms (2300 ms of audio)`);
    assert.ok(Math.abs(stop.t - start.t - 2300) < 300, 'PLAYBACK_STOP comes when the tone has played');

    // What the phone heard.
    const wav = parseWav(readFileSync(r.heardWav!));
    assert.equal(wav.sampleRateHz, RATE);
    const pcm = wav.channels === 1 ? wav.samples : wav.samples.filter((_, i) => i % wav.channels === 0);
    const heard = runsOf(classify(pcm)).filter(([label, n]) => label !== '?' || n > 1);
    t.diagnostic(`heard (label, 10 ms blocks): ${JSON.stringify(heard)}`);
    const tones = heard.filter(([label]) => label !== '-');
    const at = (label: string) => tones.find(([l]) => l === label);
    const near = (label: string, ms: number) => {
      const run = at(label);
      assert.ok(run, `${label} was heard`);
      assert.ok(Math.abs(run[1] * 10 - ms) <= 30, `${label} for ${run[1] * 10} ms, expected ${ms}`);
    };
    near('1000', 1000);
    near('1700', 800);
    near('600', 600);
    const ringRun = at('ring');
    assert.ok(ringRun && Math.abs(ringRun[1] * 10 - 1200) < 400, `the ringback until uuid_break (${(ringRun?.[1] ?? 0) * 10} ms)`);
    assert.deepEqual(tones.map(([l]) => l), ['1000', '1700', '600', 'ring'], 'in order, and nothing else (the bad script plays nothing)');
    // 500 ms of silence between 1000 and 1700 Hz.
    const i1000 = heard.findIndex(([l]) => l === '1000');
    assert.deepEqual([heard[i1000 + 1]![0], Math.abs(heard[i1000 + 1]![1] * 10 - 500) <= 30], ['-', true], 'the 500 ms off');

    // Frequency and level in the middle of each: FreeSWITCH's -7 dB tone is about -10.2 dBFS.
    const mid = (label: string) => {
      let pos = 0;
      for (const [l, n] of runsOf(classify(pcm))) {
        if (l === label) return pcm.subarray((pos + 5) * 80, (pos + n - 5) * 80);
        pos += n;
      }
      throw new Error(`no ${label}`);
    };
    for (const f of [1000, 1700, 600]) {
      const x = mid(String(f));
      assert.ok(Math.abs(dominantFrequency(x, RATE) - f) < 2, `${f} Hz measured ${dominantFrequency(x, RATE)}`);
      assert.ok(Math.abs(toneLevelDbfs(x, f, RATE) - -10.2) < 0.6, `${f} Hz at ${toneLevelDbfs(x, f, RATE)} dBFS`);
    }
    const rx = mid('ring');
    assert.ok(Math.abs(toneLevelDbfs(rx, 440, RATE) - toneLevelDbfs(rx, 480, RATE)) < 0.5, '440 and 480 Hz at the same level');
  } finally {
    await modeslClose(conn);
  }
});
