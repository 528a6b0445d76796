// Where a channel may play files from (issue 10, item 7): the configured sound directories
// (sounds.dirs; a relative name is looked up in each, in order, as FreeSWITCH prefixes its sound
// directory) and the play files its own stream wrote. Every refusal (missing, outside, unreadable,
// not a regular file) gives the caller the same text, so nobody learns whether a path exists.
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, sep } from 'node:path';
import { AppError } from '../lib/errors.ts';

/** The one text of every refused file: Playback-Error of its PLAYBACK_STOP, and the log line. */
export const PLAY_FILE_NOT_FOUND = 'file not found or not allowed';

/** A file found for playback: the path events name (as FreeSWITCH names a prefixed file), and its real path, which is opened. */
export interface PlayFileLocation {
  path: string;
  realPath: string;
}

/** Decides which files a channel may play. */
export interface PlayFileAccess {
  /** The file `path` names for channel `uuid`, when it may be played; undefined otherwise (whatever the reason). */
  locate(path: string, uuid: string): Promise<PlayFileLocation | undefined>;
}

function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Files under the sound directories, and the files `ownFile` says the channel's stream wrote.
 * Containment is checked on real paths (`..` and symlinks resolved), so a link out of a sound
 * directory leads nowhere. The directories are resolved on each lookup: one made later counts.
 */
export class SoundDirectories implements PlayFileAccess {
  constructor(
    readonly dirs: readonly string[],
    private readonly ownFile: (uuid: string, realPath: string) => boolean = () => false,
  ) {}

  async locate(path: string, uuid: string): Promise<PlayFileLocation | undefined> {
    if (path === '' || path.includes('\0')) return undefined;
    const roots = (await Promise.all(this.dirs.map((d) => realpath(d).catch(() => undefined)))).filter((d) => d !== undefined);
    const candidates = isAbsolute(path) ? [path] : this.dirs.map((d) => `${d.endsWith(sep) ? d.slice(0, -1) : d}${sep}${path}`);
    for (const candidate of candidates) {
      const real = await realpath(candidate).catch(() => undefined);
      if (real === undefined) continue;
      if (roots.some((root) => isUnder(real, root)) || this.ownFile(uuid, real)) return { path: candidate, realPath: real };
    }
    return undefined;
  }
}

/**
 * Reads a file to play, at most `maxBytes` (`tooLarge` says why not, once the file is known to be
 * playable). With `access` the file must be one it allows, and every refusal is PLAYBACK_NOT_FOUND
 * with the one text; without (library use, the stream CLI) any path is read, errors as they come.
 * Opened without following a last symlink and without blocking (a FIFO is refused, not waited
 * on); the opened file itself is checked, so what is read is what was allowed.
 */
export async function readPlayFile(path: string, uuid: string, access: PlayFileAccess | undefined, maxBytes: number,
  tooLarge: (bytes: number) => AppError): Promise<{ data: Buffer; path: string }> {
  let opened = path;
  let shown = path;
  if (access) {
    const found = await access.locate(path, uuid);
    if (!found) throw new AppError('PLAYBACK_NOT_FOUND', PLAY_FILE_NOT_FOUND);
    opened = found.realPath;
    shown = found.path;
  }
  const refuse = (err: unknown): never => {
    if (access) throw new AppError('PLAYBACK_NOT_FOUND', PLAY_FILE_NOT_FOUND, { cause: err });
    throw err;
  };
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (access ? constants.O_NOFOLLOW : 0);
  const handle = await open(opened, flags).catch(refuse);
  try {
    const info = await handle.stat().catch(refuse);
    if (!info.isFile()) refuse(new Error(`${path} is not a regular file`));
    if (info.size > maxBytes) throw tooLarge(info.size);
    const data = await handle.readFile().catch(refuse);
    if (data.length > maxBytes) throw tooLarge(data.length); // it grew while read
    return { data, path: shown };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
