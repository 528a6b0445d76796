import { cpus } from 'node:os';

/** Idle and total CPU time over the host's cores, ms. */
function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const c of cpus()) {
    idle += c.times.idle;
    total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
  }
  return { idle, total };
}

/**
 * The idle CPU percentage FreeSWITCH reports (switch_core_idle_cpu: `status`, every log line),
 * over the host's cores since the previous sample; sampled at most once per `minIntervalMs`, so a
 * burst of callers costs nothing. 100 until time has passed.
 */
export class IdleCpu {
  private last = cpuTimes();
  private at = Date.now();
  private value = 100;

  constructor(private readonly minIntervalMs = 0) {}

  percent(nowMs = Date.now()): number {
    if (nowMs - this.at < this.minIntervalMs) return this.value;
    const now = cpuTimes();
    const total = now.total - this.last.total;
    if (total > 0) this.value = ((now.idle - this.last.idle) / total) * 100;
    this.last = now;
    this.at = nowMs;
    return this.value;
  }
}
