/**
 * One shared 100 ms ticker for per-stream housekeeping (heartbeats), so thousands of streams
 * cost one timer instead of thousands. Callbacks run on every tick; they check their own deadlines.
 */
export class CoarseTimer {
  private readonly callbacks = new Set<(nowMs: number) => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly periodMs = 100) {}

  /** Registers a callback; returns its remover. The timer runs only while callbacks exist and never keeps the process alive. */
  add(callback: (nowMs: number) => void): () => void {
    this.callbacks.add(callback);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.periodMs);
      this.timer.unref();
    }
    return () => {
      this.callbacks.delete(callback);
      if (this.callbacks.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private tick(): void {
    const now = performance.now();
    for (const cb of this.callbacks) cb(now);
  }
}

/** The process-wide housekeeping ticker. */
export const housekeeping = new CoarseTimer();
