// FreeSWITCH's generated "files": tone_stream:// and silence_stream:// (mod_tone_stream), played
// wherever a file is (playback, uuid_broadcast, sendmsg execute playback). The prefix is matched
// as FreeSWITCH looks its file modules up: exactly, lower case (TONE_STREAM:// is a missing file).
import { readFile, stat } from 'node:fs/promises';
import { ToneGenerator, splitToneStreamSpec, MAX_TONE_SCRIPT_CHARS } from '../audio/teletone.ts';
import { SilenceGenerator, parseSilenceSpec } from '../audio/silence-stream.ts';
import type { SampleSource } from '../audio/sample-source.ts';
import { AppError, fail, messageOf, ok, type Result } from '../lib/errors.ts';

export const TONE_STREAM_PREFIX = 'tone_stream://';
export const SILENCE_STREAM_PREFIX = 'silence_stream://';
/** Largest path= tone file, in bytes. */
export const MAX_TONE_FILE_BYTES = 64 << 10;

/** True for a path played by a generator rather than read from disk. */
export function isStreamPath(path: string): boolean {
  return path.startsWith(TONE_STREAM_PREFIX) || path.startsWith(SILENCE_STREAM_PREFIX);
}

/** A generator ready to play, and what FreeSWITCH would have skipped in its script. */
export interface OpenedStream {
  source: SampleSource;
  problems: string[];
}

/** Reads a path= tone file of at most `maxBytes` (playback gives one that reads only from the sound directories). */
export type ToneFileReader = (file: string, maxBytes: number) => Promise<Buffer>;

/**
 * Opens a tone_stream:// or silence_stream:// at `rateHz`. Throws an AppError (TONE_STREAM_INVALID)
 * when it cannot be played at all: over the bounds, or a path= file that cannot be read (as
 * FreeSWITCH fails to open it; PLAYBACK_NOT_FOUND when `readFile` refuses it). A script with
 * syntax errors plays what FreeSWITCH plays of it.
 */
export async function openStream(path: string, rateHz: number, readFile: ToneFileReader = readAnyFile): Promise<OpenedStream> {
  if (path.startsWith(SILENCE_STREAM_PREFIX)) {
    return { source: new SilenceGenerator(parseSilenceSpec(path.slice(SILENCE_STREAM_PREFIX.length)), rateHz), problems: [] };
  }
  const spec = splitToneStreamSpec(path.slice(TONE_STREAM_PREFIX.length));
  let lines: string[];
  if (spec.file !== undefined) {
    lines = await readToneFile(spec.file, readFile);
  } else {
    lines = [spec.script!];
  }
  const created = ToneGenerator.create(lines, spec.plays, rateHz);
  if (!created.ok) throw created.error;
  return { source: created.value.generator, problems: created.value.problems };
}

/** Any file, as FreeSWITCH reads one (library use). */
async function readAnyFile(file: string, maxBytes: number): Promise<Buffer> {
  const size = (await stat(file)).size;
  if (size > maxBytes) throw new AppError('TONE_STREAM_INVALID', `the tone file ${file} is larger than ${maxBytes} bytes`);
  return readFile(file);
}

/** The lines of a path= tone file (each is run as a script, in order). */
async function readToneFile(file: string, read: ToneFileReader): Promise<string[]> {
  let data: Buffer;
  try {
    data = await read(file, MAX_TONE_FILE_BYTES);
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('TONE_STREAM_INVALID', `cannot read the tone file ${file}: ${messageOf(err)}`, { cause: err });
  }
  return data.toString('utf8').split('\n').filter((line) => line.trim() !== '');
}

/**
 * Checks a route's `playback` data at config load: an inline tone_stream:// must be within the
 * bounds and free of the mistakes FreeSWITCH skips silently (data with ${variables} is checked
 * when it runs).
 */
export function checkStreamPath(path: string): Result<void> {
  if (!path.startsWith(TONE_STREAM_PREFIX) || path.includes('${')) return ok(undefined);
  const spec = splitToneStreamSpec(path.slice(TONE_STREAM_PREFIX.length));
  if (spec.file !== undefined) return ok(undefined);
  if (spec.script!.length > MAX_TONE_SCRIPT_CHARS) return fail('INVALID_ARGUMENT', `the tone script is longer than ${MAX_TONE_SCRIPT_CHARS} characters`);
  const created = ToneGenerator.create([spec.script!], spec.plays, 8000);
  if (!created.ok) return fail('INVALID_ARGUMENT', created.error.message);
  if (created.value.problems.length > 0) return fail('INVALID_ARGUMENT', `${path}: ${created.value.problems.join('; ')}`);
  return ok(undefined);
}
