import assert from "node:assert/strict";
import { appendFile, readdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { Log } from "./log.ts";
import {
  labelledBatch,
  makeTempDir,
  readWholeLog,
  removeDir,
  testConfig,
} from "./log-test-support.ts";
import { readBatchSize } from "./record-batch.ts";

let root: string;
let counter = 0;
before(async () => {
  root = await makeTempDir("recovery");
});
after(async () => {
  await removeDir(root);
});
const freshDir = () => `${root}/log-${++counter}`;

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger that keeps its lines for assertions. */
function capturingLogger() {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: "debug" },
    { write: (line: string) => lines.push(JSON.parse(line)) },
  );
  return { logger, lines };
}

const segmentName = (base: number, suffix = ".log") => `${String(base).padStart(20, "0")}${suffix}`;

/** Appends `count` batches of 3 records and drops the log without closing it (a crash). */
async function writeAndCrash(dir: string, count: number, segmentBytes = 1 << 20) {
  const log = await Log.open(dir, testConfig({ segmentBytes }));
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    const batch = labelledBatch(`w${i}`, 3, 24);
    sizes.push(batch.length);
    await log.append(batch);
  }
  const bases = log.segmentBaseOffsets();
  const internals = log as unknown as {
    segments: Array<{ handle: { close(): Promise<void> } }>;
    state: string;
  };
  internals.state = "closed";
  await Promise.all(internals.segments.map((segment) => segment.handle.close()));
  return { sizes, bases };
}

describe("torn and corrupt tails", () => {
  test("a batch cut in the middle is truncated, with a warn line; appends continue", async () => {
    const dir = freshDir();
    const { sizes } = await writeAndCrash(dir, 10);
    const file = join(dir, segmentName(0));
    const whole = sizes.slice(0, 9).reduce((a, b) => a + b, 0);
    await truncate(file, whole + 40); // the 10th batch is torn 40 bytes in
    const { logger, lines } = capturingLogger();
    const log = await Log.open(dir, testConfig(), { logger });
    assert.equal(log.logEndOffset, 27);
    assert.equal((await stat(file)).size, whole);
    const warn = lines.find((line) => line.msg === "truncating torn or corrupt tail of the log");
    assert.ok(warn, "a warn line names the truncation");
    assert.equal(warn.level, 40);
    assert.equal(warn.file, segmentName(0));
    assert.equal(warn.position, whole);
    assert.equal(warn.lastValidOffset, 26);
    assert.equal(warn.bytesDropped, 40);
    assert.equal((await log.append(labelledBatch("after", 2))).baseOffset, 27);
    assert.equal((await readWholeLog(log)).length, 10);
    await log.close();
  });

  test("garbage after the last batch is truncated", async () => {
    const dir = freshDir();
    const { sizes } = await writeAndCrash(dir, 5);
    const file = join(dir, segmentName(0));
    await appendFile(file, Buffer.from("this is not a record batch, just noise ".repeat(20)));
    const log = await Log.open(dir, testConfig());
    assert.equal(log.logEndOffset, 15);
    assert.equal(
      (await stat(file)).size,
      sizes.reduce((a, b) => a + b, 0),
    );
    await log.close();
  });

  test("zeros after the last batch (lost pages after a power loss) are truncated", async () => {
    const dir = freshDir();
    await writeAndCrash(dir, 5);
    await appendFile(join(dir, segmentName(0)), Buffer.alloc(8192));
    const log = await Log.open(dir, testConfig());
    assert.equal(log.logEndOffset, 15);
    assert.equal((await readWholeLog(log)).length, 5);
    await log.close();
  });

  test("a partial header at the end is truncated", async () => {
    const dir = freshDir();
    const { sizes } = await writeAndCrash(dir, 4);
    const file = join(dir, segmentName(0));
    const bytes = await readFile(file);
    await appendFile(file, bytes.subarray(0, 30)); // 30 bytes of a header
    const log = await Log.open(dir, testConfig());
    assert.equal(log.logEndOffset, 12);
    assert.equal(
      (await stat(file)).size,
      sizes.reduce((a, b) => a + b, 0),
    );
    await log.close();
  });

  test("a bad CRC in the last batch is truncated", async () => {
    const dir = freshDir();
    await writeAndCrash(dir, 4);
    const file = join(dir, segmentName(0));
    const bytes = await readFile(file);
    bytes[bytes.length - 3]! ^= 0x55;
    await writeFile(file, bytes);
    const log = await Log.open(dir, testConfig());
    assert.equal(log.logEndOffset, 9);
    await log.close();
  });

  test("damage inside the tail with valid data after it is recorded, not cut away", async () => {
    const dir = freshDir();
    const { sizes } = await writeAndCrash(dir, 6);
    const file = join(dir, segmentName(0));
    const bytes = await readFile(file);
    const third = sizes[0]! + sizes[1]!;
    bytes[third + 70]! ^= 0xff; // a record byte of the third batch (offsets 6-8)
    await writeFile(file, bytes);
    const { logger, lines } = capturingLogger();
    const log = await Log.open(dir, testConfig(), { logger });
    assert.equal(log.logEndOffset, 18, "acknowledged data after the damage is kept");
    assert.deepEqual(log.corruptRanges(), [
      {
        file: segmentName(0),
        startPosition: third,
        endPosition: third + sizes[2]!,
        startOffset: 6,
        endOffset: 9,
      },
    ]);
    assert.ok(lines.some((line) => line.level === 50 && line.startOffset === 6));
    await log.close();
  });

  test("a clean-shutdown marker that does not match the file forces a scan", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, testConfig());
    for (let i = 0; i < 3; i++) await log.append(labelledBatch(`c${i}`, 2));
    await log.close();
    await appendFile(join(dir, segmentName(0)), Buffer.from("junk after a clean close"));
    const { logger, lines } = capturingLogger();
    const reopened = await Log.open(dir, testConfig(), { logger });
    assert.equal(reopened.logEndOffset, 6);
    assert.ok(lines.some((line) => line.msg === "truncating torn or corrupt tail of the log"));
    await reopened.close();
  });
});

describe("indexes", () => {
  test("missing index files of sealed segments are rebuilt", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, testConfig({ segmentBytes: 2048 }));
    for (let i = 0; i < 40; i++) await log.append(labelledBatch(`i${i}`, 3, 24));
    await log.close();
    const indexes = (await readdir(dir)).filter(
      (f) => f.endsWith(".index") || f.endsWith(".timeindex"),
    );
    assert.ok(indexes.length >= 4);
    for (const name of indexes) await removeDir(join(dir, name));
    const { logger, lines } = capturingLogger();
    const reopened = await Log.open(dir, testConfig({ segmentBytes: 2048 }), { logger });
    assert.ok(lines.some((line) => line.msg === "rebuilding segment indexes from the log"));
    for (let offset = 0; offset < 120; offset += 7) {
      const { bytes } = await reopened.read(offset, 1);
      const base = bytes.readBigInt64BE(0);
      assert.equal(Number(base), offset - (offset % 3));
    }
    await reopened.close();
    // The clean close wrote them again.
    const after = (await readdir(dir)).filter((f) => f.endsWith(".index"));
    assert.equal(after.length, reopened.segmentCount);
  });

  test("an index entry beyond the file's end makes the index rebuilt", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, testConfig({ segmentBytes: 2048 }));
    for (let i = 0; i < 40; i++) await log.append(labelledBatch(`i${i}`, 3, 24));
    await log.close();
    const index = join(dir, segmentName(0, ".index"));
    const bytes = await readFile(index);
    bytes.writeInt32BE(1 << 30, bytes.length - 4); // last entry points far past the end
    await writeFile(index, bytes);
    const { logger, lines } = capturingLogger();
    const reopened = await Log.open(dir, testConfig({ segmentBytes: 2048 }), { logger });
    const rebuilt = lines.find((line) => line.msg === "rebuilding segment indexes from the log");
    assert.match(String(rebuilt?.reason), /beyond the log's end/);
    assert.equal((await readWholeLog(reopened, 200)).length, 40);
    await reopened.close();
  });

  test("an index entry pointing at the wrong batch makes the index rebuilt", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, testConfig({ segmentBytes: 2048 }));
    for (let i = 0; i < 40; i++) await log.append(labelledBatch(`i${i}`, 3, 24));
    await log.close();
    const index = join(dir, segmentName(0, ".index"));
    const bytes = await readFile(index);
    const entries = bytes.length / 8;
    assert.ok(entries >= 3);
    // The last entry's offset moves up by one batch: the batch at its position disagrees.
    bytes.writeInt32BE(bytes.readInt32BE((entries - 1) * 8) + 3, (entries - 1) * 8);
    await writeFile(index, bytes);
    const { logger, lines } = capturingLogger();
    const reopened = await Log.open(dir, testConfig({ segmentBytes: 2048 }), { logger });
    assert.ok(lines.some((line) => line.msg === "rebuilding segment indexes from the log"));
    assert.equal((await readWholeLog(reopened, 200)).length, 40);
    assert.deepEqual(reopened.corruptRanges(), []);
    await reopened.close();
  });

  test("a too-short index (entries missing at its end) is extended from the log", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, testConfig({ segmentBytes: 4096 }));
    for (let i = 0; i < 60; i++) await log.append(labelledBatch(`i${i}`, 3, 24));
    await log.close();
    const index = join(dir, segmentName(0, ".index"));
    const full = await readFile(index);
    await writeFile(index, full.subarray(0, 8)); // only the first entry left
    const reopened = await Log.open(dir, testConfig({ segmentBytes: 4096 }));
    assert.equal((await readWholeLog(reopened, 300)).length, 60);
    await reopened.close();
    assert.deepEqual(await readFile(index), full, "the index is whole again after the close");
  });

  test("a clean restart of a log whose active index is long reads the same", async () => {
    const dir = freshDir();
    const log = await Log.open(dir, testConfig({ segmentBytes: 1 << 20, indexIntervalBytes: 64 }));
    for (let i = 0; i < 100; i++) await log.append(labelledBatch(`l${i}`, 2, 24));
    await log.close();
    const reopened = await Log.open(
      dir,
      testConfig({ segmentBytes: 1 << 20, indexIntervalBytes: 64 }),
    );
    for (let offset = 0; offset < 200; offset += 13) {
      const { bytes } = await reopened.read(offset, 1);
      assert.equal(Number(bytes.readBigInt64BE(0)), offset - (offset % 2));
      assert.equal(bytes.length, readBatchSize(bytes, 0));
    }
    await reopened.close();
  });
});

describe("leftovers", () => {
  test("temp files and orphan indexes are removed; an empty tail segment is fine", async () => {
    const dir = freshDir();
    const { sizes } = await writeAndCrash(dir, 3);
    await writeFile(join(dir, "log-start-offset-checkpoint.tmp"), "half");
    await writeFile(join(dir, `${segmentName(0, ".index")}.tmp`), "half");
    await writeFile(join(dir, segmentName(500, ".index")), Buffer.alloc(8));
    // A crash right after a roll created the next segment: an empty file at the end offset.
    await writeFile(join(dir, segmentName(9)), Buffer.alloc(0));
    const { logger, lines } = capturingLogger();
    const log = await Log.open(dir, testConfig(), { logger });
    const files = await readdir(dir);
    assert.ok(!files.some((f) => f.endsWith(".tmp")), files.join(","));
    assert.ok(!files.includes(segmentName(500, ".index")));
    assert.equal(lines.filter((line) => line.msg === "removing leftover file").length, 3);
    assert.deepEqual(log.segmentBaseOffsets(), [0, 9]);
    assert.equal(log.logEndOffset, 9);
    assert.equal((await log.append(labelledBatch("x", 1))).baseOffset, 9);
    assert.equal((await readWholeLog(log)).length, 4);
    assert.equal(sizes.length, 3);
    await log.close();
  });

  test("an unreadable checkpoint is ignored with a warning", async () => {
    const dir = freshDir();
    await writeAndCrash(dir, 2);
    await writeFile(join(dir, "log-start-offset-checkpoint"), "garbage\n");
    await writeFile(join(dir, "leader-epoch-checkpoint"), "0\n5\n1 2\n");
    const { logger, lines } = capturingLogger();
    const log = await Log.open(dir, testConfig(), { logger });
    assert.equal(lines.filter((line) => line.msg === "unreadable checkpoint ignored").length, 2);
    assert.equal(log.logStartOffset, 0);
    await log.close();
  });
});
