/**
 * Leader epochs of one log: for each epoch, the first offset appended under it (Kafka's
 * `LeaderEpochFileCache`). Replication uses it later to find where a follower's log diverges
 * from the leader's (OffsetsForLeaderEpoch), so it is part of the log from day one.
 *
 * The cache is plain data; the `Log` persists it as `leader-epoch-checkpoint` (Kafka's text
 * format: version 0, count, then `epoch startOffset` lines) whenever it changes, from its writer
 * loop. Recovery re-derives epochs from the batches of the scanned tail, so a crash between an
 * append and the checkpoint write loses nothing.
 */
import { formatCheckpointLines, parseCheckpointLines } from "./checkpoint-file.ts";

export const LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint";
const CHECKPOINT_VERSION = 0;

/** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_OFFSET = -1;

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

export class LeaderEpochCache {
  private entries: EpochEntry[] = [];

  static parse(text: string): LeaderEpochCache | null {
    const lines = parseCheckpointLines(text, CHECKPOINT_VERSION, 2);
    if (lines === null) return null;
    const cache = new LeaderEpochCache();
    for (const [epoch, startOffset] of lines) {
      if (epoch! < 0 || startOffset! < 0) return null;
      const last = cache.entries.at(-1);
      if (last && (epoch! <= last.epoch || startOffset! < last.startOffset)) return null;
      cache.entries.push({ epoch: epoch!, startOffset: startOffset! });
    }
    return cache;
  }

  format(): string {
    return formatCheckpointLines(
      CHECKPOINT_VERSION,
      this.entries.map((entry) => [entry.epoch, entry.startOffset]),
    );
  }

  list(): readonly EpochEntry[] {
    return this.entries;
  }

  /** The latest epoch, or UNDEFINED_EPOCH (-1) when none was assigned. */
  get latestEpoch(): number {
    return this.entries.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  /**
   * Records that `epoch` starts at `startOffset`. Entries that contradict it (an epoch not
   * lower, or a start offset not lower) are removed first, as Kafka does. Returns true when the
   * cache changed (the caller then persists it).
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0 || startOffset < 0) return false;
    const last = this.entries.at(-1);
    if (last && last.epoch === epoch && last.startOffset <= startOffset) return false;
    const kept = this.entries.filter((e) => e.epoch < epoch && e.startOffset < startOffset);
    kept.push({ epoch, startOffset });
    this.entries = kept;
    return true;
  }

  /**
   * Kafka's `endOffsetFor`: the largest epoch not above `epoch` and the offset where it ended
   * (the start of the next epoch, or the log end offset for the latest epoch).
   * `{ UNDEFINED_EPOCH, UNDEFINED_OFFSET }` when `epoch` predates every entry.
   */
  endOffsetFor(epoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    const last = this.entries.at(-1);
    if (last === undefined) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_OFFSET };
    if (epoch === last.epoch) return { epoch, endOffset: logEndOffset };
    const next = this.entries.findIndex((entry) => entry.epoch > epoch);
    if (next === -1) return { epoch: last.epoch, endOffset: logEndOffset };
    if (next === 0) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_OFFSET };
    return { epoch: this.entries[next - 1]!.epoch, endOffset: this.entries[next]!.startOffset };
  }

  /** Drops entries that start at or after `endOffset` (log truncated to it). */
  truncateFromEnd(endOffset: number): boolean {
    const kept = this.entries.filter((entry) => entry.startOffset < endOffset);
    const changed = kept.length !== this.entries.length;
    this.entries = kept;
    return changed;
  }

  /**
   * The log now starts at `startOffset`: entries wholly before it go, and the entry covering
   * it is moved up to start there.
   */
  truncateFromStart(startOffset: number): boolean {
    let covering = -1;
    for (let i = 0; i < this.entries.length && this.entries[i]!.startOffset <= startOffset; i++) {
      covering = i;
    }
    if (covering === -1) return false;
    if (covering === 0 && this.entries[0]!.startOffset === startOffset) return false;
    const rest = this.entries.slice(covering + 1);
    this.entries = [{ epoch: this.entries[covering]!.epoch, startOffset }, ...rest];
    return true;
  }
}
