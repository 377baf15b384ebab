/**
 * The log's synchronous round write (`FileHandle.writevSync`, issue 5): rounds are copied into
 * the page cache on the main thread and only the fdatasync goes through the thread pool. These
 * tests check that the default file system takes that path (writev is never called for a
 * small round), that every acknowledged append is still fdatasync'd, and that a failing or
 * short synchronous write fails its round and leaves no partial batch, as the async path does.
 */
import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { logSyncsInFlightMax, logSyncWriteBytesMax } from "../config/limits.ts";
import { isWharfError, type WharfError } from "../errors/index.ts";
import { type FileHandle, type FileSystem, nodeFileSystem } from "./file-system.ts";
import { Log } from "./log.ts";
import {
  labelledBatch,
  makeTempDir,
  readWholeLog,
  removeDir,
  testConfig,
} from "./log-test-support.ts";

let root: string;
let counter = 0;
before(async () => {
  root = await makeTempDir("sync-write");
});
after(async () => {
  await removeDir(root);
});
const freshDir = () => `${root}/log-${++counter}`;
const SEGMENT_0 = `${"0".repeat(20)}.log`;

interface Counts {
  writev: number;
  writevSync: number;
  datasync: number;
  /** End (file position) of the data a completed fdatasync of the segment file covers. */
  durableEnd: number;
  /** fdatasyncs of the segment file running now, and the most at once. */
  syncsRunning: number;
  syncsRunningMax: number;
}

const newCounts = (): Counts => ({
  writev: 0,
  writevSync: 0,
  datasync: 0,
  durableEnd: 0,
  syncsRunning: 0,
  syncsRunningMax: 0,
});

interface Fault {
  next: "enospc" | "short" | null;
  /** Fail the segment fdatasync with this 1-based number (EIO), after `syncDelayMs`. */
  failSyncNumber?: number;
  /** Every segment fdatasync waits this long first (a slow disk: rounds pile up in flight). */
  syncDelayMs?: number;
}

/** nodeFileSystem with its handles' writes and syncs counted, and an optional sync-write fault. */
function countingFileSystem(counts: Counts, fault: Fault) {
  const fileSystem: FileSystem = {
    ...nodeFileSystem,
    open: async (path, flags) => {
      const inner = await nodeFileSystem.open(path, flags);
      assert.ok(inner.writevSync, "nodeFileSystem handles write synchronously");
      const segmentFile = path.endsWith(".log");
      let writtenEnd = 0;
      const handle: FileHandle = {
        read: (...args) => inner.read(...args),
        writev: (buffers, position) => {
          counts.writev++;
          return inner.writev(buffers, position);
        },
        writevSync: (buffers, position) => {
          counts.writevSync++;
          if (segmentFile && fault.next === "enospc") {
            fault.next = null;
            throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
          }
          if (segmentFile && fault.next === "short") {
            // A short write (a real disk filling up) writes part of the first buffer only.
            fault.next = "enospc";
            return inner.writevSync!([buffers[0]!.subarray(0, 7)], position);
          }
          const written = inner.writevSync!(buffers, position);
          writtenEnd = Math.max(writtenEnd, position + written);
          return written;
        },
        datasync: async () => {
          if (!segmentFile) return inner.datasync();
          const number = ++counts.datasync;
          const covers = writtenEnd;
          counts.syncsRunning++;
          counts.syncsRunningMax = Math.max(counts.syncsRunningMax, counts.syncsRunning);
          try {
            if (fault.syncDelayMs) await new Promise((r) => setTimeout(r, fault.syncDelayMs));
            if (number === fault.failSyncNumber) {
              throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
            }
            await inner.datasync();
            counts.durableEnd = Math.max(counts.durableEnd, covers);
          } finally {
            counts.syncsRunning--;
          }
        },
        sync: () => inner.sync(),
        truncate: (length) => inner.truncate(length),
        stat: () => inner.stat(),
        close: () => inner.close(),
      };
      return handle;
    },
  };
  return fileSystem;
}

const isCode = (expected: string) => (error: unknown) => {
  assert.ok(isWharfError(error), String(error));
  assert.equal((error as WharfError).code, expected, (error as Error).message);
  return true;
};

describe("synchronous round writes", () => {
  test("rounds below the limit use writevSync; an append resolves only once an fdatasync started after its write completed", async () => {
    const counts = newCounts();
    const fileSystem = countingFileSystem(counts, { next: null });
    const log = await Log.open(freshDir(), testConfig({ segmentBytes: 1 << 20 }), { fileSystem });
    const batchBytes = labelledBatch("r00", 2).length;
    const before = { ...counts };
    const appended = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        log.append(labelledBatch(`r${String(i).padStart(2, "0")}`, 2)).then((result) => {
          // Every batch has the same size, so this append's bytes end here in the file.
          const end = ((result.lastOffset + 1) / 2) * batchBytes;
          assert.ok(counts.durableEnd >= end, `acked at ${end}, durable to ${counts.durableEnd}`);
          return result;
        }),
      ),
    );
    assert.deepEqual(
      appended.map((result) => result.baseOffset),
      Array.from({ length: 64 }, (_, i) => i * 2),
    );
    const segmentWrites = counts.writevSync - before.writevSync;
    assert.ok(segmentWrites >= 1 && segmentWrites < 64, `${segmentWrites} rounds for 64 appends`);
    assert.equal(counts.writev, before.writev, "no thread-pool writev for small rounds");
    assert.ok(counts.datasync - before.datasync >= segmentWrites);
    assert.equal(log.highWatermark, 128);
    await log.close();
  });

  test("on a slow disk, rounds are pipelined: several fdatasyncs in flight, acks in order", async () => {
    const counts = newCounts();
    const fileSystem = countingFileSystem(counts, { next: null, syncDelayMs: 20 });
    const log = await Log.open(freshDir(), testConfig({ segmentBytes: 1 << 20 }), { fileSystem });
    const batchBytes = labelledBatch("p00", 1).length;
    const acked: number[] = [];
    const appends: Promise<unknown>[] = [];
    for (let i = 0; i < 12; i++) {
      appends.push(
        log.append(labelledBatch(`p${String(i).padStart(2, "0")}`, 1)).then((result) => {
          assert.ok(counts.durableEnd >= (result.lastOffset + 1) * batchBytes);
          acked.push(result.baseOffset);
        }),
      );
      // One append per turn: each would otherwise wait for the previous round's fdatasync.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(appends);
    assert.deepEqual(
      acked,
      Array.from({ length: 12 }, (_, i) => i),
      "acknowledged in order",
    );
    assert.ok(counts.syncsRunningMax > 1, `at most ${counts.syncsRunningMax} in flight`);
    assert.ok(counts.syncsRunningMax <= logSyncsInFlightMax);
    assert.equal(log.highWatermark, 12);
    await log.close();
  });

  test("a failed fdatasync fails its round and every later round in flight, then the file is cut back", async () => {
    const counts = newCounts();
    const dir = freshDir();
    const fault: Fault = { next: null, syncDelayMs: 10 };
    const fileSystem = countingFileSystem(counts, fault);
    const config = testConfig({ segmentBytes: 1 << 20 });
    const log = await Log.open(dir, config, { fileSystem });
    await log.append(labelledBatch("a", 2));
    const goodSize = (await stat(join(dir, SEGMENT_0))).size;
    fault.failSyncNumber = counts.datasync + 2;
    const outcomes: Promise<PromiseSettledResult<unknown>[]>[] = [];
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) {
      pending.push(log.append(labelledBatch(`f${i}`, 2)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    outcomes.push(Promise.allSettled(pending));
    const [settled] = await Promise.all(outcomes);
    assert.equal(settled![0]!.status, "fulfilled", "the round before the failed one is durable");
    for (const outcome of settled!.slice(1)) {
      assert.equal(outcome.status, "rejected");
      isCode("WHARF_STORAGE_IO")((outcome as PromiseRejectedResult).reason);
    }
    assert.ok(counts.syncsRunningMax > 1, "the failed round had rounds in flight behind it");
    assert.equal(log.highWatermark, 4);
    const size = (await stat(join(dir, SEGMENT_0))).size;
    assert.equal(size - goodSize, labelledBatch("f0", 2).length, "cut back after round f0");
    const next = await log.append(labelledBatch("b", 2));
    assert.equal(next.baseOffset, 4, "offsets of the failed rounds are handed out again");
    const values = (await readWholeLog(log)).flatMap((batch) => batch.values);
    assert.deepEqual(
      values,
      ["a-0", "a-1", "f0-0", "f0-1", "b-0", "b-1"].map((v) => v.padEnd(16, ".")),
    );
    await log.close();
    const reopened = await Log.open(dir, config);
    assert.equal(reopened.logEndOffset, 6);
    await reopened.close();
  });

  test("a round larger than logSyncWriteBytesMax goes through the thread-pool writev", async () => {
    const counts = newCounts();
    const fileSystem = countingFileSystem(counts, { next: null });
    const config = testConfig({
      segmentBytes: 8 * logSyncWriteBytesMax,
      maxBatchBytes: 4 * logSyncWriteBytesMax,
    });
    const log = await Log.open(freshDir(), config, { fileSystem });
    const big = labelledBatch("big", 1, logSyncWriteBytesMax);
    assert.ok(big.length > logSyncWriteBytesMax);
    const writevBefore = counts.writev;
    await log.append(big);
    assert.equal(counts.writev, writevBefore + 1);
    assert.equal(log.highWatermark, 1);
    await log.close();
  });

  for (const kind of ["enospc", "short"] as const) {
    test(`a failing synchronous write (${kind}) fails its round, truncates, and appends resume`, async () => {
      const counts = newCounts();
      const fault: Fault = { next: null };
      const dir = freshDir();
      const fileSystem = countingFileSystem(counts, fault);
      const config = testConfig({ segmentBytes: 1 << 20 });
      const log = await Log.open(dir, config, { fileSystem });
      await log.append(labelledBatch("a", 2));
      const goodSize = (await stat(join(dir, SEGMENT_0))).size;
      fault.next = kind;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 3 }, (_, i) => log.append(labelledBatch(`f${i}`, 2))),
      );
      for (const outcome of outcomes) {
        assert.equal(outcome.status, "rejected");
        isCode("WHARF_STORAGE_FULL")(outcome.reason);
      }
      assert.equal((await stat(join(dir, SEGMENT_0))).size, goodSize, "no partial batch stays");
      assert.equal(log.highWatermark, 2);
      const next = await log.append(labelledBatch("b", 2));
      assert.equal(next.baseOffset, 2, "offsets of the failed round are handed out again");
      const values = (await readWholeLog(log)).flatMap((batch) => batch.values);
      assert.deepEqual(
        values,
        ["a-0", "a-1", "b-0", "b-1"].map((v) => v.padEnd(16, ".")),
      );
      await log.close();
      const reopened = await Log.open(dir, config);
      assert.equal(reopened.logEndOffset, 4);
      await reopened.close();
    });
  }
});
