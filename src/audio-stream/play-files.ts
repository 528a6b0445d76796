import { mkdir, writeFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The temp files of one stream, named `<dir>/<uuid>_<n>.tmp<ext>` as mod_audio_stream names them. */
export class PlayFiles {
  private counter = 0;
  private readonly written: string[] = [];

  constructor(private readonly dir: string, private readonly uuid: string) {}

  /** Paths written so far. */
  get paths(): readonly string[] {
    return this.written;
  }

  /** Writes one decoded audio payload; returns its path. */
  async write(extension: string, audio: Buffer): Promise<string> {
    const path = join(this.dir, `${this.uuid}_${this.counter++}.tmp${extension}`);
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
