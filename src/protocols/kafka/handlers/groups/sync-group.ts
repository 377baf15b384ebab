/**
 * SyncGroup (key 14), v0-5: the leader brings the assignment; followers' requests are parked
 * until it arrives (a long poll, released when the connection closes). v5 checks the
 * protocol type and name against the group's.
 */
import type { SyncGroupResponse } from "../../codec/generated/sync-group.ts";
import type { KafkaHandler } from "../handler.ts";
import { kafkaCode } from "./error-codes.ts";

export const syncGroupVersions = { minVersion: 0, maxVersion: 5 } as const;

export const handleSyncGroup: KafkaHandler<14> = async (context, request) => {
  const { body } = request;
  const result = await context.broker.groups.sync(
    {
      groupId: body.groupId,
      generationId: body.generationId,
      memberId: body.memberId,
      groupInstanceId: body.groupInstanceId ?? null,
      protocolType: body.protocolType ?? null,
      protocolName: body.protocolName ?? null,
      assignments: body.assignments,
    },
    context.session.closed,
  );
  return {
    throttleTimeMs: 0,
    errorCode: kafkaCode(result.error),
    protocolType: result.protocolType,
    protocolName: result.protocolName,
    assignment: result.assignment,
  } satisfies SyncGroupResponse;
};
