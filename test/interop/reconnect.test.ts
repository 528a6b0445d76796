// A stream that survives its server's restart, end to end: SIPp calls `audio-stream serve` and
// plays a known signal; the route streams it (mono 8k: the PCMU samples exactly as decoded) to a
// `ws` server in this test, which is killed mid-call (every TCP connection cut, no Close frame,
// the port closed) and started again on the same port 2 s later. What the new connection carries
// is checked against the signal SIPp sent: the metadata, then the gap's audio, then live audio,
// every message found in the source at the place right after the one before it. The events come
// over the Event Socket (modesl), as an application sees them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerOptions } from 'ws';
import type { Event as EslEvent } from 'modesl';
import { ulawDecode } from '../../src/codec/g711.ts';
import { startTestServer, binaries, texts, within, sleep, until, type TestServer, type ServerConnection } from '../helpers/harness.ts';
import { runSipp, requireProgram, streamScenario } from '../helpers/sipp.ts';
import { startServe, writeServeConfig, type ServeProcess } from '../helpers/serve-process.ts';
import { modeslConnect, modeslClose } from '../helpers/esl-clients.ts';
import { pcmFromBuffer } from '../helpers/audio.ts';

/** Ports of this file (26700-26799): RTP of the service, SIPp's media and signalling. */
const RTP_MIN = 26700;
const RTP_MAX = 26759;
const SIPP_MEDIA = [26770, 26780];
const SIPP_SIP = [26774, 26784];

const FRAME = 160;
const SECONDS = 12;
const dir = mkdtempSync(join(tmpdir(), 'as-reconnect-'));
const ulawFile = join(dir, 'source.ulaw');
/** What SIPp sends, decoded as the service decodes it. */
let source: Int16Array;
/** Each 8-sample window of the source -> where it starts. */
const where = new Map<string, number[]>();

before(() => {
  requireProgram('sipp');
  // A known pseudo-random sequence (xorshift32): any 20 ms of it occurs once.
  const bytes = new Uint8Array(8000 * SECONDS);
  let x = 0x2545f491;
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    bytes[i] = (x >>> 24) & 0xff;
  }
  writeFileSync(ulawFile, bytes);
  source = new Int16Array(bytes.length);
  ulawDecode(bytes, source);
  for (let p = 0; p + 8 <= source.length; p++) {
    const key = source.subarray(p, p + 8).join(',');
    const list = where.get(key);
    if (list) list.push(p);
    else where.set(key, [p]);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Where a 20 ms message starts in the source, or -1 (not the source: the silence before the first RTP packet, a frame the service concealed). */
function place(message: Buffer): number {
  const pcm = pcmFromBuffer(message);
  assert.equal(pcm.length, FRAME, 'every message is exactly STREAM_BUFFER_SIZE (20 ms at 8 kHz)');
  for (const p of where.get(pcm.subarray(0, 8).join(',')) ?? []) {
    let same = true;
    for (let i = 8; i < FRAME && same; i++) same = source[p + i] === pcm[i];
    if (same) return p;
  }
  return -1;
}

/**
 * Checks that the places form one run with nothing lost or repeated: each message found in the
 * source is exactly one message after the one found before it, unless messages not in the source
 * (the service's concealment of an RTP packet that came late on a loaded machine, not ours to
 * judge) lie between them, and then it is at most that many messages later plus one. Returns how
 * many messages were not in the source.
 */
function checkRun(places: number[], what: string): number {
  let last = -1;
  let unknown = 0;
  let between = 0;
  for (const p of places) {
    if (p < 0) { unknown++; between++; continue; }
    if (last >= 0) {
      if (between === 0) assert.equal(p - last, FRAME, `${what}: message at ${p} after ${last}: nothing lost or repeated`);
      else assert.ok(p > last && p - last <= FRAME * (between + 1), `${what}: message at ${p} after ${last} and ${between} concealed`);
    }
    last = p;
    between = 0;
  }
  return unknown;
}

/** The call, the kill and the restart; returns what both connections received and the events. */
async function callThroughRestart(name: string, vars: string[], k: number) {
  const first = await startTestServer();
  const port = first.port;
  let servers: TestServer[] = [first];
  const config = writeServeConfig(join(dir, `${name}.yaml`), { rtpPortMin: RTP_MIN, rtpPortMax: RTP_MAX, rtpTimeoutSec: 30, tempDir: join(dir, `${name}-tmp`),
    routes: `
  - match: { destination: "^bot" }
    actions:
${vars.map((v) => `      - set: ${v}`).join('\n')}
      - answer
      - audio_stream: start ws://127.0.0.1:${port}/bot mono 8k {"call":"\${uuid}"}
      - park` });
  let serve: ServeProcess | undefined;
  let esl: Awaited<ReturnType<typeof modeslConnect>> | undefined;
  try {
    serve = await startServe(['--config', config]);
    esl = await modeslConnect(serve.eslPort);
    const events: EslEvent[] = [];
    esl.on('esl::event::CUSTOM::**', (e: EslEvent) => { events.push(e); });
    await new Promise<void>((r) => esl!.events('json', 'CUSTOM mod_audio_stream::connect mod_audio_stream::reconnecting mod_audio_stream::reconnected mod_audio_stream::disconnect mod_audio_stream::error', () => r()));
    const firstP = first.nextConnection();
    const sipp = runSipp({ dir, name, scenario: streamScenario(ulawFile, 8000), target: `127.0.0.1:${serve.sipPort}`, service: 'bot',
      mediaPort: SIPP_MEDIA[k], localPort: SIPP_SIP[k], timeoutSec: 40 });
    const a = await within(firstP, 'the stream of the call', 15000);
    await a.received('binary', 75, 10000); // 1.5 s of the call
    await first.close(); // killed
    await sleep(2000);
    const second = await startTestServer({ port } as Omit<ServerOptions, 'port' | 'host'>);
    servers = [second];
    const b = await within(second.nextConnection(), 'the reconnection', 10000);
    const r = await sipp;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await within(b.closed, 'the end of the call', 10000), { code: 1000, reason: 'Normal closure' });
    await until(() => events.some((e) => e.getHeader('Event-Subclass') === 'mod_audio_stream::reconnected'), 5000, 'the reconnected event');
    return { a, b, events, output: serve.output() };
  } finally {
    if (esl) await modeslClose(esl);
    await serve?.stop();
    await Promise.all(servers.map((s) => s.close()));
  }
}

function bodyOf(events: EslEvent[], kind: string): Array<Record<string, number>> {
  return events.filter((e) => e.getHeader('Event-Subclass') === `mod_audio_stream::${kind}`).map((e) => JSON.parse(e.getBody()) as Record<string, number>);
}

/** Checks what the two connections carried; returns the places of the second one's messages and the reconnected event's body. */
function checkConnections(t: { diagnostic(m: string): void }, a: ServerConnection, b: ServerConnection, events: EslEvent[]) {
  const meta = texts(a)[0]!;
  assert.match(meta, /^\{"call":"[0-9a-f-]{36}"\}$/);
  assert.equal(b.messages[0]!.kind, 'text', 'the metadata first on the new connection');
  assert.deepEqual(texts(b), [meta], 'the same metadata, and no other text');
  const placesA = binaries(a).map(place);
  const placesB = binaries(b).map(place);
  const unknown = checkRun(placesA, 'first connection') + checkRun(placesB, 'after the reconnect');
  const lastA = placesA.findLast((p) => p >= 0)!;
  const firstB = placesB.find((p) => p >= 0)!;
  t.diagnostic(`first connection: ${placesA.length} messages up to sample ${lastA}; after the reconnect: ${placesB.length} from sample ${firstB}; `
    + `${unknown} messages not in the source (silence before the first RTP packet, or concealment of a late one), at indexes ${[...placesA.flatMap((p, i) => (p < 0 ? [`a${i}`] : [])), ...placesB.flatMap((p, i) => (p < 0 ? [`b${i}`] : []))].join(' ')}`);
  assert.ok(unknown <= 10, `at most a few frames not from the source (${unknown})`);
  assert.ok(firstB > lastA, 'nothing repeated across the reconnection');
  const kinds = events.map((e) => e.getHeader('Event-Subclass'));
  assert.equal(kinds[0], 'mod_audio_stream::connect');
  assert.equal(kinds.at(-1), 'mod_audio_stream::reconnected');
  assert.ok(kinds.slice(1, -1).every((k) => k === 'mod_audio_stream::reconnecting') && kinds.length >= 3, kinds.join(' '));
  const attempts = bodyOf(events, 'reconnecting');
  assert.deepEqual(attempts.map((x) => x.attempt), attempts.map((_, i) => i + 1));
  for (const x of attempts) assert.ok(x.delayMs >= 100 && x.delayMs <= 5000, `delayMs ${x.delayMs}`);
  const reconnected = bodyOf(events, 'reconnected')[0]!;
  assert.deepEqual(Object.keys(reconnected), ['gapMs', 'replayedMs', 'droppedMs']);
  t.diagnostic(`reconnected ${JSON.stringify(reconnected)} after ${attempts.length} attempts (${attempts.map((x) => x.delayMs).join(', ')} ms)`);
  assert.ok(reconnected.gapMs >= 1900, `the gap lasted the 2 s the server was down (${reconnected.gapMs})`);
  return { placesB, lastA, firstB, reconnected };
}

test('the server is killed mid-call and back 2 s later: the new connection gets the metadata, the gap\'s audio, then live audio, nothing lost or repeated', async (t) => {
  const { a, b, events, output } = await callThroughRestart('restart', ['STREAM_RECONNECT=20', 'STREAM_RECONNECT_BACKOFF_MS=200'], 0);
  const { placesB, lastA, firstB, reconnected } = checkConnections(t, a, b, events);
  assert.equal(reconnected.droppedMs, 0);
  const gapMessages = reconnected.replayedMs / 20;
  assert.ok(Math.abs(reconnected.replayedMs - reconnected.gapMs) <= 500, 'the whole gap was kept');
  // What the old server had not read when it was killed is lost in TCP (no acknowledgement exists);
  // from the moment the loss was seen, every message is kept.
  const inFlight = (firstB - lastA) / FRAME - 1;
  t.diagnostic(`${inFlight} messages were in flight when the server died; ${gapMessages} replayed, then ${placesB.length - gapMessages} live`);
  assert.ok(inFlight >= 0 && inFlight <= 5, `in flight ${inFlight}`);
  // The gap is 2 s plus up to one jittered backoff (an attempt just before the server is back waits
  // up to 3.2 s more: 4.8 s seen), out of a call of fixed length: at least 0.5 s of live audio follows.
  assert.ok(placesB.length - gapMessages >= 25, `live audio after the gap's (${placesB.length - gapMessages} messages)`);
  assert.doesNotMatch(output, /mod_audio_stream::disconnect|connection error/);
});

test('with STREAM_RECONNECT_BUFFER_MS=500 the oldest of the 2 s gap is dropped: the new connection starts with the last 500 ms, and reconnected says so', async (t) => {
  const { a, b, events } = await callThroughRestart('bounded', ['STREAM_RECONNECT=20', 'STREAM_RECONNECT_BACKOFF_MS=200', 'STREAM_RECONNECT_BUFFER_MS=500'], 1);
  const { lastA, firstB, reconnected } = checkConnections(t, a, b, events);
  assert.equal(reconnected.replayedMs, 500);
  assert.ok(reconnected.droppedMs >= 1300, `droppedMs ${reconnected.droppedMs}`);
  // The jump across the reconnection is the dropped audio, plus what was in flight.
  const skipped = (firstB - lastA) / FRAME - 1;
  const dropped = reconnected.droppedMs / 20;
  t.diagnostic(`skipped ${skipped} messages across the reconnection, ${dropped} of them dropped from the buffer`);
  assert.ok(skipped >= dropped && skipped <= dropped + 5, `skipped ${skipped}, dropped ${dropped}`);
});
