// docs/errors.md and the error codes of the code stay in step: every code is documented, every
// documented code exists and is raised somewhere, and the stream table gives each STREAM_* code
// the number the module reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '../../src/lib/errors.ts';
import { STREAM_ERROR_NUMBERS } from '../../src/audio-stream/errors.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');

function section(title: string): string {
  const start = doc.indexOf(`## ${title}`);
  assert.ok(start >= 0, `docs/errors.md has a "## ${title}" section`);
  const end = doc.indexOf('\n## ', start + 3);
  return doc.slice(start, end < 0 ? undefined : end);
}

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (e.endsWith('.ts') && !e.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

test('every error code is in docs/errors.md, and nothing else is', () => {
  const documented = [...section('Every error code').matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
  assert.deepEqual([...documented].sort(), Object.keys(ERROR_CODES).sort());
  assert.equal(new Set(documented).size, documented.length, 'each code once');
});

test('the stream table gives every STREAM_* code the number of its event', () => {
  const rows = [...section('Stream error codes').matchAll(/^\| (\d+) \| ([A-Z_]+) \|/gm)].map((m) => [`STREAM_${m[2]}`, Number(m[1])]);
  assert.deepEqual(Object.fromEntries(rows), STREAM_ERROR_NUMBERS);
});

test('every error code is raised somewhere in src/', () => {
  const text = sources(join(ROOT, 'src')).filter((p) => !p.endsWith(join('lib', 'errors.ts'))).map((p) => readFileSync(p, 'utf8')).join('\n');
  // A code counts as raised where it is written as a string: fail('X', ...), new AppError('X', ...).
  const unused = Object.keys(ERROR_CODES).filter((code) => !text.includes(`'${code}'`));
  assert.deepEqual(unused, [], 'codes nothing raises should be removed from the catalog and the docs');
});
