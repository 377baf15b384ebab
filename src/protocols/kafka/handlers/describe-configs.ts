/**
 * DescribeConfigs (key 32), v0-4, for TOPIC resources (every topic config with its effective
 * value; overrides are DYNAMIC_TOPIC_CONFIG, the rest DEFAULT_CONFIG) and BROKER resources (a
 * read-only view of this node's settings under Kafka's broker config names; the name must be
 * empty or this node's id). BROKER_LOGGER answers an empty list; other types INVALID_REQUEST.
 * `configuration_keys` filters; v1+ synonyms list the override and the default under it.
 */
import type {
  DescribeConfigsResourceResult,
  DescribeConfigsResult,
} from "../codec/generated/index.ts";
import { KafkaErrorCode } from "../errors.ts";
import {
  brokerConfigEntries,
  type ConfigEntry,
  ConfigSource,
  ResourceType,
  topicConfigEntries,
} from "./configs.ts";
import type { KafkaHandler, KafkaHandlerContext } from "./handler.ts";

export const describeConfigsVersions = { minVersion: 0, maxVersion: 4 } as const;

type Resource = Parameters<KafkaHandler<32>>[1]["body"]["resources"][number];

function toResult(entry: ConfigEntry, includeSynonyms: boolean): DescribeConfigsResourceResult {
  const synonyms = !includeSynonyms
    ? []
    : [
        { name: entry.name, value: entry.value, source: entry.source },
        ...(entry.fallback
          ? [{ name: entry.name, value: entry.fallback.value, source: entry.fallback.source }]
          : []),
      ];
  return {
    name: entry.name,
    value: entry.value,
    readOnly: entry.readOnly,
    isDefault: entry.source === ConfigSource.default,
    configSource: entry.source,
    isSensitive: false,
    synonyms,
    configType: entry.type,
    documentation: null,
  };
}

function describe(
  context: KafkaHandlerContext,
  resource: Resource,
  includeSynonyms: boolean,
): DescribeConfigsResult {
  const { resourceType, resourceName } = resource;
  const answer = (errorCode: number, errorMessage: string | null, entries: ConfigEntry[]) => {
    const keys = resource.configurationKeys;
    const selected =
      keys === null || keys.length === 0
        ? entries
        : entries.filter((entry) => keys.includes(entry.name));
    return {
      errorCode,
      errorMessage,
      resourceType,
      resourceName,
      configs: selected.map((entry) => toResult(entry, includeSynonyms)),
    };
  };
  switch (resourceType) {
    case ResourceType.topic: {
      const topic = context.broker.streams.get(resourceName);
      if (!topic)
        return answer(KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `no topic '${resourceName}'`, []);
      return answer(
        KafkaErrorCode.NONE,
        null,
        topicConfigEntries(context, topic.definition.config),
      );
    }
    case ResourceType.broker:
      if (resourceName !== "" && resourceName !== String(context.nodeId)) {
        return answer(
          KafkaErrorCode.INVALID_REQUEST,
          `this is broker ${context.nodeId}, not '${resourceName}'`,
          [],
        );
      }
      return answer(KafkaErrorCode.NONE, null, brokerConfigEntries(context));
    case ResourceType.brokerLogger:
      return answer(KafkaErrorCode.NONE, null, []);
    default:
      return answer(
        KafkaErrorCode.INVALID_REQUEST,
        `resource type ${resourceType} has no configs here`,
        [],
      );
  }
}

export const handleDescribeConfigs: KafkaHandler<32> = (context, request) => {
  const { resources, includeSynonyms } = request.body;
  return {
    throttleTimeMs: 0,
    results: resources.map((resource) => describe(context, resource, includeSynonyms === true)),
  };
};
