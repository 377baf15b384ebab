/**
 * Reading one segment: locating the batch that holds an offset, returning stored batches as
 * they are on disk, finding an offset by timestamp, and scrubbing.
 *
 * Every batch served is CRC-checked first (crc32c is native, GB/s), so bit rot in the middle
 * of a segment is never handed to a consumer. When the first batch a read would return is bad,
 * the segment is scanned from there for where valid data resumes; the bad range is recorded
 * on the segment (and logged once by the `ReadContext`), reads inside it fail with
 * WHARF_DATA_CORRUPT, and reads before and after it go on working. A bad batch later in a
 * read simply ends that read before it; the next read then starts there and meets it first.
 *
 * In a segment rewritten by compaction (`segment.offsetGaps`) offsets may jump between
 * batches: the batch "holding" an offset is then the first whose last offset reaches it.
 *
 * These functions only read: they run concurrently with the writer loop, on a snapshot of the
 * segment's size taken when they start. If the segment is truncated meanwhile (its
 * `generation` moves) they return what they have rather than mistake the change for damage.
 */
import { batchBytesMaxCeiling } from "../config/limits.ts";
import { WharfError } from "../errors/index.ts";
import {
  type CorruptStep,
  type ScannedBatch,
  SegmentScanner,
  ShortReadError,
} from "./batch-scanner.ts";
import { readAt } from "./file-system.ts";
import {
  Attribute,
  BATCH_LOG_OVERHEAD,
  Compression,
  checkBatch,
  decodeRecords,
  readBaseOffset,
  readBatchSize,
  readLastOffsetDelta,
} from "./record-batch.ts";
import type { CorruptRange, Segment } from "./segment.ts";

export interface ReadContext {
  /** Records a newly found range on its segment and logs it (once per range). */
  reportCorruption(segment: Segment, step: CorruptStep): void;
}

/** Result of a segment read; `retry` when a newly recorded range may have moved the answer. */
type SegmentRead = { bytes: Buffer } | { retry: true };

const EMPTY = Buffer.alloc(0);

function dataCorrupt(range: CorruptRange, offset: number): WharfError {
  const detail =
    `offset ${offset} lies in offsets [${range.startOffset}, ${range.endOffset}) of ` +
    `${range.file} bytes [${range.startPosition}, ${range.endPosition})`;
  return new WharfError("WHARF_DATA_CORRUPT", detail);
}

/**
 * Walks from the index entry at or before `offset` to the batch holding it. Null when the
 * segment's bytes (up to `limit`) end first. Throws WHARF_DATA_CORRUPT when `offset` lies in a
 * corrupt range.
 */
export async function locateBatch(
  segment: Segment,
  offset: number,
  limit: number,
  upperOffset: number,
  context: ReadContext,
): Promise<ScannedBatch | null> {
  const known = segment.corruptRangeForOffset(offset);
  if (known) throw dataCorrupt(known, offset);
  const entry = segment.offsetIndex.floor(offset - segment.baseOffset);
  const scanner = new SegmentScanner(segment, {
    position: entry >= 0 ? segment.offsetIndex.positionAt(entry) : 0,
    expectedOffset:
      segment.baseOffset + (entry >= 0 ? segment.offsetIndex.relativeOffsetAt(entry) : 0),
    limit,
    upperOffset,
    verify: false,
  });
  const generation = segment.generation;
  for (;;) {
    const step = await scanner.next();
    if (step.kind === "end") return null;
    if (step.kind === "corrupt") {
      if (segment.generation !== generation) return null;
      if (!step.known) context.reportCorruption(segment, step);
      if (offset < step.range.endOffset) throw dataCorrupt(step.range, offset);
      continue;
    }
    if (step.lastOffset >= offset) return step;
  }
}

/**
 * Whole stored batches from the batch holding `offset`: up to `maxBytes` (but at least that
 * first batch), only batches wholly below `maxOffset`, all from this segment.
 */
export async function readSegment(
  segment: Segment,
  offset: number,
  maxBytes: number,
  maxOffset: number,
  context: ReadContext,
): Promise<SegmentRead> {
  const limit = segment.size;
  const upperOffset = segment.endOffset;
  const generation = segment.generation;
  const first = await locateBatch(segment, offset, limit, upperOffset, context);
  if (first === null || first.lastOffset >= maxOffset) return { bytes: EMPTY };
  const want = Math.max(first.size, Math.min(maxBytes, limit - first.position));
  const bytes = await readAt(segment.handle, first.position, want);
  let end = 0;
  let expected = first.baseOffset;
  const gaps = segment.offsetGaps;
  while (end + BATCH_LOG_OVERHEAD <= bytes.length) {
    const size = readBatchSize(bytes, end);
    if (size > bytes.length - end && end > 0) break; // the next batch is cut by maxBytes
    const check = checkBatch(bytes, end, bytes.length, { maxBatchBytes: batchBytesMaxCeiling });
    const baseOffset = check.ok ? readBaseOffset(bytes, end) : -1;
    if (!check.ok || (gaps ? baseOffset < expected : baseOffset !== expected)) {
      if (end > 0) break; // served next time, as the first batch, where it is reported
      if (segment.generation !== generation || bytes.length < first.size) return { bytes: EMPTY };
      return reportFirstBatch(segment, first, offset, limit, upperOffset, context);
    }
    const lastOffset = baseOffset + readLastOffsetDelta(bytes, end);
    if (lastOffset >= maxOffset) break;
    end += size;
    expected = lastOffset + 1;
  }
  return { bytes: end === bytes.length ? bytes : bytes.subarray(0, end) };
}

/** The first batch of a read failed its checks: scan it, record the range, answer. */
async function reportFirstBatch(
  segment: Segment,
  first: ScannedBatch,
  offset: number,
  limit: number,
  upperOffset: number,
  context: ReadContext,
): Promise<SegmentRead> {
  const generation = segment.generation;
  const scanner = new SegmentScanner(segment, {
    position: first.position,
    expectedOffset: first.baseOffset,
    limit,
    upperOffset,
    verify: true,
  });
  const step = await scanner.next();
  if (segment.generation !== generation) return { bytes: EMPTY };
  if (step.kind !== "corrupt") return { retry: true }; // the bytes read differently: try again
  if (!step.known) context.reportCorruption(segment, step);
  if (offset >= step.range.startOffset && offset < step.range.endOffset) {
    throw dataCorrupt(step.range, offset);
  }
  return { retry: true };
}

/**
 * The first record at or after `minOffset` and below `maxOffset` whose timestamp is >=
 * `timestamp`, in this segment; null when there is none in it.
 */
export async function findTimestampInSegment(
  segment: Segment,
  timestamp: number,
  minOffset: number,
  maxOffset: number,
  context: ReadContext,
): Promise<{ offset: number; timestamp: number } | null> {
  const limit = segment.size;
  const generation = segment.generation;
  const scanFrom = segment.timeIndex.scanStartFor(timestamp);
  const startOffset = Math.max(minOffset, segment.baseOffset + Math.max(scanFrom, 0));
  if (startOffset >= segment.endOffset) return null;
  let start: ScannedBatch | null;
  try {
    start = await locateBatch(segment, startOffset, limit, segment.endOffset, context);
  } catch (error) {
    if (!(error instanceof WharfError) || error.code !== "WHARF_DATA_CORRUPT") throw error;
    start = null; // the start lies in a corrupt range: scan from the segment's start instead
  }
  const scanner = new SegmentScanner(segment, {
    position: start ? start.position : 0,
    expectedOffset: start ? start.baseOffset : segment.baseOffset,
    limit,
    upperOffset: segment.endOffset,
    verify: false,
  });
  for (;;) {
    const step = await scanner.next();
    if (step.kind === "end" || segment.generation !== generation) return null;
    if (step.kind === "corrupt") {
      if (!step.known) context.reportCorruption(segment, step);
      continue; // a lookup by time skips what cannot be served
    }
    if (step.lastOffset >= maxOffset) return null;
    if (step.lastOffset < minOffset || step.maxTimestamp < timestamp) continue;
    const found = await firstRecordAtOrAfter(segment, step, timestamp, minOffset);
    if (found) return found;
  }
}

/**
 * Within a batch whose max timestamp reaches `timestamp`: the first record that does (null if
 * none does: the header's max timestamp overstated its records). Only uncompressed CreateTime
 * batches are looked into; otherwise the batch's first offset and its max timestamp answer
 * (as Kafka does for LogAppendTime).
 */
async function firstRecordAtOrAfter(
  segment: Segment,
  batch: ScannedBatch,
  timestamp: number,
  minOffset: number,
): Promise<{ offset: number; timestamp: number } | null> {
  const fallback = { offset: Math.max(batch.baseOffset, minOffset), timestamp: batch.maxTimestamp };
  const compression = batch.attributes & Attribute.compressionMask;
  if (compression !== Compression.none || (batch.attributes & Attribute.logAppendTime) !== 0) {
    return fallback;
  }
  let bytes: Buffer;
  try {
    bytes = await readAt(segment.handle, batch.position, batch.size);
  } catch (error) {
    if (error instanceof ShortReadError) return fallback;
    throw error;
  }
  if (
    bytes.length < batch.size ||
    !checkBatch(bytes, 0, bytes.length, { maxBatchBytes: batchBytesMaxCeiling }).ok
  ) {
    return fallback;
  }
  for (const record of decodeRecords(bytes, 0)) {
    if (record.offset >= minOffset && record.timestamp >= timestamp) {
      return { offset: record.offset, timestamp: record.timestamp };
    }
  }
  return null;
}

/** Scans a whole segment, CRC-checking every batch; records and returns what is corrupt. */
export async function scrubSegment(
  segment: Segment,
  upperOffset: number,
  context: ReadContext,
): Promise<CorruptRange[]> {
  const generation = segment.generation;
  const scanner = new SegmentScanner(segment, {
    position: 0,
    expectedOffset: segment.baseOffset,
    limit: segment.size,
    upperOffset,
    verify: true,
  });
  const found: CorruptRange[] = [];
  for (;;) {
    const step = await scanner.next();
    if (step.kind === "end" || segment.generation !== generation) return found;
    if (step.kind === "corrupt") {
      if (!step.known) context.reportCorruption(segment, step);
      found.push(step.range);
    }
  }
}
