/**
 * Kafka RecordBatch v2 (magic 2): the unit WharfMQ stores on disk and serves on the wire.
 *
 *   offset  field                 covered by CRC
 *        0  baseOffset int64        no  (assigned by the log on append)
 *        8  batchLength int32       no  (bytes after this field)
 *       12  partitionLeaderEpoch    no  (stamped by the log on append)
 *       16  magic int8 = 2          no
 *       17  crc uint32 (CRC32C)     -
 *       21  attributes int16        yes ... to the end of the batch
 *       23  lastOffsetDelta int32
 *       27  baseTimestamp int64
 *       35  maxTimestamp int64
 *       43  producerId int64
 *       51  producerEpoch int16
 *       53  baseSequence int32
 *       57  recordCount int32
 *       61  records
 *
 * Because the CRC starts at `attributes`, the log assigns `baseOffset` and the leader epoch in
 * place, without re-encoding records or recomputing the checksum. Records are only decoded
 * where the broker must look inside (compaction, cross-protocol delivery).
 *
 * A compressed batch (attributes bits 0-2, see `compression.ts`) holds the records section
 * compressed as a whole; `recordCount` stays in the clear and the CRC covers the compressed
 * bytes. `decodeRecords` reads uncompressed batches only; `decodeBatchRecords` reads any.
 */
import { batchBytesMaxDefault, recordBatchHeaderBytes } from "../config/limits.ts";
import { WharfError } from "../errors/index.ts";
import {
  Compression,
  type CompressionCode,
  type CompressOptions,
  compressRecords,
  compressRecordsSync,
  type DecompressOptions,
  decompressRecords,
  isCompressionCode,
  type SyncCompressionCode,
} from "./compression.ts";
import { crc32c } from "./crc32c.ts";
import { sizeOfVarlong, VarintCursor, VarintError, writeVarlong } from "./varint.ts";

export const BATCH_MAGIC = 2;
export const BATCH_HEADER_BYTES = recordBatchHeaderBytes;
/** Bytes before `batchLength` counts: baseOffset (8) + batchLength (4). */
export const BATCH_LOG_OVERHEAD = 12;

export const Offset = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
  records: 61,
} as const;

export { Compression, type CompressionCode } from "./compression.ts";

export const Attribute = {
  compressionMask: 0x07,
  logAppendTime: 0x08,
  transactional: 0x10,
  control: 0x20,
  deleteHorizon: 0x40,
} as const;

export interface BatchHeader {
  baseOffset: number;
  /** Bytes after the batchLength field; the whole batch is `batchLength + 12`. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

function readInt64(buffer: Buffer, at: number): number {
  return buffer.readInt32BE(at) * 4294967296 + buffer.readUInt32BE(at + 4);
}

function writeInt64(buffer: Buffer, at: number, value: number): void {
  const high = Math.floor(value / 4294967296);
  buffer.writeInt32BE(high, at);
  buffer.writeUInt32BE(value - high * 4294967296, at + 4);
}

/** Reads the 61-byte header at `pos`. The caller guarantees the bytes are there. */
export function readBatchHeader(buffer: Buffer, pos = 0): BatchHeader {
  return {
    baseOffset: readInt64(buffer, pos + Offset.baseOffset),
    batchLength: buffer.readInt32BE(pos + Offset.batchLength),
    partitionLeaderEpoch: buffer.readInt32BE(pos + Offset.partitionLeaderEpoch),
    magic: buffer.readInt8(pos + Offset.magic),
    crc: buffer.readUInt32BE(pos + Offset.crc),
    attributes: buffer.readInt16BE(pos + Offset.attributes),
    lastOffsetDelta: buffer.readInt32BE(pos + Offset.lastOffsetDelta),
    baseTimestamp: readInt64(buffer, pos + Offset.baseTimestamp),
    maxTimestamp: readInt64(buffer, pos + Offset.maxTimestamp),
    producerId: readInt64(buffer, pos + Offset.producerId),
    producerEpoch: buffer.readInt16BE(pos + Offset.producerEpoch),
    baseSequence: buffer.readInt32BE(pos + Offset.baseSequence),
    recordCount: buffer.readInt32BE(pos + Offset.recordCount),
  };
}

export function readBaseOffset(buffer: Buffer, pos = 0): number {
  return readInt64(buffer, pos + Offset.baseOffset);
}
export function readLastOffsetDelta(buffer: Buffer, pos = 0): number {
  return buffer.readInt32BE(pos + Offset.lastOffsetDelta);
}
export function readMaxTimestamp(buffer: Buffer, pos = 0): number {
  return readInt64(buffer, pos + Offset.maxTimestamp);
}
/** Total bytes of the batch at `pos` as its header declares them. */
export function readBatchSize(buffer: Buffer, pos = 0): number {
  return buffer.readInt32BE(pos + Offset.batchLength) + BATCH_LOG_OVERHEAD;
}

/** Sets the base offset in place (not covered by the CRC). */
export function setBaseOffset(buffer: Buffer, pos: number, baseOffset: number): void {
  writeInt64(buffer, pos + Offset.baseOffset, baseOffset);
}

/** Sets the partition leader epoch in place (not covered by the CRC). */
export function setPartitionLeaderEpoch(buffer: Buffer, pos: number, epoch: number): void {
  buffer.writeInt32BE(epoch, pos + Offset.partitionLeaderEpoch);
}

export type BatchCheck =
  | { ok: true; size: number }
  | {
      ok: false;
      error: WharfError /** true when more bytes could complete the batch */;
      short: boolean;
    };

export interface CheckOptions {
  /** Largest whole batch accepted. */
  maxBatchBytes?: number;
  /**
   * Producer-side rules on top of integrity: at least one record and
   * `lastOffsetDelta === recordCount - 1` (stored batches may have gaps after compaction).
   */
  fromProducer?: boolean;
}

/**
 * Validates the batch at `pos` within `buffer[pos, end)`: length, magic, CRC32C and, for
 * producer input, record count. Never throws on bad input.
 */
export function checkBatch(
  buffer: Buffer,
  pos = 0,
  end = buffer.length,
  options: CheckOptions = {},
): BatchCheck {
  const available = end - pos;
  const maxBatchBytes = options.maxBatchBytes ?? batchBytesMaxDefault;
  if (available < BATCH_HEADER_BYTES) {
    const detail = `${available} bytes, less than the ${BATCH_HEADER_BYTES}-byte header`;
    return { ok: false, short: true, error: new WharfError("WHARF_BATCH_INVALID", detail) };
  }
  const magic = buffer.readInt8(pos + Offset.magic);
  if (magic !== BATCH_MAGIC) {
    const detail = `magic ${magic}, expected ${BATCH_MAGIC}`;
    return {
      ok: false,
      short: false,
      error: new WharfError("WHARF_BATCH_UNSUPPORTED_MAGIC", detail),
    };
  }
  const batchLength = buffer.readInt32BE(pos + Offset.batchLength);
  const size = batchLength + BATCH_LOG_OVERHEAD;
  if (size < BATCH_HEADER_BYTES) {
    const detail = `batchLength ${batchLength} is shorter than a batch header`;
    return { ok: false, short: false, error: new WharfError("WHARF_BATCH_INVALID", detail) };
  }
  if (size > maxBatchBytes) {
    const detail = `${size} bytes, limit ${maxBatchBytes}`;
    return { ok: false, short: false, error: new WharfError("WHARF_BATCH_TOO_LARGE", detail) };
  }
  if (size > available) {
    const detail = `batch declares ${size} bytes but only ${available} follow`;
    return { ok: false, short: true, error: new WharfError("WHARF_BATCH_INVALID", detail) };
  }
  const stored = buffer.readUInt32BE(pos + Offset.crc);
  const computed = crc32c(buffer, pos + Offset.attributes, pos + size);
  if (stored !== computed) {
    const detail = `crc 0x${stored.toString(16)} stored, 0x${computed.toString(16)} computed`;
    return { ok: false, short: false, error: new WharfError("WHARF_BATCH_CORRUPT", detail) };
  }
  if (options.fromProducer) {
    const count = buffer.readInt32BE(pos + Offset.recordCount);
    const lastOffsetDelta = buffer.readInt32BE(pos + Offset.lastOffsetDelta);
    if (count < 1 || lastOffsetDelta !== count - 1) {
      const detail = `recordCount ${count} with lastOffsetDelta ${lastOffsetDelta}`;
      return { ok: false, short: false, error: new WharfError("WHARF_BATCH_INVALID", detail) };
    }
    const codec = buffer.readInt16BE(pos + Offset.attributes) & Attribute.compressionMask;
    if (!isCompressionCode(codec)) {
      const detail = `unknown compression codec ${codec}`;
      return { ok: false, short: false, error: new WharfError("WHARF_BATCH_INVALID", detail) };
    }
  }
  return { ok: true, size };
}

/** Where each batch of a multi-batch buffer starts and how many offsets it spans. */
export interface BatchSpan {
  pos: number;
  size: number;
  /** lastOffsetDelta + 1: how many offsets the batch occupies. */
  offsetCount: number;
}

/**
 * Splits a buffer of concatenated batches (a produce payload) into validated spans.
 * Throws the `WharfError` of the first bad batch; trailing partial bytes are an error.
 */
export function splitBatches(buffer: Buffer, options: CheckOptions = {}): BatchSpan[] {
  const spans: BatchSpan[] = [];
  let pos = 0;
  while (pos < buffer.length) {
    const check = checkBatch(buffer, pos, buffer.length, options);
    if (!check.ok) throw check.error;
    spans.push({ pos, size: check.size, offsetCount: readLastOffsetDelta(buffer, pos) + 1 });
    pos += check.size;
  }
  if (spans.length === 0) throw new WharfError("WHARF_BATCH_INVALID", "no record batch");
  return spans;
}

// ---------------------------------------------------------------------------------------------
// Records: encode and decode. Used by tests, benchmarks and protocols that build records.

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface RecordInput {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  /** Create time in ms since the epoch; defaults to the batch's base timestamp. */
  timestamp?: number;
  /**
   * Offset relative to the batch's base offset; defaults to the record's index (a producer's
   * batch is dense). Compaction passes the original deltas of the records it keeps.
   */
  offsetDelta?: number;
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface EncodeOptions {
  baseOffset?: number;
  baseTimestamp?: number;
  partitionLeaderEpoch?: number;
  attributes?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /**
   * Codec of the records section; its id replaces attributes bits 0-2. `encodeBatch` takes
   * the codecs with a synchronous library, `encodeBatchCompressed` takes all.
   */
  compression?: CompressionCode;
  /** Level for gzip and zstd (see `CompressOptions`). */
  compressionLevel?: number;
  /**
   * The batch's lastOffsetDelta; defaults to the last record's offset delta. Compaction keeps
   * the original (Kafka's `overrideLastOffset`), so a producer's last sequence survives and a
   * batch whose records were all removed can be kept empty (no records, this delta).
   */
  lastOffsetDelta?: number;
  /**
   * The batch's maxTimestamp; defaults to the largest record timestamp (at least the base
   * timestamp). Needed when the base timestamp is not a record's (a delete horizon) or the
   * batch uses LogAppendTime.
   */
  maxTimestamp?: number;
}

function sizeOfBytesField(bytes: Buffer | null | undefined): number {
  return bytes == null ? sizeOfVarlong(-1) : sizeOfVarlong(bytes.length) + bytes.length;
}

function recordBodySize(record: RecordInput, timestampDelta: number, offsetDelta: number): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarlong(offsetDelta);
  size += sizeOfBytesField(record.key) + sizeOfBytesField(record.value);
  const headers = record.headers ?? [];
  size += sizeOfVarlong(headers.length);
  for (const header of headers) {
    const keyLength = Buffer.byteLength(header.key);
    size += sizeOfVarlong(keyLength) + keyLength + sizeOfBytesField(header.value);
  }
  return size;
}

function writeBytesField(target: Buffer, pos: number, bytes: Buffer | null | undefined): number {
  if (bytes == null) return writeVarlong(target, pos, -1);
  pos = writeVarlong(target, pos, bytes.length);
  return pos + bytes.copy(target, pos);
}

/**
 * Encodes records as one RecordBatch v2 with a valid CRC, compressed with
 * `options.compression` (none by default; zstd needs `encodeBatchCompressed`).
 */
export function encodeBatch(
  records: RecordInput[],
  options: EncodeOptions & { compression?: SyncCompressionCode } = {},
): Buffer {
  const codec = options.compression ?? Compression.none;
  if (codec !== Compression.none) {
    const plain = encodeBatch(records, { ...options, compression: Compression.none });
    const compressOptions = { level: options.compressionLevel };
    const compressed = compressRecordsSync(codec, plain.subarray(Offset.records), compressOptions);
    return withCompressedRecords(plain, codec, compressed);
  }
  if (records.length === 0 && options.lastOffsetDelta === undefined) {
    throw new RangeError("a batch needs at least one record (or an explicit lastOffsetDelta)");
  }
  const baseTimestamp = options.baseTimestamp ?? records[0]?.timestamp ?? Date.now();
  let maxTimestamp = baseTimestamp;
  const bodySizes = new Array<number>(records.length);
  let total = BATCH_HEADER_BYTES;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const timestamp = record.timestamp ?? baseTimestamp;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const bodySize = recordBodySize(record, timestamp - baseTimestamp, record.offsetDelta ?? i);
    bodySizes[i] = bodySize;
    total += sizeOfVarlong(bodySize) + bodySize;
  }
  const buffer = Buffer.allocUnsafe(total);
  writeInt64(buffer, Offset.baseOffset, options.baseOffset ?? 0);
  buffer.writeInt32BE(total - BATCH_LOG_OVERHEAD, Offset.batchLength);
  buffer.writeInt32BE(options.partitionLeaderEpoch ?? -1, Offset.partitionLeaderEpoch);
  buffer.writeInt8(BATCH_MAGIC, Offset.magic);
  buffer.writeInt16BE(options.attributes ?? 0, Offset.attributes);
  const lastRecord = records[records.length - 1];
  const lastOffsetDelta = options.lastOffsetDelta ?? lastRecord?.offsetDelta ?? records.length - 1;
  buffer.writeInt32BE(lastOffsetDelta, Offset.lastOffsetDelta);
  writeInt64(buffer, Offset.baseTimestamp, baseTimestamp);
  writeInt64(buffer, Offset.maxTimestamp, options.maxTimestamp ?? maxTimestamp);
  writeInt64(buffer, Offset.producerId, options.producerId ?? -1);
  buffer.writeInt16BE(options.producerEpoch ?? -1, Offset.producerEpoch);
  buffer.writeInt32BE(options.baseSequence ?? -1, Offset.baseSequence);
  buffer.writeInt32BE(records.length, Offset.recordCount);
  let pos: number = Offset.records;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    pos = writeVarlong(buffer, pos, bodySizes[i]!);
    buffer[pos++] = 0; // record attributes: unused
    pos = writeVarlong(buffer, pos, (record.timestamp ?? baseTimestamp) - baseTimestamp);
    pos = writeVarlong(buffer, pos, record.offsetDelta ?? i);
    pos = writeBytesField(buffer, pos, record.key);
    pos = writeBytesField(buffer, pos, record.value);
    const headers = record.headers ?? [];
    pos = writeVarlong(buffer, pos, headers.length);
    for (const header of headers) {
      const keyLength = Buffer.byteLength(header.key);
      pos = writeVarlong(buffer, pos, keyLength);
      pos += buffer.write(header.key, pos, "utf8");
      pos = writeBytesField(buffer, pos, header.value);
    }
  }
  if (pos !== total) throw new Error(`encodeBatch: wrote ${pos} of ${total} bytes`);
  buffer.writeUInt32BE(crc32c(buffer, Offset.attributes, total), Offset.crc);
  return buffer;
}

/** Encodes records as one RecordBatch v2 compressed with any codec, off the main thread. */
export async function encodeBatchCompressed(
  records: RecordInput[],
  options: EncodeOptions = {},
): Promise<Buffer> {
  const codec = options.compression ?? Compression.none;
  const plain = encodeBatch(records, { ...options, compression: Compression.none });
  if (codec === Compression.none) return plain;
  const compressOptions: CompressOptions = { level: options.compressionLevel };
  const compressed = await compressRecords(codec, plain.subarray(Offset.records), compressOptions);
  return withCompressedRecords(plain, codec, compressed);
}

/** The batch `plain` (uncompressed, at offset 0) with its records replaced by `compressed`. */
function withCompressedRecords(plain: Buffer, codec: CompressionCode, compressed: Buffer): Buffer {
  const total = Offset.records + compressed.length;
  const buffer = Buffer.allocUnsafe(total);
  plain.copy(buffer, 0, 0, Offset.records);
  compressed.copy(buffer, Offset.records);
  buffer.writeInt32BE(total - BATCH_LOG_OVERHEAD, Offset.batchLength);
  const attributes = plain.readInt16BE(Offset.attributes) & ~Attribute.compressionMask;
  buffer.writeInt16BE(attributes | codec, Offset.attributes);
  buffer.writeUInt32BE(crc32c(buffer, Offset.attributes, total), Offset.crc);
  return buffer;
}

/** Reads and sanity-checks the header of the batch at `pos` before its records are decoded. */
function headerForDecode(buffer: Buffer, pos: number): BatchHeader {
  if (buffer.length - pos < BATCH_HEADER_BYTES) {
    throw new WharfError("WHARF_BATCH_INVALID", `${buffer.length - pos} bytes, less than a header`);
  }
  const header = readBatchHeader(buffer, pos);
  if (header.batchLength + BATCH_LOG_OVERHEAD < BATCH_HEADER_BYTES) {
    throw new WharfError("WHARF_BATCH_INVALID", `batchLength ${header.batchLength}`);
  }
  if (header.batchLength + BATCH_LOG_OVERHEAD > buffer.length - pos) {
    throw new WharfError("WHARF_BATCH_INVALID", "batch runs past the end of its buffer");
  }
  return header;
}

/**
 * Decodes the records of the batch at `pos` whatever its codec: compressed records are
 * inflated first, within `options.decompressedBytesMax` (default `batchDecompressedBytesMax`).
 * The caller has validated the batch (`checkBatch`); bad compressed data, an oversized
 * inflation and malformed records all raise `WHARF_BATCH_INVALID`.
 */
export async function decodeBatchRecords(
  buffer: Buffer,
  pos = 0,
  options?: DecompressOptions,
): Promise<DecodedRecord[]> {
  const header = headerForDecode(buffer, pos);
  const codec = header.attributes & Attribute.compressionMask;
  if (codec === Compression.none) return decodeRecords(buffer, pos);
  if (!isCompressionCode(codec)) {
    throw new WharfError("WHARF_BATCH_INVALID", `unknown compression codec ${codec}`);
  }
  const end = pos + header.batchLength + BATCH_LOG_OVERHEAD;
  const compressed = buffer.subarray(pos + Offset.records, end);
  const section = await decompressRecords(codec, compressed, options);
  return decodeRecordSection(header, section, 0, section.length, true);
}

/**
 * Decodes the records of an uncompressed batch at `pos`. The caller has validated the batch
 * (`checkBatch`); malformed records still raise `WHARF_BATCH_INVALID`, never a RangeError.
 */
export function decodeRecords(buffer: Buffer, pos = 0): DecodedRecord[] {
  const header = headerForDecode(buffer, pos);
  const compression = header.attributes & Attribute.compressionMask;
  if (compression !== Compression.none) {
    throw new WharfError("WHARF_BATCH_INVALID", `compression ${compression} is not decoded here`);
  }
  const end = pos + header.batchLength + BATCH_LOG_OVERHEAD;
  return decodeRecordSection(header, buffer, pos + Offset.records, end, false);
}

/**
 * Decodes `header.recordCount` records from `source[start, end)`. With `exact`, bytes left
 * after the last record are an error (as Kafka's "records still remaining" check).
 */
function decodeRecordSection(
  header: BatchHeader,
  source: Buffer,
  start: number,
  end: number,
  exact: boolean,
): DecodedRecord[] {
  if (header.recordCount < 0 || header.recordCount > end - start) {
    throw new WharfError("WHARF_BATCH_INVALID", `recordCount ${header.recordCount}`);
  }
  const cursor = new VarintCursor(source, start, end);
  const records: DecodedRecord[] = new Array(header.recordCount);
  try {
    for (let i = 0; i < header.recordCount; i++) {
      const length = cursor.readVarint();
      const recordEnd = cursor.pos + length;
      if (length < 0 || recordEnd > end) throw new VarintError(`record length ${length}`);
      cursor.pos += 1; // record attributes
      const timestampDelta = cursor.readVarlong();
      const offsetDelta = cursor.readVarint();
      const key = cursor.readBytes(cursor.readVarint());
      const value = cursor.readBytes(cursor.readVarint());
      const headerCount = cursor.readVarint();
      if (headerCount < 0 || headerCount > recordEnd - cursor.pos) {
        throw new VarintError(`header count ${headerCount}`);
      }
      const headers: RecordHeader[] = new Array(headerCount);
      for (let h = 0; h < headerCount; h++) {
        const headerKey = cursor.readBytes(cursor.readVarint());
        if (headerKey === null) throw new VarintError("null header key");
        headers[h] = {
          key: headerKey.toString("utf8"),
          value: cursor.readBytes(cursor.readVarint()),
        };
      }
      if (cursor.pos !== recordEnd)
        throw new VarintError("record length does not match its fields");
      records[i] = {
        offset: header.baseOffset + offsetDelta,
        timestamp: header.baseTimestamp + timestampDelta,
        key,
        value,
        headers,
      };
    }
    if (exact && cursor.pos !== end) {
      throw new VarintError(
        `${end - cursor.pos} bytes after the last of ${header.recordCount} records`,
      );
    }
  } catch (error) {
    if (error instanceof VarintError) {
      throw new WharfError("WHARF_BATCH_INVALID", error.message, { cause: error });
    }
    throw error;
  }
  return records;
}
