/**
 * The sparse offset index of one segment: relative offset of a batch -> its file position.
 *
 * One entry is added per `indexIntervalBytes` of log (and always for the first batch), so a
 * lookup lands at most one interval plus one batch before the batch it wants. The entries live
 * in memory while the segment is written and are persisted whole (Kafka's `.index` layout:
 * big-endian int32 relative offset, int32 position, 8 bytes per entry) on roll, flush and
 * close. The file is only a cache: recovery validates it against the log and rebuilds it from
 * the log when it is missing or disagrees, so it is never fsync'd on the append path.
 */

export const OFFSET_INDEX_ENTRY_BYTES = 8;

export class OffsetIndex {
  private relativeOffsets: number[] = [];
  private positions: number[] = [];

  get length(): number {
    return this.relativeOffsets.length;
  }

  get byteSize(): number {
    return this.relativeOffsets.length * OFFSET_INDEX_ENTRY_BYTES;
  }

  relativeOffsetAt(index: number): number {
    return this.relativeOffsets[index]!;
  }

  positionAt(index: number): number {
    return this.positions[index]!;
  }

  /** Entries must grow strictly in both offset and position; anything else is a bug. */
  append(relativeOffset: number, position: number): void {
    const last = this.relativeOffsets.length - 1;
    if (
      last >= 0 &&
      (relativeOffset <= this.relativeOffsets[last]! || position <= this.positions[last]!)
    ) {
      throw new Error(`offset index: entry (${relativeOffset}, ${position}) is not increasing`);
    }
    this.relativeOffsets.push(relativeOffset);
    this.positions.push(position);
  }

  /** Index of the last entry whose relative offset is <= `relativeOffset`, or -1. */
  floor(relativeOffset: number): number {
    let low = 0;
    let high = this.relativeOffsets.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.relativeOffsets[middle]! <= relativeOffset) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /** Index of the last entry whose position is <= `position`, or -1. */
  floorByPosition(position: number): number {
    let low = 0;
    let high = this.positions.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.positions[middle]! <= position) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /** Drops every entry at or after `position` (the log was truncated there). */
  truncateToPosition(position: number): void {
    const keep = this.floorByPosition(position - 1) + 1;
    this.relativeOffsets.length = keep;
    this.positions.length = keep;
  }

  clear(): void {
    this.relativeOffsets = [];
    this.positions = [];
  }

  serialize(): Buffer {
    const buffer = Buffer.allocUnsafe(this.byteSize);
    for (let i = 0; i < this.relativeOffsets.length; i++) {
      buffer.writeInt32BE(this.relativeOffsets[i]!, i * OFFSET_INDEX_ENTRY_BYTES);
      buffer.writeInt32BE(this.positions[i]!, i * OFFSET_INDEX_ENTRY_BYTES + 4);
    }
    return buffer;
  }

  /**
   * Parses a persisted index and checks it against what is known of the log file: whole
   * entries, strictly increasing, the first at (0, 0), every position inside the file. Returns
   * the reason when it does not hold, so recovery can log why it rebuilds.
   */
  static parse(bytes: Buffer, logBytes: number): OffsetIndex | string {
    if (bytes.length % OFFSET_INDEX_ENTRY_BYTES !== 0) {
      return `size ${bytes.length} is not a multiple of ${OFFSET_INDEX_ENTRY_BYTES}`;
    }
    const index = new OffsetIndex();
    const count = bytes.length / OFFSET_INDEX_ENTRY_BYTES;
    if (count === 0 && logBytes > 0) return "empty while the log is not";
    for (let i = 0; i < count; i++) {
      const relativeOffset = bytes.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES);
      const position = bytes.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES + 4);
      if (i === 0 && (relativeOffset !== 0 || position !== 0)) {
        return `first entry (${relativeOffset}, ${position}) is not (0, 0)`;
      }
      if (position >= logBytes) return `entry ${i} points at ${position}, beyond the log's end`;
      if (
        i > 0 &&
        (relativeOffset <= index.relativeOffsets[i - 1]! || position <= index.positions[i - 1]!)
      ) {
        return `entry ${i} (${relativeOffset}, ${position}) is not increasing`;
      }
      index.relativeOffsets.push(relativeOffset);
      index.positions.push(position);
    }
    return index;
  }
}
