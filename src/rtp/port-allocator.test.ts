import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortAllocator } from './port-allocator.ts';
import { isAppError } from '../lib/errors.ts';

test('hands out even ports round-robin, then fails clearly when exhausted', () => {
  const a = new PortAllocator(16385, 16391); // even ports 16386, 16388, 16390
  assert.equal(a.size, 3);
  assert.deepEqual([a.allocate(), a.allocate(), a.allocate()], [16386, 16388, 16390]);
  assert.equal(a.available, 0);
  assert.throws(() => a.allocate(), (e: unknown) => isAppError(e, 'RTP_NO_PORT') && /16385\.\.16391/.test(e.message));
  a.release(16388);
  a.release(16388); // twice: ignored
  a.release(16387); // odd: ignored
  a.release(9999); // outside: ignored
  assert.equal(a.available, 1);
  assert.equal(a.allocate(), 16388);
  a.release(16386);
  a.release(16390);
  assert.equal(a.allocate(), 16390, 'the port freed first is not reused first: the cursor goes on');
  assert.equal(a.allocate(), 16386);
});

test('rejects bad ranges', () => {
  assert.throws(() => new PortAllocator(20001, 20001), RangeError);
  assert.throws(() => new PortAllocator(30000, 20000), RangeError);
  assert.throws(() => new PortAllocator(0, 10), RangeError);
  assert.throws(() => new PortAllocator(1, 70000), RangeError);
  assert.equal(new PortAllocator(20000, 20000).size, 1);
});
