import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addLogSink, Logger } from '../lib/logger.ts';
import { LoginFailures } from './login-failures.ts';

function capture(t: { after(fn: () => void): void }): string[] {
  const lines: string[] = [];
  const remove = addLogSink((level, scope, message) => { if (scope === 'test-logins') lines.push(`${level} ${message}`); });
  t.after(remove);
  return lines;
}

test('each failure is logged with its source, as sofia words an auth failure; userauth names the user', (t) => {
  const lines = capture(t);
  const f = new LoginFailures(new Logger('test-logins'), {}, () => 0);
  assert.equal(f.record({ ip: '127.0.0.1', command: 'auth' }), 0);
  assert.equal(f.record({ ip: '::1', command: 'userauth', user: '1000@default' }), 0);
  assert.deepEqual(lines, [
    'warning Event Socket auth failure (auth) from ip 127.0.0.1',
    'warning Event Socket auth failure (userauth) for [1000@default] from ip ::1',
  ]);
  assert.equal(f.total, 2);
  // What a fail2ban rule for this line takes as the host: the last address.
  const rule = /auth failure \((?:auth|userauth)\)(?: for \[.*\])? from ip (\S+)$/;
  assert.equal(rule.exec(lines[1]!)![1], '::1');
  f.close();
});

test('past 5 failures in a window a source is summed up once when the window ends, and its replies are delayed', (t) => {
  const lines = capture(t);
  let now = 1000;
  const f = new LoginFailures(new Logger('test-logins'), { windowMs: 60_000, delayMs: 2000 }, () => now);
  const delays = [];
  for (let i = 0; i < 12; i++) delays.push(f.record({ ip: '10.0.0.1', command: 'auth' }));
  assert.deepEqual(delays, [0, 0, 0, 0, 0, 2000, 2000, 2000, 2000, 2000, 2000, 2000]);
  assert.equal(f.record({ ip: '10.0.0.2', command: 'auth' }), 0, 'another source is not throttled');
  assert.equal(lines.filter((l) => l.includes('from ip 10.0.0.1')).length, 5);
  now += 60_000;
  f.sweep();
  const summary = lines.filter((l) => l.includes('auth failures from ip 10.0.0.1'));
  assert.equal(summary.length, 1, lines.join('\n'));
  assert.match(summary[0]!, /^warning Event Socket auth failures from ip 10\.0\.0\.1: 7 more in 60 s \(12 in all;/);
  assert.equal(f.size, 0, 'ended windows are forgotten');
  // A new window: logged one by one again, no delay.
  assert.equal(f.record({ ip: '10.0.0.1', command: 'auth' }), 0);
  assert.equal(lines.filter((l) => l === 'warning Event Socket auth failure (auth) from ip 10.0.0.1').length, 6);
  f.close();
});

test('the per-source table is bounded: the oldest source is forgotten (its summary logged)', (t) => {
  const lines = capture(t);
  const f = new LoginFailures(new Logger('test-logins'), { maxSources: 3, loggedPerWindow: 1 }, () => 0);
  f.record({ ip: '10.0.0.1', command: 'auth' });
  f.record({ ip: '10.0.0.1', command: 'auth' });
  for (let i = 2; i <= 100; i++) f.record({ ip: `10.0.0.${i}`, command: 'auth' });
  assert.equal(f.size, 3);
  assert.ok(lines.some((l) => l.startsWith('warning Event Socket auth failures from ip 10.0.0.1: 1 more')), lines.join('\n'));
  assert.equal(f.total, 101);
  f.close();
});

test('the summary is logged by the timer when no further failure comes', async (t) => {
  const lines = capture(t);
  const f = new LoginFailures(new Logger('test-logins'), { windowMs: 50, loggedPerWindow: 1 });
  f.record({ ip: '10.0.0.9', command: 'auth' });
  f.record({ ip: '10.0.0.9', command: 'auth' });
  const deadline = Date.now() + 5000;
  while (!lines.some((l) => l.includes('auth failures from ip 10.0.0.9')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(lines.some((l) => l.includes('auth failures from ip 10.0.0.9: 1 more')), lines.join('\n'));
  f.close();
});

test('an IPv6 source is throttled by its /64 (the key): walking its addresses does not reset the count; each line names the address', (t) => {
  const lines = capture(t);
  const f = new LoginFailures(new Logger('test-logins'), { windowMs: 60_000, delayMs: 2000 }, () => 0);
  const delays = Array.from({ length: 7 }, (_, i) => f.record({ ip: `2001:db8:1:2::${i + 1}`, key: '2001:db8:1:2::/64', command: 'auth' }));
  assert.deepEqual(delays, [0, 0, 0, 0, 0, 2000, 2000]);
  assert.equal(lines[0], 'warning Event Socket auth failure (auth) from ip 2001:db8:1:2::1');
  assert.equal(f.size, 1);
  f.close();
});
