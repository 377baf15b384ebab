/**
 * Reading entries out of a stream's partition through its id index: ranges forward and
 * backward (XRANGE, XREVRANGE), entries after an id (XREAD, XREADGROUP), and the records at
 * given offsets (pending entries). Every reply is bounded by `streamReadEntriesMax` entries
 * and `streamReadBytesMax` bytes, whatever COUNT says.
 */

import { streamReadBytesMax, streamReadEntriesMax } from "../../config/limits.ts";
import { isWharfError } from "../../errors/index.ts";
import type { Partition } from "../streams/partition.ts";
import { decodeBatches, entryFields, foreignFields, type RawRecord } from "./entry-codec.ts";
import { compareIds, formatId, parseCanonicalId, type StreamId } from "./stream-id.ts";
import type { IndexedEntry, StreamIndex } from "./stream-index.ts";

/** An entry as replies carry it; `fields` is null for an entry that no longer exists. */
export interface StreamEntry {
  id: string;
  fields: Buffer[] | null;
}

export interface ReadEntry {
  offset: number;
  id: StreamId;
  fields: Buffer[];
}

/** True for a record written as an XADD entry (its key claims its id). */
export function isEntryRecord(record: RawRecord): boolean {
  return (
    record.value === null &&
    record.key !== null &&
    record.key.length <= 41 &&
    parseCanonicalId(record.key.toString("latin1")) !== null
  );
}

export function fieldsOf(record: RawRecord): Buffer[] {
  return isEntryRecord(record) ? entryFields(record) : foreignFields(record);
}

export function toStreamEntry(entry: ReadEntry): StreamEntry {
  return { id: formatId(entry.id), fields: entry.fields };
}

/** COUNT as a bound: 0 or absent means "all", which is still bounded. */
export function countBound(count: number | null | undefined): number {
  if (!count || count <= 0) return streamReadEntriesMax;
  return Math.min(count, streamReadEntriesMax);
}

class Collector {
  readonly entries: ReadEntry[] = [];
  private bytes = 0;

  constructor(private readonly limit: number) {}

  get full(): boolean {
    return this.entries.length >= this.limit || this.bytes >= streamReadBytesMax;
  }

  add(entry: IndexedEntry): void {
    const fields = fieldsOf(entry.record);
    for (const field of fields) this.bytes += field.length + 16;
    this.entries.push({ offset: entry.offset, id: entry.id, fields });
  }
}

/** Live entries with `start <= id <= end`, ascending, at most `count`. */
export async function readRange(
  index: StreamIndex,
  start: StreamId,
  end: StreamId,
  count: number,
): Promise<ReadEntry[]> {
  const collector = new Collector(count);
  if (compareIds(start, end) > 0 || count <= 0) return collector.entries;
  const from = await index.seek(start);
  await index.scan(from, (entry) => {
    if (compareIds(entry.id, end) > 0) return false;
    if (compareIds(entry.id, start) < 0 || index.hidden.has(entry.offset)) return;
    collector.add(entry);
    if (collector.full) return false;
  });
  return collector.entries;
}

/** Live entries with `start <= id <= end`, descending, at most `count`. */
export async function readRangeReverse(
  index: StreamIndex,
  start: StreamId,
  end: StreamId,
  count: number,
): Promise<ReadEntry[]> {
  const collector = new Collector(count);
  if (compareIds(start, end) > 0 || count <= 0) return collector.entries;
  const next = end.seq < 0xffff_ffff_ffff_ffffn || end.ms < 0xffff_ffff_ffff_ffffn;
  let high = next ? await index.seek(nextAfter(end)) : index.tailOffset;
  let blockSize = 16;
  const logStart = index.logStartOffset;
  while (high > logStart && !collector.full) {
    const low = index.blockStartBefore(high, blockSize);
    blockSize *= 4;
    const block: IndexedEntry[] = [];
    let belowStart = false;
    await index.scan(
      low,
      (entry) => {
        if (compareIds(entry.id, start) < 0) {
          belowStart = true;
          return;
        }
        if (compareIds(entry.id, end) > 0) return false;
        if (!index.hidden.has(entry.offset)) block.push(entry);
      },
      { toOffset: high },
    );
    for (let i = block.length - 1; i >= 0 && !collector.full; i--) collector.add(block[i]!);
    if (belowStart) break;
    high = low;
  }
  return collector.entries;
}

function nextAfter(id: StreamId): StreamId {
  return id.seq < 0xffff_ffff_ffff_ffffn
    ? { ms: id.ms, seq: id.seq + 1n }
    : { ms: id.ms + 1n, seq: 0n };
}

/**
 * Live entries with id > `after`, ascending, at most `count`; `fromOffset` (a cached
 * position known to be at or before the first such entry) saves the lookup.
 */
export async function readAfter(
  index: StreamIndex,
  after: StreamId,
  count: number,
  fromOffset?: number | null,
): Promise<{ entries: ReadEntry[]; scannedTo: number }> {
  const collector = new Collector(count);
  let scannedTo = index.tailOffset;
  if (compareIds(after, index.lastId) >= 0) return { entries: collector.entries, scannedTo };
  const from = fromOffset ?? (await index.seek(nextAfter(after)));
  await index.scan(from, (entry) => {
    scannedTo = entry.offset + 1;
    if (compareIds(entry.id, after) <= 0 || index.hidden.has(entry.offset)) return;
    collector.add(entry);
    if (collector.full) return false;
  });
  if (!collector.full) scannedTo = index.tailOffset;
  return { entries: collector.entries, scannedTo };
}

/** The records at `offsets` (ascending), read with as few reads as possible. */
export async function fetchRecords(
  partition: Partition,
  offsets: number[],
): Promise<Map<number, RawRecord>> {
  const found = new Map<number, RawRecord>();
  const wanted = new Set(offsets);
  let i = 0;
  while (i < offsets.length) {
    const offset = offsets[i]!;
    if (found.has(offset) || offset < partition.logStartOffset) {
      i++;
      continue;
    }
    let bytes: Buffer;
    try {
      ({ bytes } = await partition.read(offset, 16 * 1024));
    } catch (error) {
      if (isWharfError(error, "WHARF_OFFSET_OUT_OF_RANGE")) {
        i++;
        continue;
      }
      throw error;
    }
    if (bytes.length === 0) break;
    const { nextOffset } = await decodeBatches(bytes, (record) => {
      if (wanted.has(record.offset)) found.set(record.offset, record);
    });
    while (i < offsets.length && (offsets[i]! < nextOffset || found.has(offsets[i]!))) i++;
    if (nextOffset <= offset) i++;
  }
  return found;
}
