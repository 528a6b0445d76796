// The play-file budget (issue 10, item 5) against `audio-stream serve` with real SIPp calls: a `ws`
// server floods each stream with 256 KiB streamAudio replies. Per stream (tempDirStreamBudgetMb 2)
// and in total (tempDirBudgetMb 3) the files stop at the budget; a refused reply is an error log
// line and a json event; an empty reply writes no file; the stream keeps handling later messages
// and sending audio; a hangup deletes the files and gives their bytes back to the other calls.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Event as EslEvent } from 'modesl';
import { ulawEncode } from '../../src/codec/g711.ts';
import { startTestServer, binaries, until, type ServerConnection } from '../helpers/harness.ts';
import { runSipp, requireProgram, calleeHangsUpScenario, type SippResult } from '../helpers/sipp.ts';
import { startServe, writeServeConfig } from '../helpers/serve-process.ts';
import { modeslConnect, modeslApi, modeslClose } from '../helpers/esl-clients.ts';
import { sine } from '../helpers/audio.ts';

const dir = mkdtempSync(join(tmpdir(), 'as-disk-budget-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KIB256 = 256 * 1024;

/** A streamAudio reply of `bytes` of raw 8 kHz audio (random, so no two files are alike). */
function streamAudio(bytes: number, seq: number): string {
  return JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 8000, audioData: randomBytes(bytes).toString('base64'), seq } });
}

test('play files stop at the per-stream and the total budget; refusals are logged and fired as json; no empty file; hangup frees the bytes', { timeout: 120_000 }, async () => {
  requireProgram('sipp');
  const tempDir = join(dir, 'play');
  const ws = await startTestServer({ maxPayload: 64 << 20 });
  const config = writeServeConfig(join(dir, 'audio-stream.yaml'), { rtpPortMin: 26600, rtpPortMax: 26619, rtpTimeoutSec: 60, tempDir, routes: `
  - actions:
      - answer
      - audio_stream: start ${ws.url}/\${uuid} mono 8k
      - park` });
  appendFileSync(config, 'tempDirBudgetMb: 3\ntempDirStreamBudgetMb: 2\n');
  const tone = sine(440, 8000, 60, 0.3);
  const ulaw = new Uint8Array(tone.length);
  ulawEncode(tone, ulaw);
  writeFileSync(join(dir, 'tone.ulaw'), ulaw);
  const svc = await startServe(['--config', config]);
  const conn = await modeslConnect(svc.eslPort);
  const sipps: Array<Promise<SippResult>> = [];
  try {
    await new Promise<void>((r) => conn.events('plain', 'CUSTOM mod_audio_stream::play mod_audio_stream::json', () => r()));
    const events: Array<{ uuid: string; kind: string; body: string }> = [];
    conn.on('esl::event::**', (e: EslEvent) => {
      const sub = e.getHeader('Event-Subclass');
      if (sub?.startsWith('mod_audio_stream::')) events.push({ uuid: e.getHeader('Unique-ID')!, kind: sub.slice(18), body: e.getBody() });
    });
    const of = (uuid: string, kind: string) => events.filter((e) => e.uuid === uuid && e.kind === kind);
    const jsonSaid = (uuid: string, text: string) => () => of(uuid, 'json').some((e) => e.body === text);
    const filesOf = (uuid: string) => (existsSync(tempDir) ? readdirSync(tempDir).filter((f) => f.startsWith(uuid)) : []);

    const call = async (name: string, mediaPort: number, localPort: number): Promise<{ uuid: string; server: ServerConnection }> => {
      const next = ws.nextConnection();
      sipps.push(runSipp({ dir, name, scenario: calleeHangsUpScenario(join(dir, 'tone.ulaw'), 90_000), target: `127.0.0.1:${svc.sipPort}`,
        service: 'budget', mediaPort, localPort }));
      const server = await next;
      return { uuid: server.request.url!.slice(1), server };
    };

    // Call A: 12 replies of 256 KiB at once; 8 fit its 2 MiB, 4 are refused. Then an empty one, then a text.
    const a = await call('budget-a', 26640, 26680);
    await a.server.received('binary', 5, 10_000);
    for (let i = 0; i < 12; i++) a.server.socket.send(streamAudio(KIB256, i));
    const empty = JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 8000, audioData: '', seq: 'empty' } });
    a.server.socket.send(empty);
    a.server.socket.send('{"type":"after-flood"}');
    await until(jsonSaid(a.uuid, '{"type":"after-flood"}'), 30_000, 'the message after the flood is still handled');
    assert.equal(of(a.uuid, 'play').length, 8, 'play events up to the stream budget');
    assert.deepEqual(of(a.uuid, 'play').map((e) => (JSON.parse(e.body) as { seq: number }).seq), [0, 1, 2, 3, 4, 5, 6, 7]);
    const refusedA = of(a.uuid, 'json').map((e) => JSON.parse(e.body) as { type: string; data?: { seq: number | string } });
    assert.deepEqual(refusedA.map((m) => m.data?.seq ?? m.type), [8, 9, 10, 11, 'empty', 'after-flood'], 'each refused reply is a json event, in order');
    const aFiles = filesOf(a.uuid);
    assert.equal(aFiles.length, 8);
    assert.ok(aFiles.every((f) => statSync(join(tempDir, f)).size === KIB256), 'no empty file, each file whole');
    assert.match(svc.output(), /processMessage - cannot write play file: over the play-file budget \(2 MiB per stream \/ 3 MiB in total\)/);
    assert.match(svc.output(), /processMessage - cannot write play file: the audio decodes to 0 bytes/);
    const audioBefore = binaries(a.server).length;
    await until(() => binaries(a.server).length >= audioBefore + 10, 10_000, 'A still streams audio');

    // Call B: 1 MiB is left in total, so 4 of its 6 replies fit although its own budget is 2 MiB.
    const b = await call('budget-b', 26660, 26684);
    await b.server.received('binary', 5, 10_000);
    for (let i = 0; i < 6; i++) b.server.socket.send(streamAudio(KIB256, i));
    b.server.socket.send('{"type":"after-flood"}');
    await until(jsonSaid(b.uuid, '{"type":"after-flood"}'), 30_000, 'B handles the message after its flood');
    assert.equal(of(b.uuid, 'play').length, 4, 'play events up to the total budget');
    assert.equal(of(b.uuid, 'json').length, 3);
    assert.equal(filesOf(b.uuid).length, 4);
    assert.equal(readdirSync(tempDir).length, 12, '3 MiB in files, not more');

    // A hangs up: its files go, and their bytes are B's again.
    assert.equal(await modeslApi(conn, 'uuid_kill', a.uuid), '+OK\n');
    await until(() => filesOf(a.uuid).length === 0, 10_000, "A's files deleted at hangup");
    b.server.socket.send(streamAudio(KIB256, 100));
    await until(() => of(b.uuid, 'play').length === 5, 10_000, 'B writes again once A freed the budget');
    assert.equal((JSON.parse(of(b.uuid, 'play')[4]!.body) as { seq: number; file: string }).file, join(tempDir, `${b.uuid}_6.tmp.r8`),
      'the refused replies kept their numbers (0-3 written, 4 and 5 refused; a text takes none)');
    assert.equal(await modeslApi(conn, 'uuid_kill', b.uuid), '+OK\n');
    await until(() => readdirSync(tempDir).length === 0, 10_000, 'every play file deleted after the hangups');
    for (const r of await Promise.all(sipps)) assert.equal(r.code, 0, `SIPp got our BYE: ${r.stdout.slice(-500)}${r.stderr.slice(-500)}`);
  } finally {
    await modeslClose(conn);
    await svc.stop();
    await ws.close();
  }
});
