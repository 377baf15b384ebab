/**
 * DescribeGroups (key 15), v0-5. As Kafka: an unknown group is described as "Dead" with no
 * error (v0-5); member metadata and assignments, and the protocol name, are shown only while
 * the group is Stable. Authorized operations (v3+) are all group operations: no ACLs yet.
 */
import type {
  DescribeGroupsResponse,
  DescribeGroupsResponseDescribedGroup,
} from "../../codec/generated/describe-groups.ts";
import type { KafkaHandler } from "../handler.ts";
import { kafkaCode } from "./error-codes.ts";

export const describeGroupsVersions = { minVersion: 0, maxVersion: 5 } as const;

/** Kafka's "not requested" value of authorizedOperations. */
const operationsNotRequested = -2147483648;
/** READ (3), DELETE (6), DESCRIBE (8): the AclOperation codes that apply to a group. */
const groupOperations = (1 << 3) | (1 << 6) | (1 << 8);

const empty = Buffer.alloc(0);

export const handleDescribeGroups: KafkaHandler<15> = (context, request) => {
  const { body } = request;
  const authorizedOperations = body.includeAuthorizedOperations
    ? groupOperations
    : operationsNotRequested;
  const groups = body.groups.map((groupId): DescribeGroupsResponseDescribedGroup => {
    const group = context.broker.groups.describeGroup(groupId);
    if (!group) {
      return {
        errorCode: kafkaCode(null),
        groupId,
        groupState: "Dead",
        protocolType: "",
        protocolData: "",
        members: [],
        authorizedOperations,
      };
    }
    const stable = group.state === "Stable";
    return {
      errorCode: kafkaCode(null),
      groupId,
      groupState: group.state,
      protocolType: group.protocolType,
      protocolData: stable ? group.protocolName : "",
      members: group.members.map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        memberMetadata: stable ? member.metadata : empty,
        memberAssignment: stable ? member.assignment : empty,
      })),
      authorizedOperations,
    };
  });
  return { throttleTimeMs: 0, groups } satisfies DescribeGroupsResponse;
};
