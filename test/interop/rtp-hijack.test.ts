// Strict RTP against a real call (issue 10, item 1: "RTP Bleed", Asterisk AST-2017-005). SIPp
// calls `audio-stream serve` and does the signalling; the caller's RTP comes from this test's own
// UDP sockets (externalRtpScenario), so that the packets (SSRC, sequence numbers, source address)
// are ours to shape; the call streams to a real `ws` server. What the stream carries is judged by
// content: which tone each 100 ms holds and at what level.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ulawEncode } from '../../src/codec/g711.ts';
import { writeRtpHeader } from '../../src/rtp/packet.ts';
import { startTestServer, binaries, texts, type TestServer, type ServerConnection } from '../helpers/harness.ts';
import { runSipp, requireProgram, externalRtpScenario, type SippResult } from '../helpers/sipp.ts';
import { startServe, writeServeConfig, type ServeProcess } from '../helpers/serve-process.ts';
import { pcmFromBuffer, toneLevelDbfs } from '../helpers/audio.ts';
import { firstAbove } from '../helpers/tone-track.ts';

const RATE = 8000;
/** The callers' tones' peak, as a fraction of full scale (-8 dBFS). */
const AMPLITUDE = 0.4;
const LEVEL_DB = 20 * Math.log10(AMPLITUDE);
/** SIPp's signalling and media ports (its retries go up by 7); the service's RTP range. All within this file's 26100-26199. */
const SIPP_PORT = 26100;
const SIPP_MEDIA_PORT = 26130;
const RTP_MIN = 26160;
const RTP_MAX = 26198;
/** How long the service keeps each call up (then it hangs up with BYE). */
const CALL_MS = 4000;

const dir = mkdtempSync(join(tmpdir(), 'as-rtp-hijack-'));
let ws: TestServer;
let svc: ServeProcess;
let calls = 0;

before(async () => {
  requireProgram('sipp');
  ws = await startTestServer();
  const config = writeServeConfig(join(dir, 'audio-stream.yaml'), {
    rtpPortMin: RTP_MIN, rtpPortMax: RTP_MAX, tempDir: join(dir, 'play'), routes: `
  - actions:
      - answer
      - audio_stream: start ${ws.url}/rtp mono 8k {"case":"\${sip_h_X-Test-Case}"}
      - sleep: ${CALL_MS}
      - hangup`,
  });
  svc = await startServe(['--config', config]);
});

after(async () => {
  await svc?.stop();
  await ws?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A UDP socket of the test on a loopback address, keeping the arrival time of every datagram it gets. */
interface Peer {
  socket: Socket;
  address: string;
  port: number;
  got: number[];
}

async function openPeer(address: string): Promise<Peer> {
  const socket = createSocket('udp4');
  const got: number[] = [];
  socket.on('message', () => got.push(performance.now()));
  socket.on('error', () => undefined); // ICMP port unreachable once the call has ended
  socket.bind(0, address);
  await once(socket, 'listening');
  return { socket, address, port: socket.address().port, got };
}

/** PCMU bytes of a tone, `seconds` long. */
function ulawTone(freqHz: number, seconds: number): Uint8Array {
  const n = Math.round(RATE * seconds);
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) pcm[i] = Math.round(AMPLITUDE * 32767 * Math.sin((2 * Math.PI * freqHz * i) / RATE));
  const out = new Uint8Array(n);
  ulawEncode(pcm, out);
  return out;
}

const TONES = { 440: ulawTone(440, 8), 700: ulawTone(700, 8), 1000: ulawTone(1000, 8) };

/** One stream of RTP: its SSRC, first sequence number and timestamp; packet k of it carries frame k of `tone`. */
class Stream {
  private k = 0;
  constructor(private readonly peer: Peer, private readonly tone: Uint8Array, readonly ssrc: number, private readonly seq0 = 1000, private readonly ts0 = 0) {}

  /** Sends the stream's next packet to 127.0.0.1:`port`. */
  send(port: number): void {
    const packet = Buffer.alloc(12 + 160); // dgram reads it on a later tick
    const off = (this.k * 160) % this.tone.length;
    writeRtpHeader(packet, this.k === 0, 0, (this.seq0 + this.k) & 0xffff, (this.ts0 + this.k * 160) >>> 0, this.ssrc);
    packet.set(this.tone.subarray(off, off + 160), 12);
    this.peer.socket.send(packet, port, '127.0.0.1');
    this.k++;
  }
}

/** A packet with random SSRC, sequence number and timestamp carrying the 1000 Hz tone, sent by `peer`. */
function sendStray(peer: Peer, port: number, rnd: () => number): void {
  const packet = Buffer.alloc(12 + 160);
  writeRtpHeader(packet, false, 0, rnd() & 0xffff, rnd(), rnd());
  packet.set(TONES[1000].subarray(0, 160), 12);
  peer.socket.send(packet, port, '127.0.0.1');
}

/** Calls `tick(n)` for n = 0, 1, 2, ... every 20 ms on an absolute schedule (a late timer catches up) until stop(). */
function pace(tick: (n: number) => void): { stop(): void } {
  const t0 = performance.now();
  let n = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const step = (): void => {
    if (stopped) return;
    while (n * 20 <= performance.now() - t0) tick(n++);
    timer = setTimeout(step, Math.max(1, t0 + n * 20 - performance.now()));
  };
  step();
  return { stop: () => { stopped = true; clearTimeout(timer); } };
}

async function waitForFile(path: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path) || !readFileSync(path, 'utf8').trim()) {
    if (Date.now() > deadline) throw new Error(`${path} was not written within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return readFileSync(path, 'utf8').trim();
}

/** A SIPp call whose SDP offers `sdpPort` on 127.0.0.1; `extra` goes into the scenario before it waits for our BYE. */
async function call(name: string, sdpPort: number, extra = ''): Promise<{ rtpPort: number; sipp: Promise<SippResult>; conn: Promise<ServerConnection>; name: string }> {
  const testCase = `${name}-${++calls}`;
  const portFile = join(dir, `${testCase}.port`);
  let scenario = externalRtpScenario(sdpPort, 20, portFile, CALL_MS + 10000, testCase);
  if (extra) scenario = scenario.replace('  <recv request="BYE"', `${extra}  <recv request="BYE"`);
  const conn = ws.nextConnection();
  const sipp = runSipp({ dir, name: testCase, scenario, target: `127.0.0.1:${svc.sipPort}`, service: 'rtp', localPort: SIPP_PORT, mediaPort: SIPP_MEDIA_PORT, timeoutSec: 30 });
  const rtpPort = Number(await waitForFile(portFile, 10000));
  return { rtpPort, sipp, conn, name: testCase };
}

/** The stream's audio (8 kHz mono), from the first sample of the caller's audio on, once the call is over. */
async function streamedAudio(c: Awaited<ReturnType<typeof call>>): Promise<Int16Array> {
  const r = await c.sipp;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const conn = await c.conn;
  await conn.closed;
  assert.equal(JSON.parse(texts(conn)[0]!).case, c.name, 'this call\'s stream');
  const pcm = pcmFromBuffer(Buffer.concat(binaries(conn)));
  const start = firstAbove(pcm, 500);
  assert.ok(start >= 0, 'the caller\'s audio reached the stream');
  return pcm.subarray(start);
}

/** For each 100 ms block of pcm[fromS, toS) (seconds): the levels (dBFS) of the tones. */
function blocks(pcm: Int16Array, fromS: number, toS: number): Array<Record<number, number>> {
  const out: Array<Record<number, number>> = [];
  for (let i = Math.round(fromS * RATE); i + 800 <= Math.min(pcm.length, toS * RATE); i += 800) {
    const b = pcm.subarray(i, i + 800);
    out.push({ 440: toneLevelDbfs(b, 440, RATE), 700: toneLevelDbfs(b, 700, RATE), 1000: toneLevelDbfs(b, 1000, RATE) });
  }
  return out;
}

/**
 * Every block holds `tone` and nothing of the other tones (more than 30 dB below), and at least 90 %
 * of them hold it at its level (within 3 dB: a block with a frame concealed on a loaded machine may
 * read lower, one with an intruder's or a stray's audio cannot pass).
 */
function assertOnly(b: Array<Record<number, number>>, tone: 440 | 700, what: string): void {
  assert.ok(b.length >= 5, `${what}: ${b.length} blocks`);
  const show = JSON.stringify(b.map((x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, Math.round(v)]))));
  for (const other of [440, 700, 1000].filter((f) => f !== tone)) {
    assert.ok(b.every((x) => x[other]! < LEVEL_DB - 30), `${what}: nothing of ${other} Hz in ${show}`);
  }
  const good = b.filter((x) => Math.abs(x[tone]! - LEVEL_DB) < 3).length;
  assert.ok(good >= 0.9 * b.length, `${what}: ${tone} Hz at its level in ${good} of ${b.length} blocks: ${show}`);
}

/** The service's log lines that match. */
function logLines(re: RegExp): string[] {
  return svc.output().split('\n').filter((l) => re.test(l));
}

/** The counters of the hangup line of the call whose stream had this case (the log line names the Call-ID, not the case: the last one). */
function hangupCounters(): Record<string, number> {
  const line = logLines(/hangup \w+: rtp received/).at(-1) ?? '';
  return Object.fromEntries([...line.matchAll(/(received|foreign|stray|sent) (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

test('an intruder from another address and port (3 packets with a new SSRC, then 50 packets/s) is dropped: the stream carries only the caller, and our RTP goes only to the caller', { timeout: 60_000 }, async () => {
  const caller = await openPeer('127.0.0.1');
  const intruder = await openPeer('127.0.0.2');
  try {
    const c = await call('hijack', caller.port);
    const voice = new Stream(caller, TONES[440], 0x11111111);
    const attack = new Stream(intruder, TONES[1000], 0x0badf00d, 5000, 777);
    // From 1 s on: the intruder's first three packets, then one each 20 ms next to the caller's.
    const pacer = pace((n) => {
      voice.send(c.rtpPort);
      if (n === 50) for (let i = 0; i < 3; i++) attack.send(c.rtpPort);
      else if (n > 50) attack.send(c.rtpPort);
    });
    let pcm: Int16Array;
    try {
      pcm = await streamedAudio(c);
    } finally {
      pacer.stop();
    }
    assertOnly(blocks(pcm, 0.2, 0.9), 440, 'before the attack');
    assertOnly(blocks(pcm, 1.1, CALL_MS / 1000 - 0.6), 440, 'during the attack');
    assert.equal(intruder.got.length, 0, 'no RTP of ours reached the intruder');
    assert.ok(caller.got.length > 100, `our RTP went to the caller (${caller.got.length} packets)`);
    const counters = hangupCounters();
    assert.ok(counters.foreign! > 100, `the intruder's packets counted: ${JSON.stringify(counters)}`);
    assert.equal(logLines(new RegExp(`RTP from 127\\.0\\.0\\.2:${intruder.port} dropped`)).length, 1, 'logged once');
  } finally {
    caller.socket.close();
    intruder.socket.close();
  }
});

test('a random-SSRC stray packet every 20 ms from the caller\'s own source does not silence the call', { timeout: 60_000 }, async () => {
  const caller = await openPeer('127.0.0.1');
  try {
    const c = await call('strays', caller.port);
    const voice = new Stream(caller, TONES[440], 0x22222222);
    let seed = 4242;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const pacer = pace((n) => {
      voice.send(c.rtpPort);
      if (n >= 50) sendStray(caller, c.rtpPort, rnd);
    });
    let pcm: Int16Array;
    try {
      pcm = await streamedAudio(c);
    } finally {
      pacer.stop();
    }
    assertOnly(blocks(pcm, 0.2, CALL_MS / 1000 - 0.6), 440, 'with the strays');
    const counters = hangupCounters();
    assert.ok(counters.stray! > 100, `the strays counted: ${JSON.stringify(counters)}`);
  } finally {
    caller.socket.close();
  }
});

test('a genuine SSRC change from the caller\'s source is followed, strays or not', { timeout: 60_000 }, async () => {
  const caller = await openPeer('127.0.0.1');
  try {
    const c = await call('ssrc-change', caller.port);
    const before = new Stream(caller, TONES[440], 0x33333333);
    // The new stream: new SSRC, sequence numbers and timestamps (a phone or SBC restarting its stream).
    const afterwards = new Stream(caller, TONES[700], 0x44444444, 40000, 123456789);
    let seed = 99;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const pacer = pace((n) => {
      (n < 75 ? before : afterwards).send(c.rtpPort);
      if (n >= 25 && n % 5 === 0) sendStray(caller, c.rtpPort, rnd);
    });
    let pcm: Int16Array;
    try {
      pcm = await streamedAudio(c);
    } finally {
      pacer.stop();
    }
    assertOnly(blocks(pcm, 0.2, 1.4), 440, 'before the change');
    assertOnly(blocks(pcm, 1.8, CALL_MS / 1000 - 0.6), 700, 'after the change');
  } finally {
    caller.socket.close();
  }
});

test('a re-INVITE to a new address (127.0.0.3) learns the source again: the new one is streamed and sent to, the old one dropped', { timeout: 60_000 }, async () => {
  const first = await openPeer('127.0.0.1');
  const moved = await openPeer('127.0.0.3');
  try {
    const movedFile = join(dir, `moved-${calls + 1}`);
    const reinvite = `  <pause milliseconds="1200"/>
  <send retrans="500"><![CDATA[

INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "SIPp Caller" <sip:1000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 INVITE
Contact: <sip:1000@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 53655765 2353687638 IN IP4 127.0.0.3
s=-
c=IN IP4 127.0.0.3
t=0 0
m=audio ${moved.port} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[

ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "SIPp Caller" <sip:1000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 ACK
Contact: <sip:1000@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <nop><action><exec command="echo moved > ${movedFile}"/></action></nop>
`;
    const c = await call('reinvite', first.port, reinvite);
    const old = new Stream(first, TONES[440], 0x55555555);
    const now = new Stream(moved, TONES[700], 0x66666666, 20000, 5555);
    let movedAt = -1;
    // The old source keeps sending all along; the new one starts once the re-INVITE is answered.
    const pacer = pace((n) => {
      old.send(c.rtpPort);
      if (movedAt < 0 && existsSync(movedFile)) movedAt = n;
      if (movedAt >= 0) now.send(c.rtpPort);
    });
    let pcm: Int16Array;
    try {
      pcm = await streamedAudio(c);
    } finally {
      pacer.stop();
    }
    assert.ok(movedAt > 0, 'the re-INVITE was answered during the call');
    const movedS = movedAt * 0.02;
    assertOnly(blocks(pcm, 0.2, 1.0), 440, 'before the re-INVITE');
    assertOnly(blocks(pcm, movedS + 0.3, CALL_MS / 1000 - 0.6), 700, 'after the re-INVITE');
    assert.ok(moved.got.length > 50, `our RTP goes to the new address (${moved.got.length} packets)`);
    const firstGotLate = first.got.filter((t) => t > first.got[0]! + (movedS + 0.5) * 1000).length;
    assert.equal(firstGotLate, 0, 'nothing more to the old address');
    assert.ok(hangupCounters().foreign! > 50, 'the old source\'s packets counted as foreign');
  } finally {
    first.socket.close();
    moved.socket.close();
  }
});

test('a phone behind NAT (its packets come from another port than its SDP says, nothing else sends) is learned and streamed; our RTP follows it', { timeout: 60_000 }, async () => {
  const sdpOnly = await openPeer('127.0.0.1'); // the SDP's port: nothing is sent from it
  const natted = await openPeer('127.0.0.1');
  try {
    const c = await call('nat', sdpOnly.port);
    const voice = new Stream(natted, TONES[440], 0x77777777);
    const pacer = pace(() => voice.send(c.rtpPort));
    let pcm: Int16Array;
    try {
      pcm = await streamedAudio(c);
    } finally {
      pacer.stop();
    }
    assertOnly(blocks(pcm, 0.2, CALL_MS / 1000 - 0.6), 440, 'the NAT\'d phone');
    assert.ok(natted.got.length > 100, `our RTP follows the learned source (${natted.got.length} packets)`);
    assert.ok(sdpOnly.got.length < 25, `the SDP's port only until learned (${sdpOnly.got.length} packets)`);
    assert.equal(logLines(new RegExp(`RTP source 127\\.0\\.0\\.1:${natted.port} learned from 4 consecutive packets`)).length, 1);
  } finally {
    sdpOnly.socket.close();
    natted.socket.close();
  }
});
