/**
 * Config entries as DescribeConfigs and CreateTopics (v5+) report them: topic configs from the
 * core's `describeTopicConfig` (Kafka's names), and a read-only view of the broker's settings
 * under the Kafka broker config names that tools look for.
 */
import {
  describeTopicConfig,
  type TopicOverrides,
  topicConfigKeys,
} from "../../../core/streams/topic-config.ts";
import type { KafkaHandlerContext } from "./handler.ts";

/** Kafka's ConfigSource values (DescribeConfigs v1+). */
export const ConfigSource = {
  dynamicTopic: 1,
  staticBroker: 4,
  default: 5,
} as const;

/** Kafka's ConfigType values (DescribeConfigs v3+). */
export const ConfigType = {
  boolean: 1,
  string: 2,
  int: 3,
  short: 4,
  long: 5,
  list: 7,
} as const;

/** Kafka's ConfigResource types. */
export const ResourceType = {
  topic: 2,
  broker: 4,
  brokerLogger: 8,
} as const;

export interface ConfigEntry {
  name: string;
  value: string;
  source: number;
  type: number;
  readOnly: boolean;
  /** The value with the next-lower precedence, for synonyms; null when there is none. */
  fallback: { value: string; source: number } | null;
}

/** Topic configs whose value is a list (IncrementalAlterConfigs APPEND/SUBTRACT apply). */
export const listTopicConfigs: ReadonlySet<string> = new Set(["cleanup.policy"]);

function topicConfigType(name: string): number {
  if (listTopicConfigs.has(name)) return ConfigType.list;
  const kind = topicConfigKeys.find((key) => key.name === name)?.kind;
  return kind === "long" ? ConfigType.long : kind === "int" ? ConfigType.int : ConfigType.string;
}

export function topicConfigEntries(
  context: KafkaHandlerContext,
  overrides: TopicOverrides,
): ConfigEntry[] {
  const defaults = describeTopicConfig({}, context.broker.config.storage);
  return describeTopicConfig(overrides, context.broker.config.storage).map((entry, index) => {
    const fallback = { value: defaults[index]!.value, source: ConfigSource.default };
    return {
      name: entry.name,
      value: entry.value,
      source: entry.isDefault ? ConfigSource.default : ConfigSource.dynamicTopic,
      type: topicConfigType(entry.name),
      readOnly: false,
      fallback: entry.isDefault ? null : fallback,
    };
  });
}

export function brokerConfigEntries(context: KafkaHandlerContext): ConfigEntry[] {
  const { config } = context.broker;
  const storage = config.storage;
  const { host, port } = context.advertised;
  const listenerHost = host.includes(":") ? `[${host}]` : host;
  const entries: Array<[string, string | number | boolean, number]> = [
    ["broker.id", context.nodeId, ConfigType.int],
    ["node.id", context.nodeId, ConfigType.int],
    ["advertised.listeners", `PLAINTEXT://${listenerHost}:${port}`, ConfigType.string],
    ["auto.create.topics.enable", config.autoCreateTopics, ConfigType.boolean],
    ["num.partitions", config.defaultPartitions, ConfigType.int],
    ["default.replication.factor", 1, ConfigType.int],
    ["min.insync.replicas", 1, ConfigType.int],
    ["offsets.topic.replication.factor", 1, ConfigType.short],
    ["log.retention.ms", storage.retentionMs, ConfigType.long],
    ["log.retention.bytes", storage.retentionBytes, ConfigType.long],
    ["log.segment.bytes", storage.segmentBytes, ConfigType.int],
    ["log.roll.ms", storage.segmentMs, ConfigType.long],
    ["log.index.interval.bytes", storage.indexIntervalBytes, ConfigType.int],
    ["message.max.bytes", storage.maxBatchBytes, ConfigType.int],
    ["log.flush.interval.ms", storage.flushIntervalMs, ConfigType.long],
    ["wharf.durability", storage.durability, ConfigType.string],
    ["sasl.enabled.mechanisms", context.broker.authenticator.mechanisms.join(","), ConfigType.list],
  ];
  return entries.map(([name, value, type]) => ({
    name,
    value: String(value),
    source: ConfigSource.staticBroker,
    type,
    readOnly: true,
    fallback: null,
  }));
}
