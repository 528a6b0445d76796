// tone_stream:// scripts: what they compile to, what they sound like (judged by content: Goertzel
// levels, zero crossings, on/off runs), and sample for sample against the real FreeSWITCH 1.10.12
// (vectors captured from its RTP towards a PCMU phone, compared after the same PCMU round trip).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ToneGenerator, compileTone, splitToneStreamSpec, levelScale, MAX_TONE_SCRIPT_CHARS, MAX_TONE_SEGMENTS } from './teletone.ts';
import { ulawDecode, ulawEncode } from '../codec/g711.ts';

/** Compiles a tone_stream:// spec (the text after the prefix) for `rateHz`. */
function open(spec: string, rateHz = 8000) {
  const s = splitToneStreamSpec(spec);
  const r = ToneGenerator.create([s.script!], s.plays, rateHz);
  if (!r.ok) throw r.error;
  return r.value;
}

/** Every sample of a finite tone (at most `max`), pulled 20 ms at a time into one reused frame. */
function render(spec: string, rateHz = 8000, max = 10 * rateHz): { pcm: Int16Array; problems: string[]; ended: boolean } {
  const { generator, problems } = open(spec, rateHz);
  const frame = new Int16Array(rateHz / 50);
  const out = new Int16Array(max);
  let n = 0;
  while (!generator.ended && n < max) {
    const got = generator.read(frame, 0, Math.min(frame.length, max - n));
    out.set(frame.subarray(0, got), n);
    n += got;
  }
  return { pcm: out.slice(0, n), problems, ended: generator.ended };
}

/** Goertzel power of `freq` in `x`, as a level in dB relative to a full-scale sine. */
function goertzelDb(x: ArrayLike<number>, freq: number, rateHz: number): number {
  const w = (2 * Math.PI * freq) / rateHz;
  const coeff = 2 * Math.cos(w);
  let s1 = 0, s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const s0 = x[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  const amplitude = (2 * Math.sqrt(power)) / x.length;
  return 20 * Math.log10(amplitude / 32768 + 1e-12);
}

/** Frequency from zero crossings (the DC offset of 128 / tones removed first). */
function zeroCrossingHz(x: Int16Array, rateHz: number): number {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let crossings = 0;
  for (let i = 1; i < x.length; i++) if ((x[i - 1]! - mean < 0) !== (x[i]! - mean < 0)) crossings++;
  return (crossings / 2) * (rateHz / x.length);
}

/** Runs of sound and silence, in samples: [[true, n], [false, m], ...] (silence: |x| < 4 for a while). */
function runs(x: Int16Array): Array<[boolean, number]> {
  const out: Array<[boolean, number]> = [];
  for (let i = 0; i < x.length; i++) {
    // A tone crosses zero near 128 / count; digital silence is exactly 0.
    const on = x[i] !== 0;
    const last = out.at(-1);
    if (last && last[0] === on) last[1]++;
    else out.push([on, 1]);
  }
  // A tone sample may be exactly 0 now and then: fold single zero samples into the sound around them.
  const merged: Array<[boolean, number]> = [];
  for (const r of out) {
    const last = merged.at(-1);
    if (last && !r[0] && r[1] < 3 && last[0]) last[1] += r[1];
    else if (last && last[0] === r[0]) last[1] += r[1];
    else merged.push([...r]);
  }
  return merged;
}

const pcmu = (x: Int16Array) => {
  const u = new Uint8Array(x.length);
  ulawEncode(x, u);
  const d = new Int16Array(x.length);
  ulawDecode(u, d);
  return Array.from(d);
};

test('sample for sample what FreeSWITCH 1.10.12 sends (after PCMU): one tone, two tones, a DTMF digit, another volume', () => {
  // The first samples of FreeSWITCH's RTP for these uuid_broadcast tone_stream:// specs (PCMU, decoded).
  const seen: Record<string, number[]> = {
    '%(500,500,440)': [196, 3644, 6652, 8828, 10364, 10364, 8828, 6908, 3900, 428, -3004, -6140, -8316, -9852, -9852, -8828, -6908, -3900, -556, 3004, 6140, 8316, 9852, 10364],
    '%(200,0,440,480)': [132, 3644, 6908, 8828, 10364, 9852, 8316, 5884, 2620, -1052, -4604, -7420, -9340, -9852, -9340, -7420, -4604, -1308, 2108, 5372, 7932, 9340, 9852, 8828],
    '1': [132, 6908, 9340, 6652, 1116, -3004, -3516, -1372, 196, -988, -3900, -5628, -3132, 2620, 8316, 9852],
    'v=-20;%(200,0,1000)': [148, 1756, 2364, 1756, 112, -1500, -2108, -1500],
    '%(100,0,1000)': [196, 7420, 10364, 7164, 64, -7164, -9852, -6908, 196, 7420, 10364, 7164, 64, -7164, -9852, -6908],
  };
  for (const [spec, expected] of Object.entries(seen)) {
    const { pcm } = render(spec);
    assert.deepEqual(pcmu(pcm.subarray(0, expected.length)), expected, spec);
  }
  // The level: 10^((-7 - 6.16) / 20) * 32767 * 1.414214, in single precision and truncated.
  assert.equal(levelScale(-7), 10184);
});

test('US ringback %(2000,4000,440,480);loops=-1: 440 and 480 Hz at equal level for 2 s, 4 s of silence, again and again', () => {
  const rate = 8000;
  const { generator } = open('%(2000,4000,440,480);loops=-1', rate);
  const frame = new Int16Array(160);
  const all = new Int16Array(3 * 6 * rate);
  for (let n = 0; n < all.length; n += 160) {
    assert.equal(generator.read(frame, 0, 160), 160);
    all.set(frame, n);
  }
  assert.equal(generator.ended, false, 'loops=-1 never ends');
  assert.deepEqual(runs(all), [[true, 16000], [false, 32000], [true, 16000], [false, 32000], [true, 16000], [false, 32000]]);
  for (let cycle = 0; cycle < 3; cycle++) {
    const on = all.subarray(cycle * 48000 + 800, cycle * 48000 + 15200);
    const l440 = goertzelDb(on, 440, rate);
    const l480 = goertzelDb(on, 480, rate);
    assert.ok(Math.abs(l440 - l480) < 0.2, `equal levels (${l440}, ${l480})`);
    // Each of the two tones at half the -7 level: 20 log10(10184 / 2 / 32768) = -16.2 dB.
    assert.ok(Math.abs(l440 - -16.2) < 0.3, `440 Hz at ${l440} dB`);
    assert.ok(goertzelDb(on, 1000, rate) < -60, 'nothing at 1000 Hz');
  }
});

test('at the codec rate: %(100,50,1000) is 1600 + 800 samples at 16 kHz, 4800 + 2400 at 48 kHz; a DTMF digit keeps 2000 + 500 samples', () => {
  for (const rate of [8000, 16000, 48000]) {
    const { pcm } = render('%(100,50,1000)', rate);
    assert.deepEqual(runs(pcm), [[true, rate / 10], [false, rate / 20]], `${rate} Hz`);
    const on = pcm.subarray(0, rate / 10);
    assert.ok(Math.abs(zeroCrossingHz(on, rate) - 1000) <= 10, `1000 Hz by zero crossings at ${rate}`);
    assert.ok(goertzelDb(on, 1000, rate) > -11, 'the energy is at 1000 Hz');
    // libteletone's defaults are samples, not ms (so a digit is shorter at 16 kHz, as in FreeSWITCH).
    const digit = render('5', rate).pcm;
    assert.equal(digit.length, 2500, `a bare digit at ${rate}`);
    assert.ok(Math.abs(goertzelDb(digit.subarray(0, 2000), 770, rate) - goertzelDb(digit.subarray(0, 2000), 1336, rate)) < 0.5, 'DTMF 5: 770 + 1336 Hz');
  }
});

test('loops: ;loops=N plays N times (0 and 1 once, negative for ever, case-insensitive), L=N the script N times, l=N the next tone N times', () => {
  const once = render('%(100,100,1000)').pcm.length;
  assert.equal(once, 1600);
  assert.equal(render('%(100,100,1000);loops=2').pcm.length, 2 * once);
  assert.equal(render('%(100,100,1000);LOOPS=3').pcm.length, 3 * once);
  assert.equal(render('%(100,100,1000);loops=1').pcm.length, once);
  assert.equal(render('%(100,100,1000);loops=0').pcm.length, once);
  assert.equal(render('L=3;%(100,100,1000)').pcm.length, 3 * once);
  assert.equal(render('L=0;%(100,100,1000)').pcm.length, once);
  assert.equal(render('l=2;%(100,50,1000);%(100,50,2000)').pcm.length, 3 * 1200, 'l= repeats the next tone only');
  const forever = render('%(10,0,1000);loops=-1', 8000, 8000 * 3);
  assert.equal(forever.pcm.length, 24000);
  assert.equal(forever.ended, false);
  // L= and loops= together: 2 passes of the script, the whole played 3 times.
  assert.equal(render('L=2;%(10,10,1000);loops=3').pcm.length, 3 * 2 * 160);
  // ;loops= cuts the spec: what follows it is not played.
  assert.equal(render('%(100,100,1000);loops=2;%(100,100,2000)').pcm.length, 2 * once);
});

test('segments in order: frequency and on/off lengths of each, by content', () => {
  const rate = 8000;
  const { pcm } = render('%(200,100,500);%(300,50,1200,1900);%(100,0,3000)', rate);
  assert.deepEqual(runs(pcm), [[true, 1600], [false, 800], [true, 2400], [false, 400], [true, 800]]);
  assert.ok(Math.abs(zeroCrossingHz(pcm.subarray(0, 1600), rate) - 500) < 6);
  const dual = pcm.subarray(2400, 4800);
  assert.ok(goertzelDb(dual, 1200, rate) > -17 && goertzelDb(dual, 1900, rate) > -17);
  assert.ok(Math.abs(zeroCrossingHz(pcm.subarray(5200, 6000), rate) - 3000) < 30);
});

test('volume: v= sets the level in dB (outside -63..0 ignored, with a problem); a decay step lowers it over the tone', () => {
  const rate = 8000;
  const level = (spec: string) => goertzelDb(render(spec, rate).pcm, 1000, rate);
  const base = level('%(500,0,1000)');
  assert.ok(Math.abs(level('v=-20;%(500,0,1000)') - (base - 13)) < 0.3, 'v=-20 is 13 dB under the default -7');
  const ignored = render('v=5;%(500,0,1000)', rate);
  assert.ok(Math.abs(goertzelDb(ignored.pcm, 1000, rate) - base) < 0.01);
  assert.deepEqual(ignored.problems, ['volume v=5 is outside -63 to 0 dB: ignored']);
  const decay = render('>=10;+=3;%(300,0,1000)', rate).pcm;
  const first = goertzelDb(decay.subarray(0, 80), 1000, rate);
  const later = goertzelDb(decay.subarray(800, 880), 1000, rate);
  assert.ok(Math.abs(first - later - 30) < 1.5, `3 dB every 10 ms: ${first} then ${later} 100 ms on`);
});

test('bad scripts play what FreeSWITCH plays of them, and say what was wrong', () => {
  let r = render('%(100)');
  assert.equal(r.pcm.length, 0);
  assert.deepEqual(r.problems, ['syntax error at "%(100)": %(on,off,freq...) needs on ms, off ms and at least one frequency; the rest of the script is not played']);
  r = render('%(100,100,1000);%(100);%(100,100,2000)');
  assert.equal(r.pcm.length, 1600, 'the tone before the error plays, nothing after it');
  r = render('5(100,50,20)');
  assert.equal(r.pcm.length, 0);
  assert.match(r.problems[0]!, /^syntax error at "5\(100,50,20\)": 5\(on,off\) takes exactly on ms and off ms/);
  r = render('garbage');
  assert.equal(r.pcm.length, 0);
  assert.equal(r.ended, true);
  assert.match(r.problems[0]!, /^"g" is not a tone/);
  r = render('%(100,0,abc)');
  assert.equal(r.pcm.length, 0);
  assert.deepEqual(r.problems, ['frequency "abc" is not a number (taken as 0, which ends the list)', 'the tone "%" has no frequency: skipped']);
  // No ')': FreeSWITCH plays the tone, then reads "100" as the digits 1, 0, 0 (250 ms each, 62.5 ms apart).
  r = render('%(100,0,1000');
  assert.equal(r.pcm.length, 800 + 3 * 2500);
  assert.ok(r.problems.some((p) => p.includes("no closing ')'")));
  // A last setting without ';' has its value read as tones too: "=-20" is DTMF 2 and 0 at -20 dB.
  r = render('%(100,0,1000);v=-20');
  assert.equal(r.pcm.length, 800 + 2 * 2500);
  assert.ok(r.problems[0]!.startsWith('the last setting v=-20 has no'));
  r = render('c=2;r=16000;x=1;%(10,0,1000)');
  assert.deepEqual(r.problems, [
    'c=2 ignored: the tone is made for the channel (mono, at its codec rate)',
    'r=16000 ignored: the tone is made for the channel (mono, at its codec rate)',
    'unknown setting x=1: ignored',
  ]);
  assert.equal(r.pcm.length, 80);
  // Up to 18 frequencies; more are ignored; an empty one ends the list.
  const many = compileTone([`%(10,0,${Array.from({ length: 20 }, (_, i) => 100 * (i + 1)).join(',')})`], 1, 8000);
  assert.ok(many.ok);
  assert.equal(many.value.program.groups[0]!.segments[0]!.freqs.length, 18);
  const gap = compileTone(['%(10,0,1500,,2000)'], 1, 8000);
  assert.ok(gap.ok);
  assert.deepEqual(gap.value.program.groups[0]!.segments[0]!.freqs, [1500]);
  // Negative lengths in %(...) fall back to the defaults (2000 and 500 samples).
  assert.equal(render('%(-5,-5,1000)').pcm.length, 2500);
  // l=-1 would hang FreeSWITCH; here the tone plays until broken off.
  const forever = render('l=-1;%(10,0,1000)', 8000, 16000);
  assert.equal(forever.pcm.length, 16000);
  assert.match(forever.problems[0]!, /for ever/);
});

test('bounds: a line over 4096 characters or more than 10000 tones is refused with TONE_STREAM_INVALID', () => {
  const long = compileTone([`%(10,0,1000);${' '.repeat(MAX_TONE_SCRIPT_CHARS)}`], 1, 8000);
  assert.equal(long.ok, false);
  assert.equal(!long.ok && long.error.code, 'TONE_STREAM_INVALID');
  assert.match(!long.ok ? long.error.message : '', /characters long \(at most 4096\)/);
  const lines = Array.from({ length: 3 }, () => '1'.repeat(4000));
  const many = compileTone(lines, 1, 8000);
  assert.equal(!many.ok && many.error.code, 'TONE_STREAM_INVALID');
  assert.match(!many.ok ? many.error.message : '', new RegExp(`more than ${MAX_TONE_SEGMENTS} tones`));
  // L= multiplies nothing in memory: a billion passes of a 10 ms tone compile to two groups.
  const huge = compileTone(['L=1000000000;%(10,0,1000)'], 1, 8000);
  assert.ok(huge.ok);
  assert.deepEqual(huge.value.program.groups.map((g) => g.repeats), [1, 999999999]);
  assert.equal(huge.value.program.samplesPerPlay, 80e9);
});

test('read writes only the samples asked for, where asked, into the caller\'s buffer', () => {
  const { generator } = open('%(10,10,1000)');
  const buf = new Int16Array(400).fill(7);
  assert.equal(generator.read(buf, 100, 50), 50);
  assert.ok(buf.subarray(0, 100).every((v) => v === 7) && buf.subarray(150).every((v) => v === 7));
  assert.equal(generator.read(buf, 0, 400), 110, 'the rest of the 160 samples, then the end');
  assert.equal(generator.ended, true);
  assert.equal(generator.read(buf, 0, 10), 0);
});

test('a codec rate change goes on from the same point of the same tone, at the new rate', () => {
  const { generator } = open('%(1000,500,440);%(500,0,880)', 8000);
  const a = new Int16Array(4000);
  generator.read(a, 0, 4000); // 500 ms into the first tone
  generator.setRate(16000);
  assert.equal(generator.rateHz, 16000);
  const b = new Int16Array(16000 * 2);
  let n = 0;
  while (!generator.ended) n += generator.read(b, n, 320);
  const rest = b.subarray(0, n);
  assert.deepEqual(runs(rest), [[true, 8000], [false, 8000], [true, 8000]], '500 ms of tone left, then 500 ms off, then the second tone');
  assert.ok(Math.abs(zeroCrossingHz(rest.subarray(0, 8000), 16000) - 440) < 5);
  assert.ok(Math.abs(zeroCrossingHz(rest.subarray(16000), 16000) - 880) < 5);
  // Continuous across the change: the first samples at 16 kHz continue the 8 kHz sine (same phase).
  const expected = render('%(1000,500,440)', 16000).pcm.subarray(8000, 8010);
  assert.deepEqual(Array.from(rest.subarray(0, 10)), Array.from(expected));
});
