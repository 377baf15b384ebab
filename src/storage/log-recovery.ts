/**
 * Opening a log directory: what it holds after a clean close, a process crash or a power loss.
 *
 * Fault model. Appends only ever write past the end of the last (tail) segment, and a segment
 * is fdatasync'd before the next one is created, so after a crash:
 * - sealed segments are whole; their index files may be missing or stale (they are caches,
 *   validated against the log and rebuilt from it when they do not fit);
 * - the tail segment may end in a torn batch (a write cut short) or, after a power loss,
 *   in garbage or zeros where unsynced pages were lost. Nothing acknowledged in `fsync` mode
 *   lies there: acknowledgement came after the fdatasync that covered it.
 * - `*.tmp` files are checkpoints or indexes whose rename never happened: removed.
 * - a compaction swap may have been interrupted: it is finished when it had committed, else
 *   rolled back (cleaner-swap.ts), before the segments are listed. Segments that compaction
 *   rewrote (below the cleaner checkpoint's `cleanedEnd`) may have offset gaps.
 *
 * Procedure: remove leftovers; read the checkpoints (log start offset, leader epochs) and
 * the clean-shutdown marker (then delete the marker, so a crash from here on is detected);
 * load each sealed segment from its indexes (checking them, and walking batch headers from
 * the last index entry to the file's end); scan the tail batch by batch with full checks
 * (length, magic, CRC32C, dense offsets) unless the marker vouches for it. A bad batch in the
 * tail with nothing valid after it is a torn tail: the file is truncated there, with a warn
 * line naming the file, position, offsets and bytes dropped. A bad batch with valid data
 * after it is damage in the middle: recorded as a corrupt range (never served), not cut away,
 * because acknowledged data may follow it. Finally the tail is fdatasync'd, so that what
 * recovery kept is durable before the high watermark exposes it.
 */
import type { Logger } from "pino";
import type { CorruptStep, ScannedBatch } from "./batch-scanner.ts";
import { SegmentScanner } from "./batch-scanner.ts";
import {
  formatCheckpointLines,
  parseCheckpointLines,
  readCheckpoint,
  removeCheckpoint,
  TEMP_SUFFIX,
  writeCheckpoint,
} from "./checkpoint-file.ts";
import {
  type CleanerCheckpoint,
  readCleanerCheckpoint,
  resolveInterruptedSwap,
} from "./cleaner-swap.ts";
import { type FileSystem, isNotFound } from "./file-system.ts";
import { LEADER_EPOCH_CHECKPOINT, LeaderEpochCache } from "./leader-epoch-cache.ts";
import type { LogConfig } from "./log-config.ts";
import { OffsetIndex } from "./offset-index.ts";
import {
  LOG_SUFFIX,
  OFFSET_INDEX_SUFFIX,
  parseSegmentFileName,
  Segment,
  segmentFileName,
  TIME_INDEX_SUFFIX,
  unlinkIfPresent,
} from "./segment.ts";
import { TimeIndex } from "./time-index.ts";

export const LOG_START_OFFSET_CHECKPOINT = "log-start-offset-checkpoint";
export const CLEAN_SHUTDOWN_MARKER = "clean-shutdown";
const LOG_START_OFFSET_VERSION = 0;
const CLEAN_SHUTDOWN_VERSION = 1;
/** Sealed segments loaded at once when a log opens. */
const SEGMENT_LOAD_CONCURRENCY = 8;

/** What a clean close leaves behind so that the next open need not scan the tail. */
export interface CleanShutdown {
  version: number;
  activeBaseOffset: number;
  activeBytes: number;
  logEndOffset: number;
}

export interface RecoveryContext {
  dir: string;
  config: LogConfig;
  fileSystem: FileSystem;
  logger: Logger;
  now: () => number;
}

export interface RecoveredLog {
  segments: Segment[];
  logStartOffset: number;
  leaderEpochs: LeaderEpochCache;
  /** True when the clean-shutdown marker vouched for the tail. */
  clean: boolean;
  /** Corrupt ranges found while opening (already logged). */
  corruptSteps: Array<{ segment: Segment; step: CorruptStep }>;
  /** Compaction's checkpoint (null: the log was never compacted). */
  cleaner: CleanerCheckpoint | null;
}

export function formatLogStartOffset(offset: number): string {
  return formatCheckpointLines(LOG_START_OFFSET_VERSION, [[offset]]);
}

export function formatCleanShutdown(marker: Omit<CleanShutdown, "version">): string {
  return `${JSON.stringify({ version: CLEAN_SHUTDOWN_VERSION, ...marker })}\n`;
}

export async function recoverLog(context: RecoveryContext): Promise<RecoveredLog> {
  const { dir, fileSystem, logger } = context;
  await fileSystem.mkdir(dir);
  await resolveInterruptedSwap(fileSystem, dir, logger);
  const names = await fileSystem.readdir(dir);
  const bases = await removeLeftovers(context, names);

  const logStartOffsetFromFile = await readLogStartOffset(context);
  const leaderEpochs = await readLeaderEpochs(context);
  const marker = await readCleanShutdown(context);
  const cleaner = await readCleanerCheckpoint(fileSystem, dir, logger);
  const cleanedEnd = cleaner?.cleanedEndOffset ?? 0;

  const recovered: RecoveredLog = {
    segments: [],
    logStartOffset: 0,
    leaderEpochs,
    clean: false,
    corruptSteps: [],
    cleaner,
  };
  try {
    // Sealed segments load independently: a few at a time, since each costs several small
    // reads and a log may have thousands of them.
    const slots: Array<{ segment: Segment; fileBytes: number } | undefined> = new Array(
      bases.length,
    );
    let next = 0;
    const worker = async () => {
      while (next < bases.length) {
        const i = next++;
        const opened = await Segment.open(fileSystem, dir, bases[i]!);
        opened.segment.offsetGaps = bases[i]! < cleanedEnd;
        slots[i] = opened;
        if (i < bases.length - 1) {
          await loadSealedSegment(
            context,
            recovered,
            opened.segment,
            opened.fileBytes,
            bases[i + 1]!,
          );
        }
      }
    };
    const loading = Array.from(
      { length: Math.min(SEGMENT_LOAD_CONCURRENCY, bases.length) },
      worker,
    );
    const results = await Promise.allSettled(loading);
    for (const slot of slots) if (slot) recovered.segments.push(slot.segment);
    for (const result of results) if (result.status === "rejected") throw result.reason;
    const tail = slots.at(-1);
    if (tail) {
      const { segment, fileBytes } = tail;
      const vouched =
        marker !== null &&
        marker.activeBaseOffset === segment.baseOffset &&
        marker.activeBytes === fileBytes;
      if (vouched) {
        await loadSealedSegment(context, recovered, segment, fileBytes, Number.MAX_SAFE_INTEGER);
        recovered.clean = segment.endOffset === marker.logEndOffset && segment.size === fileBytes;
        if (!recovered.clean) {
          logger.warn(
            { file: segment.fileName },
            "clean-shutdown marker disagrees with the log; scanning",
          );
        }
      }
      if (!recovered.clean) await recoverTailSegment(context, recovered, segment, fileBytes);
    }
    checkContinuity(context, recovered.segments);
    await finishRecovery(context, recovered, logStartOffsetFromFile);
  } catch (error) {
    await Promise.all(recovered.segments.map((segment) => segment.close()));
    throw error;
  }
  return recovered;
}

/** Removes `*.tmp` files and index files without a log file; returns the segment bases. */
async function removeLeftovers(context: RecoveryContext, names: string[]): Promise<number[]> {
  const { dir, fileSystem, logger } = context;
  const bases: number[] = [];
  for (const name of names) {
    const base = parseSegmentFileName(name, LOG_SUFFIX);
    if (base !== null) bases.push(base);
  }
  bases.sort((a, b) => a - b);
  const known = new Set(bases);
  for (const name of names) {
    const orphanIndex = [OFFSET_INDEX_SUFFIX, TIME_INDEX_SUFFIX].some((suffix) => {
      const base = parseSegmentFileName(name, suffix);
      return base !== null && !known.has(base);
    });
    if (name.endsWith(TEMP_SUFFIX) || orphanIndex) {
      logger.info({ file: name }, "removing leftover file");
      await unlinkIfPresent(fileSystem, `${dir}/${name}`);
    }
  }
  return bases;
}

async function readLogStartOffset(context: RecoveryContext): Promise<number | null> {
  const bytes = await readCheckpoint(context.fileSystem, context.dir, LOG_START_OFFSET_CHECKPOINT);
  if (bytes === null) return null;
  const lines = parseCheckpointLines(bytes.toString("utf8"), LOG_START_OFFSET_VERSION, 1);
  const offset = lines?.length === 1 ? lines[0]![0]! : -1;
  if (offset < 0) {
    context.logger.warn({ file: LOG_START_OFFSET_CHECKPOINT }, "unreadable checkpoint ignored");
    return null;
  }
  return offset;
}

async function readLeaderEpochs(context: RecoveryContext): Promise<LeaderEpochCache> {
  const bytes = await readCheckpoint(context.fileSystem, context.dir, LEADER_EPOCH_CHECKPOINT);
  if (bytes === null) return new LeaderEpochCache();
  const cache = LeaderEpochCache.parse(bytes.toString("utf8"));
  if (cache === null) {
    context.logger.warn({ file: LEADER_EPOCH_CHECKPOINT }, "unreadable checkpoint ignored");
    return new LeaderEpochCache();
  }
  return cache;
}

/** Reads and removes the clean-shutdown marker (so that a crash from now on is detected). */
async function readCleanShutdown(context: RecoveryContext): Promise<CleanShutdown | null> {
  const { dir, fileSystem } = context;
  const bytes = await readCheckpoint(fileSystem, dir, CLEAN_SHUTDOWN_MARKER);
  if (bytes === null) return null;
  await removeCheckpoint(fileSystem, dir, CLEAN_SHUTDOWN_MARKER);
  await fileSystem.syncDirectory(dir);
  try {
    const marker = JSON.parse(bytes.toString("utf8")) as CleanShutdown;
    const fields = [marker.activeBaseOffset, marker.activeBytes, marker.logEndOffset];
    if (marker.version === CLEAN_SHUTDOWN_VERSION && fields.every(Number.isSafeInteger))
      return marker;
  } catch {
    // Unparseable: treated as absent below.
  }
  context.logger.warn({ file: CLEAN_SHUTDOWN_MARKER }, "unreadable marker ignored; scanning");
  return null;
}

async function readIndexFile(fileSystem: FileSystem, path: string): Promise<Buffer | null> {
  try {
    return await fileSystem.readFile(path);
  } catch (error) {
    if (isNotFound(error)) return null;
    return null; // an unreadable index is rebuilt like a missing one
  }
}

/**
 * Loads a segment that is not being appended to: adopts its index files when they fit the log
 * and walks headers from the last index entry to the end (extending the indexes if they fall
 * short); otherwise rebuilds the indexes with a header walk of the whole file.
 */
async function loadSealedSegment(
  context: RecoveryContext,
  recovered: RecoveredLog,
  segment: Segment,
  fileBytes: number,
  upperOffset: number,
): Promise<void> {
  const { fileSystem, logger } = context;
  const offsetBytes = await readIndexFile(fileSystem, segment.offsetIndexPath);
  const timeBytes = await readIndexFile(fileSystem, segment.timeIndexPath);
  let problem: string | null = null;
  if (offsetBytes === null || timeBytes === null) {
    problem = "index file missing";
  } else {
    const offsetIndex = OffsetIndex.parse(offsetBytes, fileBytes);
    const timeIndex = TimeIndex.parse(timeBytes, upperOffset - segment.baseOffset);
    if (typeof offsetIndex === "string") problem = `offset index: ${offsetIndex}`;
    else if (typeof timeIndex === "string") problem = `time index: ${timeIndex}`;
    else {
      segment.offsetIndex = offsetIndex;
      segment.timeIndex = timeIndex;
      problem = await indexSegment(
        context,
        recovered,
        segment,
        fileBytes,
        upperOffset,
        false,
        true,
      );
    }
  }
  if (problem !== null) {
    if (fileBytes > 0) {
      logger.info(
        { file: segment.fileName, reason: problem },
        "rebuilding segment indexes from the log",
      );
    }
    segment.resetIndexes();
    const again = await indexSegment(
      context,
      recovered,
      segment,
      fileBytes,
      upperOffset,
      false,
      false,
    );
    if (again !== null) throw new Error(`index rebuild of ${segment.fileName} failed: ${again}`);
  } else if (segment.indexesPersisted === false && segment.offsetIndex.length > 0) {
    logger.debug({ file: segment.fileName }, "segment indexes extended from the log");
  }
  segment.durableSize = segment.size;
}

/**
 * Walks `segment` to `limit` from its last offset-index entry (from the start when the index
 * is empty), feeding every batch to the indexes. Corrupt ranges are recorded and skipped.
 * With `trusting`, the walk checks that the loaded indexes fit the log and returns the
 * reason when they do not (the caller rebuilds). Returns null on success.
 */
export async function indexSegment(
  context: RecoveryContext,
  recovered: Pick<RecoveredLog, "corruptSteps">,
  segment: Segment,
  limit: number,
  upperOffset: number,
  verify: boolean,
  trusting: boolean,
): Promise<string | null> {
  const entries = segment.offsetIndex.length;
  const position = entries > 0 ? segment.offsetIndex.positionAt(entries - 1) : 0;
  const expectedOffset =
    segment.baseOffset + (entries > 0 ? segment.offsetIndex.relativeOffsetAt(entries - 1) : 0);
  segment.size = position;
  segment.endOffset = expectedOffset;
  segment.bytesSinceIndexEntry = 0;
  segment.maxTimestamp = segment.timeIndex.lastTimestamp;
  segment.offsetOfMaxTimestamp =
    segment.timeIndex.length > 0 ? segment.baseOffset + segment.timeIndex.lastRelativeOffset : -1;
  const indexedBefore = segment.offsetIndex.length + segment.timeIndex.length;
  const scanner = new SegmentScanner(segment, {
    position,
    expectedOffset,
    limit,
    upperOffset,
    verify,
  });
  let first = true;
  for (;;) {
    const step = await scanner.next();
    if (step.kind === "end") break;
    if (step.kind === "corrupt") {
      if (trusting && first) return `no valid batch at the last index entry (${step.reason})`;
      recordCorruption(context, recovered, segment, step);
      segment.size = step.range.endPosition;
      segment.endOffset = step.range.endOffset;
      // Index the batch where data resumes, so reads after the range start there.
      segment.bytesSinceIndexEntry = Number.POSITIVE_INFINITY;
      first = false;
      continue;
    }
    if (trusting) {
      const inconsistent = timeIndexContradiction(segment, step);
      if (inconsistent) return inconsistent;
    }
    segment.recordBatch(
      step.position,
      step.size,
      step.baseOffset,
      step.lastOffset,
      step.maxTimestamp,
      context.config.indexIntervalBytes,
    );
    first = false;
  }
  segment.completeTimeIndex();
  const indexedAfter = segment.offsetIndex.length + segment.timeIndex.length;
  segment.indexesPersisted = trusting && indexedAfter === indexedBefore;
  return null;
}

/** A loaded time index claims its maximum at a later offset than a batch with a larger one. */
function timeIndexContradiction(segment: Segment, batch: ScannedBatch): string | null {
  if (
    batch.maxTimestamp > segment.maxTimestamp &&
    batch.baseOffset < segment.offsetOfMaxTimestamp
  ) {
    return `time index maximum ${segment.maxTimestamp} at ${segment.offsetOfMaxTimestamp} is contradicted by offset ${batch.baseOffset}`;
  }
  return null;
}

function recordCorruption(
  context: RecoveryContext,
  recovered: Pick<RecoveredLog, "corruptSteps">,
  segment: Segment,
  step: CorruptStep,
): void {
  if (!segment.addCorruptRange(step.range)) return;
  recovered.corruptSteps.push({ segment, step });
  context.logger.error(
    { ...step.range, reason: step.reason },
    "corrupt data in a log segment: this range will not be served",
  );
}

/**
 * Scans the tail segment with every check. Truncates a torn tail; records damage that valid
 * data follows. Leader epochs found in batch headers are added to the cache (they may be
 * newer than the checkpoint if the crash came between the two writes).
 */
async function recoverTailSegment(
  context: RecoveryContext,
  recovered: RecoveredLog,
  segment: Segment,
  fileBytes: number,
): Promise<void> {
  const { logger } = context;
  segment.resetIndexes();
  segment.corruptRanges.length = 0;
  segment.size = 0;
  segment.endOffset = segment.baseOffset;
  const scanner = new SegmentScanner(segment, {
    position: 0,
    expectedOffset: segment.baseOffset,
    limit: fileBytes,
    upperOffset: Number.MAX_SAFE_INTEGER,
    verify: true,
  });
  for (;;) {
    const step = await scanner.next();
    if (step.kind === "end") break;
    if (step.kind === "batch") {
      segment.recordBatch(
        step.position,
        step.size,
        step.baseOffset,
        step.lastOffset,
        step.maxTimestamp,
        context.config.indexIntervalBytes,
      );
      if (step.leaderEpoch > recovered.leaderEpochs.latestEpoch) {
        recovered.leaderEpochs.assign(step.leaderEpoch, step.baseOffset);
      }
      continue;
    }
    if (step.resumed) {
      recordCorruption(context, recovered, segment, step);
      segment.size = step.range.endPosition;
      segment.endOffset = step.range.endOffset;
      segment.bytesSinceIndexEntry = Number.POSITIVE_INFINITY;
      continue;
    }
    const position = step.range.startPosition;
    logger.warn(
      {
        file: segment.fileName,
        position,
        lastValidOffset: step.range.startOffset - 1,
        bytesDropped: fileBytes - position,
        reason: step.reason,
      },
      "truncating torn or corrupt tail of the log",
    );
    await segment.handle.truncate(position);
    break;
  }
  segment.completeTimeIndex();
  segment.indexesPersisted = false;
}

/**
 * Offsets are dense across segments: each starts where the previous ended (or later, after a
 * segment that compaction rewrote: its last records may be gone).
 */
function checkContinuity(context: RecoveryContext, segments: Segment[]): void {
  for (let i = 1; i < segments.length; i++) {
    const previous = segments[i - 1]!;
    const segment = segments[i]!;
    const gap = previous.offsetGaps && previous.endOffset < segment.baseOffset;
    if (previous.endOffset !== segment.baseOffset && !gap) {
      context.logger.error(
        {
          file: previous.fileName,
          endOffset: previous.endOffset,
          nextBaseOffset: segment.baseOffset,
        },
        "log segments are not contiguous",
      );
    }
  }
}

async function finishRecovery(
  context: RecoveryContext,
  recovered: RecoveredLog,
  logStartOffsetFromFile: number | null,
): Promise<void> {
  const { dir, fileSystem, logger } = context;
  let segments = recovered.segments;
  let logStartOffset = Math.max(logStartOffsetFromFile ?? 0, segments[0]?.baseOffset ?? 0);

  // Segments wholly below the log start offset: a retention run that crashed half-way.
  while (segments.length > 1 && segments[0]!.endOffset <= logStartOffset) {
    logger.info({ file: segments[0]!.fileName }, "removing segment below the log start offset");
    await segments[0]!.delete(fileSystem);
    segments = segments.slice(1);
  }
  if (segments.length === 0) {
    const segment = await Segment.create(fileSystem, dir, logStartOffset, context.now());
    await fileSystem.syncDirectory(dir);
    segments = [segment];
  }
  const tail = segments.at(-1)!;
  if (logStartOffset > tail.endOffset) {
    logger.warn(
      { logStartOffset, logEndOffset: tail.endOffset },
      "log start offset beyond the log's end; lowered",
    );
    logStartOffset = tail.endOffset;
  }
  if (logStartOffset !== logStartOffsetFromFile && logStartOffsetFromFile !== null) {
    await writeCheckpoint(
      fileSystem,
      dir,
      LOG_START_OFFSET_CHECKPOINT,
      formatLogStartOffset(logStartOffset),
    );
  }

  // What recovery kept becomes durable before anyone can read it.
  await tail.handle.datasync();
  tail.durableSize = tail.size;
  tail.rollBaseMs =
    tail.size === 0
      ? null
      : Math.min(
          context.now(),
          tail.timeIndex.length > 0 ? tail.timeIndex.timestampAt(0) : context.now(),
        );

  const epochs = recovered.leaderEpochs;
  const truncated = epochs.truncateFromEnd(tail.endOffset);
  const moved = epochs.truncateFromStart(logStartOffset);
  if (truncated || moved || !recovered.clean) {
    await writeCheckpoint(fileSystem, dir, LEADER_EPOCH_CHECKPOINT, epochs.format());
  }
  const cleaner = recovered.cleaner;
  if (cleaner !== null && cleaner.firstDirtyOffset > tail.endOffset) {
    cleaner.firstDirtyOffset = tail.endOffset;
  }
  recovered.segments = segments;
  recovered.logStartOffset = logStartOffset;
  logger.debug(
    {
      segments: segments.length,
      logStartOffset,
      logEndOffset: tail.endOffset,
      clean: recovered.clean,
      file: segmentFileName(tail.baseOffset, LOG_SUFFIX),
    },
    "log opened",
  );
}
