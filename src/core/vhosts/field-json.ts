/**
 * AMQP field tables as JSON, for the definitions documents (queue and exchange arguments,
 * binding arguments). Field values include types JSON lacks (64-bit integers, byte arrays,
 * timestamps), so every non-JSON value is a one-key tagged object, and tables are tagged too
 * so that they cannot be mistaken for a tag:
 *   string, finite number, boolean, null  → themselves
 *   bigint       → {"$bigint": "123"}
 *   Uint8Array   → {"$bytes": "<base64>"}
 *   Date         → {"$date": <ms since the epoch>}
 *   array        → [ ... ]
 *   table        → {"$table": { key: value, ... }}
 *   undefined    → null (both are AMQP void)
 *   NaN/Infinity → {"$number": "NaN"} (AMQP doubles may carry them)
 */
import type { FieldTable, FieldValue } from "../routing/types.ts";

export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { readonly [key: string]: JsonValue };

export function fieldToJson(value: FieldValue): JsonValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : { $number: String(value) };
    case "bigint":
      return { $bigint: value.toString() };
  }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") };
  if (value instanceof Date) return { $date: value.getTime() };
  if (Array.isArray(value)) return value.map(fieldToJson);
  return { $table: tableToJson(value as FieldTable) };
}

export function tableToJson(table: FieldTable): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const key of Object.keys(table)) out[key] = fieldToJson(table[key]);
  return out;
}

export function fieldFromJson(json: JsonValue): FieldValue {
  if (json === null) return null;
  if (typeof json !== "object") return json;
  if (Array.isArray(json)) return json.map(fieldFromJson);
  const tagged = json as Record<string, JsonValue>;
  if (typeof tagged.$bigint === "string") return BigInt(tagged.$bigint);
  if (typeof tagged.$bytes === "string")
    return new Uint8Array(Buffer.from(tagged.$bytes, "base64"));
  if (typeof tagged.$date === "number") return new Date(tagged.$date);
  if (typeof tagged.$number === "string") return Number(tagged.$number);
  if (typeof tagged.$table === "object" && tagged.$table !== null && !Array.isArray(tagged.$table))
    return tableFromJson(tagged.$table as Record<string, JsonValue>);
  throw new TypeError(`not a tagged field value: ${JSON.stringify(json).slice(0, 80)}`);
}

export function tableFromJson(json: { readonly [key: string]: JsonValue }): FieldTable {
  const out: Record<string, FieldValue> = {};
  for (const key of Object.keys(json)) out[key] = fieldFromJson(json[key]!);
  return out;
}
