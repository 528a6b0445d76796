import { mkdir, writeFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The temp files of one stream, named `<dir>/<uuid>_<n>.tmp<ext>` as mod_audio_stream names them. */
export class PlayFiles {
  private readonly written: string[] = [];

  /**
   * `nextIndex` numbers the files of the channel, not of the stream, so a new stream after `stop`
   * never reuses (and the old stream's cleanup never deletes) a name the new one wrote.
   */
  constructor(private readonly dir: string, private readonly uuid: string, private readonly nextIndex: () => number) {}

  /** The path of the next file: numbered now, in message order. */
  nextPath(extension: string): string {
    return join(this.dir, `${this.uuid}_${this.nextIndex()}.tmp${extension}`);
  }

  /** Writes one decoded audio payload at a path from nextPath(). */
  async write(path: string, audio: Buffer): Promise<void> {
    this.written.push(path); // deleted at the end even if the write fails halfway
    await mkdir(this.dir, { recursive: true });
    await writeFile(path, audio);
  }

  /** Deletes every file written; a file already gone is fine. */
  async deleteAll(): Promise<void> {
    const paths = this.written.splice(0);
    await Promise.all(paths.map((p) => unlink(p).catch(() => undefined)));
  }
}
