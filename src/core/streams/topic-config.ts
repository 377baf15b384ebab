/**
 * Per-topic configuration with Kafka's names (`retention.ms`, `cleanup.policy`, ...), so that
 * DescribeConfigs / AlterConfigs and `wharf topics alter` speak the names users know. A topic
 * stores only its overrides; everything else comes from the broker's storage defaults.
 */
import type { StorageConfig } from "../../config/config.ts";
import {
  batchBytesMaxCeiling,
  segmentBytesCeiling,
  segmentBytesFloor,
} from "../../config/limits.ts";
import { WharfError } from "../../errors/index.ts";

export type CleanupPolicy = "delete" | "compact" | "compact,delete";
export type Durability = "fsync" | "interval" | "none";

export interface TopicSettings {
  cleanupPolicy: CleanupPolicy;
  retentionMs: number;
  retentionBytes: number;
  segmentBytes: number;
  segmentMs: number;
  maxMessageBytes: number;
  indexIntervalBytes: number;
  deleteRetentionMs: number;
  minCompactionLagMs: number;
  durability: Durability;
  flushMs: number;
}

export type TopicOverrides = Record<string, string>;

type Kind = "long" | "int" | "enum";
interface ConfigKey {
  name: string;
  field: keyof TopicSettings;
  kind: Kind;
  min?: number;
  max?: number;
  values?: readonly string[];
  /** The broker default for this key. */
  fallback: (defaults: StorageConfig) => number | string;
}

const dayMs = 24 * 3600 * 1000;

export const topicConfigKeys: readonly ConfigKey[] = [
  {
    name: "cleanup.policy",
    field: "cleanupPolicy",
    kind: "enum",
    values: ["delete", "compact", "compact,delete", "delete,compact"],
    fallback: () => "delete",
  },
  {
    name: "retention.ms",
    field: "retentionMs",
    kind: "long",
    min: -1,
    fallback: (d) => d.retentionMs,
  },
  {
    name: "retention.bytes",
    field: "retentionBytes",
    kind: "long",
    min: -1,
    fallback: (d) => d.retentionBytes,
  },
  {
    name: "segment.bytes",
    field: "segmentBytes",
    kind: "int",
    min: segmentBytesFloor,
    max: segmentBytesCeiling,
    fallback: (d) => d.segmentBytes,
  },
  { name: "segment.ms", field: "segmentMs", kind: "long", min: 1, fallback: (d) => d.segmentMs },
  {
    name: "max.message.bytes",
    field: "maxMessageBytes",
    kind: "int",
    min: 0,
    max: batchBytesMaxCeiling,
    fallback: (d) => d.maxBatchBytes,
  },
  {
    name: "index.interval.bytes",
    field: "indexIntervalBytes",
    kind: "int",
    min: 64,
    fallback: (d) => d.indexIntervalBytes,
  },
  {
    name: "delete.retention.ms",
    field: "deleteRetentionMs",
    kind: "long",
    min: 0,
    fallback: () => dayMs,
  },
  {
    name: "min.compaction.lag.ms",
    field: "minCompactionLagMs",
    kind: "long",
    min: 0,
    fallback: () => 0,
  },
  {
    name: "wharf.durability",
    field: "durability",
    kind: "enum",
    values: ["fsync", "interval", "none"],
    fallback: (d) => d.durability,
  },
  { name: "flush.ms", field: "flushMs", kind: "long", min: 1, fallback: (d) => d.flushIntervalMs },
];

const keysByName = new Map(topicConfigKeys.map((key) => [key.name, key]));

export function isTopicConfigKey(name: string): boolean {
  return keysByName.has(name);
}

/** Parses one value for `name`; throws WHARF_INVALID_CONFIG naming the key and the rule. */
export function parseTopicConfigValue(name: string, value: string): number | string {
  const key = keysByName.get(name);
  if (!key) throw new WharfError("WHARF_INVALID_CONFIG", `unknown topic config '${name}'`);
  if (key.kind === "enum") {
    if (!key.values!.includes(value)) {
      throw new WharfError(
        "WHARF_INVALID_CONFIG",
        `${name}=${value}: expected one of ${key.values!.join(", ")}`,
      );
    }
    return value === "delete,compact" ? "compact,delete" : value;
  }
  if (!/^-?\d+$/.test(value))
    throw new WharfError("WHARF_INVALID_CONFIG", `${name}=${value}: not an integer`);
  const number = Number(value);
  if (
    !Number.isSafeInteger(number) ||
    (key.min !== undefined && number < key.min) ||
    (key.max !== undefined && number > key.max)
  ) {
    const range = `${key.min ?? "-inf"}..${key.max ?? "+inf"}`;
    throw new WharfError("WHARF_INVALID_CONFIG", `${name}=${value}: out of range ${range}`);
  }
  return number;
}

/** Validates a set of overrides, returning them normalized. */
export function validateOverrides(overrides: TopicOverrides): TopicOverrides {
  const out: TopicOverrides = {};
  for (const [name, value] of Object.entries(overrides))
    out[name] = String(parseTopicConfigValue(name, value));
  return out;
}

export function resolveTopicSettings(
  overrides: TopicOverrides,
  defaults: StorageConfig,
): TopicSettings {
  const settings = {} as Record<keyof TopicSettings, number | string>;
  for (const key of topicConfigKeys) {
    const override = overrides[key.name];
    settings[key.field] =
      override === undefined ? key.fallback(defaults) : parseTopicConfigValue(key.name, override);
  }
  return settings as unknown as TopicSettings;
}

/** Every key with its effective value and whether it is the default (for DescribeConfigs). */
export function describeTopicConfig(
  overrides: TopicOverrides,
  defaults: StorageConfig,
): Array<{ name: string; value: string; isDefault: boolean }> {
  return topicConfigKeys.map((key) => {
    const override = overrides[key.name];
    return override === undefined
      ? { name: key.name, value: String(key.fallback(defaults)), isDefault: true }
      : { name: key.name, value: override, isDefault: false };
  });
}
