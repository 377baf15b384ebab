/**
 * CreateTopics (key 19), v0-7.
 *
 * - `num_partitions` -1 means the broker default (`defaultPartitions`); `replication_factor`
 *   -1 means the default, 1. A single node cannot hold more than one replica, so any other
 *   factor is INVALID_REPLICATION_FACTOR.
 * - Manual assignments are accepted when every partition is assigned to this node alone (and
 *   then give the partition count); anything else is INVALID_REPLICA_ASSIGNMENT.
 * - Configs use Kafka's topic config names; an unknown name or a bad value is INVALID_CONFIG.
 * - `validate_only` runs every check and creates nothing.
 * - v5+ answer with the partition count, replication factor and effective configs; v7 with
 *   the topic id.
 */
import type { CreateTopicsResponseCreatableTopicResult } from "../codec/generated/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import { topicConfigEntries } from "./configs.ts";
import type { KafkaHandler, KafkaHandlerContext } from "./handler.ts";

export const createTopicsVersions = { minVersion: 0, maxVersion: 7 } as const;

const zeroUuid = "00000000-0000-0000-0000-000000000000";

function failure(
  name: string,
  code: number,
  message: string,
): CreateTopicsResponseCreatableTopicResult {
  return {
    name,
    topicId: zeroUuid,
    errorCode: code,
    errorMessage: message,
    numPartitions: -1,
    replicationFactor: -1,
    configs: [],
  };
}

type Creatable = Parameters<KafkaHandler<19>>[1]["body"]["topics"][number];

async function createOne(
  context: KafkaHandlerContext,
  topic: Creatable,
  validateOnly: boolean,
): Promise<CreateTopicsResponseCreatableTopicResult> {
  const { name } = topic;
  if (topic.replicationFactor !== -1 && topic.replicationFactor !== 1) {
    const message = `replication factor ${topic.replicationFactor}: this node is a cluster of 1 broker`;
    return failure(name, KafkaErrorCode.INVALID_REPLICATION_FACTOR, message);
  }
  let partitions =
    topic.numPartitions === -1 ? context.broker.config.defaultPartitions : topic.numPartitions;
  if (topic.assignments.length > 0) {
    if (topic.numPartitions !== -1 || topic.replicationFactor !== -1) {
      return failure(
        name,
        KafkaErrorCode.INVALID_REQUEST,
        "assignments given together with a partition count or replication factor",
      );
    }
    const indexes = new Set(topic.assignments.map((assignment) => assignment.partitionIndex));
    const onThisNode = topic.assignments.every(
      (assignment) =>
        assignment.brokerIds.length === 1 && assignment.brokerIds[0] === context.nodeId,
    );
    const dense = topic.assignments.every(
      (assignment) => assignment.partitionIndex < topic.assignments.length,
    );
    if (!onThisNode || !dense || indexes.size !== topic.assignments.length) {
      return failure(
        name,
        KafkaErrorCode.INVALID_REPLICA_ASSIGNMENT,
        `every partition must be assigned to broker ${context.nodeId} alone`,
      );
    }
    partitions = topic.assignments.length;
  }
  const configs: Record<string, string> = {};
  for (const config of topic.configs)
    if (config.value !== null) configs[config.name] = config.value;
  try {
    const created = await context.broker.streams.create(name, partitions, configs, {
      validateOnly,
    });
    const overrides = created?.definition.config ?? configs;
    return {
      name,
      topicId: created?.definition.id ?? zeroUuid,
      errorCode: KafkaErrorCode.NONE,
      errorMessage: null,
      numPartitions: partitions,
      replicationFactor: 1,
      configs: topicConfigEntries(context, overrides).map((entry) => ({
        name: entry.name,
        value: entry.value,
        readOnly: entry.readOnly,
        configSource: entry.source,
        isSensitive: false,
      })),
    };
  } catch (error) {
    const mapped = kafkaErrorOf(error);
    if (!mapped.expected)
      context.logger.error({ err: error, topic: name }, "creating a topic failed unexpectedly");
    return failure(name, mapped.code, mapped.message);
  }
}

export const handleCreateTopics: KafkaHandler<19> = async (context, request) => {
  const { topics, validateOnly } = request.body;
  const counts = new Map<string, number>();
  for (const topic of topics) counts.set(topic.name, (counts.get(topic.name) ?? 0) + 1);
  const results: CreateTopicsResponseCreatableTopicResult[] = [];
  // One at a time: creations are durable definition writes, serialized by the core anyway.
  for (const topic of topics) {
    if (counts.get(topic.name)! > 1) {
      results.push(
        failure(
          topic.name,
          KafkaErrorCode.INVALID_REQUEST,
          "topic named more than once in the request",
        ),
      );
      continue;
    }
    results.push(await createOne(context, topic, validateOnly === true));
  }
  return { throttleTimeMs: 0, topics: results };
};
