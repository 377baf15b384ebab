/**
 * Fuzzes the RecordBatch v2 validator and record decoder: random and mutated batches must be
 * either accepted (and then decode without a raw exception) or rejected with a WharfError.
 * Bounded budget: a fixed number of runs, a few seconds on a CI machine.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { WharfError } from "../../src/errors/index.ts";
import {
  checkBatch,
  decodeRecords,
  encodeBatch,
  splitBatches,
} from "../../src/storage/record-batch.ts";

const recordArbitrary = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a))),
  value: fc.option(fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a))),
  headers: fc.array(
    fc.record({
      key: fc.string({ maxLength: 8 }),
      value: fc.option(fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a))),
    }),
    { maxLength: 3 },
  ),
  timestamp: fc.integer({ min: 0, max: 2 ** 42 }),
});

function mustBeWharfOrOk(run: () => void): void {
  try {
    run();
  } catch (error) {
    if (!(error instanceof WharfError)) throw error;
  }
}

test("valid batches round-trip", () => {
  fc.assert(
    fc.property(fc.array(recordArbitrary, { minLength: 1, maxLength: 8 }), (records) => {
      const batch = encodeBatch(records);
      assert.equal(checkBatch(batch, 0, batch.length, { fromProducer: true }).ok, true);
      const decoded = decodeRecords(batch);
      assert.equal(decoded.length, records.length);
      decoded.forEach((record, i) => {
        assert.deepEqual(record.value, records[i]!.value);
        assert.equal(record.headers.length, records[i]!.headers.length);
      });
    }),
    { numRuns: 300 },
  );
});

test("mutated batches are accepted or rejected with a WharfError, never a crash", () => {
  const mutation = fc.record({
    records: fc.array(recordArbitrary, { minLength: 1, maxLength: 4 }),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
    cut: fc.option(fc.nat()),
    skipCrc: fc.boolean(),
  });
  fc.assert(
    fc.property(mutation, ({ records, flips, cut, skipCrc }) => {
      let batch = encodeBatch(records);
      for (const [at, mask] of flips) batch[at % batch.length]! ^= mask;
      if (cut !== null) batch = batch.subarray(0, cut % (batch.length + 1));
      mustBeWharfOrOk(() => {
        const check = checkBatch(batch);
        // Decode also batches whose CRC fails: the decoder must survive garbage on its own.
        if (check.ok || skipCrc) decodeRecords(batch);
      });
      mustBeWharfOrOk(() => splitBatches(batch, { fromProducer: true }));
    }),
    { numRuns: 2000 },
  );
});

test("random bytes never crash the validator", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      const buffer = Buffer.from(bytes);
      mustBeWharfOrOk(() => splitBatches(buffer));
      mustBeWharfOrOk(() => {
        if (buffer.length >= 61) decodeRecords(buffer);
      });
    }),
    { numRuns: 2000 },
  );
});
