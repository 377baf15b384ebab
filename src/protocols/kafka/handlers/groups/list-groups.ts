/** ListGroups (key 16), v0-5: v4 filters by state, v5 by type (every group here is "classic"). */
import type { ListGroupsResponse } from "../../codec/generated/list-groups.ts";
import type { KafkaHandler } from "../handler.ts";
import { kafkaCode } from "./error-codes.ts";

export const listGroupsVersions = { minVersion: 0, maxVersion: 5 } as const;

export const handleListGroups: KafkaHandler<16> = (context, request) => {
  const { body } = request;
  const groups = context.broker.groups.listGroups({
    states: body.statesFilter,
    types: body.typesFilter,
  });
  return {
    throttleTimeMs: 0,
    errorCode: kafkaCode(null),
    groups: groups.map((group) => ({
      groupId: group.groupId,
      protocolType: group.protocolType,
      groupState: group.state,
      groupType: group.type,
    })),
  } satisfies ListGroupsResponse;
};
