// `audio-stream stream` run as a user runs it: a child process, a real ws server, a WAV file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeWav } from '../../src/audio/wav.ts';
import { startTestServer, binaries, texts, type TestServer } from '../helpers/harness.ts';
import { sine, interleave, deinterleave, pcmFromBuffer, dominantFrequency, toneLevelDbfs, bestCorrelation } from '../helpers/audio.ts';

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
  assert.deepEqual(r.events.map((e) => e.subclass), ['mod_audio_stream::connect', 'mod_audio_stream::disconnect']);
  assert.equal(r.events[0]!.body, '{"status":"connected"}');
  assert.equal(r.events[1]!.body, '{"status":"disconnected","message":{"code":1000,"reason":"Normal closure"}}');
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
