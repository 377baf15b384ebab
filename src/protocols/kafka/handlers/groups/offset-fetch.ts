/**
 * OffsetFetch (key 9), v0-9. v0-7 ask for one group, v8+ for several (KIP-709). `topics`
 * null (v2+) means every committed partition of the group. A partition without a commit
 * answers offset -1 and no error. `requireStable` (v7+) needs nothing: without transactions
 * no offset is ever pending, so UNSTABLE_OFFSET_COMMIT is never the answer. The v9 member id
 * and epoch belong to the KIP-848 consumer protocol and are ignored for classic groups.
 */
import type {
  OffsetFetchResponse,
  OffsetFetchResponseGroup,
  OffsetFetchResponseTopic,
} from "../../codec/generated/offset-fetch.ts";
import type { KafkaHandler, KafkaHandlerContext } from "../handler.ts";
import { kafkaCode } from "./error-codes.ts";

export const offsetFetchVersions = { minVersion: 0, maxVersion: 9 } as const;

function fetchGroup(
  context: KafkaHandlerContext,
  groupId: string,
  topics: Array<{ name: string; partitionIndexes: number[] }> | null,
): { errorCode: number; topics: OffsetFetchResponseTopic[] } {
  const result = context.broker.groups.fetchOffsets(
    groupId,
    topics === null
      ? null
      : topics.map((topic) => ({ topic: topic.name, partitions: topic.partitionIndexes })),
  );
  return {
    errorCode: kafkaCode(result.error),
    topics: result.topics.map((topic) => ({
      name: topic.topic,
      partitions: topic.partitions.map((partition) => ({
        partitionIndex: partition.partition,
        committedOffset: partition.offset,
        committedLeaderEpoch: partition.leaderEpoch,
        metadata: partition.metadata,
        errorCode: kafkaCode(partition.error),
      })),
    })),
  };
}

export const handleOffsetFetch: KafkaHandler<9> = (context, request) => {
  const { body, version } = request;
  if (version >= 8) {
    const groups: OffsetFetchResponseGroup[] = (body.groups ?? []).map((group) => {
      const answer = fetchGroup(context, group.groupId, group.topics);
      return {
        groupId: group.groupId,
        errorCode: answer.errorCode,
        topics: answer.topics.map((topic) => ({
          name: topic.name,
          partitions: topic.partitions.map((partition) => ({
            ...partition,
            committedLeaderEpoch: partition.committedLeaderEpoch ?? -1,
          })),
        })),
      };
    });
    return { throttleTimeMs: 0, groups } satisfies OffsetFetchResponse;
  }
  const answer = fetchGroup(context, body.groupId ?? "", body.topics ?? null);
  if (version < 2 && answer.errorCode !== 0) {
    // v0-1 have no top-level error: report it on every partition.
    for (const topic of answer.topics)
      for (const partition of topic.partitions) partition.errorCode = answer.errorCode;
  }
  return {
    throttleTimeMs: 0,
    topics: answer.topics,
    errorCode: answer.errorCode,
  } satisfies OffsetFetchResponse;
};
