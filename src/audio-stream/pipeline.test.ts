import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamPipeline, type PipelineFormat } from './pipeline.ts';
import { sine, deinterleave, dominantFrequency, toneLevelDbfs, pcmFromBuffer } from '../../test/helpers/audio.ts';

/** Runs one frame through the pipeline; the messages it completed, copied (the pipeline reuses its views). */
function oneFrame(p: StreamPipeline, read: Int16Array | null, write: Int16Array | null, frameSamples: number): Buffer[] {
  const count = p.process(read, write, frameSamples);
  return Array.from({ length: count }, (_, i) => Buffer.from(p.message(i)));
}

/** A pipeline that is destroyed after the test. */
function pipeline(t: { after(fn: () => void): void }, format: Partial<PipelineFormat> = {}): StreamPipeline {
  const p = new StreamPipeline({ mix: 'mono', inputRateHz: 8000, outputRateHz: 8000, bufferMs: 20, ...format });
  t.after(() => p.destroy());
  return p;
}

/** The samples of messages (copied: the pipeline reuses its views on the next call). */
function samplesOf(messages: readonly Buffer[]): Int16Array[] {
  return messages.map((m) => Int16Array.from(pcmFromBuffer(m)));
}

/** Feeds `read`/`write` in frames of `frameSamples` and returns every message (copied), then the flushed tail if `flush`. */
function run(p: StreamPipeline, read: Int16Array | null, write: Int16Array | null, frameSamples: number, flush = true): Int16Array[] {
  const total = Math.max(read?.length ?? 0, write?.length ?? 0);
  const out: Int16Array[] = [];
  for (let off = 0; off < total; off += frameSamples) {
    const end = Math.min(off + frameSamples, total);
    out.push(...samplesOf(oneFrame(p, read?.subarray(off, end) ?? null, write?.subarray(off, end) ?? null, end - off)));
  }
  if (flush) {
    const tail = p.flush();
    if (tail) out.push(Int16Array.from(pcmFromBuffer(tail)));
  }
  return out;
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

/** A frame of `n` samples counting from `start` (distinct values so misplacements show). */
function ramp(n: number, start: number, step = 1): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => start + i * step);
}

test('mono sends the read frame as is and ignores the write frame', (t) => {
  const p = pipeline(t);
  assert.equal(p.channels, 1);
  assert.equal(p.chunkSamples, 160);
  assert.equal(p.chunkBytes, 320);
  const read = ramp(160, -80, 3);
  const write = new Int16Array(160).fill(12345);
  const messages = oneFrame(p, read, write, 160);
  assert.equal(messages.length, 1);
  assert.equal(messages[0]!.length, 320);
  assert.deepEqual(Int16Array.from(pcmFromBuffer(messages[0]!)), read);
  // Little-endian s16 on the wire, whatever the host.
  assert.equal(messages[0]!.readInt16LE(0), -80);
  assert.equal(messages[0]!.readInt16LE(2), -77);
  assert.equal(messages[0]!.readInt16LE(318), -80 + 159 * 3);
});

test('mono with no read frame is silence, even when there is a write frame', (t) => {
  const p = pipeline(t);
  const write = new Int16Array(160).fill(999);
  const [a] = samplesOf(oneFrame(p, null, write, 160));
  assert.deepEqual(a, new Int16Array(160));
  const [b] = samplesOf(oneFrame(p, null, null, 160));
  assert.deepEqual(b, new Int16Array(160), 'no direction at all: frameSamples of silence');
});

test('mixed is the saturating sum of read and write', (t) => {
  const p = pipeline(t, { mix: 'mixed', bufferMs: 10 }); // 80 samples per message
  const read = new Int16Array(80);
  const write = new Int16Array(80);
  read.set([30000, -30000, 100, 32767, -32768, 0, 20000, -1]);
  write.set([30000, -30000, -50, 1, -1, 0, -20000, -32768]);
  const [m] = samplesOf(oneFrame(p, read, write, 80));
  assert.deepEqual(Array.from(m!.subarray(0, 8)), [32767, -32768, 50, 32767, -32768, 0, 0, -32768]);
  assert.deepEqual(m!.subarray(8), new Int16Array(72));
});

test('mixed with one direction missing sends the other one as is', (t) => {
  const p = pipeline(t, { mix: 'mixed' });
  const read = ramp(160, 1000, 7);
  const write = ramp(160, -2000, -5);
  assert.deepEqual(samplesOf(oneFrame(p, read, null, 160))[0], read);
  assert.deepEqual(samplesOf(oneFrame(p, null, write, 160))[0], write);
  assert.deepEqual(samplesOf(oneFrame(p, null, null, 160))[0], new Int16Array(160));
});

test('stereo interleaves L = read and R = write; a missing direction is a silent side', (t) => {
  const p = pipeline(t, { mix: 'stereo' });
  assert.equal(p.channels, 2);
  assert.equal(p.chunkSamples, 320);
  assert.equal(p.chunkBytes, 640);
  const read = ramp(160, 1, 1);
  const write = ramp(160, -1, -1);
  const [both] = samplesOf(oneFrame(p, read, write, 160));
  assert.equal(both!.length, 320);
  assert.deepEqual(Array.from(both!.subarray(0, 6)), [1, -1, 2, -2, 3, -3]);
  const [l, r] = deinterleave(both!);
  assert.deepEqual(l, read);
  assert.deepEqual(r, write);

  const [noWrite] = samplesOf(oneFrame(p, read, null, 160));
  assert.deepEqual(deinterleave(noWrite!), [read, new Int16Array(160)]);
  const [noRead] = samplesOf(oneFrame(p, null, write, 160));
  assert.deepEqual(deinterleave(noRead!), [new Int16Array(160), write]);
  const [none] = samplesOf(oneFrame(p, null, null, 160));
  assert.deepEqual(none, new Int16Array(320));
});

test('30 ms frames into 20 ms messages: every message is exactly 20 ms and nothing is lost', (t) => {
  const p = pipeline(t); // 8 kHz, 160 samples per message
  const signal = ramp(240 * 7, -5000, 5); // seven 30 ms frames
  const sizes: number[] = [];
  const out: Int16Array[] = [];
  for (let f = 0; f < 7; f++) {
    const messages = oneFrame(p, signal.subarray(f * 240, (f + 1) * 240), null, 240);
    sizes.push(messages.length);
    for (const m of messages) assert.equal(m.length, 320, 'a message is exactly bufferMs long');
    out.push(...samplesOf(messages));
  }
  // 240, 480, 720, ... samples in: floor(total / 160) messages so far.
  assert.deepEqual(sizes, [1, 2, 1, 2, 1, 2, 1]);
  const tail = p.flush();
  assert.ok(tail);
  assert.equal(tail.length, (240 * 7 - 160 * 10) * 2, 'the tail is what is left: 80 samples');
  out.push(Int16Array.from(pcmFromBuffer(tail)));
  assert.deepEqual(concat(out), signal, 'the samples come out in order, none lost or repeated');
  assert.equal(p.flush(), null, 'nothing left after a flush');
});

test('exact message sizes for any frame size and buffer size, mono and stereo', (t) => {
  for (const mix of ['mono', 'stereo'] as const) {
    for (const [frameMs, bufferMs] of [[10, 20], [30, 20], [40, 30], [60, 100], [20, 10], [30, 50]] as const) {
      const p = pipeline(t, { mix, inputRateHz: 16000, outputRateHz: 16000, bufferMs });
      const frame = (16000 * frameMs) / 1000;
      const read = ramp(frame * 13, -3000, 1);
      const write = ramp(frame * 13, 3000, -1);
      const out = run(p, read, write, frame);
      const perMessage = (16000 * bufferMs) / 1000 * p.channels;
      const what = `${mix} ${frameMs} ms frames, ${bufferMs} ms messages`;
      for (const m of out.slice(0, -1)) assert.equal(m.length, perMessage, what);
      assert.ok(out.at(-1)!.length <= perMessage, what);
      const all = concat(out);
      assert.equal(all.length, read.length * p.channels, `${what}: sample count conserved`);
      if (mix === 'mono') assert.deepEqual(all, read, what);
      else assert.deepEqual(deinterleave(all), [read, write], what);
    }
  }
});

test('8 kHz to 16 kHz keeps a 440 Hz tone at 440 Hz and its level', (t) => {
  const p = pipeline(t, { inputRateHz: 8000, outputRateHz: 16000 });
  assert.equal(p.chunkBytes, 640, '20 ms at 16 kHz');
  const tone = sine(440, 8000, 1, 0.5);
  const out = run(p, tone, null, 160, false);
  for (const m of out) assert.equal(m.length, 320);
  const all = concat(out);
  // One second in, one second out, less the resampler's delay (a few ms).
  assert.ok(all.length >= 15_680 && all.length <= 16_000, `got ${all.length} samples`);
  const steady = all.subarray(800, 15_000);
  const f = dominantFrequency(steady, 16000);
  assert.ok(Math.abs(f - 440) < 2, `dominant frequency ${f} Hz`);
  const level = toneLevelDbfs(steady, 440, 16000);
  assert.ok(Math.abs(level - -6.02) < 1, `level ${level} dBFS`);
});

test('stereo resampling keeps each side apart', (t) => {
  const p = pipeline(t, { mix: 'stereo', inputRateHz: 8000, outputRateHz: 16000 });
  const left = sine(440, 8000, 0.6, 0.5);
  const right = sine(1000, 8000, 0.6, 0.25);
  const all = concat(run(p, left, right, 160, false));
  const [l, r] = deinterleave(all);
  const fl = dominantFrequency(l.subarray(800, 9000), 16000);
  const fr = dominantFrequency(r.subarray(800, 9000), 16000);
  assert.ok(Math.abs(fl - 440) < 2, `left ${fl} Hz`);
  assert.ok(Math.abs(fr - 1000) < 3, `right ${fr} Hz`);
  assert.ok(toneLevelDbfs(l.subarray(800, 9000), 1000, 16000) < -40, 'no right tone on the left');
});

test('setInputRate (a codec change) keeps the output rate and the pitch', (t) => {
  const p = pipeline(t, { inputRateHz: 8000, outputRateHz: 16000 });
  const before = concat(run(p, sine(440, 8000, 0.5), null, 160, false));
  p.setInputRate(16000);
  assert.equal(p.inputRateHz, 16000);
  assert.equal(p.chunkBytes, 640, 'the message size does not change');
  const after16 = run(p, sine(440, 16000, 0.5), null, 320, false);
  for (const m of after16) assert.equal(m.length, 320);
  const a16 = concat(after16);
  // 0.5 s at 16 kHz passes straight through now: 8000 samples (plus what waited in the FIFO).
  assert.ok(a16.length >= 7_840 && a16.length <= 8_160, `got ${a16.length} samples`);
  p.setInputRate(48000);
  const after48 = run(p, sine(440, 48000, 0.5), null, 960, false);
  for (const m of after48) assert.equal(m.length, 320);
  const a48 = concat(after48);
  assert.ok(a48.length >= 7_680 && a48.length <= 8_160, `got ${a48.length} samples`);
  for (const [name, s] of [['8 kHz input', before], ['16 kHz input', a16], ['48 kHz input', a48]] as const) {
    const f = dominantFrequency(s.subarray(800, 7500), 16000);
    assert.ok(Math.abs(f - 440) < 3, `${name}: dominant frequency ${f} Hz`);
  }
});

test('setInputRate to the same rate keeps the resampler state (no glitch)', (t) => {
  const a = pipeline(t, { inputRateHz: 8000, outputRateHz: 16000 });
  const b = pipeline(t, { inputRateHz: 8000, outputRateHz: 16000 });
  const tone = sine(440, 8000, 0.2);
  const ra = concat(run(a, tone, null, 160, false));
  const first = concat(run(b, tone.subarray(0, 800), null, 160, false));
  b.setInputRate(8000);
  const second = concat(run(b, tone.subarray(800), null, 160, false));
  assert.deepEqual(concat([first, second]), ra);
});

test('after destroy, process returns no messages', (t) => {
  const p = pipeline(t, { inputRateHz: 8000, outputRateHz: 16000 });
  assert.equal(oneFrame(p, sine(440, 8000, 0.02), null, 160).length, 1);
  p.destroy();
  assert.equal(oneFrame(p, sine(440, 8000, 0.1), null, 160).length, 0);
  assert.equal(oneFrame(p, null, null, 160).length, 0);
  p.setInputRate(16000); // ignored once destroyed
  assert.equal(oneFrame(p, sine(440, 16000, 0.1), null, 320).length, 0);
  p.destroy(); // idempotent

  const q = pipeline(t); // no resampler
  q.destroy();
  assert.equal(oneFrame(q, ramp(1600, 0), null, 1600).length, 0);
});
