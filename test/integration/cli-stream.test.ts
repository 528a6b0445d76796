// `audio-stream stream` run as a user runs it: a child process, a real ws server, a WAV file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeWav, parseWav } from '../../src/audio/wav.ts';
import { startTestServer, binaries, texts, type TestServer } from '../helpers/harness.ts';
import { sine, interleave, deinterleave, pcmFromBuffer, dominantFrequency, toneLevelDbfs, bestCorrelation, rmsDbfs } from '../helpers/audio.ts';

const BIN = resolve(import.meta.dirname, '../../bin/audio-stream.js');
const dir = mkdtempSync(join(tmpdir(), 'as-cli-'));
const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

interface CliResult { code: number | null; stdout: string; stderr: string; events: Array<{ subclass: string; body: string }> }

function cli(args: string[], timeoutMs = 30000): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, AUDIO_STREAM_LOG_LEVEL: 'info' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`cli timed out: ${stderr}`)); }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      const events = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { subclass: string; body: string });
      resolvePromise({ code, stdout, stderr, events });
    });
  });
}

async function server(onConn?: Parameters<typeof startTestServer>[1]): Promise<TestServer> {
  const s = await startTestServer({}, onConn);
  servers.push(s);
  return s;
}

function wavFile(name: string, samples: Int16Array, rate: number, channels: number): string {
  const path = join(dir, name);
  writeFileSync(path, writeWav(samples, rate, channels));
  return path;
}

test('streams a mono WAV in real time: events as JSON lines, metadata first, audio by content, exit 0', async () => {
  const srv = await server();
  const source = sine(440, 8000, 1.5, 0.5);
  const file = wavFile('mono8k.wav', source, 8000, 1);
  const r = await cli(['stream', file, `${srv.url}/bot`, 'mono', '8k', '{"caller":', '"+15551234"}']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.events.map((e) => e.subclass), ['mod_audio_stream::connect'], 'the stop at the end fires no disconnect, as the module');
  assert.equal(r.events[0]!.body, '{"status":"connected"}');
  const conn = srv.connections[0]!;
  await conn.closed;
  assert.deepEqual(conn.messages[0], { kind: 'text', text: '{"caller": "+15551234"}' });
  const bins = binaries(conn);
  assert.ok(bins.every((b) => b.length === 320));
  const got = pcmFromBuffer(Buffer.concat(bins));
  assert.deepEqual(got, source, 'bit-exact at the codec rate');
});

test('stereo WAV, --speed 3, 16k: left = read, right = write; play events keep their files until exit', async () => {
  const pcm = Buffer.from(Int16Array.from([5, 6, 7, 8]).buffer);
  const srv = await server((conn) => conn.socket.send(JSON.stringify(
    { type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 16000, audioData: pcm.toString('base64') } })));
  const left = sine(600, 16000, 3, 0.5);
  const right = sine(1800, 16000, 3, 0.5);
  const file = wavFile('stereo16k.wav', interleave(left, right), 16000, 2);
  const temp = join(dir, 'play');
  const r = await cli(['stream', file, srv.url, 'stereo', '16k', '--speed', '3', '--ptime', '30', '--temp-dir', temp,
    '--var', 'STREAM_BUFFER_SIZE=100', '--keep-files']);
  assert.equal(r.code, 0, r.stderr);
  const play = r.events.find((e) => e.subclass === 'mod_audio_stream::play');
  assert.ok(play, 'play event printed');
  const playFile = (JSON.parse(play.body) as { file: string }).file;
  assert.ok(playFile.startsWith(temp) && playFile.endsWith('.tmp.r16'));
  assert.ok(existsSync(playFile), '--keep-files keeps it after exit');
  const conn = srv.connections[0]!;
  await conn.closed;
  const bins = binaries(conn);
  for (const b of bins.slice(0, -1)) assert.equal(b.length, 6400);
  const [l, rr] = deinterleave(pcmFromBuffer(Buffer.concat(bins)));
  assert.equal(l.length, 48000);
  assert.deepEqual(l, left);
  assert.deepEqual(rr, right);
});

test('--speed 0 streams a long file as fast as the server takes it, nothing dropped', async () => {
  const srv = await server();
  const source = sine(1234, 16000, 20, 0.5);
  const file = wavFile('long16k.wav', source, 16000, 1);
  const r = await cli(['stream', file, srv.url, 'mono', '16k', '--speed', '0']);
  assert.equal(r.code, 0, r.stderr);
  const conn = srv.connections[0]!;
  await conn.closed;
  assert.deepEqual(pcmFromBuffer(Buffer.concat(binaries(conn))), source, '20 s of audio, bit-exact, none dropped');
});

test('a commands file pauses, sends text and stops; the run outlasts the file with silence', async () => {
  const srv = await server();
  const file = wavFile('tone.wav', sine(1000, 8000, 1, 0.5), 8000, 1);
  const cmds = join(dir, 'cmds.txt');
  writeFileSync(cmds, '# rehearsal\n0.4 pause\n0.6 send_text hello there\n0.8 resume\n1.5 stop bye now\n');
  const r = await cli(['stream', file, srv.url, '--commands', cmds, '--speed', '4']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /0\.40s pause -> \+OK Success/);
  const conn = srv.connections[0]!;
  await conn.closed;
  assert.deepEqual(texts(conn), ['hello there', 'bye now']);
  const got = pcmFromBuffer(Buffer.concat(binaries(conn)));
  // 0.0-0.4 s tone, (paused 0.4-0.8), 0.8-1.0 tone, 1.0-1.5 silence: 1.1 s sent.
  assert.equal(got.length, 8800);
  assert.ok(Math.abs(dominantFrequency(got.subarray(0, 3200), 8000) - 1000) < 2);
  assert.ok(toneLevelDbfs(got.subarray(4800), 1000, 8000) < -90, 'silence after the end of the file');
  const corr = bestCorrelation(got.subarray(3200, 4800), sine(1000, 8000, 1, 0.5).subarray(6400, 8000), 2);
  assert.ok(corr.corr > 0.999 && corr.lag === 0, 'the audio after resume is the file at 0.8 s');
});

test('bad arguments exit 2 with a one-line reason; --help exits 0', async () => {
  const file = wavFile('short.wav', sine(440, 8000, 0.1), 8000, 1);
  const cases: Array<[string[], RegExp]> = [
    [['stream'], /needs <file.wav> and <ws-url>/],
    [['stream', file, 'http://127.0.0.1:9'], /invalid websocket url/],
    [['stream', file, 'ws://127.0.0.1:9', 'quad'], /invalid mix type/],
    [['stream', file, 'ws://127.0.0.1:9', 'mono', '12000'], /invalid sample rate/],
    [['stream', join(dir, 'missing.wav'), 'ws://127.0.0.1:9'], /cannot read .*ENOENT/],
    [['stream', file, 'ws://127.0.0.1:9', '--speed', '-1'], /--speed/],
    [['stream', file, 'ws://127.0.0.1:9', '--bogus'], /unknown option --bogus/],
    [['stream', cmdsFile('not a wav'), 'ws://127.0.0.1:9'], /not a RIFF\/WAVE file/i],
    [['stream', file, 'ws://127.0.0.1:9', '--record', join(dir, 'no', 'such', 'talk.wav')], /cannot write --record .*ENOENT/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, re);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  const help = await cli(['stream', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--commands <file>/);
});

function cmdsFile(text: string): string {
  const p = join(dir, `f${Math.random().toString(36).slice(2)}.wav`);
  writeFileSync(p, text);
  return p;
}

test('a failed connection prints the error event and exits 1', async () => {
  const file = wavFile('fail.wav', sine(440, 8000, 0.5), 8000, 1);
  const probe = await server();
  const port = probe.port;
  await probe.close();
  servers.splice(servers.indexOf(probe), 1);
  const r = await cli(['stream', file, `ws://127.0.0.1:${port}`]);
  assert.equal(r.code, 1);
  assert.equal(r.events[0]!.subclass, 'mod_audio_stream::error');
  assert.equal((JSON.parse(r.events[0]!.body) as { message: { code: number } }).message.code, 6);
  assert.match(r.stderr.trim().split('\n').at(-1)!, /stream error: 6/);
});

test('a server that closes early gives a disconnect event and exit 1', async () => {
  const srv = await server((conn) => setTimeout(() => conn.socket.close(4000, 'enough'), 200));
  const file = wavFile('long.wav', sine(440, 8000, 3), 8000, 1);
  const r = await cli(['stream', file, srv.url]);
  assert.equal(r.code, 1);
  assert.equal(r.events.at(-1)!.body, '{"status":"disconnected","message":{"code":4000,"reason":"enough"}}');
  assert.match(r.stderr, /the server closed the connection: 4000 enough/);
});

/** 20 ms windows of a signal at `rateHz` that carry `freqHz` (level above -30 dBFS). */
function toneWindows(samples: Int16Array, freqHz: number, rateHz: number): boolean[] {
  const w = rateHz / 50;
  const out: boolean[] = [];
  for (let i = 0; i + w <= samples.length; i += w) out.push(toneLevelDbfs(samples.subarray(i, i + w), freqHz, rateHz) > -30);
  return out;
}

test('a conversation: the bot\'s binary replies play into the write stream, a clear cuts them, dtmf reaches the bot, --record holds both sides', async () => {
  const botTone = sine(900, 8000, 1.5, 0.4); // 1.5 s sent at once; cleared after 0.6 s of the caller's audio
  const srv = await server((conn) => {
    let caller = 0;
    conn.socket.on('message', (_data, isBinary) => {
      if (!isBinary) return;
      caller++;
      if (caller === 1) {
        conn.socket.send(Buffer.from(botTone.buffer));
        conn.socket.send(JSON.stringify({ type: 'mark', data: { name: 'sentence-1' } }));
      }
      if (caller === 30) conn.socket.send('{"type":"clearAudio"}');
    });
  });
  const callerTone = sine(440, 8000, 2, 0.4);
  const file = wavFile('caller-duplex.wav', callerTone, 8000, 1);
  const cmds = join(dir, 'duplex-cmds.txt');
  writeFileSync(cmds, '1.2 dtmf 4#@80\n');
  const record = join(dir, 'talk.wav');
  const r = await cli(['stream', file, srv.url, 'stereo', '8k', '--var', 'STREAM_SAMPLE_RATE=8000', '--var', 'STREAM_DTMF=true',
    '--commands', cmds, '--record', record]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /recorded 2\.\d\d s to /);
  const conn = srv.connections[0]!;
  await conn.closed;

  // The server's own view: texts back, and the bot's voice as the write (right) side of the stereo stream.
  const replies = texts(conn).map((t) => JSON.parse(t) as { type: string; data: Record<string, unknown> });
  const cleared = replies.find((m) => m.type === 'cleared');
  assert.ok(cleared, `cleared sent: ${JSON.stringify(replies)}`);
  const droppedMs = cleared.data.droppedMs as number;
  assert.ok(droppedMs > 300 && droppedMs < 1300, `dropped ${droppedMs} ms of the 1500`);
  assert.deepEqual(replies.filter((m) => m.type === 'mark'), [{ type: 'mark', data: { name: 'sentence-1', event: 'cleared' } }]);
  assert.deepEqual(replies.filter((m) => m.type === 'dtmf'), [
    { type: 'dtmf', data: { digit: '4', durationMs: 80 } },
    { type: 'dtmf', data: { digit: '#', durationMs: 80 } },
  ]);
  assert.match(r.stderr, /1\.28s dtmf 4 -> \+OK/);
  const [streamedLeft, streamedRight] = deinterleave(pcmFromBuffer(Buffer.concat(binaries(conn))));
  assert.deepEqual(streamedLeft, callerTone, 'the caller side is the file');
  const heard = toneWindows(streamedRight, 900, 8000);
  const first = heard.indexOf(true);
  const last = heard.lastIndexOf(true);
  assert.ok(first >= 0 && first < 25, `the bot is heard from window ${first}`);
  assert.ok(heard.slice(first, last + 1).every(Boolean), 'without a gap until the clear');
  const playedMs = (last - first + 1) * 20;
  assert.ok(Math.abs(playedMs + droppedMs - 1500) <= 40, `played ${playedMs} ms + dropped ${droppedMs} ms = the 1500 sent`);
  assert.ok(rmsDbfs(streamedRight.subarray((last + 2) * 160)) < -90, 'a cut: silence after the clear');

  // The recording: left what was streamed as the caller, right what the caller heard; the same as the stream.
  const wav = parseWav(readFileSync(record));
  assert.equal(wav.channels, 2);
  assert.equal(wav.sampleRateHz, 8000);
  const [recLeft, recRight] = deinterleave(wav.samples);
  assert.deepEqual(recLeft, callerTone);
  assert.deepEqual(recRight, streamedRight, 'the right channel is what was sent as the write side');
  const c = bestCorrelation(recRight.subarray((first + 1) * 160, (first + 11) * 160), botTone.subarray(160, 1760), 160);
  assert.ok(c.corr > 0.99, `the bot's own audio (correlation ${c.corr.toFixed(3)})`);
});

test('the run waits at the end of the file for the bot\'s queued reply; a hangup from the bot ends it with exit 0', async () => {
  const reply = sine(700, 16000, 1.2, 0.4);
  const srv = await server((conn) => conn.socket.once('message', () => conn.socket.send(JSON.stringify(
    { type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 16000, audioData: Buffer.from(reply.buffer).toString('base64') } }))));
  const file = wavFile('short-caller.wav', sine(440, 8000, 0.4, 0.4), 8000, 1);
  const record = join(dir, 'tail.wav');
  const r = await cli(['stream', file, srv.url, 'mixed', '8k', '--var', 'STREAM_PLAYBACK=true', '--record', record, '--speed', '2']);
  assert.equal(r.code, 0, r.stderr);
  const [, right] = deinterleave(parseWav(readFileSync(record)).samples);
  const heard = toneWindows(right, 700, 8000);
  const n = heard.filter(Boolean).length;
  assert.ok(n >= 58 && n <= 61, `the whole 1.2 s reply was heard after the 0.4 s file: ${n} windows`);
  assert.ok(heard.length * 20 < 1900, `and the run ended once it had played (${heard.length * 20} ms recorded)`);
  assert.ok(r.events.some((e) => e.subclass === 'mod_audio_stream::play'), 'the play event as the module fires it');

  const bye = await server((conn) => conn.socket.once('message', () => {
    conn.socket.send(Buffer.from(sine(700, 8000, 0.5, 0.4).buffer));
    conn.socket.send('{"type":"hangup","data":{"cause":"NORMAL_CLEARING","afterPlayout":true}}');
  }));
  const long = wavFile('long-caller.wav', sine(440, 8000, 5, 0.4), 8000, 1);
  const record2 = join(dir, 'bye.wav');
  const r2 = await cli(['stream', long, bye.url, 'mono', '8k', '--var', 'STREAM_SAMPLE_RATE=8k', '--record', record2, '--speed', '2']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stderr, /the server hung up the call \(NORMAL_CLEARING\)/);
  const [, heard2] = deinterleave(parseWav(readFileSync(record2)).samples);
  assert.equal(toneWindows(heard2, 700, 8000).filter(Boolean).length, 25, 'the 0.5 s before the hangup was heard in full');
  assert.ok(heard2.length < 8000 * 1.5, `the call ended after it, not at the end of the 5 s file (${heard2.length / 8} ms)`);
});

test('Ctrl-C stops the stream cleanly: close 1000, the recording kept whole, exit 130', async () => {
  const srv = await server();
  const file = wavFile('interrupted.wav', sine(440, 8000, 30, 0.4), 8000, 1);
  const record = join(dir, 'interrupted-talk.wav');
  const child = spawn(process.execPath, [BIN, 'stream', file, srv.url, '--record', record], { env: { ...process.env, AUDIO_STREAM_LOG_LEVEL: 'info' } });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const conn = await srv.nextConnection();
  await conn.received('binary', 25, 10000); // half a second streamed
  child.kill('SIGINT');
  assert.equal(await exited, 130);
  assert.deepEqual(await conn.closed, { code: 1000, reason: 'Normal closure' });
  assert.match(stdout, /mod_audio_stream::connect/);
  assert.doesNotMatch(stdout, /mod_audio_stream::disconnect/, "a stop fires no disconnect");
  const wav = parseWav(readFileSync(record));
  const [left] = deinterleave(wav.samples);
  assert.ok(left.length >= 8000 * 0.5 && left.length < 8000 * 10, `the recording holds what was streamed: ${left.length / 8} ms`);
  assert.ok(Math.abs(dominantFrequency(left.subarray(0, 4000), 8000) - 440) < 3);
});
