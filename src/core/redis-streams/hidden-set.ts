/**
 * The offsets of a stream's partition that are not entries although the log holds them:
 * entries removed with XDEL (an append-only log cannot delete in the middle) and records whose
 * key claimed an id not above the previous entry's ("void" records, see stream-index.ts).
 * A sorted array: membership and range counts are binary searches; inserts are mostly at the
 * end. Offsets below the log start are pruned when the head is trimmed.
 */
export class HiddenSet {
  private offsets: number[] = [];

  get size(): number {
    return this.offsets.length;
  }

  has(offset: number): boolean {
    const at = this.lowerBound(offset);
    return at < this.offsets.length && this.offsets[at] === offset;
  }

  /** Adds an offset; false when it was already there. */
  add(offset: number): boolean {
    const offsets = this.offsets;
    if (offsets.length === 0 || offsets[offsets.length - 1]! < offset) {
      offsets.push(offset);
      return true;
    }
    const at = this.lowerBound(offset);
    if (offsets[at] === offset) return false;
    offsets.splice(at, 0, offset);
    return true;
  }

  /** Hidden offsets in [from, to). */
  countIn(from: number, to: number): number {
    if (to <= from) return 0;
    return this.lowerBound(to) - this.lowerBound(from);
  }

  /** Drops every offset below `offset` (the new log start). */
  pruneBelow(offset: number): void {
    const at = this.lowerBound(offset);
    if (at > 0) this.offsets = this.offsets.slice(at);
  }

  /** Hidden offsets >= `from`, in order. */
  *from(from: number): IterableIterator<number> {
    for (let i = this.lowerBound(from); i < this.offsets.length; i++) yield this.offsets[i]!;
  }

  toArray(): number[] {
    return this.offsets.slice();
  }

  /**
   * The offset reached by skipping `count` live (not hidden) offsets from `from`: the first
   * live offset after them (or the position after the last, if fewer remain).
   */
  skipLive(from: number, count: number): number {
    let target = from + count;
    for (let i = this.lowerBound(from); i < this.offsets.length; i++) {
      if (this.offsets[i]! < target) target++;
      else break;
    }
    return target;
  }

  private lowerBound(offset: number): number {
    const offsets = this.offsets;
    let low = 0;
    let high = offsets.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (offsets[middle]! < offset) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
