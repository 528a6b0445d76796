import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtpHeader, RtpParser, serializeRtpPacket, writeRtpHeader } from './packet.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

test('parses a plain PCMU packet from bytes', () => {
  const p = new RtpParser();
  const pkt = hex('80 00 1234 000003e8 deadbeef' + 'ff'.repeat(160));
  const payload = p.parse(pkt);
  assert.ok(payload);
  const h = p.header;
  assert.deepEqual([h.marker, h.payloadType, h.sequenceNumber, h.timestamp, h.ssrc, h.csrcCount, h.extensionProfile, h.paddingBytes],
    [false, 0, 0x1234, 1000, 0xdeadbeef, 0, -1, 0]);
  assert.equal(payload.length, 160);
  assert.equal(payload.byteOffset, pkt.byteOffset + 12);
  assert.equal(payload.buffer, pkt.buffer, 'a view, not a copy');
});

test('parses marker, CSRCs, a header extension and padding together', () => {
  const p = new RtpParser();
  // V=2 P=1 X=1 CC=2 | M=1 PT=96 | seq ffff | ts ffffffff | ssrc 1 | csrc 2, 3 | ext profile bede, 1 word | payload 01 02 03 | 3 padding bytes
  const pkt = hex('b2 e0 ffff ffffffff 00000001 00000002 00000003 bede0001 aabbccdd 010203 000003');
  const payload = p.parse(pkt);
  assert.ok(payload);
  const h = p.header;
  assert.deepEqual([h.marker, h.payloadType, h.sequenceNumber, h.timestamp, h.ssrc], [true, 96, 0xffff, 0xffffffff, 1]);
  assert.deepEqual([...h.csrcs.subarray(0, h.csrcCount)], [2, 3]);
  assert.deepEqual([h.extensionProfile, h.extensionOffset, h.extensionBytes], [0xbede, 24, 4]);
  assert.deepEqual([...payload], [1, 2, 3]);
  assert.deepEqual([h.payloadOffset, h.payloadBytes, h.paddingBytes], [28, 3, 3]);
});

test('serialize then parse round-trips every field', () => {
  const h = new RtpHeader();
  Object.assign(h, { marker: true, payloadType: 101, sequenceNumber: 65535, timestamp: 0xfffffff0, ssrc: 0x80000001, csrcCount: 1 });
  h.csrcs[0] = 0xcafebabe;
  const payload = Uint8Array.of(9, 8, 7, 6);
  const out = new Uint8Array(64);
  const n = serializeRtpPacket(h, payload, out);
  assert.equal(n, 12 + 4 + 4);
  const p = new RtpParser();
  const back = p.parse(out.subarray(0, n));
  assert.deepEqual(back && [...back], [9, 8, 7, 6]);
  for (const k of ['marker', 'payloadType', 'sequenceNumber', 'timestamp', 'ssrc', 'csrcCount'] as const) assert.equal(p.header[k], h[k], k);
  assert.equal(p.header.csrcs[0], 0xcafebabe);
  assert.equal(serializeRtpPacket(h, new Uint8Array(100), new Uint8Array(50)), 0, 'does not fit');
  assert.equal(writeRtpHeader(new Uint8Array(11), false, 0, 0, 0, 0), 0);
});

test('malformed packets return null and are counted; RTCP is skipped apart; never throws', () => {
  const p = new RtpParser();
  const bad = [
    new Uint8Array(0),
    hex('80 00 0001 00000000'), // short
    hex('40 00 0001 00000000 00000001 00'), // version 1
    hex('83 00 0001 00000000 00000001 00000002'), // CC=3 but one CSRC
    hex('90 00 0001 00000000 00000001 bede'), // extension header cut
    hex('90 00 0001 00000000 00000001 bede0002 00000000'), // extension longer than packet
    hex('a0 00 0001 00000000 00000001 0102 00'), // padding count 0
    hex('a0 00 0001 00000000 00000001 0102 09'), // padding longer than payload
  ];
  for (const pkt of bad) assert.equal(p.parse(pkt), null);
  assert.equal(p.malformed, bad.length);
  assert.equal(p.parse(hex('80 c8 0006 00000001 00000000 00000000 00000000 00000000 00000000 00000000')), null);
  assert.equal(p.rtcp, 1);
  assert.equal(p.malformed, bad.length);
  // Random bytes: whatever comes back is a view inside the packet.
  let seed = 7;
  for (let i = 0; i < 2000; i++) {
    const len = i % 40;
    const pkt = new Uint8Array(len);
    for (let j = 0; j < len; j++) pkt[j] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    if (len > 0) pkt[0] = (pkt[0] & 0x3f) | 0x80;
    const pl = p.parse(pkt);
    if (pl) assert.ok(pl.byteOffset + pl.length <= pkt.byteOffset + len);
  }
  assert.equal(p.parse(hex('80 00 0001 00000000 00000001'))?.length, 0, 'an empty payload is valid');
});
