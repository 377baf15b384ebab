/**
 * Redis Streams on WharfMQ streams: the core service behind XADD, XREAD, XREADGROUP and the
 * rest. A Redis stream *is* a WharfMQ stream (Kafka topic) with one partition: the key
 * `orders` is the topic `orders` (see key-name.ts for keys that are not topic names), every
 * entry is one record of its partition (entry-codec.ts), and ids map to offsets through the
 * stream's id index (stream-index.ts). Consumer groups, their pending-entries lists and XDEL
 * bookkeeping live in a journal (state-journal.ts); every change a reply reports is durable
 * before the reply.
 *
 * Concurrency. Commands of different streams run independently. Per stream:
 * - `appendLock` covers XADD's id choice and enqueueing of its append (synchronous, so XADDs
 *   pipeline into one group commit), and XSETID;
 * - `trimLock` serializes XDEL and trims; `groupLock` serializes consumer-group changes, each
 *   of which reads, writes its journal record, waits for it to be durable, then applies it.
 * An XADD's id is picked above every id assigned so far, and the record's key carries it. A
 * record appended by another protocol between that choice and the append makes the claimed
 * id void (stream-index.ts); XADD then picks again (auto ids) or answers Redis's "equal or
 * smaller" error (explicit ids), as if the other record had come first.
 */
import { performance } from "node:perf_hooks";
import {
  streamAddBatchBytes,
  streamAddSoloBytes,
  streamApproxTrimEntries,
  streamBlockRecheckMs,
  streamGroupPendingMax,
  streamHiddenEntriesMax,
  streamSnapshotPendingPerRecord,
} from "../../config/limits.ts";
import { isWharfError, WharfError } from "../../errors/index.ts";
import type { Logger } from "../../logging/logger.ts";
import type { LogStore } from "../../storage/log-store.ts";
import type { Partition } from "../streams/partition.ts";
import type { StreamRegistry } from "../streams/stream-registry.ts";
import { encodeEntryBatch, entryEncodedBytes } from "./entry-codec.ts";
import { requireTopicForKey, topicForKey } from "./key-name.ts";
import { StateJournal } from "./state-journal.ts";
import { noSuchKeyError, printable, StreamCommandError, wrongTypeError } from "./stream-errors.ts";
import {
  compareIds,
  formatId,
  isZeroId,
  maxId,
  maxOf,
  minId,
  nextId,
  previousId,
  type StreamId,
  uint64Max,
} from "./stream-id.ts";
import { type Checkpoint, StreamIndex } from "./stream-index.ts";
import {
  entriesReadAfter,
  entriesReadUnknown,
  groupLag,
  rangeHasTombstones,
  type StreamFacts,
} from "./stream-lag.ts";
import {
  countBound,
  fetchRecords,
  fieldsOf,
  readAfter,
  readRange,
  readRangeReverse,
  type StreamEntry,
  toStreamEntry,
} from "./stream-reads.ts";
import {
  checkpointToJson,
  PendingAddBatch,
  type PendingEntry,
  type StreamGroup,
  type StreamState,
  StreamStates,
} from "./stream-state.ts";

export type { StreamEntry } from "./stream-reads.ts";

export type XaddId = { kind: "auto" } | { kind: "explicit"; id: StreamId; seqGiven: boolean };

export interface TrimSpec {
  strategy: "maxlen" | "minid";
  maxLength: number;
  minId: StreamId;
  approx: boolean;
  /** Most entries one trim removes; 0 = no limit. */
  limit: number;
}

export interface XaddRequest {
  id: XaddId;
  noMkStream: boolean;
  trim: TrimSpec | null;
  /** Field, value, field, value... (at least one pair). */
  fields: Buffer[];
}

/** An XREAD / XREADGROUP position: an id, `$`, `+` or `>`. */
export type ReadPosition =
  | { kind: "id"; id: StreamId }
  | { kind: "last" }
  | { kind: "lastEntry" }
  | { kind: "new" };

export interface ReadRequest {
  key: Buffer;
  position: ReadPosition;
}

export interface ReadOptions {
  /** COUNT; null or 0 = no limit (bounded by `streamReadEntriesMax`). */
  count: number | null;
  /** BLOCK in ms (0 = forever); null = do not block. */
  blockMs: number | null;
  /** Aborts a blocked read (the client went away). */
  signal?: AbortSignal;
  /** Called each time the read starts waiting for entries (the client is blocked). */
  onWait?: () => void;
}

export interface StreamReadResult {
  key: Buffer;
  entries: StreamEntry[];
}

export interface PendingSummary {
  count: number;
  first: string | null;
  last: string | null;
  consumers: Array<{ name: Buffer; count: number }>;
}

export interface PendingDetail {
  id: string;
  consumer: Buffer;
  idleMs: number;
  deliveries: number;
}

export interface ClaimRequest {
  minIdleMs: number;
  ids: StreamId[];
  /** IDLE ms, TIME unix-ms: the new delivery time (now when neither is given). */
  idleMs: number | null;
  timeMs: number | null;
  retryCount: number | null;
  force: boolean;
  justId: boolean;
  lastId: StreamId | null;
}

export interface AutoClaimResult {
  next: string;
  claimed: StreamEntry[];
  /** With JUSTID the claimed ids only. */
  claimedIds: string[];
  deleted: string[];
}

export interface StreamInfo {
  length: number;
  radixTreeKeys: number;
  radixTreeNodes: number;
  lastGeneratedId: string;
  maxDeletedEntryId: string;
  entriesAdded: number;
  recordedFirstEntryId: string;
  groups: number;
  firstEntry: StreamEntry | null;
  lastEntry: StreamEntry | null;
}

export interface StreamInfoFull extends Omit<StreamInfo, "groups" | "firstEntry" | "lastEntry"> {
  entries: StreamEntry[];
  groups: Array<{
    name: Buffer;
    lastDeliveredId: string;
    entriesRead: number | null;
    lag: number | null;
    pelCount: number;
    pending: Array<{ id: string; consumer: Buffer; deliveryTime: number; deliveries: number }>;
    consumers: Array<{
      name: Buffer;
      seenTime: number;
      activeTime: number;
      pelCount: number;
      pending: Array<{ id: string; deliveryTime: number; deliveries: number }>;
    }>;
  }>;
}

export interface GroupInfo {
  name: Buffer;
  consumers: number;
  pending: number;
  lastDeliveredId: string;
  entriesRead: number | null;
  lag: number | null;
}

export interface ConsumerInfo {
  name: Buffer;
  pending: number;
  idleMs: number;
  inactiveMs: number;
}

export interface RedisStreamsOptions {
  logger: Logger;
  /** Wall clock in ms (delivery and idle times); tests inject one. */
  now?: () => number;
  journalLogName?: string;
  journalRewriteBytes?: number;
  /** Overrides of the named limits, for tests. */
  groupPendingMax?: number;
}

interface Target {
  key: Buffer;
  k: string;
  state: StreamState;
  partition: Partition;
  index: StreamIndex;
}

const latin1 = (bytes: Buffer): string => bytes.toString("latin1");

/** Keys whose topic name `lookup` remembers (cleared when full). */
const topicNamesCached = 4096;
const nameBuffer = (name: string): Buffer => Buffer.from(name, "latin1");

function equalOrSmallerError(): StreamCommandError {
  return new StreamCommandError(
    "ERR The ID specified in XADD is equal or smaller than the target stream top item",
  );
}

export class RedisStreams {
  private readonly states = new StreamStates();
  private journal!: StateJournal;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly creating = new Map<string, Promise<void>>();
  private readonly background = new Set<Promise<void>>();
  /** Topic names of recently used keys (the mapping is pure; this saves the escaping). */
  private readonly topicNames = new Map<string, string | null>();
  private closed = false;
  private readonly now: () => number;
  private readonly groupPendingMax: number;

  private constructor(
    private readonly registry: StreamRegistry,
    private readonly options: RedisStreamsOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.groupPendingMax = options.groupPendingMax ?? streamGroupPendingMax;
  }

  static async open(
    registry: StreamRegistry,
    logStore: LogStore,
    options: RedisStreamsOptions,
  ): Promise<RedisStreams> {
    const service = new RedisStreams(registry, options);
    service.journal = await StateJournal.open(
      logStore,
      {
        logger: options.logger,
        logName: options.journalLogName,
        rewriteBytes: options.journalRewriteBytes,
      },
      (op) => service.states.apply(op),
    );
    service.journal.setSnapshotSource(() =>
      service.states.snapshot(streamSnapshotPendingPerRecord),
    );
    return service;
  }

  /** Flushes index checkpoints and waits for journal writes; the LogStore closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const state of this.states.streams.values()) state.index?.flush();
    this.closed = true;
    for (const waiters of this.waiters.values()) for (const wake of waiters) wake();
    await Promise.allSettled([...this.background]);
    await this.journal.close();
  }

  /** Snapshot the journal now (tests). */
  rewriteJournal(): Promise<void> {
    return this.journal.rewriteNow();
  }

  journalStats(): ReturnType<StateJournal["stats"]> {
    return this.journal.stats();
  }

  // ---------------------------------------------------------------------------------------
  // Keys and streams

  /**
   * The stream at `key`, or null when the key holds nothing. A topic with more than one
   * partition is not a stream: WRONGTYPE, as Redis answers for a key of another type.
   */
  private lookup(key: Buffer): Target | null {
    const k = latin1(key);
    let name = this.topicNames.get(k);
    if (name === undefined) {
      name = topicForKey(key);
      if (this.topicNames.size >= topicNamesCached) this.topicNames.clear();
      this.topicNames.set(k, name);
    }
    if (name === null) return null;
    let state = this.states.streams.get(k);
    const topic = this.registry.get(name);
    if (!topic) {
      if (state) this.dropState(state);
      return null;
    }
    if (topic.partitions.length !== 1) throw wrongTypeError();
    if (!state || state.topicId !== topic.definition.id)
      state = this.registerState(k, topic.definition.id);
    const partition = topic.partitions[0]!;
    if (!state.index || state.index.partition !== partition) this.createIndex(state, partition);
    return { key, k, state, partition, index: state.index! };
  }

  /** Like `lookup`, for blocked readers: never throws. */
  private lookupQuietly(key: Buffer): Target | null {
    try {
      return this.lookup(key);
    } catch {
      return null;
    }
  }

  /** How many keys hold a stream: every topic of one partition is one (INFO keyspace). */
  keyCount(): number {
    let count = 0;
    for (const topic of this.registry.list()) if (topic.partitions.length === 1) count++;
    return count;
  }

  /** "none" | "stream"; WRONGTYPE for a topic of several partitions (Redis's TYPE). */
  keyType(key: Buffer): "none" | "stream" {
    return this.lookup(key) ? "stream" : "none";
  }

  private registerState(k: string, topicId: string): StreamState {
    const op = { op: "stream", k, tid: topicId };
    this.states.apply(op);
    this.writeInBackground(op);
    return this.states.streams.get(k)!;
  }

  private dropState(state: StreamState): void {
    const op = { op: "drop", k: state.key };
    this.states.apply(op);
    this.writeInBackground(op);
    this.notify(state.key);
  }

  private createIndex(state: StreamState, partition: Partition): void {
    const logStart = partition.logStartOffset;
    state.index = new StreamIndex(partition, {
      checkpoints: state.restoredCheckpoints,
      hidden: state.restoredHidden.filter((offset) => offset >= logStart),
      persist: (checkpoints, voids) => {
        this.writeInBackground({
          op: "index",
          k: state.key,
          cps: checkpoints.map(checkpointToJson),
          voids,
        });
      },
    });
    state.restoredCheckpoints = [];
    state.restoredHidden = [];
  }

  private writeInBackground(op: { op: string } & Record<string, unknown>): void {
    if (this.closed) return;
    const write = this.journal
      .write([op], () => {})
      .catch((error) =>
        this.options.logger.error({ err: error, op: op.op }, "journal write failed"),
      )
      .finally(() => this.background.delete(write));
    this.background.add(write);
  }

  /** Creates the topic of `key` (one partition) unless it exists; returns the stream. */
  private async create(key: Buffer): Promise<Target> {
    const name = requireTopicForKey(key);
    const k = latin1(key);
    let pending = this.creating.get(k);
    if (!pending) {
      pending = this.registry
        .create(name, 1)
        .then(
          () => undefined,
          (error: unknown) => {
            if (!isWharfError(error, "WHARF_TOPIC_EXISTS")) throw error;
          },
        )
        .finally(() => this.creating.delete(k));
      this.creating.set(k, pending);
    }
    await pending;
    const target = this.lookup(key);
    if (!target) throw new WharfError("WHARF_TOPIC_NOT_FOUND", name);
    this.notify(k);
    return target;
  }

  private async write(ops: Array<{ op: string } & Record<string, unknown>>): Promise<void> {
    await this.journal.write(ops, () => {
      for (const op of ops) this.states.apply(op);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Waking blocked readers

  private notify(k: string): void {
    const waiters = this.waiters.get(k);
    if (!waiters) return;
    for (const wake of [...waiters]) wake();
  }

  /**
   * Waits until new data may be in one of the streams (their partition's high watermark
   * moved, a stream or group changed), `timeoutMs` passed, or `signal` aborted.
   */
  private async waitForChange(
    keys: Buffer[],
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (signal?.aborted || this.closed) return;
    const slice = Math.max(1, Math.min(timeoutMs, streamBlockRecheckMs));
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const waits: Array<Promise<void>> = [];
    let wake!: () => void;
    const signalled = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const registered: Array<[string, () => void]> = [];
    for (const key of keys) {
      const k = latin1(key);
      let set = this.waiters.get(k);
      if (!set) this.waiters.set(k, (set = new Set()));
      set.add(wake);
      registered.push([k, wake]);
      const target = this.lookupQuietly(key);
      if (target) {
        // The serve before this caught the index up; if it is still behind, the records it
        // could not read (a corrupt range) must not wake this wait again and again.
        const from = target.index.behind ? target.partition.highWatermark : target.index.tailOffset;
        waits.push(target.partition.waitForData(from, slice, controller.signal));
      }
    }
    let timer: NodeJS.Timeout | undefined;
    waits.push(
      signalled,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, slice);
        controller.signal.addEventListener("abort", () => resolve(), { once: true });
      }),
    );
    try {
      await Promise.race(waits);
    } finally {
      clearTimeout(timer);
      controller.abort();
      signal?.removeEventListener("abort", onAbort);
      for (const [k, fn] of registered) {
        const set = this.waiters.get(k);
        set?.delete(fn);
        if (set?.size === 0) this.waiters.delete(k);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // XADD, XLEN, XRANGE, XDEL, XTRIM, XSETID

  /** XADD: the new entry's id, or null with NOMKSTREAM when the key does not exist. */
  async xadd(key: Buffer, request: XaddRequest): Promise<string | null> {
    let target = this.lookup(key);
    if (!target) {
      if (request.noMkStream) return null;
      target = await this.create(key);
    }
    const { state, index, partition } = target;
    for (let attempt = 1; ; attempt++) {
      if (!state.appendLock.tryLock()) await state.appendLock.lock();
      let id: StreamId;
      let idText: string;
      let timestamp: number;
      let batch: PendingAddBatch;
      let position: number;
      try {
        // Records of other producers not indexed yet would make the chosen id void.
        if (partition.highWatermark - index.tailOffset > state.unobserved) await index.catchUp();
        const last = maxOf(index.lastId, state.lastAssigned);
        if (compareIds(last, maxId) === 0) {
          throw new StreamCommandError(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
          );
        }
        timestamp = this.now();
        id = nextEntryId(last, request.id, timestamp);
        idText = formatId(id);
        state.lastAssigned = id;
        state.unobserved++;
        const entry = { idText, fields: request.fields, timestamp };
        const bytes = entryEncodedBytes(idText, request.fields);
        batch = this.openBatch(target, bytes);
        position = batch.entries.push(entry) - 1;
        batch.bytes += bytes;
        // A large entry goes alone, so that a batch too large for the topic fails only itself.
        if (bytes > streamAddSoloBytes) this.flushAdds(target);
      } finally {
        state.appendLock.unlock();
      }
      let actual: StreamId | null | undefined;
      try {
        const offset = (await batch.appended) + position;
        actual = index.observeAppendedAtTail(offset, id, timestamp);
        if (actual === undefined) actual = await index.observeAppended(offset, id, timestamp);
      } finally {
        if (--state.unobserved === 0) {
          for (const resolve of state.drainWaiters.splice(0)) resolve();
        }
      }
      if (actual !== null && compareIds(actual, id) === 0) {
        if (request.trim) await this.trim(target, request.trim);
        return idText;
      }
      // Another producer's record got the id range first (see the header).
      if (request.id.kind === "explicit" || attempt >= 16) throw equalOrSmallerError();
    }
  }

  /**
   * The batch the next entry (`bytes` long) of the stream joins. XADDs that arrive in the same
   * turn of the event loop (pipelined, or from many clients) share one batch and one append;
   * the batch goes out on `setImmediate`, after the socket reads of this turn, or before when
   * it is full. Batches are appended in the order they were started, so offsets follow ids.
   */
  private openBatch(target: Target, bytes: number): PendingAddBatch {
    const { state } = target;
    let batch = state.pendingAdds;
    if (batch !== null && batch.bytes + bytes > streamAddBatchBytes) {
      this.flushAdds(target);
      batch = null;
    }
    if (batch === null) {
      const opened = new PendingAddBatch();
      state.pendingAdds = batch = opened;
      setImmediate(() => {
        if (state.pendingAdds === opened) this.flushAdds(target);
      });
    }
    return batch;
  }

  private flushAdds(target: Target): void {
    const { state, partition } = target;
    const batch = state.pendingAdds;
    if (!batch) return;
    state.pendingAdds = null;
    let encoded: Buffer;
    try {
      encoded = encodeEntryBatch(batch.entries);
    } catch (error) {
      batch.reject(error);
      return;
    } finally {
      batch.entries = [];
    }
    partition.append(encoded).then(({ baseOffset }) => batch.resolve(baseOffset), batch.reject);
  }

  async xlen(key: Buffer): Promise<number> {
    const target = this.lookup(key);
    if (!target) return 0;
    await target.index.catchUp();
    return target.index.length;
  }

  /** XRANGE / XREVRANGE with inclusive bounds (exclusive ones already moved by the parser). */
  async xrange(
    key: Buffer,
    start: StreamId,
    end: StreamId,
    count: number | null,
    reverse: boolean,
  ): Promise<StreamEntry[]> {
    const target = this.lookup(key);
    if (!target) return [];
    await target.index.catchUp();
    const bound = countBound(count);
    const entries = reverse
      ? await readRangeReverse(target.index, start, end, bound)
      : await readRange(target.index, start, end, bound);
    return entries.map(toStreamEntry);
  }

  /** XDEL: how many of the ids were live entries (now deleted). */
  async xdel(key: Buffer, ids: StreamId[]): Promise<number> {
    const target = this.lookup(key);
    if (!target) return 0;
    const { state, index } = target;
    return state.trimLock.run(async () => {
      await index.catchUp();
      const offsets = new Set<number>();
      let maxDeleted = state.maxDeletedId;
      for (const id of ids) {
        const offset = await index.offsetOf(id);
        if (offset < 0 || !index.isLive(offset) || offsets.has(offset)) continue;
        offsets.add(offset);
        if (compareIds(id, maxDeleted) > 0) maxDeleted = id;
      }
      if (offsets.size === 0) return 0;
      if (index.hidden.size + offsets.size > streamHiddenEntriesMax) {
        throw new StreamCommandError(
          `ERR too many deleted entries in this stream (limit ${streamHiddenEntriesMax}); trim it with XTRIM first`,
        );
      }
      const sorted = [...offsets].sort((a, b) => a - b);
      await this.write([{ op: "hide", k: target.k, offs: sorted, mdel: formatId(maxDeleted) }]);
      return sorted.length;
    });
  }

  /** XTRIM: entries removed. */
  async xtrim(key: Buffer, spec: TrimSpec): Promise<number> {
    const target = this.lookup(key);
    if (!target) return 0;
    return this.trim(target, spec);
  }

  /**
   * Removes the oldest entries by moving the log start (Kafka DeleteRecords): a trim
   * checkpoint is made durable first, so the id chain resumes exactly at the new start.
   * `~` trims only when at least `streamApproxTrimEntries` entries are in excess, and then
   * a multiple of it, as Redis removes whole radix-tree nodes.
   */
  private trim(target: Target, spec: TrimSpec): Promise<number> {
    const { state, index, partition } = target;
    return state.trimLock.run(async () => {
      await index.catchUp();
      const logStart = index.logStartOffset;
      let excess: number;
      if (spec.strategy === "maxlen") {
        excess = index.length - spec.maxLength;
      } else {
        const first = await index.seek(spec.minId);
        excess = first - logStart - index.hidden.countIn(logStart, first);
      }
      if (spec.approx) {
        excess -= excess % streamApproxTrimEntries;
        if (spec.limit > 0) excess = Math.min(excess, spec.limit);
      }
      if (excess <= 0) return 0;
      const offset = Math.min(index.hidden.skipLive(logStart, excess), index.tailOffset);
      const chain = await index.stateBefore(offset);
      const checkpoint: Checkpoint = { offset, last: chain.last, added: chain.added, kind: "trim" };
      await this.write([{ op: "trim", k: target.k, cp: checkpointToJson(checkpoint) }]);
      await partition.deleteRecordsBefore(offset);
      index.installTrim(checkpoint);
      state.firstIdCache = null;
      return excess;
    });
  }

  /** XSETID. */
  async xsetid(
    key: Buffer,
    id: StreamId,
    entriesAdded: number | null,
    maxDeletedId: StreamId | null,
  ): Promise<void> {
    const target = this.lookup(key);
    if (!target) throw noSuchKeyError();
    const { state, index } = target;
    await state.appendLock.lock();
    try {
      if (state.unobserved > 0) {
        await new Promise<void>((resolve) => state.drainWaiters.push(resolve));
      }
      await index.catchUp();
      const currentMaxDeleted = state.maxDeletedId;
      if (compareIds(id, currentMaxDeleted) < 0) {
        throw new StreamCommandError(
          "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
        );
      }
      const length = index.length;
      if (length > 0) {
        const [top] = await readRangeReverse(index, minId, maxId, 1);
        if (top && compareIds(id, top.id) < 0) {
          throw new StreamCommandError(
            "ERR The ID specified in XSETID is smaller than the target stream top item",
          );
        }
        if (entriesAdded !== null && length > entriesAdded) {
          throw new StreamCommandError(
            "ERR The entries_added specified in XSETID is smaller than the target stream length",
          );
        }
      } else if (compareIds(id, index.lastId) < 0 && index.tailOffset > index.logStartOffset) {
        // Lowering the last id of an empty stream: drop the (deleted) records below, so that
        // the index's checkpoints stay ordered by id.
        await this.trimAll(target);
      }
      const unfreeze = await index.freeze();
      try {
        const checkpoint: Checkpoint = {
          offset: index.tailOffset,
          last: id,
          added: entriesAdded ?? index.entriesAdded,
          kind: "override",
        };
        const mdel = maxDeletedId && !isZeroId(maxDeletedId) ? formatId(maxDeletedId) : undefined;
        await this.write([
          { op: "setid", k: target.k, cp: checkpointToJson(checkpoint), ...(mdel ? { mdel } : {}) },
        ]);
        state.lastAssigned = id;
        state.firstIdCache = null;
      } finally {
        unfreeze();
      }
    } finally {
      state.appendLock.unlock();
    }
  }

  private async trimAll(target: Target): Promise<void> {
    const { index, partition } = target;
    const offset = index.tailOffset;
    const chain = await index.stateBefore(offset);
    const checkpoint: Checkpoint = { offset, last: chain.last, added: chain.added, kind: "trim" };
    await this.write([{ op: "trim", k: target.k, cp: checkpointToJson(checkpoint) }]);
    await partition.deleteRecordsBefore(offset);
    index.installTrim(checkpoint);
  }

  // ---------------------------------------------------------------------------------------
  // XREAD

  async xread(requests: ReadRequest[], options: ReadOptions): Promise<StreamReadResult[] | null> {
    const after: StreamId[] = [];
    for (const request of requests) {
      const target = this.lookup(request.key);
      const position = request.position;
      if (position.kind === "id") {
        after.push(position.id);
      } else if (!target) {
        after.push(minId);
      } else {
        await target.index.catchUp();
        const last = target.index.lastId;
        if (position.kind === "last") {
          after.push(last);
        } else {
          const before = previousId(last);
          if (!before) throw new StreamCommandError("ERR the stream last element ID is 0-0");
          after.push(before);
        }
      }
    }
    const deadline = options.blockMs ? performance.now() + options.blockMs : null;
    for (;;) {
      const results: StreamReadResult[] = [];
      for (let i = 0; i < requests.length; i++) {
        const target = this.lookup(requests[i]!.key);
        if (!target) continue;
        await target.index.catchUp();
        const { entries } = await readAfter(target.index, after[i]!, countBound(options.count));
        if (entries.length > 0) {
          results.push({ key: requests[i]!.key, entries: entries.map(toStreamEntry) });
        }
      }
      if (results.length > 0) return results;
      if (options.blockMs === null || this.closed) return null;
      const remaining = deadline === null ? streamBlockRecheckMs : deadline - performance.now();
      if (remaining <= 0 || options.signal?.aborted) return null;
      options.onWait?.();
      await this.waitForChange(
        requests.map((request) => request.key),
        remaining,
        options.signal,
      );
    }
  }

  // ---------------------------------------------------------------------------------------
  // Consumer groups

  private groupOf(target: Target | null, key: Buffer, group: Buffer, message: string): StreamGroup {
    const found = target?.state.groups.get(latin1(group));
    if (!found) {
      throw new StreamCommandError(
        message.replace("%k", printable(key)).replace("%g", printable(group)),
      );
    }
    return found;
  }

  /** True when the stream exists and has this group; WRONGTYPE for a non-stream key. */
  hasGroup(key: Buffer, group: Buffer): boolean {
    const target = this.lookup(key);
    return target?.state.groups.has(latin1(group)) ?? false;
  }

  async xreadgroup(
    group: Buffer,
    consumer: Buffer,
    requests: ReadRequest[],
    options: ReadOptions & { noAck: boolean },
  ): Promise<StreamReadResult[] | null> {
    const deadline = options.blockMs ? performance.now() + options.blockMs : null;
    for (;;) {
      const targets = requests.map((request) => {
        const target = this.lookup(request.key);
        this.groupOf(
          target,
          request.key,
          group,
          "NOGROUP No such key '%k' or consumer group '%g' in XREADGROUP with GROUP option",
        );
        return target!;
      });
      const results: StreamReadResult[] = [];
      for (let i = 0; i < requests.length; i++) {
        const position = requests[i]!.position;
        const target = targets[i]!;
        if (position.kind === "new") {
          const entries = await this.deliverNew(target, group, consumer, options);
          if (entries.length > 0) results.push({ key: requests[i]!.key, entries });
        } else {
          const after = position.kind === "id" ? position.id : minId;
          const entries = await this.deliverHistory(target, group, consumer, after, options.count);
          results.push({ key: requests[i]!.key, entries });
        }
      }
      if (results.length > 0) return results;
      if (options.blockMs === null || this.closed) return null;
      const remaining = deadline === null ? streamBlockRecheckMs : deadline - performance.now();
      if (remaining <= 0 || options.signal?.aborted) return null;
      options.onWait?.();
      await this.waitForChange(
        requests.map((request) => request.key),
        remaining,
        options.signal,
      );
    }
  }

  private async facts(target: Target, needFirst: boolean): Promise<StreamFacts> {
    const { index, state } = target;
    return {
      length: index.length,
      entriesAdded: index.entriesAdded,
      lastId: index.lastId,
      maxDeletedId: state.maxDeletedId,
      firstId: needFirst ? await this.firstEntryId(target) : minId,
    };
  }

  private async firstEntryId(target: Target): Promise<StreamId> {
    const { index, state } = target;
    const logStart = index.logStartOffset;
    const key = `${logStart}:${index.hidden.size}:${index.length === 0 ? index.tailOffset : ""}`;
    if (state.firstIdCache?.key === key) return state.firstIdCache.id;
    let first = minId;
    await index.scan(logStart, (entry) => {
      if (index.hidden.has(entry.offset)) return;
      first = entry.id;
      return false;
    });
    state.firstIdCache = { key, id: first };
    return first;
  }

  /** XREADGROUP `>`: new entries for `consumer`, added to the PEL unless NOACK. */
  private deliverNew(
    target: Target,
    groupName: Buffer,
    consumerName: Buffer,
    options: ReadOptions & { noAck: boolean },
  ): Promise<StreamEntry[]> {
    const { state, index } = target;
    const g = latin1(groupName);
    const c = latin1(consumerName);
    return state.groupLock.run(async () => {
      const group = this.groupOf(
        target,
        target.key,
        groupName,
        "NOGROUP No such key '%k' or consumer group '%g' in XREADGROUP with GROUP option",
      );
      await index.catchUp();
      const now = this.now();
      let budget = countBound(options.count);
      if (!options.noAck) {
        const room = this.groupPendingMax - group.pending.size;
        if (room <= 0) {
          throw new StreamCommandError(
            `ERR the pending entries list of group '${printable(groupName)}' holds ${group.pending.size} entries, the limit: acknowledge (XACK) or claim entries first`,
          );
        }
        budget = Math.min(budget, room);
      }
      const { entries, scannedTo } = await readAfter(index, group.lastId, budget, group.nextOffset);
      if (entries.length === 0) {
        group.nextOffset = scannedTo;
        const consumer = group.consumers.get(c);
        if (consumer) consumer.seenTime = now;
        else await this.write([{ op: "ccreate", k: target.k, g, c, t: now }]);
        return [];
      }
      const needFirst = group.entriesRead === entriesReadUnknown || !isZeroId(state.maxDeletedId);
      const facts = await this.facts(target, needFirst);
      let cursor = { lastId: group.lastId, entriesRead: group.entriesRead };
      for (const entry of entries) {
        cursor = { lastId: entry.id, entriesRead: entriesReadAfter(facts, cursor, entry.id) };
      }
      await this.write([
        {
          op: "deliver",
          k: target.k,
          g,
          c,
          t: now,
          e: entries.map((entry) => [entry.offset, formatId(entry.id)]),
          last: formatId(cursor.lastId),
          er: cursor.entriesRead,
          noack: options.noAck,
        },
      ]);
      return entries.map(toStreamEntry);
    });
  }

  /** XREADGROUP with an id: the consumer's own pending entries above `after`. */
  private deliverHistory(
    target: Target,
    groupName: Buffer,
    consumerName: Buffer,
    after: StreamId,
    count: number | null,
  ): Promise<StreamEntry[]> {
    const { state, index } = target;
    const g = latin1(groupName);
    const c = latin1(consumerName);
    return state.groupLock.run(async () => {
      const group = this.groupOf(
        target,
        target.key,
        groupName,
        "NOGROUP No such key '%k' or consumer group '%g' in XREADGROUP with GROUP option",
      );
      await index.catchUp();
      const now = this.now();
      const consumer = group.consumers.get(c);
      if (!consumer) {
        await this.write([{ op: "ccreate", k: target.k, g, c, t: now }]);
        return [];
      }
      const start = nextId(after);
      const picked: PendingEntry[] = [];
      if (start) {
        const first = consumer.pending.lowerBoundBy(start, (entry, id) => compareIds(entry.id, id));
        const bound = countBound(count);
        for (const [, entry] of consumer.pending.from(first)) {
          picked.push(entry);
          if (picked.length >= bound) break;
        }
      }
      const live = picked.filter((entry) => index.isLive(entry.offset)).map((e) => e.offset);
      const records = await fetchRecords(target.partition, live);
      const touched = live.filter((offset) => records.has(offset));
      if (touched.length > 0) {
        await this.write([{ op: "touch", k: target.k, g, c, t: now, offs: touched }]);
      } else {
        consumer.seenTime = now;
      }
      return picked.map((entry) => {
        const record = records.get(entry.offset);
        return { id: formatId(entry.id), fields: record ? fieldsOf(record) : null };
      });
    });
  }

  async xgroupCreate(
    key: Buffer,
    groupName: Buffer,
    id: StreamId | "$",
    mkStream: boolean,
    entriesRead: number | null,
  ): Promise<void> {
    let target = this.lookup(key);
    if (!target) {
      if (!mkStream) throw requiresKeyError();
      target = await this.create(key);
    }
    const { state, index } = target;
    const g = latin1(groupName);
    await state.groupLock.run(async () => {
      if (state.groups.has(g)) {
        throw new StreamCommandError("BUSYGROUP Consumer Group name already exists");
      }
      await index.catchUp();
      const last = id === "$" ? index.lastId : id;
      await this.write([
        {
          op: "gcreate",
          k: target.k,
          g,
          last: formatId(last),
          er: entriesRead ?? entriesReadUnknown,
        },
      ]);
    });
  }

  /** Checks shared by SETID, CREATECONSUMER, DELCONSUMER, DESTROY (key, then group). */
  private groupTarget(key: Buffer, groupName: Buffer, groupRequired: boolean): Target {
    const target = this.lookup(key);
    if (!target) throw requiresKeyError();
    if (groupRequired) {
      this.groupOf(target, key, groupName, "NOGROUP No such consumer group '%g' for key name '%k'");
    }
    return target;
  }

  /** The XGROUP subcommand checks in Redis's order, before the subcommand runs. */
  checkGroupCommand(key: Buffer, groupName: Buffer, groupRequired: boolean): void {
    this.groupTarget(key, groupName, groupRequired);
  }

  async xgroupSetId(
    key: Buffer,
    groupName: Buffer,
    id: StreamId | "$",
    entriesRead: number | null,
  ): Promise<void> {
    const target = this.groupTarget(key, groupName, true);
    const g = latin1(groupName);
    await target.state.groupLock.run(async () => {
      this.groupTarget(key, groupName, true);
      await target.index.catchUp();
      const last = id === "$" ? target.index.lastId : id;
      await this.write([
        {
          op: "gsetid",
          k: target.k,
          g,
          last: formatId(last),
          er: entriesRead ?? entriesReadUnknown,
        },
      ]);
    });
  }

  async xgroupDestroy(key: Buffer, groupName: Buffer): Promise<number> {
    const target = this.groupTarget(key, groupName, false);
    const g = latin1(groupName);
    const destroyed = await target.state.groupLock.run(async () => {
      if (!target.state.groups.has(g)) return 0;
      await this.write([{ op: "gdestroy", k: target.k, g }]);
      return 1;
    });
    if (destroyed) this.notify(target.k); // blocked XREADGROUPs re-run and get NOGROUP
    return destroyed;
  }

  async xgroupCreateConsumer(key: Buffer, groupName: Buffer, consumer: Buffer): Promise<number> {
    const target = this.groupTarget(key, groupName, true);
    const g = latin1(groupName);
    const c = latin1(consumer);
    return target.state.groupLock.run(async () => {
      const group = this.groupOf(
        target,
        key,
        groupName,
        "NOGROUP No such consumer group '%g' for key name '%k'",
      );
      if (group.consumers.has(c)) return 0;
      await this.write([{ op: "ccreate", k: target.k, g, c, t: this.now() }]);
      return 1;
    });
  }

  async xgroupDelConsumer(key: Buffer, groupName: Buffer, consumer: Buffer): Promise<number> {
    const target = this.groupTarget(key, groupName, true);
    const g = latin1(groupName);
    const c = latin1(consumer);
    return target.state.groupLock.run(async () => {
      const group = this.groupOf(
        target,
        key,
        groupName,
        "NOGROUP No such consumer group '%g' for key name '%k'",
      );
      const found = group.consumers.get(c);
      if (!found) return 0;
      const pending = found.pending.size;
      await this.write([{ op: "cdel", k: target.k, g, c }]);
      return pending;
    });
  }

  /** XACK: how many of the ids were pending (and are now acknowledged). */
  async xack(key: Buffer, groupName: Buffer, ids: StreamId[]): Promise<number> {
    const target = this.lookup(key);
    if (!target) return 0;
    const g = latin1(groupName);
    return target.state.groupLock.run(async () => {
      const group = target.state.groups.get(g);
      if (!group) return 0;
      const offsets = new Set<number>();
      for (const id of ids) {
        const entry = group.pendingById(id);
        if (entry) offsets.add(entry.offset);
      }
      if (offsets.size === 0) return 0;
      await this.write([{ op: "ack", k: target.k, g, offs: [...offsets] }]);
      return offsets.size;
    });
  }

  /**
   * XPENDING / XCLAIM / XAUTOCLAIM's check of the key and group, in Redis's order (XCLAIM
   * makes it before parsing its other arguments).
   */
  checkPendingGroup(key: Buffer, groupName: Buffer): void {
    this.pendingGroup(key, groupName);
  }

  private pendingGroup(key: Buffer, groupName: Buffer): { target: Target; group: StreamGroup } {
    const target = this.lookup(key);
    const group = this.groupOf(
      target,
      key,
      groupName,
      "NOGROUP No such key '%k' or consumer group '%g'",
    );
    return { target: target!, group };
  }

  /** XPENDING key group. */
  xpendingSummary(key: Buffer, groupName: Buffer): PendingSummary {
    const { group } = this.pendingGroup(key, groupName);
    const firstOffset = group.pending.first();
    const lastOffset = group.pending.last();
    const consumers = [...group.consumers.values()]
      .filter((consumer) => consumer.pending.size > 0)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((consumer) => ({ name: nameBuffer(consumer.name), count: consumer.pending.size }));
    return {
      count: group.pending.size,
      first: firstOffset === undefined ? null : formatId(group.pending.get(firstOffset)!.id),
      last: lastOffset === undefined ? null : formatId(group.pending.get(lastOffset)!.id),
      consumers,
    };
  }

  /** XPENDING key group [IDLE ms] start end count [consumer]. */
  xpendingRange(
    key: Buffer,
    groupName: Buffer,
    range: {
      minIdleMs: number;
      start: StreamId;
      end: StreamId;
      count: number;
      consumer: Buffer | null;
    },
  ): PendingDetail[] {
    const { group } = this.pendingGroup(key, groupName);
    let list = group.pending;
    if (range.consumer) {
      const consumer = group.consumers.get(latin1(range.consumer));
      if (!consumer) return [];
      list = consumer.pending;
    }
    const now = this.now();
    const details: PendingDetail[] = [];
    let count = range.count;
    if (count <= 0) return details;
    const first = list.lowerBoundBy(range.start, (entry, id) => compareIds(entry.id, id));
    for (const [, entry] of list.from(first)) {
      if (compareIds(entry.id, range.end) > 0) break;
      const idle = now - entry.deliveryTime;
      if (range.minIdleMs && idle < range.minIdleMs) continue;
      details.push({
        id: formatId(entry.id),
        consumer: nameBuffer(entry.consumer.name),
        idleMs: Math.max(0, idle),
        deliveries: entry.deliveryCount,
      });
      if (--count === 0) break;
    }
    return details;
  }

  /** XCLAIM: the claimed entries (or, with JUSTID, `fields` null and only ids meaningful). */
  async xclaim(
    key: Buffer,
    groupName: Buffer,
    consumerName: Buffer,
    request: ClaimRequest,
  ): Promise<StreamEntry[]> {
    const { target } = this.pendingGroup(key, groupName);
    const { state, index } = target;
    const g = latin1(groupName);
    const c = latin1(consumerName);
    return state.groupLock.run(async () => {
      const group = this.groupOf(
        target,
        key,
        groupName,
        "NOGROUP No such key '%k' or consumer group '%g'",
      );
      await index.catchUp();
      const now = this.now();
      let deliveryTime = now;
      if (request.idleMs !== null) deliveryTime = now - request.idleMs;
      if (request.timeMs !== null) deliveryTime = request.timeMs;
      if (deliveryTime < 0 || deliveryTime > now) deliveryTime = now;
      const consumer = group.consumers.get(c);
      // Planned state per offset, so that an id given twice sees its own first claim.
      const planned = new Map<
        number,
        { id: StreamId; owner: string | null; time: number; count: number }
      >();
      const removed: number[] = [];
      const claimed: Array<{ offset: number; id: StreamId }> = [];
      for (const id of request.ids) {
        const existing = group.pendingById(id);
        let offset = existing?.offset ?? -1;
        let current = offset >= 0 ? planned.get(offset) : undefined;
        if (!current && existing) {
          current = {
            id: existing.id,
            owner: existing.consumer.name,
            time: existing.deliveryTime,
            count: existing.deliveryCount,
          };
        }
        const live = offset >= 0 ? index.isLive(offset) : false;
        if (offset >= 0 && !live) {
          if (!removed.includes(offset)) removed.push(offset);
          planned.delete(offset);
          continue;
        }
        if (!current) {
          if (!request.force) continue;
          offset = await index.offsetOf(id);
          if (offset < 0 || !index.isLive(offset)) continue;
          // A NACK made by FORCE starts with one delivery (streamCreateNACK).
          current = planned.get(offset) ?? { id, owner: null, time: now, count: 1 };
        }
        if (current.owner !== null && request.minIdleMs && now - current.time < request.minIdleMs) {
          continue;
        }
        const count =
          request.retryCount !== null
            ? request.retryCount
            : request.justId
              ? current.count
              : current.count + 1;
        planned.set(offset, { id: current.id, owner: c, time: deliveryTime, count });
        claimed.push({ offset, id: current.id });
      }
      const lastId =
        request.lastId && compareIds(request.lastId, group.lastId) > 0 ? request.lastId : null;
      const entries = [...planned.entries()]
        .filter(([offset]) => !removed.includes(offset))
        .map(([offset, plan]) => [offset, formatId(plan.id), plan.time, plan.count]);
      if (entries.length > 0 || removed.length > 0 || lastId || !consumer) {
        await this.write([
          {
            op: "claim",
            k: target.k,
            g,
            c,
            t: now,
            e: entries,
            rm: removed,
            ...(lastId ? { last: formatId(lastId) } : {}),
          },
        ]);
      } else {
        consumer.seenTime = now;
      }
      if (request.justId) return claimed.map((entry) => ({ id: formatId(entry.id), fields: null }));
      const records = await fetchRecords(
        target.partition,
        [...new Set(claimed.map((entry) => entry.offset))].sort((a, b) => a - b),
      );
      const result: StreamEntry[] = [];
      for (const entry of claimed) {
        const record = records.get(entry.offset);
        if (record) result.push({ id: formatId(entry.id), fields: fieldsOf(record) });
      }
      return result;
    });
  }

  /** XAUTOCLAIM. */
  async xautoclaim(
    key: Buffer,
    groupName: Buffer,
    consumerName: Buffer,
    request: { minIdleMs: number; start: StreamId; count: number; justId: boolean },
  ): Promise<AutoClaimResult> {
    const { target } = this.pendingGroup(key, groupName);
    const { state, index } = target;
    const g = latin1(groupName);
    const c = latin1(consumerName);
    return state.groupLock.run(async () => {
      const group = this.groupOf(
        target,
        key,
        groupName,
        "NOGROUP No such key '%k' or consumer group '%g'",
      );
      await index.catchUp();
      const now = this.now();
      let attempts = request.count * 10;
      let count = request.count;
      const removed: number[] = [];
      const deleted: string[] = [];
      const claimed: Array<{ offset: number; id: StreamId; count: number }> = [];
      const first = group.pending.lowerBoundBy(request.start, (entry, id) =>
        compareIds(entry.id, id),
      );
      const iterator = group.pending.from(first);
      let next: PendingEntry | undefined;
      for (;;) {
        const step = iterator.next();
        next = step.done ? undefined : step.value[1];
        if (!next || attempts-- <= 0 || count <= 0) break;
        const entry = next;
        next = undefined;
        if (!index.isLive(entry.offset)) {
          removed.push(entry.offset);
          deleted.push(formatId(entry.id));
          count--;
          continue;
        }
        if (request.minIdleMs && now - entry.deliveryTime < request.minIdleMs) continue;
        const deliveries = request.justId ? entry.deliveryCount : entry.deliveryCount + 1;
        claimed.push({ offset: entry.offset, id: entry.id, count: deliveries });
        count--;
      }
      if (next === undefined) {
        const step = iterator.next();
        next = step.done ? undefined : step.value[1];
      }
      const cursor = next ? formatId(next.id) : "0-0";
      const consumer = group.consumers.get(c);
      if (claimed.length > 0 || removed.length > 0 || !consumer) {
        await this.write([
          {
            op: "claim",
            k: target.k,
            g,
            c,
            t: now,
            e: claimed.map((entry) => [entry.offset, formatId(entry.id), now, entry.count]),
            rm: removed,
          },
        ]);
      } else {
        consumer.seenTime = now;
      }
      const claimedIds = claimed.map((entry) => formatId(entry.id));
      let entries: StreamEntry[] = [];
      if (!request.justId) {
        const records = await fetchRecords(
          target.partition,
          claimed.map((entry) => entry.offset),
        );
        entries = claimed.flatMap((entry) => {
          const record = records.get(entry.offset);
          return record ? [{ id: formatId(entry.id), fields: fieldsOf(record) }] : [];
        });
      }
      return { next: cursor, claimed: entries, claimedIds, deleted };
    });
  }

  // ---------------------------------------------------------------------------------------
  // XINFO

  private infoTarget(key: Buffer): Target {
    const target = this.lookup(key);
    if (!target) throw noSuchKeyError();
    return target;
  }

  async xinfoStream(key: Buffer): Promise<StreamInfo> {
    const target = this.infoTarget(key);
    const base = await this.streamBase(target);
    const [first] = await readRange(target.index, minId, maxId, 1);
    const [last] = await readRangeReverse(target.index, minId, maxId, 1);
    return {
      ...base,
      groups: target.state.groups.size,
      firstEntry: first ? toStreamEntry(first) : null,
      lastEntry: last ? toStreamEntry(last) : null,
    };
  }

  private async streamBase(target: Target) {
    const { index, state } = target;
    await index.catchUp();
    const firstId = await this.firstEntryId(target);
    const nodes = index.checkpointList().length;
    return {
      length: index.length,
      radixTreeKeys: nodes,
      radixTreeNodes: nodes,
      lastGeneratedId: formatId(index.lastId),
      maxDeletedEntryId: formatId(state.maxDeletedId),
      entriesAdded: index.entriesAdded,
      recordedFirstEntryId: formatId(firstId),
    };
  }

  async xinfoStreamFull(key: Buffer, count: number): Promise<StreamInfoFull> {
    const target = this.infoTarget(key);
    const base = await this.streamBase(target);
    const facts = await this.facts(target, true);
    const limit = count > 0 ? count : Number.POSITIVE_INFINITY;
    const entries = await readRange(
      target.index,
      minId,
      maxId,
      count > 0 ? countBound(count) : countBound(0),
    );
    const groups = this.sortedGroups(target).map((group) => {
      const pending: StreamInfoFull["groups"][number]["pending"] = [];
      for (const [, entry] of group.pending.entries()) {
        if (pending.length >= limit) break;
        pending.push({
          id: formatId(entry.id),
          consumer: nameBuffer(entry.consumer.name),
          deliveryTime: entry.deliveryTime,
          deliveries: entry.deliveryCount,
        });
      }
      const consumers = [...group.consumers.values()]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((consumer) => {
          const own: Array<{ id: string; deliveryTime: number; deliveries: number }> = [];
          for (const [, entry] of consumer.pending.entries()) {
            if (own.length >= limit) break;
            own.push({
              id: formatId(entry.id),
              deliveryTime: entry.deliveryTime,
              deliveries: entry.deliveryCount,
            });
          }
          return {
            name: nameBuffer(consumer.name),
            seenTime: consumer.seenTime,
            activeTime: consumer.activeTime,
            pelCount: consumer.pending.size,
            pending: own,
          };
        });
      return {
        name: nameBuffer(group.name),
        lastDeliveredId: formatId(group.lastId),
        entriesRead: group.entriesRead === entriesReadUnknown ? null : group.entriesRead,
        lag: groupLag(facts, group),
        pelCount: group.pending.size,
        pending,
        consumers,
      };
    });
    return { ...base, entries: entries.map(toStreamEntry), groups };
  }

  private sortedGroups(target: Target): StreamGroup[] {
    return [...target.state.groups.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
  }

  async xinfoGroups(key: Buffer): Promise<GroupInfo[]> {
    const target = this.infoTarget(key);
    await target.index.catchUp();
    const facts = await this.facts(target, true);
    return this.sortedGroups(target).map((group) => ({
      name: nameBuffer(group.name),
      consumers: group.consumers.size,
      pending: group.pending.size,
      lastDeliveredId: formatId(group.lastId),
      entriesRead: group.entriesRead === entriesReadUnknown ? null : group.entriesRead,
      lag: groupLag(facts, group),
    }));
  }

  xinfoConsumers(key: Buffer, groupName: Buffer): ConsumerInfo[] {
    const target = this.infoTarget(key);
    const group = this.groupOf(
      target,
      key,
      groupName,
      "NOGROUP No such consumer group '%g' for key name '%k'",
    );
    const now = this.now();
    return [...group.consumers.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((consumer) => ({
        name: nameBuffer(consumer.name),
        pending: consumer.pending.size,
        idleMs: Math.max(0, now - consumer.seenTime),
        inactiveMs: consumer.activeTime !== -1 ? now - consumer.activeTime : -1,
      }));
  }

  /** Whether [start, +] of the stream may hold XDEL tombstones (exposed for tests). */
  async hasTombstonesFrom(key: Buffer, start: StreamId): Promise<boolean> {
    const target = this.infoTarget(key);
    return rangeHasTombstones(await this.facts(target, false), start);
  }
}

function requiresKeyError(): StreamCommandError {
  return new StreamCommandError(
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
  );
}

/** The id of a new entry (t_stream.c `streamAppendItem` / `streamNextID`). */
function nextEntryId(last: StreamId, spec: XaddId, now: number): StreamId {
  if (spec.kind === "auto") {
    const ms = BigInt(Math.max(0, Math.trunc(now)));
    if (ms > last.ms) return { ms, seq: 0n };
    const next = nextId(last);
    if (!next) throw equalOrSmallerError();
    return next;
  }
  let id = spec.id;
  if (!spec.seqGiven) {
    if (last.ms === id.ms) {
      if (last.seq === uint64Max) throw equalOrSmallerError();
      id = { ms: id.ms, seq: last.seq + 1n };
    } else {
      id = { ms: id.ms, seq: 0n };
    }
  }
  if (compareIds(id, last) <= 0) throw equalOrSmallerError();
  return id;
}
