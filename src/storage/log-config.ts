/**
 * Per-log configuration (Kafka's topic-level `segment.bytes`, `retention.ms`, ...) and its
 * validation against the named limits. A `Log` refuses a config that breaks a limit with
 * WHARF_CONFIG_INVALID before touching the disk.
 */
import {
  appendQueueBytesMax,
  batchBytesMaxCeiling,
  batchBytesMaxDefault,
  groupCommitBytesMax,
  indexIntervalBytesDefault,
  recordBatchHeaderBytes,
  retentionBytesDefault,
  retentionMsDefault,
  segmentBytesCeiling,
  segmentBytesDefault,
  segmentBytesFloor,
  segmentMsDefault,
} from "../config/limits.ts";
import { WharfError } from "../errors/index.ts";

/**
 * When an append is acknowledged:
 * - `fsync`: after an fdatasync that covers it (the default; acknowledged means durable);
 * - `interval`: after the write; the log fdatasyncs every `intervalMs` (a power loss may lose
 *   up to that much acknowledged data, a process crash loses nothing);
 * - `none`: after the write; fdatasync only on roll, flush and close.
 */
export type Durability =
  | { mode: "fsync" }
  | { mode: "interval"; intervalMs: number }
  | { mode: "none" };

export interface LogConfig {
  /** Roll the active segment before it would exceed this many bytes. */
  segmentBytes: number;
  /** Roll the active segment this long after its first append. */
  segmentMs: number;
  /** Delete sealed segments whose largest timestamp is older than this; -1 disables. */
  retentionMs: number;
  /** Delete the oldest sealed segments while the log stays above this size; -1 disables. */
  retentionBytes: number;
  /** Largest single batch accepted by `append`. */
  maxBatchBytes: number;
  /** Bytes of log between two sparse index entries. */
  indexIntervalBytes: number;
  durability: Durability;
}

/** Limits of the append path that tests may lower; production uses the named defaults. */
export interface AppendLimits {
  /** Bytes one group-commit round gathers at most (at least one append). */
  roundBytesMax: number;
  /** Bytes of appends waiting or in flight; beyond it `append` fails fast. */
  queueBytesMax: number;
}

export const defaultAppendLimits: AppendLimits = {
  roundBytesMax: groupCommitBytesMax,
  queueBytesMax: appendQueueBytesMax,
};

export function defaultLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return {
    segmentBytes: segmentBytesDefault,
    segmentMs: segmentMsDefault,
    retentionMs: retentionMsDefault,
    retentionBytes: retentionBytesDefault,
    maxBatchBytes: batchBytesMaxDefault,
    indexIntervalBytes: indexIntervalBytesDefault,
    durability: { mode: "fsync" },
    ...overrides,
  };
}

export function validateLogConfig(config: LogConfig): void {
  const problems: string[] = [];
  const integer = (name: keyof LogConfig, value: number, low: number, high: number) => {
    if (!Number.isSafeInteger(value) || value < low || value > high) {
      problems.push(`${name} ${value} is outside [${low}, ${high}]`);
    }
  };
  integer("segmentBytes", config.segmentBytes, segmentBytesFloor, segmentBytesCeiling);
  integer("segmentMs", config.segmentMs, 1, Number.MAX_SAFE_INTEGER);
  integer("retentionMs", config.retentionMs, -1, Number.MAX_SAFE_INTEGER);
  integer("retentionBytes", config.retentionBytes, -1, Number.MAX_SAFE_INTEGER);
  integer("maxBatchBytes", config.maxBatchBytes, recordBatchHeaderBytes, batchBytesMaxCeiling);
  integer("indexIntervalBytes", config.indexIntervalBytes, 0, segmentBytesCeiling);
  const durability = config.durability;
  if (durability.mode === "interval") {
    if (!Number.isSafeInteger(durability.intervalMs) || durability.intervalMs < 1) {
      problems.push(`durability.intervalMs ${durability.intervalMs} must be a positive integer`);
    }
  } else if (durability.mode !== "fsync" && durability.mode !== "none") {
    problems.push(`durability.mode ${(durability as { mode: string }).mode} is unknown`);
  }
  if (problems.length > 0) throw new WharfError("WHARF_CONFIG_INVALID", problems.join("; "));
}
