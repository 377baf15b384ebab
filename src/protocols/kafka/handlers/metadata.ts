/**
 * Metadata (key 3), v0-12: brokers, cluster id, controller, and for each topic its id and
 * partitions with leader, leader epoch, replicas and ISR. A single node leads every partition:
 * leader 0, replicas and ISR [0].
 *
 * - Topic list: v0 sends an empty array for "all topics"; v1+ sends null for all topics, and an
 *   empty array means none. v10+ may name a topic by id (name null); v12 answers such a topic
 *   with its name.
 * - Auto-creation: a missing topic is created with the default partition count when the broker
 *   allows it (`autoCreateTopics`) and the request does (`allow_auto_topic_creation`, v4+;
 *   always before v4, as in Kafka). Otherwise UNKNOWN_TOPIC_OR_PARTITION.
 * - The broker address is the advertised one (bound address or `--advertise`).
 */
import type { Topic } from "../../../core/streams/stream-registry.ts";
import type { MetadataResponseTopic } from "../codec/generated/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import type { KafkaHandler, KafkaHandlerContext } from "./handler.ts";
import { autoCreateEnabled, autoCreateTopic, isInternalTopic } from "./topics.ts";

export const metadataVersions = { minVersion: 0, maxVersion: 12 } as const;

/** Kafka's "authorized operations not requested" sentinel (INT32 min). */
const operationsNotRequested = -2147483648;
const zeroUuid = "00000000-0000-0000-0000-000000000000";

export function topicMetadata(context: KafkaHandlerContext, topic: Topic): MetadataResponseTopic {
  const nodes = [context.nodeId];
  return {
    errorCode: KafkaErrorCode.NONE,
    name: topic.definition.name,
    topicId: topic.definition.id,
    isInternal: isInternalTopic(topic.definition.name),
    partitions: topic.partitions.map((partition) => ({
      errorCode: KafkaErrorCode.NONE,
      partitionIndex: partition.index,
      leaderId: context.nodeId,
      leaderEpoch: partition.leaderEpoch,
      replicaNodes: nodes,
      isrNodes: nodes,
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: operationsNotRequested,
  };
}

function topicError(name: string | null, code: number, topicId = zeroUuid): MetadataResponseTopic {
  return {
    errorCode: code,
    name,
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: operationsNotRequested,
  };
}

async function requestedTopic(
  context: KafkaHandlerContext,
  name: string | null,
  topicId: string | undefined,
  mayCreate: boolean,
): Promise<MetadataResponseTopic> {
  const streams = context.broker.streams;
  if (name === null) {
    const byId =
      topicId !== undefined && topicId !== zeroUuid ? streams.getById(topicId) : undefined;
    return byId
      ? topicMetadata(context, byId)
      : topicError(null, KafkaErrorCode.UNKNOWN_TOPIC_ID, topicId);
  }
  const topic = streams.get(name);
  if (topic) return topicMetadata(context, topic);
  if (!mayCreate) return topicError(name, KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  try {
    return topicMetadata(context, await autoCreateTopic(context, name));
  } catch (error) {
    const mapped = kafkaErrorOf(error);
    if (!mapped.expected)
      context.logger.error({ err: error, topic: name }, "auto-creating a topic failed");
    return topicError(name, mapped.code);
  }
}

export const handleMetadata: KafkaHandler<3> = async (context, request) => {
  const { body, version } = request;
  const streams = context.broker.streams;
  const all = body.topics === null || (version === 0 && body.topics.length === 0);
  const mayCreate =
    autoCreateEnabled(context) && (version < 4 || body.allowAutoTopicCreation !== false);
  const topics = all
    ? streams.list().map((topic) => topicMetadata(context, topic))
    : await Promise.all(
        (body.topics ?? []).map((topic) =>
          requestedTopic(context, topic.name, topic.topicId, mayCreate),
        ),
      );
  return {
    throttleTimeMs: 0,
    brokers: [
      {
        nodeId: context.nodeId,
        host: context.advertised.host,
        port: context.advertised.port,
        rack: null,
      },
    ],
    clusterId: context.broker.clusterId,
    controllerId: context.nodeId,
    topics,
    clusterAuthorizedOperations: operationsNotRequested,
  };
};
