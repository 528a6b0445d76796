// The input framing, fed raw bytes (mod_event_socket.c read_packet rules).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EslFrameParser, headerValue } from './frame.ts';
import { isAppError } from '../lib/errors.ts';

test('a command and its headers end at two LFs; header names are looked up in any case', () => {
  const p = new EslFrameParser();
  const [m] = p.push(Buffer.from('bgapi status \njob-uuid: 01M8CW4RRAETWBMVSJHFRQX0BC\n\n'));
  assert.equal(m!.command, 'bgapi status');
  assert.equal(headerValue(m!, 'Job-UUID'), '01M8CW4RRAETWBMVSJHFRQX0BC');
  assert.equal(m!.body, undefined);
});

test('CRs are ignored, blank lines before a message skipped, several messages per chunk', () => {
  const p = new EslFrameParser();
  const msgs = p.push(Buffer.from('\r\n\nauth ClueCon\r\n\r\napi status\n\nexit\n\n'));
  assert.deepEqual(msgs.map((m) => m.command), ['auth ClueCon', 'api status', 'exit']);
});

test('a message split byte by byte is reassembled', () => {
  const p = new EslFrameParser();
  const bytes = Buffer.from('sendmsg abc\ncall-command: execute\nexecute-app-name:   playback\nContent-Length: 5\n\nhé!x');
  const out = [];
  for (const b of bytes) out.push(...p.push(Buffer.from([b])));
  assert.equal(out.length, 1);
  assert.equal(headerValue(out[0]!, 'execute-app-name'), 'playback');
  assert.equal(out[0]!.body!.toString(), 'hé!x');
  assert.equal(p.bufferedBytes, 0);
});

test('lines without a colon are dropped; a non-numeric Content-Length means no body', () => {
  const p = new EslFrameParser();
  const [m] = p.push(Buffer.from('sendevent CUSTOM\nno colon here\nContent-Length: abc\n\n'));
  assert.deepEqual(m!.headers, [['Content-Length', 'abc']]);
  assert.equal(m!.body, undefined);
});

test('a Content-Length over the limit is refused at once', () => {
  const p = new EslFrameParser({ maxHeaderBytes: 1024, maxBodyBytes: 100 });
  assert.throws(() => p.push(Buffer.from('sendevent CUSTOM\nContent-Length: 999999999\n\n')), (err: unknown) => isAppError(err, 'ESL_FRAME_TOO_LARGE'));
});

test('a header block without end is refused past the limit', () => {
  const p = new EslFrameParser({ maxHeaderBytes: 1000, maxBodyBytes: 100 });
  for (let i = 0; i < 9; i++) p.push(Buffer.from(`X-${i}: ${'a'.repeat(100)}\n`));
  assert.throws(() => p.push(Buffer.from(`X-last: ${'a'.repeat(100)}\n`)), /longer than 1000 bytes/);
});
