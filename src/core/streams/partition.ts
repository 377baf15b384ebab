/**
 * One partition of a stream: a `Log` plus what the core adds on top of storage:
 * idempotent-producer checks, and wake-ups for readers waiting for new data (Kafka Fetch
 * long-polling, XREAD BLOCK). The log's high watermark only moves when data is durable, so a
 * woken reader never sees data a crash could take back.
 */
import type { Logger } from "../../logging/logger.ts";
import type { Log } from "../../storage/log.ts";
import {
  Attribute,
  BATCH_HEADER_BYTES,
  readBatchHeader,
  readBatchSize,
} from "../../storage/record-batch.ts";
import { checkRecordsHaveKeys } from "../../storage/record-keys.ts";
import { type AppendOffsets, ProducerStateTable } from "./producer-state.ts";

export interface AppendOptions {
  /** Apply producer rules (record count) on top of integrity checks. */
  fromProducer?: boolean;
}

export interface ReadResult {
  bytes: Buffer;
  highWatermark: number;
  logStartOffset: number;
}

type Waiter = { offset: number; wake: () => void };

export class Partition {
  private readonly producers = new ProducerStateTable();
  private producersStale = true;
  /** The rebuild in progress; idempotent appends wait for it in arrival order. */
  private rebuilding: Promise<void> | null = null;
  private waiters: Waiter[] = [];
  /**
   * The topic's `cleanup.policy` includes `compact`: every record must have a key (Kafka
   * answers INVALID_RECORD otherwise). Set by the stream registry, also on a config change.
   */
  requireRecordKeys = false;

  constructor(
    readonly topic: string,
    readonly index: number,
    readonly log: Log,
    private readonly logger: Logger,
  ) {}

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }
  get logEndOffset(): number {
    return this.log.logEndOffset;
  }
  get highWatermark(): number {
    return this.log.highWatermark;
  }
  /** The partition's leader epoch as clients see it (0 until a cluster moves leadership). */
  get leaderEpoch(): number {
    return Math.max(0, this.log.leaderEpochs.latestEpoch);
  }

  /**
   * Appends producer batches. An idempotent producer's retry of a batch already appended is
   * answered with the original offsets and not written again.
   */
  async append(batches: Buffer, options: AppendOptions = {}): Promise<AppendOffsets> {
    if (this.requireRecordKeys) {
      // Compacted topics only: the records are walked (inflated when compressed) here.
      await checkRecordsHaveKeys(batches, {
        maxBatchBytes: this.log.config.maxBatchBytes,
        fromProducer: options.fromProducer === true,
      });
    }
    // Only the header of a lone batch is read here; the log validates every batch (length,
    // magic, CRC32C, the topic's max.message.bytes) once, when it appends.
    if (batches.length >= BATCH_HEADER_BYTES && readBatchSize(batches, 0) === batches.length) {
      const header = readBatchHeader(batches, 0);
      const idempotent =
        header.producerId >= 0 &&
        header.baseSequence >= 0 &&
        (header.attributes & Attribute.control) === 0;
      if (idempotent) return this.appendIdempotent(batches, header, options);
    }
    return this.appendAndWake(batches, options);
  }

  private async appendIdempotent(
    batches: Buffer,
    header: ReturnType<typeof readBatchHeader>,
    options: AppendOptions,
  ): Promise<AppendOffsets> {
    // Every append of this producer waits behind a rebuild in progress, so that the checks
    // below still run in arrival order (pipelined requests of one producer).
    if (this.producersStale || this.rebuilding) {
      this.rebuilding ??= this.rebuildProducerState().finally(() => {
        this.rebuilding = null;
      });
      await this.rebuilding;
    }
    const check = this.producers.check(
      header.producerId,
      header.producerEpoch,
      header.baseSequence,
      header.recordCount,
    );
    if (check.duplicate) return check.result;
    const result = this.appendAndWake(batches, options);
    this.producers.record(
      header.producerId,
      header.producerEpoch,
      header.baseSequence,
      header.recordCount,
      result,
    );
    result.catch(() => {
      // A failed append may have been rolled back by the log: rebuild from what is on disk.
      this.producersStale = true;
    });
    return result;
  }

  private async appendAndWake(batches: Buffer, options: AppendOptions): Promise<AppendOffsets> {
    const result = await this.log.append(batches, {
      fromProducer: options.fromProducer,
      leaderEpoch: this.leaderEpoch,
    });
    this.wakeReaders();
    return result;
  }

  /** Rebuilds idempotence state from the batch headers of the log's recent data. */
  private async rebuildProducerState(): Promise<void> {
    this.producers.clear();
    this.producersStale = false;
    const tail = await this.log.recentBatchHeaders();
    for (const header of tail) {
      if (header.producerId < 0 || header.baseSequence < 0) continue;
      // lastOffsetDelta + 1, not recordCount: compaction removes records from a batch but keeps
      // its offset span, and with it the producer's sequence range.
      this.producers.replay(
        header.producerId,
        header.producerEpoch,
        header.baseSequence,
        header.lastOffsetDelta + 1,
        {
          baseOffset: header.baseOffset,
          lastOffset: header.baseOffset + header.lastOffsetDelta,
          logAppendTime: -1,
        },
      );
    }
    this.logger.debug(
      { topic: this.topic, partition: this.index, producers: this.producers.size },
      "producer state rebuilt",
    );
  }

  read(offset: number, maxBytes: number): Promise<ReadResult> {
    return this.log.read(offset, maxBytes);
  }

  /** The first visible record with a timestamp >= `timestamp` (Kafka ListOffsets), or null. */
  offsetForTimestamp(timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
    return this.log.offsetForTimestamp(timestamp);
  }

  /** Kafka DeleteRecords: moves the log start offset up to `offset` (at most the HW). */
  deleteRecordsBefore(offset: number): Promise<void> {
    return this.log.deleteRecordsBefore(offset);
  }

  /**
   * Resolves when data at or beyond `offset` is readable (high watermark > offset), when
   * `timeoutMs` passes, or when `signal` aborts — whichever is first. Never rejects.
   */
  waitForData(offset: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.highWatermark > offset || timeoutMs <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = { offset, wake: () => finish() };
      const timer = setTimeout(() => finish(), timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", finish);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      };
      signal?.addEventListener("abort", finish, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Wakes readers whose offset is now below the high watermark. */
  wakeReaders(): void {
    if (this.waiters.length === 0) return;
    const hw = this.highWatermark;
    for (const waiter of this.waiters.slice()) if (waiter.offset < hw) waiter.wake();
  }

  /** Wakes every waiter (the partition is closing or being deleted). */
  wakeAll(): void {
    for (const waiter of this.waiters.slice()) waiter.wake();
  }
}
