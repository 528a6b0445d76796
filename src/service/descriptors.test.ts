import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../config/config.ts';
import { fitToDescriptors, openFileLimit, DESCRIPTORS_PER_SESSION, RESERVED_DESCRIPTORS } from './descriptors.ts';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max processes             63471                63471                processes
Max open files            1024                 524288               files
`;

test('openFileLimit reads the soft limit of /proc/<pid>/limits (this process has one on Linux)', () => {
  assert.equal(openFileLimit(LIMITS), 1024);
  assert.equal(openFileLimit(LIMITS.replace('1024 ', 'unlimited ')), undefined);
  assert.equal(openFileLimit('nothing here'), undefined);
  if (process.platform === 'linux') assert.ok((openFileLimit() ?? 0) > 0);
});

test('the defaults fit 20000 descriptors untouched', () => {
  const c = defaultConfig();
  assert.deepEqual(fitToDescriptors(c, 20000), []);
  assert.deepEqual([c.sip.maxSessions, c.sip.tcp.maxConnections, c.esl.maxConnections, c.http.maxConnections], [1000, 2000, 500, 500]);
});

test('at 4096 descriptors the sessions keep theirs and the connection bounds share the rest', () => {
  const c = defaultConfig();
  const warnings = fitToDescriptors(c, 4096);
  assert.equal(c.sip.maxSessions, 1000);
  const connections = c.sip.tcp.maxConnections + c.esl.maxConnections + c.http.maxConnections;
  assert.ok(1000 * DESCRIPTORS_PER_SESSION + connections + RESERVED_DESCRIPTORS <= 4096, `${connections} connections`);
  assert.ok(c.sip.tcp.maxConnections > c.esl.maxConnections, 'in proportion to the configured bounds');
  assert.ok(c.esl.maxConnectionsPerSource <= c.esl.maxConnections && c.sip.tcp.maxConnectionsPerSource <= c.sip.tcp.maxConnections);
  assert.equal(warnings.length, 3);
  assert.match(warnings[0]!, /^sip\.tcp\.maxConnections 2000 lowered to \d+: with sip\.maxSessions 1000 the calls keep 3000 of the 4096 descriptors/);
});

test('at 1024 descriptors sip.maxSessions itself is lowered, with a warning naming it', () => {
  const c = defaultConfig();
  const warnings = fitToDescriptors(c, 1024);
  assert.ok(c.sip.maxSessions < 1000 && c.sip.maxSessions > 250, String(c.sip.maxSessions));
  assert.match(warnings[0]!, /^sip\.maxSessions 1000 needs 3000 descriptors but the process may open 1024 \(ulimit -n\): lowered to \d+$/);
  const total = c.sip.maxSessions * DESCRIPTORS_PER_SESSION + c.sip.tcp.maxConnections + c.esl.maxConnections + c.http.maxConnections;
  assert.ok(total + RESERVED_DESCRIPTORS <= 1024, String(total));
});
