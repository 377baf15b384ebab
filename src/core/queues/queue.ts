/**
 * A classic (RabbitMQ-style) queue: one log per priority lane plus one individual-ack cursor
 * shared by competing consumers (DESIGN.md, "Queue").
 *
 * Design.
 * - Storage: lane `p` is the log `${logPrefix}-p${p}`, created on first use. A message is one
 *   record (queue-record.ts). The enqueues of one tick go to a lane in one append (split into
 *   batches of `queueAppendBatchRecordsMax`). A message becomes deliverable once its append
 *   resolved (its offset is known): after the write for a non-durable queue, after fsync for a
 *   durable one (group commit shares that fsync).
 * - Writes are bounded: the enqueues not yet handed to the log are cut into groups of about
 *   `queueAppendGroupBytes` (one append each) and at most `queueWriteInFlightBytes` of them are in
 *   the log's append queue at a time; the rest wait in the lane (`sealed`) and go as writes
 *   complete. So a flood (or a log still opening) never makes one append larger than the
 *   log's append queue (WHARF_BATCH_TOO_LARGE) nor fills it (WHARF_APPEND_QUEUE_FULL): either
 *   error would fail every message of the append, silently for transient ones (no confirm).
 *   While more than `queueWriteBacklogBytes` wait in the lane, every enqueue (transient ones too)
 *   gets its group's promise as `durable`, so the adapter's publish-in-flight bound pushes
 *   back on the publishers instead of the lane holding the flood in memory.
 * - Memory is bounded: each lane keeps at most a window of ready messages in memory
 *   (`queueReadAheadMessages` / `queueReadAheadBytes`). While a lane is "caught up", new
 *   enqueues join the window directly; once the window is full the lane stops being caught up,
 *   new messages stay on disk only, and the window is refilled by reading the log from
 *   `readOffset`. Unacked messages are kept in memory (bounded by the consumers' prefetch).
 *   A load refills the window once it is below half, and messages read from a chunk are
 *   copied out of it when they use a small part of it, so a window (or a prefetch of unacked
 *   messages) never pins whole read chunks for a few messages each.
 * - The cursor (lane-cursor.ts): an ack floor per lane plus the offsets settled above it.
 *   Requeued messages go back into a per-lane list delivered before the window, in offset
 *   order. When the floor passes whole segments they are deleted (Log.deleteRecordsBefore).
 * - Relocation: one unacked message (or a few) below many acked ones pins the ack floor, so
 *   the settled set ("ack holes") grows and no segment can go. Past `queueAckHolesMax` holes
 *   (or once the floor pins a whole segment) the pinning unacked messages are copied to the
 *   tail (flagged "delivered before") and their old offsets settled: the floor moves on. The
 *   consumer still settles them by their original id.
 * - Ids: lane * 2^45 + offset, unique among unsettled messages (offsets never repeat: a failed
 *   append's offsets are handed out again, but nothing was delivered under them).
 * - Durable queues journal their cursor (queue-journal.ts); `open` recovers it: lanes are
 *   re-read from the floor, settled offsets are skipped, transient messages written before the
 *   restart are dropped, and messages below the "delivered up to" mark are redelivered with
 *   redelivered=true.
 * - Direct hand-over: a message that need not survive a restart (transient, or any in a
 *   non-durable queue), published to a queue with nothing ready whose consumers are all no-ack,
 *   goes straight to a consumer with room; it is never written (handOver).
 * - Dispatch runs in bursts of `queueDispatchBurst` deliveries plus the enqueues since the
 *   previous burst, then yields (setImmediate).
 *   Higher lanes first; requeued before new; consumers by priority, round robin among equals,
 *   each asked `canTake` first; single-active-consumer gives everything to the first one.
 * - TTL: expired messages are dropped or dead-lettered when they reach the head of their lane
 *   (as RabbitMQ); a timer looks at the heads when nothing else would.
 *
 * Fault model. A failed lane append fails the publishes of that append (their `durable`
 * promise rejects; they leave the ready count) and resynchronises the lane's window from the
 * log. Storage errors while reading are logged and the read retried on the next dispatch.
 */
import {
  queueAckHolesMax,
  queueAppendBatchBytes,
  queueAppendBatchRecordsMax,
  queueAppendGroupBytes,
  queueDeliveredMarkStep,
  queueDispatchBurst,
  queueJournalRewriteBytes,
  queueJournalSegmentBytes,
  queueReadAheadBytes,
  queueReadAheadMessages,
  queueReadChunkBytes,
  queueRelocateMessagesMax,
  queueSegmentBytes,
  queueWriteBacklogBytes,
  queueWriteInFlightBytes,
} from "../../config/limits.ts";
import { WharfError } from "../../errors/index.ts";
import type { Logger } from "../../logging/logger.ts";
import type { Log } from "../../storage/log.ts";
import { defaultLogConfig } from "../../storage/log-config.ts";
import type { LogStore } from "../../storage/log-store.ts";
import {
  BATCH_LOG_OVERHEAD,
  type DecodedRecord,
  decodeRecords,
  encodeBatch,
  type RecordInput,
  readBatchHeader,
} from "../../storage/record-batch.ts";
import { RoutingError } from "../routing/types.ts";
import { LaneCursor } from "./lane-cursor.ts";
import { laneFor, type QueueSettings } from "./queue-arguments.ts";
import { type JournalOp, type LaneSnapshot, QueueJournal } from "./queue-journal.ts";
import { messageRecord, type StoredMessage, storedMessage } from "./queue-record.ts";
import type {
  ConsumerRegistration,
  DeliverySource,
  QueueConsumer,
  QueuedMessage,
} from "./queue-types.ts";

export {
  type OverflowMode,
  parseQueueArguments,
  type QueueSettings,
} from "./queue-arguments.ts";

export type DeadLetterReason = "rejected" | "expired" | "maxlen" | "delivery_limit";

export interface DeadLetter {
  readonly queue: string;
  readonly reason: DeadLetterReason;
  readonly exchange: string;
  readonly routingKey: string;
  readonly propertiesBytes: Buffer;
  readonly body: Buffer;
}

export interface EnqueueInput {
  exchange: string;
  routingKey: string;
  propertiesBytes: Buffer;
  body: Buffer;
  persistent: boolean;
  priority: number;
  expirationMs: number | undefined;
}

export interface EnqueueResult {
  accepted: boolean;
  /**
   * Resolves when stored durably (persistent message in a durable queue), or when written
   * while the lane's writes are backed up (any message: back-pressure on the publisher, see
   * queueWriteBacklogBytes); rejects when the write failed. Null when there is nothing to wait for.
   */
  durable: Promise<void> | null;
}

export interface QueueOpenOptions {
  name: string;
  vhost: string;
  logStore: LogStore;
  /** Unique, stable log-name prefix for this queue, chosen by the vhost, e.g. "__queue-17". */
  logPrefix: string;
  durable: boolean;
  settings: QueueSettings;
  logger: Logger;
  onDeadLetter: (deadLetter: DeadLetter) => void;
  /** Called when the queue becomes unused: last consumer gone (auto-delete). */
  onUnused?: () => void;
  now?: () => number;
  /** Lane log segment size (tests lower it to see space reclaimed). */
  segmentBytes?: number;
  /** Ack journal snapshot threshold (tests lower it). */
  journalRewriteBytes?: number;
  /**
   * The log names on disk (`LogStore.listLogs()`), when the caller opens many queues at
   * startup and lists once; listed here when absent.
   */
  logNames?: readonly string[];
}

/**
 * A chunk read to refill a window whose admitted messages use less than this fraction of it
 * is not kept alive by them: their bytes are copied into one buffer of their own.
 */
const READ_CHUNK_KEEP_FRACTION = 0.5;

/** Lanes are numbered 0..255: 2^45 offsets per lane keeps every id a safe integer. */
const LANE_FACTOR = 2 ** 45;
const WAIT = Symbol("wait");
const LANE_LOG = /-p(\d{1,3})$/;

class Entry implements StoredMessage {
  offset = -1;
  /** Mutable so that a window load can copy it out of a large read chunk (compactLoaded). */
  propertiesBytes: Buffer;
  body: Buffer;
  redelivered = false;
  /** Times it was given back to the queue (x-delivery-limit). */
  returns = 0;
  /** Settled before its offset was known: settle the offset once written. */
  dropped = false;
  /**
   * In the lane log with its fdatasync pending: the offset it was written at (-1: not
   * written). Provisional: if the append fails after all, the log hands the offset out again.
   */
  writtenAt = -1;
  /** Handed to an acking consumer before its offset was known: the id it got last (else 0). */
  earlyId = 0;
  /** Its append failed: it never existed. */
  failed = false;
  /** Unacked and relocated: the entry whose offset holds the live copy (else this one). */
  current: Entry = this;
  /** A relocated copy being written. */
  pending: Entry | null = null;

  constructor(
    readonly lane: number,
    readonly exchange: string,
    readonly routingKey: string,
    propertiesBytes: Buffer,
    body: Buffer,
    readonly persistent: boolean,
    readonly expiresAt: number,
  ) {
    this.propertiesBytes = propertiesBytes;
    this.body = body;
  }
}

/** Enqueues cut for one append, with the waiter of its persistent messages. */
interface WriteGroup {
  entries: Entry[];
  bytes: number;
  waiter: DurableWaiter | null;
}

/** What a message costs in an append (the estimate encodeEntries cuts batches by). */
function entryBytes(entry: Entry): number {
  return (
    entry.body.length +
    entry.propertiesBytes.length +
    entry.routingKey.length +
    entry.exchange.length +
    48
  );
}

/** An array used as a FIFO: shift is O(1) amortised. */
class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  last(): T | undefined {
    return this.length > 0 ? this.items[this.items.length - 1] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }
}

interface DurableWaiter {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

class Lane {
  log: Log | null = null;
  opening: Promise<Log> | null = null;
  readonly cursor = new LaneCursor();
  /** Ready messages in memory, offset order (unwritten ones at the tail while caught up). */
  readonly ready = new Deque<Entry>();
  /** Messages given back, offset order; delivered before `ready`. */
  requeued: Entry[] = [];
  /** Ready messages of the lane: requeued, in memory, being written, on disk. */
  readyCount = 0;
  readyBytes = 0;
  /** Body bytes held by `ready`. */
  memoryBytes = 0;
  /** New enqueues join `ready` (everything before them is in memory or delivered). */
  caughtUp = true;
  /** Next offset to read into `ready` (when not caught up and `boundary` is null). */
  readOffset = 0;
  /**
   * A load read up to the log's end while appends were in flight: the append that starts at
   * `readOffset` takes the lane back to caught up from memory (tryCatchUp).
   */
  catchUpPending = false;
  /**
   * The latest messages written while not caught up (offset order, bounded like the window):
   * a load that reaches them takes them from here instead of reading them back.
   */
  writtenTail: Entry[] = [];
  writtenTailBytes = 0;
  /** The last message kept in memory before the lane stopped being caught up. */
  boundary: Entry | null = null;
  loading: Promise<void> | null = null;
  /** Bumped when the window is reset (purge, failed append): in-progress loads are void. */
  generation = 0;
  /** Enqueues of the group being gathered (not yet sealed nor handed to the log). */
  unflushed: Entry[] = [];
  unflushedBytes = 0;
  /** Its waiter (persistent messages of a durable queue, or any while backed up). */
  waiter: DurableWaiter | null = null;
  /** Groups sealed, waiting for room among the appends in flight (FIFO). */
  readonly sealed: WriteGroup[] = [];
  sealedBytes = 0;
  flushScheduled = false;
  /** Groups handed to the log whose append has not completed, in append order. */
  readonly inFlightGroups: WriteGroup[] = [];
  inFlight = 0;
  inFlightBytes = 0;
  lastWrite: Promise<void> = Promise.resolve();
  /** Journal "delivered up to" mark, and its value when the queue was opened. */
  markPersisted = 0;
  markAtOpen = 0;
  /** Offsets below it were written before this process opened the queue. */
  recoveredEnd = 0;
  /** Returns of requeued messages recovered from the journal, until loaded. */
  readonly returns = new Map<number, number>();
  reclaimAt = 0;
  reclaiming = false;
  /** Offsets of relocated copies of unacked messages (not ready: a load skips them). */
  readonly copies = new Set<number>();
  relocating: Promise<void> | null = null;
  /** Ack holes at which relocation is considered next. */
  relocateAt = queueAckHolesMax;
  /** Settles that left the floor where it was (a pinned floor), counted for the check. */
  pinnedSettles = 0;

  constructor(readonly index: number) {}
}

interface ConsumerSlot {
  readonly consumer: QueueConsumer;
  readonly priority: number;
  cancelled: boolean;
}

export class Queue implements DeliverySource {
  readonly name: string;
  readonly vhost: string;
  readonly durable: boolean;
  readonly settings: QueueSettings;
  private readonly logStore: LogStore;
  private readonly logPrefix: string;
  private readonly logger: Logger;
  private readonly onDeadLetter: (deadLetter: DeadLetter) => void;
  private readonly onUnused: (() => void) | undefined;
  private readonly now: () => number;
  private readonly segmentBytes: number;
  private readonly journalRewriteBytes: number;
  private readonly logNames: readonly string[] | undefined;
  private lanes: Lane[] = [];
  private journal: QueueJournal | null = null;
  private readonly unacked = new Map<number, Entry>();
  /**
   * Ids handed out before the offset was known (see handOut), once it is: early id → the
   * offset's id the message is now unacked under. One per such unacked message.
   */
  private readonly earlyAliases = new Map<number, number>();
  /** The next early id: negative, below the -1 of unsettleable deliveries, never reused. */
  private nextEarlyId = -2;
  private readonly requeuedIds = new Set<number>();
  /** Consumers in registration order (single active consumer takes the first). */
  private slots: ConsumerSlot[] = [];
  /** Consumers that acknowledge (not no-ack): while there are any, no direct hand-over. */
  private ackingConsumers = 0;
  /** The same, by priority (highest first, registration order among equals). */
  private byPriority: ConsumerSlot[] = [];
  private readonly roundRobin = new Map<number, number>();
  private exclusiveSlot: ConsumerSlot | null = null;
  private readyTotal = 0;
  private bytesTotal = 0;
  private dispatchScheduled = false;
  /** Enqueues (not handed over) since the last dispatch pass: added to its budget. */
  private enqueuedSinceDispatch = 0;
  private expiryTimer: NodeJS.Timeout | null = null;
  private expiryAt = Number.POSITIVE_INFINITY;
  private closed = false;
  private deleted = false;
  private usedAt: number;

  private constructor(options: QueueOpenOptions) {
    this.name = options.name;
    this.vhost = options.vhost;
    this.durable = options.durable;
    this.settings = options.settings;
    this.logStore = options.logStore;
    this.logPrefix = options.logPrefix;
    this.logger = options.logger.child({ component: "queue", queue: options.name });
    this.onDeadLetter = options.onDeadLetter;
    this.onUnused = options.onUnused;
    this.now = options.now ?? Date.now;
    this.segmentBytes = options.segmentBytes ?? queueSegmentBytes;
    this.journalRewriteBytes = options.journalRewriteBytes ?? queueJournalRewriteBytes;
    this.logNames = options.logNames;
    this.usedAt = this.now();
  }

  /** Opens the queue, recovering a durable one's messages and cursor from its logs. */
  static async open(options: QueueOpenOptions): Promise<Queue> {
    const queue = new Queue(options);
    await queue.recover();
    return queue;
  }

  /** Deletes every log of the queue with this prefix (lanes and journal). */
  static async deleteLogs(
    logStore: LogStore,
    logPrefix: string,
    logNames?: readonly string[],
  ): Promise<void> {
    for (const name of logNames ?? (await logStore.listLogs())) {
      if (isQueueLog(name, logPrefix)) await logStore.deleteLog(name);
    }
  }

  get messagesReady(): number {
    return this.readyTotal;
  }

  get messagesUnacknowledged(): number {
    return this.unacked.size;
  }

  get consumerCount(): number {
    return this.slots.length;
  }

  get bytesReady(): number {
    return this.bytesTotal;
  }

  /** Messages held in memory (ready windows, requeued, unacknowledged): bounded, not the backlog. */
  get messagesInMemory(): number {
    let count = this.unacked.size;
    for (const lane of this.lanes) count += lane.ready.length + lane.requeued.length;
    return count;
  }

  /** Offsets settled above the ack floors (ack holes): bounded by relocation. */
  get ackHoles(): number {
    let count = 0;
    for (const lane of this.lanes) count += lane.cursor.settled.size;
    return count;
  }

  /** Bytes of the lane logs on disk (what acks give back once whole segments are settled). */
  get logBytes(): number {
    let bytes = 0;
    for (const lane of this.lanes) bytes += lane.log?.sizeBytes ?? 0;
    return bytes;
  }

  /** When a consumer, basic.get or declaration last used the queue (x-expires is the vhost's). */
  get lastUsedAt(): number {
    return this.usedAt;
  }

  /** Marks the queue used now (the vhost calls it on redeclare). */
  touch(): void {
    this.usedAt = this.now();
  }

  // -------------------------------------------------------------------------------------------
  // Recovery

  private laneLogName(lane: number): string {
    return `${this.logPrefix}-p${lane}`;
  }

  private openLaneLog(lane: number): Promise<Log> {
    const config = defaultLogConfig({
      segmentBytes: this.segmentBytes,
      retentionMs: -1,
      retentionBytes: -1,
      durability: this.durable ? { mode: "fsync" } : { mode: "none" },
    });
    return this.logStore.openLog(this.laneLogName(lane), config);
  }

  private async recover(): Promise<void> {
    let laneCount = (this.settings.maxPriority ?? 0) + 1;
    const onDisk: number[] = [];
    if (!this.durable) {
      // A transient queue starts empty, whatever a previous process left.
      await Queue.deleteLogs(this.logStore, this.logPrefix, this.logNames);
    } else {
      for (const name of this.logNames ?? (await this.logStore.listLogs())) {
        if (!name.startsWith(`${this.logPrefix}-p`)) continue;
        const match = LANE_LOG.exec(name);
        if (!match || `${this.logPrefix}-p${match[1]}` !== name) continue;
        const lane = Number(match[1]);
        if (lane > 255) continue;
        onDisk.push(lane);
        laneCount = Math.max(laneCount, lane + 1);
      }
    }
    this.lanes = Array.from({ length: laneCount }, (_, index) => new Lane(index));
    for (const index of onDisk) {
      const lane = this.lanes[index]!;
      lane.log = await this.openLaneLog(index);
      lane.cursor.reset(lane.log.logStartOffset, [], []);
    }
    if (this.durable) {
      this.journal = await QueueJournal.open(
        {
          logStore: this.logStore,
          logName: `${this.logPrefix}-acks`,
          logger: this.logger,
          segmentBytes: queueJournalSegmentBytes,
          rewriteBytes: this.journalRewriteBytes,
          readBytes: queueReadChunkBytes * 4,
        },
        (op) => this.replay(op),
      );
    }
    for (const lane of this.lanes) {
      const log = lane.log;
      if (!log) continue;
      lane.cursor.raiseFloor(log.logStartOffset);
      const end = log.highWatermark;
      lane.recoveredEnd = end;
      lane.markAtOpen = lane.markPersisted;
      lane.readOffset = lane.cursor.floor;
      lane.readyCount = Math.max(0, end - lane.cursor.floor - lane.cursor.settledBelow(end));
      this.readyTotal += lane.readyCount;
      lane.caughtUp = lane.cursor.floor >= end;
    }
    this.journal?.setSnapshotSource(() => this.snapshot());
    // A first window per lane: counts are exact at once for backlogs that fit in it.
    await Promise.all(this.lanes.map((lane) => (lane.caughtUp ? null : this.startLoad(lane))));
    this.logger.debug(
      { ready: this.readyTotal, lanes: onDisk.length },
      onDisk.length > 0 ? "queue recovered" : "queue opened",
    );
  }

  private replay(op: JournalOp): void {
    if (op.t === "s") {
      for (const lane of this.lanes) {
        lane.cursor.reset(lane.log?.logStartOffset ?? 0, [], []);
        lane.returns.clear();
        lane.markPersisted = 0;
      }
      for (const state of op.lanes) {
        const lane = this.lanes[state.l];
        if (!lane) continue;
        lane.cursor.reset(Math.max(state.f, lane.log?.logStartOffset ?? 0), state.s, state.r);
        lane.markPersisted = state.d;
        for (let i = 0; i + 1 < state.c.length; i += 2)
          lane.returns.set(state.c[i]!, state.c[i + 1]!);
      }
      return;
    }
    const lane = this.lanes[op.l];
    if (!lane) return;
    switch (op.t) {
      case "a":
        for (let i = 0; i + 1 < op.r.length; i += 2) {
          const start = op.r[i]!;
          for (let offset = start; offset < start + op.r[i + 1]!; offset++) {
            lane.cursor.settle(offset);
            if (lane.returns.size > 0) lane.returns.delete(offset);
          }
        }
        break;
      case "r":
        lane.cursor.settleRange(op.s, op.e);
        break;
      case "d":
        lane.markPersisted = Math.max(lane.markPersisted, op.o);
        break;
      case "c":
        lane.returns.set(op.o, op.n);
        break;
    }
  }

  private snapshot(): LaneSnapshot[] {
    const returns = new Map<number, number[]>();
    const addReturns = (entry: Entry) => {
      const offset = entry.current.offset;
      if (entry.returns === 0 || offset < 0) return;
      let list = returns.get(entry.lane);
      if (!list) returns.set(entry.lane, (list = []));
      list.push(offset, entry.returns);
    };
    for (const entry of this.unacked.values()) addReturns(entry);
    for (const lane of this.lanes) for (const entry of lane.requeued) addReturns(entry);
    return this.lanes.map((lane) => {
      const c = returns.get(lane.index) ?? [];
      for (const [offset, count] of lane.returns) c.push(offset, count);
      return {
        l: lane.index,
        f: lane.cursor.floor,
        s: [...lane.cursor.settled],
        r: [...lane.cursor.ranges],
        d: lane.markPersisted,
        c,
      };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Enqueue

  /** Synchronous admission (max-length, lane choice); the write happens at the end of the tick. */
  enqueue(input: EnqueueInput): EnqueueResult {
    if (this.closed) return { accepted: false, durable: null };
    const settings = this.settings;
    const now = this.now();
    let expiresAt = Number.POSITIVE_INFINITY;
    if (settings.messageTtlMs !== undefined) expiresAt = now + settings.messageTtlMs;
    if (input.expirationMs !== undefined) expiresAt = Math.min(expiresAt, now + input.expirationMs);
    if (settings.overflow !== "drop-head" && this.full()) {
      if (settings.overflow === "reject-publish-dlx") this.deadLetter(input, "maxlen");
      return { accepted: false, durable: null };
    }
    if (
      this.readyTotal === 0 &&
      this.ackingConsumers === 0 &&
      this.slots.length > 0 &&
      !(this.durable && input.persistent) &&
      !this.closed
    ) {
      const slot = this.pickConsumer(input.body.length);
      if (slot) {
        this.handOver(slot.consumer, input);
        return { accepted: true, durable: null };
      }
    }
    const laneIndex = Math.min(laneFor(settings, input.priority), this.lanes.length - 1);
    const lane = this.lanes[laneIndex]!;
    const entry = new Entry(
      laneIndex,
      input.exchange,
      input.routingKey,
      input.propertiesBytes,
      input.body,
      input.persistent,
      expiresAt,
    );
    lane.readyCount++;
    lane.readyBytes += entry.body.length;
    this.readyTotal++;
    this.enqueuedSinceDispatch++;
    this.bytesTotal += entry.body.length;
    lane.unflushed.push(entry);
    lane.unflushedBytes += entryBytes(entry);
    if (lane.caughtUp) {
      lane.ready.push(entry);
      lane.memoryBytes += entry.body.length;
      if (lane.ready.length >= queueReadAheadMessages || lane.memoryBytes >= queueReadAheadBytes) {
        lane.caughtUp = false;
        lane.boundary = entry;
      }
    }
    let durable: Promise<void> | null = null;
    // Back-pressure: while the lane holds more than queueWriteBacklogBytes for the log, every
    // publisher waits for its write (the adapter bounds what it has in flight).
    if ((this.durable && input.persistent) || this.writeBacklogged(lane)) {
      durable = (lane.waiter ??= createWaiter()).promise;
    }
    if (lane.unflushedBytes >= queueAppendGroupBytes) this.sealGroup(lane);
    this.scheduleFlush(lane);
    if (lane.caughtUp && this.ackingConsumers === 0 && this.slots.length > 0 && !durable) {
      this.scheduleDispatch(); // may go before its write (see dispatch)
    }
    if (settings.overflow === "drop-head") this.enforceMaxLength();
    return { accepted: true, durable };
  }

  /** Whether a new message would exceed x-max-length / x-max-length-bytes (RabbitMQ's check). */
  private full(): boolean {
    const { maxLength, maxLengthBytes } = this.settings;
    return (
      (maxLength !== undefined && this.readyTotal >= maxLength) ||
      (maxLengthBytes !== undefined && this.bytesTotal >= maxLengthBytes)
    );
  }

  private overLimit(): boolean {
    const { maxLength, maxLengthBytes } = this.settings;
    return (
      (maxLength !== undefined && this.readyTotal > maxLength) ||
      (maxLengthBytes !== undefined && this.bytesTotal > maxLengthBytes)
    );
  }

  /** drop-head: the oldest ready messages go (dead-lettered "maxlen") until within limits. */
  private enforceMaxLength(): void {
    while (this.overLimit()) {
      const head = this.peekHead(true);
      if (head === null || head === WAIT) return; // a load will call again
      this.removeHead(head);
      this.deadLetter(head, "maxlen");
      this.settleEntry(head);
    }
  }

  private scheduleFlush(lane: Lane): void {
    if (lane.flushScheduled) return;
    lane.flushScheduled = true;
    queueMicrotask(() => this.flushLane(lane));
  }

  /** Whether enqueues of the lane should wait for their write (see queueWriteBacklogBytes). */
  private writeBacklogged(lane: Lane): boolean {
    return lane.sealedBytes + lane.unflushedBytes > queueWriteBacklogBytes;
  }

  /** Enqueues not yet handed to the log (gathered or sealed). */
  private hasUnwritten(lane: Lane): boolean {
    return lane.unflushed.length > 0 || lane.sealed.length > 0;
  }

  /** Closes the group being gathered: it becomes one append, in order after earlier groups. */
  private sealGroup(lane: Lane): void {
    if (lane.unflushed.length === 0) return;
    lane.sealed.push({ entries: lane.unflushed, bytes: lane.unflushedBytes, waiter: lane.waiter });
    lane.sealedBytes += lane.unflushedBytes;
    lane.unflushed = [];
    lane.unflushedBytes = 0;
    lane.waiter = null;
  }

  /**
   * Hands the lane's sealed groups (and this tick's enqueues) to the log, one append per
   * group, while fewer than queueWriteInFlightBytes are in flight; a completed write calls again.
   */
  private flushLane(lane: Lane): void {
    lane.flushScheduled = false;
    this.sealGroup(lane);
    if (lane.sealed.length === 0) return;
    const log = lane.log;
    if (!log) {
      if (lane.opening) return;
      lane.opening = this.openLaneLog(lane.index);
      lane.opening.then(
        (opened) => {
          lane.log = opened;
          lane.cursor.reset(opened.logStartOffset, [], []);
          lane.readOffset = opened.logEndOffset;
          lane.recoveredEnd = opened.logStartOffset;
          this.flushLane(lane);
        },
        (error) => {
          lane.opening = null;
          this.sealGroup(lane);
          for (const group of lane.sealed.splice(0)) {
            this.failEntries(lane, group.entries, group.waiter, error);
          }
          lane.sealedBytes = 0;
        },
      );
      return;
    }
    while (lane.sealed.length > 0) {
      const group = lane.sealed[0]!;
      if (lane.inFlightBytes > 0 && lane.inFlightBytes + group.bytes > queueWriteInFlightBytes) {
        return; // a completed write calls again
      }
      lane.sealed.shift();
      lane.sealedBytes -= group.bytes;
      this.appendGroup(lane, log, group);
    }
  }

  private appendGroup(lane: Lane, log: Log, group: WriteGroup): void {
    const { entries, waiter, bytes } = group;
    let buffer: Buffer;
    try {
      buffer = encodeEntries(entries, this.now());
    } catch (error) {
      this.failEntries(lane, entries, waiter, error);
      return;
    }
    lane.inFlight++;
    lane.inFlightBytes += bytes;
    lane.inFlightGroups.push(group);
    const written = () => {
      lane.inFlight--;
      lane.inFlightBytes -= bytes;
      const at = lane.inFlightGroups.indexOf(group);
      if (at >= 0) lane.inFlightGroups.splice(at, 1);
    };
    const onWritten = (baseOffset: number) => {
      let offset = baseOffset;
      for (const entry of entries) entry.writtenAt = offset++;
      if (this.slots.length > 0) this.scheduleDispatch(); // they may go now (see dispatch)
    };
    lane.lastWrite = log.append(buffer, { onWritten }).then(
      (result) => {
        written();
        let offset = result.baseOffset;
        for (const entry of entries) {
          entry.offset = offset++;
          if (entry.dropped) this.settle(lane, entry.offset);
          else if (entry.earlyId !== 0) this.earlyDeliveryDurable(lane, entry);
        }
        if (
          lane.catchUpPending &&
          lane.loading === null &&
          lane.boundary === null &&
          lane.readOffset === result.baseOffset
        ) {
          // Exactly the records the reader would read next: take them from memory instead.
          this.tryCatchUp(lane, entries);
        }
        if (!lane.caughtUp) this.rememberWritten(lane, entries);
        waiter?.resolve();
        if (lane.sealed.length > 0) this.flushLane(lane);
        this.afterWrite(lane);
      },
      (error) => {
        written();
        this.failEntries(lane, entries, waiter, error);
        if (lane.sealed.length > 0) this.flushLane(lane);
      },
    );
  }

  /** Entries whose write failed: they never existed; their publishers get a nack. */
  private failEntries(
    lane: Lane,
    entries: Entry[],
    waiter: DurableWaiter | null,
    error: unknown,
  ): void {
    this.logger.error({ err: error, messages: entries.length }, "queue append failed");
    for (const entry of entries) {
      entry.failed = true;
      if (entry.earlyId !== 0) {
        // Delivered while its write was pending: that delivery settles nothing now (its early
        // id is never reused, and no offset's id stands for it). Given back, it was ready.
        if (this.unacked.get(entry.earlyId) === entry) this.unacked.delete(entry.earlyId);
        else if (!entry.dropped) this.countRemoved(lane, entry);
        entry.dropped = true;
        continue;
      }
      if (entry.dropped) continue;
      entry.dropped = true;
      this.countRemoved(lane, entry);
    }
    waiter?.reject(error);
    // Kept entries after the failed ones may now sit at other offsets: re-read the window.
    for (const entry of lane.ready) lane.memoryBytes -= entry.body.length;
    lane.ready.clear();
    lane.memoryBytes = 0;
    lane.caughtUp = false;
    lane.catchUpPending = false;
    this.forgetWritten(lane);
    lane.boundary = null;
    lane.readOffset = lane.cursor.floor;
    lane.generation++;
    this.afterWrite(lane);
  }

  private afterWrite(lane: Lane): void {
    if (this.refillDue(lane)) this.startLoad(lane);
    this.scheduleDispatch();
  }

  /**
   * Whether the lane's window should be refilled now: it is empty, or below half and there is
   * something to read. Not at every write: a nearly full window would read a whole chunk for a
   * few messages (and keep the chunk alive through them).
   */
  private refillDue(lane: Lane): boolean {
    if (lane.caughtUp || lane.loading !== null || !lane.log) return false;
    if (lane.ready.length === 0) return true;
    if (
      lane.ready.length * 2 > queueReadAheadMessages ||
      lane.memoryBytes * 2 > queueReadAheadBytes
    ) {
      return false;
    }
    const boundary = lane.boundary;
    if (boundary) return boundary.offset >= 0;
    return lane.readOffset < lane.log.highWatermark;
  }

  // -------------------------------------------------------------------------------------------
  // Reading the window

  private startLoad(lane: Lane): Promise<void> | null {
    if (lane.loading) return lane.loading;
    if (lane.caughtUp || !lane.log || this.closed) return null;
    const loading = this.load(lane)
      .catch((error) => {
        this.logger.error({ err: error, lane: lane.index }, "queue read failed");
      })
      .finally(() => {
        lane.loading = null;
        if (this.closed) return;
        if (this.settings.overflow === "drop-head") this.enforceMaxLength();
        this.scheduleDispatch();
      });
    lane.loading = loading;
    return loading;
  }

  private async load(lane: Lane): Promise<void> {
    const log = lane.log!;
    const generation = lane.generation;
    if (lane.boundary) {
      if (lane.boundary.offset < 0) return; // still being written: its write calls again
      lane.readOffset = lane.boundary.offset + 1;
      lane.boundary = null;
    }
    const windowFull = () =>
      lane.ready.length >= queueReadAheadMessages || lane.memoryBytes >= queueReadAheadBytes;
    while (!windowFull() && lane.readOffset < log.highWatermark) {
      if (lane.readOffset < lane.cursor.floor) lane.readOffset = lane.cursor.floor;
      if (lane.readOffset < log.logStartOffset) lane.readOffset = log.logStartOffset;
      const start = lane.readOffset;
      if (start >= log.highWatermark) break;
      if (this.adoptWrittenTail(lane, windowFull)) continue;
      const { bytes } = await log.read(start, queueReadChunkBytes);
      if (this.closed || lane.generation !== generation) return;
      if (bytes.length === 0) break;
      const admitted: Entry[] = [];
      let pos = 0;
      while (pos + BATCH_LOG_OVERHEAD <= bytes.length) {
        const header = readBatchHeader(bytes, pos);
        const size = header.batchLength + BATCH_LOG_OVERHEAD;
        if (pos + size > bytes.length) break;
        const next = header.baseOffset + header.lastOffsetDelta + 1;
        if (next > lane.readOffset) {
          // Stops at the window's edge, mid-batch if need be: the next read starts there.
          for (const record of decodeRecords(bytes, pos)) {
            if (record.offset < lane.readOffset) continue;
            if (windowFull()) break;
            const entry = this.admitLoaded(lane, record);
            if (entry) admitted.push(entry);
            lane.readOffset = record.offset + 1;
          }
          if (windowFull()) break;
          lane.readOffset = next;
        }
        pos += size;
      }
      compactLoaded(admitted, bytes.buffer.byteLength); // what they would keep alive
      if (pos === 0) break;
    }
    if (lane.readOffset >= log.highWatermark && lane.boundary === null) {
      // Read to the end. With appends in flight, one may have reached the log without its
      // offsets being known here yet: the next completion (which knows them) catches up.
      if (lane.inFlight === 0) this.tryCatchUp(lane, null);
      else lane.catchUpPending = true;
    }
  }

  /**
   * Takes a lane that has read everything written back to caught up: the messages not yet
   * read (`written`, whose append just completed at `readOffset`, then those still in flight,
   * sealed or gathered) are all in memory, so they join the window in order instead of being
   * read back, and new enqueues join it again. Only when they fit in the window; otherwise
   * the lane keeps reading from the log.
   */
  private tryCatchUp(lane: Lane, written: Entry[] | null): void {
    const groups: Entry[][] = [];
    if (written) groups.push(written);
    for (const group of lane.inFlightGroups) groups.push(group.entries);
    for (const group of lane.sealed) groups.push(group.entries);
    groups.push(lane.unflushed);
    let count = lane.ready.length;
    let bytes = lane.memoryBytes;
    for (const entries of groups) {
      count += entries.length;
      for (const entry of entries) bytes += entry.body.length;
    }
    if (count >= queueReadAheadMessages || bytes >= queueReadAheadBytes) return;
    for (const entries of groups) {
      for (const entry of entries) {
        if (entry.dropped || entry.failed || entry.earlyId !== 0) continue;
        lane.ready.push(entry);
        lane.memoryBytes += entry.body.length;
      }
    }
    if (written && written.length > 0) lane.readOffset = written.at(-1)!.offset + 1;
    lane.caughtUp = true;
    lane.catchUpPending = false;
    this.forgetWritten(lane);
  }

  /** Keeps the entries of a completed append for a load to take (see `writtenTail`). */
  private rememberWritten(lane: Lane, entries: Entry[]): void {
    const tail = lane.writtenTail;
    for (const entry of entries) {
      if (entry.dropped || entry.failed || entry.earlyId !== 0) continue;
      tail.push(entry);
      lane.writtenTailBytes += entry.body.length;
    }
    let drop = 0;
    while (
      drop < tail.length &&
      (tail.length - drop > queueReadAheadMessages || lane.writtenTailBytes > queueReadAheadBytes)
    ) {
      lane.writtenTailBytes -= tail[drop++]!.body.length;
    }
    if (drop > 0) tail.splice(0, drop);
  }

  private forgetWritten(lane: Lane): void {
    lane.writtenTail = [];
    lane.writtenTailBytes = 0;
  }

  /**
   * Moves the remembered written entries from `readOffset` on into the window, as far as they
   * are contiguous (offsets skipped must be relocated copies, which are not ready) and the
   * window has room. False when the next record is not among them: read it from the log.
   */
  private adoptWrittenTail(lane: Lane, windowFull: () => boolean): boolean {
    const tail = lane.writtenTail;
    let at = 0;
    while (at < tail.length && tail[at]!.offset < lane.readOffset) at++;
    let taken = at;
    for (; taken < tail.length && !windowFull(); taken++) {
      const entry = tail[taken]!;
      for (let gap = lane.readOffset; gap < entry.offset; gap++) {
        if (!lane.copies.has(gap)) {
          this.dropWrittenTail(lane, taken);
          return taken > at;
        }
      }
      if (!lane.cursor.isSettled(entry.offset)) {
        lane.ready.push(entry);
        lane.memoryBytes += entry.body.length;
      }
      lane.readOffset = entry.offset + 1;
    }
    this.dropWrittenTail(lane, taken);
    return taken > at;
  }

  private dropWrittenTail(lane: Lane, count: number): void {
    if (count === 0) return;
    const tail = lane.writtenTail;
    for (let i = 0; i < count; i++) lane.writtenTailBytes -= tail[i]!.body.length;
    tail.splice(0, count);
  }

  private admitLoaded(lane: Lane, record: DecodedRecord): Entry | null {
    const offset = record.offset;
    if (lane.cursor.isSettled(offset) || lane.copies.has(offset)) return null;
    const id = lane.index * LANE_FACTOR + offset;
    if (this.unacked.has(id) || this.requeuedIds.has(id)) return null;
    const message = storedMessage(record);
    const recovered = offset < lane.recoveredEnd;
    if (message === null || (recovered && !message.persistent)) {
      // Not a message of ours, or a transient message from before the restart: gone.
      if (recovered || message === null) {
        lane.readyCount--;
        this.readyTotal--;
      }
      this.settle(lane, offset);
      return null;
    }
    const entry = new Entry(
      lane.index,
      message.exchange,
      message.routingKey,
      message.propertiesBytes,
      message.body,
      message.persistent,
      message.expiresAt,
    );
    entry.offset = offset;
    entry.redelivered = message.redelivered === true;
    if (recovered) {
      // Counted at recovery, but its size was not known until now.
      lane.readyBytes += entry.body.length;
      this.bytesTotal += entry.body.length;
      entry.redelivered ||= offset < lane.markAtOpen;
      const returns = lane.returns.get(offset);
      if (returns !== undefined) {
        entry.returns = returns;
        lane.returns.delete(offset);
      }
    }
    lane.ready.push(entry);
    lane.memoryBytes += entry.body.length;
    return entry;
  }

  // -------------------------------------------------------------------------------------------
  // Heads

  /**
   * The next message to deliver (highest lane, requeued first), WAIT when it is being read or
   * written, null when the queue has none ready. `unwritten` accepts a message not yet written
   * (drop-head may drop it).
   */
  private peekHead(unwritten: boolean): Entry | typeof WAIT | null {
    for (let index = this.lanes.length - 1; index >= 0; index--) {
      const lane = this.lanes[index]!;
      if (lane.readyCount <= 0) continue;
      const requeued = lane.requeued[0];
      if (requeued) return requeued;
      const head = lane.ready.peek();
      if (head) return head.offset < 0 && head.writtenAt < 0 && !unwritten ? WAIT : head;
      if (
        lane.caughtUp &&
        lane.inFlight === 0 &&
        !this.hasUnwritten(lane) &&
        lane.loading === null
      ) {
        // Nothing anywhere: the count was an estimate (recovered transient messages).
        this.readyTotal -= lane.readyCount;
        this.bytesTotal -= lane.readyBytes;
        lane.readyCount = 0;
        lane.readyBytes = 0;
        continue;
      }
      this.startLoad(lane);
      return WAIT;
    }
    return null;
  }

  private removeHead(entry: Entry): void {
    const lane = this.lanes[entry.lane]!;
    if (lane.requeued[0] === entry) {
      lane.requeued.shift();
      this.requeuedIds.delete(entry.lane * LANE_FACTOR + entry.offset);
    } else {
      lane.ready.shift();
      lane.memoryBytes -= entry.body.length;
      if (this.refillDue(lane)) this.startLoad(lane);
    }
    this.countRemoved(lane, entry);
  }

  private countRemoved(lane: Lane, entry: Entry): void {
    lane.readyCount--;
    lane.readyBytes -= entry.body.length;
    this.readyTotal--;
    this.bytesTotal -= entry.body.length;
  }

  private expired(entry: Entry): boolean {
    // Strictly past: a TTL of 0 still reaches a consumer ready in the same millisecond.
    return entry.expiresAt < this.now();
  }

  // -------------------------------------------------------------------------------------------
  // Dispatch

  private scheduleDispatch(): void {
    if (this.dispatchScheduled || this.closed) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  /** Runs one dispatch pass now (expires heads due under the injected clock, delivers). */
  checkExpiry(): void {
    this.dispatch();
  }

  private dispatch(): void {
    if (this.closed) return;
    // At least as many as came in since the last pass, so that a queue whose consumers keep up
    // drains as fast as publishers fill it: with a fixed burst, two flooding publishers (each
    // allowed amqpInputBytesPerTurn a turn) would outgrow it for good.
    let budget = queueDispatchBurst + this.enqueuedSinceDispatch;
    this.enqueuedSinceDispatch = 0;
    // No-ack consumers only: a message that need not survive a restart may go before its
    // write completes (it is settled once written), as it would have been handed over.
    const early = this.ackingConsumers === 0;
    while (budget > 0) {
      const head = this.peekHead(early);
      if (head === null || head === WAIT) break;
      // A persistent message of a durable queue goes once written (its write calls again), as
      // RabbitMQ's does: before its fdatasync; the publisher's confirm still waits for it.
      if (head.offset < 0 && head.writtenAt < 0 && this.durable && head.persistent) break;
      if (this.expired(head)) {
        this.removeHead(head);
        this.deadLetter(head, "expired");
        this.settleEntry(head);
        budget--; // expiring a backlog yields too
        continue;
      }
      const slot = this.pickConsumer(head.body.length);
      if (!slot) break;
      this.removeHead(head);
      budget--;
      this.deliver(slot.consumer, head);
    }
    if (budget === 0) this.scheduleDispatch();
    else this.armExpiryTimer();
  }

  private pickConsumer(bytes: number): ConsumerSlot | null {
    if (this.settings.singleActiveConsumer) {
      const active = this.slots[0];
      return active?.consumer.canTake(bytes) ? active : null;
    }
    const slots = this.byPriority;
    let start = 0;
    while (start < slots.length) {
      const priority = slots[start]!.priority;
      let end = start + 1;
      while (end < slots.length && slots[end]!.priority === priority) end++;
      const size = end - start;
      const first = (this.roundRobin.get(priority) ?? 0) % size;
      for (let k = 0; k < size; k++) {
        const slot = slots[start + ((first + k) % size)]!;
        if (slot.consumer.canTake(bytes)) {
          this.roundRobin.set(priority, (first + k + 1) % size);
          return slot;
        }
      }
      start = end;
    }
    return null;
  }

  /**
   * Direct hand-over (RabbitMQ does the same): a message that need not survive a restart,
   * published to an empty queue whose consumers all settle on delivery (no-ack), goes
   * straight to a consumer with room. Nothing is ahead of it and nothing could bring it back
   * (no ack, no requeue), so it is never written nor read back. Its id is never settled.
   */
  private handOver(consumer: QueueConsumer, input: EnqueueInput): void {
    const message: QueuedMessage = {
      source: this,
      id: -1,
      exchange: input.exchange,
      routingKey: input.routingKey,
      propertiesBytes: input.propertiesBytes,
      body: input.body,
      redelivered: false,
      deliveryCount: this.settings.deliveryLimit === undefined ? undefined : 0,
    };
    try {
      consumer.deliver(message);
    } catch (error) {
      this.logger.error({ err: error, consumer: consumer.tag }, "consumer deliver threw");
    }
  }

  private deliver(consumer: QueueConsumer, entry: Entry): void {
    const message = this.handOut(entry, consumer.noAck);
    try {
      consumer.deliver(message);
    } catch (error) {
      this.logger.error({ err: error, consumer: consumer.tag }, "consumer deliver threw");
    }
  }

  /**
   * Records a message leaving the queue (settled at once with no-ack) and builds it. Before
   * its append completed, its offset is not final (a failed fdatasync hands it out again), so
   * its id is not the offset's: -1 with no-ack (never settled by id; its offset is settled
   * once known), else a fresh early id (see earlyDeliveryDurable).
   */
  private handOut(entry: Entry, noAck: boolean): QueuedMessage {
    const lane = this.lanes[entry.lane]!;
    const durable = entry.offset >= 0;
    let id = -1;
    if (durable) id = entry.lane * LANE_FACTOR + entry.offset;
    else if (!noAck) id = entry.earlyId = this.nextEarlyId--;
    const offset = durable ? entry.offset : entry.writtenAt;
    if (this.journal && offset >= 0 && offset >= lane.markPersisted) {
      // Ahead of the deliveries, so that after a crash it is never behind what was sent (a
      // provisional offset given out again leaves it further ahead: only more redelivered).
      lane.markPersisted = offset + queueDeliveredMarkStep;
      this.journal.write({ t: "d", l: lane.index, o: lane.markPersisted });
    }
    if (noAck) this.settleEntry(entry);
    else this.unacked.set(id, entry);
    return {
      source: this,
      id,
      exchange: entry.exchange,
      routingKey: entry.routingKey,
      propertiesBytes: entry.propertiesBytes,
      body: entry.body,
      redelivered: entry.redelivered,
      deliveryCount: this.settings.deliveryLimit === undefined ? undefined : entry.returns,
    };
  }

  private armExpiryTimer(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const lane of this.lanes) {
      const head = lane.requeued[0] ?? lane.ready.peek();
      if (head && head.expiresAt < earliest) earliest = head.expiresAt;
    }
    if (!Number.isFinite(earliest) || earliest >= this.expiryAt) return;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryAt = earliest;
    const delay = Math.min(Math.max(0, earliest - this.now() + 1), 0x7fffffff);
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      this.expiryAt = Number.POSITIVE_INFINITY;
      this.scheduleDispatch();
    }, delay);
    this.expiryTimer.unref();
  }

  // -------------------------------------------------------------------------------------------
  // Settling

  private settle(lane: Lane, offset: number): void {
    const moved = lane.cursor.settle(offset);
    this.journal?.settled(lane.index, offset);
    if (moved) {
      lane.pinnedSettles = 0;
      if (lane.cursor.floor >= lane.reclaimAt) this.reclaim(lane);
      return;
    }
    lane.pinnedSettles++;
    if (lane.cursor.settled.size >= lane.relocateAt) this.relocate(lane, "holes");
    else if (lane.pinnedSettles % 1024 === 0) this.relocate(lane, "segments");
  }

  /** The lowest unsettled offset of the lane that is not an unacked message. */
  private lowestNotUnacked(lane: Lane): number {
    let bound = lane.log?.logEndOffset ?? 0;
    const requeued = lane.requeued[0];
    if (requeued) bound = Math.min(bound, requeued.offset);
    const head = lane.ready.peek();
    if (head && head.offset >= 0) bound = Math.min(bound, head.offset);
    if (!lane.caughtUp) {
      const boundary = lane.boundary;
      if (boundary) {
        if (boundary.offset >= 0) bound = Math.min(bound, boundary.offset + 1);
      } else if (!head) bound = Math.min(bound, lane.readOffset);
    }
    return bound;
  }

  /**
   * Copies the unacked messages that pin the lane's floor to the tail and settles their old
   * offsets (see the header). `holes`: worth it when far fewer messages move than holes
   * close; `segments`: when the floor would leave the first segment.
   */
  private relocate(lane: Lane, reason: "holes" | "segments"): void {
    const log = lane.log;
    if (!log || lane.relocating || this.closed) return;
    const floor = lane.cursor.floor;
    const bound = this.lowestNotUnacked(lane);
    const candidates: Entry[] = [];
    for (const entry of this.unacked.values()) {
      const offset = entry.current.offset;
      if (entry.lane === lane.index && entry.pending === null && offset >= 0 && offset < bound) {
        candidates.push(entry);
      }
    }
    candidates.sort((a, b) => a.current.offset - b.current.offset);
    let worth = candidates.length > 0 && candidates[0]!.current.offset === floor;
    if (reason === "holes") worth &&= candidates.length * 2 <= lane.cursor.settled.size;
    else {
      const bases = log.segmentBaseOffsets();
      worth &&= bases.length >= 3 && floor < bases[1]! && bound >= bases[1]!;
    }
    if (!worth) {
      // Ask again when the holes have doubled (the segment check has its own pace).
      if (reason === "holes") {
        lane.relocateAt = Math.max(queueAckHolesMax, lane.cursor.settled.size * 2);
      }
      return;
    }
    const moving = candidates.slice(0, queueRelocateMessagesMax);
    const copies = moving.map((entry) => {
      const copy = new Entry(
        lane.index,
        entry.exchange,
        entry.routingKey,
        entry.propertiesBytes,
        entry.body,
        entry.persistent,
        entry.expiresAt,
      );
      copy.redelivered = true;
      copy.returns = entry.returns;
      entry.pending = copy;
      return copy;
    });
    let buffer: Buffer;
    try {
      buffer = encodeEntries(copies, this.now());
    } catch (error) {
      for (const entry of moving) entry.pending = null;
      this.logger.error({ err: error }, "queue relocation failed");
      return;
    }
    this.logger.debug({ lane: lane.index, messages: moving.length, floor }, "relocating");
    lane.relocating = log
      .append(buffer)
      .then(
        (result) => {
          let offset = result.baseOffset;
          for (const [i, entry] of moving.entries()) {
            const copy = copies[i]!;
            copy.offset = offset++;
            if (entry.pending !== copy) {
              // Settled or given back meanwhile: nobody holds the copy.
              this.settle(lane, copy.offset);
              continue;
            }
            entry.pending = null;
            const previous = entry.current;
            entry.current = copy;
            lane.copies.add(copy.offset);
            if (previous !== entry) lane.copies.delete(previous.offset);
            if (this.journal && entry.returns > 0 && this.settings.deliveryLimit !== undefined) {
              this.journal.write({ t: "c", l: lane.index, o: copy.offset, n: entry.returns });
            }
            this.settle(lane, previous.offset);
          }
        },
        (error) => {
          for (const entry of moving) entry.pending = null;
          this.logger.error({ err: error }, "queue relocation append failed");
        },
      )
      .finally(() => {
        lane.relocating = null;
        lane.relocateAt = Math.max(queueAckHolesMax, lane.cursor.settled.size * 2);
      });
  }

  /** Settles an unacked message wherever its live copy is. */
  private settleUnacked(lane: Lane, entry: Entry): void {
    entry.pending = null; // a copy still being written settles itself
    const live = entry.current;
    if (live.offset < 0) {
      live.dropped = true; // delivered before its append completed: settled once it does
      return;
    }
    if (live !== entry) lane.copies.delete(live.offset);
    this.settle(lane, live.offset);
  }

  private settleEntry(entry: Entry): void {
    if (entry.offset >= 0) this.settle(this.lanes[entry.lane]!, entry.offset);
    else entry.dropped = true;
  }

  /** Deletes the lane's head segments once the ack floor passed them. */
  private reclaim(lane: Lane): void {
    const log = lane.log;
    if (!log || lane.reclaiming) return;
    const floor = Math.min(lane.cursor.floor, log.highWatermark);
    const bases = log.segmentBaseOffsets();
    if (bases.length < 2 || bases[1]! > floor) {
      // Look again when the floor reaches the next segment (or has moved a window further).
      lane.reclaimAt = bases.length >= 2 ? bases[1]! : floor + queueReadAheadMessages;
      return;
    }
    lane.reclaiming = true;
    log
      .deleteRecordsBefore(floor)
      .catch((error) => this.logger.warn({ err: error }, "queue space reclaim failed"))
      .finally(() => {
        lane.reclaiming = false;
        lane.reclaimAt = 0;
        // Acks that arrived meanwhile may have passed more segments.
        if (!this.closed && lane.cursor.floor > floor) this.reclaim(lane);
      });
  }

  /**
   * An early-delivered message's append completed: from now on it is unacked under its
   * offset's id (a load that re-reads the offset skips it), reached through its early id.
   * Given back meanwhile (it is ready again), its return count can be journaled now.
   */
  private earlyDeliveryDurable(lane: Lane, entry: Entry): void {
    const early = entry.earlyId;
    if (this.unacked.get(early) === entry) {
      const id = lane.index * LANE_FACTOR + entry.offset;
      this.unacked.delete(early);
      this.unacked.set(id, entry);
      this.earlyAliases.set(early, id);
    } else if (entry.returns > 0 && this.settings.deliveryLimit !== undefined && this.journal) {
      this.journal.write({ t: "c", l: lane.index, o: entry.offset, n: entry.returns });
    }
  }

  /** The id a message is unacked under, for the id its consumer got. */
  private unackedId(id: number): number {
    if (id >= -1) return id;
    const alias = this.earlyAliases.get(id);
    if (alias === undefined) return id;
    this.earlyAliases.delete(id);
    return alias;
  }

  ack(id: number): void {
    id = this.unackedId(id);
    const entry = this.unacked.get(id);
    if (!entry) return;
    this.unacked.delete(id);
    this.settleUnacked(this.lanes[entry.lane]!, entry);
  }

  reject(id: number, requeue: boolean): void {
    id = this.unackedId(id);
    let entry = this.unacked.get(id);
    if (!entry) return;
    this.unacked.delete(id);
    const lane = this.lanes[entry.lane]!;
    // Shutting down: a message given back stays unsettled on disk and comes back on open.
    if (this.closed) return;
    if (!requeue) {
      this.deadLetter(entry, "rejected");
      this.settleUnacked(lane, entry);
      return;
    }
    const returns = entry.returns + 1;
    const limit = this.settings.deliveryLimit;
    if (limit !== undefined && returns > limit) {
      this.deadLetter(entry, "delivery_limit");
      this.settleUnacked(lane, entry);
      return;
    }
    if (entry.offset < 0) {
      // Delivered before its append completed (see handOut): back to the head of the window,
      // where it came from (everything there is behind it).
      entry.returns = returns;
      entry.redelivered = true;
      lane.ready.unshift(entry);
      lane.memoryBytes += entry.body.length;
      this.countReady(lane, entry);
      return;
    }
    // A relocated message goes back as its live copy (a new offset, so a new id).
    entry.pending = null;
    const live = entry.current;
    if (live !== entry) lane.copies.delete(live.offset);
    entry = live;
    entry.returns = returns;
    this.requeue(lane, entry);
  }

  /** Puts a message given back among the lane's requeued ones, in offset order. */
  private requeue(lane: Lane, entry: Entry): void {
    const id = entry.lane * LANE_FACTOR + entry.offset;
    if (this.settings.deliveryLimit !== undefined && this.journal) {
      this.journal.write({ t: "c", l: lane.index, o: entry.offset, n: entry.returns });
    }
    entry.redelivered = true;
    const requeued = lane.requeued;
    let at = requeued.length;
    while (at > 0 && requeued[at - 1]!.offset > entry.offset) at--;
    requeued.splice(at, 0, entry);
    this.requeuedIds.add(id);
    this.countReady(lane, entry);
  }

  /** A message given back is ready again. */
  private countReady(lane: Lane, entry: Entry): void {
    lane.readyCount++;
    lane.readyBytes += entry.body.length;
    this.readyTotal++;
    this.enqueuedSinceDispatch++;
    this.bytesTotal += entry.body.length;
    this.scheduleDispatch();
  }

  private deadLetter(message: Omit<StoredMessage, "expiresAt">, reason: DeadLetterReason): void {
    if (this.settings.deadLetterExchange === undefined) return;
    try {
      this.onDeadLetter({
        queue: this.name,
        reason,
        exchange: message.exchange,
        routingKey: message.routingKey,
        propertiesBytes: message.propertiesBytes,
        body: message.body,
      });
    } catch (error) {
      this.logger.error({ err: error, reason }, "dead-letter callback threw");
    }
  }

  // -------------------------------------------------------------------------------------------
  // Consumers and basic.get

  consume(consumer: QueueConsumer, options: { exclusive: boolean }): ConsumerRegistration {
    if (this.closed) {
      throw new RoutingError("NOT_FOUND", `no queue '${this.name}' in vhost '${this.vhost}'`);
    }
    if (this.exclusiveSlot || (options.exclusive && this.slots.length > 0)) {
      throw new RoutingError(
        "ACCESS_REFUSED",
        `queue '${this.name}' in vhost '${this.vhost}' in exclusive use`,
      );
    }
    const slot: ConsumerSlot = { consumer, priority: consumer.priority, cancelled: false };
    this.slots.push(slot);
    if (!consumer.noAck) this.ackingConsumers++;
    let at = this.byPriority.length;
    while (at > 0 && this.byPriority[at - 1]!.priority < slot.priority) at--;
    this.byPriority.splice(at, 0, slot);
    if (options.exclusive) this.exclusiveSlot = slot;
    this.usedAt = this.now();
    this.scheduleDispatch();
    return {
      cancel: () => this.cancelConsumer(slot),
      resume: () => this.scheduleDispatch(),
    };
  }

  private cancelConsumer(slot: ConsumerSlot): void {
    if (slot.cancelled) return;
    slot.cancelled = true;
    if (!slot.consumer.noAck) this.ackingConsumers--;
    this.slots = this.slots.filter((other) => other !== slot);
    this.byPriority = this.byPriority.filter((other) => other !== slot);
    if (this.exclusiveSlot === slot) this.exclusiveSlot = null;
    this.usedAt = this.now();
    // Single active consumer: the next registered one takes over from here.
    this.scheduleDispatch();
    if (this.slots.length === 0 && !this.closed) this.onUnused?.();
  }

  /** basic.get: the next ready message (expired heads are handled on the way), or null. */
  async get(noAck: boolean): Promise<{ message: QueuedMessage; messageCount: number } | null> {
    this.usedAt = this.now();
    for (let attempt = 0; attempt < 10_000; attempt++) {
      if (this.closed) return null;
      const head = this.peekHead(false);
      if (head === null) return null;
      if (head === WAIT) {
        await this.progress();
        continue;
      }
      this.removeHead(head);
      if (this.expired(head)) {
        this.deadLetter(head, "expired");
        this.settleEntry(head);
        continue;
      }
      const message = this.handOut(head, noAck);
      return { message, messageCount: this.readyTotal };
    }
    return null;
  }

  /** Waits for the writes and reads under way (what a WAIT head waits for). */
  private async progress(): Promise<void> {
    await Promise.resolve(); // let this tick's flushes start
    const waits: Promise<unknown>[] = [];
    for (const lane of this.lanes) {
      if (lane.loading) waits.push(lane.loading);
      if (lane.opening && !lane.log) waits.push(lane.opening.catch(() => {}));
      if (lane.inFlight > 0) waits.push(lane.lastWrite);
    }
    if (waits.length > 0) await Promise.all(waits);
    else await new Promise<void>((resolve) => setImmediate(resolve));
  }

  // -------------------------------------------------------------------------------------------
  // Purge, delete, close

  /** Removes the ready messages (not dead-lettered, as RabbitMQ); answers how many. */
  async purge(): Promise<number> {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const busy = this.lanes.some(
        (lane) =>
          this.hasUnwritten(lane) || lane.inFlight > 0 || (lane.opening !== null && !lane.log),
      );
      if (!busy) break;
      await this.progress();
    }
    let removed = 0;
    for (const lane of this.lanes) {
      removed += Math.max(0, lane.readyCount);
      for (const entry of lane.requeued) {
        this.requeuedIds.delete(entry.lane * LANE_FACTOR + entry.offset);
        this.settleEntry(entry);
      }
      for (const entry of lane.ready) this.settleEntry(entry);
      const log = lane.log;
      if (log && !lane.caughtUp) {
        const boundary = lane.boundary;
        const start = boundary ? boundary.offset + 1 : lane.readOffset;
        const end = log.highWatermark;
        // Relocated copies of unacked messages may sit in the range: they are not ready.
        const kept = [...lane.copies].filter((o) => o >= start && o < end).sort((a, b) => a - b);
        let from = start;
        for (const to of [...kept, end]) {
          if (to > from) {
            lane.cursor.settleRange(from, to);
            this.journal?.write({ t: "r", l: lane.index, s: from, e: to });
          }
          from = to + 1;
        }
        lane.readOffset = Math.max(lane.readOffset, end);
      }
      lane.requeued = [];
      lane.ready.clear();
      lane.memoryBytes = 0;
      lane.boundary = null;
      lane.generation++;
      lane.catchUpPending = false;
      this.forgetWritten(lane);
      lane.caughtUp = !this.hasUnwritten(lane) && lane.inFlight === 0;
      this.readyTotal -= lane.readyCount;
      this.bytesTotal -= lane.readyBytes;
      lane.readyCount = 0;
      lane.readyBytes = 0;
      lane.returns.clear();
      if (lane.cursor.floor >= lane.reclaimAt) this.reclaim(lane);
    }
    return removed;
  }

  /** Deletes the queue: cancels its consumers ("queue-deleted") and removes its logs. */
  async delete(): Promise<void> {
    if (this.deleted) return;
    this.deleted = true;
    this.stop();
    const slots = this.slots;
    this.slots = [];
    this.ackingConsumers = 0;
    this.byPriority = [];
    this.exclusiveSlot = null;
    for (const slot of slots) {
      slot.cancelled = true;
      try {
        slot.consumer.cancelled("queue-deleted");
      } catch (error) {
        this.logger.error({ err: error }, "consumer cancel callback threw");
      }
    }
    await this.finishWrites();
    await this.journal?.close();
    this.unacked.clear();
    this.earlyAliases.clear();
    this.requeuedIds.clear();
    await Queue.deleteLogs(this.logStore, this.logPrefix);
  }

  /**
   * Process shutdown: writes what was enqueued, flushes the logs (fsync) and the journal. The
   * LogStore closes the files; the data stays for the next open.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stop();
    await this.finishWrites();
    await this.journal?.close();
    for (const lane of this.lanes) {
      try {
        await lane.log?.flush();
      } catch (error) {
        if (!(error instanceof WharfError && error.code === "WHARF_LOG_CLOSED")) {
          this.logger.warn({ err: error }, "queue flush at close failed");
        }
      }
    }
  }

  private stop(): void {
    this.closed = true;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
  }

  private async finishWrites(): Promise<void> {
    // Bounded: each round hands more groups to the log (or fails them).
    for (let round = 0; round < 100_000; round++) {
      const busy = this.lanes.filter(
        (lane) => lane.flushScheduled || this.hasUnwritten(lane) || lane.inFlight > 0,
      );
      if (busy.length === 0) break;
      for (const lane of busy) {
        if (lane.flushScheduled || this.hasUnwritten(lane)) this.flushLane(lane);
        if (lane.opening && !lane.log) await lane.opening.catch(() => {});
      }
      await Promise.all(busy.map((lane) => lane.lastWrite));
    }
    await Promise.all(this.lanes.map((lane) => lane.loading));
    await Promise.all(this.lanes.map((lane) => lane.relocating));
  }
}

function isQueueLog(name: string, logPrefix: string): boolean {
  if (name === `${logPrefix}-acks`) return true;
  if (!name.startsWith(`${logPrefix}-p`)) return false;
  return /^\d{1,3}$/.test(name.slice(logPrefix.length + 2));
}

function createWaiter(): DurableWaiter {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The publisher may not wait (or may wait later): an unobserved failure must not crash.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/**
 * Copies the bodies and property bytes of messages just read into one buffer of their own
 * when they use a small part of the chunk they were read from: otherwise each keeps the whole
 * chunk alive while it waits in the window or unacked.
 */
function compactLoaded(entries: Entry[], chunkBytes: number): void {
  if (entries.length === 0) return;
  let total = 0;
  for (const entry of entries) total += entry.body.length + entry.propertiesBytes.length;
  if (total >= chunkBytes * READ_CHUNK_KEEP_FRACTION) return;
  const copy = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const entry of entries) {
    const properties = entry.propertiesBytes;
    properties.copy(copy, at);
    entry.propertiesBytes = copy.subarray(at, at + properties.length);
    at += properties.length;
    const body = entry.body;
    body.copy(copy, at);
    entry.body = copy.subarray(at, at + body.length);
    at += body.length;
  }
}

/** The entries as RecordBatches (split at the batch limits), concatenated for one append. */
function encodeEntries(entries: Entry[], timestamp: number): Buffer {
  const batches: Buffer[] = [];
  let records: RecordInput[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entryBytes(entry);
    if (
      records.length > 0 &&
      (records.length >= queueAppendBatchRecordsMax || bytes + size > queueAppendBatchBytes)
    ) {
      batches.push(encodeBatch(records, { baseTimestamp: timestamp }));
      records = [];
      bytes = 0;
    }
    records.push(messageRecord(entry, timestamp));
    bytes += size;
  }
  batches.push(encodeBatch(records, { baseTimestamp: timestamp }));
  return batches.length === 1 ? batches[0]! : Buffer.concat(batches);
}
