/**
 * Helpers shared by the storage tests (and the crash test): temporary directories, small
 * configs, batches with recognisable values, and a reader that walks a whole log checking
 * every batch it is served. Not used by production code.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor as pollUntil } from "../../test/helpers/wait-for.ts";
import type { Log } from "./log.ts";
import { defaultLogConfig, type LogConfig } from "./log-config.ts";
import {
  checkBatch,
  decodeRecords,
  encodeBatch,
  readBaseOffset,
  readBatchSize,
  readLastOffsetDelta,
  readMaxTimestamp,
} from "./record-batch.ts";

/** Polls `condition` until it holds; fails after `timeoutMs` instead of hanging a test run. */
export function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return pollUntil(condition, what, timeoutMs);
}

export async function makeTempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `wharf-${label}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A config for tests: small segments and index interval, fsync durability. */
export function testConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return defaultLogConfig({
    segmentBytes: 16 * 1024,
    indexIntervalBytes: 256,
    retentionMs: -1,
    retentionBytes: -1,
    ...overrides,
  });
}

/** A batch of records whose values are the given strings. */
export function batchOf(values: string[], timestamp = 1_700_000_000_000): Buffer {
  return encodeBatch(
    values.map((value) => ({ value: Buffer.from(value) })),
    { baseTimestamp: timestamp },
  );
}

/** A batch of `count` records with values `${label}-${i}` padded to about `valueBytes`. */
export function labelledBatch(label: string, count: number, valueBytes = 16, timestamp?: number) {
  const values: string[] = [];
  for (let i = 0; i < count; i++) values.push(`${label}-${i}`.padEnd(valueBytes, "."));
  return batchOf(values, timestamp);
}

export interface StoredBatch {
  baseOffset: number;
  lastOffset: number;
  size: number;
  maxTimestamp: number;
  values: string[];
}

/** Splits served bytes into batches, asserting each is whole and passes its CRC. */
export function parseServed(bytes: Buffer): StoredBatch[] {
  const batches: StoredBatch[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const check = checkBatch(bytes, pos, bytes.length, { maxBatchBytes: 1 << 30 });
    assert.ok(
      check.ok,
      `served batch at ${pos} is invalid: ${check.ok ? "" : check.error.message}`,
    );
    const size = readBatchSize(bytes, pos);
    const baseOffset = readBaseOffset(bytes, pos);
    batches.push({
      baseOffset,
      lastOffset: baseOffset + readLastOffsetDelta(bytes, pos),
      size,
      maxTimestamp: readMaxTimestamp(bytes, pos),
      values: decodeRecords(bytes, pos).map((record) => record.value?.toString() ?? ""),
    });
    pos += size;
  }
  return batches;
}

/**
 * Reads the visible log from its start to the high watermark in `chunkBytes` reads and
 * returns every batch, asserting that offsets are dense and every served batch is valid.
 */
export async function readWholeLog(log: Log, chunkBytes = 64 * 1024): Promise<StoredBatch[]> {
  const all: StoredBatch[] = [];
  let offset = log.logStartOffset;
  const end = log.highWatermark;
  let expected: number | null = null;
  while (offset < end) {
    const { bytes } = await log.read(offset, chunkBytes);
    const batches = parseServed(bytes);
    assert.ok(batches.length > 0, `read(${offset}) returned nothing below the HW ${end}`);
    for (const batch of batches) {
      if (expected !== null) assert.equal(batch.baseOffset, expected, "offsets are dense");
      assert.ok(batch.baseOffset <= offset || expected !== null, "first batch holds the offset");
      expected = batch.lastOffset + 1;
      all.push(batch);
    }
    offset = expected!;
  }
  return all;
}
