import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync, openSync, closeSync, constants, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PlayFiles, PlayFileStore, checkTempDir, PLAY_FILE_FS_TIMEOUT_MS } from './play-files.ts';
import { isAppError } from '../lib/errors.ts';

const UUID = '0a6d7c1e-5b2f-4a8e-9c3d-1e2f3a4b5c6d';
const OTHER = '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'as-play-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function counter(): () => number {
  let n = 0;
  return () => n++;
}

test('the budget per stream and in total: refused before anything is written, released when the files are deleted', async (t) => {
  const dir = join(tempDir(t), 'play');
  const store = new PlayFileStore(dir, { totalBytes: 1000, perStreamBytes: 600 });
  const a = new PlayFiles(dir, UUID, counter(), store);
  const b = new PlayFiles(dir, OTHER, counter(), store);
  await a.write(a.nextPath('.r8'), Buffer.alloc(400, 1));
  const over = a.nextPath('.r8');
  await assert.rejects(a.write(over, Buffer.alloc(201, 2)), (err: unknown) =>
    isAppError(err, 'PLAY_FILE_REFUSED') && /over the play-file budget \(600 bytes per stream \/ 1000 bytes in total\)/.test(err.message));
  assert.equal(existsSync(over), false, 'nothing written for the refused reply');
  await a.write(a.nextPath('.r8'), Buffer.alloc(200, 3)); // exactly at the stream's budget
  assert.equal(a.heldBytes, 600);
  // The total: 600 held by a, so b gets 400 and no more, although its own budget is 600.
  await b.write(b.nextPath('.r16'), Buffer.alloc(400, 4));
  await assert.rejects(b.write(b.nextPath('.r16'), Buffer.alloc(1, 5)), /over the play-file budget/);
  assert.equal(store.usedBytes, 1000);
  assert.equal(store.refused, 2);
  assert.deepEqual(readdirSync(dir).sort(), [`${UUID}_0.tmp.r8`, `${UUID}_2.tmp.r8`, `${OTHER}_0.tmp.r16`].sort());
  await a.deleteAll();
  assert.equal(store.usedBytes, 400, "a's bytes are released once its files are gone");
  assert.equal(a.heldBytes, 0);
  const next = b.nextPath('.r16');
  await b.write(next, Buffer.alloc(200, 6));
  assert.deepEqual(readFileSync(next), Buffer.alloc(200, 6), "room again in the total once a released its 600 bytes");
  assert.equal(next, join(dir, `${OTHER}_2.tmp.r16`), 'the refused reply kept its number (1), as the module counts every file it tries');
  await b.deleteAll();
  assert.equal(store.usedBytes, 0);
  assert.deepEqual(readdirSync(dir), []);
});

test('an empty payload is refused: no empty file', async (t) => {
  const dir = tempDir(t);
  const store = new PlayFileStore(dir);
  const files = new PlayFiles(dir, UUID, counter(), store);
  const path = files.nextPath('.r8');
  await assert.rejects(files.write(path, Buffer.alloc(0)), (err: unknown) => isAppError(err, 'PLAY_FILE_REFUSED') && /0 bytes/.test(err.message));
  assert.equal(existsSync(path), false);
  assert.equal(store.refused, 1);
});

test('the store knows which channel holds which written file, by real path, until it is deleted', async (t) => {
  const root = tempDir(t);
  const real = join(root, 'real');
  const link = join(root, 'link');
  const store = new PlayFileStore(real);
  const files = new PlayFiles(real, UUID, counter(), store);
  await files.write(files.nextPath('.r8'), Buffer.from([1, 2]));
  symlinkSync(real, link);
  const held = join(realpathSync(real), `${UUID}_0.tmp.r8`);
  assert.equal(store.holds(UUID, held), true);
  assert.equal(store.holds(OTHER, held), false, 'not the file of another channel');
  assert.equal(store.holds(UUID, join(realpathSync(real), `${UUID}_1.tmp.r8`)), false);
  await files.deleteAll();
  assert.equal(store.holds(UUID, held), false);
});

test('the directory is made once (mkdir -p), and again when it was removed', async (t) => {
  const dir = join(tempDir(t), 'a', 'b', 'c');
  const store = new PlayFileStore(dir);
  const files = new PlayFiles(dir, UUID, counter(), store);
  const first = store.ensureDir();
  assert.equal(store.ensureDir(), first, 'one mkdir for every write');
  await files.write(files.nextPath('.r8'), Buffer.from([1]));
  rmSync(dir, { recursive: true });
  await assert.rejects(files.write(files.nextPath('.r8'), Buffer.from([2])), /ENOENT/);
  const p = files.nextPath('.r8');
  await files.write(p, Buffer.from([3]));
  assert.deepEqual(readFileSync(p), Buffer.from([3]));
  await files.deleteAll();
  assert.equal(store.usedBytes, 0, 'the failed write released its bytes too');
});

test('a directory under /proc fails at once instead of never settling', { timeout: 5000 }, async () => {
  const store = new PlayFileStore('/proc/audio-stream-test/x');
  const files = new PlayFiles('/proc/audio-stream-test/x', UUID, counter(), store);
  await assert.rejects(files.write(files.nextPath('.r8'), Buffer.from([1])), /ENOENT/);
  assert.equal(store.usedBytes, 0);
});

test('a write the file system never answers is refused after the bound, and the chain of messages moves on', { timeout: PLAY_FILE_FS_TIMEOUT_MS + 20_000 }, async (t) => {
  const dir = tempDir(t);
  const store = new PlayFileStore(dir);
  const files = new PlayFiles(dir, UUID, counter(), store);
  // A FIFO without a reader: opening it for writing blocks in the kernel, as a hung file system does.
  const stuck = files.nextPath('.r8');
  execFileSync('mkfifo', [stuck]);
  const started = Date.now();
  await assert.rejects(files.write(stuck, Buffer.from([1, 2])), (err: unknown) =>
    isAppError(err, 'PLAY_FILE_REFUSED') && /did not answer within/.test(err.message));
  assert.ok(Date.now() - started >= PLAY_FILE_FS_TIMEOUT_MS - 100);
  const next = files.nextPath('.r8');
  await files.write(next, Buffer.from([3]));
  assert.deepEqual(readFileSync(next), Buffer.from([3]));
  // Unblock the stuck open (a reader appears), then the cleanup deletes both.
  const fd = openSync(stuck, constants.O_RDONLY | constants.O_NONBLOCK);
  const deleted = files.deleteAll();
  await new Promise((r) => setTimeout(r, 200));
  closeSync(fd);
  await deleted;
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(store.usedBytes, 0);
});

test('checkTempDir: made and probed; refused under /proc or /sys (symlinks resolved) and when not a directory', (t) => {
  const root = tempDir(t);
  const ok = checkTempDir(join(root, 'new', 'dir'));
  assert.ok(ok.ok);
  assert.equal(ok.value, join(realpathSync(root), 'new', 'dir'));
  assert.deepEqual(readdirSync(join(root, 'new', 'dir')), [], 'the probe file is gone');
  const proc = checkTempDir('/proc/x');
  assert.ok(!proc.ok && proc.error.code === 'STARTUP_FAILED');
  assert.match(proc.error.message, /under \/proc/);
  assert.match((checkTempDir('/sys/kernel/x') as { error: Error }).error.message, /under \/sys/);
  symlinkSync('/proc/self', join(root, 'to-proc'));
  const viaLink = checkTempDir(join(root, 'to-proc', 'x'));
  assert.ok(!viaLink.ok);
  assert.match(viaLink.error.message, /resolves to \/proc\/\d+\/x, which is under \/proc/);
  writeFileSync(join(root, 'file'), 'x');
  const notDir = checkTempDir(join(root, 'file', 'x'));
  assert.ok(!notDir.ok);
  assert.match(notDir.error.message, /not a directory/);
});
