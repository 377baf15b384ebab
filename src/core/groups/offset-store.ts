/**
 * Committed offsets of consumer groups, durable in one core-owned log (`__consumer_offsets`
 * in the LogStore; not a topic, so no client reads or writes it).
 *
 * Design:
 * - Every commit appends records (key = group/topic/partition, value = offset, leader epoch,
 *   metadata, commit time; a null value is a tombstone) and resolves only after the append is
 *   durable: the log is opened with `fsync` durability whatever the broker default is, because
 *   a lost commit re-delivers records the application believes it has processed.
 * - Memory holds the latest value per key, applied once its append is durable, so a reader
 *   never sees an offset that a crash could take back. Opening replays the log from its start.
 * - Bounded: once `rewriteBytes` (and at least the last snapshot's size) were appended since
 *   the last rewrite, a snapshot of every live key is appended and the log start offset moved
 *   to the snapshot's first offset; the storage engine then deletes the segments below it.
 *   The log thus stays near twice its live data plus one segment, and tombstones disappear at
 *   the next snapshot. (The storage engine's key compaction for topics is not used: this is
 *   simpler, and the snapshot replays in one pass.)
 *
 * Ordering invariant of the snapshot: each snapshot batch is built from the latest values
 * (durable or in flight) and handed to `Log.append` in the same synchronous step, and appends
 * take offsets in call order. So any write ordered before a snapshot batch is reflected in it,
 * and any write after it lands at a higher offset; dropping everything below the snapshot's
 * first offset loses nothing. (A write whose append then fails may survive in a snapshot:
 * the client saw an error and commits again, so this is harmless.)
 */
import {
  offsetsLogRewriteBytes,
  offsetsLogSegmentBytes,
  offsetsSnapshotBatchBytes,
} from "../../config/limits.ts";
import { isWharfError } from "../../errors/index.ts";
import type { Logger } from "../../logging/logger.ts";
import type { Log } from "../../storage/log.ts";
import { defaultLogConfig } from "../../storage/log-config.ts";
import { forEachRecord } from "../../storage/log-records.ts";
import type { LogStore } from "../../storage/log-store.ts";
import { encodeBatch, type RecordInput } from "../../storage/record-batch.ts";
import {
  decodeOffsetKey,
  decodeOffsetValue,
  encodeOffsetKey,
  encodeOffsetValue,
  type OffsetRecordKey,
  type OffsetValue,
} from "./offset-records.ts";

export type { OffsetValue } from "./offset-records.ts";

export const offsetsLogName = "__consumer_offsets";

/** Bytes read per step while replaying the log on open. */
const replayReadBytes = 1024 * 1024;

export interface OffsetStoreOptions {
  logger: Logger;
  now?: () => number;
  /** Name of the log in the LogStore (tests may use another). */
  logName?: string;
  segmentBytes?: number;
  /** Bytes appended since the last rewrite that trigger the next one. */
  rewriteBytes?: number;
  /** Largest batch written (snapshot batches and chunks of one commit). */
  batchBytes?: number;
}

export interface OffsetWrite {
  topic: string;
  partition: number;
  /** null deletes the offset (a tombstone). */
  value: OffsetValue | null;
}

type GroupOffsets = Map<string, Map<number, OffsetValue>>;

interface PendingWrite {
  sequence: number;
  group: string;
  topic: string;
  partition: number;
  value: OffsetValue | null;
}

export interface OffsetStoreStats {
  groups: number;
  offsets: number;
  logBytes: number;
  bytesSinceRewrite: number;
  rewrites: number;
}

function pendingKey(group: string, topic: string, partition: number): string {
  return JSON.stringify([group, topic, partition]);
}

export class OffsetStore {
  private readonly groups = new Map<string, GroupOffsets>();
  /** Writes handed to the log and not yet durable: the latest per key. */
  private readonly pending = new Map<string, PendingWrite>();
  private sequence = 0;
  private offsetCount = 0;
  private bytesSinceRewrite = 0;
  private lastSnapshotBytes = 0;
  private rewriteCount = 0;
  private rewriting: Promise<void> | null = null;
  private closed = false;
  private readonly now: () => number;
  private readonly rewriteBytes: number;
  private readonly batchBytes: number;

  private constructor(
    private readonly log: Log,
    private readonly options: OffsetStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.rewriteBytes = options.rewriteBytes ?? offsetsLogRewriteBytes;
    this.batchBytes = options.batchBytes ?? offsetsSnapshotBatchBytes;
  }

  static async open(logStore: LogStore, options: OffsetStoreOptions): Promise<OffsetStore> {
    const config = defaultLogConfig({
      segmentBytes: options.segmentBytes ?? offsetsLogSegmentBytes,
      retentionMs: -1,
      retentionBytes: -1,
      durability: { mode: "fsync" },
    });
    const log = await logStore.openLog(options.logName ?? offsetsLogName, config);
    const store = new OffsetStore(log, options);
    await store.replay();
    store.bytesSinceRewrite = log.sizeBytes;
    store.maybeRewrite();
    return store;
  }

  // ---------------------------------------------------------------------------------------
  // Reading

  groupIds(): IterableIterator<string> {
    return this.groups.keys();
  }

  hasGroup(group: string): boolean {
    return this.groups.has(group);
  }

  /** The group's durable offsets by topic and partition (do not mutate). */
  groupOffsets(group: string): ReadonlyMap<string, ReadonlyMap<number, OffsetValue>> | undefined {
    return this.groups.get(group);
  }

  get(group: string, topic: string, partition: number): OffsetValue | undefined {
    return this.groups.get(group)?.get(topic)?.get(partition);
  }

  stats(): OffsetStoreStats {
    return {
      groups: this.groups.size,
      offsets: this.offsetCount,
      logBytes: this.log.sizeBytes,
      bytesSinceRewrite: this.bytesSinceRewrite,
      rewrites: this.rewriteCount,
    };
  }

  // ---------------------------------------------------------------------------------------
  // Writing

  /** Stores offsets; resolves once they are durable (then they are visible to `get`). */
  commit(
    group: string,
    offsets: Array<{ topic: string; partition: number; value: OffsetValue }>,
  ): Promise<void> {
    return this.write(group, offsets);
  }

  /** Deletes offsets (tombstones); resolves once durable. */
  remove(group: string, keys: Array<{ topic: string; partition: number }>): Promise<void> {
    return this.write(
      group,
      keys.map(({ topic, partition }) => ({ topic, partition, value: null })),
    );
  }

  /** Deletes every offset of the group, including commits still in flight. */
  removeGroup(group: string): Promise<void> {
    const keys = new Map<string, { topic: string; partition: number }>();
    for (const [topic, partitions] of this.groups.get(group) ?? []) {
      for (const partition of partitions.keys())
        keys.set(pendingKey(group, topic, partition), { topic, partition });
    }
    for (const [key, write] of this.pending) {
      if (write.group === group && write.value !== null) keys.set(key, write);
    }
    return this.remove(group, [...keys.values()]);
  }

  private async write(group: string, writes: OffsetWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const timestamp = this.now();
    const records = writes.map((write) => toRecord({ group, ...write }, timestamp));
    const batches = this.encodeBatches(records, timestamp);
    const sequence = ++this.sequence;
    for (const write of writes) {
      const key = pendingKey(group, write.topic, write.partition);
      this.pending.set(key, {
        sequence,
        group,
        topic: write.topic,
        partition: write.partition,
        value: write.value,
      });
    }
    try {
      await this.log.append(batches);
    } finally {
      for (const write of writes) {
        const key = pendingKey(group, write.topic, write.partition);
        if (this.pending.get(key)?.sequence === sequence) this.pending.delete(key);
      }
    }
    for (const write of writes) this.apply(group, write.topic, write.partition, write.value);
    this.bytesSinceRewrite += batches.length;
    this.maybeRewrite();
  }

  /** Encodes records into batches of at most `batchBytes` (one record may exceed it alone). */
  private encodeBatches(records: RecordInput[], timestamp: number): Buffer {
    const batches: Buffer[] = [];
    let chunk: RecordInput[] = [];
    let chunkBytes = 0;
    for (const record of records) {
      const size = (record.key?.length ?? 0) + (record.value?.length ?? 0) + 16;
      if (chunk.length > 0 && chunkBytes + size > this.batchBytes) {
        batches.push(encodeBatch(chunk, { baseTimestamp: timestamp }));
        chunk = [];
        chunkBytes = 0;
      }
      chunk.push(record);
      chunkBytes += size;
    }
    if (chunk.length > 0) batches.push(encodeBatch(chunk, { baseTimestamp: timestamp }));
    return batches.length === 1 ? batches[0]! : Buffer.concat(batches);
  }

  private apply(group: string, topic: string, partition: number, value: OffsetValue | null): void {
    let topics = this.groups.get(group);
    if (value === null) {
      const partitions = topics?.get(topic);
      if (!partitions?.delete(partition)) return;
      this.offsetCount--;
      if (partitions.size === 0) topics!.delete(topic);
      if (topics!.size === 0) this.groups.delete(group);
      return;
    }
    if (!topics) this.groups.set(group, (topics = new Map()));
    let partitions = topics.get(topic);
    if (!partitions) topics.set(topic, (partitions = new Map()));
    if (!partitions.has(partition)) this.offsetCount++;
    partitions.set(partition, value);
  }

  // ---------------------------------------------------------------------------------------
  // Replay and rewrite

  private async replay(): Promise<void> {
    const log = this.log;
    let records = 0;
    let skipped = 0;
    await forEachRecord(
      log,
      replayReadBytes,
      (record) => {
        if (this.replayRecord(record.key, record.value)) records++;
        else skipped++;
      },
      (error, offset) => {
        const range = isWharfError(error, "WHARF_DATA_CORRUPT")
          ? log.corruptRanges().find((r) => r.startOffset <= offset && offset < r.endOffset)
          : undefined;
        if (!range) return null;
        this.options.logger.error(
          { range },
          "committed offsets lost to a corrupt range of the offsets log",
        );
        return range.endOffset;
      },
    );
    this.options.logger.info(
      {
        groups: this.groups.size,
        offsets: this.offsetCount,
        records,
        skipped,
        logBytes: log.sizeBytes,
      },
      "committed offsets loaded",
    );
  }

  private replayRecord(keyBytes: Buffer | null, valueBytes: Buffer | null): boolean {
    try {
      if (!keyBytes) throw new Error("record without a key");
      const key = decodeOffsetKey(keyBytes);
      const value = valueBytes === null ? null : decodeOffsetValue(valueBytes);
      this.apply(key.group, key.topic, key.partition, value);
      return true;
    } catch (error) {
      this.options.logger.warn({ err: error }, "skipping an unreadable record of the offsets log");
      return false;
    }
  }

  private maybeRewrite(): void {
    if (this.rewriting || this.closed) return;
    if (this.bytesSinceRewrite < Math.max(this.rewriteBytes, this.lastSnapshotBytes)) return;
    this.rewriting = this.rewrite()
      .catch((error) =>
        this.options.logger.error({ err: error }, "rewriting the offsets log failed"),
      )
      .finally(() => {
        this.rewriting = null;
      });
  }

  /** Appends a snapshot of every live key, then drops the log below it. */
  private async rewrite(): Promise<void> {
    const keys: OffsetRecordKey[] = [];
    for (const [group, topics] of this.groups) {
      for (const [topic, partitions] of topics) {
        for (const partition of partitions.keys()) keys.push({ group, topic, partition });
      }
    }
    for (const write of this.pending.values()) {
      if (!this.groups.get(write.group)?.get(write.topic)?.has(write.partition)) keys.push(write);
    }
    const sizeBefore = this.log.sizeBytes;
    this.bytesSinceRewrite = 0;
    let snapshotStart = -1;
    let snapshotBytes = 0;
    let index = 0;
    while (index < keys.length) {
      if (this.closed) return;
      const timestamp = this.now();
      const records: RecordInput[] = [];
      let size = 0;
      while (index < keys.length && size < this.batchBytes) {
        const key = keys[index++]!;
        const value = this.latest(key);
        if (!value) continue;
        const record = toRecord({ ...key, value }, timestamp);
        records.push(record);
        size += record.key!.length + record.value!.length + 16;
      }
      if (records.length === 0) continue;
      // Built and handed to the log in one synchronous step (see the header).
      const batch = encodeBatch(records, { baseTimestamp: timestamp });
      const result = await this.log.append(batch);
      if (snapshotStart < 0) snapshotStart = result.baseOffset;
      snapshotBytes += batch.length;
    }
    if (this.closed) return;
    if (snapshotStart < 0) snapshotStart = this.log.highWatermark; // nothing is live
    await this.log.deleteRecordsBefore(snapshotStart);
    this.lastSnapshotBytes = snapshotBytes;
    this.rewriteCount++;
    this.options.logger.info(
      {
        keys: keys.length,
        snapshotBytes,
        logBytesBefore: sizeBefore,
        logBytesAfter: this.log.sizeBytes,
      },
      "offsets log rewritten",
    );
  }

  private latest(key: OffsetRecordKey): OffsetValue | null | undefined {
    const pending = this.pending.get(pendingKey(key.group, key.topic, key.partition));
    if (pending) return pending.value;
    return this.get(key.group, key.topic, key.partition);
  }

  /** Stops rewriting; waits for a rewrite in progress. The LogStore closes the log. */
  async close(): Promise<void> {
    this.closed = true;
    await this.rewriting;
  }

  /** Runs a rewrite now (tests and operators); resolves when it is done. */
  async rewriteNow(): Promise<void> {
    if (this.rewriting) await this.rewriting;
    if (this.closed) return;
    this.rewriting = this.rewrite().finally(() => {
      this.rewriting = null;
    });
    await this.rewriting;
  }
}

function toRecord(
  write: OffsetRecordKey & { value: OffsetValue | null },
  timestamp: number,
): RecordInput {
  return {
    key: encodeOffsetKey(write),
    value: write.value === null ? null : encodeOffsetValue(write.value),
    timestamp,
  };
}
