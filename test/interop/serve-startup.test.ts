// `audio-stream serve` refuses to start the same way whatever is wrong: exit status 2 and one line
// `audio-stream serve: <key> <value>: <why>`: a tempDir under /proc or /sys (or one that cannot be
// made), a listen port held by another process, an address this host does not have.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeServeConfig } from '../helpers/serve-process.ts';

const BIN = resolve(import.meta.dirname, '../../bin/audio-stream.js');

const dir = mkdtempSync(join(tmpdir(), 'as-serve-startup-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let configs = 0;
/** A config file with free ports everywhere and this tempDir. */
function config(tempDir: string): string {
  return writeServeConfig(join(dir, `config-${configs++}.yaml`), { rtpPortMin: 26690, rtpPortMax: 26699, tempDir });
}

/** Runs serve to its exit: it must not start (after 20 s it is killed and the test fails); the failure line it printed. */
async function serveMustFail(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: { ...process.env, AUDIO_STREAM_LOG_LEVEL: 'info', ...env } });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<'running'>((r) => { timer = setTimeout(() => r('running'), 20_000); })]);
  clearTimeout(timer);
  if (code === 'running') {
    child.kill('SIGKILL');
    assert.fail(`serve started instead of exiting: ${stderr}`);
  }
  // Log lines of what started before the failure may come first; the failure is one line, the last.
  const lines = stderr.split('\n').filter((l) => l.startsWith('audio-stream serve:'));
  assert.equal(lines.length, 1, stderr);
  assert.ok(stderr.endsWith(`${lines[0]}\n`), stderr);
  return { code, failure: `${lines[0]}\n` };
}

/** Another process that holds a TCP (and, with `udp`, the same UDP) port on 127.0.0.1; resolves with the port. */
async function holdPort(udp: boolean): Promise<{ port: number; child: ChildProcess }> {
  const script = `
    const net = require('node:net'), dgram = require('node:dgram');
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      if (!${udp}) return console.log(port);
      dgram.createSocket('udp4').bind(port, '127.0.0.1', () => console.log(port));
    });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  after(() => { child.kill('SIGKILL'); });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', (code) => reject(new Error(`the port holder exited ${code}`)));
  });
  return { port, child };
}

test('a tempDir under /proc or /sys, or through a symlink into /proc, is refused at start: exit 2, one line naming tempDir', async () => {
  for (const [tempDir, why] of [
    ['/proc/x', 'is under /proc, not a disk'],
    ['/sys/audio-stream', 'is under /sys, not a disk'],
  ] as const) {
    const r = await serveMustFail(['--config', config(tempDir)]);
    assert.equal(r.code, 2, r.failure);
    assert.equal(r.failure, `audio-stream serve: tempDir ${tempDir}: ${why}\n`);
  }
  symlinkSync('/proc/self', join(dir, 'to-proc'));
  const viaLink = join(dir, 'to-proc', 'play');
  const r = await serveMustFail(['--config', config(viaLink)]);
  assert.equal(r.code, 2);
  assert.match(r.failure, new RegExp(`^audio-stream serve: tempDir ${viaLink}: resolves to /proc/\\d+/play, which is under /proc, not a disk\\n$`));
  // Also from the environment, and a path through a regular file.
  writeFileSync(join(dir, 'a-file'), 'x');
  const env = await serveMustFail(['--config', config(join(dir, 'ok'))], { AUDIO_STREAM_TEMP_DIR: join(dir, 'a-file', 'play') });
  assert.equal(env.code, 2);
  assert.equal(env.failure, `audio-stream serve: tempDir ${join(dir, 'a-file', 'play')}: cannot be used: a part of the path is not a directory\n`);
  assert.equal(existsSync('/proc/x'), false);
});

test('a listen port held by another process: exit 2 naming the key and the address (sip.listen, esl.listen, http.listen)', async () => {
  const sipHeld = await holdPort(true);
  const sip = await serveMustFail(['--config', config(join(dir, 'play'))], { AUDIO_STREAM_SIP_LISTEN: `127.0.0.1:${sipHeld.port}` });
  assert.equal(sip.code, 2, sip.failure);
  assert.equal(sip.failure, `audio-stream serve: sip.listen 127.0.0.1:${sipHeld.port}: address already in use\n`);
  const tcpHeld = await holdPort(false);
  const esl = await serveMustFail(['--config', config(join(dir, 'play'))], { AUDIO_STREAM_ESL_LISTEN: `127.0.0.1:${tcpHeld.port}` });
  assert.equal(esl.code, 2, esl.failure);
  assert.equal(esl.failure, `audio-stream serve: esl.listen 127.0.0.1:${tcpHeld.port}: address already in use\n`);
  const http = await serveMustFail(['--config', config(join(dir, 'play'))], { AUDIO_STREAM_HTTP_LISTEN: `127.0.0.1:${tcpHeld.port}` });
  assert.equal(http.code, 2, http.failure);
  assert.equal(http.failure, `audio-stream serve: http.listen 127.0.0.1:${tcpHeld.port}: address already in use\n`);
  // An address this host does not have (TEST-NET-1, RFC 5737).
  const absent = await serveMustFail(['--config', config(join(dir, 'play'))], { AUDIO_STREAM_ESL_LISTEN: '192.0.2.1:0' });
  assert.equal(absent.code, 2, absent.failure);
  assert.equal(absent.failure, 'audio-stream serve: esl.listen 192.0.2.1:0: address not available on this host\n');
  // A bad config is exit 2 too (one line naming the key).
  const bad = await serveMustFail(['--config', config(join(dir, 'play'))], { AUDIO_STREAM_ESL_LISTEN: 'nonsense' });
  assert.equal(bad.code, 2);
  assert.match(bad.failure, /^audio-stream serve: config: esl\.listen: .*\n$/);
});
