/**
 * KafkaWriter: the primitive types of the Kafka protocol, written into a list of Buffer chunks
 * ready for `socket.cork(); socket.write(chunk)...; socket.uncork()` (or joined into one Buffer).
 *
 * Layout: small values are written into a scratch block; `writeRecords` closes the current
 * region of the block as a chunk and pushes the caller's Buffer as its own chunk, so a Fetch
 * response never copies the stored record batches it serves. Chunks are views of the blocks;
 * a block is never rewritten after a region of it was handed out, which makes it safe to keep
 * one writer per connection and call `takeChunks()` for every response.
 *
 * Length prefixes whose value is known only at the end (the frame size) are reserved with
 * `reserveInt32()` and filled with `patchInt32()`: the reserved bytes stay in their block, so
 * the patch lands in the chunk already listed.
 *
 * Encoding is fed by the broker's own values, so a bad value (a null where the version does
 * not allow one, a string longer than Kafka allows) is a programmer error and throws a plain
 * Error; there is no recovery path for it.
 */

import { kafkaStringBytesMax } from "./limits.ts";

const twoToThe32 = 4294967296;
const int64Max = 0x7fffffffffffffffn;
const int64Min = -0x8000000000000000n;

/**
 * Size of a fresh scratch block. Big enough for the header and metadata of most responses in
 * one allocation, small enough that a writer kept per idle connection costs little.
 */
export const writerBlockBytesDefault = 16 * 1024;

/**
 * Record data shorter than this is copied into the scratch block instead of becoming a chunk
 * of its own: below it, one more iovec costs more than the copy.
 */
export const recordsCopyBytesMax = 256;

/** A reserved int32 slot, filled later by `patchInt32`. */
export interface KafkaWriterMark {
  readonly block: Buffer;
  readonly at: number;
  /** Total bytes written when the slot was reserved, counting the slot. */
  readonly lengthAfter: number;
}

export class KafkaWriter {
  private readonly blockBytes: number;
  private block: Buffer;
  /** Start of the region of `block` not yet listed in `chunks`. */
  private start = 0;
  private position = 0;
  private chunks: Buffer[] = [];
  private listedBytes = 0;

  constructor(blockBytes = writerBlockBytesDefault) {
    this.blockBytes = blockBytes;
    this.block = Buffer.allocUnsafe(blockBytes);
  }

  /** Bytes written since the last `takeChunks()`/`takeBuffer()`. */
  get length(): number {
    return this.listedBytes + this.position - this.start;
  }

  private closeRegion(): void {
    if (this.position > this.start) {
      this.chunks.push(this.block.subarray(this.start, this.position));
      this.listedBytes += this.position - this.start;
      this.start = this.position;
    }
  }

  /** Makes room for `count` contiguous bytes and returns where they go. */
  private room(count: number): number {
    if (this.block.length - this.position < count) {
      this.closeRegion();
      this.block = Buffer.allocUnsafe(Math.max(this.blockBytes, count));
      this.start = 0;
      this.position = 0;
    }
    const at = this.position;
    this.position = at + count;
    return at;
  }

  /** `room` may switch blocks, so the block is read only after it. */
  private putByte(value: number): void {
    const at = this.room(1);
    this.block[at] = value;
  }

  /** The chunks written so far; the writer starts empty again and may be reused. */
  takeChunks(): Buffer[] {
    this.closeRegion();
    const chunks = this.chunks;
    this.chunks = [];
    this.listedBytes = 0;
    return chunks;
  }

  /** Everything written so far as one Buffer (copied only when there is more than one chunk). */
  takeBuffer(): Buffer {
    const chunks = this.takeChunks();
    if (chunks.length === 1) return chunks[0];
    return Buffer.concat(chunks);
  }

  writeInt8(value: number): void {
    this.putByte(value & 0xff);
  }

  writeBool(value: boolean): void {
    this.putByte(value ? 1 : 0);
  }

  writeInt16(value: number): void {
    const at = this.room(2);
    const block = this.block;
    block[at] = (value >>> 8) & 0xff;
    block[at + 1] = value & 0xff;
  }

  writeUint16(value: number): void {
    this.writeInt16(value);
  }

  writeInt32(value: number): void {
    const at = this.room(4);
    const block = this.block;
    block[at] = (value >>> 24) & 0xff;
    block[at + 1] = (value >>> 16) & 0xff;
    block[at + 2] = (value >>> 8) & 0xff;
    block[at + 3] = value & 0xff;
  }

  writeUint32(value: number): void {
    this.writeInt32(value);
  }

  /** Exact for |value| <= 2^53; larger magnitudes saturate at the int64 range. */
  writeInt64(value: number): void {
    if (Number.isSafeInteger(value)) {
      const high = Math.floor(value / twoToThe32);
      this.writeInt32(high);
      this.writeInt32(value - high * twoToThe32);
      return;
    }
    if (Number.isNaN(value)) throw new Error("int64 value is NaN");
    let big = BigInt(Math.trunc(Math.max(-1e20, Math.min(1e20, value))));
    if (big > int64Max) big = int64Max;
    if (big < int64Min) big = int64Min;
    const at = this.room(8);
    this.block.writeBigInt64BE(big, at);
  }

  writeFloat64(value: number): void {
    const at = this.room(8);
    this.block.writeDoubleBE(value, at);
  }

  writeUnsignedVarint(value: number): void {
    if (value < 0x80) {
      this.putByte(value);
      return;
    }
    while (value >= 0x80) {
      this.putByte((value & 0x7f) | 0x80);
      value = Math.floor(value / 128);
    }
    this.putByte(value);
  }

  /** Zigzag-encoded signed 32-bit varint. */
  writeVarint(value: number): void {
    this.writeUnsignedVarint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  /** Zigzag-encoded signed 64-bit varint; exact for |value| <= 2^52. */
  writeVarlong(value: number): void {
    if (Math.abs(value) <= 2 ** 52) {
      this.writeUnsignedVarint(value >= 0 ? value * 2 : -value * 2 - 1);
      return;
    }
    let big = BigInt(Math.trunc(Math.max(-1e20, Math.min(1e20, value))));
    if (big > int64Max) big = int64Max;
    if (big < int64Min) big = int64Min;
    let raw = BigInt.asUintN(64, (big << 1n) ^ (big >> 63n));
    while (raw >= 0x80n) {
      this.putByte(Number(raw & 0x7fn) | 0x80);
      raw >>= 7n;
    }
    this.putByte(Number(raw));
  }

  private stringLength(value: string): number {
    const length = Buffer.byteLength(value, "utf8");
    if (length > kafkaStringBytesMax) {
      throw new Error(
        `string of ${length} bytes exceeds the Kafka limit of ${kafkaStringBytesMax}`,
      );
    }
    return length;
  }

  private writeUtf8(value: string, length: number): void {
    if (length === 0) return;
    const at = this.room(length);
    this.block.write(value, at, length, "utf8");
  }

  writeString(value: string): void {
    const length = this.stringLength(value);
    this.writeInt16(length);
    this.writeUtf8(value, length);
  }

  writeNullableString(value: string | null): void {
    if (value === null) this.writeInt16(-1);
    else this.writeString(value);
  }

  writeCompactString(value: string): void {
    const length = this.stringLength(value);
    this.writeUnsignedVarint(length + 1);
    this.writeUtf8(value, length);
  }

  writeCompactNullableString(value: string | null): void {
    if (value === null) this.writeUnsignedVarint(0);
    else this.writeCompactString(value);
  }

  /** Copies `value` into the output. */
  writeRaw(value: Uint8Array): void {
    if (value.length === 0) return;
    const at = this.room(value.length);
    this.block.set(value, at);
  }

  /** Adds `value` to the output as a chunk of its own: no copy. The caller must not change it. */
  writeChunk(value: Buffer): void {
    if (value.length <= recordsCopyBytesMax) {
      this.writeRaw(value);
      return;
    }
    this.closeRegion();
    this.chunks.push(value);
    this.listedBytes += value.length;
  }

  writeBytes(value: Buffer): void {
    this.writeInt32(value.length);
    this.writeRaw(value);
  }

  writeNullableBytes(value: Buffer | null): void {
    if (value === null) this.writeInt32(-1);
    else this.writeBytes(value);
  }

  writeCompactBytes(value: Buffer): void {
    this.writeUnsignedVarint(value.length + 1);
    this.writeRaw(value);
  }

  writeCompactNullableBytes(value: Buffer | null): void {
    if (value === null) this.writeUnsignedVarint(0);
    else this.writeCompactBytes(value);
  }

  /** The `records` type before flexible versions; the record data is not copied. */
  writeRecords(value: Buffer | null): void {
    if (value === null) {
      this.writeInt32(-1);
      return;
    }
    this.writeInt32(value.length);
    this.writeChunk(value);
  }

  /** The `records` type in flexible versions; the record data is not copied. */
  writeCompactRecords(value: Buffer | null): void {
    if (value === null) {
      this.writeUnsignedVarint(0);
      return;
    }
    this.writeUnsignedVarint(value.length + 1);
    this.writeChunk(value);
  }

  writeUuid(value: string): void {
    const hex = value.length === 36 ? value.replaceAll("-", "") : value;
    if (hex.length !== 32 || !/^[0-9a-fA-F]{32}$/.test(hex)) {
      throw new Error(`not a uuid: ${JSON.stringify(value)}`);
    }
    const at = this.room(16);
    this.block.write(hex, at, 16, "hex");
  }

  writeArrayLength(length: number): void {
    this.writeInt32(length);
  }

  writeNullableArrayLength(value: readonly unknown[] | null): void {
    this.writeInt32(value === null ? -1 : value.length);
  }

  writeCompactArrayLength(length: number): void {
    this.writeUnsignedVarint(length + 1);
  }

  writeCompactNullableArrayLength(value: readonly unknown[] | null): void {
    this.writeUnsignedVarint(value === null ? 0 : value.length + 1);
  }

  /** An empty tagged-field section. */
  writeEmptyTaggedFields(): void {
    this.putByte(0);
  }

  /** Writes one tagged field whose value was encoded into `value` (a scratch writer). */
  writeTaggedField(tag: number, value: KafkaWriter): void {
    this.writeUnsignedVarint(tag);
    this.writeUnsignedVarint(value.length);
    for (const chunk of value.takeChunks()) this.writeRaw(chunk);
  }

  /** Reserves four bytes for an int32 written later with `patchInt32`. */
  reserveInt32(): KafkaWriterMark {
    const at = this.room(4);
    return { block: this.block, at, lengthAfter: this.length };
  }

  patchInt32(mark: KafkaWriterMark, value: number): void {
    mark.block.writeInt32BE(value, mark.at);
  }

  /** Fills a reserved slot with the number of bytes written after it (a size prefix). */
  patchSize(mark: KafkaWriterMark): void {
    this.patchInt32(mark, this.length - mark.lengthAfter);
  }
}

/** For fields nullable only in some versions: a null in a version that forbids it is a bug. */
export function nonNull<T>(value: T | null, field: string): T {
  if (value === null) throw new Error(`${field} must not be null in this version`);
  return value;
}
