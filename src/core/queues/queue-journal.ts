/**
 * The per-queue journal of a durable queue's cursor (`${logPrefix}-acks`, a core-owned log):
 * which offsets of each lane are settled (acked, dead-lettered, expired, dropped, purged), how
 * far each lane was delivered, and how often requeued messages were returned (delivery limit).
 *
 * Design and fault model.
 * - Records are JSON operations, gathered per tick into one batch and appended WITHOUT waiting
 *   for fsync (log durability "none"): an ack lost to a power cut means a redelivery, which
 *   AMQP allows; a process crash (kill -9) loses nothing already handed to the log's writer.
 * - The "delivered up to" mark is written ahead of deliveries (in steps), so after a crash it
 *   is never behind what a consumer saw: messages below it are redelivered with
 *   redelivered=true.
 * - Bounded: once `rewriteBytes` (and at least twice the last snapshot) were appended since the
 *   last snapshot, a snapshot of the whole cursor state is appended in the same synchronous
 *   step that built it (so it reflects every operation before it; later operations land after
 *   it) and the records before it are deleted.
 */
import type { Logger } from "../../logging/logger.ts";
import type { Log } from "../../storage/log.ts";
import { defaultLogConfig } from "../../storage/log-config.ts";
import { forEachRecord } from "../../storage/log-records.ts";
import type { LogStore } from "../../storage/log-store.ts";
import { encodeBatch } from "../../storage/record-batch.ts";

/** The cursor state of one lane, as a snapshot carries it. */
export interface LaneSnapshot {
  /** lane number */
  l: number;
  /** ack floor: every offset below it is settled */
  f: number;
  /** settled offsets above the floor */
  s: number[];
  /** settled ranges above the floor, flat [start, end, start, end...] */
  r: number[];
  /** delivered-up-to mark */
  d: number;
  /** returns of requeued messages, flat [offset, count, ...] */
  c: number[];
}

export type JournalOp =
  /** settled offsets as runs, flat [start, count, start, count...] */
  | { t: "a"; l: number; r: number[] }
  /** settled range [s, e) */
  | { t: "r"; l: number; s: number; e: number }
  | { t: "d"; l: number; o: number }
  | { t: "c"; l: number; o: number; n: number }
  | { t: "s"; lanes: LaneSnapshot[] };

export interface QueueJournalOptions {
  logStore: LogStore;
  logName: string;
  logger: Logger;
  segmentBytes: number;
  rewriteBytes: number;
  /** Bytes read per step while replaying. */
  readBytes: number;
}

export class QueueJournal {
  private pendingAcks = new Map<number, number[]>();
  private pendingOps: JournalOp[] = [];
  private flushScheduled = false;
  private bytesSinceSnapshot = 0;
  private lastSnapshotBytes = 0;
  private snapshotting = false;
  private closed = false;
  private lastAppend: Promise<unknown> = Promise.resolve();
  private snapshotSource: (() => LaneSnapshot[]) | null = null;
  snapshots = 0;

  private constructor(
    private readonly log: Log,
    private readonly options: QueueJournalOptions,
  ) {}

  /** Opens the journal and replays it into `apply`, oldest first. */
  static async open(
    options: QueueJournalOptions,
    apply: (op: JournalOp) => void,
  ): Promise<QueueJournal> {
    const config = defaultLogConfig({
      segmentBytes: options.segmentBytes,
      retentionMs: -1,
      retentionBytes: -1,
      durability: { mode: "none" },
    });
    const log = await options.logStore.openLog(options.logName, config);
    const journal = new QueueJournal(log, options);
    await journal.replay(apply);
    journal.bytesSinceSnapshot = log.sizeBytes;
    return journal;
  }

  setSnapshotSource(source: () => LaneSnapshot[]): void {
    this.snapshotSource = source;
  }

  get logBytes(): number {
    return this.log.sizeBytes;
  }

  settled(lane: number, offset: number): void {
    let list = this.pendingAcks.get(lane);
    if (!list) {
      list = [];
      this.pendingAcks.set(lane, list);
    }
    list.push(offset);
    this.schedule();
  }

  write(op: JournalOp): void {
    this.pendingOps.push(op);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** Appends what was gathered this tick (and a snapshot when due). */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const ops = this.pendingOps;
    this.pendingOps = [];
    for (const [lane, offsets] of this.pendingAcks) ops.push({ t: "a", l: lane, r: runs(offsets) });
    this.pendingAcks.clear();
    if (ops.length > 0) {
      const batch = encodeOps(ops);
      this.bytesSinceSnapshot += batch.length;
      this.append(batch);
    }
    this.maybeSnapshot();
  }

  private append(batch: Buffer): Promise<number | null> {
    const done = this.log.append(batch).then(
      (result) => result.baseOffset,
      (error) => {
        this.options.logger.error({ err: error }, "queue journal append failed");
        return null;
      },
    );
    this.lastAppend = done;
    return done;
  }

  private maybeSnapshot(): void {
    if (this.snapshotting || !this.snapshotSource) return;
    const due = Math.max(this.options.rewriteBytes, 2 * this.lastSnapshotBytes);
    if (this.bytesSinceSnapshot < due) return;
    // Built and handed to the log in one synchronous step: see the header.
    const batch = encodeOps([{ t: "s", lanes: this.snapshotSource() }]);
    this.bytesSinceSnapshot = 0;
    this.lastSnapshotBytes = batch.length;
    this.snapshotting = true;
    void this.append(batch)
      .then(async (base) => {
        if (base !== null && !this.closed) await this.log.deleteRecordsBefore(base);
        this.snapshots++;
      })
      .catch((error) => this.options.logger.error({ err: error }, "queue journal rewrite failed"))
      .finally(() => {
        this.snapshotting = false;
      });
  }

  /** Forces a snapshot at the next flush (tests). */
  snapshotSoon(): void {
    this.bytesSinceSnapshot = Number.MAX_SAFE_INTEGER;
    this.schedule();
  }

  /** Resolves once everything written so far was handed to the log and appended. */
  async drain(): Promise<void> {
    if (this.flushScheduled) this.flush();
    await this.lastAppend;
  }

  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
  }

  private async replay(apply: (op: JournalOp) => void): Promise<void> {
    await forEachRecord(this.log, this.options.readBytes, (record) => {
      if (!record.value) return;
      let op: JournalOp;
      try {
        op = JSON.parse(record.value.toString("utf8")) as JournalOp;
      } catch (error) {
        this.options.logger.warn({ err: error, offset: record.offset }, "bad journal record");
        return;
      }
      apply(op);
    });
  }
}

/** Offsets as runs of consecutive values, flat [start, count, ...] (acks come mostly in order). */
export function runs(offsets: number[]): number[] {
  const out: number[] = [];
  let start = -1;
  let count = 0;
  for (const offset of offsets) {
    if (count > 0 && offset === start + count) {
      count++;
      continue;
    }
    if (count > 0) out.push(start, count);
    start = offset;
    count = 1;
  }
  if (count > 0) out.push(start, count);
  return out;
}

function encodeOps(ops: JournalOp[]): Buffer {
  const timestamp = Date.now();
  return encodeBatch(
    ops.map((op) => ({ key: null, value: Buffer.from(JSON.stringify(op), "utf8"), timestamp })),
    { baseTimestamp: timestamp },
  );
}
