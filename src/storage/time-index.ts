/**
 * The sparse time index of one segment: largest timestamp seen so far -> the relative offset of
 * the batch that carried it (Kafka's `.timeindex`: int64 timestamp, int32 relative offset, 12
 * bytes per entry, timestamps strictly increasing).
 *
 * Invariant used by lookups: for an entry (t, o), every batch up to and including the batch at
 * relative offset o has a max timestamp <= t. So the first batch whose max timestamp reaches a
 * target T lies after the last entry with t < T, and a scan may start there. An entry is added
 * with each offset-index entry when the maximum grew, and once more when the segment is sealed
 * or persisted, so the last entry holds the segment's largest timestamp.
 *
 * Like the offset index it is a cache kept in memory and persisted on roll/flush/close;
 * recovery rebuilds it from the log when it is missing or does not fit the log.
 */

export const TIME_INDEX_ENTRY_BYTES = 12;

export class TimeIndex {
  private timestamps: number[] = [];
  private relativeOffsets: number[] = [];

  get length(): number {
    return this.timestamps.length;
  }

  get byteSize(): number {
    return this.timestamps.length * TIME_INDEX_ENTRY_BYTES;
  }

  /** The largest timestamp indexed, or -1 when empty. */
  get lastTimestamp(): number {
    return this.timestamps.at(-1) ?? -1;
  }

  get lastRelativeOffset(): number {
    return this.relativeOffsets.at(-1) ?? -1;
  }

  timestampAt(index: number): number {
    return this.timestamps[index]!;
  }

  relativeOffsetAt(index: number): number {
    return this.relativeOffsets[index]!;
  }

  /** Adds (timestamp, relativeOffset) when the timestamp is a new maximum; else does nothing. */
  maybeAppend(timestamp: number, relativeOffset: number): void {
    if (timestamp <= this.lastTimestamp) return;
    if (relativeOffset < this.lastRelativeOffset) {
      throw new Error(`time index: offset ${relativeOffset} goes back`);
    }
    this.timestamps.push(timestamp);
    this.relativeOffsets.push(relativeOffset);
  }

  /**
   * Relative offset from which a scan for the first batch with max timestamp >= `timestamp`
   * may start: the offset of the last entry whose timestamp is below it, or -1 (scan from the
   * segment's start).
   */
  scanStartFor(timestamp: number): number {
    let low = 0;
    let high = this.timestamps.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.timestamps[middle]! < timestamp) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found === -1 ? -1 : this.relativeOffsets[found]!;
  }

  /** Drops entries at or after `relativeOffset` (the log was truncated there). */
  truncateToOffset(relativeOffset: number): void {
    let keep = this.relativeOffsets.length;
    while (keep > 0 && this.relativeOffsets[keep - 1]! >= relativeOffset) keep--;
    this.timestamps.length = keep;
    this.relativeOffsets.length = keep;
  }

  clear(): void {
    this.timestamps = [];
    this.relativeOffsets = [];
  }

  serialize(): Buffer {
    const buffer = Buffer.allocUnsafe(this.byteSize);
    for (let i = 0; i < this.timestamps.length; i++) {
      const at = i * TIME_INDEX_ENTRY_BYTES;
      buffer.writeBigInt64BE(BigInt(this.timestamps[i]!), at);
      buffer.writeInt32BE(this.relativeOffsets[i]!, at + 8);
    }
    return buffer;
  }

  /**
   * Parses a persisted time index: whole entries, timestamps strictly increasing, offsets not
   * decreasing and below `relativeOffsetEnd` (the segment's offset span). Returns the reason
   * when it does not hold.
   */
  static parse(bytes: Buffer, relativeOffsetEnd: number): TimeIndex | string {
    if (bytes.length % TIME_INDEX_ENTRY_BYTES !== 0) {
      return `size ${bytes.length} is not a multiple of ${TIME_INDEX_ENTRY_BYTES}`;
    }
    const index = new TimeIndex();
    for (let at = 0; at < bytes.length; at += TIME_INDEX_ENTRY_BYTES) {
      const timestamp = Number(bytes.readBigInt64BE(at));
      const relativeOffset = bytes.readInt32BE(at + 8);
      if (relativeOffset < 0 || relativeOffset >= relativeOffsetEnd) {
        return `entry at ${at} has offset ${relativeOffset}, outside the segment`;
      }
      if (timestamp <= index.lastTimestamp || relativeOffset < index.lastRelativeOffset) {
        return `entry at ${at} (${timestamp}, ${relativeOffset}) is not increasing`;
      }
      index.timestamps.push(timestamp);
      index.relativeOffsets.push(relativeOffset);
    }
    return index;
  }
}
