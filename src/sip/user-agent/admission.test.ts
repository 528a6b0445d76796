import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admission, type AdmissionLimits } from './admission.ts';

const WIDE: AdmissionLimits = { maxSessions: 1000, sessionsPerSecond: 1000, invitesPerSourcePerSecond: 1000, maxPendingPerSource: 1000 };

function admission(limits: Partial<AdmissionLimits>, maxSources?: number) {
  let t = 0;
  const a = new Admission({ ...WIDE, ...limits }, () => t, maxSources);
  return { a, advance: (ms: number) => { t += ms; } };
}

/** Admits `n` calls from `address` (settled at once unless `keep`); returns the limits that refused, in order. */
function offer(a: Admission, address: string, n: number, keep = false): string[] {
  const refusals: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = a.admit(address, 0);
    if (r !== undefined) refusals.push(r.limit);
    else if (!keep) a.settle(address);
  }
  return refusals;
}

test('sessions per second: a bucket of one second refilled from the clock, not a fixed window', () => {
  const { a, advance } = admission({ sessionsPerSecond: 10 });
  assert.deepEqual(offer(a, '192.0.2.1', 10), []);
  assert.deepEqual(offer(a, '192.0.2.2', 1), ['sessionsPerSecond']);
  advance(100); // one token back
  assert.deepEqual(offer(a, '192.0.2.3', 2), ['sessionsPerSecond']);
  advance(10_000); // never more than one second's worth
  assert.deepEqual(offer(a, '192.0.2.4', 11), ['sessionsPerSecond']);
});

test('the per-source rate is checked first: a flooding source is refused without using up the global rate', () => {
  const { a } = admission({ sessionsPerSecond: 20, invitesPerSourcePerSecond: 5 });
  const refused = offer(a, '192.0.2.66', 400);
  assert.equal(refused.length, 395);
  assert.ok(refused.every((l) => l === 'invitesPerSourcePerSecond'));
  for (let i = 1; i <= 15; i++) assert.equal(a.admit(`198.51.100.${i}`, 0), undefined, `another source gets what is left (${i})`);
  assert.equal(a.admit('198.51.100.99', 0)?.limit, 'sessionsPerSecond');
});

test('pending calls per source: counted until settled; other sources are not affected', () => {
  const { a, advance } = admission({ maxPendingPerSource: 3 });
  assert.deepEqual(offer(a, '192.0.2.7', 3, true), []);
  assert.equal(a.pendingOf('192.0.2.7'), 3);
  const r = a.admit('192.0.2.7', 0);
  assert.equal(r?.limit, 'maxPendingPerSource');
  assert.equal(r?.status, 503);
  assert.equal(r?.retryAfterSec, 32);
  assert.equal(a.admit('192.0.2.8', 0), undefined);
  a.settle('192.0.2.7');
  advance(10);
  assert.equal(a.admit('192.0.2.7', 0), undefined);
  assert.equal(a.pendingOf('::ffff:192.0.2.7'), 3, 'an IPv4-mapped address is the same source');
});

test('max sessions: the answer is FreeSWITCH\'s 503 Maximum Calls In Progress with Retry-After 300', () => {
  const { a } = admission({ maxSessions: 2 });
  assert.equal(a.admit('192.0.2.1', 1), undefined);
  const r = a.admit('192.0.2.1', 2);
  assert.deepEqual(r, { limit: 'maxSessions', status: 503, reason: 'Maximum Calls In Progress', retryAfterSec: 300 });
  assert.equal(a.pendingOf('192.0.2.1'), 1, 'a refused call is not pending');
});

test('the source table is bounded: spoofed sources are forgotten, sources with pending calls kept', () => {
  const { a, advance } = admission({ invitesPerSourcePerSecond: 2, maxPendingPerSource: 1 }, 100);
  assert.equal(a.admit('192.0.2.200', 0), undefined); // pending: must survive eviction
  for (let i = 0; i < 5000; i++) {
    const spoofed = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    if (a.admit(spoofed, 0) === undefined) a.settle(spoofed); // refused or over at once
    advance(1);
    assert.ok(a.sourceCount <= 100, `at most 100 sources, got ${a.sourceCount}`);
  }
  assert.equal(a.pendingOf('192.0.2.200'), 1);
  assert.equal(a.admit('192.0.2.200', 0)?.limit, 'maxPendingPerSource', 'its count was kept');
});

test('an IPv6 source is its /64: addresses of one /64 share its per-source bounds, the next /64 has its own', () => {
  const { a } = admission({ invitesPerSourcePerSecond: 5 });
  for (let i = 1; i <= 5; i++) assert.equal(a.admit(`2001:db8:1:2::${i.toString(16)}`, 0), undefined);
  assert.equal(a.admit('2001:db8:1:2:ffff::9', 0)?.limit, 'invitesPerSourcePerSecond', 'another address of the same /64');
  assert.equal(a.admit('2001:db8:1:3::1', 0), undefined, 'the next /64');
  assert.equal(a.pendingOf('2001:db8:1:2::77'), 5, 'pending counted for the /64');
  assert.equal(a.admit('::ffff:192.0.2.1', 0), undefined);
  assert.equal(a.pendingOf('192.0.2.1'), 1, 'IPv4-mapped IPv6 is the IPv4 source');
});
