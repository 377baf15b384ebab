/**
 * CPU time and memory of another process, from /proc (Linux only).
 *
 * - CPU: `utime + stime` of /proc/<pid>/stat, in clock ticks (`getconf CLK_TCK`, 100 here):
 *   user and system time of all the process's threads (the JVM's GC and I/O threads, libuv's
 *   thread pool), 10 ms resolution at 100 Hz.
 * - Memory: `VmRSS` (resident now) and `VmHWM` (the peak resident size since the process
 *   started) of /proc/<pid>/status.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    } catch {
      clockTicks = 100;
    }
    if (!Number.isFinite(clockTicks) || clockTicks <= 0) clockTicks = 100;
  }
  return clockTicks;
}

/** User + system CPU seconds the process has used so far; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 (utime) and 15 (stime) of the full line are 11 and 12 after the name and state.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / ticksPerSecond();
}

export interface MemoryReading {
  rss_bytes: number;
  /** Peak resident set size since the process started. */
  hwm_bytes: number;
}

export function memory(pid: number): MemoryReading | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  };
  return { rss_bytes: kib("VmRSS"), hwm_bytes: kib("VmHWM") };
}

/** CPU seconds of `pid` between `start()` and `stop()`. */
export class CpuMeter {
  private startSeconds: number | undefined;
  private endSeconds: number | undefined;

  constructor(private readonly pid: number) {}

  start(): void {
    this.startSeconds = cpuSeconds(this.pid);
    this.endSeconds = undefined;
  }

  stop(): void {
    this.endSeconds = cpuSeconds(this.pid);
  }

  get seconds(): number | undefined {
    if (this.startSeconds === undefined || this.endSeconds === undefined) return undefined;
    return this.endSeconds - this.startSeconds;
  }
}
