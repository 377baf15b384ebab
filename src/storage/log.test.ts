import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { isWharfError } from "../errors/index.ts";
import { Log } from "./log.ts";
import {
  batchOf,
  labelledBatch,
  makeTempDir,
  parseServed,
  readWholeLog,
  removeDir,
  testConfig,
} from "./log-test-support.ts";
import { encodeBatch, Offset } from "./record-batch.ts";

let root: string;
let counter = 0;
before(async () => {
  root = await makeTempDir("log");
});
after(async () => {
  await removeDir(root);
});
const freshDir = () => `${root}/log-${++counter}`;

describe("append and read", () => {
  test("round trip of many batches across segments keeps offsets dense", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, testConfig({ segmentBytes: 4096 }));
    const expected: string[] = [];
    for (let i = 0; i < 200; i++) {
      const count = 1 + (i % 7);
      const result = await log.append(labelledBatch(`b${i}`, count, 20));
      assert.equal(result.baseOffset, expected.length);
      assert.equal(result.lastOffset, expected.length + count - 1);
      for (let r = 0; r < count; r++) expected.push(`b${i}-${r}`.padEnd(20, "."));
    }
    assert.equal(log.logEndOffset, expected.length);
    assert.equal(log.highWatermark, expected.length);
    assert.ok(log.segmentCount > 5, `rolled into ${log.segmentCount} segments`);
    const values = (await readWholeLog(log, 1000)).flatMap((batch) => batch.values);
    assert.deepEqual(values, expected);
    await log.close();
  });

  test("a concurrent burst of appends gets dense, ordered offsets", async () => {
    const log = await Log.open(freshDir(), testConfig({ segmentBytes: 8192 }));
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => log.append(labelledBatch(`c${i}`, 1 + (i % 3)))),
    );
    let next = 0;
    for (const result of results) {
      assert.equal(result.baseOffset, next);
      next = result.lastOffset + 1;
    }
    const batches = await readWholeLog(log);
    assert.equal(batches.length, 100);
    assert.deepEqual(
      batches.map((b) => b.values[0]!.split("-")[0]),
      results.map((_, i) => `c${i}`),
    );
    await log.close();
  });

  test("one append may carry several batches (a produce payload)", async () => {
    const log = await Log.open(freshDir(), testConfig());
    const payload = Buffer.concat([batchOf(["a", "b"]), batchOf(["c"]), batchOf(["d", "e", "f"])]);
    const result = await log.append(payload);
    assert.deepEqual([result.baseOffset, result.lastOffset], [0, 5]);
    const batches = parseServed((await log.read(0, 1 << 20)).bytes);
    assert.deepEqual(
      batches.map((b) => [b.baseOffset, b.lastOffset]),
      [
        [0, 1],
        [2, 2],
        [3, 5],
      ],
    );
    await log.close();
  });

  test("reads return whole batches within maxBytes, at least one, starting at the holder", async () => {
    const log = await Log.open(freshDir(), testConfig({ segmentBytes: 1 << 20 }));
    const sizes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const batch = labelledBatch(`m${i}`, 3, 30);
      sizes.push(batch.length);
      await log.append(batch);
    }
    const size = sizes[0]!;
    // Exactly two batches fit.
    let served = parseServed((await log.read(0, size * 2)).bytes);
    assert.deepEqual(
      served.map((b) => b.baseOffset),
      [0, 3],
    );
    // One byte short of two batches: one batch.
    served = parseServed((await log.read(0, size * 2 - 1)).bytes);
    assert.equal(served.length, 1);
    // Smaller than one batch: still that whole batch (Kafka's minimum-one-batch rule).
    served = parseServed((await log.read(4, 10)).bytes);
    assert.deepEqual(
      served.map((b) => [b.baseOffset, b.lastOffset]),
      [[3, 5]],
    );
    assert.equal((await log.read(4, 0)).bytes.length, size);
    // An offset in the middle of a batch returns the batch holding it.
    served = parseServed((await log.read(29, 1 << 20)).bytes);
    assert.deepEqual(
      served.map((b) => b.baseOffset),
      [27],
    );
    // maxOffset: only batches wholly below it.
    served = parseServed((await log.read(0, 1 << 20, { maxOffset: 7 })).bytes);
    assert.deepEqual(
      served.map((b) => b.baseOffset),
      [0, 3],
    );
    await log.close();
  });

  test("reads stay within one segment and continue in the next", async () => {
    const log = await Log.open(freshDir(), testConfig({ segmentBytes: 2048 }));
    for (let i = 0; i < 40; i++) await log.append(labelledBatch(`s${i}`, 2, 40));
    const bases = log.segmentBaseOffsets();
    assert.ok(bases.length >= 3);
    const firstRead = parseServed((await log.read(0, 1 << 20)).bytes);
    assert.equal(firstRead.at(-1)!.lastOffset + 1, bases[1], "ends at the segment boundary");
    const next = parseServed((await log.read(bases[1]!, 1 << 20)).bytes);
    assert.equal(next[0]!.baseOffset, bases[1]);
    await log.close();
  });

  test("offsets outside the log are out of range; the end offset reads empty", async () => {
    const log = await Log.open(freshDir(), testConfig());
    await log.append(batchOf(["x", "y"]));
    assert.equal((await log.read(2, 100)).bytes.length, 0);
    await assert.rejects(log.read(3, 100), (e) => isWharfError(e, "WHARF_OFFSET_OUT_OF_RANGE"));
    await assert.rejects(log.read(-1, 100), (e) => isWharfError(e, "WHARF_OFFSET_OUT_OF_RANGE"));
    await log.close();
  });

  test("an empty log reads empty at 0", async () => {
    const log = await Log.open(freshDir(), testConfig());
    const result = await log.read(0, 100);
    assert.deepEqual([result.bytes.length, result.highWatermark, result.logStartOffset], [0, 0, 0]);
    await log.close();
  });

  test("stored bytes are the appended bytes with base offset and epoch stamped", async () => {
    const log = await Log.open(freshDir(), testConfig());
    await log.append(batchOf(["first"]));
    const batch = batchOf(["hello", "world"]);
    const original = Buffer.from(batch);
    await log.append(batch, { leaderEpoch: 3 });
    const stored = (await log.read(1, 1 << 20)).bytes;
    assert.equal(stored.length, original.length);
    assert.equal(stored.readBigInt64BE(Offset.baseOffset), 1n);
    assert.equal(stored.readInt32BE(Offset.partitionLeaderEpoch), 3);
    assert.deepEqual(stored.subarray(Offset.magic), original.subarray(Offset.magic));
    await log.close();
  });
});

describe("rejected appends", () => {
  const expectCode = async (log: Log, bytes: Buffer, code: string, fromProducer = false) => {
    await assert.rejects(log.append(bytes, { fromProducer }), (error) => {
      assert.ok(isWharfError(error), String(error));
      assert.equal(error.code, code);
      return true;
    });
  };

  test("each kind of bad batch fails with its code and writes nothing", async () => {
    const log = await Log.open(freshDir(), testConfig({ maxBatchBytes: 1024 }));
    await log.append(batchOf(["ok"]));

    const badCrc = batchOf(["payload"]);
    badCrc[badCrc.length - 1]! ^= 0xff;
    await expectCode(log, badCrc, "WHARF_BATCH_CORRUPT");

    const badMagic = batchOf(["payload"]);
    badMagic[Offset.magic] = 1;
    await expectCode(log, badMagic, "WHARF_BATCH_UNSUPPORTED_MAGIC");

    const badLength = batchOf(["payload"]);
    badLength.writeInt32BE(20, Offset.batchLength); // shorter than a header
    await expectCode(log, badLength, "WHARF_BATCH_INVALID");

    const torn = batchOf(["payload"]).subarray(0, 70); // declares more than follows
    await expectCode(log, torn, "WHARF_BATCH_INVALID");

    await expectCode(log, Buffer.alloc(0), "WHARF_BATCH_INVALID");
    await expectCode(log, labelledBatch("big", 40, 40), "WHARF_BATCH_TOO_LARGE");

    // Producer rule: lastOffsetDelta must be recordCount - 1 (CRC recomputed by re-encoding).
    const gappy = encodeBatch([{ value: Buffer.from("a") }, { value: Buffer.from("b") }]);
    gappy.writeInt32BE(5, Offset.lastOffsetDelta);
    const { crc32c } = await import("./crc32c.ts");
    gappy.writeUInt32BE(crc32c(gappy, Offset.attributes), Offset.crc);
    await expectCode(log, gappy, "WHARF_BATCH_INVALID", true);

    // A good batch followed by a bad one: the whole append is refused.
    const mixed = Buffer.concat([batchOf(["good"]), badCrc]);
    await expectCode(log, mixed, "WHARF_BATCH_CORRUPT");

    assert.equal(log.logEndOffset, 1);
    const next = await log.append(batchOf(["after"]));
    assert.equal(next.baseOffset, 1);
    assert.deepEqual(
      (await readWholeLog(log)).flatMap((b) => b.values),
      ["ok", "after"],
    );
    await log.close();
  });

  test("an append larger than the whole append queue is too large, not retriable", async () => {
    const batch = labelledBatch("q", 20, 50);
    const log = await Log.open(freshDir(), testConfig(), {
      appendLimits: { queueBytesMax: batch.length - 1 },
    });
    await expectCode(log, batch, "WHARF_BATCH_TOO_LARGE");
    await log.close();
  });

  test("an older leader epoch is fenced", async () => {
    const log = await Log.open(freshDir(), testConfig());
    await log.append(batchOf(["a"]), { leaderEpoch: 5 });
    await assert.rejects(log.append(batchOf(["b"]), { leaderEpoch: 4 }), (e) =>
      isWharfError(e, "WHARF_LEADER_EPOCH_FENCED"),
    );
    await log.close();
  });

  test("a closed log refuses appends and reads", async () => {
    const log = await Log.open(freshDir(), testConfig());
    await log.close();
    await assert.rejects(log.append(batchOf(["a"])), (e) => isWharfError(e, "WHARF_LOG_CLOSED"));
    await assert.rejects(log.read(0, 10), (e) => isWharfError(e, "WHARF_LOG_CLOSED"));
  });
});

describe("restart", () => {
  test("offsets stay dense across clean and unclean restarts", async () => {
    const dir = freshDir();
    const config = testConfig({ segmentBytes: 2048 });
    let log = await Log.open(dir, config);
    let next = 0;
    const values: string[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 15; i++) {
        const result = await log.append(labelledBatch(`r${round}.${i}`, 2));
        assert.equal(result.baseOffset, next);
        next = result.lastOffset + 1;
        values.push(`r${round}.${i}-0`.padEnd(16, "."), `r${round}.${i}-1`.padEnd(16, "."));
      }
      if (round % 2 === 0) await log.close();
      // Odd rounds: no close (as after a crash: no clean-shutdown marker, indexes unwritten).
      else await abandon(log);
      log = await Log.open(dir, config);
      assert.equal(log.logEndOffset, next);
      assert.deepEqual(
        (await readWholeLog(log)).flatMap((b) => b.values),
        values,
      );
    }
    await log.close();
  });

  test("a clean close leaves a marker and index files; the next open uses them", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, testConfig({ segmentBytes: 2048 }));
    for (let i = 0; i < 30; i++) await log.append(labelledBatch(`k${i}`, 2));
    await log.close();
    const files = await readdir(dir);
    assert.ok(files.includes("clean-shutdown"));
    assert.ok(files.some((f) => f.endsWith(".index")));
    assert.ok(files.some((f) => f.endsWith(".timeindex")));
    const reopened = await Log.open(dir, testConfig({ segmentBytes: 2048 }));
    assert.ok(!(await readdir(dir)).includes("clean-shutdown"), "marker removed while open");
    assert.equal(reopened.logEndOffset, 60);
    assert.equal((await readWholeLog(reopened)).length, 30);
    await reopened.close();
  });
});

describe("rolling", () => {
  test("rolls by size before a segment would exceed segmentBytes", async () => {
    const log = await Log.open(freshDir(), testConfig({ segmentBytes: 1024 }));
    const batch = labelledBatch("x", 4, 40); // ~300 bytes
    for (let i = 0; i < 10; i++) await log.append(Buffer.from(batch));
    const perSegment = Math.floor(1024 / batch.length);
    assert.equal(log.segmentCount, Math.ceil(10 / perSegment));
    assert.deepEqual(
      log.segmentBaseOffsets(),
      Array.from({ length: log.segmentCount }, (_, i) => i * perSegment * 4),
    );
    await log.close();
  });

  test("an append larger than segmentBytes gets a segment of its own", async () => {
    const log = await Log.open(freshDir(), testConfig({ segmentBytes: 1024 }));
    await log.append(batchOf(["small"]));
    await log.append(labelledBatch("huge", 30, 60));
    await log.append(batchOf(["after"]));
    assert.deepEqual(log.segmentBaseOffsets(), [0, 1, 31]);
    assert.equal((await readWholeLog(log)).length, 3);
    await log.close();
  });

  test("rolls by age from the segment's first append (injected clock)", async () => {
    let now = 1_000_000;
    const log = await Log.open(freshDir(), testConfig({ segmentMs: 1000 }), { now: () => now });
    await log.append(batchOf(["a"]));
    now += 999;
    await log.append(batchOf(["b"]));
    assert.equal(log.segmentCount, 1);
    now += 1;
    await log.append(batchOf(["c"]));
    assert.deepEqual(log.segmentBaseOffsets(), [0, 2]);
    now += 5000; // an idle segment does not roll until the next append
    assert.equal(log.segmentCount, 2);
    await log.append(batchOf(["d"]));
    assert.deepEqual(log.segmentBaseOffsets(), [0, 2, 3]);
    await log.close();
  });
});

describe("timestamps", () => {
  test("offsetForTimestamp finds the first record at or after a time", async () => {
    const log = await Log.open(
      freshDir(),
      testConfig({ segmentBytes: 1024, indexIntervalBytes: 100 }),
    );
    const t0 = 1_700_000_000_000;
    // 60 batches, timestamps rising by 10 ms per batch, records within a batch by 1 ms.
    for (let i = 0; i < 60; i++) {
      const records = [0, 1, 2].map((r) => ({
        value: Buffer.from(`t${i}.${r}`),
        timestamp: t0 + i * 10 + r,
      }));
      await log.append(encodeBatch(records));
    }
    assert.deepEqual(await log.offsetForTimestamp(0), { offset: 0, timestamp: t0 });
    assert.deepEqual(await log.offsetForTimestamp(t0 + 101), { offset: 31, timestamp: t0 + 101 });
    assert.deepEqual(await log.offsetForTimestamp(t0 + 103), { offset: 33, timestamp: t0 + 110 });
    assert.deepEqual(await log.offsetForTimestamp(t0 + 592), { offset: 179, timestamp: t0 + 592 });
    assert.equal(await log.offsetForTimestamp(t0 + 593), null);
    assert.ok(log.segmentCount > 3);
    await log.close();
    // Same answers from persisted indexes after a restart.
    const reopened = await Log.open(log.dir, log.config);
    assert.deepEqual(await reopened.offsetForTimestamp(t0 + 250), {
      offset: 75,
      timestamp: t0 + 250,
    });
    await reopened.close();
  });

  test("non-monotonic timestamps: the first record in offset order that reaches the time", async () => {
    const log = await Log.open(freshDir(), testConfig({ indexIntervalBytes: 0 }));
    const stamps = [50, 10, 70, 20, 90, 30];
    for (const stamp of stamps) await log.append(batchOf([`v${stamp}`], stamp));
    assert.deepEqual(await log.offsetForTimestamp(60), { offset: 2, timestamp: 70 });
    assert.deepEqual(await log.offsetForTimestamp(15), { offset: 0, timestamp: 50 });
    assert.deepEqual(await log.offsetForTimestamp(80), { offset: 4, timestamp: 90 });
    await log.close();
  });
});

describe("durability modes", () => {
  for (const durability of [
    { mode: "fsync" as const },
    { mode: "interval" as const, intervalMs: 20 },
    { mode: "none" as const },
  ]) {
    test(`${durability.mode}: appends are readable at once and survive a restart`, async () => {
      const dir = freshDir();
      const log = await Log.open(dir, testConfig({ durability }));
      const result = await log.append(batchOf(["a", "b"]));
      assert.equal(log.highWatermark, result.lastOffset + 1);
      assert.equal(parseServed((await log.read(0, 1000)).bytes).length, 1);
      await log.close();
      const reopened = await Log.open(dir, testConfig({ durability }));
      assert.equal(reopened.logEndOffset, 2);
      await reopened.close();
    });
  }
});

describe("truncation and leader epochs", () => {
  test("truncateTo cuts at the batch holding the offset and appends continue there", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, testConfig({ segmentBytes: 1024 }));
    for (let i = 0; i < 20; i++)
      await log.append(labelledBatch(`t${i}`, 3), { leaderEpoch: i < 10 ? 1 : 2 });
    assert.deepEqual(log.leaderEpochs.entries(), [
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 30 },
    ]);
    await log.truncateTo(25); // inside batch [24, 26]
    assert.equal(log.logEndOffset, 24);
    assert.equal(log.highWatermark, 24);
    assert.deepEqual(log.leaderEpochs.entries(), [{ epoch: 1, startOffset: 0 }]);
    assert.deepEqual(log.leaderEpochs.endOffsetFor(1), { epoch: 1, endOffset: 24 });
    const next = await log.append(batchOf(["new"]), { leaderEpoch: 3 });
    assert.equal(next.baseOffset, 24);
    assert.deepEqual(log.leaderEpochs.endOffsetFor(1), { epoch: 1, endOffset: 24 });
    assert.deepEqual(log.leaderEpochs.endOffsetFor(2), { epoch: 1, endOffset: 24 });
    assert.deepEqual(log.leaderEpochs.endOffsetFor(3), { epoch: 3, endOffset: 25 });
    await log.close();
    const reopened = await Log.open(dir, testConfig({ segmentBytes: 1024 }));
    assert.equal(reopened.logEndOffset, 25);
    assert.equal(reopened.leaderEpochs.latestEpoch, 3);
    const batches = await readWholeLog(reopened);
    assert.deepEqual(batches.at(-1)!.values, ["new"]);
    assert.equal(batches.length, 9);
    await reopened.close();
  });

  test("leader epochs: assign and epoch bumps persist across an unclean restart", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, testConfig());
    await log.leaderEpochs.assign(4, 0);
    await log.append(batchOf(["a"]));
    await log.append(batchOf(["b"]), { leaderEpoch: 6 });
    await abandon(log);
    const reopened = await Log.open(dir, testConfig());
    assert.deepEqual(reopened.leaderEpochs.entries(), [
      { epoch: 4, startOffset: 0 },
      { epoch: 6, startOffset: 1 },
    ]);
    assert.deepEqual(reopened.leaderEpochs.endOffsetFor(5), { epoch: 4, endOffset: 1 });
    assert.deepEqual(reopened.leaderEpochs.endOffsetFor(3), { epoch: -1, endOffset: -1 });
    await reopened.close();
  });
});

describe("recent batch headers", () => {
  test("returns the headers of the log's tail, oldest first", async () => {
    const log = await Log.open(freshDir(), testConfig({ segmentBytes: 1024 }));
    for (let i = 0; i < 30; i++) {
      await log.append(
        encodeBatch([{ value: Buffer.from(`p${i}`) }], { producerId: 7, baseSequence: i }),
      );
    }
    const all = await log.recentBatchHeaders();
    assert.deepEqual(
      all.map((h) => h.baseSequence),
      Array.from({ length: 30 }, (_, i) => i),
    );
    const some = await log.recentBatchHeaders(300);
    assert.ok(some.length < 30 && some.length >= 3, `${some.length} headers`);
    assert.equal(some.at(-1)!.baseOffset, 29);
    await log.close();
  });
});

/**
 * Drops a log without closing it, as a crash would: no flush, no index files, no marker.
 * The handles are closed so the test does not leak descriptors.
 */
async function abandon(log: Log): Promise<void> {
  const internals = log as unknown as {
    segments: Array<{ handle: { close(): Promise<void> } }>;
    state: string;
  };
  internals.state = "closed";
  await Promise.all(internals.segments.map((segment) => segment.handle.close()));
}
