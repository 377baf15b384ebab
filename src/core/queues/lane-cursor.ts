/**
 * The settled part of one lane's individual-ack cursor: an ack floor (every offset below it is
 * settled) plus the settled offsets above it (acks out of order: "ack holes") and settled
 * ranges (purges). Unsettled offsets are the ready, in-flight and requeued messages; the queue
 * keeps those.
 *
 * Bounded: the set holds only offsets above the floor, so its size is the number of messages
 * settled out of order while an older one is still unsettled (prefetch window plus holes).
 */
export class LaneCursor {
  floor: number;
  readonly settled = new Set<number>();
  /** Flat sorted [start, end) pairs, all above the floor. */
  ranges: number[] = [];

  constructor(floor = 0) {
    this.floor = floor;
  }

  isSettled(offset: number): boolean {
    if (offset < this.floor || this.settled.has(offset)) return true;
    const ranges = this.ranges;
    for (let i = 0; i < ranges.length; i += 2) {
      if (offset < ranges[i]!) return false;
      if (offset < ranges[i + 1]!) return true;
    }
    return false;
  }

  /** Marks `offset` settled; answers whether the floor moved. */
  settle(offset: number): boolean {
    if (offset < this.floor) return false;
    if (offset !== this.floor) {
      this.settled.add(offset);
      return false;
    }
    this.floor++;
    this.advance();
    return true;
  }

  /** Marks [start, end) settled. */
  settleRange(start: number, end: number): void {
    if (end <= this.floor || end <= start) return;
    start = Math.max(start, this.floor);
    const ranges = this.ranges;
    let at = 0;
    while (at < ranges.length && ranges[at]! < start) at += 2;
    ranges.splice(at, 0, start, end);
    // Merge overlapping or touching neighbours.
    const merged: number[] = [];
    for (let i = 0; i < ranges.length; i += 2) {
      const last = merged.length - 1;
      if (last > 0 && ranges[i]! <= merged[last]!) {
        merged[last] = Math.max(merged[last]!, ranges[i + 1]!);
      } else merged.push(ranges[i]!, ranges[i + 1]!);
    }
    this.ranges = merged;
    this.advance();
  }

  /** Moves the floor over settled offsets and ranges directly above it. */
  advance(): void {
    let jumped = false;
    for (;;) {
      if (this.settled.delete(this.floor)) {
        this.floor++;
        continue;
      }
      if (this.ranges.length > 0 && this.ranges[0]! <= this.floor) {
        this.floor = Math.max(this.floor, this.ranges[1]!);
        this.ranges.splice(0, 2);
        jumped = true;
        continue;
      }
      break;
    }
    if (jumped) {
      for (const offset of this.settled) if (offset < this.floor) this.settled.delete(offset);
    }
  }

  /** Raises the floor to at least `floor` (the log start moved past it). */
  raiseFloor(floor: number): void {
    if (floor <= this.floor) return;
    this.floor = floor;
    for (const offset of this.settled) if (offset < floor) this.settled.delete(offset);
    const ranges = this.ranges;
    while (ranges.length > 0 && ranges[1]! <= floor) ranges.splice(0, 2);
    if (ranges.length > 0 && ranges[0]! < floor) ranges[0] = floor;
    this.advance();
  }

  /** How many offsets in [floor, end) are settled. */
  settledBelow(end: number): number {
    let count = 0;
    for (const offset of this.settled) if (offset < end) count++;
    for (let i = 0; i < this.ranges.length; i += 2) {
      const start = this.ranges[i]!;
      const stop = Math.min(this.ranges[i + 1]!, end);
      if (stop > start) count += stop - start;
    }
    return count;
  }

  reset(floor: number, settled: number[], ranges: number[]): void {
    this.floor = floor;
    this.settled.clear();
    for (const offset of settled) if (offset >= floor) this.settled.add(offset);
    this.ranges = [];
    for (let i = 0; i + 1 < ranges.length; i += 2) this.settleRange(ranges[i]!, ranges[i + 1]!);
    this.advance();
  }
}
