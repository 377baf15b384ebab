/**
 * `Log`: an append-only, dense-offset log of Kafka RecordBatch v2 batches in one directory.
 *
 * Design.
 * - Appends are validated (length, magic, CRC32C, size; producer rules when asked) when they
 *   arrive, then queued for the single writer loop (`GroupCommitQueue`). Each round assigns
 *   base offsets in place (the base offset and leader epoch lie outside the CRC, so nothing is
 *   re-encoded), writes the round with one writev at the end of the active segment, and in
 *   `fsync` mode makes it durable with one fdatasync before any of its appends resolves.
 * - The in-memory view (segment sizes, indexes, log end offset, high watermark) moves only
 *   after the write (and the sync, in fsync mode) succeeded. Reads are bounded by it, so they
 *   never see bytes of a round in progress, and in fsync mode never data a crash could lose.
 * - Everything that changes files or the segment list runs on the writer loop: rounds, rolls,
 *   truncation, retention, DeleteRecords, flush, close, and the swap that ends a compaction
 *   pass (the pass itself reads and writes beside it; log-cleaner.ts). Reads run concurrently
 *   on a snapshot (see docs/storage.md, "Ordering invariants").
 *
 * Fault model.
 * - A failed write or fdatasync (ENOSPC, EIO, EROFS...) fails every append of the round with
 *   the matching catalog error; the file is truncated back to the end of the last good round,
 *   so no partial batch remains, and the offsets are handed out again (nothing was
 *   acknowledged under them). If even the truncation fails it is retried before the next
 *   round, and appends keep failing until it succeeds.
 * - Process crash or power loss: see log-recovery.ts.
 * - Bit rot in stored data: see log-reader.ts; `verify()` scrubs the whole log.
 */
import type { Logger } from "pino";
import {
  indexBytesMax,
  logSyncsInFlightMax,
  logSyncWriteBytesMax,
  readBytesMax,
  recentBatchHeadersBytes,
} from "../config/limits.ts";
import { WharfError } from "../errors/index.ts";
import { silentLogger } from "../logging/logger.ts";
import { type CorruptStep, SegmentScanner, ShortReadError } from "./batch-scanner.ts";
import { writeCheckpoint } from "./checkpoint-file.ts";
import type { CleanerCheckpoint } from "./cleaner-swap.ts";
import {
  type FileSystem,
  nodeFileSystem,
  storageError,
  writeFully,
  writeFullySync,
} from "./file-system.ts";
import { GroupCommitQueue, type QueuedAppend, type RoundInFlight } from "./group-commit.ts";
import {
  type EpochEntry,
  LEADER_EPOCH_CHECKPOINT,
  type LeaderEpochCache,
} from "./leader-epoch-cache.ts";
import { type CompactionOptions, type CompactionResult, LogCleaner } from "./log-cleaner.ts";
import {
  type AppendLimits,
  defaultAppendLimits,
  type LogConfig,
  validateLogConfig,
} from "./log-config.ts";
import {
  findTimestampInSegment,
  locateBatch,
  type ReadContext,
  readSegment,
  scrubSegment,
} from "./log-reader.ts";
import {
  CLEAN_SHUTDOWN_MARKER,
  formatCleanShutdown,
  formatLogStartOffset,
  indexSegment,
  LOG_START_OFFSET_CHECKPOINT,
  recoverLog,
} from "./log-recovery.ts";
import { planRetention } from "./log-retention.ts";
import { OFFSET_INDEX_ENTRY_BYTES } from "./offset-index.ts";
import {
  type BatchHeader,
  type BatchSpan,
  readMaxTimestamp,
  setBaseOffset,
  setPartitionLeaderEpoch,
  splitBatches,
} from "./record-batch.ts";
import { type CorruptRange, Segment, unlinkIfPresent } from "./segment.ts";
import { TIME_INDEX_ENTRY_BYTES } from "./time-index.ts";

export type { CompactionOptions, CompactionResult } from "./log-cleaner.ts";
export type { Durability, LogConfig } from "./log-config.ts";

export interface LogOptions {
  logger?: Logger;
  fileSystem?: FileSystem;
  /** Wall clock in ms (segment age, retention); injected by tests. */
  now?: () => number;
  /** Lower append-path limits for tests; production keeps the named defaults. */
  appendLimits?: Partial<AppendLimits>;
}

export interface AppendOptions {
  /** Leader epoch stamped on every batch; defaults to the log's latest epoch (or -1). */
  leaderEpoch?: number;
  /** Apply producer rules on top of integrity checks (record count, offset deltas). */
  fromProducer?: boolean;
  /**
   * Called with the base offset once this append's bytes are in the file, before its
   * fdatasync (fsync mode) has completed; not called when the write fails. Until the promise
   * resolves the offsets are provisional: if the round's fdatasync (or an earlier round's
   * write or fdatasync) fails, the append is rejected and its offsets are handed out again.
   */
  onWritten?: (baseOffset: number) => void;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /**
   * When the log accepted the append (ms). Batches keep their CreateTime; a Kafka adapter
   * answers -1 unless the topic uses LogAppendTime.
   */
  logAppendTime: number;
}

export interface ReadResult {
  /** Whole stored batches, exactly as on disk; empty when nothing is visible at `offset`. */
  bytes: Buffer;
  highWatermark: number;
  logStartOffset: number;
}

export interface RetentionResult {
  deletedSegments: number;
  deletedBytes: number;
}

/** The log's leader epochs; `assign` persists the checkpoint before it resolves. */
export interface LogLeaderEpochs {
  assign(epoch: number, startOffset: number): Promise<void>;
  readonly latestEpoch: number;
  endOffsetFor(epoch: number): { epoch: number; endOffset: number };
  entries(): readonly EpochEntry[];
}

class PendingAppend implements QueuedAppend {
  baseOffset = -1;
  lastOffset = -1;

  constructor(
    readonly buffer: Buffer,
    readonly spans: BatchSpan[],
    readonly leaderEpoch: number | undefined,
    readonly logAppendTime: number,
    private readonly onResolve: (result: AppendResult) => void,
    private readonly onReject: (error: unknown) => void,
    readonly onWritten: ((baseOffset: number) => void) | undefined,
  ) {}

  get bytes(): number {
    return this.buffer.length;
  }

  resolve(): void {
    const { baseOffset, lastOffset, logAppendTime } = this;
    this.onResolve({ baseOffset, lastOffset, logAppendTime });
  }

  reject(error: unknown): void {
    this.onReject(error);
  }
}

/** A group-commit round written, its fdatasync issued, not settled yet (see `commitRound`). */
interface InFlightRound {
  readonly segment: Segment;
  readonly round: PendingAppend[];
  readonly start: number;
  readonly end: number;
  /** Where its bytes start in the segment file, and end. */
  readonly position: number;
  readonly endPosition: number;
  /** The offset after its last record. */
  readonly endOffset: number;
  readonly batches: number;
  readonly epochsChanged: boolean;
  /** Settles (never rejects) once the round has resolved or rejected its appends. */
  settled: Promise<WharfError | null>;
}

const EMPTY = Buffer.alloc(0);
const noop = () => {};
/** A read retries this often when it lands on a range it has just recorded. */
const READ_ATTEMPTS_MAX = 4;

type LogState = "open" | "closing" | "closed";

export class Log {
  readonly leaderEpochs: LogLeaderEpochs;
  private segments: Segment[];
  private startOffset: number;
  private watermark: number;
  private state: LogState = "open";
  private readonly writer: GroupCommitQueue<PendingAppend>;
  /** A failed write left bytes past `position` that could not be truncated yet. */
  private pendingRepair: { segment: Segment; position: number } | null = null;
  /** Rounds written whose fdatasync has not settled, in write order (see `commitRound`). */
  private readonly inFlight: InFlightRound[] = [];
  /** Settles after the newest round in flight has settled; never rejects. */
  private inFlightChain: Promise<void> = Promise.resolve();
  /** Settles once the newest round's write (not its fdatasync) is done; never rejects. */
  private writeChain: Promise<void> = Promise.resolve();
  /** Set while the rounds in flight after a failed one are being failed too. */
  private inFlightFailure: WharfError | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private syncQueued = false;
  private closed: Promise<void> | null = null;
  private readonly readContext: ReadContext;
  private readonly cleaner: LogCleaner;
  /** The compaction run in progress (runs are serialized). */
  private compaction: Promise<CompactionResult> | null = null;

  private constructor(
    readonly dir: string,
    private currentConfig: LogConfig,
    private readonly fileSystem: FileSystem,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly appendLimits: AppendLimits,
    segments: Segment[],
    logStartOffset: number,
    private readonly epochCache: LeaderEpochCache,
    cleanerCheckpoint: CleanerCheckpoint | null,
  ) {
    this.segments = segments;
    this.startOffset = logStartOffset;
    this.watermark = this.active.endOffset;
    this.writer = new GroupCommitQueue(
      (round) => this.commitRound(round),
      appendLimits,
      () => this.settleInFlight(),
    );
    this.readContext = {
      reportCorruption: (segment, step) => this.reportCorruption(segment, step),
    };
    this.leaderEpochs = this.createLeaderEpochs();
    this.cleaner = this.createCleaner(cleanerCheckpoint);
    this.startSyncTimer();
  }

  get config(): LogConfig {
    return this.currentConfig;
  }

  /**
   * Adopts a new configuration (topic config change). It applies from the next round: size
   * and age rolls, retention, batch limit, index interval, durability.
   */
  updateConfig(config: LogConfig): void {
    validateLogConfig(config);
    this.currentConfig = config;
    this.startSyncTimer();
  }

  private startSyncTimer(): void {
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.syncTimer = null;
    const durability = this.currentConfig.durability;
    if (durability.mode === "interval" && this.state === "open") {
      this.syncTimer = setInterval(() => this.periodicSync(), durability.intervalMs);
      this.syncTimer.unref();
    }
  }

  /** Opens (creating if needed) the log in `dir`, recovering it after a crash. */
  static async open(dir: string, config: LogConfig, options: LogOptions = {}): Promise<Log> {
    validateLogConfig(config);
    const fileSystem = options.fileSystem ?? nodeFileSystem;
    const logger = (options.logger ?? silentLogger).child({ component: "log", dir });
    const now = options.now ?? Date.now;
    const appendLimits = { ...defaultAppendLimits, ...options.appendLimits };
    let recovered: Awaited<ReturnType<typeof recoverLog>>;
    try {
      recovered = await recoverLog({ dir, config, fileSystem, logger, now });
    } catch (error) {
      throw storageError(error, `opening log ${dir}`);
    }
    return new Log(
      dir,
      config,
      fileSystem,
      logger,
      now,
      appendLimits,
      recovered.segments,
      recovered.logStartOffset,
      recovered.leaderEpochs,
      recovered.cleaner,
    );
  }

  get logStartOffset(): number {
    return this.startOffset;
  }

  /** Offset after the last batch written (in fsync mode: possibly not yet durable). */
  get logEndOffset(): number {
    return this.active.endOffset;
  }

  /** Offset after the last batch readers may see: durable in fsync mode, written otherwise. */
  get highWatermark(): number {
    return this.watermark;
  }

  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.size;
    return total;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Base offsets of the segments, oldest first (for tests and the admin API). */
  segmentBaseOffsets(): number[] {
    return this.segments.map((segment) => segment.baseOffset);
  }

  /** Known corrupt ranges (found by reads, recovery or `verify`). */
  corruptRanges(): CorruptRange[] {
    return this.segments.flatMap((segment) => segment.corruptRanges.map((range) => ({ ...range })));
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  // -------------------------------------------------------------------------------------------
  // Append

  /**
   * Appends one or more concatenated batches. Resolves once they are durable as `durability`
   * says, with the offsets assigned. Rejects without writing anything of this append when a
   * batch is invalid, the queue is full, or the write fails.
   *
   * The log stamps base offsets and the leader epoch into `batches` in place and writes that
   * very buffer (no copy): the caller must not change or reuse it, nor pass the same bytes to
   * another append, until the promise settles.
   */
  async append(batches: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    if (this.state !== "open") throw new WharfError("WHARF_LOG_CLOSED", this.dir);
    const spans = splitBatches(batches, {
      maxBatchBytes: this.config.maxBatchBytes,
      fromProducer: options.fromProducer === true,
    });
    for (const span of spans) {
      if (span.offsetCount < 1) {
        throw new WharfError("WHARF_BATCH_INVALID", `lastOffsetDelta ${span.offsetCount - 1}`);
      }
    }
    if (batches.length > this.appendLimits.queueBytesMax) {
      // It could never fit in the append queue: not retriable, unlike a momentarily full queue.
      const detail = `append of ${batches.length} bytes, queue limit ${this.appendLimits.queueBytesMax}`;
      throw new WharfError("WHARF_BATCH_TOO_LARGE", detail);
    }
    const epoch = options.leaderEpoch;
    if (epoch !== undefined && (!Number.isSafeInteger(epoch) || epoch < -1 || epoch > 0x7fffffff)) {
      throw new WharfError("WHARF_BATCH_INVALID", `leader epoch ${epoch}`);
    }
    if (epoch !== undefined && epoch < this.epochCache.latestEpoch) {
      throw new WharfError(
        "WHARF_LEADER_EPOCH_FENCED",
        `epoch ${epoch}, latest ${this.epochCache.latestEpoch}`,
      );
    }
    return new Promise<AppendResult>((resolve, reject) => {
      const pending = new PendingAppend(
        batches,
        spans,
        epoch,
        this.now(),
        resolve,
        reject,
        options.onWritten,
      );
      this.writer.enqueue(pending); // throws WHARF_APPEND_QUEUE_FULL into the promise
    });
  }

  /**
   * One group-commit round: appends in queue order, split where a segment must roll.
   *
   * Pipelining (fsync mode): a round is written, its fdatasync is issued, and the writer loop
   * goes on to the next round without waiting for it, up to `logSyncsInFlightMax` fdatasyncs
   * in flight on the active segment (a disk completes concurrent flushes far faster than the
   * same flushes one after another: one FLUSH covers every write issued before it). Rounds
   * settle strictly in write order (`inFlightChain`): a round's appends resolve, and the
   * segment's size, indexes, durable size and the high watermark move, only after its own
   * fdatasync and every earlier round's succeeded. A failed write or fdatasync fails that round
   * and every later round in flight (their bytes follow its bytes in the file, and after a
   * failed fdatasync Linux may have dropped the dirty pages, so a later success proves
   * nothing), then the file is truncated back to the start of the failed round.
   * Rolls, truncation, retention, flush and close first wait for every round in flight
   * (`settleInFlight`), so they see the same state as without pipelining.
   */
  private async commitRound(round: PendingAppend[]): Promise<RoundInFlight | undefined> {
    const chunks = await this.commitChunks(round);
    return chunks.length === 0 ? undefined : { settled: Promise.allSettled(chunks) };
  }

  /** `commitRound`'s work; returns the chunks written (settling in flight). */
  private async commitChunks(round: PendingAppend[]): Promise<Promise<WharfError | null>[]> {
    let index = 0;
    /** This round's chunks in flight: a failure of one fails the chunks after it. */
    const chunks: Promise<WharfError | null>[] = [];
    while (index < round.length) {
      let tail = this.inFlight.at(-1);
      // Checked again after every wait: the round waited for may have failed meanwhile.
      while (tail !== undefined && !this.canPipeline(tail, round, index)) {
        // A full pipeline waits for its oldest round only; anything else waits for all.
        if (this.inFlight.length >= logSyncsInFlightMax && this.pipelineOpen(tail, round, index)) {
          await this.inFlight[0]!.settled;
        } else {
          await this.settleInFlight();
        }
        for (const chunk of chunks) {
          const failure = await chunk;
          if (failure) {
            for (let i = index; i < round.length; i++) round[i]!.reject(failure);
            return chunks;
          }
        }
        tail = this.inFlight.at(-1);
      }
      let segment: Segment;
      let position: number;
      let nextOffset: number;
      if (tail !== undefined) {
        segment = tail.segment;
        position = tail.endPosition;
        nextOffset = tail.endOffset;
      } else {
        try {
          await this.settleInFlight();
          await this.repairAfterFailedWrite();
          segment = await this.segmentForAppend(round[index]!.bytes);
        } catch (error) {
          const failure = storageError(error, "preparing the active segment");
          this.logger.warn({ err: failure }, "appends failed");
          for (let i = index; i < round.length; i++) round[i]!.reject(failure);
          return chunks;
        }
        position = segment.size;
        nextOffset = segment.endOffset;
      }
      let end = index + 1;
      let bytes = round[index]!.bytes;
      while (
        end < round.length &&
        position + bytes + round[end]!.bytes <= this.config.segmentBytes
      ) {
        bytes += round[end]!.bytes;
        end++;
      }
      const settled = this.writeGroup(segment, round, index, end, bytes, position, nextOffset);
      chunks.push(settled);
      if (this.config.durability.mode !== "fsync") {
        // Nothing to overlap without an fdatasync: the round settles as soon as it is written.
        const failure = await settled;
        if (failure) {
          for (let i = end; i < round.length; i++) round[i]!.reject(failure);
          return chunks;
        }
      }
      index = end;
    }
    return chunks;
  }

  /** True when the next chunk of `round` may be written behind `tail` without waiting. */
  private canPipeline(tail: InFlightRound, round: PendingAppend[], index: number): boolean {
    return this.inFlight.length < logSyncsInFlightMax && this.pipelineOpen(tail, round, index);
  }

  /**
   * True when the pipeline behind `tail` may take the next chunk of `round` once there is
   * room: fsync mode, no failure being handled, the same active segment with space, age and
   * index room left (counted with the batches still in flight), no leader-epoch change.
   */
  private pipelineOpen(tail: InFlightRound, round: PendingAppend[], index: number): boolean {
    const segment = tail.segment;
    if (this.config.durability.mode !== "fsync" || this.inFlightFailure !== null) return false;
    if (this.pendingRepair !== null || segment !== this.active) return false;
    const first = round[index]!;
    if (tail.endPosition + first.bytes > this.config.segmentBytes) return false;
    if (first.leaderEpoch !== undefined && first.leaderEpoch > this.epochCache.latestEpoch) {
      return false;
    }
    if (segment.rollBaseMs !== null && this.now() - segment.rollBaseMs >= this.config.segmentMs) {
      return false;
    }
    let batches = 1;
    for (const entry of this.inFlight) batches += entry.batches;
    for (let i = index; i < round.length; i++) batches += round[i]!.spans.length;
    return (
      segment.offsetIndex.byteSize + OFFSET_INDEX_ENTRY_BYTES * batches <= indexBytesMax &&
      segment.timeIndex.byteSize + TIME_INDEX_ENTRY_BYTES * batches <= indexBytesMax
    );
  }

  /** Waits until every round in flight has settled (and a failed one's file was repaired). */
  private async settleInFlight(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlightChain;
    await this.inFlightChain;
  }

  /** The segment to write `bytes` into, rolling the active one when it is full or old. */
  private async segmentForAppend(bytes: number): Promise<Segment> {
    const active = this.active;
    if (active.size === 0) return active; // an empty segment takes any append, even an oversized one
    const full = active.size + bytes > this.config.segmentBytes;
    const old =
      active.rollBaseMs !== null && this.now() - active.rollBaseMs >= this.config.segmentMs;
    const indexFull =
      active.offsetIndex.byteSize + OFFSET_INDEX_ENTRY_BYTES > indexBytesMax ||
      active.timeIndex.byteSize + TIME_INDEX_ENTRY_BYTES > indexBytesMax;
    return full || old || indexFull ? this.roll() : active;
  }

  /**
   * Writes `round[start, end)` (`bytes` in all) into `segment` at `position`: assigns offsets
   * from `firstOffset`, one writev, one fdatasync in fsync mode. Returns at once (the round is
   * in flight); the promise settles once the round has (in write order after every earlier
   * round in flight): accounted and resolved its appends (null), or rejected them (the
   * failure).
   */
  private writeGroup(
    segment: Segment,
    round: PendingAppend[],
    start: number,
    end: number,
    bytes: number,
    position: number,
    firstOffset: number,
  ): Promise<WharfError | null> {
    const fsync = this.config.durability.mode === "fsync";
    const buffers = new Array<Buffer>(end - start);
    let nextOffset = firstOffset;
    let epochsChanged = false;
    let batches = 0;
    let watched = false;
    for (let i = start; i < end; i++) {
      const append = round[i]!;
      watched ||= append.onWritten !== undefined;
      if (append.leaderEpoch !== undefined && append.leaderEpoch > this.epochCache.latestEpoch) {
        epochsChanged = this.epochCache.assign(append.leaderEpoch, nextOffset) || epochsChanged;
      }
      const epoch = append.leaderEpoch ?? this.epochCache.latestEpoch;
      append.baseOffset = nextOffset;
      for (const span of append.spans) {
        setBaseOffset(append.buffer, span.pos, nextOffset);
        setPartitionLeaderEpoch(append.buffer, span.pos, epoch);
        nextOffset += span.offsetCount;
      }
      batches += append.spans.length;
      append.lastOffset = nextOffset - 1;
      buffers[i - start] = append.buffer;
    }
    const handle = segment.handle;
    const previousWrite = this.writeChain;
    const written = (async () => {
      // Writes reach the file in round order, also when one goes through the thread pool: a
      // later round's bytes must never land while an earlier round's are still missing (a
      // kill -9 between them would leave a hole before data, not a torn tail).
      await previousWrite;
      // Epochs first: an epoch entry pointing past the log end is harmless, a batch whose
      // epoch the checkpoint lacks is not (once its segment is sealed, recovery won't see it).
      if (epochsChanged) await this.persistLeaderEpochs();
      // A round small enough is copied into the page cache on this thread (microseconds), so
      // the round costs one thread-pool round trip (the fdatasync), not two.
      if (handle.writevSync !== undefined && bytes <= logSyncWriteBytesMax) {
        writeFullySync(handle, buffers, position, bytes);
      } else {
        await writeFully(handle, buffers, position, bytes);
      }
    })();
    this.writeChain = written.then(noop, noop);
    if (watched) {
      written.then(() => {
        for (let i = start; i < end; i++) {
          const append = round[i]!;
          try {
            append.onWritten?.(append.baseOffset);
          } catch (error) {
            this.logger.error({ err: error }, "append onWritten callback threw");
          }
        }
      }, noop);
    }
    const io = fsync ? written.then(() => handle.datasync()) : written;
    const entry: InFlightRound = {
      segment,
      round,
      start,
      end,
      position,
      endPosition: position + bytes,
      endOffset: nextOffset,
      batches,
      epochsChanged,
      settled: Promise.resolve(null),
    };
    this.inFlight.push(entry);
    const previous = this.inFlightChain;
    entry.settled = (async (): Promise<WharfError | null> => {
      let ioError: unknown = null;
      let ioFailed = false;
      try {
        await io;
      } catch (error) {
        ioError = error;
        ioFailed = true;
      }
      await previous;
      const head = this.inFlight.shift();
      if (head !== entry) throw new Error("log: rounds in flight settled out of write order");
      let failure = this.inFlightFailure;
      if (failure === null && ioFailed) {
        failure = storageError(ioError, `appending to ${segment.fileName}`);
        this.logger.warn(
          { err: failure, file: segment.fileName, position, bytes },
          "append round failed",
        );
        this.inFlightFailure = failure;
        // Nothing at or after this round was accounted: the segment ends where it starts.
        if (epochsChanged || this.inFlight.some((later) => later.epochsChanged)) {
          this.epochCache.truncateFromEnd(segment.endOffset);
        }
        this.pendingRepair = { segment, position };
      }
      if (failure === null) {
        this.accountRound(entry, fsync);
      } else {
        for (let i = start; i < end; i++) round[i]!.reject(failure);
      }
      if (this.inFlight.length === 0 && this.inFlightFailure !== null) {
        // The last round of a failed run: cut the bytes of the failed rounds now.
        this.inFlightFailure = null;
        const repair = this.pendingRepair;
        if (repair !== null) await this.truncateAfterFailedWrite(repair.segment, repair.position);
      }
      return failure;
    })();
    this.inFlightChain = entry.settled.then(noop, noop);
    return entry.settled;
  }

  /** A round's write (and fdatasync) succeeded: move the segment's view and resolve. */
  private accountRound(entry: InFlightRound, fsync: boolean): void {
    const { segment, round, start, end } = entry;
    const interval = this.config.indexIntervalBytes;
    let batchPosition = entry.position;
    for (let i = start; i < end; i++) {
      const append = round[i]!;
      let offset = append.baseOffset;
      for (const span of append.spans) {
        const lastOffset = offset + span.offsetCount - 1;
        const maxTimestamp = readMaxTimestamp(append.buffer, span.pos);
        segment.recordBatch(batchPosition, span.size, offset, lastOffset, maxTimestamp, interval);
        batchPosition += span.size;
        offset = lastOffset + 1;
      }
    }
    const now = this.now();
    segment.rollBaseMs ??= now;
    segment.lastModifiedMs = now;
    if (fsync) segment.durableSize = segment.size;
    this.watermark = segment.endOffset;
    for (let i = start; i < end; i++) round[i]!.resolve();
  }

  private async truncateAfterFailedWrite(segment: Segment, position: number): Promise<void> {
    this.pendingRepair = { segment, position };
    try {
      await this.repairAfterFailedWrite();
    } catch (error) {
      this.logger.error(
        { err: error, file: segment.fileName, position },
        "cannot truncate after a failed write; retried before the next append",
      );
    }
  }

  /** Cuts bytes of a failed write (no partial batch may stay after the log's end). */
  private async repairAfterFailedWrite(): Promise<void> {
    const repair = this.pendingRepair;
    if (repair === null) return;
    await repair.segment.handle.truncate(repair.position);
    this.pendingRepair = null;
  }

  /**
   * Seals the active segment and starts a new one at the log end offset. The old segment is
   * made durable (data, then its index files) first; the new file's directory entry is made
   * durable before anything is written to it, so acknowledged data never sits in a file a
   * power loss could unlink.
   */
  private async roll(): Promise<Segment> {
    const old = this.active;
    if (old.durableSize < old.size) {
      await old.handle.datasync();
      old.durableSize = old.size;
    }
    try {
      await old.persistIndexes(this.fileSystem);
    } catch (error) {
      this.logger.warn(
        { err: error, file: old.fileName },
        "segment indexes not persisted; rebuilt on open",
      );
    }
    const segment = await Segment.create(this.fileSystem, this.dir, old.endOffset, this.now());
    try {
      await this.fileSystem.syncDirectory(this.dir);
    } catch (error) {
      await segment.close();
      await unlinkIfPresent(this.fileSystem, segment.logPath).catch(() => {});
      throw error;
    }
    this.segments = [...this.segments, segment];
    this.logger.debug(
      { file: segment.fileName, sealed: old.fileName, bytes: old.size },
      "segment rolled",
    );
    return segment;
  }

  // -------------------------------------------------------------------------------------------
  // Read

  /**
   * Whole stored batches from the one holding `offset`, up to `maxBytes` (at least one batch),
   * none reaching `maxOffset` (default and ceiling: the high watermark; replication may pass
   * up to the log end offset). `offset` outside [logStartOffset, logEndOffset] is
   * WHARF_OFFSET_OUT_OF_RANGE; an offset in a corrupt range is WHARF_DATA_CORRUPT.
   */
  async read(
    offset: number,
    maxBytes: number,
    options: { maxOffset?: number } = {},
  ): Promise<ReadResult> {
    if (this.state === "closed") throw new WharfError("WHARF_LOG_CLOSED", this.dir);
    const byteLimit = Math.min(Math.max(0, maxBytes), readBytesMax);
    for (let attempt = 1; ; attempt++) {
      const logStartOffset = this.startOffset;
      const logEndOffset = this.logEndOffset;
      if (!Number.isSafeInteger(offset) || offset < logStartOffset || offset > logEndOffset) {
        const detail = `offset ${offset}, log holds [${logStartOffset}, ${logEndOffset})`;
        throw new WharfError("WHARF_OFFSET_OUT_OF_RANGE", detail);
      }
      const maxOffset = Math.min(options.maxOffset ?? this.watermark, logEndOffset);
      if (offset >= maxOffset || attempt > READ_ATTEMPTS_MAX) return this.readResult(EMPTY);
      const segment = this.segmentForRead(offset);
      if (!segment.acquire()) continue; // deleted under us: look again
      try {
        const result = await readSegment(segment, offset, byteLimit, maxOffset, this.readContext);
        if ("bytes" in result) return this.readResult(result.bytes);
      } catch (error) {
        if (error instanceof ShortReadError) return this.readResult(EMPTY);
        throw storageError(error, `reading ${segment.fileName}`);
      } finally {
        segment.release();
      }
    }
  }

  private readResult(bytes: Buffer): ReadResult {
    return { bytes, highWatermark: this.watermark, logStartOffset: this.startOffset };
  }

  /** The segment holding `offset`: the last whose base offset is <= it. */
  private segmentFor(offset: number): Segment {
    const segments = this.segments;
    let low = 0;
    let high = segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (segments[middle]!.baseOffset <= offset) low = middle;
      else high = middle - 1;
    }
    return segments[low]!;
  }

  /**
   * The segment to read `offset` from: the one holding it, or, when it lies in a gap that
   * compaction left at the end of a sealed segment, the next one (whose first batch is the
   * first after it).
   */
  private segmentForRead(offset: number): Segment {
    const segments = this.segments;
    let segment = this.segmentFor(offset);
    if (offset >= segment.endOffset && segment !== segments[segments.length - 1]) {
      segment = segments[segments.indexOf(segment) + 1] ?? segment;
    }
    return segment;
  }

  /**
   * The first visible record (offset in [logStartOffset, highWatermark)) whose timestamp is
   * >= `timestamp`, with that timestamp; null when there is none (Kafka ListOffsets).
   */
  async offsetForTimestamp(
    timestamp: number,
  ): Promise<{ offset: number; timestamp: number } | null> {
    if (this.state === "closed") throw new WharfError("WHARF_LOG_CLOSED", this.dir);
    const minOffset = this.startOffset;
    const maxOffset = this.watermark;
    for (const segment of this.segments) {
      if (segment.endOffset <= minOffset || segment.maxTimestamp < timestamp) continue;
      if (segment.baseOffset >= maxOffset) break;
      if (!segment.acquire()) continue;
      try {
        const found = await findTimestampInSegment(
          segment,
          timestamp,
          minOffset,
          maxOffset,
          this.readContext,
        );
        if (found) return found;
      } catch (error) {
        if (error instanceof ShortReadError) continue;
        throw storageError(error, `reading ${segment.fileName}`);
      } finally {
        segment.release();
      }
    }
    return null;
  }

  /**
   * Headers of the visible batches in (at least) the last `maxBytes` of the log, oldest
   * first: what idempotent-producer state is rebuilt from after a restart.
   */
  async recentBatchHeaders(maxBytes = recentBatchHeadersBytes): Promise<BatchHeader[]> {
    if (this.state === "closed") throw new WharfError("WHARF_LOG_CLOSED", this.dir);
    const segments = this.segments;
    const minOffset = this.startOffset;
    const maxOffset = this.watermark;
    let first = segments.length - 1;
    let covered = segments[first]!.size;
    while (first > 0 && covered < maxBytes) covered += segments[--first]!.size;
    const headers: BatchHeader[] = [];
    for (let i = first; i < segments.length; i++) {
      const segment = segments[i]!;
      let entry = -1;
      if (i === first && covered > maxBytes)
        entry = segment.offsetIndex.floorByPosition(covered - maxBytes);
      if (!segment.acquire()) continue;
      try {
        const scanner = new SegmentScanner(segment, {
          position: entry >= 0 ? segment.offsetIndex.positionAt(entry) : 0,
          expectedOffset:
            segment.baseOffset + (entry >= 0 ? segment.offsetIndex.relativeOffsetAt(entry) : 0),
          limit: segment.size,
          upperOffset: segment.endOffset,
          verify: false,
          headers: true,
        });
        for (let step = await scanner.next(); step.kind !== "end"; step = await scanner.next()) {
          if (step.kind === "corrupt") {
            if (!step.known) this.reportCorruption(segment, step);
            continue;
          }
          if (step.lastOffset >= maxOffset) return headers;
          if (step.lastOffset >= minOffset) headers.push(step.header!);
        }
      } catch (error) {
        if (!(error instanceof ShortReadError))
          throw storageError(error, `reading ${segment.fileName}`);
      } finally {
        segment.release();
      }
    }
    return headers;
  }

  /** Scans every segment with full checks (a scrub); returns every corrupt range known. */
  async verify(): Promise<CorruptRange[]> {
    const segments = this.segments;
    const ranges: CorruptRange[] = [];
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      if (!segment.acquire()) continue;
      try {
        const upperOffset = segments[i + 1]?.baseOffset ?? segment.endOffset;
        for (const range of await scrubSegment(segment, upperOffset, this.readContext)) {
          ranges.push({ ...range });
        }
      } catch (error) {
        if (!(error instanceof ShortReadError))
          throw storageError(error, `scrubbing ${segment.fileName}`);
      } finally {
        segment.release();
      }
    }
    return ranges;
  }

  private reportCorruption(segment: Segment, step: CorruptStep): void {
    if (!segment.addCorruptRange(step.range)) return;
    this.logger.error(
      { ...step.range, reason: step.reason },
      "corrupt data in a log segment: this range will not be served",
    );
  }

  // -------------------------------------------------------------------------------------------
  // Deletion, retention, truncation

  /** Kafka DeleteRecords: moves the log start offset up to `offset` (at most the HW). */
  async deleteRecordsBefore(offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.watermark) {
      const detail = `offset ${offset}, high watermark ${this.watermark}`;
      throw new WharfError("WHARF_OFFSET_OUT_OF_RANGE", detail);
    }
    await this.exclusive(async () => {
      if (offset <= this.startOffset) return;
      await this.advanceLogStartOffset(offset);
      const doomed = planRetention(
        this.segments,
        { retentionMs: -1, retentionBytes: -1 },
        offset,
        0,
      );
      await this.deleteLeadingSegments(doomed.length);
    });
  }

  /** Deletes sealed segments past retention (age, size, or below the log start offset). */
  async enforceRetention(): Promise<RetentionResult> {
    return this.exclusive(async () => {
      const reasons = planRetention(this.segments, this.config, this.startOffset, this.now());
      if (reasons.length === 0) return { deletedSegments: 0, deletedBytes: 0 };
      const newStart = this.segments[reasons.length]!.baseOffset;
      if (newStart > this.startOffset) await this.advanceLogStartOffset(newStart);
      const doomed = this.segments.slice(0, reasons.length);
      const deletedBytes = doomed.reduce((sum, segment) => sum + segment.size, 0);
      this.logger.info(
        { segments: doomed.map((s) => s.fileName), reasons, logStartOffset: this.startOffset },
        "retention deleting segments",
      );
      await this.deleteLeadingSegments(reasons.length);
      return { deletedSegments: doomed.length, deletedBytes };
    });
  }

  /** Persists the new log start offset, then adopts it (a crash keeps the old or the new). */
  private async advanceLogStartOffset(offset: number): Promise<void> {
    await writeCheckpoint(
      this.fileSystem,
      this.dir,
      LOG_START_OFFSET_CHECKPOINT,
      formatLogStartOffset(offset),
    );
    this.startOffset = offset;
    if (this.epochCache.truncateFromStart(offset)) await this.persistLeaderEpochs();
  }

  /** Removes the first `count` segments (never the active one) from the list, then the disk. */
  private async deleteLeadingSegments(count: number): Promise<void> {
    const limit = Math.min(count, this.segments.length - 1);
    if (limit <= 0) return;
    const doomed = this.segments.slice(0, limit);
    this.segments = this.segments.slice(limit);
    for (const segment of doomed) await segment.delete(this.fileSystem);
  }

  /**
   * Removes every batch from the one holding `offset` on (for replication: a follower cuts a
   * divergent tail). The log end offset becomes that batch's base offset. Later segments are
   * deleted newest first, so a crash half-way leaves a shorter but consistent log.
   */
  async truncateTo(offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < this.startOffset) {
      const detail = `offset ${offset}, log start offset ${this.startOffset}`;
      throw new WharfError("WHARF_OFFSET_OUT_OF_RANGE", detail);
    }
    await this.exclusive(async () => {
      if (offset >= this.logEndOffset) return;
      const index = this.segments.indexOf(this.segmentFor(offset));
      const segment = this.segments[index]!;
      let position = segment.size;
      let newEnd = segment.endOffset;
      try {
        const batch = await locateBatch(
          segment,
          offset,
          segment.size,
          segment.endOffset,
          this.readContext,
        );
        if (batch) {
          position = batch.position;
          newEnd = batch.baseOffset;
        }
      } catch (error) {
        const range = segment.corruptRangeForOffset(offset);
        if (!range) throw error;
        position = range.startPosition;
        newEnd = range.startOffset;
      }
      for (let i = this.segments.length - 1; i > index; i--) {
        const doomed = this.segments[i]!;
        this.segments = this.segments.slice(0, i);
        await doomed.delete(this.fileSystem);
      }
      await this.truncateSegment(segment, position, newEnd);
      this.watermark = Math.min(this.watermark, newEnd);
      this.cleaner.truncatedTo(newEnd);
      if (this.epochCache.truncateFromEnd(newEnd)) await this.persistLeaderEpochs();
      this.logger.info({ file: segment.fileName, position, logEndOffset: newEnd }, "log truncated");
    });
  }

  private async truncateSegment(segment: Segment, position: number, newEnd: number): Promise<void> {
    segment.generation++;
    await segment.removeIndexFiles(this.fileSystem);
    await segment.handle.truncate(position);
    await segment.handle.datasync();
    segment.offsetIndex.truncateToPosition(position);
    segment.timeIndex.truncateToOffset(newEnd - segment.baseOffset);
    segment.dropCorruptRangesFrom(position);
    // Walk from the last surviving index entry to recompute the end and the timestamps.
    await indexSegment(
      {
        dir: this.dir,
        config: this.config,
        fileSystem: this.fileSystem,
        logger: this.logger,
        now: this.now,
      },
      { corruptSteps: [] },
      segment,
      position,
      newEnd,
      false,
      false,
    );
    segment.durableSize = segment.size;
    if (segment.size === 0) segment.rollBaseMs = null;
  }

  // -------------------------------------------------------------------------------------------
  // Compaction (log-cleaner.ts)

  /**
   * Compacts the log (`cleanup.policy=compact`): keeps the latest record of every key in the
   * sealed segments past `minCompactionLagMs`, in as many passes as the key map needs. Reads
   * and appends go on meanwhile; only the swap at the end of a pass takes the writer loop.
   * Runs one at a time (a second call waits for the first). Resolves with what was done, also
   * when a retention or truncation made it stop early (the next run picks up).
   */
  async compact(options: CompactionOptions): Promise<CompactionResult> {
    if (this.state !== "open") throw new WharfError("WHARF_LOG_CLOSED", this.dir);
    for (const [name, value] of [
      ["deleteRetentionMs", options.deleteRetentionMs],
      ["minCompactionLagMs", options.minCompactionLagMs],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new WharfError("WHARF_CONFIG_INVALID", `${name} ${value} must be an integer >= 0`);
      }
    }
    const previous = this.compaction;
    const run: Promise<CompactionResult> = (async () => {
      await previous?.catch(() => {});
      try {
        return await this.cleaner.run(options);
      } catch (error) {
        throw storageError(error, `compacting ${this.dir}`);
      }
    })();
    this.compaction = run;
    try {
      return await run;
    } finally {
      if (this.compaction === run) this.compaction = null;
    }
  }

  /**
   * Dirty bytes / cleanable bytes (Kafka's cleanable ratio, compared with
   * `min.cleanable.dirty.ratio`): cheap, from the segment list and the cleaner checkpoint.
   */
  cleanableDirtyRatio(options: { minCompactionLagMs?: number; now?: number } = {}): number {
    return this.cleaner.dirtyRatio(options.minCompactionLagMs ?? 0, options.now ?? this.now());
  }

  /**
   * When the earliest tombstone kept by compaction may be removed (its delete horizon, ms);
   * -1 when compaction keeps none. A clean at or after it removes something even when the log
   * has no dirty data.
   */
  get compactionDeleteHorizonMs(): number {
    return this.cleaner.deleteHorizonMs;
  }

  /**
   * Whether compacting now is worth it (the scheduler's test, Kafka's): the dirty ratio is
   * above `minCleanableDirtyRatio`, or a tombstone kept by compaction has reached its horizon.
   */
  compactionNeeded(options: {
    minCompactionLagMs: number;
    minCleanableDirtyRatio: number;
    now?: number;
  }): boolean {
    const now = options.now ?? this.now();
    const horizon = this.cleaner.deleteHorizonMs;
    if (horizon >= 0 && horizon <= now) return true;
    const ratio = this.cleaner.dirtyRatio(options.minCompactionLagMs, now);
    return ratio > 0 && ratio > options.minCleanableDirtyRatio;
  }

  private createCleaner(checkpoint: CleanerCheckpoint | null): LogCleaner {
    return new LogCleaner(
      {
        dir: this.dir,
        fileSystem: this.fileSystem,
        logger: this.logger,
        config: () => this.currentConfig,
        now: () => this.now(),
        segments: () => this.segments,
        logStartOffset: () => this.startOffset,
        isOpen: () => this.state === "open",
        recentBatchHeaders: () => this.recentBatchHeaders(),
        replaceHead: (old, fresh, commit) =>
          this.exclusive(async () => {
            const current = this.segments;
            if (current.length <= old.length || old.some((segment, i) => current[i] !== segment)) {
              return false;
            }
            if (!(await commit())) return false;
            this.segments = [...fresh, ...current.slice(old.length)];
            // Readers holding an old segment finish on its bytes; the handle closes after them.
            for (const segment of old) void segment.close();
            return true;
          }),
      },
      checkpoint,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Leader epochs

  private createLeaderEpochs(): LogLeaderEpochs {
    const log = this;
    return {
      assign: (epoch, startOffset) =>
        this.exclusive(async () => {
          if (log.epochCache.assign(epoch, startOffset)) await log.persistLeaderEpochs();
        }),
      get latestEpoch() {
        return log.epochCache.latestEpoch;
      },
      endOffsetFor: (epoch) => this.epochCache.endOffsetFor(epoch, this.logEndOffset),
      entries: () => this.epochCache.list(),
    };
  }

  private async persistLeaderEpochs(): Promise<void> {
    await writeCheckpoint(
      this.fileSystem,
      this.dir,
      LEADER_EPOCH_CHECKPOINT,
      this.epochCache.format(),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Flush and close

  /**
   * Makes everything appended so far durable (in every mode) and persists index files, after
   * the appends queued before it.
   */
  async flush(): Promise<void> {
    await this.exclusive(() => this.flushNow());
  }

  private async flushNow(): Promise<void> {
    await this.repairAfterFailedWrite();
    const active = this.active;
    if (active.durableSize < active.size) {
      await active.handle.datasync();
      active.durableSize = active.size;
    }
    for (const segment of this.segments) {
      if (!segment.indexesPersisted) await segment.persistIndexes(this.fileSystem);
    }
  }

  /** Interval durability: an fdatasync on the writer loop every `intervalMs` when needed. */
  private periodicSync(): void {
    const active = this.active;
    if (this.syncQueued || this.state !== "open" || active.durableSize >= active.size) return;
    this.syncQueued = true;
    void this.writer
      .runExclusive(async () => {
        const segment = this.active;
        const size = segment.size;
        await segment.handle.datasync();
        segment.durableSize = Math.max(segment.durableSize, size);
      })
      .catch((error) => this.logger.error({ err: error }, "periodic fdatasync failed"))
      .finally(() => {
        this.syncQueued = false;
      });
  }

  /**
   * Finishes the appends already queued, makes everything durable, writes the index files and
   * the clean-shutdown marker, and closes the files. New appends fail with WHARF_LOG_CLOSED.
   */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.state = "closing";
    this.startSyncTimer(); // stops it: the log is no longer open
    this.closed = this.writer.runExclusive(async () => {
      try {
        await this.flushNow();
        const active = this.active;
        const marker = formatCleanShutdown({
          activeBaseOffset: active.baseOffset,
          activeBytes: active.size,
          logEndOffset: active.endOffset,
        });
        await writeCheckpoint(this.fileSystem, this.dir, CLEAN_SHUTDOWN_MARKER, marker);
      } catch (error) {
        this.logger.error({ err: error }, "log not closed cleanly; the next open scans its tail");
      } finally {
        this.state = "closed";
        await Promise.all(this.segments.map((segment) => segment.close()));
      }
    });
    // A compaction stops at its next batch once the log is closing; let it remove its files.
    const compaction = this.compaction;
    if (compaction) this.closed = this.closed.then(() => compaction.then(noop, noop));
    return this.closed;
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    if (this.state !== "open") return Promise.reject(new WharfError("WHARF_LOG_CLOSED", this.dir));
    return this.writer.runExclusive(async () => {
      try {
        return await task();
      } catch (error) {
        throw storageError(error, this.dir);
      }
    });
  }
}
