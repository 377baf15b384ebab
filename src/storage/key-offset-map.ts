/**
 * Compaction's key map (Kafka's `SkimpyOffsetMap`): key -> the latest offset seen for it, in a
 * bounded amount of memory.
 *
 * A key is stored as its MD5 digest (16 bytes) next to a float64 offset, 24 bytes a slot, in an
 * open-addressing table with linear probing. Keys are never stored, so the memory does not
 * depend on key sizes. Two keys with the same digest would be taken for one (the older record
 * of the other would be removed); at 128 bits that is not a practical concern, and it is the
 * trade Kafka makes too.
 *
 * The table starts small and doubles as it fills, up to `maxBytes` (rounded down to a power of
 * two of slots) at a 0.9 load factor. When it cannot take a new key `put` answers false and the
 * cleaner stops mapping there: the records after that point are kept as they are this pass and
 * mapped by the next (several passes for a log with more distinct keys than fit).
 */
import { hash } from "node:crypto";

/** Bytes of one slot: 16 of digest, 8 of offset. */
export const KEY_MAP_SLOT_BYTES = 24;
const LOAD_FACTOR = 0.9;
const INITIAL_SLOTS = 4096;
const EMPTY = -1;

function largestPowerOfTwoAtMost(value: number): number {
  let power = 1;
  while (power * 2 <= value) power *= 2;
  return power;
}

export class KeyOffsetMap {
  /** Most slots the table may grow to. */
  readonly maxSlots: number;
  private slots: number;
  private digests: Int32Array;
  private offsets: Float64Array;
  private count = 0;
  private readonly digest = new Int32Array(4);

  constructor(maxBytes: number) {
    if (!(maxBytes >= KEY_MAP_SLOT_BYTES)) {
      throw new RangeError(`a key map needs at least ${KEY_MAP_SLOT_BYTES} bytes`);
    }
    this.maxSlots = largestPowerOfTwoAtMost(Math.floor(maxBytes / KEY_MAP_SLOT_BYTES));
    this.slots = Math.min(this.maxSlots, INITIAL_SLOTS);
    this.digests = new Int32Array(this.slots * 4);
    this.offsets = new Float64Array(this.slots).fill(EMPTY);
  }

  /** Distinct keys held. */
  get size(): number {
    return this.count;
  }

  /** Distinct keys the map can hold at its largest. */
  get capacity(): number {
    return Math.max(1, Math.floor(this.maxSlots * LOAD_FACTOR));
  }

  /** Bytes allocated now. */
  get allocatedBytes(): number {
    return this.slots * KEY_MAP_SLOT_BYTES;
  }

  /**
   * Records `offset` as the latest for `key` (offsets only grow during a scan). False when the
   * key is new and the map is full: nothing was recorded.
   */
  put(key: Buffer, offset: number): boolean {
    this.hashKey(key);
    let slot = this.find();
    if (slot >= 0 && this.offsets[slot] !== EMPTY) {
      this.offsets[slot] = offset;
      return true;
    }
    if (this.count + 1 > Math.max(1, Math.floor(this.slots * LOAD_FACTOR))) {
      if (this.slots >= this.maxSlots) return false;
      this.grow();
      slot = this.find();
    }
    this.digests.set(this.digest, slot * 4);
    this.offsets[slot] = offset;
    this.count++;
    return true;
  }

  /** The latest offset recorded for `key`, or -1. */
  get(key: Buffer): number {
    this.hashKey(key);
    const slot = this.find();
    return slot >= 0 ? this.offsets[slot]! : EMPTY;
  }

  private hashKey(key: Buffer): void {
    const digest = hash("md5", key, "buffer");
    this.digest[0] = digest.readInt32LE(0);
    this.digest[1] = digest.readInt32LE(4);
    this.digest[2] = digest.readInt32LE(8);
    this.digest[3] = digest.readInt32LE(12);
  }

  /**
   * The slot holding the current digest, else the empty slot where it would go; -1 when the
   * table is full and does not hold it.
   */
  private find(): number {
    const d0 = this.digest[0]!;
    const d1 = this.digest[1]!;
    const d2 = this.digest[2]!;
    const d3 = this.digest[3]!;
    const mask = this.slots - 1;
    let slot = d0 & mask;
    for (let probe = 0; probe < this.slots; probe++) {
      if (this.offsets[slot] === EMPTY) return slot;
      const at = slot * 4;
      const digests = this.digests;
      if (digests[at] === d0 && digests[at + 1] === d1 && digests[at + 2] === d2) {
        if (digests[at + 3] === d3) return slot;
      }
      slot = (slot + 1) & mask;
    }
    return -1;
  }

  private grow(): void {
    const oldDigests = this.digests;
    const oldOffsets = this.offsets;
    const oldSlots = this.slots;
    this.slots = Math.min(this.maxSlots, oldSlots * 2);
    this.digests = new Int32Array(this.slots * 4);
    this.offsets = new Float64Array(this.slots).fill(EMPTY);
    const mask = this.slots - 1;
    for (let old = 0; old < oldSlots; old++) {
      const offset = oldOffsets[old]!;
      if (offset === EMPTY) continue;
      let slot = oldDigests[old * 4]! & mask;
      while (this.offsets[slot] !== EMPTY) slot = (slot + 1) & mask;
      this.digests.set(oldDigests.subarray(old * 4, old * 4 + 4), slot * 4);
      this.offsets[slot] = offset;
    }
  }
}
