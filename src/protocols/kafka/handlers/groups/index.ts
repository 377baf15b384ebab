/**
 * Consumer-group APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups, OffsetDelete), each at
 * the full version range of its generated codec. The session's dispatch table merges this
 * table into its own. The logic is the core's `GroupCoordinator` (`broker.groups`).
 */
import type { KafkaHandlerTable } from "../handler.ts";
import { deleteGroupsVersions, handleDeleteGroups } from "./delete-groups.ts";
import { describeGroupsVersions, handleDescribeGroups } from "./describe-groups.ts";
import { findCoordinatorVersions, handleFindCoordinator } from "./find-coordinator.ts";
import { handleHeartbeat, heartbeatVersions } from "./heartbeat.ts";
import { handleJoinGroup, joinGroupVersions } from "./join-group.ts";
import { handleLeaveGroup, leaveGroupVersions } from "./leave-group.ts";
import { handleListGroups, listGroupsVersions } from "./list-groups.ts";
import { handleOffsetCommit, offsetCommitVersions } from "./offset-commit.ts";
import { handleOffsetDelete, offsetDeleteVersions } from "./offset-delete.ts";
import { handleOffsetFetch, offsetFetchVersions } from "./offset-fetch.ts";
import { handleSyncGroup, syncGroupVersions } from "./sync-group.ts";

export const groupHandlers: KafkaHandlerTable = {
  8: { ...offsetCommitVersions, handle: handleOffsetCommit },
  9: { ...offsetFetchVersions, handle: handleOffsetFetch },
  10: { ...findCoordinatorVersions, handle: handleFindCoordinator },
  11: { ...joinGroupVersions, handle: handleJoinGroup },
  12: { ...heartbeatVersions, handle: handleHeartbeat },
  13: { ...leaveGroupVersions, handle: handleLeaveGroup },
  14: { ...syncGroupVersions, handle: handleSyncGroup },
  15: { ...describeGroupsVersions, handle: handleDescribeGroups },
  16: { ...listGroupsVersions, handle: handleListGroups },
  42: { ...deleteGroupsVersions, handle: handleDeleteGroups },
  47: { ...offsetDeleteVersions, handle: handleOffsetDelete },
};
