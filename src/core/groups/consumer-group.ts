/**
 * One group of Kafka's classic group protocol: its members, generation, chosen protocol and
 * leader, and the state machine
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
 *     ▲                 ▲        │ (no member left)                   │ leader's SyncGroup
 *     └─────────────────┼────────┘                                    ▼
 *                       └──────────── join / leave / expiry ───────  Stable
 *   any state ──delete / removal of an empty group──▶ Dead
 *
 * This class holds the data and its invariants; the timers, the parked JoinGroup/SyncGroup
 * requests and the decisions live in `GroupCoordinator`.
 */
import assert from "node:assert/strict";
import type { ErrorCode } from "../../errors/index.ts";
import { consumerProtocolType, subscribedTopics } from "./consumer-protocol.ts";
import type { Cancel } from "./scheduler.ts";

export type GroupState = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable" | "Dead";

export const groupStates: readonly GroupState[] = [
  "Empty",
  "PreparingRebalance",
  "CompletingRebalance",
  "Stable",
  "Dead",
];

/** Kafka's `validPreviousStates` of each state. */
const validPrevious: Record<GroupState, readonly GroupState[]> = {
  Empty: ["PreparingRebalance"],
  PreparingRebalance: ["Empty", "CompletingRebalance", "Stable"],
  CompletingRebalance: ["PreparingRebalance"],
  Stable: ["CompletingRebalance"],
  Dead: ["Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"],
};

export interface MemberProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResult {
  error: ErrorCode | null;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string;
  memberId: string;
  /** JoinGroup v9: the (static) leader rejoined; it must not compute a new assignment. */
  skipAssignment: boolean;
  /** Filled for the leader only: every member's metadata for the chosen protocol. */
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResult {
  error: ErrorCode | null;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export const emptyAssignment: Buffer = Buffer.alloc(0);

export class GroupMember {
  assignment: Buffer = emptyAssignment;
  /** Set while a JoinGroup of this member is parked. */
  joinWaiter: ((result: JoinResult) => void) | null = null;
  /** Set while a SyncGroup of this member is parked. */
  syncWaiter: ((result: SyncResult) => void) | null = null;
  /** Added in the current rebalance (has not completed a join yet). */
  isNew = true;
  cancelSession: Cancel | null = null;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    readonly clientId: string,
    readonly clientHost: string,
    public sessionTimeoutMs: number,
    public rebalanceTimeoutMs: number,
    readonly protocolType: string,
    public protocols: MemberProtocol[],
  ) {}

  get isAwaitingJoin(): boolean {
    return this.joinWaiter !== null;
  }

  metadataFor(protocolName: string): Buffer {
    const protocol = this.protocols.find((candidate) => candidate.name === protocolName);
    assert.ok(protocol, `member ${this.memberId} does not support ${protocolName}`);
    return protocol.metadata;
  }

  /** Same protocols, in the same order, with the same metadata (Kafka's `matches`). */
  matches(protocols: MemberProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((protocol, index) => {
      const own = this.protocols[index]!;
      return own.name === protocol.name && own.metadata.equals(protocol.metadata);
    });
  }
}

/** The state of the join phase while the group is PreparingRebalance. */
export interface JoinPhase {
  cancel: Cancel;
  /** The initial delay of an empty group (cannot complete early; may be extended). */
  initial: boolean;
  /** Initial phase: how much of the rebalance timeout is left for further extensions. */
  remainingMs: number;
}

export class ConsumerGroup {
  state: GroupState = "Empty";
  previousState: GroupState = "Empty";
  /** When the group entered its current state (offset retention counts from Empty). */
  stateSince: number;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  /** Joined members, in join order (the first one becomes leader when the leader leaves). */
  readonly members = new Map<string, GroupMember>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, awaiting the member's second JoinGroup. */
  readonly pendingMembers = new Map<string, Cancel>();
  /** group.instance.id → member id of the static member holding it. */
  readonly staticMembers = new Map<string, string>();
  /** Members of the current generation that have not sent SyncGroup yet. */
  readonly pendingSync = new Set<string>();
  joinPhase: JoinPhase | null = null;
  cancelPendingSync: Cancel | null = null;
  /** A member joined during the initial delay: extend it (Kafka's `newMemberAdded`). */
  newMemberAdded = false;
  /** How many members support each protocol name. */
  private readonly protocolSupport = new Map<string, number>();

  constructor(
    readonly groupId: string,
    now: number,
  ) {
    this.stateSince = now;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  transitionTo(state: GroupState, now: number): void {
    assert.ok(
      validPrevious[state].includes(this.state),
      `group ${this.groupId}: ${this.state} -> ${state} is not a valid transition`,
    );
    this.previousState = this.state;
    this.state = state;
    this.stateSince = now;
  }

  get hasMembers(): boolean {
    return this.members.size > 0 || this.pendingMembers.size > 0;
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  add(member: GroupMember): void {
    assert.ok(!this.members.has(member.memberId), `member ${member.memberId} added twice`);
    if (this.members.size === 0) this.protocolType = member.protocolType;
    assert.equal(member.protocolType, this.protocolType, "protocol type checked before add");
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null)
      this.staticMembers.set(member.groupInstanceId, member.memberId);
    this.countProtocols(member.protocols, 1);
    this.leaderId ??= member.memberId;
  }

  /** Removes the member's data; when it led the group, the first remaining member leads. */
  remove(memberId: string): GroupMember | undefined {
    const member = this.members.get(memberId);
    if (!member) return undefined;
    this.members.delete(memberId);
    this.pendingSync.delete(memberId);
    this.countProtocols(member.protocols, -1);
    if (
      member.groupInstanceId !== null &&
      this.staticMembers.get(member.groupInstanceId) === memberId
    ) {
      this.staticMembers.delete(member.groupInstanceId);
    }
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    return member;
  }

  updateProtocols(member: GroupMember, protocols: MemberProtocol[]): void {
    this.countProtocols(member.protocols, -1);
    member.protocols = protocols;
    this.countProtocols(protocols, 1);
  }

  /** A static member rejoining without its member id takes its slot under a new id. */
  replaceStaticMember(instanceId: string, oldMemberId: string, newMemberId: string): GroupMember {
    const member = this.members.get(oldMemberId);
    assert.ok(member && member.groupInstanceId === instanceId, "static member to replace exists");
    this.members.delete(oldMemberId);
    member.memberId = newMemberId;
    this.members.set(newMemberId, member);
    this.staticMembers.set(instanceId, newMemberId);
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
    if (this.pendingSync.delete(oldMemberId)) this.pendingSync.add(newMemberId);
    return member;
  }

  private countProtocols(protocols: MemberProtocol[], delta: 1 | -1): void {
    for (const name of new Set(protocols.map((protocol) => protocol.name))) {
      const count = (this.protocolSupport.get(name) ?? 0) + delta;
      if (count === 0) this.protocolSupport.delete(name);
      else this.protocolSupport.set(name, count);
    }
  }

  /**
   * Whether a member with these protocols may join: the first member needs a protocol type
   * and at least one protocol; later ones the group's type and a protocol every member has.
   */
  supportsProtocols(protocolType: string, names: string[]): boolean {
    if (this.members.size === 0) return protocolType.length > 0 && names.length > 0;
    if (protocolType !== this.protocolType) return false;
    return names.some((name) => this.protocolSupport.get(name) === this.members.size);
  }

  /**
   * The protocol for the next generation: among those every member supports, the one most
   * members list first among them (Kafka's vote); ties go to the earliest in the leader's
   * (else the first member's) order of preference.
   */
  selectProtocol(): string {
    assert.ok(this.members.size > 0, "selecting a protocol needs members");
    const size = this.members.size;
    const candidates = new Set(
      [...this.protocolSupport].filter(([, count]) => count === size).map(([name]) => name),
    );
    assert.ok(candidates.size > 0, "members share a protocol (checked on join)");
    const votes = new Map<string, number>();
    for (const member of this.members.values()) {
      const choice = member.protocols.find((protocol) => candidates.has(protocol.name))!.name;
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    const reference =
      (this.leaderId && this.members.get(this.leaderId)) || this.members.values().next().value!;
    let best: string | null = null;
    for (const { name } of reference.protocols) {
      if (!votes.has(name)) continue;
      if (best === null || votes.get(name)! > votes.get(best)!) best = name;
    }
    return best!;
  }

  get awaitingJoinCount(): number {
    let count = 0;
    for (const member of this.members.values()) if (member.isAwaitingJoin) count++;
    return count;
  }

  /** Every member has rejoined and no member id handed out is still unused. */
  get allMembersJoined(): boolean {
    return this.awaitingJoinCount === this.members.size && this.pendingMembers.size === 0;
  }

  /** The rebalance timeout of the group: the largest any member asked for. */
  get rebalanceTimeoutMs(): number {
    let timeout = 0;
    for (const member of this.members.values())
      timeout = Math.max(timeout, member.rebalanceTimeoutMs);
    return timeout;
  }

  /** Fenced: another member holds this group.instance.id (Kafka's `isStaticMemberFenced`). */
  isFenced(memberId: string, groupInstanceId: string | null): boolean {
    if (groupInstanceId === null) return false;
    const holder = this.staticMembers.get(groupInstanceId);
    return holder !== undefined && holder !== memberId;
  }

  /**
   * Topics the members subscribe to, read from their "consumer" protocol metadata; null when
   * unknown (another protocol type, or unreadable metadata): callers then assume all topics.
   */
  subscribedTopics(): Set<string> | null {
    if (this.protocolType !== consumerProtocolType || this.protocolName === null) return null;
    const topics = new Set<string>();
    for (const member of this.members.values()) {
      const protocol = member.protocols.find((candidate) => candidate.name === this.protocolName);
      const subscribed = protocol ? subscribedTopics(protocol.metadata) : null;
      if (subscribed === null) return null;
      for (const topic of subscribed) topics.add(topic);
    }
    return topics;
  }
}
