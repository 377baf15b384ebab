/**
 * Resource alarms, as RabbitMQ's disk and memory alarms: a periodic check of the free space
 * under the data directory and of the process's resident memory. While an alarm is raised,
 * listeners that can push back on publishers do (AMQP: connection.blocked, and publishing
 * connections are not read); consumers keep being served, which is what frees resources.
 * Listeners hear `reason` (a sentence naming the resource) when an alarm is raised or changes,
 * and null when it clears.
 *
 * Fault model: a failing statfs (e.g. the directory vanished) is logged and treated as "no
 * information", never as "disk full"; the previous state stays.
 */
import { statfs } from "node:fs/promises";
import { totalmem } from "node:os";
import { memoryHighWatermarkFraction, resourceCheckIntervalMs } from "../../config/limits.ts";
import type { Logger } from "../../logging/logger.ts";

export interface ResourceMonitorOptions {
  readonly dataDir: string;
  /** Alarm below this many free bytes (0 = never). */
  readonly diskFreeLimitBytes: number;
  /** Alarm above this RSS (0 = `memoryHighWatermarkFraction` of the machine's memory). */
  readonly memoryLimitBytes: number;
  readonly logger: Logger;
  readonly intervalMs?: number;
  /** Injected in tests. */
  readonly freeDiskBytes?: (dir: string) => Promise<number>;
  readonly residentBytes?: () => number;
}

export type AlarmListener = (reason: string | null) => void;

async function statfsFreeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

function megabytes(bytes: number): string {
  return `${Math.round(bytes / 1e6)} MB`;
}

export class ResourceMonitor {
  private readonly listeners = new Set<AlarmListener>();
  private timer: NodeJS.Timeout | null = null;
  private diskAlarm: string | null = null;
  private memoryAlarm: string | null = null;
  private reported: string | null = null;
  private checking: Promise<void> | null = null;
  readonly memoryLimitBytes: number;

  constructor(private readonly options: ResourceMonitorOptions) {
    this.memoryLimitBytes =
      options.memoryLimitBytes > 0
        ? options.memoryLimitBytes
        : Math.floor(totalmem() * memoryHighWatermarkFraction);
  }

  /** The current alarm's reason, or null. */
  get alarm(): string | null {
    return this.reported;
  }

  onChange(listener: AlarmListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Checks once now, then every interval. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => {
      void this.check();
    }, this.options.intervalMs ?? resourceCheckIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One check of disk and memory; overlapping calls share one check. */
  check(): Promise<void> {
    this.checking ??= this.checkNow().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async checkNow(): Promise<void> {
    const { diskFreeLimitBytes, dataDir, logger } = this.options;
    if (diskFreeLimitBytes > 0) {
      try {
        const free = await (this.options.freeDiskBytes ?? statfsFreeBytes)(dataDir);
        this.diskAlarm =
          free < diskFreeLimitBytes
            ? `disk free ${megabytes(free)} below the limit of ${megabytes(diskFreeLimitBytes)}`
            : null;
      } catch (error) {
        logger.warn({ err: error, dataDir }, "free disk space unknown; disk alarm unchanged");
      }
    }
    const rss = (this.options.residentBytes ?? (() => process.memoryUsage.rss()))();
    this.memoryAlarm =
      rss > this.memoryLimitBytes
        ? `memory ${megabytes(rss)} above the limit of ${megabytes(this.memoryLimitBytes)}`
        : null;
    const reason =
      this.diskAlarm !== null && this.memoryAlarm !== null
        ? `${this.diskAlarm}; ${this.memoryAlarm}`
        : (this.diskAlarm ?? this.memoryAlarm);
    if (reason === this.reported) return;
    this.reported = reason;
    if (reason !== null) logger.warn({ reason }, "resource alarm raised: publishers blocked");
    else logger.info("resource alarm cleared: publishers unblocked");
    for (const listener of this.listeners) listener(reason);
  }
}
