/**
 * LeaveGroup (key 13), v0-5. v0-2 name one member and answer with its error at the top
 * level; v3+ name a batch of members (by member id, or by group.instance.id with an empty
 * member id, KIP-345) and answer per member.
 */
import type { LeaveGroupResponse } from "../../codec/generated/leave-group.ts";
import type { KafkaHandler } from "../handler.ts";
import { kafkaCode } from "./error-codes.ts";

export const leaveGroupVersions = { minVersion: 0, maxVersion: 5 } as const;

export const handleLeaveGroup: KafkaHandler<13> = (context, request) => {
  const { body, version } = request;
  const leaving =
    version >= 3
      ? (body.members ?? []).map((member) => ({
          memberId: member.memberId,
          groupInstanceId: member.groupInstanceId,
          reason: member.reason ?? null,
        }))
      : [{ memberId: body.memberId ?? "", groupInstanceId: null }];
  const result = context.broker.groups.leave(body.groupId, leaving);
  if (version < 3) {
    const error = result.error ?? result.members[0]?.error ?? null;
    return { throttleTimeMs: 0, errorCode: kafkaCode(error) } satisfies LeaveGroupResponse;
  }
  return {
    throttleTimeMs: 0,
    errorCode: kafkaCode(result.error),
    members: result.members.map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      errorCode: kafkaCode(member.error),
    })),
  } satisfies LeaveGroupResponse;
};
