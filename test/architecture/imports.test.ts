// The layering of src/ holds: no import goes to a layer its layer may not use, no file reaches
// itself through its imports, and the table itself has no circle. docs/architecture.md draws the
// same table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkImports, importsOf, layerOf, LAYERS } from '../../scripts/check-imports.ts';

const SIP_LAYERS = Object.keys(LAYERS).filter((l) => l.startsWith('sip/'));

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('src/ imports downward only and has no circle', () => {
  const r = checkImports(join(ROOT, 'src'));
  assert.ok(r.files > 100 && r.imports > 300, `the check saw the tree (${r.files} files, ${r.imports} imports)`);
  assert.deepEqual(r.violations.map((v) => `${v.from} -> ${v.to}`), []);
  assert.deepEqual(r.cycles.map((c) => c.join(' -> ')), []);
  assert.deepEqual(r.layerCycles, []);
});

test('every folder of src/ is a layer of the table, and docs/architecture.md draws the same table', () => {
  const folders = (dir: string, prefix = ''): string[] => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())
    .flatMap((e) => [`${prefix}${e.name}`, ...folders(join(dir, e.name), `${prefix}${e.name}/`)]);
  for (const folder of folders(join(ROOT, 'src'))) {
    const holdsCode = readdirSync(join(ROOT, 'src', folder)).some((f) => f.endsWith('.ts'));
    if (holdsCode) assert.ok(layerOf(`${folder}/x.ts`) !== undefined, `src/${folder} belongs to a layer`);
  }
  const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
  const rows = new Map<string, string[]>();
  for (const m of doc.matchAll(/^\| `([a-z/-]+?)\/?` \| [^|]+ \| ([^|]+) \|$/gm)) {
    const cell = m[2]!.trim();
    rows.set(m[1]!, cell === 'nothing' ? [] : cell.split(', ').flatMap((l) => (l === 'sip/*' ? SIP_LAYERS : [l])));
  }
  const sorted = (list: readonly string[]) => [...list].sort();
  assert.deepEqual(sorted([...rows.keys()]), sorted(Object.keys(LAYERS)), 'one row per layer');
  for (const [layer, allowed] of rows) {
    const expected = LAYERS[layer]!.filter((l) => !(layer.startsWith('sip/') && l === layer));
    assert.deepEqual(sorted(allowed.filter((l) => l !== layer)), sorted(expected), `the row of ${layer} says what it may import`);
  }
});

test('the check finds an upward import, a sideways one and a circle of type imports', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'as-imports-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  const layers = { low: [], mid: ['low'], side: ['low'], top: ['mid', 'low'] };
  write('low/a.ts', "import { m } from '../mid/m.ts';\nexport const a = m;\n");
  write('mid/m.ts', "export const m = 1;\n");
  write('side/s.ts', "import { m } from '../mid/m.ts';\nexport const s = m;\n");
  write('top/x.ts', "import type { Y } from './y.ts';\nexport type X = Y;\n");
  write('top/y.ts', "import type {\n  X,\n} from './x.ts';\nexport type Y = { x?: X };\n");
  write('top/ok.ts', "// import { nope } from '../low/a.ts';\nimport { m } from '../mid/m.ts';\nexport const ok = m;\n");
  const r = checkImports(dir, layers);
  assert.deepEqual(r.violations.map((v) => `${v.from} -> ${v.to}`).sort(), ['low/a.ts -> mid/m.ts', 'side/s.ts -> mid/m.ts']);
  assert.equal(r.cycles.length, 1);
  assert.deepEqual([...r.cycles[0]!].sort(), ['top/x.ts', 'top/x.ts', 'top/y.ts']);
  assert.deepEqual(checkImports(dir, { ...layers, low: ['top'] }).layerCycles.length, 1, 'a circle in the table itself');
});

test('imports are read from every form: named, type-only, re-exports, side effects, dynamic', () => {
  const text = [
    "import a from './a.ts';", "import { b, type c } from '../b.ts';", "export { d } from './d.ts';",
    "export * from './e.ts';", "import './f.ts';", "const g = await import('./g.ts');", "import { h } from 'node:fs';",
  ].join('\n');
  assert.deepEqual(importsOf(text), ['./a.ts', '../b.ts', './d.ts', './e.ts', './f.ts', './g.ts']);
});
