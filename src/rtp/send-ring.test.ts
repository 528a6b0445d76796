import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SendRing } from './send-ring.ts';

test('slots are reused only after their send completed; a longer burst gets one-off buffers', () => {
  const ring = new SendRing(2, 172);
  const a = ring.take();
  const b = ring.take();
  assert.notEqual(a.packet, b.packet);
  assert.equal(a.payload.byteOffset, a.packet.byteOffset + 12);
  const c = ring.take(); // both in flight
  assert.ok(c.packet !== a.packet && c.packet !== b.packet);
  assert.equal(ring.overflows, 1);
  a.done(null);
  c.done(new Error('EPERM'));
  assert.notEqual(ring.take().packet, b.packet, 'slot 1 is still in flight: a one-off again');
  assert.equal(ring.take().packet, a.packet, 'slot 0 was freed by its callback');
  assert.equal(ring.overflows, 2);
  assert.equal(ring.errors, 1);
});

test('resize() makes bigger buffers; callbacks of the old ones do not free the new ones', () => {
  const ring = new SendRing(1, 100);
  const old = ring.take();
  ring.resize(400);
  assert.equal(ring.packetBytes, 400);
  const fresh = ring.take();
  assert.equal(fresh.packet.length, 400);
  old.done(null); // must not mark `fresh` free
  const next = ring.take();
  assert.notEqual(next.packet, fresh.packet);
  ring.giveBack(fresh);
  assert.equal(ring.take().packet, fresh.packet);
});
