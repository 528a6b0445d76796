import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, buildConfig } from './load.ts';
import { isAppError } from '../lib/errors.ts';
import { serviceApplications } from '../service/runtime.ts';

const applications = serviceApplications();
const check = (app: string, data: string) => applications.check(app, data);
import { DEFAULT_ROUTE } from './config.ts';

test('no file: embedded defaults with the answer-and-park route', () => {
  const c = loadConfig(undefined, {}, check);
  assert.deepEqual(c.sip.listen, { host: '127.0.0.1', port: 5060 });
  assert.deepEqual([c.rtp.portMin, c.rtp.portMax, c.rtp.timeoutSec], [16384, 32767, 60]);
  assert.deepEqual(c.esl.listen, { host: '127.0.0.1', port: 8021 });
  assert.equal(c.esl.password, 'ClueCon');
  assert.deepEqual(c.http.listen, { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(c.routes, [DEFAULT_ROUTE]);
});

test('the documented YAML example loads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'as-config-'));
  const file = join(dir, 'audio-stream.yaml');
  writeFileSync(file, `
sip:  { listen: "127.0.0.1:5080", advertisedAddress: "127.0.0.1" }   # UDP and TCP
rtp:  { address: "127.0.0.1", portMin: 20000, portMax: 20100, timeoutSec: 30 }
esl:  { listen: "127.0.0.1:8022", password: ClueCon }
http: { listen: "[::1]:8081" }
tempDir: /tmp/audio-stream-test
routes:
  - match: { destination: "^stream", headers: { X-Tenant: "^acme$" } }
    actions:
      - set: STREAM_BUFFER_SIZE=100
      - answer
      - audio_stream: start ws://127.0.0.1:9000 mono 16k {"call":"\${uuid}"}
      - park
  - actions: [ "hangup USER_BUSY" ]
`);
  try {
    const c = loadConfig(file, { AUDIO_STREAM_RTP_PORT_MAX: '20200' }, check);
    assert.deepEqual(c.sip.listen, { host: '127.0.0.1', port: 5080 });
    assert.equal(c.rtp.portMax, 20200, 'environment override');
    assert.deepEqual(c.http.listen, { host: '::1', port: 8081 });
    assert.equal(c.tempDir, '/tmp/audio-stream-test');
    assert.equal(c.routes.length, 2);
    const [r0, r1] = c.routes;
    assert.ok(r0!.destination!.test('stream-1'));
    assert.equal(r0!.headers[0]!.name, 'X-Tenant');
    assert.deepEqual(r0!.actions.map((a) => a.app), ['set', 'answer', 'audio_stream', 'park']);
    assert.equal(r0!.actions[2]!.data, 'start ws://127.0.0.1:9000 mono 16k {"call":"${uuid}"}');
    assert.deepEqual(r1!.actions, [{ app: 'hangup', data: 'USER_BUSY' }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('JSON works too', () => {
  const c = buildConfig(JSON.parse('{"sip":{"listen":":5099"},"routes":[{"actions":["answer",{"playback":"/tmp/x.wav"},{"sleep":500}]}]}'), check);
  assert.deepEqual(c.sip.listen, { host: '0.0.0.0', port: 5099 });
  assert.equal(c.sip.advertisedAddress, '127.0.0.1');
  assert.deepEqual(c.routes[0]!.actions.map((a) => [a.app, a.data]), [['answer', ''], ['playback', '/tmp/x.wav'], ['sleep', '500']]);
});

test('bad config names the key', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ sip: { listen: 'localhost' } }, /sip\.listen: must be "host:port"/],
    [{ sip: { lisen: '1:2' } }, /sip\.lisen: unknown key/],
    [{ rtp: { portMin: 'abc' } }, /rtp\.portMin: must be a whole number/],
    [{ rtp: { portMin: 30000, portMax: 30001 } }, /rtp\.portMax/],
    [{ routes: [{ actions: ['dance'] }] }, /routes\[0\]\.actions\[0\]: unknown application "dance"/],
    [{ routes: [{ match: { destination: '(' }, actions: ['answer'] }] }, /routes\[0\]\.match\.destination: invalid regular expression/],
    [{ routes: [{ actions: [{ set: 'novalue' }] }] }, /set needs NAME=VALUE/],
    [{ routes: [{ actions: [] }] }, /routes\[0\]\.actions: must be a non-empty list/],
    [{ bogus: 1 }, /bogus: unknown key/],
    [[1, 2], /top level must be a mapping/],
  ];
  for (const [doc, re] of cases) assert.throws(() => buildConfig(doc, check), (err: Error) => isAppError(err, 'CONFIG_INVALID') && re.test(err.message), JSON.stringify(doc));
  assert.throws(() => loadConfig('/nonexistent/x.yaml', {}, check), /cannot read \/nonexistent\/x\.yaml: ENOENT/);
});

test('limits, budgets and sound directories: defaults, overrides and bad values naming the key', () => {
  const d = loadConfig(undefined, {}, check);
  assert.deepEqual([d.sip.maxSessions, d.sip.sessionsPerSecond, d.sip.invitesPerSourcePerSecond, d.sip.maxPendingPerSource], [1000, 200, 50, 100]);
  assert.deepEqual(d.sip.tcp, { maxConnections: 2000, maxConnectionsPerSource: 500, headerTimeoutMs: 5000 });
  assert.deepEqual([d.esl.maxConnections, d.esl.maxConnectionsPerSource, d.esl.maxQueueBytes], [500, 250, 4 << 20]);
  assert.deepEqual([d.http.maxConnections, d.http.allowedHosts, d.http.allowedOrigins], [500, [], []]);
  assert.deepEqual([d.tempDirBudgetMb, d.tempDirStreamBudgetMb, d.stream.maxJsonEventBytes], [1024, 256, 1 << 20]);
  assert.deepEqual(d.sounds.dirs, ['/usr/share/freeswitch/sounds', '/usr/local/freeswitch/sounds']);
  const c = buildConfig({
    sip: { maxSessions: 10, sessionsPerSecond: '5', tcp: { maxConnections: 20, maxConnectionsPerSource: 2, headerTimeoutMs: 1000 } },
    esl: { maxConnections: 3, maxConnectionsPerSource: 1 },
    http: { allowedHosts: ['Audio.Example'], allowedOrigins: ['https://app.example.com:8443'] },
    tempDirBudgetMb: 10, tempDirStreamBudgetMb: 2, sounds: { dirs: ['/srv/sounds/'] }, stream: { maxJsonEventBytes: 4096 },
  }, check);
  assert.deepEqual([c.sip.maxSessions, c.sip.sessionsPerSecond, c.sip.tcp.maxConnectionsPerSource, c.sip.tcp.headerTimeoutMs], [10, 5, 2, 1000]);
  assert.deepEqual([c.esl.maxConnections, c.esl.maxConnectionsPerSource], [3, 1]);
  assert.deepEqual([c.http.allowedHosts, c.http.allowedOrigins], [['audio.example'], ['https://app.example.com:8443']]);
  assert.deepEqual([c.tempDirBudgetMb, c.tempDirStreamBudgetMb, c.sounds.dirs, c.stream.maxJsonEventBytes], [10, 2, ['/srv/sounds'], 4096]);
  assert.deepEqual(loadConfig(undefined, { AUDIO_STREAM_SOUNDS_DIRS: '/a:/b', AUDIO_STREAM_SIP_MAX_SESSIONS: '7' }, check).sounds.dirs, ['/a', '/b']);
  const bad: Array<[unknown, RegExp]> = [
    [{ sip: { maxSessions: 0 } }, /sip\.maxSessions: must be a whole number/],
    [{ sip: { tcp: { maxConnections: 5, maxConnectionsPerSource: 6 } } }, /sip\.tcp\.maxConnectionsPerSource: must not be more than/],
    [{ sip: { tcp: { idle: 1 } } }, /sip\.tcp\.idle: unknown key/],
    [{ http: { allowedOrigins: ['https://x.example/path'] } }, /http\.allowedOrigins\[0\]: must be an origin/],
    [{ sounds: { dirs: ['relative/dir'] } }, /sounds\.dirs\[0\]: must be an absolute path/],
    [{ tempDirBudgetMb: 5, tempDirStreamBudgetMb: 6 }, /tempDirStreamBudgetMb: must not be more than tempDirBudgetMb/],
  ];
  for (const [doc, message] of bad) {
    assert.throws(() => buildConfig(doc, check), (err: unknown) => isAppError(err, 'CONFIG_INVALID') && message.test((err as Error).message), JSON.stringify(doc));
  }
});
