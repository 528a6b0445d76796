import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JitterBuffer } from './jitter-buffer.ts';

const FRAME = 160; // 20 ms at 8000 Hz

function jb(delayMs = 60): JitterBuffer {
  return new JitterBuffer({ frameTicks: FRAME, ptimeMs: 20, delayMs, maxPayloadBytes: 160 });
}

/** A 4-byte payload naming packet `k`. */
function payload(k: number): Uint8Array {
  return Uint8Array.of(k >>> 24, k >>> 16, k >>> 8, k);
}

/** The packet number in a popped frame, or -1 for a gap. */
function popK(b: JitterBuffer): number {
  const f = b.pop();
  if (!f) return -1;
  const p = f.payload;
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

/** Pushes packet k of a stream starting at (seq0, ts0). */
function pushK(b: JitterBuffer, k: number, seq0 = 1000, ts0 = 50000): void {
  b.push((seq0 + k) & 0xffff, (ts0 + k * FRAME) >>> 0, payload(k));
}

test('in order: nothing before the first push, then delay frames of warm-up, then the frames in order', () => {
  const b = jb();
  assert.equal(b.delayFrames, 3);
  assert.equal(b.pop(), null);
  assert.equal(b.isStarted, false);
  const out: number[] = [];
  for (let k = 0; k < 10; k++) {
    pushK(b, k);
    out.push(popK(b));
  }
  assert.deepEqual(out, [-1, -1, -1, 0, 1, 2, 3, 4, 5, 6]);
  assert.equal(b.stats.concealed, 0, 'warm-up is not concealment');
  assert.equal(b.stats.played, 7);
});

test('sequence and timestamp wrap (16 and 32 bit) in the same stream', () => {
  const b = jb();
  const out: number[] = [];
  for (let k = 0; k < 40; k++) {
    pushK(b, k, 65520, 0xffffffff - 10 * FRAME);
    out.push(popK(b));
  }
  assert.deepEqual(out.slice(3), Array.from({ length: 37 }, (_, i) => i));
  assert.equal(b.lost, 0);
  assert.equal(b.stats.resyncs, 0);
});

test('reordering within the delay is undone; duplicates are dropped once', () => {
  const b = jb();
  const order = [0, 2, 1, 3, 5, 4, 4, 6, 7, 7, 8, 9];
  const out: number[] = [];
  for (const k of order) {
    pushK(b, k);
    out.push(popK(b));
  }
  for (let i = 0; i < 3; i++) out.push(popK(b));
  assert.deepEqual(out.filter((k) => k >= 0), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(b.stats.duplicates, 2);
  assert.equal(b.stats.reordered, 4);
  assert.equal(b.lost, 0);
});

test('loss: a gap is a null pop, counted concealed and lost', () => {
  const b = jb();
  const out: number[] = [];
  for (let k = 0; k < 12; k++) {
    if (k !== 5) pushK(b, k);
    out.push(popK(b));
  }
  assert.deepEqual(out.slice(3), [0, 1, 2, 3, 4, -1, 6, 7, 8]);
  assert.equal(b.stats.concealed, 1);
  assert.equal(b.lost, 1);
});

test('too late: a packet after its turn is counted and dropped, the stream goes on', () => {
  const b = jb(40);
  const out: number[] = [];
  for (let t = 0; t < 12; t++) {
    if (t !== 4) pushK(b, t);
    if (t === 8) pushK(b, 4); // 4 ticks late, with 40 ms of delay
    out.push(popK(b));
  }
  assert.deepEqual(out, [-1, -1, 0, 1, 2, 3, -1, 5, 6, 7, 8, 9]);
  assert.equal(b.stats.late, 1);
  assert.equal(b.stats.resyncs, 0);
});

test('SSRC change: reset() starts a new schedule on the new stream', () => {
  const b = jb();
  for (let k = 0; k < 6; k++) {
    pushK(b, k);
    b.pop();
  }
  b.reset();
  assert.equal(b.isStarted, false);
  const out: number[] = [];
  for (let k = 0; k < 6; k++) {
    pushK(b, 100 + k, 7, 123); // unrelated sequence numbers and timestamps
    out.push(popK(b));
  }
  assert.deepEqual(out, [-1, -1, -1, 100, 101, 102]);
  assert.equal(b.stats.late, 0);
});

test('silence suppression: a pause with advancing timestamps keeps the schedule', () => {
  const b = jb();
  const out: number[] = [];
  for (let t = 0; t < 30; t++) {
    if (t < 5 || t >= 20) pushK(b, t); // the sender sends nothing for 300 ms, timestamps keep time
    out.push(popK(b));
  }
  assert.deepEqual(out.slice(23), [20, 21, 22, 23, 24, 25, 26]);
  assert.equal(b.stats.resyncs, 0);
});

test('a burst after a network stall: frames past their turn are dropped, the rest play on schedule', () => {
  const b = jb();
  const out: number[] = [];
  for (let t = 0; t < 40; t++) {
    if (t < 10 || t > 20) pushK(b, t);
    if (t === 20) for (let k = 10; k <= 20; k++) pushK(b, k); // 200 ms held back, then delivered at once
    out.push(popK(b));
  }
  assert.deepEqual(out.slice(20, 26), [17, 18, 19, 20, 21, 22]);
  assert.equal(b.stats.late, 7);
  assert.equal(b.stats.resyncs, 0);
});

test('resync: a sender that paused without advancing timestamps, and a jump forward', () => {
  const b = jb();
  for (let t = 0; t < 10; t++) {
    pushK(b, t);
    b.pop();
  }
  for (let t = 0; t < 50; t++) b.pop(); // 1 s of nothing
  const out: number[] = [];
  for (let k = 10; k < 20; k++) {
    pushK(b, k); // continues from where it stopped: 1 s behind the schedule
    out.push(popK(b));
  }
  assert.equal(b.stats.resyncs, 1);
  assert.deepEqual(out.slice(-5), [12, 13, 14, 15, 16], 'plays again from the third late packet on');
  b.push(5000, 50000 + 20 * FRAME + 8000 * 60, payload(999)); // a minute ahead
  assert.equal(b.stats.resyncs, 2);
  assert.deepEqual([popK(b), popK(b), popK(b), popK(b)], [-1, -1, -1, 999]);
});

test('a straggler or duplicate of a played frame never causes a resync', () => {
  const b = jb();
  for (let k = 0; k < 20; k++) {
    pushK(b, k);
    b.pop();
    if (k > 10) pushK(b, k - 8); // duplicates of played frames
  }
  assert.equal(b.stats.resyncs, 0);
  assert.equal(b.stats.late, 9);
});

test('oversize payloads are counted and dropped; frames keep their exact length', () => {
  const b = new JitterBuffer({ frameTicks: FRAME, maxPayloadBytes: 8, delayMs: 20 });
  b.push(1, 0, new Uint8Array(9));
  assert.equal(b.stats.oversize, 1);
  b.push(2, FRAME, Uint8Array.of(1, 2, 3));
  b.pop();
  assert.deepEqual([...(b.pop()?.payload ?? [])], [1, 2, 3]);
  assert.throws(() => new JitterBuffer({ frameTicks: 0, maxPayloadBytes: 8 }), RangeError);
});

/** The jitter model the playout buffer was sized against: 20 ms packets, 2 % loss, uniform extra delay 0..J ms; concealment, resyncs and the worst playout lag. */
function simulate(jitterMs: number, delayMs: number, packets = 15000): { concealedPct: number; resyncs: number; maxLagMs: number } {
  const b = jb(delayMs);
  let seed = 12345;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const arrivals: { at: number; k: number }[] = [];
  const phase = 7.3; // sender and receiver ticks are not aligned
  for (let k = 0; k < packets; k++) if (rnd() >= 0.02) arrivals.push({ at: phase + k * 20 + rnd() * jitterMs, k });
  arrivals.sort((x, y) => x.at - y.at);
  let i = 0;
  let maxLagMs = 0;
  for (let tick = 1; tick <= packets + 20; tick++) {
    const now = tick * 20;
    while (i < arrivals.length && arrivals[i].at <= now) pushK(b, arrivals[i++].k);
    const k = popK(b);
    if (k >= 0) maxLagMs = Math.max(maxLagMs, now - (phase + k * 20));
  }
  const concealedPct = (100 * b.stats.concealed) / (b.stats.concealed + b.stats.played);
  return { concealedPct, resyncs: b.stats.resyncs, maxLagMs };
}

test('simulated jitter and loss: 60 ms absorbs 40 ms of jitter; beyond, the schedule follows the delay', () => {
  for (const j of [0, 20, 40]) {
    const r = simulate(j, 60);
    assert.ok(r.concealedPct < 2.2 && r.resyncs === 0, `J=${j}: ${JSON.stringify(r)}`);
    assert.ok(r.maxLagMs <= 60 + j + 20, `J=${j}: ${JSON.stringify(r)}`);
  }
  // 80 ms of jitter: a purely fixed 60 ms schedule conceals about a quarter of the frames;
  // following the persistently late stream costs a few resyncs and at most J + D + one frame of lag.
  const j80 = simulate(80, 60);
  assert.ok(j80.concealedPct < 3.5 && j80.resyncs > 0 && j80.resyncs < 20, JSON.stringify(j80));
  assert.ok(j80.maxLagMs <= 80 + 60 + 20, JSON.stringify(j80));
  const d20 = simulate(40, 20);
  assert.ok(d20.concealedPct < 3.5 && d20.maxLagMs <= 40 + 20 + 20, JSON.stringify(d20));
});
