/**
 * The restated Kafka message schemas (`<ApiName>.json` beside this file) and the rules to read
 * them. Used by the code generator (scripts/kafka-codegen.ts) and by tests that build sample
 * bodies; the broker itself runs only the generated code.
 *
 * Each JSON file states, for one API, facts taken from Apache Kafka's message definitions:
 * apiKey, validVersions, flexibleVersions, and the request and response fields with their
 * type, versions, nullableVersions, taggedVersions/tag and default.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const kafkaSchemaDir: string = fileURLToPath(new URL(".", import.meta.url));

export interface KafkaFieldSchema {
  readonly name: string;
  readonly type: string;
  readonly versions: string;
  readonly nullableVersions?: string;
  readonly taggedVersions?: string;
  readonly tag?: number;
  readonly default?: string;
  readonly fields?: readonly KafkaFieldSchema[];
}

export interface KafkaApiSchema {
  readonly name: string;
  readonly apiKey: number;
  readonly validVersions: string;
  readonly flexibleVersions: string;
  readonly request: readonly KafkaFieldSchema[];
  readonly response: readonly KafkaFieldSchema[];
}

/** Inclusive range of versions; empty when `max < min`. */
export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export const noVersions: VersionRange = { min: 0, max: -1 };

/** Parses Kafka's version notation: "3", "0-7", "9+", "none". */
export function parseVersions(text: string | undefined): VersionRange {
  if (text === undefined || text === "none") return noVersions;
  const open = /^(\d+)\+$/.exec(text);
  if (open) return { min: Number(open[1]), max: Number.POSITIVE_INFINITY };
  const closed = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!closed) throw new Error(`bad version range ${JSON.stringify(text)}`);
  const min = Number(closed[1]);
  return { min, max: closed[2] === undefined ? min : Number(closed[2]) };
}

export function intersectVersions(left: VersionRange, right: VersionRange): VersionRange {
  const min = Math.max(left.min, right.min);
  const max = Math.min(left.max, right.max);
  return max < min ? noVersions : { min, max };
}

export function isEmptyRange(range: VersionRange): boolean {
  return range.max < range.min;
}

export function inRange(range: VersionRange, version: number): boolean {
  return version >= range.min && version <= range.max;
}

export const primitiveTypes = new Set([
  "bool",
  "int8",
  "int16",
  "int32",
  "int64",
  "uint16",
  "uint32",
  "float64",
  "string",
  "bytes",
  "records",
  "uuid",
]);

/** `"[]int32"` → `{ array: true, element: "int32", struct: false }`. */
export function fieldType(field: KafkaFieldSchema): {
  array: boolean;
  element: string;
  struct: boolean;
} {
  const array = field.type.startsWith("[]");
  const element = array ? field.type.slice(2) : field.type;
  return { array, element, struct: !primitiveTypes.has(element) };
}

/** Kafka field names are PascalCase (a few camelCase); ours are camelCase. */
export function propertyName(field: KafkaFieldSchema): string {
  return field.name[0].toLowerCase() + field.name.slice(1);
}

/**
 * The default of a non-struct field as a JS value: its `default` if stated, else Kafka's
 * implicit one (0, false, "", empty bytes, empty array, the zero uuid, null records).
 */
export function defaultValue(field: KafkaFieldSchema): unknown {
  const { array, element, struct } = fieldType(field);
  const stated = field.default;
  if (stated === "null") return null;
  if (array) return [];
  if (struct) return undefined;
  switch (element) {
    case "bool":
      return stated === "true";
    case "string":
      return stated ?? "";
    case "bytes":
      return Buffer.alloc(0);
    case "records":
      return null;
    case "uuid":
      return "00000000-0000-0000-0000-000000000000";
    default:
      return stated === undefined ? 0 : Number(stated);
  }
}

const fieldKeys = new Set([
  "name",
  "type",
  "versions",
  "nullableVersions",
  "taggedVersions",
  "tag",
  "default",
  "fields",
]);

function checkFields(fields: readonly KafkaFieldSchema[], where: string): void {
  for (const field of fields) {
    for (const key of Object.keys(field)) {
      if (!fieldKeys.has(key)) throw new Error(`${where}.${field.name}: unknown key ${key}`);
    }
    const { struct } = fieldType(field);
    if (struct !== (field.fields !== undefined)) {
      throw new Error(`${where}.${field.name}: struct types, and only they, have fields`);
    }
    if (field.fields) checkFields(field.fields, `${where}.${field.name}`);
  }
}

export function loadKafkaSchemas(dir: string = kafkaSchemaDir): KafkaApiSchema[] {
  const schemas: KafkaApiSchema[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith(".json")) continue;
    const schema = JSON.parse(readFileSync(join(dir, file), "utf8")) as KafkaApiSchema;
    if (`${schema.name}.json` !== file) throw new Error(`${file} holds API ${schema.name}`);
    checkFields(schema.request, `${schema.name}Request`);
    checkFields(schema.response, `${schema.name}Response`);
    schemas.push(schema);
  }
  return schemas.sort((left, right) => left.apiKey - right.apiKey);
}
