/**
 * Conversion between the codec's field tables (tagged values in a Map, exact on the wire) and
 * the core's (plain values, compared by value as RabbitMQ does; src/core/routing/types.ts).
 *
 * Wire → core keeps every value's meaning: integers become numbers (64-bit ones bigints),
 * `T` a Date, `x` a byte view, `D` a number. Core → wire picks the tag a RabbitMQ client
 * would: integers that fit `I`, else `l`; other numbers `d`; strings `S`. Tables become
 * null-prototype objects, so a `__proto__` key is an ordinary key.
 */
import type { FieldTable, FieldValue } from "../../core/routing/types.ts";
import type { AmqpFieldTable, AmqpFieldValue } from "./codec/field-value.ts";
import { truncateShortstr } from "./errors.ts";

export function toCoreValue(field: AmqpFieldValue): FieldValue {
  switch (field.type) {
    case "t":
    case "b":
    case "B":
    case "s":
    case "u":
    case "I":
    case "i":
    case "f":
    case "d":
    case "S":
      return field.value;
    case "l":
      return Number.isSafeInteger(Number(field.value)) ? Number(field.value) : field.value;
    case "T":
      return new Date(Number(field.value) * 1000);
    case "D":
      return field.value.digits / 10 ** field.value.scale;
    case "V":
      return null;
    case "x":
      return field.value;
    case "A":
      return field.value.map(toCoreValue);
    case "F":
      return toCoreTable(field.value);
  }
}

export function toCoreTable(table: AmqpFieldTable): FieldTable {
  const out: Record<string, FieldValue> = Object.create(null);
  for (const [key, value] of table) out[key] = toCoreValue(value);
  return out;
}

const int32Min = -2147483648;
const int32Max = 2147483647;

export function fromCoreValue(value: FieldValue): AmqpFieldValue {
  if (value === null || value === undefined) return { type: "V", value: null };
  switch (typeof value) {
    case "string":
      return { type: "S", value };
    case "boolean":
      return { type: "t", value };
    case "bigint":
      return { type: "l", value };
    case "number":
      if (Number.isInteger(value)) {
        if (value >= int32Min && value <= int32Max) return { type: "I", value };
        if (Number.isSafeInteger(value)) return { type: "l", value: BigInt(value) };
      }
      return { type: "d", value };
  }
  if (value instanceof Uint8Array) {
    return { type: "x", value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) };
  }
  if (value instanceof Date) {
    return { type: "T", value: BigInt(Math.floor(value.getTime() / 1000)) };
  }
  if (Array.isArray(value)) return { type: "A", value: value.map(fromCoreValue) };
  return { type: "F", value: fromCoreTable(value as FieldTable) };
}

export function fromCoreTable(table: FieldTable): AmqpFieldTable {
  const out = new Map<string, AmqpFieldValue>();
  // Keys are shortstrs on the wire: a longer key (from another protocol) is cut, not fatal.
  for (const key of Object.keys(table)) out.set(truncateShortstr(key), fromCoreValue(table[key]));
  return out;
}
