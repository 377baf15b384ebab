/**
 * CreatePartitions (key 37), v0-3: grows a topic to `count` partitions (never shrinks:
 * INVALID_PARTITIONS). Explicit assignments must place each new partition on this node alone,
 * else INVALID_REPLICA_ASSIGNMENT. `validate_only` checks and changes nothing.
 */
import type { CreatePartitionsTopicResult } from "../codec/generated/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import type { KafkaHandler } from "./handler.ts";

export const createPartitionsVersions = { minVersion: 0, maxVersion: 3 } as const;

export const handleCreatePartitions: KafkaHandler<37> = async (context, request) => {
  const { topics, validateOnly } = request.body;
  const counts = new Map<string, number>();
  for (const topic of topics) counts.set(topic.name, (counts.get(topic.name) ?? 0) + 1);
  const results: CreatePartitionsTopicResult[] = [];
  for (const topic of topics) {
    const { name } = topic;
    if (counts.get(name)! > 1) {
      results.push({
        name,
        errorCode: KafkaErrorCode.INVALID_REQUEST,
        errorMessage: "topic named more than once in the request",
      });
      continue;
    }
    const existing = context.broker.streams.get(name);
    if (topic.assignments !== null && existing) {
      const added = topic.count - existing.definition.partitions;
      const onThisNode = topic.assignments.every(
        (assignment) =>
          assignment.brokerIds.length === 1 && assignment.brokerIds[0] === context.nodeId,
      );
      if (!onThisNode || topic.assignments.length !== added) {
        const message = `${added} new partitions must each be assigned to broker ${context.nodeId} alone`;
        results.push({
          name,
          errorCode: KafkaErrorCode.INVALID_REPLICA_ASSIGNMENT,
          errorMessage: message,
        });
        continue;
      }
    }
    try {
      await context.broker.streams.addPartitions(name, topic.count, { validateOnly });
      results.push({ name, errorCode: KafkaErrorCode.NONE, errorMessage: null });
    } catch (error) {
      const mapped = kafkaErrorOf(error);
      if (!mapped.expected)
        context.logger.error({ err: error, topic: name }, "adding partitions failed unexpectedly");
      results.push({ name, errorCode: mapped.code, errorMessage: mapped.message });
    }
  }
  return { throttleTimeMs: 0, results };
};
