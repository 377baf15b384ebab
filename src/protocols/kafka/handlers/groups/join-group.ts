/**
 * JoinGroup (key 11), v0-9: a long poll. The request is parked in the coordinator until the
 * group's join phase completes (seconds to the rebalance timeout), and released with an error
 * when the connection closes (`session.closed`). v4+ first answers MEMBER_ID_REQUIRED with a
 * member id (KIP-394); v5+ carries group.instance.id (static membership); v9 `skipAssignment`.
 */
import type { JoinGroupResponse } from "../../codec/generated/join-group.ts";
import type { KafkaHandler } from "../handler.ts";
import { clientHost, kafkaCode } from "./error-codes.ts";

export const joinGroupVersions = { minVersion: 0, maxVersion: 9 } as const;

export const handleJoinGroup: KafkaHandler<11> = async (context, request) => {
  const { body, version } = request;
  const result = await context.broker.groups.join(
    {
      groupId: body.groupId,
      memberId: body.memberId,
      groupInstanceId: body.groupInstanceId ?? null,
      sessionTimeoutMs: body.sessionTimeoutMs,
      rebalanceTimeoutMs: body.rebalanceTimeoutMs ?? -1,
      protocolType: body.protocolType,
      // Copied: the coordinator keeps them beyond this request's frame.
      protocols: body.protocols.map(({ name, metadata }) => ({
        name,
        metadata: Buffer.from(metadata),
      })),
      clientId: context.session.clientId ?? "",
      clientHost: clientHost(context.session.remoteAddress),
      requireKnownMemberId: version >= 4,
      supportsSkipAssignment: version >= 9,
      reason: body.reason ?? null,
    },
    context.session.closed,
  );
  return {
    throttleTimeMs: 0,
    errorCode: kafkaCode(result.error),
    generationId: result.generationId,
    protocolType: result.protocolType,
    // Before v7 the protocol name is not nullable.
    protocolName: version >= 7 ? result.protocolName : (result.protocolName ?? ""),
    leader: result.leaderId,
    skipAssignment: result.skipAssignment,
    memberId: result.memberId,
    members: result.members.map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      metadata: member.metadata,
    })),
  } satisfies JoinGroupResponse;
};
