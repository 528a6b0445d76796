// Summarises a V8 .cpuprofile (from node --cpu-prof): self and inclusive time per function
// (functionName + url), self time per file and per area (engine, ws, node internals, GC...),
// optionally only for samples inside a time window (µs on the same clock as process.hrtime).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** One function's share of the samples. */
export interface FunctionTime {
  function: string;
  file: string;
  /** Samples with this function on top of the stack, as ms and % of the busy (non-idle) samples. */
  selfMs: number;
  selfPct: number;
  /** Samples with this function anywhere on the stack. */
  totalMs: number;
  totalPct: number;
}

export interface ProfileSummary {
  /** Whether samples were cut to the measuring window (else the whole process). */
  scope: 'window' | 'whole process';
  sampledMs: number;
  idleMs: number;
  busyMs: number;
  topSelf: FunctionTime[];
  topTotal: FunctionTime[];
  byFile: Array<{ file: string; selfMs: number; selfPct: number }>;
  byArea: Array<{ area: string; selfMs: number; selfPct: number }>;
}

/** The url as a short path: project files relative to the project root, node:... as is. */
function shortFile(url: string, root: string): string {
  if (!url) return '(native)';
  if (url.startsWith('file://')) {
    try {
      return relative(root, fileURLToPath(url));
    } catch {
      return url;
    }
  }
  return url;
}

function area(fn: string, file: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return 'V8/native (program)';
  if (file === '(native)') return 'V8 builtins / native bindings (incl. the socket write syscalls)';
  if (file.startsWith('wasm://')) return 'speex resampler (WASM)';
  if (file.startsWith('src/')) return 'engine (src/)';
  if (file.startsWith('bench/')) return 'bench harness (bench/)';
  if (file.includes('node_modules/ws/')) return 'ws';
  if (file.includes('node_modules/')) return 'other node_modules';
  if (file.startsWith('node:')) return 'node internals';
  return 'other';
}

/**
 * Reads a .cpuprofile and summarises it. With a window [fromUs, toUs] (process.hrtime µs) only the
 * samples taken inside it count, when the profile covers it; otherwise every sample does.
 */
export function summariseProfile(path: string, root: string, window?: { fromUs: number; toUs: number }, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) byId.set(node.id, node);
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);

  // Samples per node, cut to the window when the timestamps allow.
  const hits = new Map<number, number>();
  let scope: ProfileSummary['scope'] = 'whole process';
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const covers = window && samples.length === deltas.length && profile.startTime <= window.fromUs && profile.endTime >= window.toUs;
  let sampledUs = 0;
  if (covers) {
    scope = 'window';
    let t = profile.startTime;
    let prev = -1;
    for (let i = 0; i < samples.length; i++) {
      t += deltas[i]!;
      if (t < window.fromUs || t > window.toUs) continue;
      hits.set(samples[i]!, (hits.get(samples[i]!) ?? 0) + 1);
      if (prev >= 0) sampledUs += t - prev;
      prev = t;
    }
  } else {
    for (const node of profile.nodes) if (node.hitCount) hits.set(node.id, node.hitCount);
    sampledUs = profile.endTime - profile.startTime;
  }
  let totalHits = 0;
  for (const h of hits.values()) totalHits += h;
  const msPerHit = totalHits > 0 ? sampledUs / 1000 / totalHits : 0;

  // Key of a node: name + file (anonymous functions also by line, or every closure of a file merges).
  const keyInfo = new Map<string, { fn: string; file: string }>();
  const keyOf = new Map<number, string>();
  for (const node of profile.nodes) {
    const cf = node.callFrame;
    const file = shortFile(cf.url, root);
    // The only WebAssembly in the process is the speex resampler.
    const fn = (cf.functionName || `(anonymous:${cf.lineNumber + 1})`) + (cf.url.startsWith('wasm://') ? ' (speex resampler)' : '');
    const key = `${fn}\u0000${file}`;
    keyOf.set(node.id, key);
    if (!keyInfo.has(key)) keyInfo.set(key, { fn, file });
  }

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const ancestorsCache = new Map<number, string[]>();
  const ancestorKeys = (id: number): string[] => {
    const cached = ancestorsCache.get(id);
    if (cached) return cached;
    // Iteratively collect the path to the root, then fill the cache from the top down.
    const path: number[] = [];
    let cur: number | undefined = id;
    while (cur !== undefined && !ancestorsCache.has(cur)) {
      path.push(cur);
      cur = parent.get(cur);
    }
    let keys: string[] = cur !== undefined ? ancestorsCache.get(cur)! : [];
    for (let i = path.length - 1; i >= 0; i--) {
      const k = keyOf.get(path[i]!)!;
      keys = keys.includes(k) ? keys : [...keys, k];
      ancestorsCache.set(path[i]!, keys);
    }
    return keys;
  };
  let idleHits = 0;
  for (const [id, h] of hits) {
    const key = keyOf.get(id)!;
    if (keyInfo.get(key)!.fn === '(idle)') idleHits += h;
    self.set(key, (self.get(key) ?? 0) + h);
    for (const k of ancestorKeys(id)) total.set(k, (total.get(k) ?? 0) + h);
  }
  const busyHits = Math.max(1, totalHits - idleHits);
  const pct = (h: number) => Math.round((1000 * h) / busyHits) / 10;
  const ms = (h: number) => Math.round(h * msPerHit);
  const skip = new Set(['(idle)', '(root)']);
  const rows = [...keyInfo.entries()]
    .filter(([, info]) => !skip.has(info.fn))
    .map(([key, info]): FunctionTime => ({
      function: info.fn, file: info.file,
      selfMs: ms(self.get(key) ?? 0), selfPct: pct(self.get(key) ?? 0),
      totalMs: ms(total.get(key) ?? 0), totalPct: pct(total.get(key) ?? 0),
    }));
  const topSelf = [...rows].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  // Inclusive: skip the trivial top frames (module wrappers, timers' plumbing) by listing everything, sorted.
  const topTotal = [...rows].sort((a, b) => b.totalMs - a.totalMs).slice(0, top);

  const fileSelf = new Map<string, number>();
  const areaSelf = new Map<string, number>();
  for (const [key, h] of self) {
    const info = keyInfo.get(key)!;
    if (info.fn === '(idle)') continue;
    fileSelf.set(info.file, (fileSelf.get(info.file) ?? 0) + h);
    const a = area(info.fn, info.file);
    areaSelf.set(a, (areaSelf.get(a) ?? 0) + h);
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    scope,
    sampledMs: Math.round(sampledUs / 1000),
    idleMs: ms(idleHits),
    busyMs: ms(totalHits - idleHits),
    topSelf,
    topTotal,
    byFile: sorted(fileSelf).slice(0, top).map(([file, h]) => ({ file, selfMs: ms(h), selfPct: pct(h) })),
    byArea: sorted(areaSelf).map(([a, h]) => ({ area: a, selfMs: ms(h), selfPct: pct(h) })),
  };
}
