import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NegotiatedMedia } from '../sdp/negotiated-media.ts';
import { buildDtmfPackets } from './dtmf.ts';
import { RtpReceiver } from './rtp-receiver.ts';
import { RtpSender } from './rtp-sender.ts';
import { dominantFrequency, rmsDbfs, sine, snrDb } from '../../test/helpers/audio.ts';

const PCMU: NegotiatedMedia = {
  codec: { name: 'PCMU', payloadType: 0, clockRateHz: 8000, sampleRateHz: 8000, channels: 1 },
  telephoneEvent: { payloadType: 101, clockRateHz: 8000 },
  ptimeMs: 20, direction: 'sendrecv', remote: { address: '127.0.0.1', port: 4000, family: 4 },
};

/** Sends `frames` frames of `src` from `s` into `r` from 127.0.0.1:`port`, pulling one frame per tick. */
function run(s: RtpSender, r: RtpReceiver, src: Int16Array, spf: number, port = 4000): Int16Array {
  const out = new Int16Array(src.length);
  const pkt = new Uint8Array(1500);
  const payload = pkt.subarray(12);
  for (let off = 0; off + spf <= src.length; off += spf) {
    const n = s.writePacket(src.subarray(off, off + spf), pkt, payload);
    r.receive(pkt.subarray(0, n), '127.0.0.1', port, off);
    const f = r.pullFrame();
    if (f) out.set(f, off);
  }
  return out;
}

test('null before any audio, then warm-up silence, then the decoded stream', () => {
  const r = new RtpReceiver(PCMU);
  assert.equal(r.pullFrame(), null);
  const src = sine(1000, 8000, 0.5);
  const out = run(new RtpSender(PCMU), r, src, 160);
  assert.ok(out.subarray(0, 3 * 160).every((x) => x === 0), 'three frames of playout delay');
  assert.ok(Math.abs(dominantFrequency(out.subarray(480), 8000) - 1000) < 2);
  assert.equal(r.counters.received, 25);
  assert.equal(r.lastReceivedAt, 3840);
});

test('SSRC change (a run of 4) resets the playout buffer; unknown payload types and DTMF are routed apart; other sources are dropped', () => {
  const digits: string[] = [];
  const r = new RtpReceiver(PCMU, { onDtmf: (d) => digits.push(d) });
  const src = sine(1000, 8000, 0.2);
  run(new RtpSender(PCMU, { ssrc: 1 }), r, src, 160);
  run(new RtpSender(PCMU, { ssrc: 2 }), r, src, 160);
  assert.equal(r.counters.ssrcChanges, 1);
  assert.equal(r.counters.stray, 3, 'the new SSRC\'s first three packets, before its run');
  assert.equal(r.jitterStats().late, 0);
  for (const p of buildDtmfPackets({ digit: '#', payloadType: 101, ssrc: 2, sequenceNumber: 1, timestamp: 5 })) r.receive(p, '127.0.0.1', 4000, 0);
  assert.deepEqual(digits, ['#']);
  const cn = Uint8Array.of(0x80, 13, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 40);
  r.receive(cn, '127.0.0.1', 4000, 0);
  assert.equal(r.counters.unknownPayloadType, 1);
  r.receive(Uint8Array.of(1, 2, 3), '127.0.0.1', 4000, 0);
  assert.equal(r.parser.malformed, 1);
  run(new RtpSender(PCMU, { ssrc: 3 }), r, src, 160, 4002);
  assert.equal(r.latch.foreign, 10, 'another port with a new SSRC: never the peer (the SDP\'s port latched)');
  assert.equal(r.latch.port, 4000);
});

/** `src` from `s` as the peer sends it, with a packet of `stray()` after each (a packet, or null for none), from 127.0.0.1:4000. */
function runWithStrays(s: RtpSender, r: RtpReceiver, src: Int16Array, stray: (i: number) => Uint8Array | null): Int16Array {
  const out = new Int16Array(src.length);
  const pkt = new Uint8Array(1500);
  for (let off = 0, i = 0; off + 160 <= src.length; off += 160, i++) {
    const n = s.writePacket(src.subarray(off, off + 160), pkt, pkt.subarray(12));
    r.receive(pkt.subarray(0, n), '127.0.0.1', 4000, off);
    const extra = stray(i);
    if (extra) r.receive(extra, '127.0.0.1', 4000, off);
    const f = r.pullFrame();
    if (f) out.set(f, off);
  }
  return out;
}

test('a random-SSRC stray after every packet of the learned source neither silences nor disturbs the stream', () => {
  const r = new RtpReceiver(PCMU);
  let seed = 11;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const noise = new Int16Array(160);
  const strayPkt = new Uint8Array(12 + 160);
  const out = runWithStrays(new RtpSender(PCMU, { ssrc: 1 }), r, sine(1000, 8000, 1), () => {
    for (let k = 0; k < 160; k++) noise[k] = (rnd() >>> 16) - 32768;
    return strayPkt.subarray(0, new RtpSender(PCMU, { ssrc: rnd(), initialSequenceNumber: rnd() & 0xffff, initialTimestamp: rnd() })
      .writePacket(noise, strayPkt, strayPkt.subarray(12)));
  });
  const body = out.subarray(480);
  for (let f = 0; f + 160 <= body.length; f += 160) assert.ok(rmsDbfs(body.subarray(f, f + 160)) > -10, `frame ${f / 160} at the tone's level`);
  assert.ok(Math.abs(dominantFrequency(body, 8000) - 1000) < 2);
  assert.ok(snrDb(body, 1000, 8000) > 30, 'nothing of the strays\' noise');
  assert.deepEqual([r.counters.ssrcChanges, r.counters.stray, r.counters.received, r.jitterStats().concealed], [0, 50, 50, 0]);
});

test('a second stream interleaved with the established one never takes over; once the established one stops, a run of 4 does', () => {
  const r = new RtpReceiver(PCMU);
  const other = new RtpSender(PCMU, { ssrc: 2, initialSequenceNumber: 9000 });
  const otherPkt = new Uint8Array(12 + 160);
  const out = runWithStrays(new RtpSender(PCMU, { ssrc: 1 }), r, sine(1000, 8000, 1), () =>
    otherPkt.subarray(0, other.writePacket(sine(600, 8000, 0.02), otherPkt, otherPkt.subarray(12))));
  assert.ok(Math.abs(dominantFrequency(out.subarray(480), 8000) - 1000) < 2);
  assert.deepEqual([r.counters.ssrcChanges, r.counters.stray], [0, 50]);
  const after = run(other, r, sine(600, 8000, 0.5), 160);
  assert.equal(r.counters.ssrcChanges, 1, 'the established SSRC stopped: the other one followed');
  assert.equal(r.counters.stray, 52, 'its last interleaved packet started the run');
  assert.ok(Math.abs(dominantFrequency(after.subarray(160 * 8), 8000) - 600) < 2);
});

test('a source learned again (a change of the remote media) is a new stream: its SSRC is taken at once', () => {
  const r = new RtpReceiver(PCMU);
  run(new RtpSender(PCMU, { ssrc: 1 }), r, sine(1000, 8000, 0.2), 160);
  r.configure({ ...PCMU, remote: { address: '127.0.0.1', port: 4100, family: 4 } });
  assert.equal(r.latch.latched, false);
  const out = run(new RtpSender(PCMU, { ssrc: 5 }), r, sine(600, 8000, 0.4), 160, 4100);
  assert.deepEqual([r.counters.ssrcChanges, r.counters.stray, r.latch.learned], [1, 0, 2]);
  assert.ok(Math.abs(dominantFrequency(out.subarray(480), 8000) - 600) < 2);
});

test('codec change through configure(): a new decoder and buffer, counters carried over', () => {
  const r = new RtpReceiver(PCMU);
  run(new RtpSender(PCMU), r, sine(1000, 8000, 0.2), 160);
  const played = r.jitterStats().played;
  const g722: NegotiatedMedia = { ...PCMU, codec: { name: 'G722', payloadType: 9, clockRateHz: 8000, sampleRateHz: 16000, channels: 1 } };
  r.configure(g722);
  const out = run(new RtpSender(g722), r, sine(1000, 16000, 0.5), 320);
  assert.equal(out.length, 8000);
  assert.ok(Math.abs(dominantFrequency(out.subarray(960), 16000) - 1000) < 2);
  assert.ok(r.jitterStats().played > played);
  assert.equal(r.pullFrame()?.length, 320);
});

test('random and half-valid datagrams never throw; every one is counted somewhere', () => {
  const r = new RtpReceiver(PCMU, { onDtmf: () => {} });
  let seed = 2024;
  const rnd = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) % n; // high bits: an LCG's low bits repeat
  const total = 20000;
  for (let i = 0; i < total; i++) {
    const len = rnd(400);
    const p = new Uint8Array(len);
    for (let j = 0; j < len; j++) p[j] = rnd(256);
    if (len > 1 && i % 2 === 0) {
      p[0] = 0x80 | (p[0] & 0x3f); // version 2, random P/X/CC
      p[1] = [0, 101, 13, 0x80][rnd(4)]; // PCMU, telephone-event, CN, PCMU + marker
      if (len >= 12) p.set([0, 0, 0, 1 + rnd(2)], 8); // the peer's SSRC, or another (strays)
    }
    r.receive(p, '127.0.0.1', 4000 + rnd(2) * 2, i);
    if (i % 3 === 0) r.pullFrame();
  }
  const j = r.jitterStats();
  const accounted = r.parser.malformed + r.parser.rtcp + r.counters.unknownPayloadType + r.latch.foreign + r.latch.learning + r.counters.stray + r.counters.received;
  assert.equal(accounted, total);
  assert.ok(r.counters.received > 500 && r.counters.stray > 0 && r.latch.foreign > 0 && j.oversize > 0 && r.dtmf.malformed + r.dtmf.unknown > 0, JSON.stringify({ ...j, ...r.counters }));
});
