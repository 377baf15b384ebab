/**
 * Compression of the records section of a Kafka RecordBatch v2 (attributes bits 0-2).
 *
 * WharfMQ stores and serves producer batches exactly as produced. It decompresses only where it
 * must read records (compaction, cross-protocol delivery, timestamp look-ups), and compresses
 * when it builds batches itself. What Kafka clients write, by codec:
 *
 *   1 gzip    one or more gzip members (RFC 1952); Java uses `GZIPOutputStream`.
 *   2 snappy  the Java client writes snappy-java's *xerial* framing: the 8-byte magic
 *             `82 'SNAPPY' 00`, int32 version and int32 compatible version (both 1), then
 *             chunks of [int32 BE length][raw snappy] of at most 32 KiB of input each.
 *             librdkafka and kafkajs (kafkajs-snappy) write a bare raw-snappy block. We read
 *             both (as librdkafka `rdkafka_msgset_reader.c` and snappy-java's
 *             `SnappyInputStream` do: xerial when the magic is there, raw otherwise) and write
 *             xerial, which every client reads.
 *   3 lz4     one LZ4 *frame* (magic 0x184D2204). Kafka's `Lz4BlockOutputStream` writes
 *             FLG 0x60 (version 1, independent blocks, no checksums, no content size) and
 *             BD 0x40 (64 KiB blocks), which is also lz4-napi's default output.
 *   4 zstd    one or more zstd frames (RFC 8878); Java writes no content size.
 *
 * Fault model: the compressed bytes are untrusted (their CRC only proves they were produced that
 * way). Every failure is a `WharfError("WHARF_BATCH_INVALID")`, never a raw library error, and
 * the decompressed size is bounded by `batchDecompressedBytesMax` *before* memory is committed:
 *   - gzip: zlib's `maxOutputLength` stops inflation at the limit.
 *   - snappy: each raw block starts with its exact uncompressed length (a varint), checked first;
 *     the library then refuses output that does not match it.
 *   - lz4: the frame is walked first; each block inflates to at most the frame's block maximum
 *     size (lz4_flex decompresses into a buffer of that size), so the sum is a hard bound.
 *   - zstd: the frames are walked first; each block regenerates at most
 *     min(window size, 128 KiB) bytes (libzstd rejects more: "Decompressed Block Size Exceeds
 *     Maximum"), raw and RLE blocks exactly their declared size, so the sum is a hard bound.
 * For lz4 and zstd that bound may exceed the real size by up to one block per frame, so a batch
 * within one block of the limit may be refused although it would fit.
 *
 * Libraries (all ship linux-x64 binaries inside npm packages; nothing downloads at install):
 *   - gzip: `node:zlib`, synchronous and asynchronous (libuv thread pool), with an output cap.
 *   - snappy: `snappy` (napi-rs, Rust `snap` crate): the most used Node binding, maintained,
 *     sync and async.
 *   - lz4: `lz4-napi` (napi-rs, Rust `lz4_flex`): maintained, has the LZ4 *frame* API (the
 *     `lz4` package needs node-gyp at install; `lz4js` is pure JS and slow), sync and async.
 *   - zstd: `@mongodb-js/zstd` 1.x (napi-rs, libzstd, run off the main thread): MongoDB's
 *     binding, used by the mongodb driver. Its 2.x+ lines fetch prebuilt binaries from GitHub
 *     at install (prebuild-install), which this project cannot do, hence the 1.x line. It is
 *     asynchronous only, so zstd has no synchronous variant here.
 */
import { promisify } from "node:util";
import { gunzip, gunzipSync, gzip, gzipSync } from "node:zlib";
import { compress as zstdCompress, decompress as zstdDecompress } from "@mongodb-js/zstd";
import { compressFrame, compressFrameSync, decompressFrame, decompressFrameSync } from "lz4-napi";
import {
  compress as snappyCompress,
  compressSync as snappyCompressSync,
  uncompress as snappyUncompress,
  uncompressSync as snappyUncompressSync,
} from "snappy";
import { batchDecompressedBytesMax } from "../config/limits.ts";
import { WharfError } from "../errors/index.ts";

/** Codec ids of attributes bits 0-2 (Kafka's `CompressionType`); 5-7 are unassigned. */
export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionCode = (typeof Compression)[keyof typeof Compression];
/** Codecs whose library has a synchronous API (all but zstd). */
export type SyncCompressionCode = Exclude<CompressionCode, typeof Compression.zstd>;

const codecNames = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

export function isCompressionCode(value: number): value is CompressionCode {
  return Number.isInteger(value) && value >= 0 && value <= 4;
}

export function isSyncCompressionCode(value: number): value is SyncCompressionCode {
  return isCompressionCode(value) && value !== Compression.zstd;
}

export function compressionName(codec: number): string {
  return isCompressionCode(codec) ? codecNames[codec] : `unknown(${codec})`;
}

export interface DecompressOptions {
  /** Largest decompressed records section accepted; defaults to `batchDecompressedBytesMax`. */
  decompressedBytesMax?: number;
}

export interface CompressOptions {
  /**
   * Codec level for gzip (1-9; Kafka's `compression.gzip.level`) and zstd (Kafka's
   * `compression.zstd.level`, default 3). Ignored by snappy and lz4, which have one level here.
   */
  level?: number;
}

/** Kafka's default zstd level (`CompressionType.ZSTD.defaultLevel()`). */
const zstdLevelDefault = 3;

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

function invalid(codec: CompressionCode, detail: string, cause?: unknown): WharfError {
  const options = cause === undefined ? undefined : { cause };
  return new WharfError("WHARF_BATCH_INVALID", `${codecNames[codec]}: ${detail}`, options);
}

function tooLarge(codec: CompressionCode, size: number | string, max: number): WharfError {
  return invalid(codec, `decompresses to ${size} bytes, more than the limit of ${max}`);
}

function causeMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function limitOf(options: DecompressOptions | undefined): number {
  const max = options?.decompressedBytesMax ?? batchDecompressedBytesMax;
  if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`decompressedBytesMax ${max}`);
  return max;
}

// ---------------------------------------------------------------------------------------------
// Snappy: raw blocks and xerial framing.

/** `82 'S' 'N' 'A' 'P' 'P' 'Y' 00` (snappy-java `SnappyCodec.MAGIC_HEADER`). */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
/** Magic (8) + version int32 + compatible-version int32. */
const XERIAL_HEADER_BYTES = 16;
/** snappy-java `SnappyCodec.DEFAULT_VERSION` and `MINIMUM_COMPATIBLE_VERSION`. */
const XERIAL_VERSION = 1;
/** snappy-java `SnappyOutputStream.DEFAULT_BLOCK_SIZE`: input bytes per chunk. */
const XERIAL_CHUNK_INPUT_BYTES = 32 * 1024;

function isXerial(bytes: Buffer): boolean {
  return bytes.length >= XERIAL_HEADER_BYTES && bytes.subarray(0, 8).equals(XERIAL_MAGIC);
}

/** The uncompressed length a raw snappy block declares in its varint preamble (≤ 2^32-1). */
function snappyDeclaredLength(block: Buffer): number {
  let value = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const byte = block[i]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (value > 0xffffffff) break;
      return value;
    }
  }
  throw invalid(Compression.snappy, "bad uncompressed-length preamble");
}

/** Splits snappy input into raw blocks, checking the declared total against `max`. */
function snappyBlocks(bytes: Buffer, max: number): { blocks: Buffer[]; total: number } {
  if (!isXerial(bytes)) {
    const total = snappyDeclaredLength(bytes);
    if (total > max) throw tooLarge(Compression.snappy, total, max);
    return { blocks: [bytes], total };
  }
  const blocks: Buffer[] = [];
  let total = 0;
  let pos = XERIAL_HEADER_BYTES;
  while (pos < bytes.length) {
    if (bytes.length - pos < 4) throw invalid(Compression.snappy, "truncated xerial chunk length");
    const length = bytes.readInt32BE(pos);
    pos += 4;
    if (length <= 0 || length > bytes.length - pos) {
      throw invalid(Compression.snappy, `xerial chunk length ${length} at byte ${pos - 4}`);
    }
    const block = bytes.subarray(pos, pos + length);
    pos += length;
    total += snappyDeclaredLength(block);
    if (total > max) throw tooLarge(Compression.snappy, `at least ${total}`, max);
    blocks.push(block);
  }
  return { blocks, total };
}

function joinSnappy(parts: Buffer[], total: number): Buffer {
  const joined = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  if (joined.length !== total) {
    throw invalid(Compression.snappy, `decoded ${joined.length} bytes, declared ${total}`);
  }
  return joined;
}

function snappyDecompressSync(bytes: Buffer, max: number): Buffer {
  const { blocks, total } = snappyBlocks(bytes, max);
  const parts = blocks.map((block) => snappyUncompressSync(block) as Buffer);
  return joinSnappy(parts, total);
}

async function snappyDecompress(bytes: Buffer, max: number): Promise<Buffer> {
  const { blocks, total } = snappyBlocks(bytes, max);
  // One block at a time: a 64 MiB batch has ~2000 chunks, which must not flood the libuv pool
  // that file-system calls share.
  const parts: Buffer[] = [];
  for (const block of blocks) parts.push((await snappyUncompress(block)) as Buffer);
  return joinSnappy(parts, total);
}

function xerialHeader(): Buffer {
  const header = Buffer.allocUnsafe(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_VERSION, 12);
  return header;
}

function xerialChunk(compressed: Buffer): Buffer[] {
  const length = Buffer.allocUnsafe(4);
  length.writeInt32BE(compressed.length, 0);
  return [length, compressed];
}

function snappyCompressXerialSync(bytes: Buffer): Buffer {
  const parts = [xerialHeader()];
  for (let pos = 0; pos < bytes.length; pos += XERIAL_CHUNK_INPUT_BYTES) {
    const chunk = bytes.subarray(pos, pos + XERIAL_CHUNK_INPUT_BYTES);
    parts.push(...xerialChunk(snappyCompressSync(chunk)));
  }
  return Buffer.concat(parts);
}

async function snappyCompressXerial(bytes: Buffer): Promise<Buffer> {
  const parts = [xerialHeader()];
  for (let pos = 0; pos < bytes.length; pos += XERIAL_CHUNK_INPUT_BYTES) {
    const chunk = bytes.subarray(pos, pos + XERIAL_CHUNK_INPUT_BYTES);
    parts.push(...xerialChunk(await snappyCompress(chunk)));
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// LZ4 frame format (lz4 `doc/lz4_Frame_format.md`).

const LZ4_MAGIC = 0x184d2204;

/**
 * Walks the LZ4 frame and returns an upper bound of its decompressed size, failing once it
 * passes `max`. Validates the structure the decoder relies on; checksums are left to it.
 * Exactly one frame is accepted, as Kafka writes: lz4-napi (like Kafka's Lz4BlockInputStream)
 * would stop at the first end mark and silently drop anything after it.
 */
export function lz4DecompressedBound(bytes: Buffer, max: number): number {
  const fail = (detail: string) => invalid(Compression.lz4, detail);
  if (bytes.length < 7) throw fail(`${bytes.length} bytes, less than a frame header`);
  const magic = bytes.readUInt32LE(0);
  if (magic !== LZ4_MAGIC) throw fail(`bad frame magic 0x${magic.toString(16)}`);
  const flg = bytes[4]!;
  const bd = bytes[5]!;
  if (flg >> 6 !== 1 || (flg & 0x02) !== 0 || (bd & 0x8f) !== 0) {
    throw fail(`unsupported frame descriptor FLG 0x${flg.toString(16)} BD 0x${bd.toString(16)}`);
  }
  const blockChecksum = (flg & 0x10) !== 0;
  const contentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const dictionaryId = (flg & 0x01) !== 0;
  const blockSizeId = (bd >> 4) & 0x07;
  if (blockSizeId < 4) throw fail(`block maximum size id ${blockSizeId}`);
  const blockMax = 1 << (2 * blockSizeId + 8); // 64 KiB, 256 KiB, 1 MiB, 4 MiB
  let pos = 6;
  if (contentSize) {
    if (bytes.length - pos < 8) throw fail("truncated content size");
    const declared = Number(bytes.readBigUInt64LE(pos));
    if (declared > max) throw tooLarge(Compression.lz4, declared, max);
    pos += 8;
  }
  if (dictionaryId) pos += 4;
  pos += 1; // header checksum, verified by the decoder
  let bound = 0;
  for (;;) {
    if (bytes.length - pos < 4) throw fail("frame ends without an end mark");
    const word = bytes.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break; // end mark
    const stored = (word & 0x80000000) !== 0;
    const size = word & 0x7fffffff;
    if (size > blockMax) throw fail(`block of ${size} bytes exceeds the maximum ${blockMax}`);
    const trailer = blockChecksum ? 4 : 0;
    if (size + trailer > bytes.length - pos) throw fail("block runs past the end");
    pos += size + trailer;
    bound += stored ? size : blockMax;
    if (bound > max) throw tooLarge(Compression.lz4, `up to ${bound}`, max);
  }
  if (contentChecksum) pos += 4;
  if (pos > bytes.length) throw fail("truncated content checksum");
  if (pos < bytes.length) throw fail(`${bytes.length - pos} bytes after the frame`);
  return bound;
}

// ---------------------------------------------------------------------------------------------
// Zstandard frames (RFC 8878, section 3.1).

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames: magic 0x184D2A50 to 0x184D2A5F, then a uint32 LE size. */
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** Block_Maximum_Size cap: 128 KiB (RFC 8878 3.1.1.2.4). */
const ZSTD_BLOCK_BYTES_MAX = 128 * 1024;
/** libzstd's default window limit (ZSTD_WINDOWLOG_LIMIT_DEFAULT = 27): larger frames fail. */
const ZSTD_WINDOW_BYTES_MAX = 2 ** 27;

/**
 * Walks the zstd frames and returns an upper bound of their decompressed size, failing once it
 * passes `max`. Raw and RLE blocks count their exact size, compressed blocks their maximum.
 */
export function zstdDecompressedBound(bytes: Buffer, max: number): number {
  const fail = (detail: string) => invalid(Compression.zstd, detail);
  let bound = 0;
  let pos = 0;
  if (bytes.length === 0) throw fail("empty input");
  while (pos < bytes.length) {
    if (bytes.length - pos < 4) throw fail(`${bytes.length - pos} trailing bytes`);
    const magic = bytes.readUInt32LE(pos);
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (bytes.length - pos < 8) throw fail("truncated skippable frame");
      const size = bytes.readUInt32LE(pos + 4);
      if (size > bytes.length - pos - 8) throw fail("skippable frame runs past the end");
      pos += 8 + size;
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw fail(`bad frame magic 0x${magic.toString(16)} at byte ${pos}`);
    pos += 4;
    if (pos >= bytes.length) throw fail("truncated frame header");
    const descriptor = bytes[pos++]!;
    const contentSizeFlag = descriptor >> 6;
    const singleSegment = (descriptor & 0x20) !== 0;
    const checksum = (descriptor & 0x04) !== 0;
    const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 0x03]!;
    if ((descriptor & 0x08) !== 0) throw fail("reserved frame header bit set");
    const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][contentSizeFlag]!;
    const headerRest = (singleSegment ? 0 : 1) + dictionaryIdBytes + contentSizeBytes;
    if (bytes.length - pos < headerRest) throw fail("truncated frame header");
    let windowSize = 0;
    if (!singleSegment) {
      const windowDescriptor = bytes[pos++]!;
      const windowBase = 2 ** (10 + (windowDescriptor >> 3));
      windowSize = windowBase + (windowBase / 8) * (windowDescriptor & 0x07);
    }
    pos += dictionaryIdBytes;
    let contentSize = -1;
    if (contentSizeBytes === 1) contentSize = bytes[pos]!;
    else if (contentSizeBytes === 2) contentSize = bytes.readUInt16LE(pos) + 256;
    else if (contentSizeBytes === 4) contentSize = bytes.readUInt32LE(pos);
    else if (contentSizeBytes === 8) contentSize = Number(bytes.readBigUInt64LE(pos));
    pos += contentSizeBytes;
    if (contentSize >= 0 && bound + contentSize > max) {
      throw tooLarge(Compression.zstd, bound + contentSize, max);
    }
    if (singleSegment) windowSize = contentSize;
    if (windowSize > ZSTD_WINDOW_BYTES_MAX) throw fail(`window of ${windowSize} bytes`);
    const blockMax = Math.min(windowSize, ZSTD_BLOCK_BYTES_MAX);
    let last = false;
    while (!last) {
      if (bytes.length - pos < 3) throw fail("truncated block header");
      const header = bytes.readUIntLE(pos, 3);
      pos += 3;
      last = (header & 1) === 1;
      const type = (header >> 1) & 0x03;
      const size = header >>> 3;
      if (type === 3) throw fail("reserved block type");
      if (size > blockMax) throw fail(`block of ${size} bytes exceeds the maximum ${blockMax}`);
      const stored = type === 1 ? 1 : size; // an RLE block stores one byte
      if (stored > bytes.length - pos) throw fail("block runs past the end");
      pos += stored;
      bound += type === 2 ? blockMax : size;
      if (bound > max) throw tooLarge(Compression.zstd, `up to ${bound}`, max);
    }
    if (checksum) {
      if (bytes.length - pos < 4) throw fail("truncated content checksum");
      pos += 4;
    }
  }
  return bound;
}

// ---------------------------------------------------------------------------------------------
// Public API.

function isOutputLimitError(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === "ERR_BUFFER_TOO_LARGE";
}

function checkedOutput(codec: CompressionCode, output: Buffer, max: number): Buffer {
  // Pair assertion on the pre-scan: a library that produced more than the bound is a bug there.
  if (output.length > max) throw tooLarge(codec, output.length, max);
  return output;
}

function rethrow(codec: CompressionCode, error: unknown, max: number): never {
  if (error instanceof WharfError) throw error;
  if (isOutputLimitError(error)) throw tooLarge(codec, `more than ${max}`, max);
  throw invalid(codec, causeMessage(error), error);
}

/**
 * Decompresses a records section synchronously (gzip, snappy, lz4): for small batches, where a
 * thread-pool round trip costs more than the work. Bad or oversized input throws
 * `WHARF_BATCH_INVALID`.
 */
export function decompressRecordsSync(
  codec: SyncCompressionCode,
  bytes: Buffer,
  options?: DecompressOptions,
): Buffer {
  if (!isSyncCompressionCode(codec)) {
    throw new TypeError(`codec ${codec} has no synchronous decompression`);
  }
  const max = limitOf(options);
  try {
    switch (codec) {
      case Compression.none:
        return checkedOutput(codec, bytes, max);
      case Compression.gzip:
        return checkedOutput(codec, gunzipSync(bytes, { maxOutputLength: Math.max(1, max) }), max);
      case Compression.snappy:
        return checkedOutput(codec, snappyDecompressSync(bytes, max), max);
      case Compression.lz4:
        lz4DecompressedBound(bytes, max);
        return checkedOutput(codec, decompressFrameSync(bytes), max);
    }
  } catch (error) {
    rethrow(codec, error, max);
  }
}

/** Decompresses a records section with `codec`. Bad or oversized input: `WHARF_BATCH_INVALID`. */
export async function decompressRecords(
  codec: CompressionCode,
  bytes: Buffer,
  options?: DecompressOptions,
): Promise<Buffer> {
  if (!isCompressionCode(codec)) {
    throw new WharfError("WHARF_BATCH_INVALID", `unknown compression codec ${codec}`);
  }
  const max = limitOf(options);
  try {
    switch (codec) {
      case Compression.none:
        return checkedOutput(codec, bytes, max);
      case Compression.gzip: {
        const output = await gunzipAsync(bytes, { maxOutputLength: Math.max(1, max) });
        return checkedOutput(codec, output, max);
      }
      case Compression.snappy:
        return checkedOutput(codec, await snappyDecompress(bytes, max), max);
      case Compression.lz4:
        lz4DecompressedBound(bytes, max);
        return checkedOutput(codec, await decompressFrame(bytes), max);
      case Compression.zstd:
        zstdDecompressedBound(bytes, max);
        return checkedOutput(codec, await zstdDecompress(bytes), max);
    }
  } catch (error) {
    rethrow(codec, error, max);
  }
}

function gzipLevel(options: CompressOptions | undefined): number | undefined {
  const level = options?.level;
  if (level === undefined) return undefined;
  if (!Number.isInteger(level) || level < 1 || level > 9)
    throw new RangeError(`gzip level ${level}`);
  return level;
}

function zstdLevel(options: CompressOptions | undefined): number {
  const level = options?.level ?? zstdLevelDefault;
  if (!Number.isInteger(level) || level < -131072 || level > 22) {
    throw new RangeError(`zstd level ${level}`);
  }
  return level;
}

/** Compresses a records section synchronously (gzip, snappy as xerial, lz4 frame). */
export function compressRecordsSync(
  codec: SyncCompressionCode,
  bytes: Buffer,
  options?: CompressOptions,
): Buffer {
  switch (codec) {
    case Compression.none:
      return bytes;
    case Compression.gzip:
      return gzipSync(bytes, { level: gzipLevel(options) });
    case Compression.snappy:
      return snappyCompressXerialSync(bytes);
    case Compression.lz4:
      return compressFrameSync(bytes);
    default:
      throw new TypeError(`codec ${codec} has no synchronous compression`);
  }
}

/** Compresses a records section as Kafka's Java client would (snappy: xerial; lz4: frame). */
export async function compressRecords(
  codec: CompressionCode,
  bytes: Buffer,
  options?: CompressOptions,
): Promise<Buffer> {
  switch (codec) {
    case Compression.none:
      return bytes;
    case Compression.gzip:
      return gzipAsync(bytes, { level: gzipLevel(options) });
    case Compression.snappy:
      return snappyCompressXerial(bytes);
    case Compression.lz4:
      return compressFrame(bytes);
    case Compression.zstd:
      return zstdCompress(bytes, zstdLevel(options));
    default:
      throw new TypeError(`unknown compression codec ${codec}`);
  }
}
