// The calls benchmark's load generator: a small SIP UAC over UDP that places N PCMU calls to the
// measured service and sends their audio, in a process of its own so its CPU is not counted.
// bench/load/calls.ts forks it (node --import tsx bench/load/calls-generator.ts --sip 127.0.0.1:<port> --n N
// --rate R) with an IPC channel.
//
// Each call: its own RTP socket on 127.0.0.1; INVITE with an SDP offer (PCMU/8000 + telephone-event,
// ptime 20), retransmitted on T1 doubling until a response; on 200: ACK (again for every
// retransmitted 200), connect the RTP socket to the answer's address, and join the media loop; at
// the end BYE (retransmitted until 200). A BYE from the service is answered 200. Every call's From
// user is its leg number (0..N-1) and its Call-ID bench-<leg>-<random>, so the service and the sink
// can tell the calls apart.
//
// Media: ONE timer for all calls. The calls are spread over 20 phases 1 ms apart (as the service's
// media clock spreads its channels), and each phase sends one 20 ms PCMU packet per call (speech-like
// audio, a different offset per call, μ-law encoded with src/codec/g711.ts) with consecutive sequence
// numbers and timestamps. A phase that wakes late sends what it owes (up to MAX_CATCH_UP packets per
// call); beyond that it skips ahead, counted in `skipped` (the row is then limited by the generator,
// not by the service). It counts the RTP packets each call receives back.
//
// With --duplex (the duplex calls benchmark, bench/load/duplex.ts: the sink echoes the streamed audio
// back and the service plays it to the caller), every call also carries a latency marker once a
// second (bench/load/marker.ts: two packets of a 1 kHz tone in place of the speech, the only audio
// over MARKER_THRESHOLD, its onset at the first sample of a packet). It records when it
// sent each marker and when each came back (process.hrtime, ms: the clock the sink and the service
// read too), and sorts what comes back: packets carrying audio (a code other than the two of μ-law
// zero) vs silence (the service had nothing to play).
//
// --header "Name: value" (repeatable) adds a header to every INVITE (the versus-FreeSWITCH bench gives
// FreeSWITCH's `stream` extension its X-WS-URL that way).
//
// IPC, parent -> this process:
//   { type: 'warm', count }           -> places `count` calls (legs from 100000), holds them 1 s, hangs them up; { type: 'warmed' }
//   { type: 'place' }                 -> places the calls at --rate per second; { type: 'up', ...GeneratorSetup } once every call is up or failed
//   { type: 'window', on }            -> starts / stops the measuring window; on stop: { type: 'gen-window', ...GeneratorWindow }
//   { type: 'stop-rtp' }              -> stops sending; { type: 'rtp-stopped', sent: number[] }
//   { type: 'hangup', rate }          -> BYE every call (rate per second), waits for the 200s, lingers for stray RTP;
//                                        { type: 'hung-up', ...GeneratorHangup }
//   { type: 'exit' }
import dgram from 'node:dgram';
import { randomBytes, randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ulawEncode, ulawToLinear } from '../../src/codec/g711.ts';
import { LatencyHistogram } from '../../src/lib/histogram.ts';
import { makeSpeechLikeStereo } from './signal.ts';
import { MARKER_FRAMES, MARKER_PERIOD, MARKER_REARM_MS, MARKER_THRESHOLD, hrOffsetMs, markerTone } from './marker.ts';

/** What call setup gave. */
export interface GeneratorSetup {
  n: number;
  answered: number;
  failed: number;
  failures: Record<string, number>;
  /** From the first INVITE to the last call settled, ms. */
  setupMs: number;
  /** INVITE sent -> 200 received, ms. */
  setupP50Ms: number;
  setupP99Ms: number;
  setupMaxMs: number;
  /** INVITEs sent again (no response within T1, doubling). */
  inviteRetransmissions: number;
}

/** The generator's own health over the window: if it was late, the service saw late packets that are not its fault. */
export interface GeneratorWindow {
  windowSeconds: number;
  cpuShare: number;
  /** How late the packets went out (per phase tick), ms. */
  lateP50Ms: number;
  lateP99Ms: number;
  lateMaxMs: number;
  /** Packets sent and received back during the window. */
  sent: number;
  received: number;
  /** Packets skipped because the generator fell more than MAX_CATCH_UP packets behind (whole run so far). */
  skipped: number;
  /** Latest a packet went out over the whole run so far (call setup included), ms. */
  runLateMaxMs: number;
  /** --duplex: packets received back during the window carrying audio (the echo), carrying only silence, and audio ending in silence (a late reply). */
  echoPackets?: number;
  silentPackets?: number;
  partialPackets?: number;
}

/** --duplex: per leg, what came back and the markers' times (process.hrtime, ms). */
export interface GeneratorEcho {
  /** Packets received carrying audio / only silence (μ-law zero), whole run. */
  echoReceived: number[];
  silentReceived: number[];
  /** When each marker was sent, and when a packet carrying a marker onset came back. */
  markSentHrMs: number[][];
  markBackHrMs: number[][];
}

export interface GeneratorHangup {
  byeOk: number;
  byeFailed: number;
  /** Calls the service hung up itself (its BYE). */
  remoteByes: number;
  /** RTP packets sent per leg (-1: the call never came up), received back per leg, and other datagrams received. */
  sent: number[];
  received: number[];
  receivedOther: number;
  socketErrors: number;
  skipped: number;
  hangupMs: number;
  /** --duplex only. */
  echo?: GeneratorEcho;
}

const FRAME_MS = 20;
const FRAME_SAMPLES = 160;
const PT_PCMU = 0;
const PACKET_BYTES = 12 + FRAME_SAMPLES;
const PHASES = 20;
const MAX_CATCH_UP = 5;
const T1 = 500;
const T2 = 4000;

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const target = argValue('sip') ?? '';
const tm = /^127\.0\.0\.1:(\d+)$/.exec(target);
if (!tm) throw new Error(`--sip must be 127.0.0.1:<port>, got ${target}`);
const SVC_HOST = '127.0.0.1';
const SVC_PORT = Number(tm[1]);
const N = Number(argValue('n') ?? 100);
const RATE = Number(argValue('rate') ?? 100);
const SETUP_TIMEOUT_MS = Number(argValue('setup-timeout') ?? 15000);
if (!Number.isInteger(N) || N < 1 || !(RATE > 0)) throw new Error('bad --n or --rate');
const DUPLEX = process.argv.includes('--duplex');
/** --header "Name: value" (repeatable): extra INVITE headers, e.g. FreeSWITCH's X-WS-URL for the versus bench. */
const EXTRA_HEADERS = process.argv.flatMap((a, i) => (a === '--header' && process.argv[i + 1] !== undefined ? [process.argv[i + 1]!] : []));
if (EXTRA_HEADERS.some((h) => !/^[A-Za-z][\w-]*: [^\r\n]+$/.test(h))) throw new Error('--header must be "Name: value"');

// The audio: 6 s of speech-like 8 kHz (one side of bench/load/signal.ts's conversation), μ-law once.
const stereo = makeSpeechLikeStereo(8000, 6);
const mono = new Int16Array(stereo.length / 2);
for (let i = 0; i < mono.length; i++) mono[i] = stereo[2 * i]!;
const ulaw = Buffer.alloc(mono.length);
ulawEncode(mono, ulaw);
const AUDIO_FRAMES = mono.length / FRAME_SAMPLES;

/** --duplex: the marker's two packets, μ-law (bench/load/marker.ts). */
const markerUlaw = Buffer.alloc(MARKER_FRAMES * FRAME_SAMPLES);
ulawEncode(markerTone(8000), markerUlaw);
/** μ-law codes whose value is over MARKER_THRESHOLD in magnitude, and the two codes of zero (0xFF +0, 0x7F -0). */
const LOUD_CODE = new Uint8Array(256);
for (let c = 0; c < 256; c++) LOUD_CODE[c] = Math.abs(ulawToLinear(c)) > MARKER_THRESHOLD ? 1 : 0;
const ULAW_ZERO_POS = 0xff;
const ULAW_ZERO_NEG = 0x7f;
/** performance.now() + HR_OFFSET_MS = process.hrtime in ms (the monotonic clock every process shares). */
const HR_OFFSET_MS = hrOffsetMs(performance.now());

type CallState = 'inviting' | 'proceeding' | 'up' | 'failed' | 'byeing' | 'ended';

interface Call {
  leg: number;
  callId: string;
  fromTag: string;
  state: CallState;
  failure: string;
  rtp: dgram.Socket | undefined;
  rtpPort: number;
  invite: Buffer | undefined;
  inviteBranch: string;
  firstTxAt: number;
  lastTxAt: number;
  txInterval: number;
  toTag: string;
  remoteTarget: string;
  ack: Buffer | undefined;
  bye: Buffer | undefined;
  setupMs: number;
  // RTP
  seq: number;
  ts: number;
  ssrc: number;
  pos: number;
  marker: boolean;
  sent: number;
  received: number;
  wasUp: boolean;
  batch: Batch;
  /** --duplex: frames sent or skipped (for the marker schedule), the marker's phase, what came back. */
  frame: number;
  markerPhase: number;
  echo: number;
  silent: number;
  markSent: number[];
  markBack: number[];
  lastMarkBackAt: number;
}

/** A group of calls placed together: the warm-up calls, then the measured ones. */
interface Batch {
  name: 'warm' | 'measured';
  /** Leg of the first call (the warm-up calls' legs start at WARM_BASE, out of the measured range). */
  base: number;
  size: number;
  calls: Call[];
  t0: number;
  settled: number;
  lastSettledAt: number;
  onSettled: (() => void) | undefined;
}

const sip = dgram.createSocket('udp4');
let sipPort = 0;
/** Every call of every batch (for the retransmission timer). */
const allCalls: Call[] = [];
const WARM_BASE = 100000;
const warm: Batch = { name: 'warm', base: WARM_BASE, size: 0, calls: [], t0: 0, settled: 0, lastSettledAt: 0, onSettled: undefined };
const measured: Batch = { name: 'measured', base: 0, size: N, calls: [], t0: 0, settled: 0, lastSettledAt: 0, onSettled: undefined };
const byCallId = new Map<string, Call>();
let inviteRetransmissions = 0;
let remoteByes = 0;
let receivedOther = 0;
let socketErrors = 0;
let skipped = 0;

const token = () => randomBytes(6).toString('hex');
const send = (msg: Record<string, unknown>) => process.send?.(msg);

function sipSend(buf: Buffer): void {
  sip.send(buf, SVC_PORT, SVC_HOST);
}

function request(method: string, uri: string, call: Call, cseq: number, branch: string, extra: string[], body = ''): Buffer {
  const lines = [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${sipPort};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:${call.leg}@127.0.0.1>;tag=${call.fromTag}`,
    `To: <sip:stream@${SVC_HOST}:${SVC_PORT}>${call.toTag ? `;tag=${call.toTag}` : ''}`,
    `Call-ID: ${call.callId}`,
    `CSeq: ${cseq} ${method}`,
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return Buffer.from(lines.join('\r\n'));
}

function offer(call: Call): string {
  return [
    'v=0',
    `o=bench ${call.ssrc} 1 IN IP4 127.0.0.1`,
    's=bench',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${call.rtpPort} RTP/AVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

// --- SIP parsing (just what a UAC talking to one known server needs) ---

const COMPACT: Record<string, string> = { i: 'call-id', f: 'from', t: 'to', v: 'via', m: 'contact', l: 'content-length', c: 'content-type' };

interface Parsed {
  start: string;
  headers: Map<string, string[]>;
  /** Header lines as received (to copy Via/From/To/Call-ID/CSeq into a response). */
  raw: Array<[string, string]>;
  body: string;
}

function parse(buf: Buffer): Parsed | undefined {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = text.slice(0, end).split('\r\n');
  const headers = new Map<string, string[]>();
  const raw: Array<[string, string]> = [];
  for (let i = 1; i < lines.length; i++) {
    const c = lines[i]!.indexOf(':');
    if (c <= 0) continue;
    const name = lines[i]!.slice(0, c).trim();
    const key = COMPACT[name.toLowerCase()] ?? name.toLowerCase();
    const value = lines[i]!.slice(c + 1).trim();
    raw.push([name, value]);
    const list = headers.get(key);
    if (list) list.push(value);
    else headers.set(key, [value]);
  }
  return { start: lines[0]!, headers, raw, body: text.slice(end + 4) };
}

const first = (p: Parsed, key: string) => p.headers.get(key)?.[0];

function onSip(buf: Buffer): void {
  const msg = parse(buf);
  if (!msg) return;
  const callId = first(msg, 'call-id') ?? '';
  const call = byCallId.get(callId);
  const [cseqNum, cseqMethod] = (first(msg, 'cseq') ?? '').split(/\s+/);
  if (msg.start.startsWith('SIP/2.0 ')) {
    if (!call) return;
    const status = Number(msg.start.slice(8, 11));
    if (cseqMethod === 'INVITE') onInviteResponse(call, status, msg, Number(cseqNum));
    else if (cseqMethod === 'BYE' && status >= 200 && call.state === 'byeing') {
      call.state = 'ended';
      if (status >= 300) call.failure = `BYE ${status}`;
      byeSettled(call, status < 300);
    }
    return;
  }
  // A request from the service: answer 200 (BYE ends the call).
  const method = msg.start.split(' ')[0];
  const copy = msg.raw.filter(([n]) => /^(via|v|from|f|to|t|call-id|i|cseq)$/i.test(n)).map(([n, v]) => `${n}: ${v}`);
  sipSend(Buffer.from([`SIP/2.0 200 OK`, ...copy, 'Content-Length: 0', '', ''].join('\r\n')));
  if (method === 'BYE' && call && call.state !== 'ended') {
    if (call.state === 'up') removeFromMedia(call);
    remoteByes++;
    const wasByeing = call.state === 'byeing';
    call.state = 'ended';
    call.failure = 'remote BYE';
    if (wasByeing) byeSettled(call, true);
  }
}

function onInviteResponse(call: Call, status: number, msg: Parsed, cseq: number): void {
  if (status < 200) {
    if (call.state === 'inviting') call.state = 'proceeding';
    return;
  }
  const toTag = /;\s*tag=([^;>\s]+)/i.exec(first(msg, 'to') ?? '')?.[1] ?? '';
  if (status >= 300) {
    // Non-2xx: ACK in the INVITE's transaction (same branch).
    const ack = request('ACK', `sip:stream@${SVC_HOST}:${SVC_PORT}`, { ...call, toTag }, cseq, call.inviteBranch, []);
    sipSend(ack);
    if (call.state === 'inviting' || call.state === 'proceeding') fail(call, `INVITE ${status}`);
    return;
  }
  if (call.ack) {
    sipSend(call.ack); // a retransmitted 200: our ACK was late or lost
    return;
  }
  if (call.state === 'inviting' || call.state === 'proceeding') {
    call.toTag = toTag;
    call.remoteTarget = /<([^>]+)>/.exec(first(msg, 'contact') ?? '')?.[1] ?? `sip:stream@${SVC_HOST}:${SVC_PORT}`;
    call.ack = request('ACK', call.remoteTarget, call, cseq, `z9hG4bK${token()}`, []);
    sipSend(call.ack);
    const address = /^c=IN IP4 (\S+)/m.exec(msg.body)?.[1];
    const port = Number(/^m=audio (\d+)/m.exec(msg.body)?.[1]);
    if (!address || !port) {
      fail(call, 'no SDP answer');
      return;
    }
    call.setupMs = performance.now() - call.firstTxAt;
    call.rtp!.connect(port, address, () => {
      if (call.state !== 'proceeding' && call.state !== 'inviting') return;
      call.state = 'up';
      call.wasUp = true;
      addToMedia(call);
      settled(call.batch);
    });
    call.state = 'proceeding';
    return;
  }
  // A 200 for a call we gave up on: ACK and BYE.
  if (call.state === 'failed') {
    call.toTag = toTag;
    sipSend(request('ACK', `sip:stream@${SVC_HOST}:${SVC_PORT}`, call, cseq, `z9hG4bK${token()}`, []));
    sipSend(request('BYE', `sip:stream@${SVC_HOST}:${SVC_PORT}`, call, cseq + 1, `z9hG4bK${token()}`, []));
  }
}

function fail(call: Call, why: string): void {
  call.state = 'failed';
  call.failure = why;
  call.rtp?.close();
  call.rtp = undefined;
  settled(call.batch);
}

// --- placing calls ---

function settled(batch: Batch): void {
  batch.settled++;
  batch.lastSettledAt = performance.now();
  if (batch.settled === batch.size) batch.onSettled?.();
}

function setupResult(batch: Batch): GeneratorSetup {
  const ok = batch.calls.filter((c) => c.state === 'up');
  const setup = ok.map((c) => c.setupMs).sort((a, b) => a - b);
  const pct = (p: number) => (setup.length ? setup[Math.min(setup.length - 1, Math.ceil((p / 100) * setup.length) - 1)]! : 0);
  const failures: Record<string, number> = {};
  for (const c of batch.calls) if (c.state === 'failed') failures[c.failure] = (failures[c.failure] ?? 0) + 1;
  return {
    n: batch.size, answered: ok.length, failed: batch.size - ok.length, failures,
    setupMs: Math.round(batch.lastSettledAt - batch.t0),
    setupP50Ms: pct(50), setupP99Ms: pct(99), setupMaxMs: setup.at(-1) ?? 0,
    inviteRetransmissions,
  };
}

async function startCall(batch: Batch, index: number): Promise<void> {
  const leg = batch.base + index;
  const call: Call = {
    leg, callId: `bench-${leg}-${token()}@127.0.0.1`, fromTag: token(), state: 'inviting', failure: '',
    rtp: undefined, rtpPort: 0, invite: undefined, inviteBranch: `z9hG4bK${token()}`, firstTxAt: 0, lastTxAt: 0, txInterval: T1,
    toTag: '', remoteTarget: '', ack: undefined, bye: undefined, setupMs: 0,
    seq: randomInt(0, 65536), ts: randomInt(0, 2 ** 32 - 1), ssrc: randomInt(1, 2 ** 32 - 1), pos: (leg * 37) % AUDIO_FRAMES,
    marker: true, sent: 0, received: 0, wasUp: false, batch,
    frame: 0, markerPhase: (leg * 7) % MARKER_PERIOD, echo: 0, silent: 0, markSent: [], markBack: [], lastMarkBackAt: -Infinity,
  };
  batch.calls[index] = call;
  allCalls.push(call);
  byCallId.set(call.callId, call);
  const rtp = dgram.createSocket('udp4');
  rtp.on('message', (m: Buffer) => {
    if (m.length === PACKET_BYTES && (m[1]! & 0x7f) === PT_PCMU) {
      call.received++;
      if (DUPLEX) onEcho(call, m);
    } else {
      receivedOther++;
    }
  });
  rtp.on('error', () => { socketErrors++; });
  await new Promise<void>((resolve) => rtp.bind(0, '127.0.0.1', resolve));
  call.rtp = rtp;
  call.rtpPort = rtp.address().port;
  call.invite = request('INVITE', `sip:stream@${SVC_HOST}:${SVC_PORT}`, call, 1, call.inviteBranch, [
    `Contact: <sip:${leg}@127.0.0.1:${sipPort}>`,
    'Content-Type: application/sdp',
    'User-Agent: audio-stream-bench',
    ...EXTRA_HEADERS,
  ], offer(call));
  call.firstTxAt = call.lastTxAt = performance.now();
  sipSend(call.invite);
}

/** Places the batch's calls at RATE per second; resolves when every one is up or failed. */
function place(batch: Batch): Promise<GeneratorSetup> {
  batch.t0 = performance.now();
  const done = new Promise<GeneratorSetup>((resolve) => {
    batch.onSettled = () => resolve(setupResult(batch));
  });
  let started = 0;
  const timer = setInterval(() => {
    const due = Math.min(batch.size, Math.ceil((RATE * (performance.now() - batch.t0)) / 1000));
    for (; started < due; started++) void startCall(batch, started);
    if (started >= batch.size) clearInterval(timer);
  }, 10);
  return done;
}

// Retransmissions and timeouts (RFC 3261 timers A/E, simplified) for every call, from one interval.
setInterval(() => {
  const now = performance.now();
  for (const call of allCalls) {
    if (call.state === 'inviting' && call.invite && now - call.lastTxAt >= call.txInterval) {
      sipSend(call.invite);
      inviteRetransmissions++;
      call.lastTxAt = now;
      call.txInterval = Math.min(call.txInterval * 2, T2);
    }
    if ((call.state === 'inviting' || call.state === 'proceeding') && !call.ack && call.firstTxAt > 0 && now - call.firstTxAt > SETUP_TIMEOUT_MS) {
      fail(call, call.state === 'inviting' ? 'no response' : 'no 200');
    }
    if (call.state === 'byeing' && call.bye) {
      if (now - call.firstTxAt > 8000) {
        call.state = 'ended';
        call.failure = 'BYE timeout';
        byeSettled(call, false);
      } else if (now - call.lastTxAt >= call.txInterval) {
        sipSend(call.bye);
        call.lastTxAt = now;
        call.txInterval = Math.min(call.txInterval * 2, T2);
      }
    }
  }
}, 50).unref();

// --- media: one timer, 20 phases ---

interface Phase {
  calls: Call[];
  nextDue: number;
}

const phases: Phase[] = Array.from({ length: PHASES }, () => ({ calls: [], nextDue: -1 }));
let mediaTimer: NodeJS.Timeout | undefined;
let mediaStopped = false;
const late = new LatencyHistogram();
let runLateMax = 0;
let totalSent = 0;
let totalReceivedAtWindowStart = 0;

function addToMedia(call: Call): void {
  if (mediaStopped) return;
  const phase = phases[call.leg % PHASES]!;
  if (phase.nextDue < 0) {
    const now = performance.now();
    const slot = (call.leg % PHASES) * (FRAME_MS / PHASES);
    let due = Math.floor(now / FRAME_MS) * FRAME_MS + slot;
    while (due <= now) due += FRAME_MS;
    phase.nextDue = due;
  }
  phase.calls.push(call);
  scheduleMedia();
}

function removeFromMedia(call: Call): void {
  const phase = phases[call.leg % PHASES]!;
  const i = phase.calls.indexOf(call);
  if (i >= 0) phase.calls.splice(i, 1);
  if (phase.calls.length === 0) phase.nextDue = -1; // the next call to join starts it afresh
}

function scheduleMedia(): void {
  if (mediaStopped) return;
  let next = Infinity;
  for (const p of phases) if (p.calls.length > 0 && p.nextDue < next) next = p.nextDue;
  if (next === Infinity) return;
  clearTimeout(mediaTimer);
  mediaTimer = setTimeout(mediaTick, Math.max(0, next - performance.now()));
}

function sendPacket(c: Call): void {
  const buf = Buffer.allocUnsafe(PACKET_BYTES);
  buf[0] = 0x80;
  buf[1] = (c.marker ? 0x80 : 0) | PT_PCMU;
  buf.writeUInt16BE(c.seq, 2);
  buf.writeUInt32BE(c.ts, 4);
  buf.writeUInt32BE(c.ssrc, 8);
  const m = DUPLEX ? (c.frame - c.markerPhase + MARKER_PERIOD) % MARKER_PERIOD : MARKER_PERIOD;
  if (m < MARKER_FRAMES) {
    markerUlaw.copy(buf, 12, m * FRAME_SAMPLES, (m + 1) * FRAME_SAMPLES);
    if (m === 0) c.markSent.push(performance.now() + HR_OFFSET_MS);
  } else {
    const off = c.pos * FRAME_SAMPLES;
    ulaw.copy(buf, 12, off, off + FRAME_SAMPLES);
  }
  c.rtp!.send(buf);
  advance(c, 1);
  c.marker = false;
  c.sent++;
  totalSent++;
}

function advance(c: Call, frames: number): void {
  c.frame += frames;
  c.seq = (c.seq + frames) & 0xffff;
  c.ts = (c.ts + frames * FRAME_SAMPLES) >>> 0;
  c.pos = (c.pos + frames) % AUDIO_FRAMES;
}

function mediaTick(): void {
  mediaTimer = undefined;
  if (mediaStopped) return;
  const now = performance.now();
  for (const p of phases) {
    if (p.calls.length === 0) continue;
    let k = 0;
    while (p.nextDue <= now) {
      if (k++ >= MAX_CATCH_UP) {
        const behind = Math.ceil((now - p.nextDue) / FRAME_MS);
        for (const c of p.calls) advance(c, behind);
        skipped += behind * p.calls.length;
        p.nextDue += behind * FRAME_MS;
        break;
      }
      late.record(now - p.nextDue);
      if (now - p.nextDue > runLateMax) runLateMax = now - p.nextDue;
      for (let i = 0; i < p.calls.length; i++) sendPacket(p.calls[i]!);
      p.nextDue += FRAME_MS;
    }
  }
  scheduleMedia();
}

// --- duplex: what comes back ---

let windowOn = false;
let windowEcho = 0;
let windowSilent = 0;
let windowPartial = 0;
/** A packet with audio whose last this many samples are μ-law zero was padded: the playback ran dry inside it (the echo's noise floor never does that). */
const PARTIAL_TAIL = 16;

/** A PCMU packet from the service (--duplex): audio or silence, and a marker's onset in it. */
function onEcho(call: Call, m: Buffer): void {
  let i = 12;
  while (i < PACKET_BYTES && (m[i] === ULAW_ZERO_POS || m[i] === ULAW_ZERO_NEG)) i++;
  if (i === PACKET_BYTES) {
    call.silent++;
    if (windowOn && call.batch === measured) windowSilent++;
    return;
  }
  call.echo++;
  if (windowOn && call.batch === measured) {
    windowEcho++;
    let t = PACKET_BYTES - PARTIAL_TAIL;
    while (t < PACKET_BYTES && (m[t] === ULAW_ZERO_POS || m[t] === ULAW_ZERO_NEG)) t++;
    if (t === PACKET_BYTES) windowPartial++;
  }
  for (; i < PACKET_BYTES; i++) {
    if (LOUD_CODE[m[i]!] === 0) continue;
    const now = performance.now();
    if (now - call.lastMarkBackAt > MARKER_REARM_MS) call.markBack.push(now + HR_OFFSET_MS);
    call.lastMarkBackAt = now;
    return;
  }
}

// --- hangup ---

let byeOk = 0;
let byeFailed = 0;
const byeWaiters = new Set<() => void>();

function byeSettled(_call: Call, ok: boolean): void {
  if (ok) byeOk++;
  else byeFailed++;
  for (const check of byeWaiters) check();
}

/** BYE every call of the batch that is up, `rate` per second; waits for the answers (15 s at most). */
async function hangup(batch: Batch, rate: number): Promise<{ byeOk: number; byeFailed: number; ms: number }> {
  const t0 = performance.now();
  const ok0 = byeOk;
  const failed0 = byeFailed;
  const up = batch.calls.filter((c) => c && c.state === 'up');
  let i = 0;
  const done = new Promise<void>((resolve) => {
    const check = () => {
      if (i >= up.length && up.every((c) => c.state !== 'byeing' && c.state !== 'up')) {
        byeWaiters.delete(check);
        resolve();
      }
    };
    byeWaiters.add(check);
  });
  const timer = setInterval(() => {
    const due = Math.min(up.length, Math.ceil((rate * (performance.now() - t0)) / 1000));
    for (; i < due; i++) {
      const call = up[i]!;
      if (call.state !== 'up') continue; // the service hung up first
      removeFromMedia(call);
      call.bye = request('BYE', call.remoteTarget, call, 2, `z9hG4bK${token()}`, []);
      call.state = 'byeing';
      call.firstTxAt = call.lastTxAt = performance.now();
      call.txInterval = T1;
      sipSend(call.bye);
    }
    if (i >= up.length) {
      clearInterval(timer);
      for (const check of byeWaiters) check();
    }
  }, 10);
  await Promise.race([done, new Promise((r) => setTimeout(r, 15000))]);
  clearInterval(timer);
  await new Promise((r) => setTimeout(r, 300)); // RTP still in flight from the service
  for (const c of batch.calls) {
    c?.rtp?.close();
    if (c) c.rtp = undefined;
  }
  return { byeOk: byeOk - ok0, byeFailed: byeFailed - failed0, ms: Math.round(performance.now() - t0) };
}

// --- window ---

let windowT0 = 0;
let windowCpu0 = process.cpuUsage();
let windowSent0 = 0;

function receivedTotal(): number {
  let n = 0;
  for (const c of measured.calls) if (c) n += c.received;
  return n;
}

process.on('message', (msg: { type?: string; on?: boolean; rate?: number; count?: number }) => {
  switch (msg?.type) {
    case 'warm':
      // A few calls set up, held for a second and hung up, so that the measured calls meet a warm
      // service (its code compiled, its lazy modules loaded).
      warm.size = msg.count ?? 20;
      void place(warm).then(async (setup) => {
        await new Promise((r) => setTimeout(r, 1000));
        const bye = await hangup(warm, 1000);
        send({ type: 'warmed', answered: setup.answered, byeOk: bye.byeOk });
      });
      break;
    case 'place':
      void place(measured).then((setup) => send({ type: 'up', ...setup }));
      break;
    case 'window':
      windowOn = msg.on === true;
      if (msg.on) {
        windowEcho = 0;
        windowSilent = 0;
        windowPartial = 0;
        late.reset();
        windowT0 = performance.now();
        windowCpu0 = process.cpuUsage();
        windowSent0 = totalSent;
        totalReceivedAtWindowStart = receivedTotal();
      } else {
        const seconds = (performance.now() - windowT0) / 1000;
        const cpu = process.cpuUsage(windowCpu0);
        const result: GeneratorWindow = {
          windowSeconds: seconds,
          cpuShare: (cpu.user + cpu.system) / 1e6 / seconds,
          lateP50Ms: late.percentile(50), lateP99Ms: late.percentile(99), lateMaxMs: late.maxMs,
          sent: totalSent - windowSent0, received: receivedTotal() - totalReceivedAtWindowStart,
          skipped,
          runLateMaxMs: runLateMax,
          ...(DUPLEX ? { echoPackets: windowEcho, silentPackets: windowSilent, partialPackets: windowPartial } : {}),
        };
        send({ type: 'gen-window', ...result });
      }
      break;
    case 'stop-rtp':
      mediaStopped = true;
      clearTimeout(mediaTimer);
      send({ type: 'rtp-stopped', sent: measured.calls.map((c) => (c?.wasUp ? c.sent : -1)) });
      break;
    case 'hangup':
      void hangup(measured, msg.rate ?? 1000).then((bye) => {
        const result: GeneratorHangup = {
          byeOk: bye.byeOk, byeFailed: bye.byeFailed, remoteByes,
          sent: measured.calls.map((c) => (c?.wasUp ? c.sent : -1)),
          received: measured.calls.map((c) => (c?.wasUp ? c.received : -1)),
          receivedOther, socketErrors, skipped, hangupMs: bye.ms,
        };
        if (DUPLEX) {
          const up = (f: (c: Call) => number) => measured.calls.map((c) => (c?.wasUp ? f(c) : -1));
          result.echo = {
            echoReceived: up((c) => c.echo),
            silentReceived: up((c) => c.silent),
            markSentHrMs: measured.calls.map((c) => c?.markSent ?? []),
            markBackHrMs: measured.calls.map((c) => c?.markBack ?? []),
          };
        }
        send({ type: 'hung-up', ...result });
      });
      break;
    case 'exit':
      sip.close();
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));

sip.on('message', (buf: Buffer) => {
  try {
    onSip(buf);
  } catch (err) {
    process.stderr.write(`generator: ${(err as Error).message}\n`);
  }
});
sip.on('error', (err) => process.stderr.write(`generator SIP socket: ${err.message}\n`));
sip.bind(0, '127.0.0.1', () => {
  sipPort = sip.address().port;
  send({ type: 'ready', sipPort });
});
