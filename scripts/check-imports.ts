// The layer check: every import in src/ goes to the importer's own layer or to a layer that
// layer may use (LAYERS, the table docs/architecture.md draws), and no file reaches itself
// through its imports (type-only imports count: a circle of types is a circle of design).
// `npm test` runs it (test/architecture/imports.test.ts); `node --import tsx scripts/check-imports.ts`
// prints the findings.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Each layer (a folder under src/, or a file) and the layers it may import. */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  'lib': [],
  'types': [],
  'codec': ['lib'],
  'audio': ['lib', 'codec'],
  'sdp': ['lib', 'codec'],
  'rtp': ['lib', 'codec', 'sdp'],
  'sip/message': ['lib'],
  'sip/transport': ['lib', 'sip/message'],
  'sip/transaction': ['lib', 'sip/message', 'sip/transport'],
  'sip/dialog': ['lib', 'sip/message', 'sip/transport', 'sip/transaction'],
  'sip/user-agent': ['lib', 'sip/message', 'sip/transport', 'sip/transaction', 'sip/dialog'],
  'events': ['lib'],
  'bug': [],
  'channel': ['lib', 'bug', 'events', 'audio', 'codec'],
  'audio-stream': ['lib', 'bug', 'channel', 'events', 'audio'],
  'config': ['lib'],
  'dialplan': ['lib', 'channel', 'events', 'audio-stream', 'config'],
  'call': ['lib', 'channel', 'events', 'config', 'sdp', 'rtp', 'codec', 'sip/message', 'sip/transport', 'sip/dialog', 'sip/user-agent'],
  'api': ['lib', 'channel', 'events', 'audio-stream', 'dialplan'],
  'esl': ['lib', 'channel', 'events', 'dialplan', 'api'],
  'http': ['lib', 'channel', 'events', 'audio-stream', 'api'],
  'service': ['lib', 'channel', 'events', 'audio', 'audio-stream', 'dialplan', 'call', 'api', 'esl', 'http', 'config', 'sip/user-agent', 'sip/dialog', 'rtp'],
  'cli': ['lib', 'channel', 'events', 'audio', 'audio-stream', 'api', 'esl', 'config', 'service'],
};

/** One import that breaks the table. */
export interface LayerViolation {
  from: string;
  to: string;
  fromLayer: string;
  toLayer: string | undefined;
}

/** What the check found; both lists empty means the layering holds. */
export interface ImportReport {
  files: number;
  imports: number;
  violations: LayerViolation[];
  /** Each circle as the files on it, in import order, first file repeated at the end. */
  cycles: string[][];
  /** Layers of the table that can reach themselves through it. */
  layerCycles: string[][];
}

const SPECIFIER = /(?:^|[\s;}])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (entry.endsWith('.ts') && !entry.endsWith('.test.ts') && !entry.endsWith('.test-data.ts')) out.push(path);
  }
  return out;
}

/** The relative specifiers a file imports or re-exports (comments and strings aside, good enough for our code). */
export function importsOf(text: string): string[] {
  const withoutComments = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs: string[] = [];
  for (const m of withoutComments.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec && spec.startsWith('.')) specs.push(spec);
  }
  return specs;
}

/** The layer a src-relative path belongs to: the longest key of `layers` that is a folder prefix of it. */
export function layerOf(srcPath: string, layers: Readonly<Record<string, readonly string[]>> = LAYERS): string | undefined {
  const p = srcPath.split(sep).join('/');
  let best: string | undefined;
  for (const key of Object.keys(layers)) {
    if ((p === `${key}.ts` || p.startsWith(`${key}/`)) && (!best || key.length > best.length)) best = key;
  }
  return best;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function findCycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(cyclePath(graph, new Set(scc), v));
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return cycles;
}

/** One concrete circle through `start` inside a component (breadth-first, so the shortest). */
function cyclePath(graph: Map<string, string[]>, scc: Set<string>, start: string): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!scc.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)!) path.splice(1, 0, u);
        path.push(start);
        return path;
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/** Checks the tree under `srcDir` against `layers`. */
export function checkImports(srcDir: string, layers: Readonly<Record<string, readonly string[]>> = LAYERS): ImportReport {
  const files = sourceFiles(srcDir);
  const graph = new Map<string, string[]>();
  const violations: LayerViolation[] = [];
  let imports = 0;
  for (const file of files) {
    const from = relative(srcDir, file);
    const fromLayer = layerOf(from, layers);
    const targets: string[] = [];
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      imports++;
      const to = relative(srcDir, resolve(dirname(file), spec));
      targets.push(to);
      const toLayer = layerOf(to, layers);
      const allowed = fromLayer !== undefined && toLayer !== undefined && (toLayer === fromLayer || layers[fromLayer]!.includes(toLayer));
      if (!allowed) violations.push({ from, to, fromLayer: fromLayer ?? '(no layer)', toLayer });
    }
    graph.set(from, targets);
  }
  const layerGraph = new Map(Object.entries(layers).map(([k, v]) => [k, [...v]]));
  return { files: files.length, imports, violations, cycles: findCycles(graph), layerCycles: findCycles(layerGraph) };
}

function main(): void {
  const src = fileURLToPath(new URL('../src', import.meta.url));
  const r = checkImports(src);
  for (const v of r.violations) process.stdout.write(`upward or sideways import: ${v.from} (${v.fromLayer}) -> ${v.to} (${v.toLayer ?? 'no layer'})\n`);
  for (const c of r.cycles) process.stdout.write(`circle: ${c.join(' -> ')}\n`);
  for (const c of r.layerCycles) process.stdout.write(`circle in the layer table: ${c.join(' -> ')}\n`);
  process.stdout.write(`${r.files} files, ${r.imports} imports: ${r.violations.length} layer violations, ${r.cycles.length} circles\n`);
  process.exitCode = r.violations.length + r.cycles.length + r.layerCycles.length > 0 ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
