import { mkdir, writeFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Next file number per channel: counted per channel, not per stream, so a new stream after `stop`
 * never reuses (and the old stream's cleanup never deletes) a name the new one wrote.
 */
const nextIndex = new WeakMap<object, number>();

/** The temp files of one stream, named `<dir>/<uuid>_<n>.tmp<ext>` as mod_audio_stream names them. */
export class PlayFiles {
  private readonly written: string[] = [];

  constructor(private readonly dir: string, private readonly channel: { readonly uuid: string }) {}

  /** Paths written so far. */
  get paths(): readonly string[] {
    return this.written;
  }

  /** Writes one decoded audio payload; returns its path. */
  async write(extension: string, audio: Buffer): Promise<string> {
    const n = nextIndex.get(this.channel) ?? 0;
    nextIndex.set(this.channel, n + 1);
    const path = join(this.dir, `${this.channel.uuid}_${n}.tmp${extension}`);
    await mkdir(this.dir, { recursive: true });
    await writeFile(path, audio);
    this.written.push(path);
    return path;
  }

  /** Deletes every file written; a file already gone is fine. */
  async deleteAll(): Promise<void> {
    const paths = this.written.splice(0);
    await Promise.all(paths.map((p) => unlink(p).catch(() => undefined)));
  }
}
