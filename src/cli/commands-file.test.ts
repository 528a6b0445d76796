import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandsFile } from './commands-file.ts';
import { isAppError } from '../lib/errors.ts';

test('timed commands: sorted by time, comments and blank lines skipped, sub-commands with their arguments', () => {
  const cmds = parseCommandsFile('# a rehearsal\n\n2.5 send_text hello there\n0.4 pause\n3 break\n4 STOP bye\n');
  assert.deepEqual(cmds.map((c) => [c.atMs, c.command, c.line]), [
    [400, 'pause', 4], [2500, 'send_text hello there', 3], [3000, 'break', 5], [4000, 'stop bye', 6],
  ]);
});

test('dtmf <digits>[@ms]: one command per digit at its end, 50 ms apart, 100 ms each by default', () => {
  const cmds = parseCommandsFile('1 dtmf 1#a\n2 dtmf 9@250\n');
  assert.deepEqual(cmds.map((c) => [c.atMs, c.command, c.dtmf]), [
    [1100, 'dtmf 1', { digit: '1', durationMs: 100 }],
    [1250, 'dtmf #', { digit: '#', durationMs: 100 }],
    [1400, 'dtmf A', { digit: 'A', durationMs: 100 }],
    [2250, 'dtmf 9', { digit: '9', durationMs: 250 }],
  ]);
});

test('bad lines are usage errors naming the line', () => {
  for (const [text, re] of [
    ['1 dtmf', /line 1: dtmf needs digits/],
    ['1 dtmf 12x', /dtmf needs digits/],
    ['1 dtmf 1@5', /a digit lasts 10 to 10000 ms/],
    ['\n1 hangup', /line 2: unknown command hangup/],
    ['soon pause', /expected "<seconds> <command> \[args\]"/],
  ] as const) {
    assert.throws(() => parseCommandsFile(text), (err: unknown) => isAppError(err, 'USAGE') && re.test(err.message), text);
  }
  assert.throws(() => parseCommandsFile('x'.repeat((1 << 20) + 1)), /larger than/);
});
