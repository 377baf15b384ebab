/**
 * Stream entries as Kafka records.
 *
 * An XADD entry is one record in a batch of its own:
 *   key       = the entry id as text (`1700000000000-0`)
 *   value     = null
 *   headers   = the fields in order, field name → value (names may repeat, as in Redis)
 *   timestamp = the wall clock at append (not the id's ms part: an explicit id such as `1-1`
 *               would otherwise look 55 years old to time-based retention)
 * so a Kafka consumer of the topic sees the id as the key and the fields as headers.
 *
 * Records are decoded here rather than with `decodeRecords` because Redis field names are
 * arbitrary bytes and `RecordHeader.key` is a UTF-8 string: the raw bytes are kept. The
 * encoder writes a RecordBatch v2 with its CRC32C directly (one allocation per entry).
 */

import { decompressRecords } from "../../storage/compression.ts";
import { crc32c } from "../../storage/crc32c.ts";
import {
  Attribute,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD,
  Compression,
  Offset,
  readBatchHeader,
} from "../../storage/record-batch.ts";
import { sizeOfVarlong, VarintCursor, VarintError, writeVarlong } from "../../storage/varint.ts";

/** One record as the stream core sees it. */
export interface RawRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  /** Header names and values, alternating; a value may be null (Kafka headers allow it). */
  headers: Array<Buffer | null>;
  /** A record of a control batch (transaction marker): never an entry. */
  control: boolean;
}

function writeInt64(buffer: Buffer, at: number, value: number): void {
  const high = Math.floor(value / 4294967296);
  buffer.writeInt32BE(high, at);
  buffer.writeUInt32BE(value - high * 4294967296, at + 4);
}

export interface EntryToEncode {
  idText: string;
  fields: Buffer[];
  timestamp: number;
}

function recordBodySize(entry: EntryToEncode, timestampDelta: number, offsetDelta: number): number {
  const keyLength = entry.idText.length; // ASCII digits and '-'
  let body = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarlong(offsetDelta);
  body += sizeOfVarlong(keyLength) + keyLength + 1; // key, value null (-1 is one byte)
  body += sizeOfVarlong(entry.fields.length / 2);
  for (const field of entry.fields) body += sizeOfVarlong(field.length) + field.length;
  return body;
}

/**
 * Encodes XADD entries as one RecordBatch v2, one record each, in order (base offset 0; the
 * log assigns it). Concurrent XADDs of a stream share a batch: one append, one CRC.
 */
export function encodeEntryBatch(entries: readonly EntryToEncode[]): Buffer {
  const baseTimestamp = entries[0]!.timestamp;
  let maxTimestamp = baseTimestamp;
  const bodies: number[] = new Array(entries.length);
  let total = BATCH_HEADER_BYTES;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.timestamp > maxTimestamp) maxTimestamp = entry.timestamp;
    const body = recordBodySize(entry, entry.timestamp - baseTimestamp, i);
    bodies[i] = body;
    total += sizeOfVarlong(body) + body;
  }
  const buffer = Buffer.allocUnsafe(total);
  writeInt64(buffer, Offset.baseOffset, 0);
  buffer.writeInt32BE(total - BATCH_LOG_OVERHEAD, Offset.batchLength);
  buffer.writeInt32BE(-1, Offset.partitionLeaderEpoch);
  buffer.writeInt8(2, Offset.magic);
  buffer.writeInt16BE(0, Offset.attributes);
  buffer.writeInt32BE(entries.length - 1, Offset.lastOffsetDelta);
  writeInt64(buffer, Offset.baseTimestamp, baseTimestamp);
  writeInt64(buffer, Offset.maxTimestamp, maxTimestamp);
  writeInt64(buffer, Offset.producerId, -1);
  buffer.writeInt16BE(-1, Offset.producerEpoch);
  buffer.writeInt32BE(-1, Offset.baseSequence);
  buffer.writeInt32BE(entries.length, Offset.recordCount);
  let pos: number = Offset.records;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    pos = writeVarlong(buffer, pos, bodies[i]!);
    buffer[pos++] = 0; // record attributes
    pos = writeVarlong(buffer, pos, entry.timestamp - baseTimestamp);
    pos = writeVarlong(buffer, pos, i);
    const idText = entry.idText;
    pos = writeVarlong(buffer, pos, idText.length);
    for (let c = 0; c < idText.length; c++) buffer[pos++] = idText.charCodeAt(c); // ASCII
    buffer[pos++] = 1; // value length -1 (zigzag)
    pos = writeVarlong(buffer, pos, entry.fields.length / 2);
    for (const field of entry.fields) {
      pos = writeVarlong(buffer, pos, field.length);
      buffer.set(field, pos);
      pos += field.length;
    }
  }
  if (pos !== total) throw new Error(`encodeEntryBatch: wrote ${pos} of ${total} bytes`);
  buffer.writeUInt32BE(crc32c(buffer, Offset.attributes, total), Offset.crc);
  return buffer;
}

/** Bytes `encodeEntryBatch` adds for one entry (within a few bytes). */
export function entryEncodedBytes(idText: string, fields: Buffer[]): number {
  let bytes = 16 + idText.length;
  for (const field of fields) bytes += field.length + 5;
  return bytes;
}

interface SectionHeader {
  baseOffset: number;
  baseTimestamp: number;
  /** The batch's max timestamp when it uses LogAppendTime, else -1. */
  maxTimestamp: number;
  control: boolean;
}

function decodeSection(
  section: Buffer,
  start: number,
  end: number,
  recordCount: number,
  header: SectionHeader,
): RawRecord[] {
  if (recordCount < 0 || recordCount > end - start) throw new VarintError("record count");
  const records: RawRecord[] = new Array(recordCount);
  const cursor = new VarintCursor(section, start, end);
  for (let i = 0; i < recordCount; i++) {
    const length = cursor.readVarint();
    const recordEnd = cursor.pos + length;
    if (length < 0 || recordEnd > end) throw new VarintError(`record length ${length}`);
    cursor.pos += 1; // attributes
    const timestampDelta = cursor.readVarlong();
    const offsetDelta = cursor.readVarint();
    const key = cursor.readBytes(cursor.readVarint());
    const value = cursor.readBytes(cursor.readVarint());
    const headerCount = cursor.readVarint();
    if (headerCount < 0 || headerCount > recordEnd - cursor.pos) {
      throw new VarintError(`header count ${headerCount}`);
    }
    const headers: Array<Buffer | null> = new Array(headerCount * 2);
    for (let h = 0; h < headerCount; h++) {
      headers[2 * h] = cursor.readBytes(cursor.readVarint()) ?? Buffer.alloc(0);
      headers[2 * h + 1] = cursor.readBytes(cursor.readVarint());
    }
    if (cursor.pos !== recordEnd) throw new VarintError("record length does not match");
    records[i] = {
      offset: header.baseOffset + offsetDelta,
      timestamp:
        header.maxTimestamp >= 0 ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
      control: header.control,
    };
  }
  return records;
}

/**
 * Decodes the records of every whole batch in `bytes` (as `Partition.read` returns them),
 * calling `visit` for each in offset order. Compressed batches are inflated first. Returns
 * the offset after the last batch decoded.
 */
export async function decodeBatches(
  bytes: Buffer,
  visit: (record: RawRecord) => unknown,
): Promise<{ nextOffset: number; stopped: boolean }> {
  let pos = 0;
  let nextOffset = -1;
  while (pos + BATCH_HEADER_BYTES <= bytes.length) {
    const header = readBatchHeader(bytes, pos);
    const size = header.batchLength + BATCH_LOG_OVERHEAD;
    if (pos + size > bytes.length) break;
    const codec = header.attributes & Attribute.compressionMask;
    let section: Buffer;
    let start: number;
    let end: number;
    if (codec === Compression.none) {
      section = bytes;
      start = pos + Offset.records;
      end = pos + size;
    } else {
      section = await decompressRecords(
        codec as Parameters<typeof decompressRecords>[0],
        bytes.subarray(pos + Offset.records, pos + size),
      );
      start = 0;
      end = section.length;
    }
    const control = (header.attributes & Attribute.control) !== 0;
    const logAppendTime = (header.attributes & Attribute.logAppendTime) !== 0;
    const lastOffset = header.baseOffset + header.lastOffsetDelta;
    let emitted = header.baseOffset - 1;
    let records: RawRecord[];
    try {
      records = decodeSection(section, start, end, header.recordCount, {
        baseOffset: header.baseOffset,
        baseTimestamp: header.baseTimestamp,
        maxTimestamp: logAppendTime ? header.maxTimestamp : -1,
        control,
      });
    } catch (error) {
      if (!(error instanceof VarintError) && !(error instanceof RangeError)) throw error;
      // A batch whose records do not parse (its CRC held, so a producer wrote it so): none of
      // its offsets is an entry.
      records = [];
    }
    if (records.length !== header.lastOffsetDelta + 1) {
      records = fillHoles(records, header.baseOffset, lastOffset, header.maxTimestamp);
    }
    for (const record of records) {
      if (record.offset <= emitted || record.offset > lastOffset) continue;
      emitted = record.offset;
      if (visit(record) === false) return { nextOffset: record.offset + 1, stopped: true };
    }
    nextOffset = header.baseOffset + header.lastOffsetDelta + 1;
    pos += size;
  }
  return { nextOffset, stopped: false };
}

/**
 * Offsets of a batch without a record (compacted away, or a batch whose records do not parse
 * although its CRC held): they are not entries, and are reported as control records so that
 * the id chain still sees every offset.
 */
function fillHoles(
  records: RawRecord[],
  baseOffset: number,
  lastOffset: number,
  timestamp: number,
): RawRecord[] {
  const byOffset = new Map(records.map((record) => [record.offset, record]));
  const filled: RawRecord[] = [];
  for (let offset = baseOffset; offset <= lastOffset; offset++) {
    filled.push(
      byOffset.get(offset) ?? {
        offset,
        timestamp,
        key: null,
        value: null,
        headers: [],
        control: true,
      },
    );
  }
  return filled;
}

const keyField = Buffer.from("key");
const valueField = Buffer.from("value");
const emptyValue = Buffer.alloc(0);

/**
 * The fields a Redis reader sees for a record that is not an XADD entry (a Kafka producer's):
 * its headers, then `key` and `value` when present; at least `value ""`.
 */
export function foreignFields(record: RawRecord): Buffer[] {
  const fields: Buffer[] = [];
  for (let i = 0; i < record.headers.length; i += 2) {
    fields.push(record.headers[i]!, record.headers[i + 1] ?? emptyValue);
  }
  if (record.key) fields.push(keyField, record.key);
  if (record.value || fields.length === 0) fields.push(valueField, record.value ?? emptyValue);
  return fields;
}

/** The fields of an XADD entry record (its headers; a null value reads as empty). */
export function entryFields(record: RawRecord): Buffer[] {
  const fields: Buffer[] = new Array(record.headers.length);
  for (let i = 0; i < record.headers.length; i++) fields[i] = record.headers[i] ?? emptyValue;
  return fields;
}
