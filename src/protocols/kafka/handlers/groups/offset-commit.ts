/**
 * OffsetCommit (key 8), v0-9. The answer is sent once the offsets are durable (fsync'd in the
 * offsets log). Generation -1 (v0, or tools outside group management) is a "simple" commit,
 * accepted only while the group has no members; a member's commit must carry the group's
 * current generation (else ILLEGAL_GENERATION). Per-partition errors: unknown topic or
 * partition, metadata over `offsetMetadataBytesMax`. v1's commit timestamp and v2-4's
 * retention time are ignored (as Kafka 2.1+ does): the broker stamps commits itself.
 */
import type { OffsetCommitResponse } from "../../codec/generated/offset-commit.ts";
import type { KafkaHandler } from "../handler.ts";
import { kafkaCode } from "./error-codes.ts";

export const offsetCommitVersions = { minVersion: 0, maxVersion: 9 } as const;

export const handleOffsetCommit: KafkaHandler<8> = async (context, request) => {
  const { body } = request;
  const offsets = body.topics.flatMap((topic) =>
    topic.partitions.map((partition) => ({
      topic: topic.name,
      partition: partition.partitionIndex,
      offset: partition.committedOffset,
      leaderEpoch: partition.committedLeaderEpoch ?? -1,
      metadata: partition.committedMetadata,
    })),
  );
  const errors = await context.broker.groups.commitOffsets({
    groupId: body.groupId,
    generationId: body.generationIdOrMemberEpoch ?? -1,
    memberId: body.memberId ?? "",
    groupInstanceId: body.groupInstanceId ?? null,
    offsets,
  });
  let index = 0;
  return {
    throttleTimeMs: 0,
    topics: body.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => ({
        partitionIndex: partition.partitionIndex,
        errorCode: kafkaCode(errors[index++] ?? null),
      })),
    })),
  } satisfies OffsetCommitResponse;
};
