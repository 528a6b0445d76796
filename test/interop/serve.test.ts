// `audio-stream serve` as a user runs it: a config file, a real SIPp call, SIGTERM.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ulawEncode } from '../../src/codec/g711.ts';
import { startTestServer, binaries } from '../helpers/harness.ts';
import { runSipp, requireProgram, calleeHangsUpScenario } from '../helpers/sipp.ts';
import { sine } from '../helpers/audio.ts';
import { writeServeConfig, startServe } from '../helpers/serve-process.ts';

const BIN = resolve(import.meta.dirname, '../../bin/audio-stream.js');
const dir = mkdtempSync(join(tmpdir(), 'as-serve-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Served { child: ChildProcess; sipPort: number; output: () => string; exited: Promise<number | null> }

async function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: { ...process.env, AUDIO_STREAM_LOG_LEVEL: 'info', ...env } });
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const sipPort = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`serve did not start: ${output}`)), 15000);
    const check = () => {
      const m = /SIP listening on udp and tcp [\d.]+:(\d+)/.exec(output);
      if (m) { clearTimeout(t); res(Number(m[1])); }
    };
    child.stderr!.on('data', check);
    void exited.then((code) => { clearTimeout(t); rej(new Error(`serve exited ${code}: ${output}`)); });
  });
  return { child, sipPort, output: () => output, exited };
}

test('serve --config answers a SIPp call, streams it, and on SIGTERM hangs up with BYE and exits 0', async () => {
  requireProgram('sipp');
  const ws = await startTestServer();
  const tempDir = join(dir, 'play');
  const config = writeServeConfig(join(dir, 'audio-stream.yaml'), { rtpPortMin: 37000, rtpPortMax: 37400, rtpTimeoutSec: 30, tempDir, routes: `
  - match: { destination: "^bot" }
    actions:
      - set: STREAM_BUFFER_SIZE=100
      - answer
      - audio_stream: start ${ws.url}/bot mono 16k {"call":"\${uuid}"}
      - park
  - actions: [ "hangup CALL_REJECTED" ]` });
  const tone = sine(440, 8000, 10, 0.4);
  const ulaw = new Uint8Array(tone.length);
  ulawEncode(tone, ulaw);
  writeFileSync(join(dir, 'tone.ulaw'), ulaw);
  const s = await serve(['--config', config]);
  try {
    const connP = ws.nextConnection();
    const sipp = runSipp({ dir, name: 'serve-bye', scenario: calleeHangsUpScenario(join(dir, 'tone.ulaw'), 20000), target: `127.0.0.1:${s.sipPort}`,
      service: 'bot', mediaPort: 44600 });
    const conn = await connP;
    // The server answered with a play file: SIGTERM must delete it.
    conn.socket.send(JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 8000, audioData: 'AAAA' } }));
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(existsSync(tempDir) && readdirSync(tempDir).length === 1, 'the play file exists during the call');
    s.child.kill('SIGTERM');
    const r = await sipp;
    assert.equal(r.code, 0, `SIPp got our BYE: ${r.stdout}${r.stderr}`);
    assert.equal(await s.exited, 0, s.output());
    const closed = await conn.closed;
    assert.deepEqual(closed, { code: 1000, reason: 'Normal closure' });
    assert.ok(binaries(conn).length >= 5, 'audio in 100 ms messages');
    assert.ok(binaries(conn).slice(0, -1).every((b) => b.length === 3200));
    assert.deepEqual(readdirSync(tempDir), [], 'no temp files left');
    assert.match(s.output(), /SIGTERM: hanging up 1 call/);
  } finally {
    s.child.kill('SIGKILL');
    await ws.close();
  }
});

test('no config: embedded defaults (SIP overridden by the environment) answer OPTIONS; SIGINT exits 0', async () => {
  const s = await serve([], { AUDIO_STREAM_SIP_LISTEN: '127.0.0.1:0', AUDIO_STREAM_ESL_LISTEN: '127.0.0.1:0', AUDIO_STREAM_HTTP_LISTEN: '127.0.0.1:0' });
  const sock = createSocket('udp4');
  try {
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    const options = [`OPTIONS sip:ping@127.0.0.1:${s.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-opt1;rport`,
      'From: <sip:t@127.0.0.1>;tag=a', `To: <sip:ping@127.0.0.1:${s.sipPort}>`, 'Call-ID: opt-1@test', 'CSeq: 1 OPTIONS', 'Max-Forwards: 70',
      'Content-Length: 0', '', ''].join('\r\n');
    const reply = new Promise<string>((r) => sock.once('message', (m) => r(m.toString())));
    sock.send(options, s.sipPort, '127.0.0.1');
    assert.match(await reply, /^SIP\/2\.0 200 OK/);
    assert.match(s.output(), /1 route\(s\) loaded \(embedded defaults\)/);
    s.child.kill('SIGINT');
    assert.equal(await s.exited, 0);
  } finally {
    sock.close();
    s.child.kill('SIGKILL');
  }
});

test('a bad config is refused with a message naming the key and exit status 2', async () => {
  const config = join(dir, 'bad.yaml');
  writeFileSync(config, 'rtp: { portMin: lots }\n');
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config]);
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 2);
  assert.match(err, /rtp\.portMin: must be a whole number/);
});

test('status reports the configured sip.maxSessions and sip.sessionsPerSecond (set from the environment here)', async () => {
  const s = await startServe([], {
    AUDIO_STREAM_SIP_LISTEN: '127.0.0.1:0', AUDIO_STREAM_ESL_LISTEN: '127.0.0.1:0', AUDIO_STREAM_HTTP_LISTEN: '127.0.0.1:0',
    AUDIO_STREAM_SIP_MAX_SESSIONS: '7', AUDIO_STREAM_SIP_SESSIONS_PER_SECOND: '5', AUDIO_STREAM_TEMP_DIR: join(dir, 'status-tmp'),
  });
  try {
    const res = await fetch(`http://127.0.0.1:${s.httpPort}/api/command`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ command: 'status' }),
    });
    const { reply } = await res.json() as { reply: string };
    assert.match(reply, /\n0 session\(s\) per Sec out of max 5, peak 0, last 5min 0 \n7 session\(s\) max\n/);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});
