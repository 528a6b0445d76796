// What the measured benchmark processes (worker.ts, calls-service.ts) share: IPC to the
// orchestrator, a forced gc, and the Linux scheduler stats of the main thread.
import { readFileSync } from 'node:fs';

/** Sends one message to the orchestrator (no-op when not forked). */
export function send(msg: Record<string, unknown>): void {
  process.send?.(msg);
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** process.hrtime in µs (the monotonic clock every process shares). */
export const hrUs = () => Number(process.hrtime.bigint() / 1000n);

const gc = (globalThis as { gc?: () => void }).gc;

/** Two full garbage collections when the process runs with --expose-gc (before memory readings). */
export function collect(): void {
  if (!gc) return;
  gc();
  gc();
}

/** True when --expose-gc gave us a gc(). */
export const gcAvailable = gc !== undefined;

/** The main thread's scheduler stats (Linux): ns on CPU and ns runnable but waiting for a CPU. */
export function schedstat(): { onCpuNs: number; waitNs: number } | undefined {
  try {
    const [onCpu, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isFinite(onCpu) && Number.isFinite(wait) ? { onCpuNs: onCpu!, waitNs: wait! } : undefined;
  } catch {
    return undefined;
  }
}
