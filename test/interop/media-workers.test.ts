// Media workers (media.workers: 2): two SIPp calls stream from two workers; one worker dies of an
// uncaught exception mid-call. Its call is hung up (BYE, CHANNEL_HANGUP with cause CRASH), the other
// worker's call keeps streaming (checked by the tone it carries), and a new call succeeds on the
// replacement pool.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/config.ts';
import { Service } from '../../src/service/service.ts';
import type { FsEvent } from '../../src/events/event.ts';
import { startTestServer, until, within, type ServerConnection, type TestServer } from '../helpers/harness.ts';
import { runSipp, requireProgram, streamScenario } from '../helpers/sipp.ts';
import { dominantFrequency, pcmFromBuffer, writeUlawTone } from '../helpers/audio.ts';

const dir = mkdtempSync(join(tmpdir(), 'as-workers-'));
let ws: TestServer;
let service: Service;
const events: FsEvent[] = [];
const SIP_PORT = 25560;

before(async () => {
  requireProgram('sipp');
  ws = await startTestServer();
  const config = defaultConfig();
  config.sip.listen = { host: '127.0.0.1', port: SIP_PORT };
  config.esl.listen = { host: '127.0.0.1', port: 28521 };
  config.http.listen = { host: '127.0.0.1', port: 28580 };
  config.rtp.portMin = 42000;
  config.rtp.portMax = 42400;
  config.tempDir = join(dir, 'play');
  config.media.workers = 2;
  service = Service.create(config, { tempDir: config.tempDir });
  await service.start();
  service.runtime.bus.subscribe((e) => events.push(e));
  // Each answered call streams to the test server, its uuid in the URL.
  service.runtime.bus.subscribe((e) => {
    if (e.name !== 'CHANNEL_ANSWER') return;
    const uuid = e.get('Unique-ID')!;
    void service.runtime.api.execute('uuid_audio_stream', `${uuid} start ${ws.url}/${uuid} mono 16k`);
  });
});

after(async () => {
  await service?.close();
  await ws?.close();
  rmSync(dir, { recursive: true, force: true });
});

function answeredUuid(destination: string): string | undefined {
  return events.find((e) => e.name === 'CHANNEL_ANSWER' && e.get('Caller-Destination-Number') === destination)?.get('Unique-ID');
}

function connectionOf(uuid: string): ServerConnection | undefined {
  return ws.connections.find((c) => c.request.url === `/${uuid}`);
}

function audioOf(conn: ServerConnection, from = 0): Int16Array {
  const chunks = conn.messages.slice(from).flatMap((m) => (m.kind === 'binary' ? [m.data] : []));
  return pcmFromBuffer(Buffer.concat(chunks));
}

test('a worker that dies hangs up only its calls; the other worker streams on; a new call succeeds', { timeout: 60_000 }, async () => {
  const low = writeUlawTone(join(dir, 'low.ulaw'), 440, 12, 0.4);
  const high = writeUlawTone(join(dir, 'high.ulaw'), 1000, 12, 0.4);
  const target = `127.0.0.1:${SIP_PORT}`;
  const callA = runSipp({ dir, name: 'a', scenario: streamScenario(low, 9000), target, service: 'low', mediaPort: 44000, timeoutSec: 20 });
  const callB = runSipp({ dir, name: 'b', scenario: streamScenario(high, 6000), target, service: 'high', mediaPort: 44100, timeoutSec: 20 });
  await until(() => answeredUuid('low') !== undefined && answeredUuid('high') !== undefined, 10_000, 'both calls answered');
  const a = answeredUuid('low')!;
  const b = answeredUuid('high')!;
  const pool = service.workers!;
  assert.notEqual(pool.workerOf(a), pool.workerOf(b), 'the two calls are on different workers (fewest calls first)');
  await until(() => (connectionOf(a)?.messages.length ?? 0) > 25 && (connectionOf(b)?.messages.length ?? 0) > 25, 10_000, 'both streams flowing');
  const connA = connectionOf(a)!;
  const connB = connectionOf(b)!;

  pool.crashForTest(pool.workerOf(a)!);
  await until(() => events.some((e) => e.name === 'CHANNEL_HANGUP' && e.get('Unique-ID') === a && e.get('Hangup-Cause') === 'CRASH'), 10_000, 'CHANNEL_HANGUP with cause CRASH');
  await within(connA.closed, 'the dead worker\'s stream closed');
  assert.ok(!pool.has(a), 'the dead call left the directory');
  assert.ok(pool.has(b), 'the other call is still there');

  const before = connB.messages.length;
  await until(() => connB.messages.length >= before + 50, 10_000, 'one more second of the other stream');
  const after = audioOf(connB, before);
  assert.ok(Math.abs(dominantFrequency(after, 16000) - 1000) < 20, `the other call still carries its 1000 Hz tone, got ${dominantFrequency(after, 16000)} Hz`);

  const resultB = await callB;
  assert.equal(resultB.code, 0, `the other call ends normally: ${resultB.stdout.slice(-400)}`);
  await callA; // SIPp A got our BYE in the middle of its scenario: it fails, as a phone whose call dropped would

  await until(() => pool.metricSource().filter((m) => m.name === 'audio_stream_worker_up').every((m) => m.value === 1), 10_000, 'the dead worker replaced');
  const deaths = pool.metricSource().filter((m) => m.name === 'audio_stream_worker_deaths_total').reduce((n, m) => n + m.value, 0);
  assert.equal(deaths, 1);
  const resultC = await runSipp({ dir, name: 'c', scenario: streamScenario(low, 1500), target, service: 'again', mediaPort: 44200, timeoutSec: 20 });
  assert.equal(resultC.code, 0, `a new call succeeds: ${resultC.stdout.slice(-400)}`);
  const c = answeredUuid('again');
  assert.ok(c, 'the new call was answered');
  await until(() => (connectionOf(c)?.messages.length ?? 0) > 25, 5000, 'the new call streamed');
  assert.ok(Math.abs(dominantFrequency(audioOf(connectionOf(c)!, 1), 16000) - 440) < 20, 'the new call streams its 440 Hz tone');
});
