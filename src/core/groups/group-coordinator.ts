/**
 * The group coordinator: Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup) and committed offsets (OffsetCommit, OffsetFetch, OffsetDelete, DeleteGroups),
 * for every group, on this node. It knows nothing of the wire protocol: requests and results
 * are plain values and errors are catalog codes that the Kafka adapter maps to Kafka codes.
 *
 * Behaviour follows Apache Kafka's coordinator (GroupMetadataManager, classic groups):
 * - JoinGroup v4+ without a member id gets MEMBER_ID_REQUIRED and a fresh id (KIP-394); the
 *   id is "pending" until the member joins with it (or its session timeout passes).
 * - A join, leave or expiry moves the group to PreparingRebalance. An empty group waits
 *   `initialRebalanceDelayMs` (extended while members keep arriving, up to the rebalance
 *   timeout); otherwise the join phase ends when every member has rejoined, or when the
 *   largest rebalance timeout passes, removing the members that did not rejoin.
 * - The join phase ends with a new generation: a protocol every member supports (by vote),
 *   a leader (the previous one if it rejoined), JoinGroup answers (the leader's carries every
 *   member's metadata), then CompletingRebalance until the leader's SyncGroup brings the
 *   assignment, which every member's SyncGroup returns. Members that do not send SyncGroup
 *   within the rebalance timeout are removed (a new rebalance follows).
 * - Static members (group.instance.id) that rejoin without their member id take over their
 *   slot under a new id; in Stable, without a rebalance. The old id is fenced
 *   (FENCED_INSTANCE_ID).
 * - Parked JoinGroup/SyncGroup requests are long polls: they resolve when the phase completes,
 *   or at once with an error when the caller's AbortSignal fires (the connection closed). A
 *   member that joined in this rebalance and disconnects is removed at once; others keep their
 *   session timer, which keeps running while their requests are not parked.
 *
 * Membership lives in memory only (clients rejoin after a restart); committed offsets are
 * durable in the `OffsetStore`. All methods run on the event loop; the only awaits are the
 * offset store's durable writes, after which state is re-read, never assumed.
 */
import { randomUUID } from "node:crypto";
import {
  groupInitialRebalanceDelayMsDefault,
  groupMembersMax,
  groupRebalanceTimeoutMsMax,
  groupSessionTimeoutMsMax,
  groupSessionTimeoutMsMin,
  groupsMax,
  offsetMetadataBytesMax,
  offsetsRetentionCheckIntervalMs,
  offsetsRetentionMsDefault,
} from "../../config/limits.ts";
import type { ErrorCode } from "../../errors/index.ts";
import type { Logger } from "../../logging/logger.ts";
import {
  ConsumerGroup,
  emptyAssignment,
  GroupMember,
  type GroupState,
  type JoinResult,
  type MemberProtocol,
  type SyncResult,
} from "./consumer-group.ts";
import { type AssignedPartitions, assignedPartitions } from "./consumer-protocol.ts";
import type { OffsetStore, OffsetValue } from "./offset-store.ts";
import { type Cancel, type Scheduler, systemScheduler } from "./scheduler.ts";

export type { GroupState, JoinResult, MemberProtocol, SyncResult } from "./consumer-group.ts";

/** What the coordinator needs to know of topics (the stream registry, or a test double). */
export interface PartitionCatalog {
  /** Partition count of the topic; undefined when there is no such topic. */
  partitionCount(topic: string): number | undefined;
  /** Offsets of a partition (for lag); undefined when unknown. */
  partitionOffsets(
    topic: string,
    partition: number,
  ): { logStartOffset: number; highWatermark: number; logEndOffset: number } | undefined;
}

export interface GroupCoordinatorOptions {
  offsets: OffsetStore;
  partitions: PartitionCatalog;
  logger: Logger;
  scheduler?: Scheduler;
  initialRebalanceDelayMs?: number;
  sessionTimeoutMsMin?: number;
  sessionTimeoutMsMax?: number;
  membersMax?: number;
  groupsMax?: number;
  offsetsRetentionMs?: number;
  /** 0 disables the periodic expiry of offsets (tests call `expireOffsets`). */
  retentionCheckIntervalMs?: number;
}

export interface JoinRequest {
  groupId: string;
  /** "" when the member has no id yet. */
  memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  /** -1 (JoinGroup v0) means the session timeout. */
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: MemberProtocol[];
  clientId: string;
  clientHost: string;
  /** JoinGroup v4+: a member without an id is first given one (MEMBER_ID_REQUIRED). */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+: the client understands `skipAssignment`. */
  supportsSkipAssignment: boolean;
  reason?: string | null;
}

export interface SyncRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** SyncGroup v5+: checked against the group's when not null. */
  protocolType: string | null;
  protocolName: string | null;
  /** The leader's assignment, by member id (ignored from followers). */
  assignments: Array<{ memberId: string; assignment: Buffer }>;
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeavingMember {
  /** "" to name a static member by its instance id. */
  memberId: string;
  groupInstanceId: string | null;
  reason?: string | null;
}

export interface LeaveResult {
  error: ErrorCode | null;
  members: Array<{ memberId: string; groupInstanceId: string | null; error: ErrorCode | null }>;
}

export interface OffsetCommitRequest {
  groupId: string;
  /** -1 for a commit outside group management ("simple" consumers, admin tools). */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  offsets: Array<{
    topic: string;
    partition: number;
    offset: number;
    leaderEpoch: number;
    metadata: string | null;
  }>;
}

export interface FetchedOffset {
  partition: number;
  /** -1 when the group has no committed offset for the partition. */
  offset: number;
  leaderEpoch: number;
  metadata: string;
  error: ErrorCode | null;
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  state: GroupState;
  /** Kafka 3.7+ group type: every group here is a classic one. */
  type: "classic";
}

export interface MemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** Metadata for the group's protocol (empty before a protocol is chosen). */
  metadata: Buffer;
  assignment: Buffer;
  /** The assignment read as a "consumer" assignment; null when it is not one. */
  assignedPartitions: AssignedPartitions[] | null;
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  protocolType: string;
  protocolName: string;
  generationId: number;
  leaderId: string | null;
  members: MemberDescription[];
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /** -1 when nothing is committed. */
  committedOffset: number;
  metadata: string;
  commitTimestamp: number | null;
  /** -1 when the partition is unknown (deleted topic). */
  highWatermark: number;
  logEndOffset: number;
  /** highWatermark - committed offset; null when either is unknown. */
  lag: number | null;
  /** The member the partition is assigned to, if any. */
  memberId: string | null;
  clientId: string | null;
}

const noCommittedOffset = -1;

function joinError(error: ErrorCode, memberId: string): JoinResult {
  return {
    error,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leaderId: "",
    memberId,
    skipAssignment: false,
    members: [],
  };
}

function syncError(error: ErrorCode): SyncResult {
  return { error, protocolType: null, protocolName: null, assignment: emptyAssignment };
}

export class GroupCoordinator {
  private readonly groups = new Map<string, ConsumerGroup>();
  private readonly scheduler: Scheduler;
  private readonly logger: Logger;
  private readonly initialDelayMs: number;
  private readonly sessionMin: number;
  private readonly sessionMax: number;
  private readonly membersMax: number;
  private readonly groupsMax: number;
  private readonly retentionMs: number;
  private readonly retentionCheckMs: number;
  private cancelRetention: Cancel | null = null;
  private closed = false;

  constructor(private readonly options: GroupCoordinatorOptions) {
    this.scheduler = options.scheduler ?? systemScheduler;
    this.logger = options.logger;
    this.initialDelayMs = options.initialRebalanceDelayMs ?? groupInitialRebalanceDelayMsDefault;
    this.sessionMin = options.sessionTimeoutMsMin ?? groupSessionTimeoutMsMin;
    this.sessionMax = options.sessionTimeoutMsMax ?? groupSessionTimeoutMsMax;
    this.membersMax = options.membersMax ?? groupMembersMax;
    this.groupsMax = options.groupsMax ?? groupsMax;
    this.retentionMs = options.offsetsRetentionMs ?? offsetsRetentionMsDefault;
    this.retentionCheckMs = options.retentionCheckIntervalMs ?? offsetsRetentionCheckIntervalMs;
    // Groups with committed offsets exist (Empty) after a restart, as in Kafka.
    for (const groupId of options.offsets.groupIds()) {
      this.groups.set(groupId, new ConsumerGroup(groupId, this.scheduler.now()));
    }
    this.scheduleRetention();
  }

  private get offsets(): OffsetStore {
    return this.options.offsets;
  }

  // =========================================================================================
  // JoinGroup

  /** JoinGroup. The promise is parked until the join phase completes (or `signal` aborts). */
  join(request: JoinRequest, signal?: AbortSignal): Promise<JoinResult> {
    return new Promise<JoinResult>((resolve) => {
      let settled = false;
      let onAbort: (() => void) | null = null;
      const respond = (result: JoinResult) => {
        if (settled) return;
        settled = true;
        if (onAbort) signal?.removeEventListener("abort", onAbort);
        resolve(result);
      };
      if (this.closed || signal?.aborted) {
        respond(joinError("WHARF_COORDINATOR_NOT_AVAILABLE", request.memberId));
        return;
      }
      const parked = this.handleJoin(request, respond);
      if (!parked || settled || !signal) return;
      onAbort = () => this.abandonJoin(request.groupId, parked, respond);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Returns the member whose request is parked, or null when `respond` was called. */
  private handleJoin(
    request: JoinRequest,
    respond: (result: JoinResult) => void,
  ): GroupMember | null {
    const { groupId, memberId } = request;
    if (groupId === "") return fail("WHARF_GROUP_ID_INVALID");
    if (request.sessionTimeoutMs < this.sessionMin || request.sessionTimeoutMs > this.sessionMax) {
      return fail("WHARF_GROUP_INVALID_SESSION_TIMEOUT");
    }
    const isUnknown = memberId === "";
    let group = this.groups.get(groupId);
    if (!group) {
      if (!isUnknown) return fail("WHARF_GROUP_UNKNOWN_MEMBER");
      if (this.groups.size >= this.groupsMax) return fail("WHARF_GROUPS_LIMIT_REACHED");
      group = new ConsumerGroup(groupId, this.scheduler.now());
      this.groups.set(groupId, group);
    }
    let parked: GroupMember | null;
    if (!this.acceptsJoiningMember(group, memberId)) {
      respond(joinError("WHARF_GROUP_MAX_SIZE_REACHED", ""));
      parked = null;
    } else if (group.is("Dead")) {
      respond(joinError("WHARF_COORDINATOR_NOT_AVAILABLE", memberId));
      parked = null;
    } else if (
      !group.supportsProtocols(
        request.protocolType,
        request.protocols.map((p) => p.name),
      )
    ) {
      respond(joinError("WHARF_GROUP_INCONSISTENT_PROTOCOL", memberId));
      parked = null;
    } else if (isUnknown) {
      parked = this.joinNewMember(group, request, respond);
    } else {
      parked = this.joinExistingMember(group, request, respond);
    }
    this.maybeRemoveGroup(group);
    return parked;

    function fail(error: ErrorCode): null {
      respond(joinError(error, memberId));
      return null;
    }
  }

  /** Kafka's `acceptJoiningMember`: bounds the group size without kicking rejoining members. */
  private acceptsJoiningMember(group: ConsumerGroup, memberId: string): boolean {
    switch (group.state) {
      case "Empty":
      case "Dead":
        return true;
      case "PreparingRebalance":
        return (
          group.members.get(memberId)?.isAwaitingJoin === true ||
          group.pendingMembers.has(memberId) ||
          group.awaitingJoinCount + group.pendingMembers.size < this.membersMax
        );
      default:
        return (
          group.members.has(memberId) ||
          group.pendingMembers.has(memberId) ||
          group.members.size + group.pendingMembers.size < this.membersMax
        );
    }
  }

  private joinNewMember(
    group: ConsumerGroup,
    request: JoinRequest,
    respond: (result: JoinResult) => void,
  ): GroupMember | null {
    const newMemberId = `${request.groupInstanceId ?? request.clientId}-${randomUUID()}`;
    if (request.groupInstanceId !== null) {
      const existing = group.staticMembers.get(request.groupInstanceId);
      if (existing !== undefined) {
        return this.rejoinStaticMember(group, request, existing, newMemberId, respond);
      }
      return this.addMemberAndRebalance(group, request, newMemberId, respond);
    }
    if (request.requireKnownMemberId) {
      const cancel = this.scheduler.schedule(request.sessionTimeoutMs, () => {
        if (group.pendingMembers.delete(newMemberId)) {
          this.logger.info({ group: group.groupId, member: newMemberId }, "pending member expired");
          this.maybeCompleteJoin(group);
          this.maybeRemoveGroup(group);
        }
      });
      group.pendingMembers.set(newMemberId, cancel);
      respond(joinError("WHARF_GROUP_MEMBER_ID_REQUIRED", newMemberId));
      return null;
    }
    return this.addMemberAndRebalance(group, request, newMemberId, respond);
  }

  private joinExistingMember(
    group: ConsumerGroup,
    request: JoinRequest,
    respond: (result: JoinResult) => void,
  ): GroupMember | null {
    const { memberId } = request;
    const pendingExpiry = group.pendingMembers.get(memberId);
    if (pendingExpiry) {
      pendingExpiry();
      group.pendingMembers.delete(memberId);
      return this.addMemberAndRebalance(group, request, memberId, respond);
    }
    const invalid = this.validateMember(group, memberId, request.groupInstanceId);
    if (invalid) {
      respond(joinError(invalid, memberId));
      return null;
    }
    const member = group.members.get(memberId)!;
    switch (group.state) {
      case "PreparingRebalance":
        return this.updateMemberAndRebalance(group, member, request, respond);
      case "CompletingRebalance":
        if (member.matches(request.protocols)) {
          // A retry of a JoinGroup whose answer was lost: answer with the current generation.
          respond(this.joinResultFor(group, member, group.isLeader(memberId), false));
          return null;
        }
        return this.updateMemberAndRebalance(group, member, request, respond);
      case "Stable":
        // The leader rejoining forces a rebalance (it saw a metadata change); so does a
        // follower whose subscription changed. Otherwise the current generation stands.
        if (group.isLeader(memberId) || !member.matches(request.protocols)) {
          return this.updateMemberAndRebalance(group, member, request, respond);
        }
        respond(this.joinResultFor(group, member, false, false));
        return null;
      default:
        respond(joinError("WHARF_GROUP_UNKNOWN_MEMBER", memberId));
        return null;
    }
  }

  private rebalanceTimeoutOf(request: JoinRequest): number {
    const timeout =
      request.rebalanceTimeoutMs > 0 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs;
    return Math.min(timeout, groupRebalanceTimeoutMsMax);
  }

  private addMemberAndRebalance(
    group: ConsumerGroup,
    request: JoinRequest,
    memberId: string,
    respond: (result: JoinResult) => void,
  ): GroupMember {
    const member = new GroupMember(
      memberId,
      request.groupInstanceId,
      request.clientId,
      request.clientHost,
      request.sessionTimeoutMs,
      this.rebalanceTimeoutOf(request),
      request.protocolType,
      request.protocols,
    );
    if (group.is("PreparingRebalance") && group.previousState === "Empty")
      group.newMemberAdded = true;
    group.add(member);
    member.joinWaiter = respond;
    this.scheduleSession(group, member);
    this.logger.info(
      {
        group: group.groupId,
        member: memberId,
        instance: request.groupInstanceId,
        reason: request.reason,
      },
      "member joined",
    );
    this.maybePrepareRebalanceOrCompleteJoin(group, `member ${memberId} joined`);
    return member;
  }

  private updateMemberAndRebalance(
    group: ConsumerGroup,
    member: GroupMember,
    request: JoinRequest,
    respond: (result: JoinResult) => void,
  ): GroupMember {
    group.updateProtocols(member, request.protocols);
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.rebalanceTimeoutMs = this.rebalanceTimeoutOf(request);
    // A second parked JoinGroup from the same member replaces the first (a client retry).
    member.joinWaiter?.(joinError("WHARF_GROUP_REBALANCE_IN_PROGRESS", member.memberId));
    member.joinWaiter = respond;
    this.maybePrepareRebalanceOrCompleteJoin(group, `member ${member.memberId} rejoined`);
    return member;
  }

  /** A static member rejoined without its member id: it takes over its slot. */
  private rejoinStaticMember(
    group: ConsumerGroup,
    request: JoinRequest,
    oldMemberId: string,
    newMemberId: string,
    respond: (result: JoinResult) => void,
  ): GroupMember | null {
    const instanceId = request.groupInstanceId!;
    const previousLeader = group.leaderId;
    const old = group.members.get(oldMemberId)!;
    old.joinWaiter?.(joinError("WHARF_GROUP_FENCED_INSTANCE_ID", oldMemberId));
    old.joinWaiter = null;
    old.syncWaiter?.(syncError("WHARF_GROUP_FENCED_INSTANCE_ID"));
    old.syncWaiter = null;
    const member = group.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    group.updateProtocols(member, request.protocols);
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.rebalanceTimeoutMs = this.rebalanceTimeoutOf(request);
    this.scheduleSession(group, member);
    this.logger.info(
      {
        group: group.groupId,
        instance: instanceId,
        from: oldMemberId,
        to: newMemberId,
        state: group.state,
      },
      "static member rejoined",
    );
    switch (group.state) {
      case "Stable":
        if (group.selectProtocol() === group.protocolName) {
          // Same protocol: no rebalance; the member syncs to get its current assignment.
          if (request.supportsSkipAssignment) {
            const isLeader = group.isLeader(newMemberId);
            respond(this.joinResultFor(group, member, isLeader, isLeader));
          } else {
            // Kafka names the previous leader id here, so that a rejoining static leader of
            // an older client does not compute an assignment.
            respond({
              ...this.joinResultFor(group, member, false, false),
              leaderId: previousLeader ?? "",
            });
          }
          return null;
        }
        member.joinWaiter = respond;
        this.prepareRebalance(group, `static member ${instanceId} rejoined with other protocols`);
        return member;
      case "CompletingRebalance":
        // The leader may have been sent the old id: rebalance so the assignment names the new.
        member.joinWaiter = respond;
        this.prepareRebalance(group, `static member ${instanceId} rejoined during sync`);
        return member;
      default:
        member.joinWaiter = respond;
        this.maybeCompleteJoin(group);
        return member;
    }
  }

  /** The connection of a parked JoinGroup closed. */
  private abandonJoin(
    groupId: string,
    member: GroupMember,
    respond: (result: JoinResult) => void,
  ): void {
    if (member.joinWaiter !== respond) return;
    member.joinWaiter = null;
    respond(joinError("WHARF_COORDINATOR_NOT_AVAILABLE", member.memberId));
    const group = this.groups.get(groupId);
    if (!group || group.members.get(member.memberId) !== member) return;
    if (member.isNew) {
      // It never completed a join and cannot heartbeat: do not let the rebalance wait for it.
      this.removeMemberAndUpdateGroup(group, member, "disconnected while joining");
    } else {
      this.maybeCompleteJoin(group);
    }
    this.maybeRemoveGroup(group);
  }

  private joinResultFor(
    group: ConsumerGroup,
    member: GroupMember,
    withMembers: boolean,
    skipAssignment: boolean,
  ): JoinResult {
    const protocolName = group.protocolName;
    return {
      error: null,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName,
      leaderId: group.leaderId ?? "",
      memberId: member.memberId,
      skipAssignment,
      members:
        withMembers && protocolName !== null
          ? [...group.members.values()].map((each) => ({
              memberId: each.memberId,
              groupInstanceId: each.groupInstanceId,
              metadata: each.metadataFor(protocolName),
            }))
          : [],
    };
  }

  // =========================================================================================
  // The rebalance: join phase, new generation, sync phase

  private maybePrepareRebalanceOrCompleteJoin(group: ConsumerGroup, reason: string): void {
    if (group.is("PreparingRebalance")) this.maybeCompleteJoin(group);
    else if (!group.is("Dead")) this.prepareRebalance(group, reason);
  }

  private prepareRebalance(group: ConsumerGroup, reason: string): void {
    if (group.is("CompletingRebalance")) this.resetAssignments(group);
    this.stopPendingSync(group);
    const initial = group.is("Empty");
    const rebalanceTimeoutMs = group.rebalanceTimeoutMs;
    group.transitionTo("PreparingRebalance", this.scheduler.now());
    this.logger.info(
      { group: group.groupId, generation: group.generationId, members: group.members.size, reason },
      "preparing to rebalance",
    );
    if (initial) {
      const delay = Math.min(this.initialDelayMs, rebalanceTimeoutMs);
      this.startJoinPhase(
        group,
        delay,
        true,
        Math.max(rebalanceTimeoutMs - this.initialDelayMs, 0),
      );
    } else {
      this.startJoinPhase(group, rebalanceTimeoutMs, false, 0);
      this.maybeCompleteJoin(group);
    }
  }

  private startJoinPhase(
    group: ConsumerGroup,
    delayMs: number,
    initial: boolean,
    remainingMs: number,
  ): void {
    group.joinPhase?.cancel();
    const phase = { initial, remainingMs, cancel: (() => {}) as Cancel };
    phase.cancel = this.scheduler.schedule(delayMs, () => {
      if (group.joinPhase !== phase) return;
      if (phase.initial && group.newMemberAdded && phase.remainingMs > 0) {
        // Members keep arriving: wait once more, within the rebalance timeout.
        group.newMemberAdded = false;
        const delay = Math.min(this.initialDelayMs, phase.remainingMs);
        this.startJoinPhase(group, delay, true, Math.max(phase.remainingMs - delay, 0));
        return;
      }
      this.completeJoin(group);
    });
    group.joinPhase = phase;
  }

  private maybeCompleteJoin(group: ConsumerGroup): void {
    if (!group.is("PreparingRebalance") || !group.joinPhase || group.joinPhase.initial) return;
    if (group.allMembersJoined) this.completeJoin(group);
  }

  /** Ends the join phase: a new generation with the members that rejoined. */
  private completeJoin(group: ConsumerGroup): void {
    group.joinPhase?.cancel();
    group.joinPhase = null;
    group.newMemberAdded = false;
    if (!group.is("PreparingRebalance")) return;
    for (const member of [...group.members.values()]) {
      if (!member.isAwaitingJoin)
        this.dropMember(group, member, "did not rejoin within the rebalance timeout");
    }
    group.generationId++;
    const now = this.scheduler.now();
    if (group.members.size === 0) {
      group.protocolName = null;
      group.leaderId = null;
      group.transitionTo("Empty", now);
      this.logger.info({ group: group.groupId, generation: group.generationId }, "group is empty");
      this.maybeRemoveGroup(group);
      return;
    }
    group.protocolName = group.selectProtocol();
    group.transitionTo("CompletingRebalance", now);
    this.logger.info(
      {
        group: group.groupId,
        generation: group.generationId,
        protocol: group.protocolName,
        leader: group.leaderId,
        members: group.members.size,
      },
      "generation formed",
    );
    for (const member of group.members.values()) {
      member.isNew = false;
      const respond = member.joinWaiter!;
      member.joinWaiter = null;
      respond(this.joinResultFor(group, member, group.isLeader(member.memberId), false));
      this.scheduleSession(group, member);
      group.pendingSync.add(member.memberId);
    }
    const generation = group.generationId;
    group.cancelPendingSync = this.scheduler.schedule(group.rebalanceTimeoutMs, () => {
      group.cancelPendingSync = null;
      this.expirePendingSync(group, generation);
    });
  }

  /** Members of the generation that never sent SyncGroup are removed (Kafka 3.1+, KIP-?). */
  private expirePendingSync(group: ConsumerGroup, generation: number): void {
    if (group.generationId !== generation || group.pendingSync.size === 0) return;
    if (!group.is("CompletingRebalance") && !group.is("Stable")) return;
    const late = [...group.pendingSync];
    group.pendingSync.clear();
    for (const memberId of late) {
      const member = group.members.get(memberId);
      if (member) this.dropMember(group, member, "did not sync within the rebalance timeout");
    }
    this.prepareRebalance(group, `members ${late.join(", ")} did not sync in time`);
  }

  private stopPendingSync(group: ConsumerGroup): void {
    group.cancelPendingSync?.();
    group.cancelPendingSync = null;
    group.pendingSync.clear();
  }

  /** Leaving CompletingRebalance for a new rebalance: parked SyncGroups must rejoin. */
  private resetAssignments(group: ConsumerGroup): void {
    for (const member of group.members.values()) {
      member.assignment = emptyAssignment;
      const respond = member.syncWaiter;
      member.syncWaiter = null;
      respond?.(syncError("WHARF_GROUP_REBALANCE_IN_PROGRESS"));
    }
  }

  // =========================================================================================
  // SyncGroup

  /** SyncGroup. Followers' requests are parked until the leader's assignment arrives. */
  sync(request: SyncRequest, signal?: AbortSignal): Promise<SyncResult> {
    return new Promise<SyncResult>((resolve) => {
      let settled = false;
      let onAbort: (() => void) | null = null;
      const respond = (result: SyncResult) => {
        if (settled) return;
        settled = true;
        if (onAbort) signal?.removeEventListener("abort", onAbort);
        resolve(result);
      };
      if (this.closed || signal?.aborted) {
        respond(syncError("WHARF_COORDINATOR_NOT_AVAILABLE"));
        return;
      }
      const parked = this.handleSync(request, respond);
      if (!parked || settled || !signal) return;
      onAbort = () => {
        if (parked.syncWaiter !== respond) return;
        parked.syncWaiter = null;
        respond(syncError("WHARF_COORDINATOR_NOT_AVAILABLE"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private handleSync(
    request: SyncRequest,
    respond: (result: SyncResult) => void,
  ): GroupMember | null {
    const group = this.groups.get(request.groupId);
    const error = this.validateGeneration(
      group,
      request.memberId,
      request.groupInstanceId,
      request.generationId,
    );
    if (error) {
      respond(syncError(error));
      return null;
    }
    if (
      (request.protocolType !== null && request.protocolType !== group!.protocolType) ||
      (request.protocolName !== null && request.protocolName !== group!.protocolName)
    ) {
      respond(syncError("WHARF_GROUP_INCONSISTENT_PROTOCOL"));
      return null;
    }
    const member = group!.members.get(request.memberId)!;
    switch (group!.state) {
      case "PreparingRebalance":
        respond(syncError("WHARF_GROUP_REBALANCE_IN_PROGRESS"));
        return null;
      case "CompletingRebalance": {
        member.syncWaiter?.(syncError("WHARF_GROUP_REBALANCE_IN_PROGRESS"));
        member.syncWaiter = respond;
        this.scheduleSession(group!, member);
        this.markSynced(group!, member.memberId);
        if (group!.isLeader(member.memberId)) this.applyAssignment(group!, request.assignments);
        return member.syncWaiter === respond ? member : null;
      }
      case "Stable":
        this.scheduleSession(group!, member);
        this.markSynced(group!, member.memberId);
        respond(this.syncResultFor(group!, member));
        return null;
      default:
        respond(syncError("WHARF_GROUP_UNKNOWN_MEMBER"));
        return null;
    }
  }

  private markSynced(group: ConsumerGroup, memberId: string): void {
    if (group.pendingSync.delete(memberId) && group.pendingSync.size === 0) {
      group.cancelPendingSync?.();
      group.cancelPendingSync = null;
    }
  }

  /** The leader's SyncGroup: store every member's assignment, answer the parked followers. */
  private applyAssignment(group: ConsumerGroup, assignments: SyncRequest["assignments"]): void {
    const byMember = new Map(assignments.map((entry) => [entry.memberId, entry.assignment]));
    for (const member of group.members.values()) {
      // Copied: the request's buffers are views of its frame.
      const assignment = byMember.get(member.memberId);
      member.assignment =
        assignment && assignment.length > 0 ? Buffer.from(assignment) : emptyAssignment;
    }
    group.transitionTo("Stable", this.scheduler.now());
    this.logger.info({ group: group.groupId, generation: group.generationId }, "group is stable");
    for (const member of group.members.values()) {
      const respond = member.syncWaiter;
      member.syncWaiter = null;
      respond?.(this.syncResultFor(group, member));
    }
  }

  private syncResultFor(group: ConsumerGroup, member: GroupMember): SyncResult {
    return {
      error: null,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      assignment: member.assignment,
    };
  }

  // =========================================================================================
  // Heartbeat, LeaveGroup, sessions

  heartbeat(request: HeartbeatRequest): ErrorCode | null {
    if (this.closed) return "WHARF_COORDINATOR_NOT_AVAILABLE";
    const group = this.groups.get(request.groupId);
    const error = this.validateGeneration(
      group,
      request.memberId,
      request.groupInstanceId,
      request.generationId,
    );
    if (error) return error;
    this.scheduleSession(group!, group!.members.get(request.memberId)!);
    return group!.is("PreparingRebalance") ? "WHARF_GROUP_REBALANCE_IN_PROGRESS" : null;
  }

  /** Kafka's `validateMember`: the instance id (if any) and the member id must match. */
  private validateMember(
    group: ConsumerGroup,
    memberId: string,
    groupInstanceId: string | null,
  ): ErrorCode | null {
    if (groupInstanceId !== null) {
      const holder = group.staticMembers.get(groupInstanceId);
      if (holder === undefined) return "WHARF_GROUP_UNKNOWN_MEMBER";
      if (holder !== memberId) return "WHARF_GROUP_FENCED_INSTANCE_ID";
    }
    return group.members.has(memberId) ? null : "WHARF_GROUP_UNKNOWN_MEMBER";
  }

  /** Checks shared by SyncGroup and Heartbeat; on null the group and member exist. */
  private validateGeneration(
    group: ConsumerGroup | undefined,
    memberId: string,
    groupInstanceId: string | null,
    generationId: number,
  ): ErrorCode | null {
    if (!group) return "WHARF_GROUP_UNKNOWN_MEMBER";
    if (group.is("Dead")) return "WHARF_COORDINATOR_NOT_AVAILABLE";
    const invalid = this.validateMember(group, memberId, groupInstanceId);
    if (invalid) return invalid;
    if (generationId !== group.generationId) return "WHARF_GROUP_ILLEGAL_GENERATION";
    if (group.is("Empty")) return "WHARF_GROUP_UNKNOWN_MEMBER";
    return null;
  }

  leave(groupId: string, leaving: LeavingMember[]): LeaveResult {
    if (this.closed) return { error: "WHARF_COORDINATOR_NOT_AVAILABLE", members: [] };
    const group = this.groups.get(groupId);
    if (group?.is("Dead")) return { error: "WHARF_COORDINATOR_NOT_AVAILABLE", members: [] };
    const members = leaving.map((identity) => ({
      memberId: identity.memberId,
      groupInstanceId: identity.groupInstanceId,
      error: group ? this.leaveOne(group, identity) : ("WHARF_GROUP_UNKNOWN_MEMBER" as ErrorCode),
    }));
    if (group) this.maybeRemoveGroup(group);
    return { error: null, members };
  }

  private leaveOne(group: ConsumerGroup, identity: LeavingMember): ErrorCode | null {
    let memberId = identity.memberId;
    if (memberId === "") {
      const holder =
        identity.groupInstanceId === null
          ? undefined
          : group.staticMembers.get(identity.groupInstanceId);
      if (holder === undefined) return "WHARF_GROUP_UNKNOWN_MEMBER";
      memberId = holder;
    } else {
      const pendingExpiry = group.pendingMembers.get(memberId);
      if (pendingExpiry) {
        pendingExpiry();
        group.pendingMembers.delete(memberId);
        this.maybeCompleteJoin(group);
        return null;
      }
      if (group.isFenced(memberId, identity.groupInstanceId))
        return "WHARF_GROUP_FENCED_INSTANCE_ID";
    }
    const member = group.members.get(memberId);
    if (!member) return "WHARF_GROUP_UNKNOWN_MEMBER";
    this.removeMemberAndUpdateGroup(
      group,
      member,
      `left the group (${identity.reason ?? "no reason given"})`,
    );
    return null;
  }

  /** (Re)starts the member's session timer; a member with a parked request stays alive. */
  private scheduleSession(group: ConsumerGroup, member: GroupMember): void {
    member.cancelSession?.();
    member.cancelSession = this.scheduler.schedule(member.sessionTimeoutMs, () => {
      member.cancelSession = null;
      if (group.members.get(member.memberId) !== member) return;
      if (member.joinWaiter || member.syncWaiter) {
        this.scheduleSession(group, member);
        return;
      }
      this.removeMemberAndUpdateGroup(group, member, "session timed out");
      this.maybeRemoveGroup(group);
    });
  }

  /** Removes the member's data and timers, answering its parked requests. */
  private dropMember(group: ConsumerGroup, member: GroupMember, reason: string): void {
    member.cancelSession?.();
    member.cancelSession = null;
    group.remove(member.memberId);
    const join = member.joinWaiter;
    const sync = member.syncWaiter;
    member.joinWaiter = null;
    member.syncWaiter = null;
    join?.(joinError("WHARF_GROUP_UNKNOWN_MEMBER", member.memberId));
    sync?.(syncError("WHARF_GROUP_UNKNOWN_MEMBER"));
    this.logger.info({ group: group.groupId, member: member.memberId, reason }, "member removed");
  }

  private removeMemberAndUpdateGroup(
    group: ConsumerGroup,
    member: GroupMember,
    reason: string,
  ): void {
    this.dropMember(group, member, reason);
    if (group.is("Stable") || group.is("CompletingRebalance")) {
      this.prepareRebalance(group, `member ${member.memberId} ${reason}`);
    } else if (group.is("PreparingRebalance")) {
      this.maybeCompleteJoin(group);
    }
  }

  /** An Empty group with no member and no offset is forgotten (Dead), bounding memory. */
  private maybeRemoveGroup(group: ConsumerGroup): void {
    if (!group.is("Empty") || group.hasMembers || this.offsets.hasGroup(group.groupId)) return;
    if (this.groups.get(group.groupId) !== group) return;
    group.transitionTo("Dead", this.scheduler.now());
    this.groups.delete(group.groupId);
  }

  // =========================================================================================
  // Offsets

  /** OffsetCommit: one error (or null) per requested offset, in order; resolves once durable. */
  async commitOffsets(request: OffsetCommitRequest): Promise<Array<ErrorCode | null>> {
    const all = (error: ErrorCode) => request.offsets.map(() => error);
    if (this.closed) return all("WHARF_COORDINATOR_NOT_AVAILABLE");
    let group = this.groups.get(request.groupId);
    if (!group) {
      if (request.generationId >= 0) return all("WHARF_GROUP_ILLEGAL_GENERATION");
      if (this.groups.size >= this.groupsMax) return all("WHARF_GROUPS_LIMIT_REACHED");
      group = new ConsumerGroup(request.groupId, this.scheduler.now());
      this.groups.set(request.groupId, group);
    }
    const invalid = this.validateCommit(group, request);
    if (invalid) {
      this.maybeRemoveGroup(group);
      return all(invalid);
    }
    const now = this.scheduler.now();
    const results: Array<ErrorCode | null> = [];
    const accepted: Array<{ topic: string; partition: number; value: OffsetValue }> = [];
    for (const entry of request.offsets) {
      const metadata = entry.metadata ?? "";
      let error: ErrorCode | null = null;
      if (!this.partitionExists(entry.topic, entry.partition)) error = "WHARF_TOPIC_NOT_FOUND";
      else if (Buffer.byteLength(metadata) > offsetMetadataBytesMax)
        error = "WHARF_OFFSET_METADATA_TOO_LARGE";
      else {
        accepted.push({
          topic: entry.topic,
          partition: entry.partition,
          value: {
            offset: entry.offset,
            leaderEpoch: entry.leaderEpoch,
            metadata,
            commitTimestamp: now,
          },
        });
      }
      results.push(error);
    }
    if (accepted.length > 0) {
      try {
        await this.offsets.commit(request.groupId, accepted);
      } catch (error) {
        this.logger.error({ err: error, group: request.groupId }, "offset commit failed");
        for (let i = 0; i < results.length; i++) results[i] ??= "WHARF_COORDINATOR_NOT_AVAILABLE";
      }
    }
    const current = this.groups.get(request.groupId);
    if (current) this.maybeRemoveGroup(current);
    return results;
  }

  /** Kafka's `validateOffsetCommit` for classic groups. */
  private validateCommit(group: ConsumerGroup, request: OffsetCommitRequest): ErrorCode | null {
    if (group.is("Dead")) return "WHARF_COORDINATOR_NOT_AVAILABLE";
    if (request.generationId < 0 && group.is("Empty")) return null; // a simple commit
    if (request.generationId >= 0 || request.memberId !== "" || request.groupInstanceId !== null) {
      const invalid = this.validateMember(group, request.memberId, request.groupInstanceId);
      if (invalid) return invalid;
      if (request.generationId !== group.generationId) return "WHARF_GROUP_ILLEGAL_GENERATION";
    } else if (!group.is("Empty")) {
      return "WHARF_GROUP_UNKNOWN_MEMBER";
    }
    // The member has the new generation from its JoinGroup but the assignment is not out yet.
    if (group.is("CompletingRebalance")) return "WHARF_GROUP_REBALANCE_IN_PROGRESS";
    return null;
  }

  private partitionExists(topic: string, partition: number): boolean {
    const count = this.options.partitions.partitionCount(topic);
    return (
      count !== undefined && Number.isInteger(partition) && partition >= 0 && partition < count
    );
  }

  /**
   * OffsetFetch for one group: the requested partitions (or, with `topics` null, every
   * committed one); -1 where nothing is committed.
   */
  fetchOffsets(
    groupId: string,
    topics: Array<{ topic: string; partitions: number[] }> | null,
  ): { error: ErrorCode | null; topics: Array<{ topic: string; partitions: FetchedOffset[] }> } {
    if (this.closed) return { error: "WHARF_COORDINATOR_NOT_AVAILABLE", topics: [] };
    const committed = this.offsets.groupOffsets(groupId);
    const entry = (topic: string, partition: number): FetchedOffset => {
      const value = committed?.get(topic)?.get(partition);
      return value
        ? {
            partition,
            offset: value.offset,
            leaderEpoch: value.leaderEpoch,
            metadata: value.metadata,
            error: null,
          }
        : { partition, offset: noCommittedOffset, leaderEpoch: -1, metadata: "", error: null };
    };
    if (topics === null) {
      return {
        error: null,
        topics: [...(committed ?? [])].map(([topic, partitions]) => ({
          topic,
          partitions: [...partitions.keys()].map((partition) => entry(topic, partition)),
        })),
      };
    }
    return {
      error: null,
      topics: topics.map(({ topic, partitions }) => ({
        topic,
        partitions: partitions.map((partition) => entry(topic, partition)),
      })),
    };
  }

  /** OffsetDelete: a top-level error, else one error (or null) per partition. */
  async deleteOffsets(
    groupId: string,
    topics: Array<{ topic: string; partitions: number[] }>,
  ): Promise<{
    error: ErrorCode | null;
    topics: Array<{
      topic: string;
      partitions: Array<{ partition: number; error: ErrorCode | null }>;
    }>;
  }> {
    const group = this.groups.get(groupId);
    if (this.closed) return { error: "WHARF_COORDINATOR_NOT_AVAILABLE", topics: [] };
    if (!group || group.is("Dead")) return { error: "WHARF_GROUP_NOT_FOUND", topics: [] };
    let subscribed: Set<string> | null = null;
    if (!group.is("Empty")) {
      if (group.protocolType !== "consumer") return { error: "WHARF_GROUP_NOT_EMPTY", topics: [] };
      // Unreadable subscriptions: assume every topic is subscribed (as Kafka does).
      subscribed = group.subscribedTopics() ?? new Set(topics.map(({ topic }) => topic));
    }
    const doomed: Array<{ topic: string; partition: number }> = [];
    const result = topics.map(({ topic, partitions }) => ({
      topic,
      partitions: partitions.map((partition) => {
        let error: ErrorCode | null = null;
        if (!this.partitionExists(topic, partition)) error = "WHARF_TOPIC_NOT_FOUND";
        else if (subscribed?.has(topic)) error = "WHARF_GROUP_SUBSCRIBED_TO_TOPIC";
        else if (this.offsets.get(groupId, topic, partition)) doomed.push({ topic, partition });
        return { partition, error };
      }),
    }));
    if (doomed.length > 0) {
      try {
        await this.offsets.remove(groupId, doomed);
      } catch (error) {
        this.logger.error({ err: error, group: groupId }, "offset delete failed");
        return { error: "WHARF_COORDINATOR_NOT_AVAILABLE", topics: [] };
      }
    }
    const current = this.groups.get(groupId);
    if (current) this.maybeRemoveGroup(current);
    return { error: null, topics: result };
  }

  /** DeleteGroups: only groups without members; their offsets are deleted durably. */
  async deleteGroups(
    groupIds: string[],
  ): Promise<Array<{ groupId: string; error: ErrorCode | null }>> {
    const results: Array<{ groupId: string; error: ErrorCode | null }> = [];
    for (const groupId of groupIds) {
      const group = this.groups.get(groupId);
      let error: ErrorCode | null = null;
      if (this.closed) error = "WHARF_COORDINATOR_NOT_AVAILABLE";
      else if (!group || group.is("Dead")) error = "WHARF_GROUP_NOT_FOUND";
      else if (!group.is("Empty") || group.hasMembers) error = "WHARF_GROUP_NOT_EMPTY";
      else {
        group.transitionTo("Dead", this.scheduler.now());
        this.groups.delete(groupId);
        try {
          await this.offsets.removeGroup(groupId);
          this.logger.info({ group: groupId }, "group deleted");
        } catch (failure) {
          this.logger.error(
            { err: failure, group: groupId },
            "deleting the group's offsets failed",
          );
          error = "WHARF_COORDINATOR_NOT_AVAILABLE";
          // Its offsets may still be there: keep it visible (Empty) so it can be deleted again.
          if (this.offsets.hasGroup(groupId) && !this.groups.has(groupId)) {
            this.groups.set(groupId, new ConsumerGroup(groupId, this.scheduler.now()));
          }
        }
      }
      results.push({ groupId, error });
    }
    return results;
  }

  /**
   * Deletes expired offsets: those of groups without members, committed (and empty) for
   * longer than the retention, and those of topics or partitions that no longer exist.
   */
  async expireOffsets(): Promise<number> {
    const now = this.scheduler.now();
    let expired = 0;
    for (const groupId of [...this.offsets.groupIds()]) {
      const group = this.groups.get(groupId);
      const committed = this.offsets.groupOffsets(groupId);
      if (!committed) continue;
      const empty = !group || group.is("Empty");
      const doomed: Array<{ topic: string; partition: number }> = [];
      for (const [topic, partitions] of committed) {
        for (const [partition, value] of partitions) {
          const since = Math.max(value.commitTimestamp, group?.stateSince ?? 0);
          const old = empty && since + this.retentionMs <= now;
          if (old || !this.partitionExists(topic, partition)) doomed.push({ topic, partition });
        }
      }
      if (doomed.length === 0) continue;
      try {
        await this.offsets.remove(groupId, doomed);
        expired += doomed.length;
      } catch (error) {
        this.logger.error({ err: error, group: groupId }, "expiring offsets failed");
        continue;
      }
      const current = this.groups.get(groupId);
      if (current) this.maybeRemoveGroup(current);
    }
    if (expired > 0) this.logger.info({ offsets: expired }, "expired committed offsets");
    return expired;
  }

  private scheduleRetention(): void {
    if (this.retentionCheckMs <= 0 || this.closed) return;
    this.cancelRetention = this.scheduler.schedule(this.retentionCheckMs, () => {
      void this.expireOffsets()
        .catch((error) => this.logger.error({ err: error }, "offset expiry failed"))
        .finally(() => this.scheduleRetention());
    });
  }

  // =========================================================================================
  // Queries (ListGroups, DescribeGroups, the CLI and management API)

  /** Groups, optionally filtered by state and type (case-insensitive, as Kafka). */
  listGroups(filter: { states?: string[]; types?: string[] } = {}): ListedGroup[] {
    const states = filter.states?.length
      ? new Set(filter.states.map((s) => s.toLowerCase()))
      : null;
    const types = filter.types?.length ? new Set(filter.types.map((t) => t.toLowerCase())) : null;
    const listed: ListedGroup[] = [];
    for (const group of this.groups.values()) {
      if (group.is("Dead")) continue;
      if (states && !states.has(group.state.toLowerCase())) continue;
      if (types && !types.has("classic")) continue;
      listed.push({
        groupId: group.groupId,
        protocolType: group.protocolType ?? "",
        state: group.state,
        type: "classic",
      });
    }
    return listed;
  }

  /** A group's state and members; undefined when there is no such group. */
  describeGroup(groupId: string): GroupDescription | undefined {
    const group = this.groups.get(groupId);
    if (!group || group.is("Dead")) return undefined;
    const protocolName = group.protocolName;
    return {
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? "",
      protocolName: protocolName ?? "",
      generationId: group.generationId,
      leaderId: group.leaderId,
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        sessionTimeoutMs: member.sessionTimeoutMs,
        rebalanceTimeoutMs: member.rebalanceTimeoutMs,
        metadata:
          protocolName !== null && member.protocols.some((p) => p.name === protocolName)
            ? member.metadataFor(protocolName)
            : emptyAssignment,
        assignment: member.assignment,
        assignedPartitions:
          group.protocolType === "consumer" ? assignedPartitions(member.assignment) : null,
      })),
    };
  }

  /**
   * Per-partition lag of a group: every partition with a committed offset or assigned to a
   * member, with committed offset, high watermark and their difference.
   */
  groupLag(groupId: string): PartitionLag[] | undefined {
    const description = this.describeGroup(groupId);
    const committed = this.offsets.groupOffsets(groupId);
    if (!description && !committed) return undefined;
    const owners = new Map<string, MemberDescription>();
    for (const member of description?.members ?? []) {
      for (const { topic, partitions } of member.assignedPartitions ?? []) {
        for (const partition of partitions) owners.set(JSON.stringify([topic, partition]), member);
      }
    }
    const keys = new Map<string, { topic: string; partition: number }>();
    for (const [topic, partitions] of committed ?? []) {
      for (const partition of partitions.keys())
        keys.set(JSON.stringify([topic, partition]), { topic, partition });
    }
    for (const key of owners.keys()) {
      if (!keys.has(key)) {
        const [topic, partition] = JSON.parse(key) as [string, number];
        keys.set(key, { topic, partition });
      }
    }
    const rows: PartitionLag[] = [];
    for (const [key, { topic, partition }] of keys) {
      const value = committed?.get(topic)?.get(partition);
      const offsets = this.options.partitions.partitionOffsets(topic, partition);
      const owner = owners.get(key);
      rows.push({
        topic,
        partition,
        committedOffset: value?.offset ?? noCommittedOffset,
        metadata: value?.metadata ?? "",
        commitTimestamp: value?.commitTimestamp ?? null,
        highWatermark: offsets?.highWatermark ?? -1,
        logEndOffset: offsets?.logEndOffset ?? -1,
        lag: value && offsets ? Math.max(0, offsets.highWatermark - value.offset) : null,
        memberId: owner?.memberId ?? null,
        clientId: owner?.clientId ?? null,
      });
    }
    rows.sort((a, b) =>
      a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
    );
    return rows;
  }

  // =========================================================================================

  /** Stops every timer and answers parked requests (clients retry after the restart). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelRetention?.();
    for (const group of this.groups.values()) {
      group.joinPhase?.cancel();
      group.joinPhase = null;
      group.cancelPendingSync?.();
      for (const cancel of group.pendingMembers.values()) cancel();
      for (const member of group.members.values()) {
        member.cancelSession?.();
        const join = member.joinWaiter;
        const sync = member.syncWaiter;
        member.joinWaiter = null;
        member.syncWaiter = null;
        join?.(joinError("WHARF_COORDINATOR_NOT_AVAILABLE", member.memberId));
        sync?.(syncError("WHARF_COORDINATOR_NOT_AVAILABLE"));
      }
    }
    await this.offsets.close();
  }
}
