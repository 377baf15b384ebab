/**
 * The JS value model of AMQP field tables and field arrays, as RabbitMQ and amqplib use them.
 *
 * Every value keeps its wire type tag, so decoding and re-encoding gives the same bytes (see
 * the exceptions in docs/amqp-codec.md: NaN payloads of `f`/`d`, invalid UTF-8 in `S`,
 * duplicate table keys). The tags are RabbitMQ's, which differ from the 0-9-1 spec's table
 * (RabbitMQ "spec differences"/errata, shared by amqplib, Qpid and most clients):
 *
 * | tag | wire                    | value         |
 * |-----|-------------------------|---------------|
 * | t   | octet, 0 = false        | boolean       |
 * | b   | signed 8-bit            | number        |
 * | B   | unsigned 8-bit          | number        |
 * | s   | signed 16-bit (spec: short-string) | number |
 * | u   | unsigned 16-bit         | number        |
 * | I   | signed 32-bit           | number        |
 * | i   | unsigned 32-bit         | number        |
 * | l   | signed 64-bit (spec: unsigned)     | bigint |
 * | f   | float32                 | number        |
 * | d   | float64                 | number        |
 * | D   | scale octet + uint32    | {scale, digits} |
 * | S   | uint32 length + bytes   | string (UTF-8) |
 * | A   | uint32 length + values  | AmqpFieldValue[] |
 * | T   | uint64 seconds          | bigint        |
 * | F   | uint32 length + table   | AmqpFieldTable |
 * | V   | nothing                 | null          |
 * | x   | uint32 length + bytes   | Buffer (view) |
 *
 * The spec's `U` (signed 16), `L` (signed 64) and short-string `s` are not accepted:
 * RabbitMQ rejects them too, and no client sends them.
 */

export type AmqpFieldValue =
  | { readonly type: "t"; readonly value: boolean }
  | { readonly type: "b" | "B" | "s" | "u" | "I" | "i" | "f" | "d"; readonly value: number }
  | { readonly type: "l" | "T"; readonly value: bigint }
  | { readonly type: "D"; readonly value: { readonly scale: number; readonly digits: number } }
  | { readonly type: "S"; readonly value: string }
  | { readonly type: "A"; readonly value: readonly AmqpFieldValue[] }
  | { readonly type: "F"; readonly value: AmqpFieldTable }
  | { readonly type: "V"; readonly value: null }
  | { readonly type: "x"; readonly value: Buffer };

/** Keys in wire order. A key repeated on the wire keeps its last value. */
export type AmqpFieldTable = ReadonlyMap<string, AmqpFieldValue>;

export type AmqpFieldType = AmqpFieldValue["type"];

/** An empty table, the usual `arguments` of a method. */
export const emptyFieldTable: AmqpFieldTable = new Map();

/** Builds a table from an object of tagged values, for readable literals in code and tests. */
export function fieldTable(entries: Record<string, AmqpFieldValue>): AmqpFieldTable {
  return new Map(Object.entries(entries));
}

/**
 * The value of `key` as a JS number when it is any integer or float tag, else undefined.
 * Broker arguments such as `x-message-ttl` arrive with whichever integer tag the client chose.
 */
export function fieldNumber(table: AmqpFieldTable, key: string): number | undefined {
  const field = table.get(key);
  if (field === undefined) return undefined;
  switch (field.type) {
    case "b":
    case "B":
    case "s":
    case "u":
    case "I":
    case "i":
    case "f":
    case "d":
      return field.value;
    case "l":
    case "T":
      return Number(field.value);
    default:
      return undefined;
  }
}

/** The value of `key` when it is a long string (`S`) or byte array (`x`, read as UTF-8). */
export function fieldString(table: AmqpFieldTable, key: string): string | undefined {
  const field = table.get(key);
  if (field?.type === "S") return field.value;
  if (field?.type === "x") return field.value.toString("utf8");
  return undefined;
}
