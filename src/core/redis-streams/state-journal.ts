/**
 * The durable state of Redis streams beyond the entries themselves (consumer groups with their
 * pending-entries lists, consumers, XDEL'd offsets, id-index checkpoints), as a journal of
 * operations in one core-owned log (`__redis_streams` in the LogStore; not a topic).
 *
 * Design (as the consumer-offsets store, `groups/offset-store.ts`):
 * - Every state change is one record (value = the operation as JSON). `write` resolves after
 *   the append is durable, and the caller applies the operation to memory only then, so a
 *   reply (XACK, XREADGROUP, XCLAIM...) is sent only for changes that survive kill -9. The log
 *   is opened with `fsync` durability whatever the broker default is; concurrent writes share
 *   one fsync (group commit).
 * - Opening replays the log from its start through the same `apply` as live writes.
 * - Bounded: once `rewriteBytes` (and at least the last snapshot's size) were appended since
 *   the last snapshot, a snapshot of the whole state is appended (a `snap` record that resets
 *   the state, then records that rebuild it) and the log start moved to it.
 *
 * Ordering invariant of the snapshot: the snapshot is built when no write is in flight (new
 * writes wait at a gate; in-flight ones finish and apply), and handed to `Log.append` in the
 * same synchronous step, so it reflects every write before it; writes admitted afterwards land
 * at higher offsets. Dropping everything below the snapshot's first offset loses nothing.
 */

import {
  streamJournalBatchBytes,
  streamJournalRewriteBytes,
  streamJournalSegmentBytes,
} from "../../config/limits.ts";
import type { Logger } from "../../logging/logger.ts";
import type { Log } from "../../storage/log.ts";
import { defaultLogConfig } from "../../storage/log-config.ts";
import { forEachRecord } from "../../storage/log-records.ts";
import type { LogStore } from "../../storage/log-store.ts";
import { encodeBatch, type RecordInput } from "../../storage/record-batch.ts";

export const streamJournalLogName = "__redis_streams";

/** Bytes read per step while replaying. */
const replayReadBytes = 1024 * 1024;

/** A journal operation: a JSON object with an `op` name (see stream-state.ts). */
export type JournalOp = { op: string } & Record<string, unknown>;

export interface StateJournalOptions {
  logger: Logger;
  logName?: string;
  rewriteBytes?: number;
  segmentBytes?: number;
}

export interface JournalStats {
  logBytes: number;
  bytesSinceRewrite: number;
  rewrites: number;
}

export class StateJournal {
  private inFlight = 0;
  private drained: (() => void) | null = null;
  private gate: Promise<void> | null = null;
  private bytesSinceRewrite = 0;
  private lastSnapshotBytes = 0;
  private rewrites = 0;
  private rewriting: Promise<void> | null = null;
  private closed = false;
  private snapshotSource: (() => JournalOp[]) | null = null;
  private readonly rewriteBytes: number;

  private constructor(
    private readonly log: Log,
    private readonly options: StateJournalOptions,
  ) {
    this.rewriteBytes = options.rewriteBytes ?? streamJournalRewriteBytes;
  }

  /** Opens the journal and replays it into `apply`, oldest first. */
  static async open(
    logStore: LogStore,
    options: StateJournalOptions,
    apply: (op: JournalOp) => void,
  ): Promise<StateJournal> {
    const config = defaultLogConfig({
      segmentBytes: options.segmentBytes ?? streamJournalSegmentBytes,
      retentionMs: -1,
      retentionBytes: -1,
      durability: { mode: "fsync" },
    });
    const log = await logStore.openLog(options.logName ?? streamJournalLogName, config);
    const journal = new StateJournal(log, options);
    await journal.replay(apply);
    journal.bytesSinceRewrite = log.sizeBytes;
    return journal;
  }

  /** What a snapshot contains; set by the owner once its state is loaded. */
  setSnapshotSource(source: () => JournalOp[]): void {
    this.snapshotSource = source;
    this.maybeRewrite();
  }

  stats(): JournalStats {
    return {
      logBytes: this.log.sizeBytes,
      bytesSinceRewrite: this.bytesSinceRewrite,
      rewrites: this.rewrites,
    };
  }

  /**
   * Appends `ops` (one batch) and resolves once they are durable, after calling `apply`
   * (which must apply exactly these ops to memory, synchronously).
   */
  async write(ops: JournalOp[], apply: () => void): Promise<void> {
    while (this.gate) await this.gate;
    const batch = encodeOps(ops);
    this.inFlight++;
    try {
      await this.log.append(batch);
      apply();
    } finally {
      this.inFlight--;
      if (this.inFlight === 0 && this.drained) this.drained();
    }
    this.bytesSinceRewrite += batch.length;
    this.maybeRewrite();
  }

  private async replay(apply: (op: JournalOp) => void): Promise<void> {
    let records = 0;
    let skipped = 0;
    await forEachRecord(this.log, replayReadBytes, (record) => {
      if (!record.value) return;
      let op: JournalOp;
      try {
        op = JSON.parse(record.value.toString("utf8")) as JournalOp;
      } catch (error) {
        skipped++;
        this.options.logger.warn(
          { err: error, offset: record.offset },
          "unreadable journal record",
        );
        return;
      }
      apply(op);
      records++;
    });
    this.options.logger.info(
      { records, skipped, logBytes: this.log.sizeBytes },
      "redis streams state loaded",
    );
  }

  private maybeRewrite(): void {
    if (this.rewriting || this.closed || !this.snapshotSource) return;
    if (this.bytesSinceRewrite < Math.max(this.rewriteBytes, this.lastSnapshotBytes)) return;
    this.rewriting = this.rewrite()
      .catch((error) => this.options.logger.error({ err: error }, "journal rewrite failed"))
      .finally(() => {
        this.rewriting = null;
      });
  }

  /** Runs a snapshot now (tests); resolves when the old records are gone. */
  async rewriteNow(): Promise<void> {
    if (this.rewriting) await this.rewriting;
    if (this.closed || !this.snapshotSource) return;
    this.rewriting = this.rewrite().finally(() => {
      this.rewriting = null;
    });
    await this.rewriting;
  }

  private async rewrite(): Promise<void> {
    let openGate!: () => void;
    this.gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    const sizeBefore = this.log.sizeBytes;
    let snapshotStart = -1;
    let snapshotBytes = 0;
    try {
      if (this.inFlight > 0) {
        await new Promise<void>((resolve) => {
          this.drained = resolve;
        });
        this.drained = null;
      }
      if (this.closed) return;
      const ops: JournalOp[] = [{ op: "snap" }, ...this.snapshotSource!()];
      const groups = encodeOpBatches(ops);
      this.bytesSinceRewrite = 0;
      // The first append is handed to the log in the step that built the snapshot; a snapshot
      // too large for one append takes several, with the gate still closed.
      for (const group of groups) {
        snapshotBytes += group.length;
        const { baseOffset } = await this.log.append(group);
        if (snapshotStart < 0) snapshotStart = baseOffset;
      }
    } finally {
      this.gate = null;
      openGate();
    }
    if (this.closed || snapshotStart < 0) return;
    await this.log.deleteRecordsBefore(snapshotStart);
    this.lastSnapshotBytes = snapshotBytes;
    this.rewrites++;
    this.options.logger.info(
      { snapshotBytes, logBytesBefore: sizeBefore, logBytesAfter: this.log.sizeBytes },
      "redis streams journal rewritten",
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.rewriting;
  }
}

function toRecord(op: JournalOp, timestamp: number): RecordInput {
  return { key: null, value: Buffer.from(JSON.stringify(op), "utf8"), timestamp };
}

function encodeOps(ops: JournalOp[]): Buffer {
  const timestamp = Date.now();
  return encodeBatch(
    ops.map((op) => toRecord(op, timestamp)),
    { baseTimestamp: timestamp },
  );
}

/** Bytes of snapshot batches handed to one append (within the log's append-queue bound). */
const snapshotAppendBytes = 16 * 1024 * 1024;

/**
 * Encodes ops into batches of at most `streamJournalBatchBytes`, concatenated into groups of
 * at most `snapshotAppendBytes` (one append each).
 */
function encodeOpBatches(ops: JournalOp[]): Buffer[] {
  const timestamp = Date.now();
  const groups: Buffer[] = [];
  let group: Buffer[] = [];
  let groupBytes = 0;
  let chunk: RecordInput[] = [];
  let chunkBytes = 0;
  const closeChunk = () => {
    if (chunk.length === 0) return;
    const batch = encodeBatch(chunk, { baseTimestamp: timestamp });
    chunk = [];
    chunkBytes = 0;
    if (group.length > 0 && groupBytes + batch.length > snapshotAppendBytes) {
      groups.push(Buffer.concat(group));
      group = [];
      groupBytes = 0;
    }
    group.push(batch);
    groupBytes += batch.length;
  };
  for (const op of ops) {
    const record = toRecord(op, timestamp);
    const size = record.value!.length + 16;
    if (chunk.length > 0 && chunkBytes + size > streamJournalBatchBytes) closeChunk();
    chunk.push(record);
    chunkBytes += size;
  }
  closeChunk();
  if (group.length > 0) groups.push(Buffer.concat(group));
  return groups;
}
