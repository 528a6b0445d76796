// Linux `perf` view of a measured process: cpu-clock samples of the whole process (kernel included)
// during the measuring window, with JavaScript functions named through node's
// --perf-basic-prof-only-functions map (/tmp/perf-<pid>.map). It complements the V8 .cpuprofile:
// V8's sampler only sees JavaScript and, on this kind of VM, its signal lands when a system call
// returns, so it charges the kernel's time to whichever function made the call (writeBuffer,
// doSend) and misses the event loop's own native work (epoll, recvmsg) altogether.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { platform } from 'node:os';

/** Whether `perf` can be used here (Linux, installed). */
export const perfAvailable = platform() === 'linux' && spawnSync('perf', ['--version'], { stdio: 'ignore' }).status === 0;

/** node flag that makes the JIT map perf needs, without the isolate log --perf-basic-prof writes into the cwd. */
export const PERF_NODE_FLAG = '--perf-basic-prof-only-functions';

export interface PerfSummary {
  samples: number;
  /** Share of the samples by area, %. */
  byArea: Array<{ area: string; pct: number }>;
  /** Engine (src/) functions by self samples, %; V8 inlines callees into their callers. */
  engine: Array<{ function: string; file: string; pct: number }>;
  /** Top symbols overall, %. */
  top: Array<{ symbol: string; where: string; pct: number }>;
}

/** Starts `perf record` on `pid` for `seconds`; resolves when it has written `out`. */
export function recordPerf(pid: number, seconds: number, out: string): { done: Promise<boolean>; child: ChildProcess } {
  const child = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '499', '-p', String(pid), '-o', out, '--', 'sleep', String(seconds)],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => { err += c; });
  const done = new Promise<boolean>((resolve) => {
    child.on('error', () => resolve(false));
    child.on('exit', (code) => {
      if (code !== 0) process.stderr.write(`perf record: exit ${code}: ${err.trim().split('\n').pop() ?? ''}\n`);
      resolve(code === 0);
    });
  });
  return { done, child };
}

function areaOf(dso: string, sym: string): string {
  if (dso === '[kernel.kallsyms]') return 'kernel (system calls, the loopback TCP/UDP path, wake-ups)';
  if (sym.startsWith('JS:') && sym.includes('wasm-function')) return 'speex resampler (WASM)';
  if (sym.startsWith('JS:') && sym.includes(' file://') && sym.includes('/src/')) return 'engine (src/) JavaScript';
  if (sym.startsWith('JS:') && sym.includes('node_modules/ws/')) return 'ws JavaScript';
  if (sym.startsWith('JS:') && sym.includes('/bench/')) return 'bench harness (bench/) JavaScript';
  if (sym.startsWith('JS:') && / node:/.test(sym)) return 'node internals JavaScript (dgram, streams, net)';
  if (sym.startsWith('JS:')) return 'other JavaScript';
  if (sym.startsWith('Builtins_') || sym.startsWith('0x') || dso.startsWith('[JIT]')) return 'V8 builtins and stubs';
  if (dso === 'node') return 'node and V8 C++ (bindings, libuv, GC)';
  if (dso.startsWith('libc')) return 'libc (system call stubs, malloc, memmove)';
  return dso;
}

/**
 * Reads `data` (perf record output) with `perf report` and summarises it; removes the process's
 * JIT map afterwards. Undefined when perf fails.
 */
export function summarisePerf(data: string, pid: number): PerfSummary | undefined {
  const report = spawnSync('perf', ['report', '-i', data, '--no-children', '--sort', 'dso,sym', '-g', 'none', '--stdio'],
    { encoding: 'utf8', maxBuffer: 64 << 20 });
  rmSync(`/tmp/perf-${pid}.map`, { force: true });
  if (report.status !== 0) return undefined;
  const sm = /# Samples: (\d+)([KM]?)/.exec(report.stdout);
  const samples = sm ? Number(sm[1]) * (sm[2] === 'K' ? 1000 : sm[2] === 'M' ? 1e6 : 1) : 0;
  const areas = new Map<string, number>();
  const engine = new Map<string, { function: string; file: string; pct: number }>();
  const top: PerfSummary['top'] = [];
  for (const line of report.stdout.split('\n')) {
    const m = /^\s*([\d.]+)%\s+(\[JIT\] tid \d+|\S+)\s+\[(.)\]\s+(.*?)\s*$/.exec(line);
    if (!m) continue;
    const pct = Number(m[1]);
    const dso = m[2]!;
    const sym = m[4]!;
    const area = areaOf(dso, sym);
    areas.set(area, (areas.get(area) ?? 0) + pct);
    const js = /^JS:[*~^]?(\S*) file:\/\/\S*?\/(src\/[^:]+)/.exec(sym);
    if (js) {
      const key = `${js[1]} ${js[2]}`;
      const e = engine.get(key) ?? { function: js[1] || '(anonymous)', file: js[2]!, pct: 0 };
      e.pct += pct;
      engine.set(key, e);
    }
    if (top.length < 15) {
      const short = sym.replace(/^JS:[*~^]?/, '').replace(/ file:\/\/\S*?\/((src|node_modules|bench)\/[^:]+):.*$/, '  $1');
      top.push({ symbol: short, where: dso.startsWith('[JIT]') ? 'JIT' : dso, pct });
    }
  }
  const round1 = (x: number) => Math.round(x * 10) / 10;
  return {
    samples,
    byArea: [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([area, pct]) => ({ area, pct: round1(pct) })),
    engine: [...engine.values()].sort((a, b) => b.pct - a.pct).slice(0, 12).map((e) => ({ ...e, pct: Math.round(e.pct * 100) / 100 })),
    top: top.map((t) => ({ ...t, pct: round1(t.pct) })),
  };
}

/** The summary as lines for the printout. */
export function printPerf(label: string, s: PerfSummary): string {
  const out: string[] = [];
  out.push(`Where the CPU goes (perf): ${label} (about ${s.samples} cpu-clock samples of the whole process in the window, kernel included)`);
  out.push('  by area:');
  for (const a of s.byArea.filter((x) => x.pct >= 0.2)) out.push(`    ${a.pct.toFixed(1).padStart(5)}%  ${a.area}`);
  out.push('  top symbols:');
  for (const t of s.top.slice(0, 12)) out.push(`    ${t.pct.toFixed(1).padStart(5)}%  ${t.symbol}  (${t.where})`);
  out.push('  engine (src/) functions, self (callees inlined by V8 count in their caller):');
  for (const e of s.engine.slice(0, 10)) out.push(`    ${e.pct.toFixed(2).padStart(5)}%  ${e.function}  ${e.file}`);
  return out.join('\n');
}
