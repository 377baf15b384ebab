/**
 * One segment of a log: `<20-digit base offset>.log` holding whole RecordBatch v2 batches back
 * to back, with its sparse `.index` and `.timeindex` kept in memory.
 *
 * State kept here is the log's view of the file: `size` is the end of the last whole batch
 * the log knows of (reads never go past it; after a failed write the file may briefly be
 * longer until the log truncates it back), `endOffset` the offset after that batch. The file
 * handle stays open for the segment's life: the active segment is written through it and
 * every segment is read through it (pread), so no open() is paid per read.
 *
 * Reads hold a reference (`acquire`/`release`); deleting a segment unlinks its files at once
 * and closes the handle when the last reader is done, so a read racing a retention run still
 * sees its bytes (POSIX keeps an unlinked file readable through an open descriptor).
 *
 * Compaction (log-cleaner.ts) writes a replacement segment under a temporary name
 * (`createAt`) and renames it over the old one; a segment replaced that way is only closed,
 * never deleted by path (its name now belongs to the new file).
 */
import { join } from "node:path";
import { TEMP_SUFFIX, writeCheckpoint } from "./checkpoint-file.ts";
import { type FileHandle, type FileSystem, isNotFound } from "./file-system.ts";
import { OffsetIndex } from "./offset-index.ts";
import { TimeIndex } from "./time-index.ts";

export const LOG_SUFFIX = ".log";
export const OFFSET_INDEX_SUFFIX = ".index";
export const TIME_INDEX_SUFFIX = ".timeindex";
const BASE_OFFSET_DIGITS = 20;

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(BASE_OFFSET_DIGITS, "0") + suffix;
}

/** The base offset named by a segment file (`00000000000000000042.log` -> 42), or null. */
export function parseSegmentFileName(name: string, suffix: string): number | null {
  if (!name.endsWith(suffix)) return null;
  const digits = name.slice(0, -suffix.length);
  if (digits.length !== BASE_OFFSET_DIGITS || !/^[0-9]+$/.test(digits)) return null;
  const baseOffset = Number(digits);
  return Number.isSafeInteger(baseOffset) ? baseOffset : null;
}

/**
 * Bytes of a segment that cannot be served: `[startPosition, endPosition)` in `file`, holding
 * the offsets `[startOffset, endOffset)`. Found when a read, a scrub or recovery meets a batch
 * that fails its checks and valid data resumes later (or never, in a sealed segment).
 */
export interface CorruptRange {
  file: string;
  startPosition: number;
  endPosition: number;
  startOffset: number;
  endOffset: number;
}

export class Segment {
  readonly logPath: string;
  readonly offsetIndexPath: string;
  readonly timeIndexPath: string;
  /** Bytes of whole batches; the log writes the next batch here. */
  size = 0;
  /** Bytes covered by a completed fdatasync. */
  durableSize = 0;
  /** Offset after the last batch. */
  endOffset: number;
  offsetIndex = new OffsetIndex();
  timeIndex = new TimeIndex();
  /** Bytes appended since the last offset-index entry. */
  bytesSinceIndexEntry = 0;
  /** Largest batch max timestamp in the segment, and the base offset of that batch. */
  maxTimestamp = -1;
  offsetOfMaxTimestamp = -1;
  /** When the segment's age starts counting for `segmentMs` (first append), or null if empty. */
  rollBaseMs: number | null = null;
  /** The file's last modification as the log knows it; retention's clock when no timestamps. */
  lastModifiedMs: number;
  /** True when the index files on disk match the in-memory indexes. */
  indexesPersisted = false;
  /** Known corrupt ranges, sorted by position, disjoint. */
  readonly corruptRanges: CorruptRange[] = [];
  /** Bumped when bytes already written change (truncation); scans started before give up. */
  generation = 0;
  /**
   * The segment was rewritten by compaction: its batches keep their offsets, so offsets may
   * jump between batches (and past the last one). Scans then accept a base offset above the
   * one expected; in a dense segment anything but the expected offset is damage.
   */
  offsetGaps = false;
  /**
   * The segment's file names may no longer be its own (a compaction swap failed half-way after
   * its commit point; recovery finishes it on the next open): the handle still reads the old
   * bytes, but nothing is unlinked or written by name.
   */
  detached = false;
  private readers = 0;
  private closing: { done: Promise<void>; resolve: () => void } | null = null;
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    readonly handle: FileHandle,
    nowMs: number,
  ) {
    this.logPath = join(dir, segmentFileName(baseOffset, LOG_SUFFIX));
    this.offsetIndexPath = join(dir, segmentFileName(baseOffset, OFFSET_INDEX_SUFFIX));
    this.timeIndexPath = join(dir, segmentFileName(baseOffset, TIME_INDEX_SUFFIX));
    this.endOffset = baseOffset;
    this.lastModifiedMs = nowMs;
  }

  /** Creates (or empties) the segment file. The caller makes the directory entry durable. */
  static async create(fileSystem: FileSystem, dir: string, baseOffset: number, nowMs: number) {
    const path = join(dir, segmentFileName(baseOffset, LOG_SUFFIX));
    const handle = await fileSystem.open(path, "w+");
    const segment = new Segment(dir, baseOffset, handle, nowMs);
    segment.indexesPersisted = false;
    return segment;
  }

  /**
   * Creates a segment whose file is written under `path` (compaction's `.cleaned` name) and
   * renamed to the segment's own name later; the handle follows the renames.
   */
  static async createAt(
    fileSystem: FileSystem,
    dir: string,
    baseOffset: number,
    path: string,
    nowMs: number,
  ): Promise<Segment> {
    const handle = await fileSystem.open(path, "w+");
    return new Segment(dir, baseOffset, handle, nowMs);
  }

  static async open(fileSystem: FileSystem, dir: string, baseOffset: number) {
    const handle = await fileSystem.open(join(dir, segmentFileName(baseOffset, LOG_SUFFIX)), "r+");
    try {
      const stat = await handle.stat();
      const segment = new Segment(dir, baseOffset, handle, stat.mtimeMs);
      return { segment, fileBytes: stat.size };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  get fileName(): string {
    return segmentFileName(this.baseOffset, LOG_SUFFIX);
  }

  /**
   * Accounts for a batch written at `position`: moves the end, adds index entries every
   * `indexIntervalBytes` (and for the first batch), tracks the largest timestamp.
   * Called once per batch, never per record.
   */
  recordBatch(
    position: number,
    size: number,
    baseOffset: number,
    lastOffset: number,
    maxTimestamp: number,
    indexIntervalBytes: number,
  ): void {
    // The first batch is always indexed; a position is never indexed twice (a walk that
    // extends a loaded index starts at its last entry).
    const count = this.offsetIndex.length;
    const indexed =
      count === 0 ||
      (this.bytesSinceIndexEntry >= indexIntervalBytes &&
        position > this.offsetIndex.positionAt(count - 1));
    if (indexed) {
      this.offsetIndex.append(baseOffset - this.baseOffset, position);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += size;
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.offsetOfMaxTimestamp = baseOffset;
    }
    if (indexed && this.maxTimestamp >= 0) {
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp - this.baseOffset);
    }
    this.size = position + size;
    this.endOffset = lastOffset + 1;
    this.indexesPersisted = false;
  }

  /** Makes sure the time index's last entry holds the segment's largest timestamp. */
  completeTimeIndex(): void {
    if (this.maxTimestamp >= 0) {
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp - this.baseOffset);
    }
  }

  resetIndexes(): void {
    this.offsetIndex.clear();
    this.timeIndex.clear();
    this.bytesSinceIndexEntry = 0;
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = -1;
    this.indexesPersisted = false;
  }

  /**
   * Writes both index files (temp file, fdatasync, rename). The directory is not fsync'd: an
   * index whose name was lost is rebuilt from the log, and its content is right whenever the
   * name exists.
   */
  async persistIndexes(fileSystem: FileSystem): Promise<void> {
    if (this.detached) return;
    this.completeTimeIndex();
    const options = { syncFile: true, syncDirectory: false };
    await writeCheckpoint(
      fileSystem,
      this.dir,
      segmentFileName(this.baseOffset, OFFSET_INDEX_SUFFIX),
      this.offsetIndex.serialize(),
      options,
    );
    await writeCheckpoint(
      fileSystem,
      this.dir,
      segmentFileName(this.baseOffset, TIME_INDEX_SUFFIX),
      this.timeIndex.serialize(),
      options,
    );
    this.indexesPersisted = true;
  }

  /** Removes the index files (before the log file changes under them). */
  async removeIndexFiles(fileSystem: FileSystem): Promise<void> {
    if (this.detached) return;
    for (const path of [this.offsetIndexPath, this.timeIndexPath]) {
      await unlinkIfPresent(fileSystem, path);
      await unlinkIfPresent(fileSystem, path + TEMP_SUFFIX);
    }
    this.indexesPersisted = false;
  }

  /** The known corrupt range holding `position`, if any. */
  corruptRangeAt(position: number): CorruptRange | undefined {
    for (const range of this.corruptRanges) {
      if (position >= range.startPosition && position < range.endPosition) return range;
    }
    return undefined;
  }

  /** The known corrupt range holding `offset`, if any. */
  corruptRangeForOffset(offset: number): CorruptRange | undefined {
    for (const range of this.corruptRanges) {
      if (offset >= range.startOffset && offset < range.endOffset) return range;
    }
    return undefined;
  }

  /** Records a range; false when an overlapping one is already known. */
  addCorruptRange(range: CorruptRange): boolean {
    for (const known of this.corruptRanges) {
      if (range.startPosition < known.endPosition && known.startPosition < range.endPosition) {
        return false;
      }
    }
    this.corruptRanges.push(range);
    this.corruptRanges.sort((a, b) => a.startPosition - b.startPosition);
    return true;
  }

  /** Forgets ranges at or after `position` (the segment was truncated there). */
  dropCorruptRangesFrom(position: number): void {
    for (let i = this.corruptRanges.length - 1; i >= 0; i--) {
      const range = this.corruptRanges[i]!;
      if (range.startPosition >= position) this.corruptRanges.splice(i, 1);
      else if (range.endPosition > position) range.endPosition = position;
    }
  }

  /** Takes a read reference; false when the segment is already closed (deleted). */
  acquire(): boolean {
    if (this.closed || this.closing) return false;
    this.readers++;
    return true;
  }

  release(): void {
    this.readers--;
    if (this.readers === 0 && this.closing) void this.finishClose();
  }

  /** Closes the handle once no read holds the segment. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.closing) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      this.closing = { done, resolve };
      if (this.readers === 0) void this.finishClose();
    }
    return this.closing.done;
  }

  private async finishClose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.handle.close();
    } catch {
      // Closing a descriptor only fails for a bad descriptor; nothing is left to release.
    }
    this.closing?.resolve();
  }

  /**
   * Unlinks the segment's files; the handle closes when the last reader is done (not awaited,
   * so a slow reader never stalls the log's writer).
   */
  async delete(fileSystem: FileSystem): Promise<void> {
    void this.close();
    if (this.detached) return;
    await unlinkIfPresent(fileSystem, this.logPath);
    await this.removeIndexFiles(fileSystem);
  }
}

export async function unlinkIfPresent(fileSystem: FileSystem, path: string): Promise<void> {
  try {
    await fileSystem.unlink(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}
