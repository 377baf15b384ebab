/**
 * KafkaReader: the primitive types of the Kafka protocol, read from one Buffer holding one
 * frame (or part of one).
 *
 * Fault model: the input is untrusted. Every read checks the bytes left before touching the
 * buffer, and every declared length or count is checked against the bytes left before anything
 * is built from it, so a decoder never pre-allocates from an attacker's number and never throws
 * anything but `KafkaDecodeError`.
 *
 * Choices:
 * - int64 is returned as a JS `number`. Offsets, timestamps, producer ids and epochs stay far
 *   below 2^53 in practice; values beyond it lose precision (Long.MAX_VALUE reads as 2^63, which
 *   the writer saturates back to Long.MAX_VALUE). No field in the supported APIs needs `bigint`.
 * - bytes and records are returned as `subarray` views of the input, never copies: a Produce
 *   request's record batches travel to storage without being copied.
 * - uuid is returned as lowercase 8-4-4-4-12 hex text, the form `crypto.randomUUID()` makes.
 * - Unknown tagged fields are skipped and not kept (see docs/kafka-codec.md).
 */

import { KafkaDecodeError, type KafkaDecodeReason } from "./decode-error.ts";
import { kafkaStringBytesMax } from "./limits.ts";

const twoToThe32 = 4294967296;

/** The zero-length Buffer used as the default of bytes fields; it has no bytes to mutate. */
export const emptyBytes: Buffer = Buffer.alloc(0);

/** Kafka's `Uuid.ZERO_UUID`, the default of uuid fields. */
export const zeroUuid = "00000000-0000-0000-0000-000000000000";

/** A varint of a 32-bit value takes at most 5 bytes; a varlong at most 10. */
const varintBytesMax = 5;
const varlongBytesMax = 10;

export class KafkaReader {
  readonly buffer: Buffer;
  /** Position of the next byte to read. */
  offset: number;
  /** Position one past the last readable byte. Narrowed while a tagged field is decoded. */
  end: number;

  constructor(buffer: Buffer, offset = 0, end = buffer.length) {
    this.buffer = buffer;
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  fail(reason: KafkaDecodeReason, detail: string): never {
    throw new KafkaDecodeError(reason, detail, this.offset);
  }

  /** Consumes `count` bytes and returns where they start. */
  private take(count: number): number {
    const start = this.offset;
    if (count > this.end - start) {
      this.fail("truncated", `${count} bytes needed, ${this.end - start} left`);
    }
    this.offset = start + count;
    return start;
  }

  skip(count: number): void {
    this.take(count);
  }

  readInt8(): number {
    const at = this.take(1);
    return (this.buffer[at] << 24) >> 24;
  }

  readBool(): boolean {
    return this.buffer[this.take(1)] !== 0;
  }

  readInt16(): number {
    const at = this.take(2);
    const bytes = this.buffer;
    return ((bytes[at] << 24) | (bytes[at + 1] << 16)) >> 16;
  }

  readUint16(): number {
    const at = this.take(2);
    const bytes = this.buffer;
    return (bytes[at] << 8) | bytes[at + 1];
  }

  readInt32(): number {
    const at = this.take(4);
    const bytes = this.buffer;
    return (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
  }

  readUint32(): number {
    return this.readInt32() >>> 0;
  }

  /** Exact for |value| <= 2^53; see the header on precision. */
  readInt64(): number {
    const high = this.readInt32();
    return high * twoToThe32 + this.readUint32();
  }

  readFloat64(): number {
    return this.buffer.readDoubleBE(this.take(8));
  }

  readUnsignedVarint(): number {
    const bytes = this.buffer;
    let value = 0;
    let scale = 1;
    for (let index = 0; index < varintBytesMax; index++) {
      const byte = bytes[this.take(1)];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (value >= twoToThe32) this.fail("invalid-varint", "unsigned varint exceeds 32 bits");
        return value;
      }
      scale *= 128;
    }
    return this.fail("invalid-varint", `unsigned varint longer than ${varintBytesMax} bytes`);
  }

  /** Zigzag-encoded signed 32-bit varint. */
  readVarint(): number {
    const raw = this.readUnsignedVarint();
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** Zigzag-encoded signed 64-bit varint; exact for |value| <= 2^52 (zigzag doubles it). */
  readVarlong(): number {
    const bytes = this.buffer;
    let raw = 0;
    let scale = 1;
    for (let index = 0; index < varlongBytesMax; index++) {
      const byte = bytes[this.take(1)];
      if (index === varlongBytesMax - 1 && byte > 1) {
        this.fail("invalid-varint", "varlong exceeds 64 bits");
      }
      raw += (byte & 0x7f) * scale;
      if (byte < 0x80) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      scale *= 128;
    }
    return this.fail("invalid-varint", `varlong longer than ${varlongBytesMax} bytes`);
  }

  private utf8(length: number): string {
    if (length > kafkaStringBytesMax) {
      this.fail("invalid-length", `string of ${length} bytes exceeds ${kafkaStringBytesMax}`);
    }
    const at = this.take(length);
    return this.buffer.toString("utf8", at, at + length);
  }

  private nullLength(length: number, what: string): never {
    if (length === -1) this.fail("null-not-allowed", `${what} is null`);
    return this.fail("invalid-length", `${what} has length ${length}`);
  }

  readString(): string {
    const length = this.readInt16();
    return length < 0 ? this.nullLength(length, "string") : this.utf8(length);
  }

  readNullableString(): string | null {
    const length = this.readInt16();
    if (length === -1) return null;
    return length < 0 ? this.nullLength(length, "string") : this.utf8(length);
  }

  readCompactString(): string {
    const lengthPlusOne = this.readUnsignedVarint();
    return lengthPlusOne === 0 ? this.nullLength(-1, "string") : this.utf8(lengthPlusOne - 1);
  }

  readCompactNullableString(): string | null {
    const lengthPlusOne = this.readUnsignedVarint();
    return lengthPlusOne === 0 ? null : this.utf8(lengthPlusOne - 1);
  }

  /** A view of the next `length` bytes: no copy. */
  private view(length: number): Buffer {
    const at = this.take(length);
    return this.buffer.subarray(at, at + length);
  }

  readBytes(): Buffer {
    const length = this.readInt32();
    return length < 0 ? this.nullLength(length, "bytes") : this.view(length);
  }

  readNullableBytes(): Buffer | null {
    const length = this.readInt32();
    if (length === -1) return null;
    return length < 0 ? this.nullLength(length, "bytes") : this.view(length);
  }

  readCompactBytes(): Buffer {
    const lengthPlusOne = this.readUnsignedVarint();
    return lengthPlusOne === 0 ? this.nullLength(-1, "bytes") : this.view(lengthPlusOne - 1);
  }

  readCompactNullableBytes(): Buffer | null {
    const lengthPlusOne = this.readUnsignedVarint();
    return lengthPlusOne === 0 ? null : this.view(lengthPlusOne - 1);
  }

  /** The `records` type before flexible versions: nullable bytes, returned as a view. */
  readRecords(): Buffer | null {
    return this.readNullableBytes();
  }

  /** The `records` type in flexible versions: compact nullable bytes, returned as a view. */
  readCompactRecords(): Buffer | null {
    return this.readCompactNullableBytes();
  }

  readUuid(): string {
    const at = this.take(16);
    const hex = this.buffer.toString("hex", at, at + 16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /**
   * Every array element takes at least one byte in every supported version, so a count above
   * the bytes left is rejected at once, before any element is decoded.
   */
  private count(count: number): number {
    if (count > this.end - this.offset) {
      this.fail("invalid-length", `array of ${count} elements in ${this.end - this.offset} bytes`);
    }
    return count;
  }

  readArrayLength(): number {
    const length = this.readInt32();
    return length < 0 ? this.nullLength(length, "array") : this.count(length);
  }

  /** Returns -1 for a null array. */
  readNullableArrayLength(): number {
    const length = this.readInt32();
    if (length === -1) return -1;
    return length < 0 ? this.nullLength(length, "array") : this.count(length);
  }

  readCompactArrayLength(): number {
    const lengthPlusOne = this.readUnsignedVarint();
    return lengthPlusOne === 0 ? this.nullLength(-1, "array") : this.count(lengthPlusOne - 1);
  }

  /** Returns -1 for a null array. */
  readCompactNullableArrayLength(): number {
    const lengthPlusOne = this.readUnsignedVarint();
    return lengthPlusOne === 0 ? -1 : this.count(lengthPlusOne - 1);
  }

  /**
   * Reads a tagged field's size and narrows `end` to the field, so that the field's decoder
   * cannot read past it. Returns the previous `end` for `leaveTaggedField`.
   */
  enterTaggedField(): number {
    const size = this.readUnsignedVarint();
    const outerEnd = this.end;
    this.take(size);
    this.offset -= size;
    this.end = this.offset + size;
    return outerEnd;
  }

  /** Checks that the tagged field was consumed exactly, then restores `end`. */
  leaveTaggedField(outerEnd: number): void {
    if (this.offset !== this.end) {
      this.fail("invalid-tagged-field", `${this.end - this.offset} bytes left in a tagged field`);
    }
    this.end = outerEnd;
  }

  /** Skips the rest of a tagged field this decoder does not know. */
  skipTaggedField(): void {
    this.offset = this.end;
  }

  /** Skips a whole tagged-field section; used where a struct has no known tags. */
  skipTaggedFields(): void {
    for (let count = this.readUnsignedVarint(); count > 0; count--) {
      this.readUnsignedVarint();
      this.take(this.readUnsignedVarint());
    }
  }
}
