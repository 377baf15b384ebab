/**
 * Test support: representative message bodies built from the restated schemas, for any API,
 * direction and version. Used by the round-trip tests and the fuzz test; never by the broker.
 *
 * A sample holds exactly what the generated decoder returns for its encoding: fields absent
 * in the version carry their default, so `decode(encode(sample))` deep-equals the sample.
 * - "full": every field present in the version gets a non-default value (arrays have two
 *   elements, tagged fields are set, so they go on the wire);
 * - "sparse": nullable fields are null, arrays empty, strings empty, tagged fields default.
 */

import {
  defaultValue,
  fieldType,
  inRange,
  type KafkaApiSchema,
  type KafkaFieldSchema,
  parseVersions,
} from "../schema/model.ts";

export type SampleStyle = "full" | "sparse";

interface SampleState {
  counter: number;
}

function sampleElement(field: KafkaFieldSchema, element: string, state: SampleState): unknown {
  const n = ++state.counter;
  switch (element) {
    case "bool":
      return field.default !== "true";
    case "int8":
      return 10 + (n % 100);
    case "int16":
      return 1000 + (n % 30_000);
    case "int32":
      return n % 2 === 0 ? 100_000 + n : -100_000 - n;
    case "int64":
      return n % 2 === 0 ? 2 ** 40 + n : -(2 ** 45) - n;
    case "uint16":
      return 60_000 + n;
    case "uint32":
      return 3_000_000_000 + n;
    case "float64":
      return n + 0.25;
    case "string":
      return `s${n}-ü€`;
    case "bytes":
      return Buffer.from([n & 0xff, 1, 2, 3]);
    case "records":
      // Longer than the writer's copy threshold, so the zero-copy chunk path is used.
      return Buffer.alloc(300 + n, n & 0xff);
    case "uuid": {
      const hex = (n * 2654435761).toString(16).padStart(8, "0").slice(-8);
      return `${hex}-0000-4000-8000-${hex}${hex.slice(0, 4)}`;
    }
    default:
      throw new Error(`no sample for ${element}`);
  }
}

function sampleField(
  field: KafkaFieldSchema,
  version: number,
  style: SampleStyle,
  state: SampleState,
): unknown {
  if (!inRange(parseVersions(field.versions), version)) return defaultValue(field);
  const tagged = inRange(parseVersions(field.taggedVersions), version);
  if (tagged && style === "sparse") return defaultValue(field);
  const nullable = inRange(parseVersions(field.nullableVersions), version);
  if (nullable && style === "sparse") return null;
  const { array, element, struct } = fieldType(field);
  const one = (): unknown =>
    struct
      ? sampleStruct(field.fields ?? [], version, style, state)
      : sampleElement(field, element, state);
  if (array) return style === "sparse" ? [] : [one(), one()];
  if (style === "sparse" && !struct) {
    if (element === "string") return "";
    if (element === "bytes") return Buffer.alloc(0);
  }
  return one();
}

function sampleStruct(
  fields: readonly KafkaFieldSchema[],
  version: number,
  style: SampleStyle,
  state: SampleState,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of fields) {
    body[field.name[0].toLowerCase() + field.name.slice(1)] = sampleField(
      field,
      version,
      style,
      state,
    );
  }
  return body;
}

export function sampleBody(
  api: KafkaApiSchema,
  direction: "request" | "response",
  version: number,
  style: SampleStyle,
): Record<string, unknown> {
  const fields = direction === "request" ? api.request : api.response;
  return sampleStruct(fields, version, style, { counter: api.apiKey * 1000 + version * 10 });
}

/** Every version in an API's validVersions. */
export function apiVersions(api: KafkaApiSchema): number[] {
  const range = parseVersions(api.validVersions);
  const versions: number[] = [];
  for (let version = range.min; version <= range.max; version++) versions.push(version);
  return versions;
}
