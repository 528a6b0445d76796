import { mkdir, realpath, unlink, writeFile } from 'node:fs/promises';
import { mkdirSync, realpathSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { AppError, messageOf, type Result, fail, ok } from '../lib/errors.ts';

/** Longest a file system call of a play file may take, in ms: past it the write is refused and the message chain moves on. */
export const PLAY_FILE_FS_TIMEOUT_MS = 10_000;

/** Directories a tempDir may not be in: pseudo file systems, where mkdir or writes never behave as on a disk. */
const PSEUDO_FS_ROOTS = ['/proc', '/sys'];

const MIB = 1048576;

/** Bytes of play files allowed: all streams of an engine together, and each stream. */
export interface PlayFileBudget {
  totalBytes: number;
  perStreamBytes: number;
}

/** Resolves or rejects as `p` does, or rejects after `ms` (real time: a file system call is real I/O); the call itself is not cancelled. */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError('PLAY_FILE_REFUSED', `${what}: the file system did not answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * `mkdir -p`, one directory at a time. Node 20's `mkdir(dir, { recursive: true })` never settles
 * (and spins a thread) under /proc; a plain mkdir answers ENOENT there at once.
 */
async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      await mkdir(d);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') break;
      if (code !== 'ENOENT' || dirname(d) === d) throw err;
      missing.push(d);
    }
  }
  for (const d of missing.reverse()) {
    await mkdir(d).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err; });
  }
}

/** The real path of `path`, which need not exist: the real path of its longest existing ancestor, then the rest. */
function realPathOf(path: string): string {
  const rest: string[] = [];
  for (let d = resolve(path); ; d = dirname(d)) {
    try {
      return join(realpathSync(d), ...rest.reverse());
    } catch {
      if (dirname(d) === d) return resolve(path);
      rest.push(basename(d));
    }
  }
}

function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root + sep);
}

/**
 * The start-up check of `tempDir` (config key tempDir): not under /proc or /sys once symlinks are
 * resolved, creatable (mkdir -p) and writable (a probe file written and deleted). Synchronous: it
 * runs before anything listens. Ok with the directory's real path, or the reason it cannot be used.
 */
export function checkTempDir(dir: string): Result<string> {
  const real = realPathOf(dir);
  const root = PSEUDO_FS_ROOTS.find((r) => isUnder(real, r));
  if (root) return fail('STARTUP_FAILED', `${real === resolve(dir) ? 'is' : `resolves to ${real}, which is`} under ${root}, not a disk`);
  try {
    mkdirSync(real, { recursive: true });
    const probe = join(real, `.audio-stream-probe-${process.pid}`);
    writeFileSync(probe, 'probe');
    unlinkSync(probe);
  } catch (err) {
    return fail('STARTUP_FAILED', `cannot be used: ${describeFsError(err)}`);
  }
  return ok(realpathSync(real));
}

/** An errno error as a short reason ("permission denied"), the message otherwise. */
function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const text: Record<string, string> = {
    EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system',
    ENOTDIR: 'a part of the path is not a directory', ENOSPC: 'no space left on the device', EEXIST: 'a file of that name exists',
  };
  return (e.code && text[e.code]) ?? messageOf(err);
}

/**
 * The play files of one engine: its directory (made once, not per write), the bytes held by
 * every stream against the total budget, and which channel holds which file (the files a channel
 * may play, docs: sounds.dirs). Bytes are released when their files are deleted.
 */
export class PlayFileStore {
  /** Bytes of play files written and not yet deleted, all streams. */
  usedBytes = 0;
  /** streamAudio replies refused: over a budget, empty, or the file system did not answer. */
  refused = 0;
  private dirReady: Promise<string> | undefined;
  /** Real path of a file written and not yet deleted -> the channel whose stream wrote it. */
  private readonly held = new Map<string, string>();

  constructor(readonly dir: string, readonly budget: PlayFileBudget = { totalBytes: Infinity, perStreamBytes: Infinity }) {}

  /** The directory made (once; again after a failure) and its real path. */
  ensureDir(): Promise<string> {
    if (this.dirReady) return this.dirReady;
    const ready = bounded(makeDirs(this.dir).then(() => realpath(this.dir)), PLAY_FILE_FS_TIMEOUT_MS, `cannot make ${this.dir}`);
    ready.catch(() => { if (this.dirReady === ready) this.dirReady = undefined; });
    this.dirReady = ready;
    return ready;
  }

  /** Forgets that the directory was made (a write found it gone). */
  dirLost(): void {
    this.dirReady = undefined;
  }

  /** True when `realPath` is a play file written by the stream of channel `uuid` and not yet deleted. */
  holds(uuid: string, realPath: string): boolean {
    return this.held.get(realPath) === uuid;
  }

  /** @internal PlayFiles' bookkeeping. */
  hold(realPath: string, uuid: string): void {
    this.held.set(realPath, uuid);
  }

  /** @internal */
  release(realPath: string | undefined, bytes: number): void {
    if (realPath !== undefined) this.held.delete(realPath);
    this.usedBytes -= bytes;
  }

  /** The budget in words, for the refusal log line. */
  describeBudget(): string {
    const mib = (n: number) => (!Number.isFinite(n) ? 'no limit' : n % MIB === 0 ? `${n / MIB} MiB` : `${n} bytes`);
    return `${mib(this.budget.perStreamBytes)} per stream / ${mib(this.budget.totalBytes)} in total`;
  }
}

/** One file written (or being written) by a stream. */
interface WrittenFile {
  path: string;
  bytes: number;
  /** Set once written: the path the store holds it by. */
  realPath: string | undefined;
  /** Settles when the write has settled (written or failed), even when the caller stopped waiting for it. */
  settled: Promise<void>;
}

/**
 * The temp files of one stream, named `<dir>/<uuid>_<n>.tmp<ext>` as mod_audio_stream names them,
 * within the engine's budget (PlayFileStore): a write that would take the stream or the engine
 * over it, or an empty one, is refused before anything is written. A refused reply keeps the number
 * it was given (as the module's counter moves for every file it tries to write), so later files are
 * numbered as the module numbers them.
 */
export class PlayFiles {
  private readonly written: WrittenFile[] = [];
  /** Bytes this stream holds in files not yet deleted. */
  private bytes = 0;

  /**
   * `nextIndex` numbers the files of the channel, not of the stream, so a new stream after `stop`
   * never reuses (and the old stream's cleanup never deletes) a name the new one wrote. Without a
   * store (library use, tests) the stream has its own, without a budget.
   */
  constructor(private readonly dir: string, private readonly uuid: string, private readonly nextIndex: () => number,
    private readonly store: PlayFileStore = new PlayFileStore(dir)) {}

  /** The path of the next file: numbered now, in message order. */
  nextPath(extension: string): string {
    return join(this.dir, `${this.uuid}_${this.nextIndex()}.tmp${extension}`);
  }

  /** Bytes this stream holds in play files. */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * Writes one decoded audio payload at a path from nextPath(); rejects (PLAY_FILE_REFUSED) without
   * writing when it is empty or over the budget, and when the file system does not answer in time.
   */
  async write(path: string, audio: Buffer): Promise<void> {
    const store = this.store;
    const { perStreamBytes, totalBytes } = store.budget;
    if (audio.length === 0) {
      store.refused++;
      throw new AppError('PLAY_FILE_REFUSED', 'the audio decodes to 0 bytes: no empty file is written');
    }
    if (this.bytes + audio.length > perStreamBytes || store.usedBytes + audio.length > totalBytes) {
      store.refused++;
      throw new AppError('PLAY_FILE_REFUSED', `over the play-file budget (${store.describeBudget()}): ` +
        `${audio.length} bytes more, with ${this.bytes} held by this stream and ${store.usedBytes} by all`);
    }
    // Counted from now until the file is deleted, so writes in flight count too.
    this.bytes += audio.length;
    store.usedBytes += audio.length;
    const file: WrittenFile = { path, bytes: audio.length, realPath: undefined, settled: Promise.resolve() };
    this.written.push(file); // deleted at the end even if the write fails halfway
    // A failed write is cleaned up before it rejects, so its bytes are free when the caller hears of it.
    const work = this.writeFile(file, audio).catch(async (err: unknown) => {
      await this.drop(file);
      throw err;
    });
    file.settled = work.then(() => undefined, () => undefined);
    try {
      await bounded(work, PLAY_FILE_FS_TIMEOUT_MS, `cannot write ${path}`);
    } catch (err) {
      if (err instanceof AppError) store.refused++;
      throw err;
    }
  }

  private async writeFile(file: WrittenFile, audio: Buffer): Promise<void> {
    const realDir = await this.store.ensureDir();
    try {
      await writeFile(file.path, audio);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.store.dirLost(); // removed under us: made again next time
      throw err;
    }
    file.realPath = join(realDir, basename(file.path));
    this.store.hold(file.realPath, this.uuid);
  }

  /** A failed write: what it left is deleted and its bytes released. */
  private async drop(file: WrittenFile): Promise<void> {
    const i = this.written.indexOf(file);
    if (i < 0) return; // deleteAll took it
    this.written.splice(i, 1);
    await unlink(file.path).catch(() => undefined);
    this.released(file);
  }

  private released(file: WrittenFile): void {
    this.bytes -= file.bytes;
    this.store.release(file.realPath, file.bytes);
  }

  /** Deletes every file written (waiting for writes in flight, at most PLAY_FILE_FS_TIMEOUT_MS); a file already gone is fine. */
  async deleteAll(): Promise<void> {
    const files = this.written.splice(0);
    const deleted = files.map(async (file) => {
      await file.settled;
      await unlink(file.path).catch(() => undefined);
      this.released(file);
    });
    await bounded(Promise.all(deleted), PLAY_FILE_FS_TIMEOUT_MS, `cannot delete the play files of ${this.uuid}`).catch(() => undefined);
  }
}
