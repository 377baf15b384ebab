/**
 * `LogStore`: the data directory and the logs in it.
 *
 * Layout: `<dataDir>/wharf.lock` (the pid of the process that owns the directory) and
 * `<dataDir>/logs/<name>/` per log. Opening refuses clearly (WHARF_DATA_DIR_UNUSABLE) a path
 * that is not a writable directory, or one locked by another live process; a lock left by a
 * dead process is taken over. A deleted log's directory is first renamed to
 * `logs/.trash-<name>-<n>` (atomic), then removed; leftovers of a crash there are removed on
 * open. Log names are validated as safe path components (no separators, no leading dot).
 *
 * Retention runs over every open log every `retentionCheckIntervalMs`, one log at a time,
 * never overlapping itself. `close()` closes every log cleanly (each finishes its queued
 * appends, fdatasyncs and writes its clean-shutdown marker) and then releases the lock.
 */
import { join } from "node:path";
import type { Logger } from "pino";
import { logNameBytesMax, retentionCheckIntervalMs } from "../config/limits.ts";
import { WharfError } from "../errors/index.ts";
import { silentLogger } from "../logging/logger.ts";
import {
  errorCode,
  type FileSystem,
  isNotFound,
  nodeFileSystem,
  writeFully,
} from "./file-system.ts";
import { Log, type LogOptions } from "./log.ts";
import type { LogConfig } from "./log-config.ts";

export const LOCK_FILE = "wharf.lock";
export const LOGS_DIR = "logs";
const TRASH_PREFIX = ".trash-";
const LOG_NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export interface LogStoreOptions {
  logger?: Logger;
  fileSystem?: FileSystem;
  now?: () => number;
  /** 0 disables the retention timer (tests call `runRetention`). */
  retentionCheckIntervalMs?: number;
  appendLimits?: LogOptions["appendLimits"];
}

/** Throws WHARF_LOG_NAME_INVALID unless `name` is a safe single path component. */
export function validateLogName(name: string): void {
  if (
    typeof name !== "string" ||
    Buffer.byteLength(name) > logNameBytesMax ||
    !LOG_NAME_PATTERN.test(name)
  ) {
    const shown = JSON.stringify(String(name).slice(0, 64));
    throw new WharfError(
      "WHARF_LOG_NAME_INVALID",
      `${shown}: use 1-${logNameBytesMax} of [A-Za-z0-9._-], not starting with "."`,
    );
  }
}

function unusable(dataDir: string, why: string, cause?: unknown): WharfError {
  return new WharfError("WHARF_DATA_DIR_UNUSABLE", `${dataDir}: ${why}`, { cause });
}

export class LogStore {
  private readonly logs = new Map<string, Promise<Log>>();
  private retentionTimer: NodeJS.Timeout | null = null;
  private retentionRunning: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private trashCounter = 0;

  private constructor(
    readonly dataDir: string,
    private readonly fileSystem: FileSystem,
    private readonly logger: Logger,
    private readonly options: LogStoreOptions,
  ) {}

  static async open(dataDir: string, options: LogStoreOptions = {}): Promise<LogStore> {
    const fileSystem = options.fileSystem ?? nodeFileSystem;
    const logger = (options.logger ?? silentLogger).child({ component: "log-store" });
    await prepareDirectory(fileSystem, dataDir);
    await acquireLock(fileSystem, dataDir, logger);
    const store = new LogStore(dataDir, fileSystem, logger, options);
    try {
      await fileSystem.mkdir(join(dataDir, LOGS_DIR));
      await store.removeTrash();
    } catch (error) {
      await store.releaseLock();
      throw unusable(dataDir, `cannot prepare ${LOGS_DIR}/: ${errorCode(error) ?? error}`, error);
    }
    const interval = options.retentionCheckIntervalMs ?? retentionCheckIntervalMs;
    if (interval > 0) {
      store.retentionTimer = setInterval(() => void store.runRetention(), interval);
      store.retentionTimer.unref();
    }
    return store;
  }

  private logDir(name: string): string {
    return join(this.dataDir, LOGS_DIR, name);
  }

  /** Opens the named log, creating it if needed; the same instance while it stays open. */
  openLog(name: string, config: LogConfig): Promise<Log> {
    validateLogName(name);
    if (this.closing)
      return Promise.reject(new WharfError("WHARF_LOG_CLOSED", "the log store is closing"));
    const existing = this.logs.get(name);
    if (existing) return existing;
    const opening = Log.open(this.logDir(name), config, {
      logger: (this.options.logger ?? this.logger).child({ log: name }),
      fileSystem: this.fileSystem,
      now: this.options.now,
      appendLimits: this.options.appendLimits,
    });
    this.logs.set(name, opening);
    opening.catch(() => {
      if (this.logs.get(name) === opening) this.logs.delete(name);
    });
    return opening;
  }

  /** The open log of that name, if any. */
  async getLog(name: string): Promise<Log | undefined> {
    return this.logs.get(name);
  }

  /** Names of the logs on disk (open or not). */
  async listLogs(): Promise<string[]> {
    const names = await this.fileSystem.readdir(join(this.dataDir, LOGS_DIR));
    return names.filter((name) => LOG_NAME_PATTERN.test(name)).sort();
  }

  /** Closes and removes the named log; false when it did not exist. */
  async deleteLog(name: string): Promise<boolean> {
    validateLogName(name);
    const open = this.logs.get(name);
    if (open) {
      this.logs.delete(name);
      await (await open.catch(() => null))?.close();
    }
    const trash = join(this.dataDir, LOGS_DIR, `${TRASH_PREFIX}${name}-${++this.trashCounter}`);
    try {
      await this.fileSystem.rename(this.logDir(name), trash);
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
    await this.fileSystem.syncDirectory(join(this.dataDir, LOGS_DIR));
    await this.fileSystem.removeTree(trash);
    this.logger.info({ log: name }, "log deleted");
    return true;
  }

  /** One retention pass over every open log (what the timer runs). */
  runRetention(): Promise<void> {
    if (this.retentionRunning) return this.retentionRunning;
    this.retentionRunning = (async () => {
      for (const [name, opening] of this.logs) {
        const log = await opening.catch(() => null);
        if (!log || this.closing) continue;
        try {
          const result = await log.enforceRetention();
          if (result.deletedSegments > 0)
            this.logger.info({ log: name, ...result }, "retention ran");
        } catch (error) {
          this.logger.error({ err: error, log: name }, "retention failed");
        }
      }
    })().finally(() => {
      this.retentionRunning = null;
    });
    return this.retentionRunning;
  }

  /** Closes every log cleanly, then releases the directory lock. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.closing = (async () => {
      await this.retentionRunning;
      const logs = await Promise.all(
        [...this.logs.values()].map((opening) => opening.catch(() => null)),
      );
      await Promise.all(logs.map((log) => log?.close()));
      this.logs.clear();
      await this.releaseLock();
    })();
    return this.closing;
  }

  private async removeTrash(): Promise<void> {
    const logsDir = join(this.dataDir, LOGS_DIR);
    for (const name of await this.fileSystem.readdir(logsDir)) {
      if (name.startsWith(TRASH_PREFIX)) await this.fileSystem.removeTree(join(logsDir, name));
    }
  }

  private async releaseLock(): Promise<void> {
    try {
      await this.fileSystem.unlink(join(this.dataDir, LOCK_FILE));
    } catch (error) {
      this.logger.warn({ err: error }, "could not remove the data directory lock");
    }
  }
}

async function prepareDirectory(fileSystem: FileSystem, dataDir: string): Promise<void> {
  let isDirectory: boolean | null = null;
  try {
    isDirectory = (await fileSystem.stat(dataDir)).isDirectory();
  } catch (error) {
    if (!isNotFound(error))
      throw unusable(dataDir, `cannot stat it (${errorCode(error) ?? error})`, error);
  }
  if (isDirectory === false) throw unusable(dataDir, "not a directory");
  if (isDirectory === null) {
    try {
      await fileSystem.mkdir(dataDir);
    } catch (error) {
      throw unusable(dataDir, `cannot create it (${errorCode(error) ?? error})`, error);
    }
  }
  try {
    await fileSystem.checkWritable(dataDir);
  } catch (error) {
    throw unusable(dataDir, `not writable (${errorCode(error) ?? error})`, error);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === "EPERM"; // exists, owned by someone else
  }
}

/** Takes `wharf.lock` (O_EXCL create), replacing a lock whose process is gone. */
async function acquireLock(fileSystem: FileSystem, dataDir: string, logger: Logger): Promise<void> {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fileSystem.open(path, "wx");
      try {
        const content = Buffer.from(`${process.pid}\n`);
        await writeFully(handle, [content], 0, content.length);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      return;
    } catch (error) {
      if (errorCode(error) !== "EEXIST") {
        throw unusable(dataDir, `cannot create ${LOCK_FILE} (${errorCode(error) ?? error})`, error);
      }
    }
    let owner = Number.NaN;
    try {
      owner = Number((await fileSystem.readFile(path)).toString("utf8").trim());
    } catch (error) {
      if (!isNotFound(error)) throw unusable(dataDir, `cannot read ${LOCK_FILE}`, error);
      continue;
    }
    if (Number.isSafeInteger(owner) && owner > 0 && processAlive(owner)) {
      throw unusable(dataDir, `locked by process ${owner} (${LOCK_FILE})`);
    }
    logger.warn({ file: path, owner }, "taking over a stale data directory lock");
    try {
      await fileSystem.unlink(path);
    } catch (error) {
      if (!isNotFound(error)) throw unusable(dataDir, `cannot remove stale ${LOCK_FILE}`, error);
    }
  }
  throw unusable(dataDir, `${LOCK_FILE} keeps reappearing: another process is starting`);
}
