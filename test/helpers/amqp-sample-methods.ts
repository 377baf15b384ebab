/**
 * Representative values for every method and for content properties, built from the schema,
 * for the round-trip, interop and fuzz tests. Two styles: "full" exercises every field with a
 * non-default value (bits alternate so that packing errors show), "zero" uses empty/zero
 * values.
 */

import {
  type AmqpSchema,
  camel,
  loadAmqpSchema,
  type ResolvedField,
  resolveFields,
} from "../../scripts/amqp-codegen.ts";
import { type AmqpFieldTable, fieldTable } from "../../src/protocols/amqp/codec/field-value.ts";
import type {
  AmqpMethod,
  BasicProperties,
} from "../../src/protocols/amqp/codec/generated/methods.ts";

export type SampleStyle = "full" | "zero";

/** A table with one value of every tag, nested once. */
export const sampleTable: AmqpFieldTable = fieldTable({
  bool: { type: "t", value: true },
  int8: { type: "b", value: -5 },
  uint8: { type: "B", value: 250 },
  int16: { type: "s", value: -30000 },
  uint16: { type: "u", value: 65000 },
  int32: { type: "I", value: -2000000000 },
  uint32: { type: "i", value: 4000000000 },
  int64: { type: "l", value: -(2n ** 62n) },
  float: { type: "f", value: 1.5 },
  double: { type: "d", value: Math.PI },
  decimal: { type: "D", value: { scale: 2, digits: 12345 } },
  text: { type: "S", value: "héllo" },
  time: { type: "T", value: 1700000000n },
  void: { type: "V", value: null },
  bytes: { type: "x", value: Buffer.from([0, 1, 2, 255]) },
  list: {
    type: "A",
    value: [
      { type: "I", value: 1 },
      { type: "S", value: "two" },
      { type: "F", value: fieldTable({ nested: { type: "t", value: false } }) },
    ],
  },
  table: { type: "F", value: fieldTable({ "x-match": { type: "S", value: "all" } }) },
});

function sampleValue(field: ResolvedField, style: SampleStyle, index: number): unknown {
  const full = style === "full";
  switch (field.type) {
    case "bit":
      return full ? index % 2 === 0 : false;
    case "octet":
      return full ? 200 + (index % 50) : 0;
    case "short":
      return full ? 60000 + index : 0;
    case "long":
      return full ? 4000000000 + index : 0;
    case "longlong":
    case "timestamp":
      return full ? 2 ** 53 - 1 - index : 0;
    case "shortstr":
      return full ? `${field.name}-ü-${"x".repeat(index)}` : "";
    case "longstr":
      return full ? Buffer.from(`${field.name}\u0000\u00ff`, "latin1") : Buffer.alloc(0);
    case "table":
      return full ? sampleTable : new Map();
  }
}

export interface SampleMethod {
  readonly method: AmqpMethod;
  readonly classId: number;
  readonly methodId: number;
}

export function sampleMethods(style: SampleStyle, schema: AmqpSchema = loadAmqpSchema()) {
  const samples: SampleMethod[] = [];
  for (const cls of schema.classes) {
    for (const method of cls.methods) {
      const args: Record<string, unknown> = {};
      resolveFields(schema, method.fields).forEach((field, index) => {
        args[field.property] = sampleValue(field, style, index);
      });
      samples.push({
        method: { name: `${cls.name}.${method.name}`, args } as AmqpMethod,
        classId: cls.id,
        methodId: method.id,
      });
    }
  }
  return samples;
}

export function sampleProperties(style: SampleStyle): BasicProperties {
  if (style === "zero") return {};
  const schema = loadAmqpSchema();
  const basic = schema.classes.find((cls) => cls.name === "basic")!;
  const properties: Record<string, unknown> = {};
  resolveFields(schema, basic.properties ?? []).forEach((field, index) => {
    properties[camel(field.name)] = sampleValue(field, "full", index);
  });
  return properties as BasicProperties;
}
