import assert from "node:assert/strict";
import { test } from "node:test";
import { isWharfError } from "../../errors/index.ts";
import { lastSequenceOf, ProducerStateTable } from "./producer-state.ts";

const offsets = (base: number, count: number) =>
  Promise.resolve({ baseOffset: base, lastOffset: base + count - 1, logAppendTime: -1 });

test("in-order batches are accepted, a retried batch is a duplicate with its original offsets", async () => {
  const table = new ProducerStateTable();
  assert.equal(table.check(1, 0, 0, 3).duplicate, false);
  table.record(1, 0, 0, 3, offsets(10, 3));
  assert.equal(table.check(1, 0, 3, 2).duplicate, false);
  table.record(1, 0, 3, 2, offsets(13, 2));
  const retry = table.check(1, 0, 0, 3);
  assert.ok(retry.duplicate);
  assert.deepEqual(await retry.result, { baseOffset: 10, lastOffset: 12, logAppendTime: -1 });
});

test("a gap is out of order, an old epoch is fenced, a new epoch restarts at 0", () => {
  const table = new ProducerStateTable();
  table.record(1, 2, 0, 1, offsets(0, 1));
  assert.throws(
    () => table.check(1, 2, 5, 1),
    (e) => isWharfError(e, "WHARF_OUT_OF_ORDER_SEQUENCE"),
  );
  assert.throws(
    () => table.check(1, 1, 1, 1),
    (e) => isWharfError(e, "WHARF_INVALID_PRODUCER_EPOCH"),
  );
  assert.throws(
    () => table.check(1, 3, 4, 1),
    (e) => isWharfError(e, "WHARF_OUT_OF_ORDER_SEQUENCE"),
  );
  assert.equal(table.check(1, 3, 0, 1).duplicate, false);
  assert.throws(
    () => table.check(9, 0, 7, 1),
    (e) => isWharfError(e, "WHARF_OUT_OF_ORDER_SEQUENCE"),
  );
});

test("only the last 5 batches are remembered; sequences wrap at int32 max", () => {
  const table = new ProducerStateTable();
  for (let i = 0; i < 7; i++) table.record(1, 0, i, 1, offsets(i, 1));
  assert.equal(table.check(1, 0, 6, 1).duplicate, true);
  assert.equal(table.check(1, 0, 2, 1).duplicate, true);
  assert.throws(
    () => table.check(1, 0, 1, 1),
    (e) => isWharfError(e, "WHARF_OUT_OF_ORDER_SEQUENCE"),
  );
  assert.equal(lastSequenceOf(2147483646, 3), 0);
  const wrap = new ProducerStateTable();
  wrap.record(2, 0, 2147483646, 2, offsets(0, 2));
  assert.equal(wrap.check(2, 0, 0, 1).duplicate, false);
});
