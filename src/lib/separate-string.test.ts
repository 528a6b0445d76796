import { test } from 'node:test';
import assert from 'node:assert/strict';
import { separateString } from './separate-string.ts';

test('splits on runs of spaces and trims', () => {
  assert.deepEqual(separateString('  a   b c  ', 6), ['a', 'b', 'c']);
});

test('the last field takes the rest of the line', () => {
  const args = separateString('uuid start ws://h:9/x mono 16k {"a": 1, "b": "two words"}', 6);
  assert.equal(args.length, 6);
  assert.equal(args[5], '{"a": 1, "b": "two words"}');
});

test('single quotes group and are removed', () => {
  assert.deepEqual(separateString("u send_text 'hello world' x", 6), ['u', 'send_text', 'hello world', 'x']);
});

test('an unpaired quote stays literal in cleanup', () => {
  assert.deepEqual(separateString("u send_text it's", 6), ['u', 'send_text', "it's"]);
});

test('backslash escapes', () => {
  assert.deepEqual(separateString('a b\\ c d\\nx \\\'q\\\' \\\\z', 6), ['a', 'b c', 'd\nx', "'q'", '\\z']);
  assert.deepEqual(separateString('a \\q', 6), ['a', '\\q']);
});

test('at most max fields', () => {
  assert.deepEqual(separateString('a b c d e f g h', 3), ['a', 'b', 'c d e f g h']);
  assert.deepEqual(separateString('', 6), []);
  assert.deepEqual(separateString('   ', 6), ['']);
});

test('^^ switches the delimiter', () => {
  assert.deepEqual(separateString('^^:a:b c:d', 6), ['a', 'b c', 'd']);
  assert.deepEqual(separateString('^^,a,b,c,d', 2), ['a', 'b,c,d']);
});
