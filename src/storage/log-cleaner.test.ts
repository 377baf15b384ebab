import assert from "node:assert/strict";
import { cp, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { WharfError } from "../errors/index.ts";
import { CLEANER_CHECKPOINT, SWAP_MANIFEST } from "./cleaner-swap.ts";
import { Compression, type CompressionCode } from "./compression.ts";
import { FaultyFileSystem, type FileOperation, systemError } from "./faulty-file-system.ts";
import { KeyOffsetMap } from "./key-offset-map.ts";
import { Log, type LogConfig } from "./log.ts";
import type { CompactionOptions } from "./log-cleaner.ts";
import { makeTempDir, removeDir, testConfig, waitFor } from "./log-test-support.ts";
import {
  Attribute,
  checkBatch,
  decodeBatchRecords,
  encodeBatch,
  encodeBatchCompressed,
  readBatchHeader,
  readBatchSize,
} from "./record-batch.ts";
import { checkRecordsHaveKeys } from "./record-keys.ts";

let root: string;
let counter = 0;
before(async () => {
  root = await makeTempDir("cleaner");
});
after(async () => {
  await removeDir(root);
});
const freshDir = () => join(root, `log-${++counter}`);

const T0 = 1_700_000_000_000;
const DAY = 24 * 3600 * 1000;
const segmentName = (base: number) => `${String(base).padStart(20, "0")}.log`;

type Entry = [key: string | null, value: string | null];

interface BatchOptions {
  timestamp?: number;
  compression?: CompressionCode;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
}

function keyed(entries: Entry[], options: BatchOptions = {}): Promise<Buffer> {
  const timestamp = options.timestamp ?? T0;
  return encodeBatchCompressed(
    entries.map(([key, value]) => ({
      key: key === null ? null : Buffer.from(key),
      value: value === null ? null : Buffer.from(value),
      headers: [{ key: "h", value: Buffer.from(`${key}`) }],
      timestamp,
    })),
    { ...options, baseTimestamp: timestamp },
  );
}

interface Written {
  offset: number;
  key: string | null;
  value: string | null;
}

/** Appends batches one at a time and remembers every record with its offset. */
class Model {
  readonly written: Written[] = [];
  constructor(readonly log: Log) {}

  async append(entries: Entry[], options: BatchOptions = {}): Promise<void> {
    const result = await this.log.append(await keyed(entries, options));
    entries.forEach(([key, value], i) => {
      this.written.push({ offset: result.baseOffset + i, key, value });
    });
  }

  /**
   * What a compaction of everything below `cleanEnd` keeps: the latest record of each key in
   * that range (tombstones too unless `dropTombstones`), everything from `cleanEnd` on.
   */
  expected(cleanEnd: number, dropTombstones = false): Written[] {
    const latest = new Map<string, number>();
    for (const record of this.written) {
      if (record.offset < cleanEnd && record.key !== null) latest.set(record.key, record.offset);
    }
    return this.written.filter((record) => {
      if (record.offset >= cleanEnd) return true;
      if (record.key === null || latest.get(record.key) !== record.offset) return false;
      return !(dropTombstones && record.value === null);
    });
  }
}

interface ReadRecord extends Written {
  batchBase: number;
  attributes: number;
  timestamp: number;
}

/**
 * Reads the visible log from its start as a consumer would: whole batches, each CRC-checked,
 * the next read at the offset after the last batch (compaction leaves gaps).
 */
async function readAll(log: Log): Promise<ReadRecord[]> {
  const out: ReadRecord[] = [];
  let offset = log.logStartOffset;
  const end = log.highWatermark;
  while (offset < end) {
    const { bytes } = await log.read(offset, 1 << 20);
    assert.ok(bytes.length > 0, `nothing served at ${offset} below the HW ${end}`);
    let pos = 0;
    let next = offset;
    while (pos < bytes.length) {
      const check = checkBatch(bytes, pos, bytes.length, { maxBatchBytes: 1 << 30 });
      assert.ok(check.ok, `served batch at ${pos} is invalid`);
      const header = readBatchHeader(bytes, pos);
      const lastOffset = header.baseOffset + header.lastOffsetDelta;
      assert.ok(lastOffset >= next, `batch [${header.baseOffset}, ${lastOffset}] goes backwards`);
      for (const record of await decodeBatchRecords(bytes, pos)) {
        if (record.offset < next) continue;
        assert.ok(record.offset <= lastOffset, "a record lies outside its batch's offsets");
        out.push({
          offset: record.offset,
          key: record.key?.toString() ?? null,
          value: record.value?.toString() ?? null,
          batchBase: header.baseOffset,
          attributes: header.attributes,
          timestamp: record.timestamp,
        });
      }
      next = lastOffset + 1;
      pos += readBatchSize(bytes, pos);
    }
    offset = next;
  }
  for (let i = 1; i < out.length; i++) {
    assert.ok(out[i]!.offset > out[i - 1]!.offset, "offsets increase");
  }
  return out;
}

const plain = (records: Written[]) =>
  records.map(({ offset, key, value }) => ({ offset, key, value }));

const options = (overrides: Partial<CompactionOptions> = {}): CompactionOptions => ({
  deleteRetentionMs: DAY,
  minCompactionLagMs: 0,
  now: T0,
  ...overrides,
});

const smallSegments = (overrides: Partial<LogConfig> = {}) =>
  testConfig({ segmentBytes: 2048, indexIntervalBytes: 256, ...overrides });

/** A log of `rounds` rounds over `keys` keys (one record per batch), several segments. */
async function filledLog(
  dir: string,
  rounds: number,
  keys: number,
  config = smallSegments(),
  fileSystem?: FaultyFileSystem,
) {
  const log = await Log.open(dir, config, { now: () => T0, fileSystem });
  const model = new Model(log);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < keys; k++) {
      await model.append([[`key-${k}`, `v${round}-${k}`.padEnd(40, ".")]]);
    }
  }
  return { log, model };
}

const activeBase = (log: Log) => log.segmentBaseOffsets().at(-1)!;

describe("log compaction", () => {
  test("keeps the latest record of every key at its offset; the active segment is untouched", async () => {
    const dir = freshDir();
    const { log, model } = await filledLog(dir, 8, 10);
    assert.ok(log.segmentCount >= 4, `several segments (${log.segmentCount})`);
    const sealed = log.segmentCount - 1;
    const active = activeBase(log);
    const activeBytes = await readFile(join(dir, segmentName(active)));
    const sizeBefore = log.sizeBytes;
    assert.equal(log.cleanableDirtyRatio(), 1);

    const result = await log.compact(options());
    assert.equal(result.passes, 1);
    assert.equal(result.cleanedSegments, sealed);
    assert.ok(result.recordsRemoved > 0);
    assert.ok(result.bytesAfter < result.bytesBefore);
    assert.equal(log.sizeBytes, sizeBefore - (result.bytesBefore - result.bytesAfter));
    assert.deepEqual(plain(await readAll(log)), model.expected(active));
    assert.equal(log.segmentCount, 2, "small cleaned results are grouped into fewer segments");
    assert.equal(log.segmentBaseOffsets()[0], 0, "the head keeps its base offset");
    assert.equal(activeBase(log), active, "the active segment keeps its place");
    assert.deepEqual(await readFile(join(dir, segmentName(active))), activeBytes);
    assert.equal(log.cleanableDirtyRatio(), 0);
    assert.equal((await log.compact(options())).passes, 0, "nothing dirty: nothing to do");

    // Appends and reads go on; the log reopens with its gaps, and compacts again.
    await model.append([["key-0", "after"]]);
    await log.close();
    const reopened = await Log.open(dir, smallSegments(), { now: () => T0 });
    assert.deepEqual(plain(await readAll(reopened)), model.expected(active));
    assert.deepEqual(await reopened.verify(), []);
    assert.equal(reopened.cleanableDirtyRatio(), 0, "the cleaner checkpoint survived");
    await reopened.close();
  });

  test("cleaned segments never exceed segmentBytes", async () => {
    const dir = freshDir();
    const { log, model } = await filledLog(dir, 3, 60);
    const active = activeBase(log);
    await log.compact(options());
    assert.deepEqual(plain(await readAll(log)), model.expected(active));
    const bases = log.segmentBaseOffsets();
    for (const base of bases.slice(0, -1)) {
      const bytes = await readFile(join(dir, segmentName(base)));
      assert.ok(bytes.length <= 2048, `${segmentName(base)} is ${bytes.length} bytes`);
    }
    await log.close();
  });

  test("re-encoded batches keep their codec, offsets, lastOffsetDelta and producer fields", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, smallSegments({ segmentBytes: 4096 }), { now: () => T0 });
    const model = new Model(log);
    const codecs: CompressionCode[] = [
      Compression.none,
      Compression.gzip,
      Compression.snappy,
      Compression.lz4,
      Compression.zstd,
    ];
    for (const [i, codec] of codecs.entries()) {
      // a0..a3 then b: a0, a2 are superseded by the next batch of the same codec.
      await model.append(
        [
          [`a0-${i}`, "x"],
          [`a1-${i}`, "x"],
          [`a2-${i}`, "x"],
          [`b-${i}`, "x"],
        ],
        { compression: codec, producerId: 40 + i, producerEpoch: 3, baseSequence: 100 },
      );
      await model.append(
        [
          [`a0-${i}`, "y"],
          [`a2-${i}`, "y"],
        ],
        { compression: codec },
      );
    }
    const lastOfBatch = new Map<number, number>();
    for (const batch of await rawBatches(log)) lastOfBatch.set(batch.baseOffset, batch.lastOffset);
    while (log.segmentCount < 2) await model.append([["filler", "z".repeat(200)]]);
    const active = activeBase(log);

    await log.compact(options());
    assert.deepEqual(plain(await readAll(log)), model.expected(active));
    const batches = (await rawBatches(log)).filter((batch) => batch.baseOffset < active);
    for (const [i, codec] of codecs.entries()) {
      const first = batches.find((batch) => batch.producerId === 40 + i);
      assert.ok(first, `batch of producer ${40 + i} kept`);
      assert.equal(first.attributes & Attribute.compressionMask, codec, `codec ${codec} kept`);
      assert.equal(first.recordCount, 2, "two records kept");
      assert.equal(first.lastOffset, lastOfBatch.get(first.baseOffset), "lastOffsetDelta kept");
      assert.equal(first.producerEpoch, 3);
      assert.equal(first.baseSequence, 100);
    }
    await log.close();
  });

  test("tombstones stay with a delete horizon, then go once it has passed", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, smallSegments(), { now: () => T0 });
    const model = new Model(log);
    await model.append([["gone", "v1"]]);
    await model.append([["kept", "v1"]]);
    await model.append([["gone", null]]);
    while (log.segmentCount < 3) await model.append([["filler", "z".repeat(300)]]);
    const active = activeBase(log);
    const retention = 60_000;

    await log.compact(options({ deleteRetentionMs: retention, now: T0 }));
    const first = await readAll(log);
    assert.deepEqual(plain(first), model.expected(active));
    const tombstone = first.find((record) => record.key === "gone")!;
    assert.equal(tombstone.value, null, "the tombstone is kept, the value before it is gone");
    assert.ok(tombstone.attributes & Attribute.deleteHorizon, "its batch carries a delete horizon");
    assert.equal(tombstone.timestamp, T0, "record timestamps survive the horizon");
    assert.equal(log.compactionDeleteHorizonMs, T0 + retention);
    const due = { minCompactionLagMs: 0, minCleanableDirtyRatio: 0.5 };
    assert.equal(log.compactionNeeded({ ...due, now: T0 + retention - 1 }), false);
    assert.equal(log.compactionNeeded({ ...due, now: T0 + retention }), true);

    await log.compact(options({ deleteRetentionMs: retention, now: T0 + retention - 1 }));
    assert.ok(
      (await readAll(log)).some((record) => record.key === "gone"),
      "not yet",
    );
    const result = await log.compact(
      options({ deleteRetentionMs: retention, now: T0 + retention }),
    );
    assert.equal(result.recordsRemoved, 1);
    assert.deepEqual(plain(await readAll(log)), model.expected(active, true));
    assert.equal(log.compactionDeleteHorizonMs, -1);
    await log.close();
  });

  test("a clean that keeps nothing leaves an empty head segment; the log reopens and reads on", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, smallSegments(), { now: () => T0 });
    const model = new Model(log);
    for (let i = 0; i < 30; i++) await model.append([[`key-${i % 3}`, `v${i}`.padEnd(60, ".")]]);
    for (let k = 0; k < 3; k++) await model.append([[`key-${k}`, null]]);
    await log.append(await keyed([["next", "x".repeat(1500)]])); // rolls: the tombstones are sealed
    model.written.push({ offset: log.logEndOffset - 1, key: "next", value: "x".repeat(1500) });
    const active = activeBase(log);
    await log.compact(options({ deleteRetentionMs: 0, now: T0 }));
    await log.compact(options({ deleteRetentionMs: 0, now: T0 + 1 }));
    assert.deepEqual(plain(await readAll(log)), model.expected(active, true));
    assert.deepEqual(log.segmentBaseOffsets(), [0, active]);
    assert.equal(log.sizeBytes, (await readFile(join(dir, segmentName(active)))).length);
    await log.close();
    const reopened = await Log.open(dir, smallSegments(), { now: () => T0 });
    assert.equal(reopened.logStartOffset, 0);
    assert.deepEqual(plain(await readAll(reopened)), model.expected(active, true));
    const appended = await reopened.append(await keyed([["after", "reopen"]]));
    assert.equal(appended.baseOffset, active + 1);
    await reopened.close();
  });

  test("segments younger than min.compaction.lag.ms are not compacted", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, smallSegments(), { now: () => T0 });
    const model = new Model(log);
    const lag = 3_600_000;
    for (let i = 0; i < 60; i++) {
      // The first 30 records are old; the rest were written within the lag.
      const timestamp = i < 30 ? T0 - 2 * lag : T0 - 1000;
      await model.append([[`key-${i % 5}`, `v${i}`.padEnd(40, ".")]], { timestamp });
    }
    // The segment holding offset 30 (the first young record) and all after it stay as they are.
    const cleanEnd = log.segmentBaseOffsets().findLast((base) => base <= 30)!;
    assert.ok(cleanEnd > 0 && cleanEnd < activeBase(log), "some sealed segments are young");
    await log.compact(options({ minCompactionLagMs: lag }));
    assert.deepEqual(plain(await readAll(log)), model.expected(cleanEnd));
    await log.close();
  });

  test("records without a key are removed; a producer's last batch stays, empty", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, smallSegments(), { now: () => T0 });
    const model = new Model(log);
    await model.append([[null, "keyless"]]);
    await model.append([["k", "from producer 9"]], {
      producerId: 9,
      producerEpoch: 0,
      baseSequence: 0,
    });
    await model.append([["k", "newer"]]);
    while (log.segmentCount < 2) await model.append([["filler", "z".repeat(300)]]);
    const producerBatch = (await rawBatches(log)).find((batch) => batch.producerId === 9)!;
    await log.compact(options());
    assert.deepEqual(plain(await readAll(log)), model.expected(activeBase(log)));
    const after = (await rawBatches(log)).find((batch) => batch.producerId === 9);
    assert.ok(after, "the producer's last batch is kept (its sequence numbers)");
    assert.equal(after.recordCount, 0);
    assert.equal(after.baseOffset, producerBatch.baseOffset);
    assert.equal(after.lastOffset, producerBatch.lastOffset);
    assert.equal(after.baseSequence, 0);
    await log.close();
  });

  test("a key map smaller than the keys cleans in several passes", async () => {
    const dir = freshDir();
    const { log, model } = await filledLog(dir, 4, 30);
    const active = activeBase(log);
    const result = await log.compact(options({ keyMapBytes: 24 * 8 })); // 7 keys per pass
    assert.ok(result.passes >= 4, `${result.passes} passes`);
    assert.deepEqual(plain(await readAll(log)), model.expected(active));
    assert.equal(log.cleanableDirtyRatio(), 0);
    await log.close();
  });

  test("appends and reads go on while a pass writes its segments", async () => {
    const dir = freshDir();
    const fileSystem = new FaultyFileSystem();
    const { log, model } = await filledLog(dir, 4, 10, smallSegments(), fileSystem);
    const active = activeBase(log);
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    let waiting = false;
    fileSystem.fault = (operation, path) => {
      if (operation === "datasync" && path.endsWith(".cleaned") && !waiting) {
        waiting = true;
        return stalled;
      }
    };
    const compaction = log.compact(options());
    await waitFor(() => waiting, "the cleaner to stall");
    await model.append([["key-1", "during"]]);
    assert.ok((await readAll(log)).some((record) => record.value === "during"));
    release();
    await compaction;
    assert.deepEqual(plain(await readAll(log)), model.expected(active));
    await log.close();
  });

  test("a read holding an old segment finishes on its bytes; the handle closes after it", async () => {
    const dir = freshDir();
    const fileSystem = new FaultyFileSystem();
    const { log, model } = await filledLog(dir, 4, 10, smallSegments(), fileSystem);
    const before = await readAll(log);
    const internals = log as unknown as { segments: Array<{ closed: boolean }> };
    const oldHead = internals.segments[0]!;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let armed = true;
    let holding = false;
    fileSystem.fault = (operation, path) => {
      if (armed && operation === "read" && path.endsWith(segmentName(0))) {
        armed = false;
        holding = true;
        return held;
      }
    };
    const reading = log.read(0, 1 << 20);
    await waitFor(() => holding, "the read to hold the head segment");
    const result = await log.compact(options());
    assert.equal(result.passes, 1);
    assert.equal(oldHead.closed, false, "not closed under its reader");
    release();
    const { bytes } = await reading;
    const firstBatch = readBatchHeader(bytes, 0);
    assert.equal(firstBatch.baseOffset, 0);
    const served = await decodeBatchRecords(bytes, 0);
    assert.equal(served[0]!.value?.toString(), before[0]!.value, "old bytes, intact");
    await waitFor(() => oldHead.closed, "the old segment to close after its reader");
    assert.deepEqual(plain(await readAll(log)), model.expected(activeBase(log)));
    await log.close();
  });

  test("retention that deletes a segment during a pass makes the pass give up cleanly", async () => {
    const dir = freshDir();
    const fileSystem = new FaultyFileSystem();
    const { log, model } = await filledLog(dir, 4, 10, smallSegments(), fileSystem);
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    let waiting = false;
    fileSystem.fault = (operation, path) => {
      if (operation === "datasync" && path.endsWith(".cleaned") && !waiting) {
        waiting = true;
        return stalled;
      }
    };
    const compaction = log.compact(options());
    await waitFor(() => waiting, "the cleaner to stall");
    await log.deleteRecordsBefore(log.segmentBaseOffsets()[1]!);
    release();
    const result = await compaction;
    assert.equal(result.passes, 0, "the head changed: nothing swapped");
    const names = await readdir(dir);
    assert.deepEqual(
      names.filter((name) => name.endsWith(".cleaned") || name === SWAP_MANIFEST),
      [],
      "its files are removed",
    );
    const second = await log.compact(options());
    assert.equal(second.passes, 1);
    const start = log.logStartOffset;
    const expected = model.expected(activeBase(log)).filter((record) => record.offset >= start);
    assert.deepEqual(plain(await readAll(log)), expected);
    await log.close();
  });
});

describe("a crash at every step of a compaction", () => {
  const mutating = new Set<FileOperation>([
    "open",
    "writev",
    "datasync",
    "sync",
    "truncate",
    "rename",
    "unlink",
    "mkdir",
    "removeTree",
    "syncDirectory",
  ]);

  /** Drops a log without closing it (the process died), closing its descriptors. */
  async function crash(log: Log): Promise<void> {
    const internals = log as unknown as {
      segments: Array<{ handle: { close(): Promise<void> } }>;
      state: string;
    };
    internals.state = "closed";
    await Promise.all(internals.segments.map((segment) => segment.handle.close().catch(() => {})));
  }

  test("recovery finishes or rolls back the swap; the log is consistent either way", async () => {
    const template = freshDir();
    const { log: source, model } = await filledLog(template, 3, 8);
    await model.append([["key-0", null]]); // a tombstone too
    while (source.segmentCount < 4) await model.append([["filler", "z".repeat(300)]]);
    const active = activeBase(source);
    await source.close();
    const before = plain(model.written);
    const after = model.expected(active);

    // The operations of one undisturbed run.
    const counting = new FaultyFileSystem();
    const reference = freshDir();
    await cp(template, reference, { recursive: true });
    const log = await Log.open(reference, smallSegments(), { now: () => T0, fileSystem: counting });
    let steps = 0;
    counting.fault = (operation) => {
      if (mutating.has(operation)) steps++;
    };
    await log.compact(options());
    counting.fault = null;
    assert.deepEqual(plain(await readAll(log)), after);
    await log.close();
    assert.ok(steps > 15, `${steps} steps`);

    let rolledBack = 0;
    let finished = 0;
    for (let step = 1; step <= steps; step++) {
      const dir = freshDir();
      await cp(template, dir, { recursive: true });
      const fileSystem = new FaultyFileSystem();
      const victim = await Log.open(dir, smallSegments(), { now: () => T0, fileSystem });
      let count = 0;
      let dead = false;
      fileSystem.fault = (operation) => {
        if (dead) throw systemError("EIO", "the process is dead");
        if (mutating.has(operation) && ++count === step) {
          dead = true;
          throw systemError("EIO", `killed at step ${step} (${operation})`);
        }
      };
      await victim.compact(options()).catch(() => {});
      await crash(victim);

      const recovered = await Log.open(dir, smallSegments(), { now: () => T0 });
      const names = await readdir(dir);
      assert.deepEqual(
        names.filter((name) => /\.(cleaned|swap)$/.test(name) || name === SWAP_MANIFEST),
        [],
        `step ${step}: no compaction leftovers`,
      );
      const content = plain(await readAll(recovered));
      const same = (expected: Written[]) =>
        JSON.stringify(content) === JSON.stringify(plain(expected));
      assert.ok(same(before) || same(after), `step ${step}: the log is the old or the new one`);
      if (same(after)) finished++;
      else rolledBack++;
      assert.deepEqual(await recovered.verify(), [], `step ${step}: no corrupt range`);
      await recovered.compact(options());
      assert.deepEqual(plain(await readAll(recovered)), after, `step ${step}: compacts again`);
      await recovered.close();
      await removeDir(dir);
    }
    assert.ok(rolledBack > 0 && finished > 0, `${rolledBack} rolled back, ${finished} finished`);
  });

  test("a swap that fails after its commit leaves the log readable; reopening finishes it", async () => {
    const dir = freshDir();
    const fileSystem = new FaultyFileSystem();
    const { log, model } = await filledLog(dir, 3, 8);
    const active = activeBase(log);
    await log.close();
    const victim = await Log.open(dir, smallSegments(), { now: () => T0, fileSystem });
    const before = plain(await readAll(victim));
    // Fail the first rename of a .swap file to its final name (step 5).
    fileSystem.fault = (operation, path) => {
      if (operation === "rename" && path.endsWith(".log")) throw systemError("EIO", path);
    };
    await assert.rejects(victim.compact(options()), (error: unknown) => {
      assert.ok(error instanceof WharfError);
      return error.code === "WHARF_STORAGE_IO";
    });
    fileSystem.fault = null;
    assert.deepEqual(plain(await readAll(victim)), before, "the old segments still serve");
    await assert.rejects(victim.compact(options()), /suspended until the log is reopened/);
    await victim.flush(); // writes no index file under a name that is no longer the segment's
    await victim.close();
    const reopened = await Log.open(dir, smallSegments(), { now: () => T0 });
    assert.deepEqual(plain(await readAll(reopened)), model.expected(active));
    assert.ok((await readdir(dir)).includes(CLEANER_CHECKPOINT));
    await reopened.close();
  });
});

describe("compaction helpers", () => {
  test("the key map keeps the latest offset per key and refuses new keys when full", () => {
    const map = new KeyOffsetMap(24 * 8);
    assert.equal(map.capacity, 7);
    for (let i = 0; i < 7; i++) assert.equal(map.put(Buffer.from(`k${i}`), i), true);
    assert.equal(map.put(Buffer.from("k3"), 30), true, "a known key is updated when full");
    assert.equal(map.put(Buffer.from("new"), 99), false);
    assert.equal(map.get(Buffer.from("k3")), 30);
    assert.equal(map.get(Buffer.from("new")), -1);
    const large = new KeyOffsetMap(1 << 20);
    for (let i = 0; i < 20_000; i++) assert.equal(large.put(Buffer.from(`key-${i}`), i), true);
    for (let i = 0; i < 20_000; i += 997) assert.equal(large.get(Buffer.from(`key-${i}`)), i);
    assert.ok(large.allocatedBytes <= 1 << 20);
  });

  test("encodeBatch takes explicit offset deltas, lastOffsetDelta and max timestamp", async () => {
    const batch = encodeBatch(
      [
        { key: Buffer.from("a"), value: Buffer.from("1"), offsetDelta: 2, timestamp: 10 },
        { key: Buffer.from("b"), value: null, offsetDelta: 5, timestamp: 12 },
      ],
      { baseOffset: 100, baseTimestamp: 50, lastOffsetDelta: 9, maxTimestamp: 12 },
    );
    const header = readBatchHeader(batch);
    assert.equal(header.lastOffsetDelta, 9);
    assert.equal(header.recordCount, 2);
    assert.equal(header.maxTimestamp, 12);
    const records = await decodeBatchRecords(batch);
    assert.deepEqual(
      records.map((r) => [r.offset, r.timestamp]),
      [
        [102, 10],
        [105, 12],
      ],
    );
    const empty = encodeBatch([], { lastOffsetDelta: 4, baseTimestamp: 7 });
    assert.equal(readBatchHeader(empty).recordCount, 0);
    assert.ok(checkBatch(empty).ok);
    assert.throws(() => encodeBatch([]), RangeError);
  });

  test("a compacted topic's check refuses a record without a key, compressed or not", async () => {
    await checkRecordsHaveKeys(await keyed([["a", "1"]], { compression: Compression.lz4 }));
    for (const compression of [Compression.none, Compression.gzip] as const) {
      const batch = await keyed(
        [
          ["a", "1"],
          [null, "2"],
        ],
        { compression },
      );
      await assert.rejects(checkRecordsHaveKeys(batch), (error: unknown) => {
        assert.ok(error instanceof WharfError);
        return error.code === "WHARF_BATCH_INVALID" && /without|none/.test(error.message);
      });
    }
  });
});

interface RawBatch {
  baseOffset: number;
  lastOffset: number;
  attributes: number;
  recordCount: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
}

/** Every batch served, headers only (empty batches included). */
async function rawBatches(log: Log): Promise<RawBatch[]> {
  const out: RawBatch[] = [];
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    const { bytes } = await log.read(offset, 1 << 20);
    let pos = 0;
    while (pos < bytes.length) {
      const header = readBatchHeader(bytes, pos);
      const lastOffset = header.baseOffset + header.lastOffsetDelta;
      if (lastOffset >= offset) {
        out.push({
          baseOffset: header.baseOffset,
          lastOffset,
          attributes: header.attributes,
          recordCount: header.recordCount,
          producerId: header.producerId,
          producerEpoch: header.producerEpoch,
          baseSequence: header.baseSequence,
        });
      }
      offset = lastOffset + 1;
      pos += readBatchSize(bytes, pos);
    }
  }
  return out;
}
