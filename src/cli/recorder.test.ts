import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StereoWavRecorder } from './recorder.ts';
import { parseWav } from '../audio/wav.ts';

test('the recorder interleaves left and right (null as silence) across its one-second flushes, and sets the sizes on close', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'as-rec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'r.wav');
  const rec = new StereoWavRecorder(path, 8000);
  const left = new Int16Array(160);
  const right = new Int16Array(160);
  for (let f = 0; f < 75; f++) { // 1.5 s: one flush on the way, one on close
    left.fill(f);
    right.fill(-f);
    assert.equal(rec.write(left, f % 10 === 9 ? null : right, 160), true);
  }
  rec.write(left.subarray(0, 40), right.subarray(0, 40), 40); // a short last frame
  assert.equal(rec.seconds, 1.505);
  rec.close();
  rec.close();
  const wav = parseWav(readFileSync(path));
  assert.equal(wav.channels, 2);
  assert.equal(wav.sampleRateHz, 8000);
  assert.equal(wav.samples.length, 2 * (75 * 160 + 40));
  for (const f of [0, 9, 49, 74]) {
    const i = 2 * f * 160 + 2 * 17;
    assert.deepEqual([wav.samples[i], wav.samples[i + 1]], [f, f % 10 === 9 ? 0 : 0 - f || 0], `frame ${f}`);
  }
  assert.equal(rec.write(left, right, 160), false, 'closed');
});
