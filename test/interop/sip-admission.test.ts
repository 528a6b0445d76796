// Admission under attack (issue 10, item 2): `audio-stream serve` with its config's sip limits, a raw
// UDP flood of never-ACKed INVITEs from 127.0.0.2, and a real SIPp call from 127.0.0.1 that must
// complete meanwhile. Fixed ports (SIPp and the RTP range) lie in 26200-26299.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, binaries, type TestServer } from '../helpers/harness.ts';
import { startServe, writeServeConfig, type ServeProcess } from '../helpers/serve-process.ts';
import { runSipp, requireProgram, streamScenario } from '../helpers/sipp.ts';
import { pcmFromBuffer, dominantFrequency, writeUlawTone } from '../helpers/audio.ts';

const dir = mkdtempSync(join(tmpdir(), 'as-admission-'));
const ulaw = join(dir, 'tone440.ulaw');
let ws: TestServer;

before(async () => {
  requireProgram('sipp');
  writeUlawTone(ulaw, 440, 4, 0.4);
  ws = await startTestServer();
});
after(async () => {
  await ws.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts serve with `sip` as its sip section (YAML flow mapping, the listen address added) and these RTP ports. */
async function serve(name: string, sip: string, rtpPortMin: number, rtpPortMax: number): Promise<ServeProcess> {
  const file = writeServeConfig(join(dir, `${name}.yaml`), {
    rtpPortMin, rtpPortMax, tempDir: join(dir, `${name}-tmp`),
    routes: `
  - match: { destination: "^stream" }
    actions:
      - answer
      - audio_stream: start ${ws.url}/probe mono 16k {"uuid":"\${uuid}"}
      - park
  - actions: [answer, park]`,
  });
  writeFileSync(file, readFileSync(file, 'utf8').replace('sip: { listen: "127.0.0.1:0" }', `sip: { listen: "127.0.0.1:0", ${sip} }`));
  return startServe(['--config', file]);
}

/** A raw UDP phone on `address` that sends INVITEs, never ACKs, and records every answer by Call-ID. */
async function rawPhone(address: string) {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  const port = socket.address().port;
  const answers = new Map<string, Array<{ status: number; reason: string; retryAfter?: string; warning?: string }>>();
  socket.on('message', (m) => {
    const text = m.toString('latin1');
    const start = /^SIP\/2\.0 (\d{3}) (.*)\r\n/.exec(text);
    const callId = /\r\nCall-ID: *(.*)\r\n/i.exec(text)?.[1];
    if (!start || callId === undefined) return;
    const list = answers.get(callId) ?? [];
    list.push({ status: Number(start[1]), reason: start[2], retryAfter: /\r\nRetry-After: *(.*)\r\n/i.exec(text)?.[1],
      warning: /\r\nWarning: *(.*)\r\n/i.exec(text)?.[1] });
    answers.set(callId, list);
  });
  let n = 0;
  return {
    answers,
    /** Sends one new INVITE to `sipPort`; returns its Call-ID. */
    invite(sipPort: number, destination = 'flood'): string {
      const callId = `${address}-${port}-${++n}`;
      const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
      socket.send([
        `INVITE sip:${destination}@127.0.0.1:${sipPort} SIP/2.0`, `Via: SIP/2.0/UDP ${address}:${port};branch=z9hG4bK-${callId};rport`,
        'Max-Forwards: 70', `From: <sip:attacker@${address}>;tag=f${n}`, `To: <sip:${destination}@127.0.0.1>`, `Call-ID: ${callId}`,
        'CSeq: 1 INVITE', `Contact: <sip:attacker@${address}:${port}>`, 'Content-Type: application/sdp', `Content-Length: ${sdp.length}`, '', sdp,
      ].join('\r\n'), sipPort, '127.0.0.1');
      return callId;
    },
    /** The final status each Call-ID got (first final response). */
    finals(): Map<string, { status: number; reason: string; retryAfter?: string; warning?: string }> {
      const out = new Map<string, { status: number; reason: string; retryAfter?: string; warning?: string }>();
      for (const [id, list] of answers) {
        const final = list.find((a) => a.status >= 200);
        if (final) out.set(id, final);
      }
      return out;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Lines of the service's log that are about refusing calls. */
function refusalLines(output: string): string[] {
  return output.split('\n').filter((l) => /refus|cannot open RTP|Maximum Calls|\b503\b/i.test(l));
}

test('a flood of 2000 never-ACKed INVITEs at 400/s from 127.0.0.2: a probe call from 127.0.0.1 completes with audio; the flood gets 503s, logged once', { timeout: 120_000 }, async (t) => {
  const svc = await serve('flood', 'maxPendingPerSource: 20', 26200, 26259);
  const flood = await rawPhone('127.0.0.2');
  try {
    let sent = 0;
    const started = performance.now();
    const done = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(2000, Math.floor(((performance.now() - started) * 400) / 1000));
        while (sent < due) { flood.invite(svc.sipPort); sent++; }
        if (sent >= 2000) { clearInterval(timer); resolve(); }
      }, 5);
    });
    await until(() => sent >= 400, 10_000, 'one second of flood');
    const conn = ws.nextConnection();
    const probe = await runSipp({ dir, name: 'probe', scenario: streamScenario(ulaw, 2000), target: `127.0.0.1:${svc.sipPort}`, service: 'stream-probe',
      transport: 'u1', localPort: 26260, mediaPort: 26270, timeoutSec: 30 });
    const floodStillOn = sent < 2000;
    await done;
    assert.equal(probe.code, 0, `the probe call completed (answered, ACKed, BYE): ${probe.stdout.slice(-1500)}${probe.stderr.slice(-1500)}`);
    assert.ok(floodStillOn, 'the probe ran during the flood');
    const audio = Buffer.concat(binaries(await conn));
    assert.ok(audio.length >= 32000 * 1.5, `at least 1.5 s of the probe's audio reached the server (${audio.length} bytes)`);
    assert.ok(Math.abs(dominantFrequency(pcmFromBuffer(audio).subarray(8000, 32000), 16000) - 440) < 5, 'the probe\'s 440 Hz tone');

    await until(() => flood.finals().size >= 1950, 20_000, 'the flood answered');
    const finals = [...flood.finals().values()];
    const answered = finals.filter((f) => f.status === 200).length;
    const refused = finals.filter((f) => f.status === 503);
    assert.equal(answered, 20, 'only maxPendingPerSource never-ACKed calls from the flooding source are taken');
    assert.equal(refused.length, finals.length - 20, 'every other INVITE got 503');
    assert.ok(refused.every((f) => f.retryAfter !== undefined), 'each 503 has Retry-After');
    const reasons = new Set(refused.map((f) => `${f.reason} / ${f.retryAfter} / ${f.warning}`));
    assert.deepEqual([...reasons].sort(), [
      `Source Call Rate Exceeded / 1 / 399 127.0.0.1:${svc.sipPort} "sip.invitesPerSourcePerSecond reached"`,
      `Too Many Pending Calls From Source / 32 / 399 127.0.0.1:${svc.sipPort} "sip.maxPendingPerSource reached"`,
    ]);
    const byReason = new Map<string, number>();
    for (const f of refused) byReason.set(f.reason, (byReason.get(f.reason) ?? 0) + 1);
    t.diagnostic(`flood: ${finals.length} INVITEs answered, ${answered} taken, 503 ${JSON.stringify(Object.fromEntries(byReason))}`);
    const lines = refusalLines(svc.output());
    assert.ok(lines.length >= 1 && lines.length <= 3, `refusals logged once per burst, not per INVITE:\n${lines.join('\n')}`);
    assert.match(lines[0], /\[WARNING\] sip: refusing new calls: 503 .*to udp 127\.0\.0\.2:\d+; more are counted and summed up every 10 s/);
  } finally {
    await flood.close();
    await svc.stop();
  }
});

test('503 with Retry-After over sip.invitesPerSourcePerSecond, sip.sessionsPerSecond and sip.maxSessions (small limits in the config)', { timeout: 60_000 }, async () => {
  const svc = await serve('limits', 'maxSessions: 2, sessionsPerSecond: 1, invitesPerSourcePerSecond: 1, maxPendingPerSource: 10', 26200, 26259);
  const a = await rawPhone('127.0.0.3');
  const b = await rawPhone('127.0.0.4');
  const c = await rawPhone('127.0.0.5');
  try {
    // One burst: A1 admitted (the one token of the second), A2 over its source's rate, B1 over the global rate.
    const a1 = a.invite(svc.sipPort);
    const a2 = a.invite(svc.sipPort);
    const b1 = b.invite(svc.sipPort);
    await until(() => a.finals().size === 2 && b.finals().size === 1, 10_000, 'first answers');
    assert.equal(a.finals().get(a1)!.status, 200);
    assert.deepEqual(a.finals().get(a2), { status: 503, reason: 'Source Call Rate Exceeded', retryAfter: '1',
      warning: `399 127.0.0.1:${svc.sipPort} "sip.invitesPerSourcePerSecond reached"` });
    assert.deepEqual(b.finals().get(b1), { status: 503, reason: 'Maximum Calls In Progress', retryAfter: '1',
      warning: `399 127.0.0.1:${svc.sipPort} "sip.sessionsPerSecond reached"` });
    await new Promise((r) => setTimeout(r, 1500)); // the rates refill (waiting longer cannot hurt)
    const b2 = b.invite(svc.sipPort);
    await until(() => b.finals().has(b2), 10_000, 'B2 answered');
    assert.equal(b.finals().get(b2)!.status, 200, 'admitted once the second passed');
    await new Promise((r) => setTimeout(r, 1500));
    const c1 = c.invite(svc.sipPort);
    await until(() => c.finals().has(c1), 10_000, 'C1 answered');
    assert.deepEqual(c.finals().get(c1), { status: 503, reason: 'Maximum Calls In Progress', retryAfter: '300',
      warning: `399 127.0.0.1:${svc.sipPort} "sip.maxSessions reached"` });
    const lines = refusalLines(svc.output());
    assert.ok(lines.length >= 1 && lines.length <= 2, lines.join('\n'));
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
    await svc.stop();
  }
});
