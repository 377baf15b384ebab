/**
 * Field-value equality and canonical encoding, following RabbitMQ's comparison of AMQP
 * values: numbers compare by value whatever their wire width (Erlang `==`), a string and a
 * byte array with the same bytes are equal (both are binaries), but a string never equals a
 * number and a boolean never equals anything but a boolean.
 */
import type { FieldTable, FieldValue } from "./types.ts";

const encoder = new TextEncoder();

export function isVoid(value: FieldValue): value is null | undefined {
  return value === null || value === undefined;
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function numericEqual(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === typeof b) return a === b;
  const big = typeof a === "bigint" ? a : (b as bigint);
  const num = typeof a === "number" ? a : (b as number);
  return Number.isInteger(num) && BigInt(num) === big;
}

function asNumeric(value: FieldValue): number | bigint | undefined {
  if (typeof value === "number" || typeof value === "bigint") return value;
  if (value instanceof Date) return value.getTime() / 1000; // AMQP timestamps are seconds
  return undefined;
}

/** RabbitMQ's equality of two field values (void equals only void). */
export function fieldEquals(a: FieldValue, b: FieldValue): boolean {
  if (isVoid(a) || isVoid(b)) return isVoid(a) && isVoid(b);
  if (typeof a === "boolean" || typeof b === "boolean") return a === b;
  const na = asNumeric(a);
  if (na !== undefined) {
    const nb = asNumeric(b);
    return nb !== undefined && numericEqual(na, nb);
  }
  if (typeof a === "string") {
    if (typeof b === "string") return a === b;
    return isBytes(b) && bytesEqual(encoder.encode(a), b);
  }
  if (isBytes(a)) {
    if (isBytes(b)) return bytesEqual(a, b);
    return typeof b === "string" && bytesEqual(a, encoder.encode(b));
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!fieldEquals(a[i], b[i])) return false;
    return true;
  }
  if (typeof a === "object" && typeof b === "object" && !Array.isArray(b) && !isBytes(b)) {
    return tableEquals(a as FieldTable, b as FieldTable);
  }
  return false;
}

function tableEquals(a: FieldTable, b: FieldTable): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.hasOwn(b, k) || !fieldEquals(a[k], b[k])) return false;
  return true;
}

/**
 * A canonical, type-tagged string for a field value: equal strings ⇔ identical arguments
 * (RabbitMQ compares binding arguments as sorted, typed tables). Used for binding identity.
 */
export function canonicalField(value: FieldValue): string {
  if (value === null || value === undefined) return "V";
  switch (typeof value) {
    case "string":
      return `S${JSON.stringify(value)}`;
    case "number":
      return Number.isInteger(value) ? `I${value}` : `D${value}`;
    case "bigint":
      return `I${value}`;
    case "boolean":
      return value ? "T" : "F";
  }
  if (isBytes(value)) return `X${Buffer.from(value).toString("hex")}`;
  if (value instanceof Date) return `t${value.getTime()}`;
  if (Array.isArray(value)) return `A[${value.map(canonicalField).join(",")}]`;
  return `F${canonicalTable(value as FieldTable)}`;
}

export function canonicalTable(table: FieldTable): string {
  const keys = Object.keys(table).sort();
  if (keys.length === 0) return "{}";
  let out = "{";
  for (const k of keys) out += `${JSON.stringify(k)}:${canonicalField(table[k])},`;
  return `${out}}`;
}
