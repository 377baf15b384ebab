/**
 * AmqpWriter: the primitive types of AMQP 0-9-1 (spec 4.2.5), written into a growing Buffer.
 * The mirror of reader.ts, method by method.
 *
 * Encoding is fed by our own code, so a value the wire cannot carry (a shortstr over 255
 * bytes, an integer out of range) is a programmer error: it fails an `assert` and is never
 * caught. Callers that forward client data (queue names, headers) have already decoded it
 * from the wire, so it fits.
 */

import assert from "node:assert/strict";
import type { AmqpFieldTable, AmqpFieldValue } from "./field-value.ts";

const twoToThe32 = 4294967296;

export class AmqpWriter {
  buffer: Buffer;
  /** Bytes written so far. */
  length = 0;

  constructor(initialBytes = 256) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Makes room for `count` more bytes (may replace `this.buffer`). */
  private ensure(count: number): void {
    const needed = this.length + count;
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
  }

  /** Claims `count` bytes already ensured and returns where they start. */
  private advance(count: number): number {
    const at = this.length;
    this.length = at + count;
    return at;
  }

  /**
   * Makes room for `count` more bytes and returns where they go. Read `this.buffer` only after
   * calling it: growing replaces the buffer.
   */
  private reserve(count: number): number {
    this.ensure(count);
    return this.advance(count);
  }

  /** The bytes written, as a view of the internal buffer. */
  finish(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  octet(value: number): void {
    this.ensure(1);
    this.buffer.writeUInt8(value, this.advance(1));
  }

  short(value: number): void {
    this.ensure(2);
    this.buffer.writeUInt16BE(value, this.advance(2));
  }

  long(value: number): void {
    this.ensure(4);
    this.buffer.writeUInt32BE(value, this.advance(4));
  }

  /** Writes a uint32 at an earlier position, for lengths known only afterwards. */
  patchLong(at: number, value: number): void {
    this.buffer.writeUInt32BE(value, at);
  }

  longlong(value: number): void {
    assert.ok(Number.isSafeInteger(value) && value >= 0, `longlong out of range: ${value}`);
    const at = this.reserve(8);
    this.buffer.writeUInt32BE(Math.floor(value / twoToThe32), at);
    this.buffer.writeUInt32BE(value % twoToThe32, at + 4);
  }

  timestamp(value: number): void {
    this.longlong(value);
  }

  shortstr(value: string): void {
    const length = Buffer.byteLength(value, "utf8");
    assert.ok(length <= 255, `shortstr longer than 255 bytes (${length})`);
    const at = this.reserve(1 + length);
    this.buffer[at] = length;
    this.buffer.write(value, at + 1, length, "utf8");
  }

  longstr(value: Buffer): void {
    const at = this.reserve(4 + value.length);
    this.buffer.writeUInt32BE(value.length, at);
    value.copy(this.buffer, at + 4);
  }

  bytes(value: Buffer): void {
    const at = this.reserve(value.length);
    value.copy(this.buffer, at);
  }

  table(table: AmqpFieldTable): void {
    const at = this.reserve(4);
    for (const [key, value] of table) {
      this.shortstr(key);
      this.fieldValue(value);
    }
    this.patchLong(at, this.length - at - 4);
  }

  array(values: readonly AmqpFieldValue[]): void {
    const at = this.reserve(4);
    for (const value of values) this.fieldValue(value);
    this.patchLong(at, this.length - at - 4);
  }

  fieldValue(field: AmqpFieldValue): void {
    this.octet(field.type.charCodeAt(0));
    switch (field.type) {
      case "t":
        this.octet(field.value ? 1 : 0);
        return;
      case "b":
        this.ensure(1);
        this.buffer.writeInt8(field.value, this.advance(1));
        return;
      case "B":
        this.octet(field.value);
        return;
      case "s":
        this.ensure(2);
        this.buffer.writeInt16BE(field.value, this.advance(2));
        return;
      case "u":
        this.short(field.value);
        return;
      case "I":
        this.ensure(4);
        this.buffer.writeInt32BE(field.value, this.advance(4));
        return;
      case "i":
        this.long(field.value);
        return;
      case "l":
        this.ensure(8);
        this.buffer.writeBigInt64BE(field.value, this.advance(8));
        return;
      case "f":
        this.ensure(4);
        this.buffer.writeFloatBE(field.value, this.advance(4));
        return;
      case "d":
        this.ensure(8);
        this.buffer.writeDoubleBE(field.value, this.advance(8));
        return;
      case "D":
        this.octet(field.value.scale);
        this.long(field.value.digits);
        return;
      case "S":
        this.longstr(Buffer.from(field.value, "utf8"));
        return;
      case "T":
        this.ensure(8);
        this.buffer.writeBigUInt64BE(field.value, this.advance(8));
        return;
      case "V":
        return;
      case "x":
        this.longstr(field.value);
        return;
      case "A":
        this.array(field.value);
        return;
      case "F":
        this.table(field.value);
        return;
    }
  }
}
