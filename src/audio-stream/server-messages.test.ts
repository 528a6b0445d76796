import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerMessageHandler, MAX_PENDING_SERVER_MESSAGES } from './server-messages.ts';
import { PlayFiles } from './play-files.ts';
import { Logger, addLogSink, type LogLevel } from '../lib/logger.ts';

const UUID = '6f1c2f53-8d4b-4c1e-9a51-0f3b2a7c9d10';

interface Recorded {
  kind: 'json' | 'play';
  body: string;
  path?: string;
}

interface LogLine {
  level: LogLevel;
  message: string;
}

let scopes = 0;

/** A temp dir, a logger with its own scope whose lines are recorded, and an event recorder; all undone after the test. */
function setup(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'as-server-messages-'));
  const scope = `server-messages-test(${scopes++})`;
  const logs: LogLine[] = [];
  const removeSink = addLogSink((level, s, message) => { if (s === scope) logs.push({ level, message }); });
  t.after(() => {
    removeSink();
    rmSync(dir, { recursive: true, force: true });
  });
  const events: Recorded[] = [];
  const handlers = {
    onJson: (text: string) => { events.push({ kind: 'json', body: text }); },
    onPlay: (body: string) => { events.push({ kind: 'play', body, path: (JSON.parse(body) as { file: string }).file }); },
  };
  let index = 0;
  const nextIndex = () => index++;
  return { dir, logs, events, handlers, log: new Logger(scope), nextIndex };
}

/** A PlayFiles whose writes wait until `open()` (or forever), to hold messages in the queue. */
class GatedPlayFiles extends PlayFiles {
  writes = 0;
  private gate: Promise<void>;
  private release!: () => void;
  constructor(dir: string, nextIndex: () => number) {
    super(dir, UUID, nextIndex);
    this.gate = new Promise((resolve) => { this.release = resolve; });
  }
  open(): void {
    this.release();
  }
  override async write(path: string, audio: Buffer): Promise<void> {
    this.writes++;
    await this.gate;
    return super.write(path, audio);
  }
}

/** A PlayFiles whose writes fail. */
class FailingPlayFiles extends PlayFiles {
  override async write(): Promise<void> {
    throw new Error('disk full');
  }
}

const pcm = Buffer.from([1, 2, 3, 4, 5, 6]);
const streamAudio = (extra: Record<string, unknown> = {}, audio = pcm) =>
  JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 8000, audioData: audio.toString('base64'), ...extra } });

test('events come in message order although file writes are asynchronous', async (t) => {
  const s = setup(t);
  const files = new GatedPlayFiles(s.dir, s.nextIndex);
  const h = new ServerMessageHandler(files, s.handlers, s.log, false);
  const a = streamAudio({ seq: 1 }, Buffer.from([9, 9]));
  const b = streamAudio({ seq: 2, sampleRate: 16000 }, Buffer.from([7, 7, 7, 7]));
  h.receive('first');
  h.receive(a);
  h.receive('{"type":"transcript","text":"after a"}');
  h.receive(b);
  h.receive('last');
  // The first json is handled on its own turn; the rest waits behind the first file write.
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.events, [{ kind: 'json', body: 'first' }]);
  assert.equal(files.writes, 1, 'the second streamAudio waits for the first');
  files.open();
  await h.settled();
  const f0 = join(s.dir, `${UUID}_0.tmp.r8`);
  const f1 = join(s.dir, `${UUID}_1.tmp.r16`);
  assert.deepEqual(s.events, [
    { kind: 'json', body: 'first' },
    { kind: 'play', body: JSON.stringify({ audioDataType: 'raw', sampleRate: 8000, seq: 1, file: f0 }), path: f0 },
    { kind: 'json', body: '{"type":"transcript","text":"after a"}' },
    { kind: 'play', body: JSON.stringify({ audioDataType: 'raw', sampleRate: 16000, seq: 2, file: f1 }), path: f1 },
    { kind: 'json', body: 'last' },
  ]);
  assert.deepEqual(readFileSync(f0), Buffer.from([9, 9]));
  assert.deepEqual(readFileSync(f1), Buffer.from([7, 7, 7, 7]));
  assert.deepEqual(s.logs.filter((l) => l.level === 'error'), []);
});

test('many streamAudio messages with a real PlayFiles: files numbered in order, events in order', async (t) => {
  const s = setup(t);
  const h = new ServerMessageHandler(new PlayFiles(s.dir, UUID, s.nextIndex), s.handlers, s.log, false);
  const sent: string[] = [];
  for (let i = 0; i < 20; i++) {
    const text = i % 3 === 2 ? `{"n":${i}}` : streamAudio({ n: i }, Buffer.from([i, i + 1]));
    sent.push(text);
    h.receive(text);
  }
  await h.settled();
  assert.equal(s.events.length, 20);
  let file = 0;
  s.events.forEach((e, i) => {
    if (i % 3 === 2) {
      assert.deepEqual(e, { kind: 'json', body: sent[i] });
      return;
    }
    const path = join(s.dir, `${UUID}_${file++}.tmp.r8`);
    assert.equal(e.kind, 'play');
    assert.equal(e.path, path);
    assert.deepEqual(JSON.parse(e.body), { audioDataType: 'raw', sampleRate: 8000, n: i, file: path });
    assert.deepEqual(readFileSync(path), Buffer.from([i, i + 1]));
  });
  assert.equal(readdirSync(s.dir).length, file);
});

test('a malformed streamAudio becomes a json event with its text verbatim, plus an error log', async (t) => {
  const s = setup(t);
  const h = new ServerMessageHandler(new PlayFiles(s.dir, UUID, s.nextIndex), s.handlers, s.log, true);
  const cases: Array<[string, string]> = [
    ['{"type":"streamAudio"}', 'processMessage - no data in streamAudio'],
    ['{"type":"streamAudio","data":[1]}', 'processMessage - no data in streamAudio'],
    ['{"type":"streamAudio","data":{"audioData":"AAAA"}}', 'processMessage - no audioDataType in streamAudio data'],
    ['{"type":"streamAudio","data":{"audioDataType":"flac","audioData":"AAAA"}}', 'processMessage - unsupported audio type: flac'],
    ['{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":12000,"audioData":"AAAA"}}', 'processMessage - unsupported sample rate: 12000'],
    ['{"type":"streamAudio","data":{"audioDataType":"raw","audioData":"AAAA"}}', 'processMessage - unsupported sample rate: undefined'],
    ['{"type":"streamAudio","data":{"audioDataType":"wav"}}', 'processMessage - no audioData string in streamAudio data'],
    ['{"type":"streamAudio","data":{"audioDataType":"wav","audioData":5}}', 'processMessage - no audioData string in streamAudio data'],
    ['{"type":"streamAudio","data":{"audioDataType":"wav","audioData":"A!!A"}}', 'processMessage - base64 decode error: Input is not valid base64-encoded data.'],
    ['{"type":"streamAudio","data":{"audioDataType":"wav","audioData":"AAAAA"}}', 'processMessage - base64 decode error: Input is not valid base64-encoded data.'],
  ];
  for (const [text] of cases) h.receive(text);
  // Not a streamAudio at all: json without an error.
  h.receive('not json {');
  h.receive('{"type":"other","data":{}}');
  await h.settled();
  assert.deepEqual(s.events, [...cases.map(([text]) => ({ kind: 'json', body: text })),
    { kind: 'json', body: 'not json {' }, { kind: 'json', body: '{"type":"other","data":{}}' }]);
  assert.deepEqual(s.logs, cases.map(([, message]) => ({ level: 'error', message })));
  assert.deepEqual(readdirSync(s.dir), [], 'no file written for a malformed message');
});

test('a play file that cannot be written becomes a json event and an error log', async (t) => {
  const s = setup(t);
  const h = new ServerMessageHandler(new FailingPlayFiles(s.dir, UUID, s.nextIndex), s.handlers, s.log, true);
  const text = streamAudio();
  h.receive(text);
  h.receive('next');
  await h.settled();
  assert.deepEqual(s.events, [{ kind: 'json', body: text }, { kind: 'json', body: 'next' }]);
  assert.deepEqual(s.logs, [{ level: 'error', message: 'processMessage - cannot write play file: disk full' }]);
});

test('STREAM_SUPPRESS_LOG removes only the per-message debug line', async (t) => {
  const malformed = '{"type":"streamAudio","data":{"audioDataType":"flac","audioData":"AAAA"}}';
  const long = `{"text":"${'x'.repeat(1200)}"}`;
  const texts = ['{"type":"hello"}', malformed, long];

  const loud = setup(t);
  const hl = new ServerMessageHandler(new PlayFiles(loud.dir, UUID, loud.nextIndex), loud.handlers, loud.log, false);
  for (const text of texts) hl.receive(text);
  await hl.settled();
  assert.deepEqual(loud.logs, [
    { level: 'debug', message: 'response: {"type":"hello"}' },
    { level: 'debug', message: `response: ${malformed}` },
    { level: 'error', message: 'processMessage - unsupported audio type: flac' }, // handled at once: nothing was ahead of it
    { level: 'debug', message: `response: ${long.slice(0, 1000)}...` },
  ]);

  const quiet = setup(t);
  const hq = new ServerMessageHandler(new PlayFiles(quiet.dir, UUID, quiet.nextIndex), quiet.handlers, quiet.log, true);
  for (const text of texts) hq.receive(text);
  await hq.settled();
  assert.deepEqual(quiet.logs, [{ level: 'error', message: 'processMessage - unsupported audio type: flac' }]);
  // The events are the same either way.
  assert.deepEqual(quiet.events, texts.map((body) => ({ kind: 'json', body })));
  assert.deepEqual(loud.events, quiet.events);
});

test('close() drops the messages still waiting', async (t) => {
  const s = setup(t);
  const files = new GatedPlayFiles(s.dir, s.nextIndex);
  const h = new ServerMessageHandler(files, s.handlers, s.log, true);
  h.receive('before');
  await h.settled();
  h.receive(streamAudio()); // its file write is in flight when close() comes
  await new Promise((r) => setImmediate(r));
  assert.equal(files.writes, 1);
  h.receive('waiting 1');
  h.receive(streamAudio({ seq: 2 }));
  h.receive('waiting 2');
  h.close();
  h.close(); // idempotent
  h.receive('after close');
  files.open();
  await h.settled();
  assert.deepEqual(s.events[0], { kind: 'json', body: 'before' });
  assert.deepEqual(s.events.slice(1), [], 'no event after close, not even for the write in flight');
  assert.equal(files.writes, 1, 'the second streamAudio never writes its file');
  assert.deepEqual(readdirSync(s.dir).filter((f) => f.includes('_1.')), []);

  // A message with nothing ahead of it is handled at once; a clip whose write is under way at close fires nothing.
  const s2 = setup(t);
  const h2 = new ServerMessageHandler(new PlayFiles(s2.dir, UUID, s2.nextIndex), s2.handlers, s2.log, true);
  h2.receive('a');
  assert.deepEqual(s2.events, [{ kind: 'json', body: 'a' }], 'at once');
  h2.receive(streamAudio());
  h2.receive('b');
  h2.close();
  await h2.settled();
  assert.deepEqual(s2.events, [{ kind: 'json', body: 'a' }], 'nothing after close');
});

test('a streamAudio whose file write is in flight at close() fires no play event', async (t) => {
  // After `stop` the channel is still up: a play event here would announce a file the stream's
  // cleanup deletes (and STREAM_PLAYBACK would queue it).
  const s = setup(t);
  const files = new GatedPlayFiles(s.dir, s.nextIndex);
  const h = new ServerMessageHandler(files, s.handlers, s.log, true);
  h.receive(streamAudio());
  await new Promise((r) => setImmediate(r));
  assert.equal(files.writes, 1);
  h.close();
  files.open();
  await h.settled();
  assert.deepEqual(s.events, [], 'no play event after close');
});

test(`at most ${MAX_PENDING_SERVER_MESSAGES} messages wait; the next one is dropped with an error log`, async (t) => {
  const s = setup(t);
  const files = new GatedPlayFiles(s.dir, s.nextIndex);
  const h = new ServerMessageHandler(files, s.handlers, s.log, true);
  const first = streamAudio({ seq: 0 });
  h.receive(first); // holds the queue: its write does not resolve
  for (let i = 1; i < MAX_PENDING_SERVER_MESSAGES; i++) h.receive(`{"n":${i}}`);
  assert.deepEqual(s.logs, [], 'the bound is not reached yet');
  h.receive('{"n":"dropped"}');
  assert.deepEqual(s.logs, [{
    level: 'error',
    message: `processMessage - ${MAX_PENDING_SERVER_MESSAGES} server messages still waiting for their files: message dropped`,
  }]);
  h.receive('{"n":"dropped too"}');
  assert.equal(s.logs.length, 2);
  assert.equal(s.events.length, 0, 'nothing handled while the first write hangs');

  files.open();
  await h.settled();
  const path = join(s.dir, `${UUID}_0.tmp.r8`);
  assert.equal(s.events.length, MAX_PENDING_SERVER_MESSAGES);
  assert.deepEqual(s.events[0], { kind: 'play', body: JSON.stringify({ audioDataType: 'raw', sampleRate: 8000, seq: 0, file: path }), path });
  assert.deepEqual(s.events.slice(1).map((e) => e.body), Array.from({ length: MAX_PENDING_SERVER_MESSAGES - 1 }, (_, i) => `{"n":${i + 1}}`));
  assert.ok(!s.events.some((e) => e.body.includes('dropped')));

  // Once drained, messages are accepted again.
  h.receive('{"n":"again"}');
  await h.settled();
  assert.deepEqual(s.events.at(-1), { kind: 'json', body: '{"n":"again"}' });
  assert.equal(s.logs.length, 2);
});

test('settled() resolves once every message received so far is handled', async (t) => {
  const s = setup(t);
  const h = new ServerMessageHandler(new PlayFiles(join(s.dir, 'nested', 'dir'), UUID, s.nextIndex), s.handlers, s.log, true);
  await h.settled(); // nothing received: resolves at once
  assert.equal(s.events.length, 0);
  h.receive(streamAudio({ seq: 1 }));
  h.receive(streamAudio({ seq: 2 }, Buffer.from([0xff])));
  h.receive('done');
  await h.settled();
  assert.deepEqual(s.events.map((e) => e.kind), ['play', 'play', 'json']);
  const p0 = join(s.dir, 'nested', 'dir', `${UUID}_0.tmp.r8`);
  const p1 = join(s.dir, 'nested', 'dir', `${UUID}_1.tmp.r8`);
  assert.deepEqual(s.events.map((e) => e.path), [p0, p1, undefined]);
  assert.deepEqual(readFileSync(p0), pcm, 'the file is written (its directory made) before settled() resolves');
  assert.deepEqual(readFileSync(p1), Buffer.from([0xff]));
});

test('a text message over maxJsonEventBytes is dropped with one error log naming its size and the bound, counted, no event; a streamAudio may be larger', async (t) => {
  const s = setup(t);
  const dropped: number[] = [];
  const h = new ServerMessageHandler(new PlayFiles(s.dir, UUID, s.nextIndex), { ...s.handlers, onJsonDropped: (bytes) => { dropped.push(bytes); } },
    s.log, false, undefined, 1000);
  const atBound = `{"t":"${'a'.repeat(1000 - 8)}"}`;
  assert.equal(Buffer.byteLength(atBound), 1000);
  h.receive(atBound);
  h.receive(`{"t":"${'a'.repeat(1000 - 7)}"}`); // 1001 bytes
  h.receive(`{"t":"${'é'.repeat(400)}"}`); // 408 characters, 808 bytes: within the bound
  h.receive(`{"t":"${'é'.repeat(600)}"}`); // 608 characters, 1208 bytes: over it, though fewer characters than the bound
  h.receive('x'.repeat(5000)); // not JSON at all
  h.receive(`{"type":"mark","data":{"name":"${'m'.repeat(2000)}"}}`);
  const big = streamAudio({ n: 1 }, Buffer.alloc(3000, 1)); // about 4 KB of base64: its audio goes to a file
  h.receive(big);
  await h.settled();
  assert.deepEqual(s.events.map((e) => e.kind), ['json', 'json', 'play']);
  assert.equal(s.events[0]!.body, atBound);
  assert.equal(Buffer.byteLength(s.events[1]!.body), 808);
  assert.deepEqual(dropped, [1001, 1208, 5000, 2034]);
  const errors = s.logs.filter((l) => l.level === 'error').map((l) => l.message);
  assert.deepEqual(errors, [1001, 1208, 5000, 2034].map((n) => `processMessage - a text message of ${n} bytes is over the bound of 1000 bytes (stream.maxJsonEventBytes): dropped, no json event`));
});

test('the json event bound defaults to 1 MiB', async (t) => {
  const s = setup(t);
  const h = new ServerMessageHandler(new PlayFiles(s.dir, UUID, s.nextIndex), s.handlers, s.log, false);
  h.receive('b'.repeat(1 << 20));
  h.receive('c'.repeat((1 << 20) + 1));
  await h.settled();
  assert.equal(s.events.length, 1);
  assert.equal(s.events[0]!.body.length, 1 << 20);
});
