/**
 * The id index of one Redis stream: which entry id each offset of the stream's (single)
 * partition carries, and where an id lives.
 *
 * The id chain. Ids are a deterministic function of the log, computed in offset order from a
 * chain state (`last` = the previous entry's id, `added` = entries added before):
 * - a record whose key is a canonical id and whose value is null is an XADD entry claiming
 *   that id: if the id is above `last` it is the entry's id; otherwise the record is *void*
 *   (not an entry; it happens only when a Kafka record was committed between an XADD's id
 *   choice and its append, and XADD then retries or refuses, see the service);
 * - any other record (written by a Kafka, AMQP... producer) gets `<timestamp>-0` when its
 *   timestamp is above `last.ms`, else `last.ms-(last.seq+1)`: ids stay strictly increasing
 *   whatever timestamps producers send.
 * Because the function only looks backwards, the ids of records already read never change, so
 * they need not be stored: the index stores *checkpoints* (the chain state before an offset)
 * every `streamCheckpointIntervalRecords` records, at every segment base (so retention, which
 * deletes whole segments, never strands the chain), where XTRIM moved the log start, and where
 * XSETID set the state (an *override*, the only checkpoint that changes the chain).
 * A lookup by id binary-searches the checkpoints and walks at most one interval of records.
 *
 * Ordering invariants.
 * - Only records below `tail.offset` (indexed, hence durable) are ever served, so an override
 *   installed at `tail.offset` affects only records nobody has seen.
 * - `catchUp` runs one at a time; `freeze` stops it while an override is being made durable.
 * - Checkpoints and void offsets are handed to `persist` in offset order, together, so that a
 *   restart that resumes from the last persisted checkpoint re-derives the rest identically.
 */

import {
  streamCheckpointFlushCount,
  streamCheckpointIntervalRecords,
  streamCheckpointsMax,
  streamRecentIdsMax,
  streamWalkReadBytes,
} from "../../config/limits.ts";
import { isWharfError } from "../../errors/index.ts";
import type { Partition } from "../streams/partition.ts";
import { decodeBatches, type RawRecord } from "./entry-codec.ts";
import { HiddenSet } from "./hidden-set.ts";
import {
  compareIds,
  minId,
  nextId,
  parseCanonicalId,
  type StreamId,
  uint64Max,
} from "./stream-id.ts";

/** Bytes of the first read of a walk. */
const walkFirstReadBytes = 16 * 1024;
/** The headers of the record `observeAppendedAtTail` indexes (never read: its id is claimed). */
const noHeaders: Array<Buffer | null> = [];

export interface ChainState {
  last: StreamId;
  added: number;
}

export type CheckpointKind = "origin" | "interval" | "segment" | "trim" | "override";

export interface Checkpoint {
  /** The chain state before the record at `offset`. */
  offset: number;
  last: StreamId;
  added: number;
  kind: CheckpointKind;
}

/** What the index hands to the journal: new checkpoints and void offsets, in offset order. */
export type PersistIndex = (checkpoints: Checkpoint[], voids: number[]) => void;

export interface IndexedEntry {
  offset: number;
  id: StreamId;
  record: RawRecord;
}

/** Advances the chain over one record; returns its id, or null for a void record. */
export function chainStep(state: ChainState, record: RawRecord): StreamId | null {
  if (record.control) return null;
  if (record.value === null && record.key !== null && record.key.length <= 41) {
    const claimed = parseCanonicalId(record.key.toString("latin1"));
    if (claimed) return chainClaim(state, claimed);
  }
  const timestamp = record.timestamp > 0 ? BigInt(Math.trunc(record.timestamp)) : 0n;
  let id: StreamId | null;
  if (timestamp > state.last.ms) id = { ms: timestamp, seq: 0n };
  else id = nextId(state.last);
  if (!id) return null;
  state.last = id;
  state.added++;
  return id;
}

/** Advances the chain over an XADD record claiming `claimed`. */
export function chainClaim(state: ChainState, claimed: StreamId): StreamId | null {
  if (compareIds(claimed, state.last) <= 0) return null;
  state.last = claimed;
  state.added++;
  return claimed;
}

/** The last `capacity` indexed offsets with their id and the chain state after them. */
class RecentRing {
  private readonly ids: Array<StreamId | null>;
  private readonly lasts: StreamId[];
  private readonly addeds: number[];
  private start = 0;
  private count = 0;
  /** Offset of the oldest slot. */
  firstOffset = 0;

  constructor(private readonly capacity: number) {
    this.ids = new Array(capacity);
    this.lasts = new Array(capacity);
    this.addeds = new Array(capacity);
  }

  get endOffset(): number {
    return this.firstOffset + this.count;
  }

  clear(at: number): void {
    this.start = 0;
    this.count = 0;
    this.firstOffset = at;
  }

  push(offset: number, id: StreamId | null, state: ChainState): void {
    if (offset !== this.endOffset) this.clear(offset);
    let slot: number;
    if (this.count < this.capacity) {
      slot = (this.start + this.count) % this.capacity;
      this.count++;
    } else {
      slot = this.start;
      this.start = (this.start + 1) % this.capacity;
      this.firstOffset++;
    }
    this.ids[slot] = id;
    this.lasts[slot] = state.last;
    this.addeds[slot] = state.added;
  }

  private slotOf(offset: number): number {
    return (this.start + (offset - this.firstOffset)) % this.capacity;
  }

  has(offset: number): boolean {
    return offset >= this.firstOffset && offset < this.endOffset;
  }

  /** The id at `offset` (null for a void record); `offset` must be in the ring. */
  idAt(offset: number): StreamId | null {
    return this.ids[this.slotOf(offset)]!;
  }

  /** The chain state after `offset`. */
  stateAfter(offset: number): ChainState {
    const slot = this.slotOf(offset);
    return { last: this.lasts[slot]!, added: this.addeds[slot]! };
  }

  /** The chain state before the oldest slot is not kept; the first "last" bounds it. */
  firstLast(): StreamId | undefined {
    return this.count === 0 ? undefined : this.lasts[this.start];
  }

  /**
   * The first offset in the ring whose chain state after it has `last` >= `id` (that is, the
   * first entry with an id >= `id`), or `endOffset`.
   */
  lowerBound(id: StreamId): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const slot = (this.start + middle) % this.capacity;
      if (compareIds(this.lasts[slot]!, id) < 0) low = middle + 1;
      else high = middle;
    }
    return this.firstOffset + low;
  }
}

export interface StreamIndexOptions {
  persist: PersistIndex;
  /** Checkpoints restored from the journal (any order). */
  checkpoints?: Checkpoint[];
  hidden?: number[];
  intervalRecords?: number;
  checkpointsMax?: number;
  recentMax?: number;
}

export class StreamIndex {
  readonly hidden = new HiddenSet();
  private checkpoints: Checkpoint[] = [];
  /** Overrides (XSETID) by offset: the only checkpoints that change the chain. */
  private readonly overrides = new Map<number, Checkpoint>();
  private tail: ChainState & { offset: number } = { offset: 0, last: minId, added: 0 };
  private readonly recent: RecentRing;
  private unpersisted: Checkpoint[] = [];
  private unpersistedVoids: number[] = [];
  private recordsSinceCheckpoint = 0;
  private catching: Promise<void> | null = null;
  private frozen: Promise<void> | null = null;
  private segmentCount = -1;
  private segmentBases: number[] = [];
  private readonly intervalRecords: number;
  private readonly checkpointsMax: number;

  constructor(
    readonly partition: Partition,
    private readonly options: StreamIndexOptions,
  ) {
    this.intervalRecords = options.intervalRecords ?? streamCheckpointIntervalRecords;
    this.checkpointsMax = options.checkpointsMax ?? streamCheckpointsMax;
    this.recent = new RecentRing(options.recentMax ?? streamRecentIdsMax);
    for (const offset of options.hidden ?? []) this.hidden.add(offset);
    const restored = [...(options.checkpoints ?? [])].sort((a, b) => a.offset - b.offset);
    for (const checkpoint of restored) this.insertCheckpoint(checkpoint);
    const lastCheckpoint = this.checkpoints[this.checkpoints.length - 1];
    if (lastCheckpoint) {
      this.tail = {
        offset: lastCheckpoint.offset,
        last: lastCheckpoint.last,
        added: lastCheckpoint.added,
      };
    } else {
      const origin: Checkpoint = {
        offset: partition.logStartOffset,
        last: minId,
        added: 0,
        kind: "origin",
      };
      this.insertCheckpoint(origin);
      this.unpersisted.push(origin);
      this.tail = { offset: origin.offset, last: minId, added: 0 };
    }
    this.recent.clear(this.tail.offset);
  }

  // ---------------------------------------------------------------------------------------
  // State

  /** Offset of the next record to index; everything below it is indexed. */
  get tailOffset(): number {
    return this.tail.offset;
  }

  /** The last entry's id as far as indexed (or the XSETID override). */
  get lastId(): StreamId {
    return this.tail.last;
  }

  /** Entries ever added, as far as indexed. */
  get entriesAdded(): number {
    return this.tail.added;
  }

  get logStartOffset(): number {
    return Math.min(this.partition.logStartOffset, this.tail.offset);
  }

  /** Entries in the stream: indexed offsets from the log start, minus hidden ones. */
  get length(): number {
    const start = this.logStartOffset;
    return Math.max(0, this.tail.offset - start - this.hidden.countIn(start, this.tail.offset));
  }

  /** True when the record at `offset` is a live entry (indexed, not trimmed, not hidden). */
  isLive(offset: number): boolean {
    return (
      offset >= this.partition.logStartOffset &&
      offset < this.tail.offset &&
      !this.hidden.has(offset)
    );
  }

  checkpointList(): Checkpoint[] {
    return this.checkpoints.slice();
  }

  /** True when the partition has durable records not indexed yet. */
  get behind(): boolean {
    return this.partition.highWatermark > this.tail.offset;
  }

  // ---------------------------------------------------------------------------------------
  // Indexing

  /** Indexes every durable record (up to the high watermark at the time of the call). */
  async catchUp(target = this.partition.highWatermark): Promise<void> {
    for (;;) {
      if (this.frozen) {
        await this.frozen;
        continue;
      }
      if (this.catching) {
        await this.catching;
        continue;
      }
      if (this.tail.offset >= target) return;
      this.catching = this.indexUpTo(target).finally(() => {
        this.catching = null;
      });
      await this.catching;
      return;
    }
  }

  private async indexUpTo(target: number): Promise<void> {
    while (this.tail.offset < target) {
      const start = this.partition.logStartOffset;
      if (this.tail.offset < start) this.jumpTo(start);
      let bytes: Buffer;
      try {
        ({ bytes } = await this.partition.read(this.tail.offset, streamWalkReadBytes));
      } catch (error) {
        if (isWharfError(error, "WHARF_OFFSET_OUT_OF_RANGE")) {
          if (this.tail.offset < this.partition.logStartOffset) continue;
          return;
        }
        throw error;
      }
      if (bytes.length === 0) break;
      this.refreshSegmentBases();
      const before = this.tail.offset;
      await decodeBatches(bytes, (record) => {
        if (record.offset < this.tail.offset) return;
        if (record.offset >= target) return false;
        this.indexRecord(record);
      });
      if (this.tail.offset === before) break; // nothing readable: the log ended or is corrupt
    }
    this.flushIfDue();
  }

  /** The log start moved past records never indexed (retention, DeleteRecords). */
  private jumpTo(offset: number): void {
    this.tail.offset = offset;
    this.recent.clear(offset);
    this.addCheckpoint("segment");
  }

  private refreshSegmentBases(): void {
    const count = this.partition.log.segmentCount;
    if (count === this.segmentCount) return;
    this.segmentCount = count;
    this.segmentBases = this.partition.log.segmentBaseOffsets();
  }

  private isSegmentBase(offset: number): boolean {
    const bases = this.segmentBases;
    let low = 0;
    let high = bases.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (bases[middle]! < offset) low = middle + 1;
      else high = middle;
    }
    return low < bases.length && bases[low] === offset;
  }

  /**
   * Indexes the record at `record.offset` (the tail); `claimed`, when given, is the id an XADD
   * record at the tail is known to claim (its key), which spares decoding it.
   */
  private indexRecord(record: RawRecord, claimed?: StreamId): StreamId | null {
    const offset = record.offset;
    if (offset !== this.tail.offset) {
      // A gap (compacted-away offsets): not entries.
      this.tail.offset = offset;
      this.recent.clear(offset);
    }
    const override = this.overrides.get(offset);
    if (override) {
      this.tail.last = override.last;
      this.tail.added = override.added;
    }
    if (
      (this.recordsSinceCheckpoint >= this.intervalRecords || this.isSegmentBase(offset)) &&
      this.checkpointAt(offset) === undefined
    ) {
      this.addCheckpoint(this.isSegmentBase(offset) ? "segment" : "interval");
    }
    const id = claimed ? chainClaim(this.tail, claimed) : chainStep(this.tail, record);
    if (id === null) {
      this.hidden.add(offset);
      this.unpersistedVoids.push(offset);
    }
    this.tail.offset = offset + 1;
    this.recordsSinceCheckpoint++;
    this.recent.push(offset, id, this.tail);
    return id;
  }

  /**
   * The id the record just appended at `offset` by XADD got (null when it is void), indexing
   * any record before it first. `claimed` is what the record's key says.
   */
  async observeAppended(
    offset: number,
    claimed: StreamId,
    timestamp: number,
  ): Promise<StreamId | null> {
    const atTail = this.observeAppendedAtTail(offset, claimed, timestamp);
    if (atTail !== undefined) return atTail;
    if (this.tail.offset <= offset) await this.catchUp(offset + 1);
    if (this.recent.has(offset)) return this.recent.idAt(offset);
    let found: StreamId | null = null;
    await this.scan(
      offset,
      (entry) => {
        if (entry.offset === offset) found = entry.id;
        return false;
      },
      { toOffset: offset + 1 },
    );
    return found;
  }

  /**
   * `observeAppended` without a promise in its usual case: the record is the index's tail and
   * no catch-up or freeze is in progress; undefined when it is not that case.
   */
  observeAppendedAtTail(
    offset: number,
    claimed: StreamId,
    timestamp: number,
  ): StreamId | null | undefined {
    if (this.tail.offset !== offset || this.catching || this.frozen) return undefined;
    this.refreshSegmentBases();
    const id = this.indexRecord(
      { offset, timestamp, key: null, value: null, headers: noHeaders, control: false },
      claimed,
    );
    this.flushIfDue();
    return id;
  }

  private checkpointAt(offset: number): Checkpoint | undefined {
    const at = this.checkpointIndexAtOrBefore(offset);
    const checkpoint = at >= 0 ? this.checkpoints[at] : undefined;
    return checkpoint?.offset === offset ? checkpoint : undefined;
  }

  private addCheckpoint(kind: CheckpointKind): void {
    const checkpoint: Checkpoint = {
      offset: this.tail.offset,
      last: this.tail.last,
      added: this.tail.added,
      kind,
    };
    this.insertCheckpoint(checkpoint);
    this.unpersisted.push(checkpoint);
    this.recordsSinceCheckpoint = 0;
  }

  private insertCheckpoint(checkpoint: Checkpoint): void {
    const list = this.checkpoints;
    if (checkpoint.kind === "override") this.overrides.set(checkpoint.offset, checkpoint);
    if (list.length === 0 || list[list.length - 1]!.offset < checkpoint.offset) {
      list.push(checkpoint);
    } else {
      const at = this.checkpointIndexAtOrBefore(checkpoint.offset);
      if (at >= 0 && list[at]!.offset === checkpoint.offset) {
        // An override or a trim point replaces what was there; others keep the first.
        if (checkpoint.kind === "override" || checkpoint.kind === "trim") list[at] = checkpoint;
        return;
      }
      list.splice(at + 1, 0, checkpoint);
    }
    if (list.length > this.checkpointsMax) this.thin();
  }

  /** Drops every other interval checkpoint: the interval doubles, memory stays bounded. */
  private thin(): void {
    let keep = true;
    this.checkpoints = this.checkpoints.filter((checkpoint) => {
      if (checkpoint.kind !== "interval") return true;
      keep = !keep;
      return keep;
    });
  }

  /** Index of the last checkpoint with offset <= `offset`, or -1. */
  private checkpointIndexAtOrBefore(offset: number): number {
    const list = this.checkpoints;
    let low = 0;
    let high = list.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (list[middle]!.offset <= offset) low = middle + 1;
      else high = middle;
    }
    return low - 1;
  }

  private flushIfDue(): void {
    const due =
      this.unpersisted.length >= streamCheckpointFlushCount ||
      this.unpersistedVoids.length > 0 ||
      this.unpersisted.some((checkpoint) => checkpoint.kind !== "interval");
    if (due) this.flush();
  }

  /** Hands unpersisted checkpoints and voids to the journal. */
  flush(): void {
    if (this.unpersisted.length === 0 && this.unpersistedVoids.length === 0) return;
    const checkpoints = this.unpersisted;
    const voids = this.unpersistedVoids;
    this.unpersisted = [];
    this.unpersistedVoids = [];
    this.options.persist(checkpoints, voids);
  }

  /**
   * Stops indexing until the returned function is called (XSETID: the override must be
   * durable before any record after it is indexed). Waits for a catch-up in progress.
   */
  async freeze(): Promise<() => void> {
    while (this.frozen || this.catching) await (this.frozen ?? this.catching);
    let release!: () => void;
    this.frozen = new Promise<void>((resolve) => {
      release = resolve;
    });
    return () => {
      this.frozen = null;
      release();
    };
  }

  /** Installs an XSETID override at the tail (call while frozen, once it is durable). */
  installOverride(checkpoint: Checkpoint): void {
    if (checkpoint.offset !== this.tail.offset) throw new Error("override must be at the tail");
    this.insertCheckpoint(checkpoint);
    this.tail.last = checkpoint.last;
    this.tail.added = checkpoint.added;
    this.recent.clear(this.tail.offset);
  }

  /** Installs a trim checkpoint at the new log start and forgets what lies below it. */
  installTrim(checkpoint: Checkpoint): void {
    this.insertCheckpoint(checkpoint);
    const at = this.checkpointIndexAtOrBefore(checkpoint.offset);
    if (at > 0) this.checkpoints = this.checkpoints.slice(at);
    for (const offset of this.overrides.keys()) {
      if (offset < checkpoint.offset) this.overrides.delete(offset);
    }
    this.hidden.pruneBelow(checkpoint.offset);
  }

  /** Applies persisted checkpoints restored after construction (journal replay order). */
  restoreCheckpoint(checkpoint: Checkpoint): void {
    this.insertCheckpoint(checkpoint);
  }

  // ---------------------------------------------------------------------------------------
  // Reading

  /** Where a walk that must visit `offset` starts, with the chain state there. */
  private startPoint(offset: number): { offset: number; state: ChainState } {
    const from = Math.max(offset, this.partition.logStartOffset);
    if (from >= this.tail.offset) {
      return { offset: this.tail.offset, state: { last: this.tail.last, added: this.tail.added } };
    }
    if (from > this.recent.firstOffset && this.recent.has(from - 1)) {
      return { offset: from, state: this.recent.stateAfter(from - 1) };
    }
    const at = this.checkpointIndexAtOrBefore(from);
    const checkpoint = at >= 0 ? this.checkpoints[at]! : undefined;
    if (!checkpoint) return { offset: from, state: { last: minId, added: 0 } };
    return {
      offset: Math.max(checkpoint.offset, this.partition.logStartOffset),
      state: { last: checkpoint.last, added: checkpoint.added },
    };
  }

  /** The chain state before `offset` (offset <= tail). */
  async stateBefore(offset: number): Promise<ChainState> {
    if (offset >= this.tail.offset) return { last: this.tail.last, added: this.tail.added };
    const start = this.startPoint(offset);
    const state = start.state;
    if (start.offset >= offset) return state;
    let result: ChainState = state;
    await this.walk(start.offset, start.state, offset, (_record, _id, walked) => {
      result = { last: walked.last, added: walked.added };
    });
    return result;
  }

  /**
   * Visits the entries (non-void records, hidden ones included) at offsets in
   * [`from`, `toOffset` ?? tail), in order, until `visit` returns false.
   */
  async scan(
    from: number,
    visit: (entry: IndexedEntry) => unknown,
    options: { toOffset?: number } = {},
  ): Promise<void> {
    const end = Math.min(options.toOffset ?? this.tail.offset, this.tail.offset);
    const start = this.startPoint(from);
    if (start.offset >= end) return;
    await this.walk(start.offset, start.state, end, (record, id) => {
      if (id === null || record.offset < from) return;
      return visit({ offset: record.offset, id, record });
    });
  }

  /**
   * Walks records [start, end) from chain state `state` (the state before `start`). `visit`
   * gets each record with its id (null if void) and the state after it.
   */
  private async walk(
    start: number,
    state: ChainState,
    end: number,
    visit: (record: RawRecord, id: StreamId | null, state: ChainState) => unknown,
  ): Promise<void> {
    const walked: ChainState = { last: state.last, added: state.added };
    let position = start;
    // Small first reads (a lookup usually needs a few records), growing for long walks.
    let readBytes = walkFirstReadBytes;
    while (position < end) {
      let bytes: Buffer;
      try {
        ({ bytes } = await this.partition.read(position, readBytes));
        readBytes = Math.min(readBytes * 4, streamWalkReadBytes);
      } catch (error) {
        if (!isWharfError(error, "WHARF_OFFSET_OUT_OF_RANGE")) throw error;
        const logStart = this.partition.logStartOffset;
        if (position >= logStart) return; // past the end
        position = logStart; // trimmed under us: continue from the new start
        continue;
      }
      if (bytes.length === 0) return;
      let stopped = false;
      const before = position;
      await decodeBatches(bytes, (record) => {
        if (record.offset < position) return;
        if (record.offset >= end) {
          stopped = true;
          return false;
        }
        const override = this.overrides.get(record.offset);
        if (override) {
          walked.last = override.last;
          walked.added = override.added;
        }
        const id = chainStep(walked, record);
        position = record.offset + 1;
        if (visit(record, id, walked) === false) {
          stopped = true;
          return false;
        }
      });
      if (stopped || position === before) return;
    }
  }

  /**
   * The first offset whose entry id is >= `id` (hidden entries included), or the tail when
   * every indexed entry is below `id`.
   */
  async seek(id: StreamId): Promise<number> {
    const logStart = this.partition.logStartOffset;
    if (compareIds(id, this.tail.last) > 0) return this.tail.offset;
    const ringFirstLast = this.recent.firstLast();
    if (
      ringFirstLast !== undefined &&
      this.recent.firstOffset >= logStart &&
      compareIds(id, ringFirstLast) > 0
    ) {
      return this.recent.lowerBound(id);
    }
    // The first checkpoint whose state is already >= id: the entry lies before it.
    const list = this.checkpoints;
    let low = 0;
    let high = list.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareIds(list[middle]!.last, id) < 0) low = middle + 1;
      else high = middle;
    }
    const from = low > 0 ? list[low - 1]!.offset : logStart;
    let found = this.tail.offset;
    await this.scan(Math.max(from, logStart), (entry) => {
      if (compareIds(entry.id, id) >= 0) {
        found = entry.offset;
        return false;
      }
    });
    return found;
  }

  /** The offset of the entry with exactly this id (hidden or not), or -1. */
  async offsetOf(id: StreamId): Promise<number> {
    const offset = await this.seek(id);
    if (offset >= this.tail.offset) return -1;
    let exact = -1;
    await this.scan(offset, (entry) => {
      if (compareIds(entry.id, id) === 0) exact = entry.offset;
      return false;
    });
    return exact;
  }

  /**
   * Where a backward read of the records below `offset` starts its next block: `size` records
   * back when the recent ids cover it (reads near the tail stay small), else the checkpoint
   * before `offset`. Always below `offset`, and never below the log start.
   */
  blockStartBefore(offset: number, size: number): number {
    const logStart = this.partition.logStartOffset;
    const candidate = offset - Math.max(1, size);
    if (candidate <= logStart) return logStart;
    if (this.recent.has(candidate - 1)) return candidate;
    const at = this.checkpointIndexAtOrBefore(offset - 1);
    if (at < 0) return logStart;
    return Math.max(this.checkpoints[at]!.offset, logStart);
  }
}

export { uint64Max };
