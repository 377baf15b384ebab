/**
 * DeleteGroups (key 42), v0-2: groups without members are deleted with their committed
 * offsets (tombstones, durable before the answer); others get NON_EMPTY_GROUP, unknown ones
 * GROUP_ID_NOT_FOUND.
 */
import type { DeleteGroupsResponse } from "../../codec/generated/delete-groups.ts";
import type { KafkaHandler } from "../handler.ts";
import { kafkaCode } from "./error-codes.ts";

export const deleteGroupsVersions = { minVersion: 0, maxVersion: 2 } as const;

export const handleDeleteGroups: KafkaHandler<42> = async (context, request) => {
  const results = await context.broker.groups.deleteGroups(request.body.groupsNames);
  return {
    throttleTimeMs: 0,
    results: results.map((result) => ({
      groupId: result.groupId,
      errorCode: kafkaCode(result.error),
    })),
  } satisfies DeleteGroupsResponse;
};
