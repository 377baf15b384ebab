/**
 * OffsetDelete (key 47), v0 (KIP-496): deletes committed offsets of a group, except those of
 * topics an active consumer group subscribes to (GROUP_SUBSCRIBED_TO_TOPIC).
 */
import type { OffsetDeleteResponse } from "../../codec/generated/offset-delete.ts";
import type { KafkaHandler } from "../handler.ts";
import { kafkaCode } from "./error-codes.ts";

export const offsetDeleteVersions = { minVersion: 0, maxVersion: 0 } as const;

export const handleOffsetDelete: KafkaHandler<47> = async (context, request) => {
  const { body } = request;
  const result = await context.broker.groups.deleteOffsets(
    body.groupId,
    body.topics.map((topic) => ({
      topic: topic.name,
      partitions: topic.partitions.map((partition) => partition.partitionIndex),
    })),
  );
  return {
    errorCode: kafkaCode(result.error),
    throttleTimeMs: 0,
    topics: result.topics.map((topic) => ({
      name: topic.topic,
      partitions: topic.partitions.map((partition) => ({
        partitionIndex: partition.partition,
        errorCode: kafkaCode(partition.error),
      })),
    })),
  } satisfies OffsetDeleteResponse;
};
