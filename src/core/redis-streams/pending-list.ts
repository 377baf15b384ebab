/**
 * An ordered map from log offset to a value, for pending-entries lists. Offsets mostly arrive
 * in increasing order (new deliveries are always past every earlier one) and leave from
 * anywhere (acks), so: a Map for lookup, a sorted array for order, and deletions that only
 * leave a hole in the array, swept when holes outnumber live entries. Insert in order, lookup
 * and delete are O(1) amortised; an out-of-order insert (XGROUP SETID back, XCLAIM FORCE) is a
 * binary search and a splice.
 */
export class PendingList<V> {
  private readonly map = new Map<number, V>();
  private order: number[] = [];
  /** The value of each slot of `order`, kept for holes too (their keys keep the order). */
  private values: V[] = [];
  /** Index of the first array slot that may be live. */
  private head = 0;

  get size(): number {
    return this.map.size;
  }

  get(offset: number): V | undefined {
    return this.map.get(offset);
  }

  has(offset: number): boolean {
    return this.map.has(offset);
  }

  set(offset: number, value: V): void {
    if (this.map.has(offset)) {
      this.map.set(offset, value);
      return;
    }
    this.map.set(offset, value);
    const order = this.order;
    if (order.length === this.head || order[order.length - 1]! < offset) {
      order.push(offset);
      this.values.push(value);
      return;
    }
    const at = this.lowerBound(offset);
    if (order[at] === offset) {
      this.values[at] = value; // a hole for this offset is live again
      return;
    }
    order.splice(at, 0, offset);
    this.values.splice(at, 0, value);
  }

  delete(offset: number): boolean {
    if (!this.map.delete(offset)) return false;
    const holes = this.order.length - this.head - this.map.size;
    if (holes > 64 && holes > this.map.size) this.sweep();
    return true;
  }

  clear(): void {
    this.map.clear();
    this.order = [];
    this.values = [];
    this.head = 0;
  }

  /** The first live offset, or undefined. */
  first(): number | undefined {
    const order = this.order;
    while (this.head < order.length && !this.map.has(order[this.head]!)) {
      this.values[this.head] = undefined as V; // let the hole's value be collected
      this.head++;
    }
    return this.head < order.length ? order[this.head] : undefined;
  }

  /** The last live offset, or undefined. */
  last(): number | undefined {
    const order = this.order;
    for (let i = order.length - 1; i >= this.head; i--) {
      if (this.map.has(order[i]!)) return order[i];
    }
    return undefined;
  }

  /** Live entries with offset >= `from`, in order; stop by returning false from the loop. */
  *from(from = 0): IterableIterator<[number, V]> {
    const order = this.order;
    for (let i = Math.max(this.head, this.lowerBound(from)); i < order.length; i++) {
      const offset = order[i]!;
      const value = this.map.get(offset);
      if (value !== undefined) yield [offset, value];
    }
  }

  entries(): IterableIterator<[number, V]> {
    return this.from(0);
  }

  /**
   * The first live offset whose key is >= `target` by `compare(value, target)`, searching the
   * order by the values' keys (which must increase with the offset).
   */
  lowerBoundBy<T>(target: T, compare: (value: V, target: T) => number): number {
    const order = this.order;
    let low = this.head;
    let high = order.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compare(this.values[middle]!, target) < 0) low = middle + 1;
      else high = middle;
    }
    while (low < order.length && !this.map.has(order[low]!)) low++;
    return low < order.length ? order[low]! : Number.POSITIVE_INFINITY;
  }

  private lowerBound(offset: number): number {
    const order = this.order;
    let low = this.head;
    let high = order.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (order[middle]! < offset) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private sweep(): void {
    const order: number[] = [];
    const values: V[] = [];
    for (let i = this.head; i < this.order.length; i++) {
      const value = this.map.get(this.order[i]!);
      if (value === undefined) continue;
      order.push(this.order[i]!);
      values.push(value);
    }
    this.order = order;
    this.values = values;
    this.head = 0;
  }
}
