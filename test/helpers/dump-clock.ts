// When did a WAV dump get each of its samples? baresip's sndfile module writes what it decodes to
// `<dir>/dump-*-dec.wav` frame by frame as the call goes (libsndfile does not buffer), after
// baresip's jitter buffer. Polling the file's size every millisecond gives, for every sample, the
// performance.now() time it was written, to within the polling period: the dump's own timeline put
// on the test's clock.
import { readdirSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One observed size of the dump, and when it was first seen. */
export interface DumpGrowth {
  t: number;
  bytes: number;
}

/** A running watch of one dump directory. */
export interface DumpClock {
  readonly growth: DumpGrowth[];
  /** The file watched, once it exists. */
  readonly file: string | undefined;
  stop(): void;
  /**
   * performance.now() when sample `index` (mono s16) was written, or undefined if it never was.
   * Call after stop(), once the file is complete (its data chunk's offset is read from it).
   */
  writtenAt(index: number): number | undefined;
}

/** Watches `dir` for a file ending in `suffix` and records its size each time it changes. */
export function watchDump(dir: string, suffix = '-dec.wav', periodMs = 1): DumpClock {
  const growth: DumpGrowth[] = [];
  let file: string | undefined;
  const poll = () => {
    try {
      if (!file) {
        const name = readdirSync(dir).find((f) => f.endsWith(suffix));
        if (!name) return;
        file = join(dir, name);
      }
      const bytes = statSync(file).size;
      if (growth.length === 0 || growth.at(-1)!.bytes !== bytes) growth.push({ t: performance.now(), bytes });
    } catch {
      // Not there yet.
    }
  };
  const timer = setInterval(poll, periodMs);
  let dataOffset = -1;
  return {
    growth,
    get file() { return file; },
    stop: () => clearInterval(timer),
    writtenAt(index: number): number | undefined {
      if (!file) return undefined;
      if (dataOffset < 0) {
        const head = readFileSync(file).subarray(0, 4096);
        const at = head.indexOf('data', 12, 'latin1');
        if (at < 0) return undefined;
        dataOffset = at + 8;
      }
      const end = dataOffset + 2 * (index + 1);
      return growth.find((g) => g.bytes >= end)?.t;
    },
  };
}
