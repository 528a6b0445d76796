// The soak benchmark's callers (bench/load/soak.ts forks this with an IPC channel): a small SIP UAC
// over UDP that keeps --n PCMU calls up against the measured `audio-stream serve` for --seconds,
// each lasting a random --min-call to --max-call seconds and replaced by a new one when it ends
// (churn), and sends their audio from ONE 20 ms timer for all calls.
//
// Every RTP packet carries its frame number: the first FRAME_TAG_BYTES μ-law codes of the payload
// hold it, 6 bits each, in codes 0x80-0xbf (all decode to distinct non-zero samples, so the μ-law
// code comes back exactly from the 8 kHz L16 the service streams). The rest of the payload is a
// tone. The bot (soak.ts) reads the number back from each 20 ms message: a gap, a repeat or a
// frame without a number (a concealed one) is a lost frame.
//
// IPC, parent -> this process: { type: 'start' } then { type: 'stop' } (hang every call up, wait for
// the 200s); this process -> parent: { type: 'stats', ...CallerStats } every 5 s and once at the end
// ({ type: 'done', ...CallerStats }).
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { linearToUlaw } from '../../src/codec/g711.ts';

/** μ-law codes at the start of each payload that carry the frame number (6 bits each: 24 bits). */
export const FRAME_TAG_BYTES = 4;

/** The frame number held in the first FRAME_TAG_BYTES μ-law codes, or -1 when they do not hold one. */
export function readFrameTag(codes: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < FRAME_TAG_BYTES; i++) {
    const c = codes[i]!;
    if ((c & 0xc0) !== 0x80) return -1;
    n = (n << 6) | (c & 0x3f);
  }
  return n;
}

/** What the callers did so far. */
export interface CallerStats {
  placed: number;
  answered: number;
  /** Calls the callers hung up (BYE answered 200). */
  completed: number;
  /** Calls the service ended (a BYE from it): none is expected. */
  endedByService: number;
  failed: number;
  failures: Record<string, number>;
  active: number;
  maxActive: number;
  packetsSent: number;
  packetsReceived: number;
  /** RTP sequence numbers missing in what the service sent back, over all calls. */
  receivedGaps: number;
  /** Media ticks that woke more than 5 frames late (the callers skipped ahead): the row is then limited by this process. */
  skippedTicks: number;
  /** Packets sent 60 ms or more after they were due (the service's playout delay): late through this process's fault. */
  lateSends: number;
  /** The latest a packet was sent after it was due, ms. */
  maxLateMs: number;
}

const FRAME_SAMPLES = 160;
const T1 = 500;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

interface Call {
  callId: string;
  leg: number;
  tag: string;
  toTag: string;
  branch: string;
  cseq: number;
  rtp: dgram.Socket;
  rtpPort: number;
  remote: { host: string; port: number } | undefined;
  state: 'inviting' | 'up' | 'ending' | 'done';
  retransmits: number;
  retryAt: number;
  request: Buffer | undefined;
  endAt: number;
  seq: number;
  ts: number;
  ssrc: number;
  frame: number;
  lastRxSeq: number;
  /**
   * This call's packet, rewritten for each frame: not one buffer for every call, since a send
   * queued in the kernel's absence of room (or still to be handed over) reads the buffer later.
   */
  packet: Buffer;
}

function main(): void {
  const [svcHost, svcPortText] = arg('sip', '127.0.0.1:5060').split(':');
  const svcPort = Number(svcPortText);
  const N = Number(arg('n', '200'));
  const seconds = Number(arg('seconds', '60'));
  const minCall = Number(arg('min-call', '10'));
  const maxCall = Number(arg('max-call', '40'));
  const ratePerSecond = Number(arg('rate', '20'));

  const stats: CallerStats = {
    placed: 0, answered: 0, completed: 0, endedByService: 0, failed: 0, failures: {},
    active: 0, maxActive: 0, packetsSent: 0, packetsReceived: 0, receivedGaps: 0, skippedTicks: 0, lateSends: 0, maxLateMs: 0,
  };
  const sip = dgram.createSocket('udp4');
  const calls = new Map<string, Call>();
  const up = new Set<Call>();
  let localPort = 0;
  let legs = 0;
  let newCallCredit = 0;
  let running = false;
  let stopping = false;
  let endOfRun = 0;
  // The tone after the tag codes of every packet.
  const tone = Buffer.alloc(FRAME_SAMPLES);
  for (let i = 0; i < FRAME_SAMPLES; i++) tone[i] = linearToUlaw(Math.round(6000 * Math.sin((2 * Math.PI * 400 * i) / 8000)));

  const fail = (call: Call, why: string) => {
    stats.failed++;
    stats.failures[why] = (stats.failures[why] ?? 0) + 1;
    finish(call);
  };
  const finish = (call: Call) => {
    if (call.state === 'done') return;
    if (up.delete(call)) stats.active--;
    call.state = 'done';
    calls.delete(call.callId);
    call.rtp.close();
  };

  const request = (call: Call, method: string, cseq: number, branch: string, body = ''): Buffer => {
    const to = `<sip:soak@${svcHost}:${svcPort}>${call.toTag ? `;tag=${call.toTag}` : ''}`;
    const lines = [
      `${method} sip:soak@${svcHost}:${svcPort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:${call.leg}@127.0.0.1:${localPort}>;tag=${call.tag}`,
      `To: ${to}`,
      `Call-ID: ${call.callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: <sip:${call.leg}@127.0.0.1:${localPort}>`,
    ];
    if (body) lines.push('Content-Type: application/sdp');
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
    return Buffer.from(lines.join('\r\n'));
  };

  const startCall = () => {
    const leg = legs++;
    const rtp = dgram.createSocket('udp4');
    const call: Call = {
      callId: `soak-${leg}-${randomBytes(4).toString('hex')}`, leg, tag: randomBytes(4).toString('hex'), toTag: '',
      branch: `z9hG4bK${randomBytes(6).toString('hex')}`, cseq: 1, rtp, rtpPort: 0, remote: undefined, state: 'inviting',
      retransmits: 0, retryAt: 0, request: undefined, endAt: 0, seq: leg & 0xffff, ts: 0, ssrc: randomBytes(4).readUInt32BE(0),
      frame: 0, lastRxSeq: -1, packet: Buffer.alloc(12 + FRAME_SAMPLES),
    };
    calls.set(call.callId, call);
    stats.placed++;
    rtp.on('message', (m) => {
      if (m.length < 12) return;
      stats.packetsReceived++;
      const seq = m.readUInt16BE(2);
      if (call.lastRxSeq >= 0) {
        const gap = (seq - call.lastRxSeq - 1) & 0xffff;
        if (gap > 0 && gap < 1000) stats.receivedGaps += gap;
      }
      call.lastRxSeq = seq;
    });
    rtp.on('error', () => undefined);
    rtp.bind(0, '127.0.0.1', () => {
      call.rtpPort = rtp.address().port;
      const sdp = ['v=0', `o=soak ${leg} 1 IN IP4 127.0.0.1`, 's=soak', 'c=IN IP4 127.0.0.1', 't=0 0',
        `m=audio ${call.rtpPort} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=sendrecv', ''].join('\r\n');
      call.request = request(call, 'INVITE', 1, call.branch, sdp);
      call.retryAt = performance.now() + T1;
      sip.send(call.request, svcPort, svcHost);
    });
  };

  const hangup = (call: Call) => {
    if (call.state !== 'up') return;
    call.state = 'ending';
    if (up.delete(call)) stats.active--;
    call.cseq++;
    call.request = request(call, 'BYE', call.cseq, `z9hG4bK${randomBytes(6).toString('hex')}`);
    call.retransmits = 0;
    call.retryAt = performance.now() + T1;
    sip.send(call.request, svcPort, svcHost);
  };

  sip.on('message', (buf) => {
    const text = buf.toString('latin1');
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    const lines = head.split('\r\n');
    const header = (name: string) => {
      const l = lines.find((x) => x.toLowerCase().startsWith(`${name}:`));
      return l?.slice(name.length + 1).trim();
    };
    const callId = header('call-id') ?? header('i');
    const call = callId ? calls.get(callId) : undefined;
    if (!call) return;
    if (lines[0]!.startsWith('SIP/2.0 ')) {
      const status = Number(lines[0]!.slice(8, 11));
      const cseq = header('cseq') ?? '';
      if (cseq.endsWith('INVITE')) {
        if (status < 200) {
          // Provisional: no more retransmissions; a final answer must come within 32 s (Timer B).
          if (call.state === 'inviting' && call.retransmits < 6) { call.retransmits = 6; call.retryAt = performance.now() + 32000; }
          return;
        }
        const toTag = /;tag=([^;>\s]+)/.exec(header('to') ?? header('t') ?? '')?.[1] ?? '';
        if (status >= 300) {
          // The ACK of a non-2xx reuses the INVITE's branch.
          call.toTag = toTag;
          sip.send(request(call, 'ACK', 1, call.branch), svcPort, svcHost);
          if (call.state === 'inviting') fail(call, String(status));
          return;
        }
        call.toTag = toTag;
        sip.send(request(call, 'ACK', 1, `z9hG4bK${randomBytes(6).toString('hex')}`), svcPort, svcHost);
        if (call.state !== 'inviting') return; // a retransmitted 200
        const body = text.slice(text.indexOf('\r\n\r\n') + 4);
        const host = /c=IN IP4 (\S+)/.exec(body)?.[1];
        const port = Number(/m=audio (\d+)/.exec(body)?.[1]);
        if (!host || !port) return fail(call, 'no SDP answer');
        // Connected: a send needs no address lookup (one turn later), and only the service is heard.
        call.rtp.connect(port, host, () => { if (call.state === 'up') call.remote = { host, port }; });
        call.state = 'up';
        call.retryAt = Number.POSITIVE_INFINITY;
        call.endAt = performance.now() + 1000 * (minCall + Math.random() * (maxCall - minCall));
        stats.answered++;
        up.add(call);
        stats.active++;
        stats.maxActive = Math.max(stats.maxActive, stats.active);
      } else if (cseq.endsWith('BYE') && status >= 200) {
        stats.completed++;
        finish(call);
      }
      return;
    }
    // A request from the service: only BYE is expected (it ended the call).
    if (lines[0]!.startsWith('BYE ')) {
      const reply = [`SIP/2.0 200 OK`, ...lines.filter((l) => /^(via|from|to|call-id|cseq):/i.test(l)), 'Content-Length: 0', '', ''].join('\r\n');
      sip.send(reply, svcPort, svcHost);
      if (call.state === 'up') stats.endedByService++;
      finish(call);
    }
  });

  // One media clock for every call: 20 ms frames, catching up at most 5 late frames per tick.
  const FRAME_MS = 20;
  let nextFrameAt = 0;
  const mediaTick = () => {
    const now = performance.now();
    let owed = Math.floor((now - nextFrameAt) / FRAME_MS) + 1;
    if (owed > 5) {
      stats.skippedTicks++;
      nextFrameAt += (owed - 5) * FRAME_MS;
      owed = 5;
    }
    for (let f = 0; f < owed; f++) {
      const lateMs = now - nextFrameAt;
      if (lateMs > stats.maxLateMs) stats.maxLateMs = lateMs;
      for (const call of up) {
        if (!call.remote) continue;
        if (lateMs >= 60) stats.lateSends++;
        const packet = call.packet;
        packet[0] = 0x80;
        packet[1] = 0;
        packet.writeUInt16BE(call.seq, 2);
        packet.writeUInt32BE(call.ts >>> 0, 4);
        packet.writeUInt32BE(call.ssrc, 8);
        tone.copy(packet, 12);
        const n = call.frame & 0xffffff;
        for (let i = 0; i < FRAME_TAG_BYTES; i++) packet[12 + i] = 0x80 | ((n >> (6 * (FRAME_TAG_BYTES - 1 - i))) & 0x3f);
        call.rtp.send(packet);
        call.seq = (call.seq + 1) & 0xffff;
        call.ts += FRAME_SAMPLES;
        call.frame++;
        stats.packetsSent++;
      }
      nextFrameAt += FRAME_MS;
    }
    // Signalling housekeeping on the same clock: retransmissions, call ends, new calls.
    for (const call of calls.values()) {
      if (call.state === 'up' && now >= call.endAt) hangup(call);
      else if ((call.state === 'inviting' || call.state === 'ending') && now >= call.retryAt && call.request) {
        if (++call.retransmits > 6) {
          if (call.state === 'inviting') fail(call, 'INVITE timeout');
          else { stats.failures['BYE timeout'] = (stats.failures['BYE timeout'] ?? 0) + 1; finish(call); }
          continue;
        }
        call.retryAt = now + T1 * 2 ** call.retransmits;
        sip.send(call.request, svcPort, svcHost);
      }
    }
    if (running && !stopping && now < endOfRun) {
      // Keep N calls: at most `ratePerSecond` new ones per second (spread over the ticks).
      // (fractions carried over: a tick's share of 20/s is 0.4, not rounded up to 1, i.e. 50/s)
      newCallCredit = Math.min(Math.max(1, ratePerSecond), newCallCredit + (ratePerSecond * FRAME_MS * owed) / 1000);
      while (calls.size < N && newCallCredit >= 1) {
        newCallCredit--;
        startCall();
      }
    }
    if (running) setTimeout(mediaTick, Math.max(0, nextFrameAt - performance.now()));
  };

  const report = (type: string) => process.send?.({ type, ...stats });
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'start') {
      running = true;
      endOfRun = performance.now() + seconds * 1000;
      nextFrameAt = performance.now();
      mediaTick();
      const reporter = setInterval(() => report('stats'), 5000);
      reporter.unref();
    } else if (msg.type === 'stop') {
      stopping = true;
      for (const call of calls.values()) {
        if (call.state === 'up') hangup(call);
      }
      const wait = setInterval(() => {
        if (calls.size === 0) {
          clearInterval(wait);
          running = false;
          report('done');
        }
      }, 100);
    } else if (msg.type === 'exit') {
      process.exit(0);
    }
  });
  sip.bind(0, '127.0.0.1', () => {
    localPort = sip.address().port;
    process.send?.({ type: 'ready' });
  });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) main();
