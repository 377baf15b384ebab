/**
 * AmqpReader: the primitive types of AMQP 0-9-1 (spec 4.2.5), read from one frame payload.
 *
 * Fault model: the input is untrusted. Every read checks the bytes left first, every length is
 * checked against the bytes left before anything is built from it, and field tables are
 * bounded in depth and entries (limits.ts), so a decoder never throws anything but
 * `AmqpDecodeError`.
 *
 * Choices:
 * - longlong (delivery tags, body size, timestamp property) is a JS `number`; a value above
 *   2^53 - 1 is rejected with 502 rather than silently rounded. Inside field tables `l` and `T`
 *   are `bigint`, since tables are passed through and must re-encode exactly.
 * - shortstr is decoded as UTF-8 text and must be valid UTF-8; longstr and `x` are `subarray`
 *   views of the input. Table `S` values are decoded as UTF-8 leniently (U+FFFD), as amqplib does.
 * - bits are read as whole octets; the generated decoders unpack them (consecutive bit fields
 *   share an octet, first field in the least significant bit, spec 4.2.5.2).
 */

import { isUtf8 } from "node:buffer";
import { amqpFieldTableDepthMax, amqpFieldTableEntriesMax } from "../../../config/limits.ts";
import { AmqpDecodeError, type AmqpDecodeReason } from "./decode-error.ts";
import type { AmqpFieldTable, AmqpFieldValue } from "./field-value.ts";

const twoToThe32 = 4294967296;

export class AmqpReader {
  readonly buffer: Buffer;
  /** Position of the next byte to read. */
  offset: number;
  /** Position one past the last readable byte. */
  end: number;

  constructor(buffer: Buffer, offset = 0, end = buffer.length) {
    this.buffer = buffer;
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  fail(reason: AmqpDecodeReason, detail: string): never {
    throw new AmqpDecodeError(reason, detail, this.offset);
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

  /** Fails unless every byte was consumed: a method or header with extra bytes is malformed. */
  expectEnd(): void {
    if (this.offset !== this.end) this.fail("trailing-bytes", `${this.end - this.offset} extra`);
  }

  octet(): number {
    return this.buffer[this.take(1)]!;
  }

  short(): number {
    return this.buffer.readUInt16BE(this.take(2));
  }

  long(): number {
    return this.buffer.readUInt32BE(this.take(4));
  }

  /** Unsigned 64-bit as a number; above 2^53 - 1 is rejected (see header). */
  longlong(): number {
    const at = this.take(8);
    const high = this.buffer.readUInt32BE(at);
    if (high > 0x1fffff) {
      this.offset = at;
      this.fail("integer-too-large", "longlong above 2^53 - 1");
    }
    return high * twoToThe32 + this.buffer.readUInt32BE(at + 4);
  }

  /** Seconds since the epoch, 64-bit (spec 4.2.5.4); same range rule as `longlong`. */
  timestamp(): number {
    return this.longlong();
  }

  /**
   * Names, keys and short texts. Invalid UTF-8 is a 502: replacing it would change the text
   * and could grow it past 255 bytes, so echoing a client's name back could not be encoded.
   */
  shortstr(): string {
    const length = this.octet();
    const start = this.take(length);
    const bytes = this.buffer.subarray(start, start + length);
    if (!isUtf8(bytes)) {
      this.offset = start;
      this.fail("string-invalid", "shortstr is not valid UTF-8");
    }
    return bytes.toString("utf8");
  }

  longstr(): Buffer {
    const length = this.long();
    const start = this.take(length);
    return this.buffer.subarray(start, start + length);
  }

  /** Reads a uint32 byte length and returns where the data it announces ends. */
  private nestedEnd(): number {
    const length = this.long();
    if (length > this.end - this.offset) {
      this.fail("truncated", `length ${length}, ${this.end - this.offset} bytes left`);
    }
    return this.offset + length;
  }

  /** A field table (spec 4.2.5.5), `depth` being how many tables/arrays enclose it. */
  table(depth = 0): AmqpFieldTable {
    const end = this.nestedEnd();
    const savedEnd = this.end;
    this.end = end;
    const table = new Map<string, AmqpFieldValue>();
    let entries = 0;
    while (this.offset < end) {
      if (++entries > amqpFieldTableEntriesMax) {
        this.fail("table-too-large", `more than ${amqpFieldTableEntriesMax} entries`);
      }
      const key = this.shortstr();
      table.set(key, this.fieldValue(depth));
    }
    this.end = savedEnd;
    return table;
  }

  /** A field array: a uint32 byte length, then tagged values without names. */
  array(depth = 0): AmqpFieldValue[] {
    const end = this.nestedEnd();
    const savedEnd = this.end;
    this.end = end;
    const values: AmqpFieldValue[] = [];
    while (this.offset < end) {
      if (values.length >= amqpFieldTableEntriesMax) {
        this.fail("table-too-large", `more than ${amqpFieldTableEntriesMax} entries`);
      }
      values.push(this.fieldValue(depth));
    }
    this.end = savedEnd;
    return values;
  }

  /** One tagged value; `depth` is that of the table or array holding it. */
  fieldValue(depth: number): AmqpFieldValue {
    const tag = this.octet();
    const buffer = this.buffer;
    switch (tag) {
      case 0x74: // t
        return { type: "t", value: this.octet() !== 0 };
      case 0x62: // b
        return { type: "b", value: buffer.readInt8(this.take(1)) };
      case 0x42: // B
        return { type: "B", value: this.octet() };
      case 0x73: // s
        return { type: "s", value: buffer.readInt16BE(this.take(2)) };
      case 0x75: // u
        return { type: "u", value: this.short() };
      case 0x49: // I
        return { type: "I", value: buffer.readInt32BE(this.take(4)) };
      case 0x69: // i
        return { type: "i", value: this.long() };
      case 0x6c: // l
        return { type: "l", value: buffer.readBigInt64BE(this.take(8)) };
      case 0x66: // f
        return { type: "f", value: buffer.readFloatBE(this.take(4)) };
      case 0x64: // d
        return { type: "d", value: buffer.readDoubleBE(this.take(8)) };
      case 0x44: // D
        return { type: "D", value: { scale: this.octet(), digits: this.long() } };
      case 0x53: // S
        return { type: "S", value: this.longstr().toString("utf8") };
      case 0x54: // T
        return { type: "T", value: buffer.readBigUInt64BE(this.take(8)) };
      case 0x56: // V
        return { type: "V", value: null };
      case 0x78: // x
        return { type: "x", value: this.longstr() };
      case 0x41: // A
      case 0x46: // F
        if (depth + 1 > amqpFieldTableDepthMax) {
          this.fail("table-too-deep", `nesting deeper than ${amqpFieldTableDepthMax}`);
        }
        return tag === 0x41
          ? { type: "A", value: this.array(depth + 1) }
          : { type: "F", value: this.table(depth + 1) };
      default:
        this.offset -= 1;
        return this.fail("field-type-unknown", `field type tag 0x${tag.toString(16)}`);
    }
  }
}
