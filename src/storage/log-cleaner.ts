/**
 * Log compaction (Kafka's `LogCleaner`) for logs of `cleanup.policy=compact` topics: keeps at
 * least the latest record of every key, in place (records keep their offsets; gaps appear).
 *
 * One pass over a log:
 * 1. The cleanable range: the sealed segments (never the active one), up to the first segment
 *    holding a record younger than `minCompactionLagMs`. The part not yet mapped starts at
 *    `firstDirty` (the cleaner checkpoint).
 * 2. The key map: key -> latest offset over the dirty part, batch by batch, in a table bounded
 *    by `compactionKeyMapBytesMax` (key-offset-map.ts). When it fills, the pass ends its map
 *    there (`mapEnd`); records from `mapEnd` on are kept untouched this pass and mapped by the
 *    next one, so a log with more distinct keys than fit is cleaned in several passes.
 * 3. The rewrite: every segment from the log's head up to the one holding `mapEnd` is copied
 *    into `.cleaned` files. A record is kept when it is at or past `mapEnd`, or when it has a
 *    key whose latest offset is its own (or is unknown to the map) and it is not a tombstone
 *    past its delete horizon. Records without a key are dropped (invalid in a compacted topic).
 *    A batch is copied byte for byte when it keeps every record and needs no new horizon;
 *    otherwise it is re-encoded with the same base offset, offset deltas, lastOffsetDelta,
 *    producer id/epoch/sequence, leader epoch and codec. A batch that keeps nothing is dropped,
 *    unless it is the last batch of a producer that idempotence state is rebuilt from: then an
 *    empty batch stays (Kafka's RETAIN_EMPTY), so its sequence numbers survive.
 *    Small results are grouped into fewer segments, never beyond `segmentBytes`.
 * 4. The swap (cleaner-swap.ts): crash-safe, on the log's writer loop, only if the segments it
 *    replaces are still the log's head (retention or truncation may have run meanwhile).
 *
 * Tombstones and delete horizons follow Kafka (KIP-534): the first clean that keeps a
 * tombstone stamps its batch with a delete horizon (attribute bit 6, `baseTimestamp` = now +
 * `delete.retention.ms`); a later clean removes tombstones whose horizon has passed. By then
 * every older record of the key is gone (the clean that stamped it had the tombstone in its
 * map), so a consumer that reads the log within `delete.retention.ms` sees the delete.
 *
 * Background work: reading and writing run beside appends and reads; only the swap (a few
 * renames and directory fsyncs) takes the writer loop. Segments being read hold a reference,
 * and replaced segments are closed, never unlinked by name, so a reader that still holds one
 * finishes on the old bytes.
 */
import type { Logger } from "pino";
import {
  batchBytesMaxCeiling,
  compactionKeyMapBytesMax,
  compactionWriteBufferBytes,
} from "../config/limits.ts";
import { WharfError } from "../errors/index.ts";
import { SegmentScanner, ShortReadError } from "./batch-scanner.ts";
import {
  type CleanerCheckpoint,
  cleanedFileName,
  commitSwap,
  removeSwapManifest,
  writeCleanerCheckpoint,
  writeSwapManifest,
} from "./cleaner-swap.ts";
import { type FileSystem, readAt, writeFully } from "./file-system.ts";
import { KeyOffsetMap } from "./key-offset-map.ts";
import type { LogConfig } from "./log-config.ts";
import {
  Attribute,
  type BatchHeader,
  type CompressionCode,
  checkBatch,
  decodeBatchRecords,
  encodeBatch,
  encodeBatchCompressed,
  readBatchHeader,
  readMaxTimestamp,
} from "./record-batch.ts";
import { forEachRecordKey } from "./record-keys.ts";
import { Segment, unlinkIfPresent } from "./segment.ts";

export interface CompactionOptions {
  /** How long a tombstone stays after the clean that first kept it (`delete.retention.ms`). */
  deleteRetentionMs: number;
  /** Segments holding a record younger than this are not compacted (`min.compaction.lag.ms`). */
  minCompactionLagMs: number;
  /** The clock of this run in ms; the log's clock by default (tests inject one). */
  now?: number;
  /** Memory bound of the key map; `compactionKeyMapBytesMax` by default (tests lower it). */
  keyMapBytes?: number;
  /** Stops the run at its next batch (what it did so far stays; nothing half-done does). */
  signal?: AbortSignal;
}

export interface CompactionResult {
  /** Segments replaced by cleaned ones (each counted once per call). */
  cleanedSegments: number;
  /** Records dropped: superseded, keyless, or tombstones past their horizon. */
  recordsRemoved: number;
  /** Bytes of the replaced segments. */
  bytesBefore: number;
  /** Bytes of the cleaned segments that replaced them. */
  bytesAfter: number;
  /** Passes made (more than one when the key map filled up). */
  passes: number;
}

/** What the cleaner needs of its log (implemented by `Log`). */
export interface CleanerHost {
  readonly dir: string;
  readonly fileSystem: FileSystem;
  readonly logger: Logger;
  config(): LogConfig;
  now(): number;
  /** The current segment list (replaced, never mutated, by the log). */
  segments(): readonly Segment[];
  logStartOffset(): number;
  /** False once the log is closing: the cleaner stops at the next batch. */
  isOpen(): boolean;
  /** Headers of the visible batches at the end of the log (idempotence state comes from them). */
  recentBatchHeaders(): Promise<BatchHeader[]>;
  /**
   * On the writer loop: if `old` is still the head of the log, runs `commit`, then (unless it
   * answered false: nothing was done) puts `fresh` in its place and closes `old` once its
   * readers are done. False when the head changed meanwhile or `commit` declined.
   */
  replaceHead(
    old: readonly Segment[],
    fresh: readonly Segment[],
    commit: () => Promise<boolean>,
  ): Promise<boolean>;
}

const NO_HORIZON = -1;
/** Offsets relative to a segment's base are int32 in its indexes. */
const RELATIVE_OFFSET_MAX = 0x7fffffff;

/** The pass ended early because something changed under it; the next run starts over. */
class StalePass extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "StalePass";
  }
}

function earliestHorizon(a: number, b: number): number {
  if (a === NO_HORIZON) return b;
  if (b === NO_HORIZON) return a;
  return Math.min(a, b);
}

/** Index of the first segment that may not be compacted (at most the active one's). */
export function firstUncleanableIndex(
  segments: readonly Segment[],
  minCompactionLagMs: number,
  now: number,
): number {
  const active = segments.length - 1;
  if (minCompactionLagMs <= 0) return active;
  for (let i = 0; i < active; i++) {
    const segment = segments[i]!;
    const largest = segment.maxTimestamp >= 0 ? segment.maxTimestamp : segment.lastModifiedMs;
    if (largest > now - minCompactionLagMs) return i;
  }
  return active;
}

interface StoredBatch {
  bytes: Buffer;
  header: BatchHeader;
}

/**
 * The batches of `segment` from the one holding `fromOffset`, each read whole and CRC-checked.
 * Damage stops compaction of the log (it is never copied, and never silently dropped).
 */
async function* storedBatches(
  host: CleanerHost,
  segment: Segment,
  fromOffset: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<StoredBatch> {
  const entry =
    fromOffset > segment.baseOffset
      ? segment.offsetIndex.floor(fromOffset - segment.baseOffset)
      : -1;
  const generation = segment.generation;
  const limit = segment.size;
  const scanner = new SegmentScanner(segment, {
    position: entry >= 0 ? segment.offsetIndex.positionAt(entry) : 0,
    expectedOffset:
      segment.baseOffset + (entry >= 0 ? segment.offsetIndex.relativeOffsetAt(entry) : 0),
    limit,
    upperOffset: segment.endOffset,
    verify: false,
  });
  for (;;) {
    if (!host.isOpen()) throw new WharfError("WHARF_LOG_CLOSED", host.dir);
    if (signal?.aborted) throw new StalePass("compaction stopped");
    let step: Awaited<ReturnType<SegmentScanner["next"]>>;
    let bytes: Buffer;
    try {
      step = await scanner.next();
      if (step.kind === "end") return;
      if (step.kind === "corrupt") {
        if (segment.generation !== generation) throw new StalePass("segment truncated");
        const { range } = step;
        throw new WharfError(
          "WHARF_DATA_CORRUPT",
          `compaction stopped at offsets [${range.startOffset}, ${range.endOffset}) of ${range.file}`,
        );
      }
      bytes = await readAt(segment.handle, step.position, step.size);
    } catch (error) {
      if (error instanceof ShortReadError) throw new StalePass("segment truncated");
      throw error;
    }
    const check = checkBatch(bytes, 0, bytes.length, { maxBatchBytes: batchBytesMaxCeiling });
    if (segment.generation !== generation || bytes.length < step.size) {
      throw new StalePass("segment truncated");
    }
    if (!check.ok) {
      throw new WharfError(
        "WHARF_DATA_CORRUPT",
        `compaction stopped at offset ${step.baseOffset} of ${segment.fileName}: ${check.error.message}`,
      );
    }
    yield { bytes, header: readBatchHeader(bytes, 0) };
  }
}

/** One cleaned segment being written under its `.cleaned` name. */
class CleanedSegment {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushed = 0;
  /** Largest modification time of the segments it replaces (retention's clock without timestamps). */
  lastModifiedMs = 0;

  private constructor(
    readonly segment: Segment,
    private readonly host: CleanerHost,
    readonly path: string,
  ) {}

  static async create(host: CleanerHost, baseOffset: number): Promise<CleanedSegment> {
    const path = `${host.dir}/${cleanedFileName(baseOffset)}`;
    const segment = await Segment.createAt(host.fileSystem, host.dir, baseOffset, path, host.now());
    segment.offsetGaps = true;
    return new CleanedSegment(segment, host, path);
  }

  get baseOffset(): number {
    return this.segment.baseOffset;
  }

  get size(): number {
    return this.segment.size;
  }

  async append(batch: Buffer, header: BatchHeader): Promise<void> {
    const segment = this.segment;
    segment.recordBatch(
      segment.size,
      batch.length,
      header.baseOffset,
      header.baseOffset + header.lastOffsetDelta,
      readMaxTimestamp(batch, 0),
      this.host.config().indexIntervalBytes,
    );
    this.pending.push(batch);
    this.pendingBytes += batch.length;
    if (this.pendingBytes >= compactionWriteBufferBytes) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    await writeFully(this.segment.handle, this.pending, this.flushed, this.pendingBytes);
    this.flushed += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Writes what is buffered and makes the file durable. */
  async finish(): Promise<void> {
    await this.flush();
    await this.segment.handle.datasync();
    const segment = this.segment;
    segment.durableSize = segment.size;
    segment.lastModifiedMs = this.lastModifiedMs;
    segment.completeTimeIndex();
  }

  /** Closes and removes the file (a swap that did not happen). */
  async discard(): Promise<void> {
    await this.segment.close();
    await unlinkIfPresent(this.host.fileSystem, this.path);
  }
}

interface PassOutcome {
  /** The pass mapped the whole dirty range (no further pass is needed). */
  complete: boolean;
  replaced: Segment[];
  fresh: Segment[];
  recordsRemoved: number;
}

/** The cleaner of one log: its checkpoint state and the passes (one at a time, by `Log`). */
export class LogCleaner {
  private state: CleanerCheckpoint;
  /** A swap failed after its commit point: no more compaction until the log is reopened. */
  private suspended: Error | null = null;

  constructor(
    private readonly host: CleanerHost,
    checkpoint: CleanerCheckpoint | null,
  ) {
    this.state = checkpoint ?? { firstDirtyOffset: 0, cleanedEndOffset: 0, deleteHorizonMs: -1 };
  }

  /** Where the next clean starts mapping keys. */
  get firstDirtyOffset(): number {
    return Math.max(this.state.firstDirtyOffset, this.host.logStartOffset());
  }

  /** Earliest delete horizon of a tombstone still kept by compaction; -1 when none is. */
  get deleteHorizonMs(): number {
    return this.state.deleteHorizonMs;
  }

  /** After a truncation to `offset`: what follows it is dirty again. */
  truncatedTo(offset: number): void {
    if (this.state.firstDirtyOffset > offset) this.state.firstDirtyOffset = offset;
  }

  /**
   * Dirty bytes / cleanable bytes (Kafka's cleanable ratio): the sealed segments past the
   * compaction lag, and among them those holding data written since the last clean.
   */
  dirtyRatio(minCompactionLagMs: number, now: number): number {
    const segments = this.host.segments();
    const end = firstUncleanableIndex(segments, minCompactionLagMs, now);
    const firstDirty = this.firstDirtyOffset;
    let clean = 0;
    let dirty = 0;
    for (let i = 0; i < end; i++) {
      const segment = segments[i]!;
      if (segment.endOffset <= firstDirty) clean += segment.size;
      else dirty += segment.size;
    }
    return clean + dirty === 0 ? 0 : dirty / (clean + dirty);
  }

  /** Runs passes until the dirty range is mapped (or something changes under it). */
  async run(options: CompactionOptions): Promise<CompactionResult> {
    if (this.suspended) {
      throw new WharfError(
        "WHARF_STORAGE_IO",
        `compaction of ${this.host.dir} is suspended until the log is reopened: ${this.suspended.message}`,
      );
    }
    const now = options.now ?? this.host.now();
    const created = new Set<Segment>();
    const result: CompactionResult = {
      cleanedSegments: 0,
      recordsRemoved: 0,
      bytesBefore: 0,
      bytesAfter: 0,
      passes: 0,
    };
    for (;;) {
      let outcome: PassOutcome | null;
      try {
        outcome = await this.pass(options, now);
      } catch (error) {
        if (!(error instanceof StalePass)) throw error;
        this.host.logger.info(
          { reason: error.message },
          "compaction pass abandoned; retried later",
        );
        break;
      }
      if (outcome === null) break;
      result.passes++;
      result.recordsRemoved += outcome.recordsRemoved;
      for (const segment of outcome.replaced) {
        if (created.has(segment)) continue;
        result.cleanedSegments++;
        result.bytesBefore += segment.size;
      }
      for (const segment of outcome.fresh) created.add(segment);
      if (outcome.complete) break;
    }
    for (const segment of this.host.segments()) {
      if (created.has(segment)) result.bytesAfter += segment.size;
    }
    if (result.passes > 0) this.host.logger.info({ ...result }, "log compacted");
    return result;
  }

  /** One pass; null when there is nothing to clean. */
  private async pass(options: CompactionOptions, now: number): Promise<PassOutcome | null> {
    const host = this.host;
    const segments = host.segments();
    const end = firstUncleanableIndex(segments, options.minCompactionLagMs, now);
    if (end === 0) return null;
    const cleanableEnd = segments[end]!.baseOffset;
    const firstDirty = Math.max(this.firstDirtyOffset, segments[0]!.baseOffset);
    const horizonDue =
      this.state.deleteHorizonMs !== NO_HORIZON && this.state.deleteHorizonMs <= now;
    if (firstDirty >= cleanableEnd && !horizonDue) return null;

    const cleanable = segments.slice(0, end);
    const acquired: Segment[] = [];
    try {
      for (const segment of cleanable) {
        if (!segment.acquire()) throw new StalePass("a segment was deleted");
        acquired.push(segment);
      }
      const map = new KeyOffsetMap(options.keyMapBytes ?? compactionKeyMapBytesMax);
      const mapEnd =
        firstDirty >= cleanableEnd
          ? cleanableEnd
          : await this.buildKeyMap(cleanable, firstDirty, cleanableEnd, map, options.signal);
      let runLength = 0;
      while (runLength < end && cleanable[runLength]!.baseOffset < mapEnd) runLength++;
      const run = cleanable.slice(0, runLength);
      const cleanedEnd = segments[runLength]!.baseOffset;
      return await this.rewrite(
        run,
        cleanedEnd,
        map,
        firstDirty,
        mapEnd,
        cleanableEnd,
        options,
        now,
      );
    } finally {
      for (const segment of acquired) segment.release();
    }
  }

  /**
   * Maps key -> latest offset for the records at or after `firstDirty`. Returns the offset
   * where mapping stopped: `cleanableEnd`, or the first record the full map could not take.
   */
  private async buildKeyMap(
    cleanable: readonly Segment[],
    firstDirty: number,
    cleanableEnd: number,
    map: KeyOffsetMap,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    for (const segment of cleanable) {
      if (segment.endOffset <= firstDirty) continue;
      const batches = storedBatches(this.host, segment, firstDirty, signal);
      for await (const { bytes, header } of batches) {
        if ((header.attributes & Attribute.control) !== 0) continue;
        if (header.baseOffset + header.lastOffsetDelta < firstDirty) continue;
        let stoppedAt = -1;
        await forEachRecordKey(bytes, 0, (offsetDelta, key) => {
          const offset = header.baseOffset + offsetDelta;
          if (offset < firstDirty || key === null) return true;
          if (map.put(key, offset)) return true;
          stoppedAt = offset;
          return false;
        });
        if (stoppedAt >= 0) {
          this.host.logger.info(
            { keys: map.size, mappedUpTo: stoppedAt, cleanableEnd },
            "compaction key map full; the rest is cleaned by another pass",
          );
          return stoppedAt;
        }
      }
    }
    return cleanableEnd;
  }

  /** Copies `run` into cleaned segments and swaps them in. */
  private async rewrite(
    run: readonly Segment[],
    cleanedEnd: number,
    map: KeyOffsetMap,
    firstDirty: number,
    mapEnd: number,
    cleanableEnd: number,
    options: CompactionOptions,
    now: number,
  ): Promise<PassOutcome> {
    const host = this.host;
    const producers = new Map<number, number>();
    for (const header of await host.recentBatchHeaders()) {
      if (header.producerId >= 0) {
        producers.set(header.producerId, header.baseOffset + header.lastOffsetDelta);
      }
    }
    // A truncation changes a segment in place: the pass must not swap in what it read before.
    const generations = run.map((segment) => segment.generation);
    const outputs: CleanedSegment[] = [];
    let recordsRemoved = 0;
    let horizon = NO_HORIZON;
    let manifestWritten = false;
    try {
      const segmentBytes = host.config().segmentBytes;
      const startOutput = async (baseOffset: number) => {
        const output = await CleanedSegment.create(host, baseOffset);
        outputs.push(output);
        return output;
      };
      let output: CleanedSegment | null = null;
      for (const segment of run) {
        // Group by what is already written plus this segment's size (what it can grow by).
        if (
          output === null ||
          output.size + segment.size > segmentBytes ||
          segment.endOffset - output.baseOffset > RELATIVE_OFFSET_MAX
        ) {
          output = await startOutput(segment.baseOffset);
        }
        output.lastModifiedMs = Math.max(output.lastModifiedMs, segment.lastModifiedMs);
        const batches = storedBatches(host, segment, segment.baseOffset, options.signal);
        for await (const stored of batches) {
          const cleaned = await this.cleanBatch(stored, map, mapEnd, producers, options, now);
          recordsRemoved += cleaned.removed;
          horizon = earliestHorizon(horizon, cleaned.horizon);
          if (cleaned.bytes === null) continue;
          // A re-encoded batch may come out larger than it was: never pass segmentBytes.
          if (output.size > 0 && output.size + cleaned.bytes.length > segmentBytes) {
            output = await startOutput(stored.header.baseOffset);
            output.lastModifiedMs = segment.lastModifiedMs;
          }
          await output.append(cleaned.bytes, readBatchHeader(cleaned.bytes, 0));
        }
      }
      // An empty result keeps its first segment (the log's head keeps its base offset); other
      // empty ones are dropped: their offsets become a gap at the end of the one before.
      for (let i = outputs.length - 1; i > 0; i--) {
        if (outputs[i]!.size === 0) {
          await outputs[i]!.discard();
          outputs.splice(i, 1);
        }
      }
      for (const output of outputs) await output.finish();
      await host.fileSystem.syncDirectory(host.dir);

      const next: CleanerCheckpoint = {
        firstDirtyOffset: Math.max(mapEnd, firstDirty),
        cleanedEndOffset: Math.max(this.state.cleanedEndOffset, cleanedEnd),
        deleteHorizonMs:
          cleanedEnd >= this.state.cleanedEndOffset
            ? horizon
            : earliestHorizon(horizon, this.state.deleteHorizonMs),
      };
      const oldBases = run.map((segment) => segment.baseOffset);
      const newBases = outputs.map((output) => output.baseOffset);
      if (!host.isOpen()) throw new WharfError("WHARF_LOG_CLOSED", host.dir);
      if (options.signal?.aborted) throw new StalePass("compaction stopped");
      await writeSwapManifest(host.fileSystem, host.dir, { oldBases, newBases, ...next });
      manifestWritten = true;
      const fresh = outputs.map((output) => output.segment);
      let committed = false;
      const swapped = await host.replaceHead(run, fresh, async () => {
        if (run.some((segment, i) => segment.generation !== generations[i])) return false;
        try {
          await commitSwap(host.fileSystem, host.dir, oldBases, newBases, () => {
            committed = true;
          });
        } catch (error) {
          if (committed) {
            // The old names may now belong to new files: never touch them by name again.
            for (const segment of run) segment.detached = true;
            this.suspended = error instanceof Error ? error : new Error(String(error));
            host.logger.error(
              { err: error, oldBases, newBases },
              "compaction swap failed after its commit; it is finished when the log is reopened",
            );
          }
          throw error;
        }
        return true;
      });
      if (!swapped) throw new StalePass("the head of the log changed");
      outputs.length = 0; // adopted by the log
      this.state = next;
      try {
        await writeCleanerCheckpoint(host.fileSystem, host.dir, next);
        await removeSwapManifest(host.fileSystem, host.dir);
      } catch (error) {
        host.logger.warn({ err: error }, "cleaner checkpoint not written; recovery writes it");
      }
      return { complete: mapEnd >= cleanableEnd, replaced: [...run], fresh, recordsRemoved };
    } catch (error) {
      await this.abandon(outputs, manifestWritten);
      throw error;
    }
  }

  /** Removes what a pass that did not commit left behind (best effort). */
  private async abandon(outputs: CleanedSegment[], removeManifest: boolean): Promise<void> {
    const host = this.host;
    // A swap that failed after its commit keeps its files: recovery finishes it.
    const keepFiles = this.suspended !== null;
    await Promise.all(outputs.map((output) => output.segment.close()));
    try {
      if (!keepFiles) {
        for (const output of outputs) await output.discard();
        if (removeManifest) await removeSwapManifest(host.fileSystem, host.dir);
      }
    } catch (error) {
      host.logger.warn(
        { err: error },
        "leftovers of a compaction pass not removed; removed on open",
      );
    }
  }

  /**
   * What one stored batch becomes: its bytes unchanged, re-encoded, an empty batch, or null
   * (dropped); with the records removed and the delete horizon of the tombstones it keeps.
   */
  private async cleanBatch(
    stored: StoredBatch,
    map: KeyOffsetMap,
    mapEnd: number,
    producers: ReadonlyMap<number, number>,
    options: CompactionOptions,
    now: number,
  ): Promise<{ bytes: Buffer | null; removed: number; horizon: number }> {
    const { bytes, header } = stored;
    if ((header.attributes & Attribute.control) !== 0) {
      return { bytes, removed: 0, horizon: NO_HORIZON };
    }
    const hasHorizon = (header.attributes & Attribute.deleteHorizon) !== 0;
    const oldHorizon = hasHorizon ? header.baseTimestamp : NO_HORIZON;
    const keep: boolean[] = [];
    let kept = 0;
    let tombstones = 0;
    await forEachRecordKey(bytes, 0, (offsetDelta, key, hasValue) => {
      const offset = header.baseOffset + offsetDelta;
      const retained =
        offset >= mapEnd ||
        (key !== null && map.get(key) <= offset && (hasValue || !hasHorizon || now < oldHorizon));
      keep.push(retained);
      if (retained) {
        kept++;
        if (!hasValue) tombstones++;
      }
      return true;
    });
    const removed = keep.length - kept;
    const newHorizon = hasHorizon
      ? oldHorizon
      : tombstones > 0
        ? now + options.deleteRetentionMs
        : NO_HORIZON;
    const horizon = tombstones > 0 ? newHorizon : NO_HORIZON;
    if (removed === 0 && (tombstones === 0 || hasHorizon)) return { bytes, removed, horizon };
    const lastOffset = header.baseOffset + header.lastOffsetDelta;
    if (kept === 0) {
      if (header.producerId < 0 || producers.get(header.producerId) !== lastOffset) {
        return { bytes: null, removed, horizon };
      }
      const keptAttributes =
        header.attributes & (Attribute.logAppendTime | Attribute.transactional);
      const empty = encodeBatch([], {
        baseOffset: header.baseOffset,
        partitionLeaderEpoch: header.partitionLeaderEpoch,
        attributes: keptAttributes,
        producerId: header.producerId,
        producerEpoch: header.producerEpoch,
        baseSequence: header.baseSequence,
        lastOffsetDelta: header.lastOffsetDelta,
        baseTimestamp: header.maxTimestamp,
        maxTimestamp: header.maxTimestamp,
      });
      return { bytes: empty, removed, horizon };
    }
    const records = await decodeBatchRecords(bytes, 0);
    if (records.length !== keep.length) {
      throw new WharfError(
        "WHARF_BATCH_INVALID",
        `batch at ${header.baseOffset} decoded twice differently`,
      );
    }
    const retained = records.filter((_, index) => keep[index]);
    let maxTimestamp = retained[0]!.timestamp;
    for (const record of retained) maxTimestamp = Math.max(maxTimestamp, record.timestamp);
    const logAppendTime = (header.attributes & Attribute.logAppendTime) !== 0;
    const codec = (header.attributes & Attribute.compressionMask) as CompressionCode;
    const attributes =
      (header.attributes & ~(Attribute.compressionMask | Attribute.deleteHorizon)) |
      (newHorizon !== NO_HORIZON ? Attribute.deleteHorizon : 0);
    const rebuilt = await encodeBatchCompressed(
      retained.map((record) => ({
        key: record.key,
        value: record.value,
        headers: record.headers,
        timestamp: record.timestamp,
        offsetDelta: record.offset - header.baseOffset,
      })),
      {
        baseOffset: header.baseOffset,
        partitionLeaderEpoch: header.partitionLeaderEpoch,
        attributes,
        producerId: header.producerId,
        producerEpoch: header.producerEpoch,
        baseSequence: header.baseSequence,
        lastOffsetDelta: header.lastOffsetDelta,
        baseTimestamp: newHorizon !== NO_HORIZON ? newHorizon : retained[0]!.timestamp,
        maxTimestamp: logAppendTime ? header.maxTimestamp : maxTimestamp,
        compression: codec,
      },
    );
    return { bytes: rebuilt, removed, horizon };
  }
}
