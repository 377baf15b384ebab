/**
 * The keys of a batch's records, walked without building record objects: what compaction's key
 * map needs, and the produce-time check that a compacted topic only takes records with a key
 * (Kafka answers INVALID_RECORD otherwise).
 *
 * Compressed batches are inflated first (bounded by `batchDecompressedBytesMax`, or the
 * caller's `decompressedBytesMax`). Malformed records are `WHARF_BATCH_INVALID`, never a raw
 * RangeError. The caller has validated the batch (`checkBatch`: length, magic, CRC).
 */
import { WharfError } from "../errors/index.ts";
import { type DecompressOptions, decompressRecords, isCompressionCode } from "./compression.ts";
import {
  Attribute,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD,
  type CheckOptions,
  Compression,
  Offset,
  splitBatches,
} from "./record-batch.ts";
import { VarintCursor, VarintError } from "./varint.ts";

/**
 * Called for each record in order with its offset delta, its key (a view into the batch or
 * its inflated records; null for a record without a key) and whether it has a value (false: a
 * tombstone). Returning `false` stops the walk.
 */
export type RecordKeyVisitor = (
  offsetDelta: number,
  key: Buffer | null,
  hasValue: boolean,
) => boolean | undefined;

/** Walks the records of the batch at `pos` (any codec); see `RecordKeyVisitor`. */
export async function forEachRecordKey(
  buffer: Buffer,
  pos: number,
  visit: RecordKeyVisitor,
  options?: DecompressOptions,
): Promise<void> {
  if (buffer.length - pos < BATCH_HEADER_BYTES) {
    throw new WharfError("WHARF_BATCH_INVALID", `${buffer.length - pos} bytes, less than a header`);
  }
  const end = pos + buffer.readInt32BE(pos + Offset.batchLength) + BATCH_LOG_OVERHEAD;
  if (end < pos + BATCH_HEADER_BYTES || end > buffer.length) {
    throw new WharfError("WHARF_BATCH_INVALID", "batch length does not fit its buffer");
  }
  const count = buffer.readInt32BE(pos + Offset.recordCount);
  const codec = buffer.readInt16BE(pos + Offset.attributes) & Attribute.compressionMask;
  if (codec === Compression.none) {
    walkRecordKeys(buffer, pos + Offset.records, end, count, false, visit);
    return;
  }
  if (!isCompressionCode(codec)) {
    throw new WharfError("WHARF_BATCH_INVALID", `unknown compression codec ${codec}`);
  }
  const section = await decompressRecords(
    codec,
    buffer.subarray(pos + Offset.records, end),
    options,
  );
  walkRecordKeys(section, 0, section.length, count, true, visit);
}

function walkRecordKeys(
  source: Buffer,
  start: number,
  end: number,
  count: number,
  exact: boolean,
  visit: RecordKeyVisitor,
): void {
  if (count < 0 || count > end - start) {
    throw new WharfError("WHARF_BATCH_INVALID", `recordCount ${count}`);
  }
  const cursor = new VarintCursor(source, start, end);
  try {
    for (let i = 0; i < count; i++) {
      const length = cursor.readVarint();
      const recordEnd = cursor.pos + length;
      if (length < 0 || recordEnd > end) throw new VarintError(`record length ${length}`);
      cursor.pos += 1; // record attributes
      cursor.readVarlong(); // timestamp delta
      const offsetDelta = cursor.readVarint();
      const key = cursor.readBytes(cursor.readVarint());
      const valueLength = cursor.readVarint();
      if (valueLength < -1 || valueLength > recordEnd - cursor.pos) {
        throw new VarintError(`value length ${valueLength}`);
      }
      if (cursor.pos > recordEnd) throw new VarintError("record fields run past its length");
      cursor.pos = recordEnd;
      if (visit(offsetDelta, key, valueLength >= 0) === false) return;
    }
    if (exact && cursor.pos !== end) {
      throw new VarintError(`${end - cursor.pos} bytes after the last of ${count} records`);
    }
  } catch (error) {
    if (error instanceof VarintError) {
      throw new WharfError("WHARF_BATCH_INVALID", error.message, { cause: error });
    }
    throw error;
  }
}

/**
 * Validates produced batches (as `splitBatches` does) and refuses any record without a key,
 * as Kafka does for a topic with `cleanup.policy=compact`. Control batches carry no user
 * records and are not looked into.
 */
export async function checkRecordsHaveKeys(
  batches: Buffer,
  options: CheckOptions = {},
): Promise<void> {
  for (const span of splitBatches(batches, options)) {
    const attributes = batches.readInt16BE(span.pos + Offset.attributes);
    if ((attributes & Attribute.control) !== 0) continue;
    await forEachRecordKey(batches, span.pos, (offsetDelta, key) => {
      if (key !== null) return true;
      throw new WharfError(
        "WHARF_BATCH_INVALID",
        `a compacted topic takes only records with a key; the record at offset delta ${offsetDelta} has none`,
      );
    });
  }
}
