// Text from outside cannot forge log lines: a WebSocket server's message with CR/LF and terminal
// codes, logged by a real `audio-stream stream` process, comes out as one escaped line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestServer } from '../helpers/harness.ts';
import { sine } from '../helpers/audio.ts';
import { writeWav } from '../../src/audio/wav.ts';

const BIN = resolve(import.meta.dirname, '../../bin/audio-stream.js');
const FORGED = '2026-12-02T00:00:00.000Z [ERROR] esl: forged';

test('a server message with CR, LF, ESC and U+2028 is logged as one line with every control character escaped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'as-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const wav = join(dir, 'in.wav');
  writeFileSync(wav, writeWav(sine(440, 8000, 1), 8000, 1));
  const server = await startTestServer({}, (conn) => conn.socket.send(`{"hello":1}\r\n${FORGED}\x1b[2J\x1b[31m\u2028${FORGED}`));
  t.after(() => server.close());
  const child = spawn(process.execPath, [BIN, 'stream', wav, server.url, 'mono', '8k'], {
    env: { ...process.env, AUDIO_STREAM_LOG_LEVEL: 'debug', AUDIO_STREAM_TEMP_DIR: dir },
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.resume();
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 0, stderr);
  const lines = stderr.split('\n');
  const logged = lines.filter((l) => l.includes('forged'));
  assert.equal(logged.length, 1, `one line carries the message:\n${stderr}`);
  assert.ok(!lines.some((l) => l.startsWith(FORGED)), 'no line of its own');
  assert.ok(!stderr.includes('\x1b') && !stderr.includes('\r') && !stderr.includes('\u2028'), 'no raw control character reaches the log');
  assert.match(logged[0]!, /\{"hello":1\}\\r\\n2026-12-02T00:00:00\.000Z \[ERROR\] esl: forged\\x1b\[2J\\x1b\[31m\\u2028/);
});
