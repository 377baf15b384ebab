/**
 * In-memory state of the Redis streams: per stream its consumer groups, each group's
 * pending-entries list (PEL) and consumers, XDEL bookkeeping, and the id index; plus
 * `applyOp`, the one function that changes it, used both when the journal is replayed and
 * after a live write is durable (so replay reproduces exactly what clients were told).
 *
 * A consumer group is the *individual-ack cursor* of DESIGN.md: `lastId` is the delivery
 * cursor (everything up to it was handed out), and the PEL is the set of delivered, not yet
 * acknowledged offsets with their owner, delivery count and last delivery time. Entries are
 * keyed by log offset (ids increase with offsets, so offset order is id order).
 *
 * Names (keys, groups, consumers) are binary-safe: they are held as latin1 strings, which map
 * bytes 0-255 one to one and compare in byte order, as Redis's radix trees do.
 */
import type { EntryToEncode } from "./entry-codec.ts";
import { PendingList } from "./pending-list.ts";
import type { JournalOp } from "./state-journal.ts";
import { compareIds, formatId, minId, parseCanonicalId, type StreamId } from "./stream-id.ts";
import type { Checkpoint, CheckpointKind, StreamIndex } from "./stream-index.ts";

/**
 * XADD entries of a stream, their ids chosen, waiting to be appended as one record batch.
 * Entry i of the batch gets offset `base + i`; one promise serves them all.
 */
export class PendingAddBatch {
  /** Emptied once encoded (the fields may be views of a connection's input). */
  entries: EntryToEncode[] = [];
  bytes = 0;
  /** The batch's base offset, once appended (durable in fsync mode). */
  readonly appended: Promise<number>;
  resolve!: (baseOffset: number) => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.appended = new Promise<number>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

export interface PendingEntry {
  offset: number;
  id: StreamId;
  consumer: GroupConsumer;
  deliveryTime: number;
  deliveryCount: number;
}

export class GroupConsumer {
  readonly pending = new PendingList<PendingEntry>();

  constructor(
    readonly name: string,
    public seenTime: number,
    /** -1 until the consumer first gets an entry (Redis's `active-time`). */
    public activeTime: number,
  ) {}
}

export class StreamGroup {
  readonly pending = new PendingList<PendingEntry>();
  readonly consumers = new Map<string, GroupConsumer>();
  /** Cache: the first offset that may hold an entry above `lastId`; null = look it up. */
  nextOffset: number | null = null;

  constructor(
    readonly name: string,
    /** The last delivered id (`last-delivered-id`). */
    public lastId: StreamId,
    /** Entries read by the group (`entries-read`), -1 when unknown. */
    public entriesRead: number,
  ) {}

  consumer(name: string, now: number): GroupConsumer {
    let consumer = this.consumers.get(name);
    if (!consumer) {
      consumer = new GroupConsumer(name, now, -1);
      this.consumers.set(name, consumer);
    }
    return consumer;
  }

  /** The PEL entry with exactly this id, if any. */
  pendingById(id: StreamId): PendingEntry | undefined {
    const offset = this.pending.lowerBoundBy(id, (entry, target) => compareIds(entry.id, target));
    const entry = this.pending.get(offset);
    return entry && compareIds(entry.id, id) === 0 ? entry : undefined;
  }

  setPending(
    offset: number,
    id: StreamId,
    consumer: GroupConsumer,
    deliveryTime: number,
    deliveryCount: number,
  ): void {
    const existing = this.pending.get(offset);
    if (existing) {
      if (existing.consumer !== consumer) {
        existing.consumer.pending.delete(offset);
        existing.consumer = consumer;
        consumer.pending.set(offset, existing);
      }
      existing.deliveryTime = deliveryTime;
      existing.deliveryCount = deliveryCount;
      return;
    }
    const entry: PendingEntry = { offset, id, consumer, deliveryTime, deliveryCount };
    this.pending.set(offset, entry);
    consumer.pending.set(offset, entry);
  }

  removePending(offset: number): boolean {
    const entry = this.pending.get(offset);
    if (!entry) return false;
    this.pending.delete(offset);
    entry.consumer.pending.delete(offset);
    return true;
  }

  /** Deletes a consumer and its pending entries; returns how many it had. */
  deleteConsumer(name: string): number {
    const consumer = this.consumers.get(name);
    if (!consumer) return 0;
    const count = consumer.pending.size;
    for (const [offset] of consumer.pending.entries()) this.pending.delete(offset);
    this.consumers.delete(name);
    return count;
  }
}

/** A stream's mutual exclusion: a FIFO async mutex with a synchronous fast path. */
export class Mutex {
  private locked = false;
  private readonly waiters: Array<() => void> = [];

  /** Takes the lock now if it is free. */
  tryLock(): boolean {
    if (this.locked) return false;
    this.locked = true;
    return true;
  }

  lock(): Promise<void> {
    if (this.tryLock()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  unlock(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.locked = false;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.lock();
    try {
      return await task();
    } finally {
      this.unlock();
    }
  }
}

export class StreamState {
  readonly groups = new Map<string, StreamGroup>();
  /** The largest id ever removed with XDEL (`max-deleted-entry-id`). */
  maxDeletedId: StreamId = minId;
  index: StreamIndex | null = null;
  /** Index data read from the journal, handed to the index when it is created. */
  restoredCheckpoints: Checkpoint[] = [];
  restoredHidden: number[] = [];
  /** Id assignment and XSETID (XADD holds it only while it picks an id and enqueues). */
  readonly appendLock = new Mutex();
  /** XDEL and trims. */
  readonly trimLock = new Mutex();
  /** Consumer-group changes. */
  readonly groupLock = new Mutex();
  /** The largest id handed to an XADD whose append is in flight. */
  lastAssigned: StreamId = minId;
  /** XADD appends enqueued and not yet observed by the index. */
  unobserved = 0;
  /** Resolves waiters for `unobserved` reaching 0. */
  drainWaiters: Array<() => void> = [];
  /** XADD entries waiting to be appended together (one batch), flushed on `setImmediate`. */
  pendingAdds: PendingAddBatch | null = null;
  /** The first live entry's id, valid while `key` matches (see the service). */
  firstIdCache: { key: string; id: StreamId } | null = null;

  constructor(
    /** The Redis key (latin1). */
    readonly key: string,
    /** The topic's id: a topic deleted and created again is a new, empty stream. */
    readonly topicId: string,
  ) {}
}

// -------------------------------------------------------------------------------------------
// Journal operations

type CheckpointTuple = [number, string, number, CheckpointKind];

export function checkpointToJson(checkpoint: Checkpoint): CheckpointTuple {
  return [checkpoint.offset, formatId(checkpoint.last), checkpoint.added, checkpoint.kind];
}

export function checkpointFromJson(tuple: CheckpointTuple): Checkpoint {
  return { offset: tuple[0], last: idFromJson(tuple[1]), added: tuple[2], kind: tuple[3] };
}

export function idFromJson(text: string): StreamId {
  const id = parseCanonicalId(text);
  if (!id) throw new Error(`journal: bad id ${text}`);
  return id;
}

/** The fields journal operations carry (each op uses some; see `apply`). */
interface OpFields {
  op: string;
  k: string;
  /** Topic id (`stream`, `snap-stream`). */
  tid: string;
  /** Time of the change, ms. */
  t: number;
  cps: CheckpointTuple[];
  cp: CheckpointTuple;
  hidden: number[];
  voids: number[];
  offs: number[];
  rm: number[];
  mdel: string;
  g: string;
  c: string;
  last: string;
  er: number;
  noack: boolean;
  consumers: Array<[string, number, number]>;
  e: unknown[];
}

export class StreamStates {
  readonly streams = new Map<string, StreamState>();

  /** Applies one journal operation (replayed, or just made durable). */
  apply(op: JournalOp): void {
    const o = op as unknown as OpFields;
    if (o.op === "snap") {
      this.streams.clear();
      return;
    }
    if (o.op === "stream" || o.op === "snap-stream") {
      const state = new StreamState(o.k, o.tid);
      this.streams.set(o.k, state);
      if (o.op === "snap-stream") {
        state.restoredCheckpoints = o.cps.map(checkpointFromJson);
        state.restoredHidden = o.hidden;
        state.maxDeletedId = idFromJson(o.mdel);
      }
      return;
    }
    const state = this.streams.get(o.k);
    if (!state) return;
    switch (o.op) {
      case "drop":
        this.streams.delete(o.k);
        return;
      case "index":
        if (state.index) return; // live: the index already holds them
        for (const tuple of o.cps) {
          state.restoredCheckpoints.push(checkpointFromJson(tuple));
        }
        for (const offset of o.voids) state.restoredHidden.push(offset);
        return;
      case "hide": {
        for (const offset of o.offs) {
          if (state.index) state.index.hidden.add(offset);
          else state.restoredHidden.push(offset);
        }
        const deleted = idFromJson(o.mdel);
        if (compareIds(deleted, state.maxDeletedId) > 0) state.maxDeletedId = deleted;
        return;
      }
      case "trim": {
        const checkpoint = checkpointFromJson(o.cp);
        if (state.index) state.index.restoreCheckpoint(checkpoint);
        else state.restoredCheckpoints.push(checkpoint);
        return;
      }
      case "setid": {
        const checkpoint = checkpointFromJson(o.cp);
        if (state.index) state.index.installOverride(checkpoint);
        else state.restoredCheckpoints.push(checkpoint);
        if (o.mdel) state.maxDeletedId = idFromJson(o.mdel);
        return;
      }
    }
    this.applyGroupOp(state, o);
  }

  private applyGroupOp(state: StreamState, o: OpFields): void {
    if (o.op === "gcreate" || o.op === "snap-group") {
      const group = new StreamGroup(o.g, idFromJson(o.last), o.er);
      state.groups.set(o.g, group);
      for (const [name, seen, active] of (o.consumers ?? []) as Array<[string, number, number]>) {
        group.consumers.set(name, new GroupConsumer(name, seen, active));
      }
      return;
    }
    const group = state.groups.get(o.g);
    if (!group) return;
    switch (o.op) {
      case "gdestroy":
        state.groups.delete(o.g);
        return;
      case "gsetid":
        group.lastId = idFromJson(o.last);
        group.entriesRead = o.er;
        group.nextOffset = null;
        return;
      case "ccreate":
        group.consumer(o.c, o.t);
        return;
      case "cdel":
        group.deleteConsumer(o.c);
        return;
      case "snap-pel":
        for (const [offset, id, name, time, count] of o.e as Array<
          [number, string, string, number, number]
        >) {
          group.setPending(offset, idFromJson(id), group.consumer(name, time), time, count);
        }
        return;
      case "deliver": {
        const consumer = group.consumer(o.c, o.t);
        consumer.seenTime = o.t;
        const entries = o.e as Array<[number, string]>;
        if (!o.noack) {
          for (const [offset, id] of entries) {
            group.setPending(offset, idFromJson(id), consumer, o.t, 1);
          }
          if (entries.length > 0) consumer.activeTime = o.t;
        }
        if (o.last) group.lastId = idFromJson(o.last);
        group.entriesRead = o.er;
        group.nextOffset = entries.length > 0 ? entries[entries.length - 1]![0] + 1 : null;
        return;
      }
      case "touch": {
        const consumer = group.consumer(o.c, o.t);
        consumer.seenTime = o.t;
        for (const offset of o.offs) {
          const entry = group.pending.get(offset);
          if (!entry) continue;
          entry.deliveryTime = o.t;
          entry.deliveryCount++;
        }
        return;
      }
      case "claim": {
        const consumer = group.consumer(o.c, o.t);
        consumer.seenTime = o.t;
        for (const offset of o.rm) group.removePending(offset);
        const entries = o.e as Array<[number, string, number, number]>;
        for (const [offset, id, time, count] of entries) {
          group.setPending(offset, idFromJson(id), consumer, time, count);
        }
        if (entries.length > 0) consumer.activeTime = o.t;
        if (o.last) {
          const last = idFromJson(o.last);
          if (compareIds(last, group.lastId) > 0) {
            group.lastId = last;
            group.nextOffset = null;
          }
        }
        return;
      }
      case "ack":
        for (const offset of o.offs) group.removePending(offset);
        return;
    }
  }

  /** The whole state as journal operations (after a `snap` record). */
  snapshot(pendingPerRecord: number): JournalOp[] {
    const ops: JournalOp[] = [];
    for (const state of this.streams.values()) {
      const checkpoints = state.index ? state.index.checkpointList() : state.restoredCheckpoints;
      const hidden = state.index ? state.index.hidden.toArray() : state.restoredHidden;
      ops.push({
        op: "snap-stream",
        k: state.key,
        tid: state.topicId,
        cps: checkpoints.map(checkpointToJson),
        hidden,
        mdel: formatId(state.maxDeletedId),
      });
      for (const group of state.groups.values()) {
        ops.push({
          op: "snap-group",
          k: state.key,
          g: group.name,
          last: formatId(group.lastId),
          er: group.entriesRead,
          consumers: [...group.consumers.values()].map((c) => [c.name, c.seenTime, c.activeTime]),
        });
        let chunk: Array<[number, string, string, number, number]> = [];
        for (const [offset, entry] of group.pending.entries()) {
          chunk.push([
            offset,
            formatId(entry.id),
            entry.consumer.name,
            entry.deliveryTime,
            entry.deliveryCount,
          ]);
          if (chunk.length >= pendingPerRecord) {
            ops.push({ op: "snap-pel", k: state.key, g: group.name, e: chunk });
            chunk = [];
          }
        }
        if (chunk.length > 0) ops.push({ op: "snap-pel", k: state.key, g: group.name, e: chunk });
      }
    }
    return ops;
  }
}
