import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { Log } from "./log.ts";
import { makeTempDir, parseServed, removeDir, testConfig } from "./log-test-support.ts";
import { OffsetIndex } from "./offset-index.ts";
import { encodeBatch } from "./record-batch.ts";
import { TimeIndex } from "./time-index.ts";

let root: string;
let counter = 0;
before(async () => {
  root = await makeTempDir("index");
});
after(async () => {
  await removeDir(root);
});

/** Strictly increasing integers from positive gaps. */
const increasing = (gaps: number[], start = 0) => {
  const out: number[] = [];
  let value = start;
  for (const gap of gaps) {
    out.push(value);
    value += gap;
  }
  return out;
};

describe("OffsetIndex", () => {
  test("floor agrees with a linear scan; serialize and parse round-trip", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 60 }),
        fc.array(fc.integer({ min: -5, max: 3500 }), { minLength: 1, maxLength: 20 }),
        (offsetGaps, positionGaps, queries) => {
          const length = Math.min(offsetGaps.length, positionGaps.length);
          const offsets = increasing(offsetGaps.slice(0, length));
          const positions = increasing(positionGaps.slice(0, length));
          const index = new OffsetIndex();
          for (let i = 0; i < length; i++) index.append(offsets[i]!, positions[i]!);
          for (const query of queries) {
            let linear = -1;
            for (let i = 0; i < length; i++) if (offsets[i]! <= query) linear = i;
            assert.equal(index.floor(query), linear);
          }
          const logBytes = length > 0 ? positions.at(-1)! + 1 : 0;
          const parsed = OffsetIndex.parse(index.serialize(), logBytes);
          assert.ok(parsed instanceof OffsetIndex);
          assert.deepEqual(parsed.serialize(), index.serialize());
        },
      ),
      { numRuns: 200 },
    );
  });

  test("parse refuses what does not fit the log", () => {
    const index = new OffsetIndex();
    index.append(0, 0);
    index.append(10, 500);
    assert.match(String(OffsetIndex.parse(index.serialize(), 400)), /beyond the log's end/);
    assert.match(String(OffsetIndex.parse(index.serialize().subarray(0, 12), 1000)), /multiple/);
    assert.match(String(OffsetIndex.parse(Buffer.alloc(16), 1000)), /not increasing/);
    assert.match(String(OffsetIndex.parse(Buffer.alloc(0), 1000)), /empty/);
  });
});

describe("TimeIndex", () => {
  test("scanStartFor returns the last entry below the target", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 5 })), {
          maxLength: 40,
        }),
        fc.integer({ min: -10, max: 1100 }),
        (steps, target) => {
          const index = new TimeIndex();
          let offset = 0;
          for (const [timestamp, gap] of steps) {
            offset += gap;
            index.maybeAppend(timestamp, offset);
          }
          let expected = -1;
          for (let i = 0; i < index.length; i++)
            if (index.timestampAt(i) < target) expected = index.relativeOffsetAt(i);
          assert.equal(index.scanStartFor(target), expected);
          const parsed = TimeIndex.parse(index.serialize(), offset + 1);
          assert.ok(parsed instanceof TimeIndex);
          assert.deepEqual(parsed.serialize(), index.serialize());
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("log lookups against a linear model", () => {
  test("read(offset) and offsetForTimestamp agree with a scan of what was appended", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batches: fc.array(
            fc.record({
              records: fc.integer({ min: 1, max: 8 }),
              valueBytes: fc.integer({ min: 0, max: 300 }),
              timestamp: fc.integer({ min: 0, max: 10_000 }),
            }),
            { minLength: 1, maxLength: 60 },
          ),
          indexIntervalBytes: fc.integer({ min: 0, max: 3000 }),
          segmentBytes: fc.integer({ min: 1024, max: 8192 }),
          restart: fc.boolean(),
          targets: fc.array(fc.integer({ min: -1, max: 10_100 }), { minLength: 1, maxLength: 10 }),
        }),
        async ({ batches, indexIntervalBytes, segmentBytes, restart, targets }) => {
          const dir = `${root}/model-${++counter}`;
          // No fdatasync: durability is not what this property is about, and it keeps it quick.
          const config = testConfig({
            indexIntervalBytes,
            segmentBytes,
            durability: { mode: "none" },
          });
          let log = await Log.open(dir, config);
          // The model: [base, last] of each batch, and every record's (offset, timestamp).
          const spans: Array<[number, number]> = [];
          const records: Array<[number, number]> = [];
          for (const batch of batches) {
            const encoded = encodeBatch(
              Array.from({ length: batch.records }, (_, r) => ({
                value: Buffer.alloc(batch.valueBytes, r),
                timestamp: batch.timestamp + ((r * 37) % 11) - 5,
              })),
              { baseTimestamp: batch.timestamp - 5 },
            );
            const result = await log.append(encoded);
            spans.push([result.baseOffset, result.lastOffset]);
            for (let r = 0; r < batch.records; r++) {
              records.push([result.baseOffset + r, batch.timestamp + ((r * 37) % 11) - 5]);
            }
          }
          if (restart) {
            await log.close();
            log = await Log.open(dir, config);
          }
          try {
            for (const [base, last] of spans) {
              for (const offset of new Set([base, last, (base + last) >> 1])) {
                const served = parseServed((await log.read(offset, 1)).bytes);
                assert.deepEqual([served[0]!.baseOffset, served[0]!.lastOffset], [base, last]);
              }
            }
            for (const target of targets) {
              const first = records.find(([, timestamp]) => timestamp >= target);
              const expected = first ? { offset: first[0], timestamp: first[1] } : null;
              assert.deepEqual(await log.offsetForTimestamp(target), expected, `target ${target}`);
            }
          } finally {
            await log.close();
            await removeDir(dir);
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
