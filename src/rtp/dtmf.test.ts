import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { buildDtmfPackets, DtmfReceiver, dtmfEventCode } from './dtmf.ts';
import { RtpParser } from './packet.ts';

function feed(rx: DtmfReceiver, packets: Uint8Array[]): void {
  const p = new RtpParser();
  for (const pkt of packets) {
    const payload = p.parse(pkt);
    assert.ok(payload);
    rx.receive(p.header.timestamp, payload);
  }
}

test('one digit from RFC 4733 bytes: three end packets give one digit with its duration', () => {
  const got: [string, number][] = [];
  const rx = new DtmfReceiver((d, ms) => got.push([d, ms]));
  const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/ /g, ''), 'hex'));
  // Event 5, volume 10: durations 160, 320, 480, then end x3 at 800 (100 ms at 8000 Hz).
  feed(rx, [
    hex('80e5 0001 00001000 11223344 05 0a 00a0'),
    hex('8065 0002 00001000 11223344 05 0a 0140'),
    hex('8065 0003 00001000 11223344 05 0a 01e0'),
    hex('8065 0004 00001000 11223344 05 8a 0320'),
    hex('8065 0005 00001000 11223344 05 8a 0320'),
    hex('8065 0006 00001000 11223344 05 8a 0320'),
  ]);
  assert.deepEqual(got, [['5', 100]]);
  assert.equal(rx.duplicates, 2);
});

test('every digit, back to back; built packets carry marker, sequence and timestamps', () => {
  const got: string[] = [];
  const rx = new DtmfReceiver((d) => got.push(d));
  let seq = 65530;
  let ts = 0xffffff00;
  const p = new RtpParser();
  for (const digit of '0123456789*#ABCDF') {
    const pkts = buildDtmfPackets({ digit, payloadType: 101, ssrc: 1, sequenceNumber: seq, timestamp: ts, durationMs: 80 });
    assert.equal(pkts.length, 3 + 3);
    p.parse(pkts[0]);
    assert.equal(p.header.marker, true);
    p.parse(pkts[1]);
    assert.equal(p.header.marker, false);
    assert.equal(p.header.sequenceNumber, (seq + 1) & 0xffff);
    feed(rx, pkts);
    seq = (seq + pkts.length) & 0xffff;
    ts = (ts + 1280) >>> 0;
  }
  assert.equal(got.join(''), '0123456789*#ABCDF');
  assert.equal(dtmfEventCode('a'), 12);
  assert.equal(dtmfEventCode('x'), -1);
  assert.throws(() => buildDtmfPackets({ digit: 'x', payloadType: 101, ssrc: 1, sequenceNumber: 0, timestamp: 0 }), RangeError);
});

test('lost end packets: the digit is reported when the next event starts, or on flush()', () => {
  const got: [string, number][] = [];
  const rx = new DtmfReceiver((d, ms) => got.push([d, ms]));
  const one = buildDtmfPackets({ digit: '1', payloadType: 101, ssrc: 1, sequenceNumber: 0, timestamp: 8000 });
  const two = buildDtmfPackets({ digit: '2', payloadType: 101, ssrc: 1, sequenceNumber: 10, timestamp: 16000 });
  feed(rx, one.slice(0, 3)); // no end packet
  assert.deepEqual(got, []);
  feed(rx, two.slice(0, 2));
  assert.deepEqual(got, [['1', 60]]);
  rx.flush();
  assert.deepEqual(got, [['1', 60], ['2', 40]]);
  rx.flush();
  assert.equal(got.length, 2);
});

test('late packets of an earlier event, short payloads and unknown events are ignored', () => {
  const got: string[] = [];
  const rx = new DtmfReceiver((d) => got.push(d));
  const one = buildDtmfPackets({ digit: '1', payloadType: 101, ssrc: 1, sequenceNumber: 0, timestamp: 8000 });
  const two = buildDtmfPackets({ digit: '2', payloadType: 101, ssrc: 1, sequenceNumber: 10, timestamp: 16000 });
  feed(rx, one);
  feed(rx, two);
  feed(rx, one.slice(-1)); // a retransmitted end of "1" arriving late
  assert.deepEqual(got, ['1', '2']);
  rx.receive(99999, Uint8Array.of(1, 2));
  rx.receive(99999, Uint8Array.of(40, 0x80, 0, 160)); // event 40: a tone, not DTMF
  assert.equal(rx.malformed, 1);
  assert.equal(rx.unknown, 1);
  assert.deepEqual(got, ['1', '2']);
});

test('a 16 kHz event clock gives durations in ms', () => {
  const got: number[] = [];
  const rx = new DtmfReceiver((_d, ms) => got.push(ms), 16000);
  feed(rx, buildDtmfPackets({ digit: '9', payloadType: 99, ssrc: 1, sequenceNumber: 0, timestamp: 0, clockRateHz: 16000, durationMs: 120 }));
  assert.deepEqual(got, [120]);
});

const PCAP = '/usr/share/sip-tester/dtmf_2833_1.pcap';
test('the digit of SIPp\'s dtmf_2833_1.pcap (Debian sip-tester)', { skip: !existsSync(PCAP) && 'sip-tester not installed' }, () => {
  const file = readFileSync(PCAP);
  const got: string[] = [];
  const rx = new DtmfReceiver((d) => got.push(d));
  const parser = new RtpParser();
  const le = file.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number) => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const linkType = u32(20);
  let events = 0;
  for (let off = 24; off + 16 <= file.length;) {
    const caplen = u32(off + 8);
    let frame = file.subarray(off + 16, off + 16 + caplen);
    off += 16 + caplen;
    if (linkType === 1) frame = frame.subarray(14); // Ethernet
    else if (linkType === 113) frame = frame.subarray(16); // Linux cooked
    if (frame[0] >> 4 !== 4 || frame[9] !== 17) continue;
    const udp = frame.subarray((frame[0] & 0x0f) * 4);
    const payload = parser.parse(udp.subarray(8));
    if (!payload || parser.header.payloadType < 96) continue;
    events++;
    rx.receive(parser.header.timestamp, payload);
  }
  assert.ok(events >= 4, `telephone-event packets: ${events}`);
  rx.flush();
  assert.deepEqual(got, ['1']);
});
