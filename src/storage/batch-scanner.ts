/**
 * Walks the batches of one segment file from a known position, for recovery, index rebuilds,
 * offset lookups, timestamp lookups and scrubs.
 *
 * Two modes: `verify: false` reads only batch headers (in 64 KiB chunks, so small batches cost
 * no extra read) and checks that each header is plausible; `verify: true` reads every batch
 * whole and checks its CRC32C as well. In both modes the base offset of each batch must be the
 * one expected (offsets are dense: the previous batch's last offset + 1), which also catches
 * a damaged base offset, a field the CRC does not cover.
 *
 * When a batch fails, the scanner looks for where valid data resumes: first right after the
 * declared length, then byte by byte (a candidate must have magic 2, a plausible length, a
 * base offset within the segment's offset span and a valid CRC). It reports the bad bytes as
 * a `corrupt` step and carries on from the resume point; `resumed: false` means nothing valid
 * follows up to the scan limit (a torn tail, when the segment is the log's last).
 *
 * A segment rewritten by compaction (`offsetGaps`) keeps its batches' offsets, so there a base
 * offset may be above the one expected (never below); everywhere else it must be exact.
 *
 * Known corrupt ranges of the segment are skipped (reported as `corrupt` with `known: true`)
 * so that a bad region is searched once, not on every read.
 */
import { batchBytesMaxCeiling } from "../config/limits.ts";
import { type FileHandle, readAt } from "./file-system.ts";
import {
  BATCH_HEADER_BYTES,
  BATCH_MAGIC,
  type BatchHeader,
  checkBatch,
  Offset,
  readBaseOffset,
  readBatchHeader,
  readBatchSize,
  readLastOffsetDelta,
  readMaxTimestamp,
} from "./record-batch.ts";
import type { CorruptRange } from "./segment.ts";

/** Chunk read when only headers are needed: a few small batches per read. */
const HEADER_CHUNK_BYTES = 64 * 1024;
/** Chunk read when whole batches are verified (recovery, scrub): sequential and large. */
const VERIFY_CHUNK_BYTES = 1024 * 1024;

/** The file holds fewer bytes than the log believed: it was truncated while being read. */
export class ShortReadError extends Error {
  constructor(position: number, wanted: number, got: number) {
    super(`short read at ${position}: wanted ${wanted} bytes, got ${got}`);
    this.name = "ShortReadError";
  }
}

/** Reads a file through one cached chunk; `get` answers from the chunk when it can. */
export class ChunkReader {
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;

  constructor(
    private readonly handle: FileHandle,
    /** Bytes of the file that may be read. */
    readonly limit: number,
    private readonly chunkBytes: number,
  ) {}

  /**
   * A buffer holding `[position, position + length)` at `at`, or null when that range passes
   * `limit`. Throws `ShortReadError` when the file is shorter than `limit`.
   */
  async get(position: number, length: number): Promise<{ buffer: Buffer; at: number } | null> {
    if (position < 0 || position + length > this.limit) return null;
    const chunkEnd = this.chunkStart + this.chunk.length;
    if (position >= this.chunkStart && position + length <= chunkEnd) {
      return { buffer: this.chunk, at: position - this.chunkStart };
    }
    const want = Math.min(Math.max(length, this.chunkBytes), this.limit - position);
    const chunk = await readAt(this.handle, position, want);
    if (chunk.length < length) throw new ShortReadError(position, length, chunk.length);
    this.chunk = chunk;
    this.chunkStart = position;
    return { buffer: chunk, at: 0 };
  }
}

export interface ScannedBatch {
  kind: "batch";
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  leaderEpoch: number;
  attributes: number;
  /** The whole header, when the scan was asked for headers. */
  header?: BatchHeader;
}

export interface CorruptStep {
  kind: "corrupt";
  range: CorruptRange;
  /** True when valid data follows the range (the scan continues there). */
  resumed: boolean;
  /** True when the range was already recorded on the segment. */
  known: boolean;
  /** Why the first bad batch failed. */
  reason: string;
}

export type ScanStep = ScannedBatch | CorruptStep | { kind: "end" };

export interface ScanTarget {
  readonly handle: FileHandle;
  readonly fileName: string;
  readonly corruptRanges: readonly CorruptRange[];
  /** Offsets may jump between batches (a compacted segment). */
  readonly offsetGaps?: boolean;
}

export interface ScanOptions {
  /** File position of a batch boundary to start from. */
  position: number;
  /** Base offset of the batch at `position`. */
  expectedOffset: number;
  /** Bytes of the file to scan: the scan ends there. */
  limit: number;
  /** Every offset of the segment is below this (next segment's base, or +infinity). */
  upperOffset: number;
  /** Check every batch's CRC (reads whole batches). */
  verify: boolean;
  /** Return each batch's full header (`ScannedBatch.header`). */
  headers?: boolean;
}

export class SegmentScanner {
  position: number;
  expectedOffset: number;
  private readonly reader: ChunkReader;

  constructor(
    private readonly target: ScanTarget,
    private readonly options: ScanOptions,
  ) {
    this.position = options.position;
    this.expectedOffset = options.expectedOffset;
    const chunkBytes = options.verify ? VERIFY_CHUNK_BYTES : HEADER_CHUNK_BYTES;
    this.reader = new ChunkReader(target.handle, options.limit, chunkBytes);
  }

  async next(): Promise<ScanStep> {
    const limit = this.options.limit;
    if (this.position >= limit) return { kind: "end" };
    for (const range of this.target.corruptRanges) {
      if (this.position >= range.startPosition && this.position < range.endPosition) {
        this.position = range.endPosition;
        this.expectedOffset = range.endOffset;
        const resumed = range.endPosition < limit;
        return { kind: "corrupt", range, resumed, known: true, reason: "known corrupt range" };
      }
    }
    const problem = await this.problemAt(this.position, this.expectedOffset, true);
    if (typeof problem === "string") return this.corrupt(problem);
    this.position += problem.size;
    this.expectedOffset = problem.lastOffset + 1;
    return problem;
  }

  /**
   * Checks the batch at `position`: returns it, or the reason it is not a valid batch with
   * base offset `expected` (exactly, when `exact`; else at least).
   */
  private async problemAt(
    position: number,
    expected: number,
    exact: boolean,
  ): Promise<ScannedBatch | string> {
    const { limit, upperOffset } = this.options;
    const head = await this.reader.get(position, BATCH_HEADER_BYTES);
    if (head === null) return `${limit - position} bytes left, less than a batch header`;
    const { buffer, at } = head;
    const magic = buffer.readInt8(at + Offset.magic);
    if (magic !== BATCH_MAGIC) return `magic ${magic}`;
    const size = readBatchSize(buffer, at);
    if (size < BATCH_HEADER_BYTES || size > batchBytesMaxCeiling) return `batch size ${size}`;
    if (position + size > limit) return `batch of ${size} bytes runs past the end at ${limit}`;
    const baseOffset = readBaseOffset(buffer, at);
    const lastOffsetDelta = readLastOffsetDelta(buffer, at);
    const gapsAllowed = !exact || this.target.offsetGaps === true;
    if (gapsAllowed ? baseOffset < expected : baseOffset !== expected) {
      return `base offset ${baseOffset}, expected ${expected}`;
    }
    if (lastOffsetDelta < 0 || baseOffset + lastOffsetDelta >= upperOffset) {
      return `offsets ${baseOffset}+${lastOffsetDelta} outside the segment`;
    }
    const batch: ScannedBatch = {
      kind: "batch",
      position,
      size,
      baseOffset,
      lastOffset: baseOffset + lastOffsetDelta,
      maxTimestamp: readMaxTimestamp(buffer, at),
      leaderEpoch: buffer.readInt32BE(at + Offset.partitionLeaderEpoch),
      attributes: buffer.readInt16BE(at + Offset.attributes),
    };
    if (this.options.headers) batch.header = readBatchHeader(buffer, at);
    if (this.options.verify || !exact) {
      const whole = await this.reader.get(position, size);
      if (whole === null) return `batch of ${size} bytes runs past the end at ${limit}`;
      const check = checkBatch(whole.buffer, whole.at, whole.at + size, {
        maxBatchBytes: batchBytesMaxCeiling,
      });
      if (!check.ok) return check.error.message;
    }
    return batch;
  }

  private async corrupt(reason: string): Promise<CorruptStep> {
    const badPosition = this.position;
    const startOffset = this.expectedOffset;
    const resume = await this.findResume(badPosition, startOffset);
    const range: CorruptRange = {
      file: this.target.fileName,
      startPosition: badPosition,
      endPosition: resume ? resume.position : this.options.limit,
      startOffset,
      endOffset: resume ? resume.baseOffset : Math.max(startOffset, this.options.upperOffset),
    };
    this.position = range.endPosition;
    this.expectedOffset = range.endOffset;
    return { kind: "corrupt", range, resumed: resume !== null, known: false, reason };
  }

  /** The first position after `badPosition` where a valid batch (offset >= expected) starts. */
  private async findResume(
    badPosition: number,
    expected: number,
  ): Promise<{ position: number; baseOffset: number } | null> {
    const limit = this.options.limit;
    // The declared length first: when only record bytes were damaged, the next batch is there.
    const head = await this.reader.get(badPosition, BATCH_HEADER_BYTES);
    if (head !== null) {
      const next = badPosition + readBatchSize(head.buffer, head.at);
      if (next > badPosition + BATCH_HEADER_BYTES && next < limit) {
        const batch = await this.problemAt(next, expected, false);
        if (typeof batch !== "string") return { position: next, baseOffset: batch.baseOffset };
      }
    }
    // Else byte by byte; memchr (indexOf) finds the candidates whose magic byte is right.
    let from = badPosition + 1;
    while (from + BATCH_HEADER_BYTES <= limit) {
      const length = Math.min(VERIFY_CHUNK_BYTES, limit - from);
      const view = await this.reader.get(from, length);
      if (view === null) return null;
      const { buffer, at } = view;
      const lastCandidate = at + length - BATCH_HEADER_BYTES;
      let magicAt = buffer.indexOf(BATCH_MAGIC, at + Offset.magic);
      while (magicAt !== -1 && magicAt - Offset.magic <= lastCandidate) {
        const position = from + (magicAt - Offset.magic - at);
        const batch = await this.problemAt(position, expected, false);
        if (typeof batch !== "string") return { position, baseOffset: batch.baseOffset };
        magicAt = buffer.indexOf(BATCH_MAGIC, magicAt + 1);
      }
      from += length - BATCH_HEADER_BYTES + 1;
    }
    return null;
  }
}
