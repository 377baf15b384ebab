import assert from "node:assert/strict";
import { test } from "node:test";
import { isWharfError } from "../errors/index.ts";
import { crc32c } from "./crc32c.ts";
import {
  BATCH_HEADER_BYTES,
  checkBatch,
  decodeRecords,
  encodeBatch,
  Offset,
  readBatchHeader,
  setBaseOffset,
  setPartitionLeaderEpoch,
  splitBatches,
} from "./record-batch.ts";

const records = [
  { key: Buffer.from("k1"), value: Buffer.from("hello"), timestamp: 1_700_000_000_000 },
  {
    key: null,
    value: Buffer.from("world"),
    timestamp: 1_700_000_000_005,
    headers: [{ key: "h", value: Buffer.from("v") }],
  },
  { value: null, timestamp: 1_700_000_000_002, headers: [{ key: "empty", value: null }] },
];

test("encode then decode round-trips records, header fields and CRC", () => {
  const batch = encodeBatch(records, {
    baseOffset: 42,
    producerId: 7,
    producerEpoch: 1,
    baseSequence: 3,
  });
  const header = readBatchHeader(batch);
  assert.equal(header.baseOffset, 42);
  assert.equal(header.magic, 2);
  assert.equal(header.recordCount, 3);
  assert.equal(header.lastOffsetDelta, 2);
  assert.equal(header.baseTimestamp, 1_700_000_000_000);
  assert.equal(header.maxTimestamp, 1_700_000_000_005);
  assert.equal(header.producerId, 7);
  assert.equal(header.batchLength + 12, batch.length);
  assert.deepEqual(checkBatch(batch, 0, batch.length, { fromProducer: true }), {
    ok: true,
    size: batch.length,
  });
  const decoded = decodeRecords(batch);
  assert.deepEqual(
    decoded.map((r) => [
      r.offset,
      r.timestamp,
      r.key?.toString() ?? null,
      r.value?.toString() ?? null,
    ]),
    [
      [42, 1_700_000_000_000, "k1", "hello"],
      [43, 1_700_000_000_005, null, "world"],
      [44, 1_700_000_000_002, null, null],
    ],
  );
  assert.deepEqual(decoded[1]!.headers, [{ key: "h", value: Buffer.from("v") }]);
  assert.deepEqual(decoded[2]!.headers, [{ key: "empty", value: null }]);
});

test("the base offset and leader epoch are set in place without breaking the CRC", () => {
  const batch = encodeBatch(records);
  setBaseOffset(batch, 0, 2 ** 40 + 5);
  setPartitionLeaderEpoch(batch, 0, 9);
  assert.equal(checkBatch(batch).ok, true);
  assert.equal(readBatchHeader(batch).baseOffset, 2 ** 40 + 5);
  assert.equal(readBatchHeader(batch).partitionLeaderEpoch, 9);
  assert.equal(decodeRecords(batch)[2]!.offset, 2 ** 40 + 7);
});

test("bad CRC, bad length, bad magic and oversize are each rejected precisely", () => {
  const good = encodeBatch(records);
  const flipped = Buffer.from(good);
  flipped[flipped.length - 1]! ^= 0xff;
  const crc = checkBatch(flipped);
  assert.ok(!crc.ok && isWharfError(crc.error, "WHARF_BATCH_CORRUPT"));

  const badMagic = Buffer.from(good);
  badMagic[Offset.magic] = 1;
  const magic = checkBatch(badMagic);
  assert.ok(!magic.ok && isWharfError(magic.error, "WHARF_BATCH_UNSUPPORTED_MAGIC"));

  const truncated = good.subarray(0, good.length - 3);
  const short = checkBatch(truncated);
  assert.ok(!short.ok && short.short && isWharfError(short.error, "WHARF_BATCH_INVALID"));

  const tiny = Buffer.from(good);
  tiny.writeInt32BE(10, Offset.batchLength);
  const length = checkBatch(tiny);
  assert.ok(!length.ok && isWharfError(length.error, "WHARF_BATCH_INVALID"));

  const big = checkBatch(good, 0, good.length, { maxBatchBytes: good.length - 1 });
  assert.ok(!big.ok && isWharfError(big.error, "WHARF_BATCH_TOO_LARGE"));

  const header = checkBatch(good.subarray(0, BATCH_HEADER_BYTES - 1));
  assert.ok(!header.ok && header.short);
});

test("producer rules: record count must match lastOffsetDelta", () => {
  const batch = encodeBatch(records);
  batch.writeInt32BE(5, Offset.lastOffsetDelta);
  batch.writeUInt32BE(crc32c(batch, Offset.attributes), Offset.crc);
  assert.equal(checkBatch(batch).ok, true, "intact as stored data (compaction leaves gaps)");
  const check = checkBatch(batch, 0, batch.length, { fromProducer: true });
  assert.ok(!check.ok && isWharfError(check.error, "WHARF_BATCH_INVALID"));
  assert.match(check.error.message, /recordCount 3 with lastOffsetDelta 5/);
});

test("splitBatches walks concatenated batches and rejects trailing garbage", () => {
  const a = encodeBatch(records.slice(0, 1));
  const b = encodeBatch(records);
  const spans = splitBatches(Buffer.concat([a, b]));
  assert.deepEqual(
    spans.map((s) => [s.pos, s.size, s.offsetCount]),
    [
      [0, a.length, 1],
      [a.length, b.length, 3],
    ],
  );
  assert.throws(
    () => splitBatches(Buffer.concat([a, Buffer.from([1, 2, 3])])),
    (e) => isWharfError(e, "WHARF_BATCH_INVALID"),
  );
  assert.throws(
    () => splitBatches(Buffer.alloc(0)),
    (e) => isWharfError(e, "WHARF_BATCH_INVALID"),
  );
});

test("decodeRecords reports malformed records as WHARF_BATCH_INVALID", () => {
  const batch = encodeBatch(records);
  batch[Offset.records] = 0x7f; // first record claims a huge length
  assert.throws(
    () => decodeRecords(batch),
    (e) => isWharfError(e, "WHARF_BATCH_INVALID"),
  );
});
