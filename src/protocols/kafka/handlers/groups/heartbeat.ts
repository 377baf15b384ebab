/** Heartbeat (key 12), v0-4: keeps the member's session; tells it when to rejoin. */
import type { KafkaHandler } from "../handler.ts";
import { kafkaCode } from "./error-codes.ts";

export const heartbeatVersions = { minVersion: 0, maxVersion: 4 } as const;

export const handleHeartbeat: KafkaHandler<12> = (context, request) => {
  const { body } = request;
  const error = context.broker.groups.heartbeat({
    groupId: body.groupId,
    generationId: body.generationId,
    memberId: body.memberId,
    groupInstanceId: body.groupInstanceId ?? null,
  });
  return { throttleTimeMs: 0, errorCode: kafkaCode(error) };
};
