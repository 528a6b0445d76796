import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addLogSink, Logger, type LogOrigin } from './logger.ts';

const UUID = '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f';

test('a channel logger knows its uuid from its scope (or is given it); others have none', () => {
  assert.equal(new Logger(`mod_audio_stream(${UUID})`).uuid, UUID);
  assert.equal(new Logger(`playback(${UUID.toUpperCase()})`).uuid, UUID.toUpperCase());
  assert.equal(new Logger('sip(1-2345@127.0.0.1)').uuid, undefined, 'a SIP Call-ID is not a uuid');
  assert.equal(new Logger('esl').uuid, undefined);
  assert.equal(new Logger('sip(x)', UUID).uuid, UUID);
});

test('a sink learns where a line was logged: this file, the function, the line; the stack limit is left as it was', (t) => {
  const origins: Array<{ scope: string; origin: LogOrigin }> = [];
  t.after(addLogSink((_level, scope, _message, origin) => origins.push({ scope, origin })));
  const limit = Error.stackTraceLimit;
  function logHere(): number {
    const line = Number(/:(\d+):\d+\)?$/.exec(new Error().stack!.split('\n')[1]!)![1]); new Logger(`x(${UUID})`).info('hi');
    return line;
  }
  const line = logHere();
  assert.equal(Error.stackTraceLimit, limit);
  const mine = origins.filter((o) => o.scope === `x(${UUID})`);
  assert.equal(mine.length, 1);
  assert.equal(mine[0]!.origin.uuid, UUID);
  assert.deepEqual(mine[0]!.origin.site(), { file: 'logger.test.ts', func: 'logHere', line });
  assert.equal(mine[0]!.origin.site(), mine[0]!.origin.site(), 'read once');
});

test('control characters in a line or a scope are escaped for every sink: no forged line, no terminal code', (t) => {
  const lines: string[] = [];
  t.after(addLogSink((_level, scope, message) => { if (scope.startsWith('forge')) lines.push(`${scope}: ${message}`); }));
  new Logger('forge(a\r\nb)').error('x\n2026-12-02T00:00:00.000Z [ERROR] sip: forged\x1b[2J\x07\u2028\x9b end\ttab');
  assert.deepEqual(lines, ['forge(a\\r\\nb): x\\n2026-12-02T00:00:00.000Z [ERROR] sip: forged\\x1b[2J\\x07\\u2028\\x9b end\\ttab']);
  new Logger('forge').info('plain text, unicode é ✓ kept');
  assert.equal(lines[1], 'forge: plain text, unicode é ✓ kept');
});
