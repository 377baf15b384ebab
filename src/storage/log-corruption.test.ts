import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { isWharfError } from "../errors/index.ts";
import { Log } from "./log.ts";
import {
  labelledBatch,
  makeTempDir,
  parseServed,
  removeDir,
  testConfig,
} from "./log-test-support.ts";

let root: string;
let counter = 0;
before(async () => {
  root = await makeTempDir("corruption");
});
after(async () => {
  await removeDir(root);
});

const SEGMENT_0 = `${"0".repeat(20)}.log`;
const config = testConfig({ segmentBytes: 4096, indexIntervalBytes: 400 });

/**
 * A closed log of 60 equal batches of 3 records (so batch i holds offsets 3i..3i+2 and sits at
 * position i * size in its segment) spread over several segments.
 */
async function buildLog() {
  const dir = `${root}/log-${++counter}`;
  const log = await Log.open(dir, config);
  let size = 0;
  for (let i = 0; i < 60; i++) {
    const batch = labelledBatch(`c${i}`, 3, 24);
    size = batch.length;
    await log.append(batch);
  }
  const bases = log.segmentBaseOffsets();
  await log.close();
  return { dir, size, bases, perSegment: bases[1]! / 3 };
}

async function damage(dir: string, file: string, edit: (bytes: Buffer) => void) {
  const path = join(dir, file);
  const bytes = await readFile(path);
  edit(bytes);
  await writeFile(path, bytes);
}

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: "debug" },
    { write: (line: string) => lines.push(JSON.parse(line)) },
  );
  const errors = () => lines.filter((line) => line.level === 50);
  return { logger, errors };
}

const isCorrupt = (error: unknown) => isWharfError(error, "WHARF_DATA_CORRUPT");

/** Reads the whole visible log, skipping over corrupt ranges; returns batch base offsets. */
async function readAround(log: Log): Promise<{ bases: number[]; corruptAt: number[] }> {
  const bases: number[] = [];
  const corruptAt: number[] = [];
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    try {
      const batches = parseServed((await log.read(offset, 1000)).bytes);
      assert.ok(batches.length > 0);
      for (const batch of batches) bases.push(batch.baseOffset);
      offset = batches.at(-1)!.lastOffset + 1;
    } catch (error) {
      assert.ok(isCorrupt(error), String(error));
      corruptAt.push(offset);
      offset += 3;
    }
  }
  return { bases, corruptAt };
}

describe("corruption in the middle of a sealed segment", () => {
  test("a flipped record byte: the batch is refused, everything else is served", async () => {
    const { dir, size, perSegment } = await buildLog();
    const bad = 5; // batch 5: offsets 15-17
    await damage(dir, SEGMENT_0, (bytes) => {
      bytes[bad * size + 80]! ^= 0x01;
    });
    const { logger, errors } = capturingLogger();
    const log = await Log.open(dir, config, { logger });
    // Before: served, and a read running into the damage stops before it.
    const before = parseServed((await log.read(0, 1 << 20)).bytes);
    assert.deepEqual(
      before.map((b) => b.baseOffset),
      [0, 3, 6, 9, 12],
    );
    for (const offset of [15, 16, 17]) {
      await assert.rejects(log.read(offset, 1 << 20), isCorrupt);
    }
    // After: served.
    const afterBatches = parseServed((await log.read(18, 1 << 20)).bytes);
    assert.equal(afterBatches[0]!.baseOffset, 18);
    assert.equal(afterBatches.at(-1)!.lastOffset + 1, perSegment * 3);
    // Logged once, clearly, however often it is read.
    assert.equal(errors().length, 1);
    const line = errors()[0]!;
    assert.deepEqual(
      [line.file, line.startPosition, line.endPosition, line.startOffset, line.endOffset],
      [SEGMENT_0, bad * size, (bad + 1) * size, 15, 18],
    );
    const whole = await readAround(log);
    assert.deepEqual(whole.corruptAt, [15]);
    assert.equal(whole.bases.length, 59);
    await log.close();
  });

  test("verify() finds the damage without a read meeting it first", async () => {
    const { dir, size } = await buildLog();
    await damage(dir, SEGMENT_0, (bytes) => {
      bytes[2 * size + 100]! ^= 0x80;
    });
    const log = await Log.open(dir, config);
    assert.deepEqual(log.corruptRanges(), []);
    const ranges = await log.verify();
    assert.deepEqual(ranges, [
      {
        file: SEGMENT_0,
        startPosition: 2 * size,
        endPosition: 3 * size,
        startOffset: 6,
        endOffset: 9,
      },
    ]);
    await assert.rejects(log.read(7, 100), isCorrupt);
    assert.deepEqual(await log.verify(), ranges, "the same range, not a second one");
    await log.close();
  });

  test("verify() of an intact log finds nothing", async () => {
    const { dir } = await buildLog();
    const log = await Log.open(dir, config);
    assert.deepEqual(await log.verify(), []);
    await log.close();
  });

  test("a damaged length field: the scan finds where valid batches resume", async () => {
    const { dir, size } = await buildLog();
    const bad = 4;
    await damage(dir, SEGMENT_0, (bytes) => {
      bytes.writeInt32BE(999_999, bad * size + 8); // batchLength
    });
    const log = await Log.open(dir, config);
    await assert.rejects(log.read(13, 100), isCorrupt);
    const batches = parseServed((await log.read(15, 100)).bytes);
    assert.equal(batches[0]!.baseOffset, 15);
    const whole = await readAround(log);
    assert.deepEqual(whole.corruptAt, [12]);
    assert.deepEqual(await log.verify(), [
      {
        file: SEGMENT_0,
        startPosition: bad * size,
        endPosition: (bad + 1) * size,
        startOffset: 12,
        endOffset: 15,
      },
    ]);
    await log.close();
  });

  test("a damaged base offset (outside the CRC) is caught by offset density", async () => {
    const { dir, size } = await buildLog();
    await damage(dir, SEGMENT_0, (bytes) => {
      bytes.writeBigInt64BE(1000n, 7 * size);
    });
    const log = await Log.open(dir, config);
    await assert.rejects(log.read(21, 100), isCorrupt);
    const whole = await readAround(log);
    assert.deepEqual(whole.corruptAt, [21]);
    assert.equal(whole.bases.length, 59);
    await log.close();
  });

  test("several batches overwritten with noise: one range, both sides served", async () => {
    const { dir, size } = await buildLog();
    await damage(dir, SEGMENT_0, (bytes) => {
      for (let i = 0; i < 2 * size + 17; i++) bytes[3 * size + 30 + i] = (i * 131 + 7) & 0xff;
    });
    const log = await Log.open(dir, config);
    const whole = await readAround(log);
    assert.deepEqual(whole.corruptAt, [9, 12, 15]);
    assert.deepEqual(await log.verify(), [
      {
        file: SEGMENT_0,
        startPosition: 3 * size,
        endPosition: 6 * size,
        startOffset: 9,
        endOffset: 18,
      },
    ]);
    await log.close();
  });

  test("damage in the last batch of a sealed segment: the range ends at the next segment", async () => {
    const { dir, size, perSegment } = await buildLog();
    const last = perSegment - 1;
    await damage(dir, SEGMENT_0, (bytes) => {
      bytes.writeInt32BE(5, last * size + 8); // a length shorter than a header
    });
    const log = await Log.open(dir, config);
    await assert.rejects(log.read(last * 3 + 1, 100), isCorrupt);
    const next = parseServed((await log.read(perSegment * 3, 100)).bytes);
    assert.equal(next[0]!.baseOffset, perSegment * 3);
    assert.deepEqual(await log.verify(), [
      {
        file: SEGMENT_0,
        startPosition: last * size,
        endPosition: perSegment * size,
        startOffset: last * 3,
        endOffset: perSegment * 3,
      },
    ]);
    await log.close();
  });

  test("a timestamp lookup skips what cannot be served", async () => {
    const { dir, size } = await buildLog();
    await damage(dir, SEGMENT_0, (bytes) => {
      bytes[0 * size + 90]! ^= 0x10;
    });
    const log = await Log.open(dir, config);
    await log.verify();
    const found = await log.offsetForTimestamp(0);
    assert.equal(found?.offset, 3);
    await log.close();
  });
});
