import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCEPT, DROP, LEARNED, NOTED_SOURCES, PROBATION, RtpTotals, SourceLatch } from './source-latch.ts';

const PHONE = '127.0.0.1';

/** Feeds `n` packets of one stream (consecutive sequence numbers from `seq`) and returns the verdicts. */
function run(l: SourceLatch, address: string, port: number, ssrc: number, seq: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(l.accept(address, port, ssrc, (seq + i) & 0xffff));
  return out;
}

test('the SDP\'s address:port latches on its first packet; every other source is dropped and counted from then on', () => {
  const totals = new RtpTotals();
  const l = new SourceLatch(PROBATION, totals);
  l.expect(PHONE, 5000);
  assert.equal(l.accept(PHONE, 5000, 1, 100), LEARNED);
  assert.deepEqual([l.latched, l.signalled, l.address, l.port, l.learned], [true, true, PHONE, 5000, 1]);
  assert.equal(l.accept(PHONE, 5000, 1, 101), ACCEPT);
  assert.equal(l.accept(PHONE, 5000, 77, 9), ACCEPT, 'the latch judges the source; the SSRC is the receiver\'s business');
  // The hijack of issue 10: three packets with a new SSRC, then a steady stream, from another port and address.
  assert.deepEqual(run(l, '127.0.0.2', 6000, 0xbad, 1, 3), [DROP, DROP, DROP]);
  assert.ok(run(l, '127.0.0.2', 6000, 0xbad, 4, 150).every((v) => v === DROP));
  assert.ok(run(l, PHONE, 5002, 1, 102, 10).every((v) => v === DROP), 'the same SSRC from another port of the phone\'s address');
  assert.equal(l.accept(PHONE, 5000, 1, 102), ACCEPT);
  assert.deepEqual([l.port, l.address, l.learned, l.foreign, totals.foreign, l.learning], [5000, PHONE, 1, 163, 163, 0]);
});

test('a phone behind NAT (not at its SDP\'s address) latches after a run of PROBATION consecutive packets; the run before is dropped', () => {
  assert.equal(PROBATION, 4);
  const l = new SourceLatch();
  l.expect('10.0.0.5', 4000);
  assert.deepEqual(run(l, '198.51.100.7', 61000, 9, 65534, 4), [DROP, DROP, DROP, LEARNED], 'across the sequence wrap');
  assert.deepEqual([l.signalled, l.address, l.port, l.learning], [false, '198.51.100.7', 61000, 3]);
  assert.equal(l.accept('198.51.100.7', 61000, 9, 2), ACCEPT);
});

test('only consecutive packets of one SSRC make a run: a gap, a step back or an SSRC change starts it again; a duplicate does neither', () => {
  const l = new SourceLatch();
  const A = '192.0.2.1';
  assert.deepEqual(run(l, A, 7000, 5, 10, 3), [DROP, DROP, DROP]);
  assert.equal(l.accept(A, 7000, 5, 14), DROP, 'a gap');
  assert.equal(l.accept(A, 7000, 5, 12), DROP, 'a step back');
  assert.equal(l.accept(A, 7000, 6, 13), DROP, 'another SSRC');
  assert.deepEqual(run(l, A, 7000, 6, 14, 2), [DROP, DROP]);
  assert.equal(l.accept(A, 7000, 6, 15), DROP, 'a duplicate');
  assert.equal(l.accept(A, 7000, 6, 16), LEARNED, '13, 14, 15, 16 of SSRC 6');
  assert.equal(l.learning, 9);
});

test('while learning, strays from many sources neither break the phone\'s run nor latch', () => {
  const l = new SourceLatch();
  l.expect('10.0.0.5', 4000);
  const verdicts: number[] = [];
  let seed = 7;
  for (let i = 0; i < 4; i++) {
    verdicts.push(l.accept('203.0.113.9', 50000, 0x1234, 300 + i));
    // Between two packets of the phone, three strays from other ports, each with a new SSRC and sequence number.
    for (let k = 0; k < 3 && i < 3; k++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      verdicts.push(l.accept('203.0.113.66', 1024 + (seed % 60000), seed, seed & 0xffff));
    }
  }
  assert.equal(verdicts.at(-1), LEARNED);
  assert.ok(verdicts.slice(0, -1).every((v) => v === DROP));
  assert.deepEqual([l.address, l.port], ['203.0.113.9', 50000]);
});

test('a source learned from a run gives way to the SDP\'s address:port; the SDP\'s source gives way to nothing', () => {
  const l = new SourceLatch();
  l.expect(PHONE, 5000);
  assert.equal(run(l, PHONE, 5050, 3, 1, 4).at(-1), LEARNED, 'someone else got there first');
  assert.equal(l.accept(PHONE, 5000, 8, 900), LEARNED, 'the phone, from where its SDP said');
  assert.deepEqual([l.port, l.signalled, l.learned], [5000, true, 2]);
  assert.ok(run(l, PHONE, 5050, 3, 5, 50).every((v) => v === DROP));
  assert.equal(l.foreign, 50);
});

test('relearn() (the remote media changed): the new SDP address latches at once, the old source only with a new run', () => {
  const l = new SourceLatch();
  l.expect(PHONE, 5000);
  l.accept(PHONE, 5000, 1, 1);
  l.expect('127.0.0.3', 7000);
  l.relearn();
  assert.equal(l.latched, false);
  assert.deepEqual(run(l, PHONE, 5000, 1, 2, 3), [DROP, DROP, DROP], 'the old source is a candidate like any other');
  assert.equal(l.accept('127.0.0.3', 7000, 2, 50), LEARNED);
  assert.equal(l.accept(PHONE, 5000, 1, 5), DROP);
  assert.deepEqual([l.address, l.port, l.foreign, l.learning, l.learned], ['127.0.0.3', 7000, 1, 3, 2]);
  // A hold to c=0.0.0.0 learns again: nothing is signalled, the phone's own run latches it back.
  l.expect('0.0.0.0', 7000);
  l.relearn();
  assert.deepEqual(run(l, '127.0.0.3', 7000, 2, 51, 4), [DROP, DROP, DROP, LEARNED]);
});

test('a foreign source is reported once, for at most NOTED_SOURCES sources per call (the last one says so); the rest only counted', () => {
  const l = new SourceLatch();
  const noted: string[] = [];
  l.onForeign = (address, port, last) => noted.push(`${address}:${port}${last ? ' last' : ''}`);
  const learned: string[] = [];
  l.onLearned = (address, port, signalled) => learned.push(`${address}:${port} ${signalled}`);
  l.expect(PHONE, 5000);
  l.accept(PHONE, 5000, 1, 1);
  for (let round = 0; round < 3; round++) {
    for (let p = 0; p < NOTED_SOURCES + 4; p++) l.accept('127.0.0.9', 6000 + p, 2, round);
  }
  assert.equal(noted.length, NOTED_SOURCES);
  assert.deepEqual(noted.slice(0, 2), ['127.0.0.9:6000', '127.0.0.9:6001']);
  assert.equal(noted.at(-1), `127.0.0.9:${6000 + NOTED_SOURCES - 1} last`);
  assert.equal(l.foreign, 3 * (NOTED_SOURCES + 4));
  l.expect(PHONE, 5002);
  l.relearn();
  l.accept(PHONE, 5002, 1, 2);
  l.accept('127.0.0.9', 6000, 2, 9);
  assert.equal(noted.length, NOTED_SOURCES, 'per call, not per learning');
  assert.deepEqual(learned, ['127.0.0.1:5000 true', '127.0.0.1:5002 true']);
});

test('probation 1 latches the first packet of any source; a probation below 1 is refused', () => {
  const l = new SourceLatch(1);
  assert.equal(l.accept(PHONE, 9000, 1, 1), LEARNED);
  assert.throws(() => new SourceLatch(0), RangeError);
});
