/**
 * Time for the group coordinator: the clock and one-shot timers it reads and schedules
 * (session, rebalance, initial-delay, pending-sync and offset-retention timers). Injected so
 * that the state machine is tested deterministically with `ManualScheduler`.
 */

/** Cancels a scheduled task; calling it after the task ran (or twice) does nothing. */
export type Cancel = () => void;

export interface Scheduler {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Runs `task` once after `delayMs` (0 = on a later turn of the event loop). */
  schedule(delayMs: number, task: () => void): Cancel;
}

/** Node timers, unref'd: a pending group timer never keeps the process alive. */
export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  schedule(delayMs, task) {
    const timer = setTimeout(task, Math.max(0, delayMs));
    timer.unref();
    return () => clearTimeout(timer);
  },
};

interface ManualTask {
  at: number;
  sequence: number;
  task: () => void;
  cancelled: boolean;
}

/**
 * A scheduler driven by hand, for tests: time stands still until `advance(ms)`, which runs
 * every task that falls due, in time order (ties in scheduling order), moving the clock to
 * each task's time before it runs.
 */
export class ManualScheduler implements Scheduler {
  private time: number;
  private sequence = 0;
  private tasks: ManualTask[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  schedule(delayMs: number, task: () => void): Cancel {
    const entry: ManualTask = {
      at: this.time + Math.max(0, delayMs),
      sequence: this.sequence++,
      task,
      cancelled: false,
    };
    this.tasks.push(entry);
    return () => {
      entry.cancelled = true;
    };
  }

  /** Tasks scheduled and not yet run or cancelled. */
  get pending(): number {
    return this.tasks.filter((task) => !task.cancelled).length;
  }

  /** Moves time forward by `ms`, running what falls due (tasks may schedule more tasks). */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      this.tasks = this.tasks.filter((task) => !task.cancelled);
      let next: ManualTask | undefined;
      for (const task of this.tasks) {
        if (task.at > target) continue;
        if (!next || task.at < next.at || (task.at === next.at && task.sequence < next.sequence)) {
          next = task;
        }
      }
      if (!next) break;
      next.cancelled = true;
      this.time = Math.max(this.time, next.at);
      next.task();
    }
    this.time = target;
  }
}
