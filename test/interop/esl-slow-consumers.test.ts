// Slow Event Socket consumers against `audio-stream serve` (issue 10, item 4): 100 clients
// subscribed to `event plain ALL` that never read, while another client fires 2000 events/s of
// 10 KB with `sendevent`. The silent clients must be dropped (each over esl.maxQueueBytes), the
// media clock must not skip a tick, a probe call (SIPp) streaming to a real ws server must lose no
// audio (every 20 ms frame of its source arrives, in order), a client that reads must get every
// event, and the service's memory must stay bounded.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ulawDecode, ulawEncode } from '../../src/codec/g711.ts';
import { startTestServer, binaries, until, sleep } from '../helpers/harness.ts';
import { runSipp, requireProgram, streamScenario } from '../helpers/sipp.ts';
import { pcmFromBuffer, rmsDbfs } from '../helpers/audio.ts';
import { RawEsl } from '../helpers/esl-raw.ts';
import { startServe, writeServeConfig } from '../helpers/serve-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'as-esl-slow-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SILENT_CLIENTS = 100;
const EVENTS_PER_SECOND = 2000;
const LOAD_SECONDS = 4;
const BODY_BYTES = 10 * 1024;
const FRAME_SAMPLES = 160;
const PROBE_SECONDS = 8;

/** A phase-continuous sweep from 200 Hz to 3400 Hz: every 20 ms frame of it differs from every other. */
function sweep(rateHz: number, seconds: number): Int16Array {
  const n = Math.round(rateHz * seconds);
  const out = new Int16Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const f = 200 + (3200 * i) / n;
    phase += (2 * Math.PI * f) / rateHz;
    out[i] = Math.round(0.4 * 32767 * Math.sin(phase));
  }
  return out;
}

/** The probe's source as the service decodes it: 20 ms frames of PCMU decoded, keyed by their bytes. */
function sourceFrames(ulaw: Uint8Array): Map<string, number> {
  const pcm = new Int16Array(ulaw.length);
  ulawDecode(ulaw, pcm);
  const frames = new Map<string, number>();
  for (let i = 0; i + FRAME_SAMPLES <= pcm.length; i += FRAME_SAMPLES) {
    frames.set(Buffer.from(pcm.buffer, pcm.byteOffset + 2 * i, 2 * FRAME_SAMPLES).toString('base64'), i / FRAME_SAMPLES);
  }
  return frames;
}

/**
 * Which source frames the stream carried: the received audio cut into 20 ms frames, each looked up
 * among the source's; frames that are not the source's (silence before and after it) are skipped.
 */
function framesFound(received: Buffer, source: Map<string, number>): number[] {
  const found: number[] = [];
  for (let off = 0; off + 2 * FRAME_SAMPLES <= received.length; off += 2 * FRAME_SAMPLES) {
    const n = source.get(received.toString('base64', off, off + 2 * FRAME_SAMPLES));
    if (n !== undefined) found.push(n);
  }
  return found;
}

async function metric(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Counts `marker` in what `socket` receives, without parsing frames (this process must keep up with
 * 20 MB/s): the last marker.length - 1 bytes carry over to complete a marker split across chunks.
 */
function countOn(socket: Socket, marker: string): () => number {
  let n = 0;
  let tail = '';
  socket.on('data', (d: Buffer) => {
    const text = tail + d.toString('latin1');
    for (let i = text.indexOf(marker); i >= 0; i = text.indexOf(marker, i + marker.length)) n++;
    tail = text.slice(-(marker.length - 1));
  });
  return () => n;
}

/** An Event Socket connection, authenticated; counts the +OK replies to its commands. */
async function eslConnection(port: number, who: string): Promise<{ socket: Socket; replies: () => number }> {
  const socket = connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.on('error', () => undefined);
  const replies = countOn(socket, 'Reply-Text: +OK ');
  socket.write('auth ClueCon\n\n');
  await until(() => replies() === 1, 3000, `the ${who} authenticated`);
  return { socket, replies };
}

/** A connection that fires CUSTOM test::load events and counts their +OK replies. */
async function loadSender(port: number): Promise<{ socket: Socket; replies: () => number }> {
  const { socket, replies } = await eslConnection(port, 'sender');
  return { socket, replies: () => replies() - 1 };
}

/** A client subscribed to the test::load events that reads as fast as it can and only counts them. */
async function countingReader(port: number): Promise<{ socket: Socket; events: () => number; closed: () => boolean }> {
  const { socket, replies } = await eslConnection(port, 'reader');
  const events = countOn(socket, 'Event-Subclass: test%3A%3Aload');
  let closed = false;
  socket.on('close', () => { closed = true; });
  socket.write('event plain CUSTOM test::load\n\n');
  await until(() => replies() === 2, 3000, 'the reader subscribed');
  return { socket, events, closed: () => closed };
}

test(`${SILENT_CLIENTS} ESL subscribers that never read, under ${EVENTS_PER_SECOND} events/s of 10 KB: dropped; no media tick skipped; a probe call loses no audio; a reader gets every event`, async () => {
  requireProgram('sipp');
  const ws = await startTestServer();
  const ulaw = new Uint8Array(8000 * PROBE_SECONDS);
  ulawEncode(sweep(8000, PROBE_SECONDS), ulaw);
  const ulawFile = join(dir, 'sweep.ulaw');
  writeFileSync(ulawFile, ulaw);
  const source = sourceFrames(ulaw);
  assert.equal(source.size, ulaw.length / FRAME_SAMPLES, 'every frame of the source is distinct');
  const config = writeServeConfig(join(dir, 'audio-stream.yaml'), { rtpPortMin: 26440, rtpPortMax: 26498, tempDir: join(dir, 'play'), routes: `
  - match: { destination: "^probe" }
    actions:
      - answer
      - audio_stream: start ${ws.url}/probe mono 8k
      - park` });
  const s = await startServe(['--config', config]);
  const silent: RawEsl[] = [];
  try {
    for (let i = 0; i < SILENT_CLIENTS; i += 20) {
      await Promise.all(Array.from({ length: Math.min(20, SILENT_CLIENTS - i) }, async () => {
        const c = await RawEsl.authed(s.eslPort);
        c.keepRaw = false;
        await c.command('event plain ALL');
        c.socket.pause(); // never reads again
        silent.push(c);
      }));
    }
    const reader = await countingReader(s.eslPort);
    const sender = await loadSender(s.eslPort);
    assert.equal(await metric(s.httpPort, 'audio_stream_esl_clients'), SILENT_CLIENTS + 2);

    const connP = ws.nextConnection();
    const sipp = runSipp({ dir, name: 'probe', scenario: streamScenario(ulawFile, PROBE_SECONDS * 1000 + 500), target: `127.0.0.1:${s.sipPort}`, service: 'probe',
      mediaPort: 26410, localPort: 26420 });
    const conn = await connP;
    await conn.received('binary', 25, 10000); // the call's audio flows
    const skippedBefore = await metric(s.httpPort, 'audio_stream_media_clock_skipped_ticks_total');
    const rssBefore = rssBytes(s.child.pid!);

    // The load: EVENTS_PER_SECOND sendevents of BODY_BYTES, paced every 10 ms.
    const body = 'x'.repeat(BODY_BYTES);
    const one = `sendevent CUSTOM\nEvent-Subclass: test::load\nContent-Length: ${BODY_BYTES}\n\n${body}`;
    const total = EVENTS_PER_SECOND * LOAD_SECONDS;
    let sent = 0;
    let rssPeak = rssBefore;
    const started = performance.now();
    while (sent < total) {
      const due = Math.min(total, Math.ceil(((performance.now() - started) / 1000) * EVENTS_PER_SECOND));
      if (due > sent && sender.socket.writableLength < 1 << 20) {
        sender.socket.write(one.repeat(due - sent));
        sent = due;
      }
      rssPeak = Math.max(rssPeak, rssBytes(s.child.pid!));
      await sleep(10);
    }
    await until(() => sender.replies() === total, 20000, `the sender's ${total} events accepted`);
    const loadSeconds = (performance.now() - started) / 1000;
    await until(() => reader.events() === total || reader.closed(), 20000, 'the reader gets every event').catch(() => undefined);
    // The reader is a client like the others: if it fell 4 MiB behind (this process starved of CPU), it was dropped too.
    const kills = s.output().split('\n').filter((l) => l.includes('Killing listener'));
    assert.ok(!reader.closed(), `the reader was dropped after ${reader.events()} of ${total} events (${kills.length} drop lines: first ${kills[0]}, last ${kills.at(-1)})`);
    assert.equal(reader.events(), total, `the reader got ${reader.events()} of ${total} events within 20 s`);
    rssPeak = Math.max(rssPeak, rssBytes(s.child.pid!));

    const r = await sipp;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await conn.closed;
    const skipped = await metric(s.httpPort, 'audio_stream_media_clock_skipped_ticks_total') - skippedBefore;
    const clients = await metric(s.httpPort, 'audio_stream_esl_clients');
    const rssAfter = rssBytes(s.child.pid!);
    const received = Buffer.concat(binaries(conn));
    const found = framesFound(received, source);
    const missing = source.size - new Set(found).size;
    const inOrder = found.every((n, i) => i === 0 || n === found[i - 1]! + 1);
    const dropLines = s.output().split('\n').filter((l) => l.includes('Killing listener'));
    console.log(`# ${sent} events in ${loadSeconds.toFixed(1)} s; skipped ticks ${skipped}; probe frames ${found.length}/${source.size} `
      + `(missing ${missing}, in order ${inOrder}, level ${rmsDbfs(pcmFromBuffer(received)).toFixed(1)} dBFS); `
      + `RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> peak ${(rssPeak / 2 ** 20).toFixed(0)} -> ${(rssAfter / 2 ** 20).toFixed(0)} MiB; `
      + `ESL clients ${clients}; drop lines ${dropLines.length}`);

    assert.equal(clients, 2, 'every silent client was dropped; the sender and the reader stay');
    assert.equal(missing, 0, 'the probe call lost no audio');
    assert.ok(inOrder, 'the probe\'s frames arrived in order, each once');
    // The media clock's own count: 0 in 12 quiet runs, 1 beside another suite on this 2-core box.
    // Before the fix the ESL clients alone cost 14-20 ticks and 16 lost frames: the frame check
    // above is what catches that; this bound only guards against a stall far worse than noise.
    assert.ok(skipped <= 10, `the media clock kept up (${skipped} ticks skipped)`);
    assert.ok(rssPeak - rssBefore < 100 * 2 ** 20, `RSS grew by ${((rssPeak - rssBefore) / 2 ** 20).toFixed(0)} MiB`);
    assert.equal(dropLines.length, SILENT_CLIENTS, 'each drop logged once');
    assert.match(dropLines[0]!, /Killing listener 127\.0\.0\.1:\d+ because of lost events\. Queue size\[\d+\/4194304 bytes\]/);
    sender.socket.destroy();
    reader.socket.destroy();
  } finally {
    for (const c of silent) c.close();
    await s.stop();
    await ws.close();
  }
});
