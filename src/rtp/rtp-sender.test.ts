import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NegotiatedMedia } from '../sdp/negotiated-media.ts';
import { RtpParser } from './packet.ts';
import { RtpSender } from './rtp-sender.ts';

function media(name: 'PCMU' | 'G722' | 'L16', ptimeMs = 20, sampleRateHz = name === 'PCMU' ? 8000 : 16000): NegotiatedMedia {
  const clockRateHz = name === 'L16' ? sampleRateHz : 8000;
  return { codec: { name, payloadType: name === 'PCMU' ? 0 : name === 'G722' ? 9 : 97, clockRateHz, sampleRateHz, channels: 1 },
    ptimeMs, direction: 'sendrecv', remote: { address: '127.0.0.1', port: 4000, family: 4 } };
}

function writer(s: RtpSender): (samples: Int16Array) => { marker: boolean; seq: number; ts: number; ssrc: number; pt: number; bytes: number } {
  const out = new Uint8Array(2000);
  const payload = out.subarray(12);
  const p = new RtpParser();
  return (samples) => {
    const n = s.writePacket(samples, out, payload);
    const pl = p.parse(out.subarray(0, n));
    assert.ok(pl);
    const h = p.header;
    return { marker: h.marker, seq: h.sequenceNumber, ts: h.timestamp, ssrc: h.ssrc, pt: h.payloadType, bytes: pl.length };
  };
}

test('sequence, timestamp (G722: 160 ticks per 320 samples), marker, with 16/32-bit wrap', () => {
  const s = new RtpSender(media('G722'), { ssrc: 0xabcdef01, initialSequenceNumber: 65535, initialTimestamp: 0xffffff60 });
  const w = writer(s);
  const frame = new Int16Array(320);
  const a = w(frame);
  const b = w(frame);
  assert.deepEqual(a, { marker: true, seq: 65535, ts: 0xffffff60, ssrc: 0xabcdef01, pt: 9, bytes: 160 });
  assert.deepEqual(b, { marker: false, seq: 0, ts: 0, ssrc: 0xabcdef01, pt: 9, bytes: 160 });
  s.skipFrame(); // silence: time goes on, the next packet starts a talkspurt
  const c = w(frame);
  assert.deepEqual([c.marker, c.seq, c.ts], [true, 1, 320]);
  assert.equal(s.sent, 3);
});

test('L16/16000 at 30 ms and PCMU at 10 ms: sizes and timestamp steps; random initial values', () => {
  const l16 = writer(new RtpSender(media('L16', 30), { initialTimestamp: 0 }));
  const first = l16(new Int16Array(480));
  assert.equal(first.bytes, 960);
  assert.equal(l16(new Int16Array(480)).ts, 480);
  const s = new RtpSender(media('PCMU', 10), { initialTimestamp: 0 });
  const pcmu = writer(s);
  assert.equal(pcmu(new Int16Array(80)).bytes, 80);
  assert.equal(pcmu(new Int16Array(500)).bytes, 80, 'at most one frame per packet');
  assert.equal(pcmu(new Int16Array(40)).ts, 160, 'the timestamp follows the samples actually sent');
  assert.equal(pcmu(new Int16Array(40)).ts, 200);
  const ssrcs = new Set(Array.from({ length: 5 }, () => new RtpSender(media('PCMU')).ssrc));
  assert.ok(ssrcs.size > 1);
});

test('configure() switches codec and marks the next packet; a too small buffer writes nothing', () => {
  const s = new RtpSender(media('PCMU'), { initialTimestamp: 0 });
  const w = writer(s);
  w(new Int16Array(160));
  s.configure(media('G722'));
  const p = w(new Int16Array(320));
  assert.deepEqual([p.pt, p.marker, p.bytes, p.ts], [9, true, 160, 160]);
  const small = new Uint8Array(100);
  assert.equal(s.writePacket(new Int16Array(320), small, small.subarray(12)), 0);
  const big = new Uint8Array(400);
  assert.equal(s.writePacket(new Int16Array(320), big, big.subarray(10)), 0, 'payload view must start after the header');
});
