// Real SIP phones (SIPp) call the service; a real ws server receives each call's audio.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, binaries, texts, until, type TestServer } from '../helpers/harness.ts';
import { startCallHost } from '../helpers/call-host.ts';
import { runSipp, requireProgram, streamScenario, cancelScenario, holdScenario, calleeHangsUpScenario, dtmfScenario, infoDtmfScenario,
  silentCallerScenario, lateOfferScenario } from '../helpers/sipp.ts';
import { pcmFromBuffer, dominantFrequency, toneLevelDbfs, writeUlawTone } from '../helpers/audio.ts';

const dir = mkdtempSync(join(tmpdir(), 'as-sipp-'));
const ulaw = join(dir, 'tone440.ulaw');
const servers: TestServer[] = [];
let ws: TestServer;

before(async () => {
  requireProgram('sipp');
  writeUlawTone(ulaw, 440, 4, 0.4);
  ws = await startTestServer();
  servers.push(ws);
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

function streamRoute(extra: unknown[] = [], tail: unknown[] = ['park']) {
  return [{
    match: { destination: '^stream' },
    actions: [
      'answer',
      ...extra,
      { audio_stream: `start ${ws.url}/call mono 16k {"uuid":"\${uuid}","caller":"\${caller_id_number}","case":"\${sip_h_X-Test-Case}"}` },
      ...tail,
    ],
  }];
}

/**
 * Checks that a connection carried ~seconds of the 440 Hz tone at 16 kHz in 20 ms messages. Judged
 * per 100 ms block, so a short stall of a loaded test machine (a concealed frame) cannot fail it,
 * while wrong audio, wrong rate, silence or noise does.
 */
function assertToneReceived(messages: ReturnType<typeof binaries>, minSeconds: number) {
  const pcm = pcmFromBuffer(Buffer.concat(messages));
  assert.ok(messages.every((m) => m.length === 640), 'every message is 20 ms at 16 kHz mono');
  assert.ok(pcm.length >= 16000 * minSeconds, `at least ${minSeconds} s of audio, got ${pcm.length / 16000} s`);
  const body = pcm.subarray(16000 * 0.3, 16000 * (minSeconds - 0.2));
  assert.ok(Math.abs(dominantFrequency(body, 16000) - 440) < 3, 'the caller\'s 440 Hz tone');
  const expected = 20 * Math.log10(0.4);
  let blocks = 0;
  let good = 0;
  for (let i = 0; i + 1600 <= body.length; i += 1600, blocks++) {
    const level = toneLevelDbfs(body.subarray(i, i + 1600), 440, 16000);
    if (Math.abs(level - expected) < 3) good++;
  }
  assert.ok(good >= blocks * 0.9, `the tone at its level in ${good} of ${blocks} blocks of 100 ms`);
}

for (const transport of ['u1', 't1'] as const) {
  test(`a SIPp call over ${transport === 'u1' ? 'UDP' : 'TCP'} streams the caller's audio; events in order; no temp files left`, async () => {
    const h = await startCallHost({ routes: streamRoute(), rtpPortMin: transport === 'u1' ? 31000 : 31500 });
    try {
      const connP = ws.nextConnection();
      const r = await runSipp({ dir, name: `stream-${transport}`, scenario: streamScenario(ulaw, 2500), target: h.target, service: 'stream1',
        transport, mediaPort: transport === 'u1' ? 42000 : 42100 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const conn = await connP;
      const closed = await conn.closed;
      assert.deepEqual(closed, { code: 1000, reason: 'Normal closure' });
      const meta = JSON.parse(texts(conn)[0]!) as { uuid: string; caller: string; case: string };
      assert.equal(conn.messages[0]!.kind, 'text', 'metadata first');
      assert.equal(meta.caller, '1000');
      assert.equal(meta.case, 'sipp-1', 'X- header reached the channel variables');
      assertToneReceived(binaries(conn), 2.0);
      await until(() => h.timeline(meta.uuid).includes('CHANNEL_DESTROY'), 5000, 'channel destroyed');
      const timeline = h.timeline(meta.uuid)
        .filter((n) => !n.startsWith('CHANNEL_STATE') && !n.startsWith('CHANNEL_EXECUTE') && n !== 'CHANNEL_CALLSTATE');
      // The park may come after the connect; the media bug stops after the hangup, as FreeSWITCH's.
      assert.deepEqual(timeline, ['CHANNEL_CREATE', 'CHANNEL_ANSWER', 'MEDIA_BUG_START', 'CHANNEL_PARK', 'mod_audio_stream::connect',
        'CHANNEL_HANGUP', 'CHANNEL_UNPARK', 'MEDIA_BUG_STOP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY']
        .filter((n) => timeline.includes(n) || !n.endsWith('PARK')));
      const hangup = h.events.find((e) => e.name === 'CHANNEL_HANGUP' && e.get('Unique-ID') === meta.uuid)!;
      assert.equal(hangup.get('Hangup-Cause'), 'NORMAL_CLEARING');
      assert.equal(h.runtime.channels.size, 0);
      await until(() => readdirSync(h.tempDir).length === 0, 3000, 'no temp files');
    } finally {
      await h.close();
    }
  });
}

test('CANCEL before answer: 200 to the CANCEL, 487 to the INVITE, hangup cause ORIGINATOR_CANCEL', async () => {
  const h = await startCallHost({ routes: [{ actions: [{ sleep: 5000 }, 'answer', 'park'] }], rtpPortMin: 32000 });
  try {
    const r = await runSipp({ dir, name: 'cancel', scenario: cancelScenario(300), target: h.target, service: 'stream-cancel', mediaPort: 42200 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await until(() => h.events.some((e) => e.name === 'CHANNEL_HANGUP'), 3000, 'hangup');
    assert.equal(h.events.find((e) => e.name === 'CHANNEL_HANGUP')!.get('Hangup-Cause'), 'ORIGINATOR_CANCEL');
    assert.ok(!h.events.some((e) => e.name === 'CHANNEL_ANSWER'));
  } finally {
    await h.close();
  }
});

test('hold and resume with re-INVITEs; the stream survives them', async () => {
  const h = await startCallHost({ routes: streamRoute(), rtpPortMin: 32500 });
  try {
    const connP = ws.nextConnection();
    const r = await runSipp({ dir, name: 'hold', scenario: holdScenario(ulaw, 800), target: h.target, service: 'stream-hold', mediaPort: 42300 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const conn = await connP;
    await conn.closed;
    const names = h.events.map((e) => e.name).filter((n) => n === 'CHANNEL_HOLD' || n === 'CHANNEL_UNHOLD');
    assert.deepEqual(names, ['CHANNEL_HOLD', 'CHANNEL_UNHOLD'], 'one hold, then one unhold');
    assert.ok(binaries(conn).length >= 100, 'audio streamed through the whole call');
  } finally {
    await h.close();
  }
});

test('the service hangs up with BYE (route: stream, sleep, hangup)', async () => {
  const h = await startCallHost({ routes: streamRoute([], [{ sleep: 1500 }, 'hangup']), rtpPortMin: 33000 });
  try {
    const connP = ws.nextConnection();
    const r = await runSipp({ dir, name: 'callee-bye', scenario: calleeHangsUpScenario(ulaw, 10000), target: h.target, service: 'stream-bye', mediaPort: 42400 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const conn = await connP;
    assert.deepEqual(await conn.closed, { code: 1000, reason: 'Normal closure' });
    assertToneReceived(binaries(conn), 1.2);
  } finally {
    await h.close();
  }
});

test('RFC 4733 DTMF from the Debian pcap becomes a DTMF event', async () => {
  const h = await startCallHost({ routes: [{ actions: ['answer', 'park'] }], rtpPortMin: 33500 });
  try {
    const r = await runSipp({ dir, name: 'dtmf', scenario: dtmfScenario('/usr/share/sip-tester/dtmf_2833_1.pcap', 1500), target: h.target,
      service: 'dtmf', mediaPort: 42500 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await until(() => h.events.some((e) => e.name === 'DTMF'), 3000, 'a DTMF event');
    const dtmf = h.events.filter((e) => e.name === 'DTMF');
    assert.equal(dtmf.length, 1);
    assert.equal(dtmf[0]!.get('DTMF-Digit'), '1');
    assert.equal(dtmf[0]!.get('DTMF-Source'), 'RTP');
  } finally {
    await h.close();
  }
});

test('SIP INFO DTMF (application/dtmf-relay) becomes a DTMF event', async () => {
  const h = await startCallHost({ routes: [{ actions: ['answer', 'park'] }], rtpPortMin: 35500 });
  try {
    const r = await runSipp({ dir, name: 'info', scenario: infoDtmfScenario('7'), target: h.target, service: 'info', mediaPort: 42600 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const dtmf = h.events.filter((e) => e.name === 'DTMF');
    assert.deepEqual(dtmf.map((e) => [e.get('DTMF-Digit'), e.get('DTMF-Source')]), [['7', 'ENDPOINT']]);
  } finally {
    await h.close();
  }
});

test('a caller that sends no RTP is hung up with BYE after rtp.timeoutSec (MEDIA_TIMEOUT)', async () => {
  const h = await startCallHost({ routes: [{ actions: ['answer', 'park'] }], rtpPortMin: 36000, rtpTimeoutSec: 1 });
  try {
    const r = await runSipp({ dir, name: 'silent', scenario: silentCallerScenario(10000), target: h.target, service: 'silent', mediaPort: 42700 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await until(() => h.events.some((e) => e.name === 'CHANNEL_HANGUP'), 3000, 'hangup');
    assert.equal(h.events.find((e) => e.name === 'CHANNEL_HANGUP')!.get('Hangup-Cause'), 'MEDIA_TIMEOUT');
  } finally {
    await h.close();
  }
});

test('an INVITE without SDP: our offer goes in the 200, the answer comes in the ACK, audio flows', async () => {
  const h = await startCallHost({ routes: streamRoute(), rtpPortMin: 36500 });
  try {
    const connP = ws.nextConnection();
    const r = await runSipp({ dir, name: 'late-offer', scenario: lateOfferScenario(ulaw, 2500), target: h.target, service: 'stream-late', mediaPort: 42800 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const conn = await connP;
    await conn.closed;
    assertToneReceived(binaries(conn), 2.0);
  } finally {
    await h.close();
  }
});

test('50 concurrent streamed calls', async () => {
  const wsLoad = await startTestServer();
  servers.push(wsLoad);
  const routes = [{ actions: ['answer', { audio_stream: `start ${wsLoad.url} mono 16k` }, 'park'] }];
  const h = await startCallHost({ routes, rtpPortMin: 34000 });
  try {
    const r = await runSipp({ dir, name: 'load', scenario: streamScenario(ulaw, 3000), target: h.target, service: 'load', calls: 50, limit: 50,
      rate: 50, mediaPort: 43000, timeoutSec: 60 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await until(() => wsLoad.connections.length === 50, 10000, '50 streams');
    const closed = await Promise.all(wsLoad.connections.map((c) => c.closed));
    assert.ok(closed.every((c) => c.code === 1000));
    for (const c of wsLoad.connections) assertToneReceived(binaries(c), 2.5);
    await until(() => h.runtime.channels.size === 0, 5000, 'every channel gone');
  } finally {
    await h.close();
  }
});

test('an INVITE with no common codec gets 488', async () => {
  const h = await startCallHost({ routes: [{ actions: ['answer', 'park'] }], rtpPortMin: 34500 });
  const sock = createSocket('udp4');
  try {
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n';
    const invite = [`INVITE sip:stream@${h.target} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-488test;rport`,
      'From: <sip:a@127.0.0.1>;tag=1', `To: <sip:stream@${h.target}>`, 'Call-ID: no-codec@test', 'CSeq: 1 INVITE',
      `Contact: <sip:a@127.0.0.1:${port}>`, 'Max-Forwards: 70', 'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(sdp)}`, '', sdp].join('\r\n');
    const final = new Promise<string>((resolve) => sock.on('message', (m) => { const t = m.toString(); if (!/^SIP\/2\.0 1\d\d/.test(t)) resolve(t); }));
    sock.send(invite, h.host.ua.address.port, '127.0.0.1');
    const response = await final;
    assert.match(response, /^SIP\/2\.0 488 /);
    await until(() => h.runtime.channels.size === 0, 3000, 'no channel left');
    assert.equal(h.events.find((e) => e.name === 'CHANNEL_HANGUP')!.get('Hangup-Cause'), 'INCOMPATIBLE_DESTINATION');
  } finally {
    sock.close();
    await h.close();
  }
});
