import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { isWharfError } from "../errors/index.ts";
import { Log } from "./log.ts";
import { planRetention, type RetentionSegment } from "./log-retention.ts";
import {
  labelledBatch,
  makeTempDir,
  parseServed,
  readWholeLog,
  removeDir,
  testConfig,
} from "./log-test-support.ts";

let root: string;
let counter = 0;
before(async () => {
  root = await makeTempDir("retention");
});
after(async () => {
  await removeDir(root);
});
const freshDir = () => `${root}/log-${++counter}`;
const outOfRange = (error: unknown) => isWharfError(error, "WHARF_OFFSET_OUT_OF_RANGE");

describe("planRetention", () => {
  const segment = (
    baseOffset: number,
    endOffset: number,
    size: number,
    maxTimestamp: number,
  ): RetentionSegment => ({
    baseOffset,
    endOffset,
    size,
    maxTimestamp,
    lastModifiedMs: 0,
  });
  const segments = [
    segment(0, 10, 100, 1000),
    segment(10, 20, 100, 2000),
    segment(20, 30, 100, 3000),
    segment(30, 35, 50, 9000),
  ];

  test("nothing when disabled", () => {
    assert.deepEqual(
      planRetention(segments, { retentionMs: -1, retentionBytes: -1 }, 0, 10_000),
      [],
    );
  });
  test("by age: a prefix of segments older than retentionMs, never the active one", () => {
    assert.deepEqual(
      planRetention(segments, { retentionMs: 7500, retentionBytes: -1 }, 0, 10_000),
      ["age", "age"],
    );
    assert.deepEqual(planRetention(segments, { retentionMs: 0, retentionBytes: -1 }, 0, 10_000), [
      "age",
      "age",
      "age",
    ]);
  });
  test("by size: keeps at least retentionBytes", () => {
    assert.deepEqual(planRetention(segments, { retentionMs: -1, retentionBytes: 150 }, 0, 0), [
      "size",
      "size",
    ]);
    assert.deepEqual(planRetention(segments, { retentionMs: -1, retentionBytes: 149 }, 0, 0), [
      "size",
      "size",
    ]);
    assert.deepEqual(planRetention(segments, { retentionMs: -1, retentionBytes: 151 }, 0, 0), [
      "size",
    ]);
    assert.deepEqual(planRetention(segments, { retentionMs: -1, retentionBytes: 0 }, 0, 0), [
      "size",
      "size",
      "size",
    ]);
  });
  test("below the log start offset", () => {
    assert.deepEqual(planRetention(segments, { retentionMs: -1, retentionBytes: -1 }, 20, 0), [
      "log-start-offset",
      "log-start-offset",
    ]);
    assert.deepEqual(planRetention(segments, { retentionMs: -1, retentionBytes: -1 }, 19, 0), [
      "log-start-offset",
    ]);
  });
  test("a segment without timestamps ages by its modification time", () => {
    const untimed = [
      { ...segment(0, 10, 100, -1), lastModifiedMs: 500 },
      segment(10, 20, 100, 9000),
    ];
    assert.deepEqual(planRetention(untimed, { retentionMs: 1000, retentionBytes: -1 }, 0, 2000), [
      "age",
    ]);
  });
});

describe("retention on a log", () => {
  test("by bytes: deletes the oldest whole segments; the start offset survives a restart", async () => {
    const dir = freshDir();
    const config = testConfig({ segmentBytes: 1024, retentionBytes: 3000 });
    const log = await Log.open(dir, config);
    for (let i = 0; i < 40; i++) await log.append(labelledBatch(`b${i}`, 3, 24));
    const before = log.sizeBytes;
    const bases = log.segmentBaseOffsets();
    const result = await log.enforceRetention();
    assert.ok(result.deletedSegments > 0);
    assert.equal(log.sizeBytes, before - result.deletedBytes);
    assert.ok(log.sizeBytes >= 3000, `kept ${log.sizeBytes} bytes`);
    assert.ok(log.sizeBytes < 3000 + 1024, "within a segment of the limit");
    assert.equal(log.logStartOffset, bases[result.deletedSegments]);
    assert.equal(log.segmentBaseOffsets()[0], log.logStartOffset);
    const files = (await readdir(dir)).filter((f) => f.endsWith(".log"));
    assert.equal(files.length, log.segmentCount);
    await assert.rejects(log.read(0, 100), outOfRange);
    assert.deepEqual(await log.enforceRetention(), { deletedSegments: 0, deletedBytes: 0 });
    const start = log.logStartOffset;
    await log.close();
    const reopened = await Log.open(dir, config);
    assert.equal(reopened.logStartOffset, start);
    assert.equal((await readWholeLog(reopened))[0]!.baseOffset, start);
    await reopened.close();
  });

  test("by age (injected clock): old sealed segments go, the active one stays", async () => {
    let now = 10_000_000;
    const dir = freshDir();
    const config = testConfig({ segmentBytes: 1024, retentionMs: 60_000 });
    const log = await Log.open(dir, config, { now: () => now });
    // Batch i holds 3 records stamped base + i seconds.
    const base = now - 100_000;
    for (let i = 0; i < 30; i++) await log.append(labelledBatch(`a${i}`, 3, 24, base + i * 1000));
    assert.ok(log.segmentCount >= 4);
    now = base + 75_000; // batches 0-14 are more than 60 s old
    const result = await log.enforceRetention();
    assert.ok(result.deletedSegments >= 1);
    const firstKept = log.logStartOffset / 3; // index of the first batch kept
    const lastOfFirstSegment = log.segmentBaseOffsets()[1]! / 3 - 1;
    assert.ok(firstKept > 0 && firstKept <= 15, `first batch kept: ${firstKept}`);
    assert.ok(lastOfFirstSegment >= 15, "the first segment kept holds a batch within retention");
    now += 10_000_000;
    await log.enforceRetention();
    assert.equal(log.segmentCount, 1, "only the active segment is left");
    assert.equal(log.logStartOffset, log.segmentBaseOffsets()[0]);
    assert.equal((await log.append(labelledBatch("new", 1))).baseOffset, 90);
    await log.close();
  });

  test("deleteRecordsBefore moves the start offset, persists it, deletes whole segments below it", async () => {
    const dir = freshDir();
    const config = testConfig({ segmentBytes: 1024 });
    const log = await Log.open(dir, config);
    for (let i = 0; i < 30; i++) await log.append(labelledBatch(`d${i}`, 3, 24));
    const bases = log.segmentBaseOffsets();
    const target = bases[2]! + 4; // inside the third segment, inside a batch
    await log.deleteRecordsBefore(target);
    assert.equal(log.logStartOffset, target);
    assert.deepEqual(log.segmentBaseOffsets(), bases.slice(2));
    await assert.rejects(log.read(target - 1, 100), outOfRange);
    const first = parseServed((await log.read(target, 1)).bytes)[0]!;
    assert.ok(first.baseOffset <= target && first.lastOffset >= target, "the batch holding it");
    assert.equal((await log.offsetForTimestamp(0))?.offset, target);
    await assert.rejects(log.deleteRecordsBefore(91), outOfRange);
    await log.deleteRecordsBefore(3); // below the start: nothing happens
    assert.equal(log.logStartOffset, target);
    // Survives an unclean restart too (the checkpoint is written before the call resolves).
    const internals = log as unknown as {
      segments: Array<{ handle: { close(): Promise<void> } }>;
      state: string;
    };
    internals.state = "closed";
    await Promise.all(internals.segments.map((segment) => segment.handle.close()));
    const reopened = await Log.open(dir, config);
    assert.equal(reopened.logStartOffset, target);
    await assert.rejects(reopened.read(target - 1, 100), outOfRange);
    // Up to the end: everything sealed goes, the log stays usable.
    await reopened.deleteRecordsBefore(reopened.highWatermark);
    assert.equal(reopened.segmentCount, 1);
    assert.equal((await reopened.read(reopened.logStartOffset, 100)).bytes.length, 0);
    assert.equal((await reopened.append(labelledBatch("next", 1))).baseOffset, 90);
    await reopened.close();
  });
});
