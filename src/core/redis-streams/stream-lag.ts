/**
 * A consumer group's `entries-read` and `lag`, computed exactly as Redis 7 does
 * (t_stream.c `streamReplyWithCGLag`, `streamEstimateDistanceFromFirstEverEntry`,
 * `streamRangeHasTombstones`), from the stream's counters.
 */
import { compareIds, isZeroId, minId, type StreamId } from "./stream-id.ts";

export interface StreamFacts {
  length: number;
  entriesAdded: number;
  /** `last-generated-id`. */
  lastId: StreamId;
  maxDeletedId: StreamId;
  /** `recorded-first-entry-id` (0-0 when empty). */
  firstId: StreamId;
}

/** Redis's marker for an unknown `entries-read`. */
export const entriesReadUnknown = -1;

/** True when [start, +] may contain an XDEL tombstone. */
export function rangeHasTombstones(facts: StreamFacts, start: StreamId | null): boolean {
  if (facts.length === 0 || isZeroId(facts.maxDeletedId)) return false;
  return compareIds(start ?? minId, facts.maxDeletedId) <= 0;
}

/** The logical read counter of `id`, or -1 when it cannot be known. */
export function estimateEntriesRead(facts: StreamFacts, id: StreamId): number {
  if (!facts.entriesAdded) return 0;
  if (!facts.length && compareIds(id, facts.lastId) < 1) return facts.entriesAdded;
  if (!isZeroId(id) && compareIds(id, facts.maxDeletedId) < 0) return entriesReadUnknown;
  const versusLast = compareIds(id, facts.lastId);
  if (versusLast === 0) return facts.entriesAdded;
  if (versusLast > 0) return entriesReadUnknown;
  const versusFirst = compareIds(id, facts.firstId);
  if (isZeroId(facts.maxDeletedId) || compareIds(facts.maxDeletedId, facts.firstId) < 0) {
    if (versusFirst < 0) return facts.entriesAdded - facts.length;
    if (versusFirst === 0) return facts.entriesAdded - facts.length + 1;
  }
  return entriesReadUnknown;
}

/** The group's lag, or null when Redis would not know it. */
export function groupLag(
  facts: StreamFacts,
  group: { lastId: StreamId; entriesRead: number },
): number | null {
  if (!facts.entriesAdded) return 0;
  if (!facts.length) return 0;
  if (
    compareIds(group.lastId, facts.firstId) < 0 &&
    compareIds(facts.maxDeletedId, facts.firstId) < 0
  ) {
    return facts.length;
  }
  if (group.entriesRead !== entriesReadUnknown && !rangeHasTombstones(facts, group.lastId)) {
    return facts.entriesAdded - group.entriesRead;
  }
  const read = estimateEntriesRead(facts, group.lastId);
  return read === entriesReadUnknown ? null : facts.entriesAdded - read;
}

/** `entries-read` after delivering `id` (above the group's last id), as XREADGROUP counts. */
export function entriesReadAfter(
  facts: StreamFacts,
  group: { lastId: StreamId; entriesRead: number },
  id: StreamId,
): number {
  if (group.entriesRead !== entriesReadUnknown && !rangeHasTombstones(facts, group.lastId)) {
    return group.entriesRead + 1;
  }
  if (facts.entriesAdded) return estimateEntriesRead(facts, id);
  return group.entriesRead;
}
