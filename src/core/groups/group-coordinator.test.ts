/**
 * The classic group protocol state machine, driven by a manual clock: join / sync / heartbeat /
 * leave, session and rebalance timeouts, static membership, stale generations, offsets.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import type { GroupCoordinator, JoinRequest, JoinResult } from "./group-coordinator.ts";
import { assignment, joinRequest, type Kit, openKit, subscription } from "./group-test-kit.ts";

let kit: Kit;
let coordinator: GroupCoordinator;

beforeEach(async () => {
  kit = await openKit();
  coordinator = kit.coordinator;
});
afterEach(async () => {
  await kit.dispose();
});

/** First JoinGroup (v4+) without an id: MEMBER_ID_REQUIRED with the id to use. */
async function memberIdFor(overrides: Partial<JoinRequest> = {}): Promise<string> {
  const first = await coordinator.join(joinRequest(overrides));
  assert.equal(first.error, "WHARF_GROUP_MEMBER_ID_REQUIRED");
  assert.match(first.memberId, /^client-[0-9a-f-]{36}$/);
  return first.memberId;
}

function sync(
  result: JoinResult,
  assignments: Array<{ memberId: string; assignment: Buffer }> = [],
) {
  return coordinator.sync({
    groupId: "g",
    generationId: result.generationId,
    memberId: result.memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocolName: result.protocolName,
    assignments,
  });
}

/** Forms a Stable group of `count` dynamic members; member i gets partition i of orders. */
async function stableGroup(
  count: number,
): Promise<{ generation: number; members: JoinResult[]; leader: string }> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await memberIdFor());
  const joins = ids.map((memberId) => coordinator.join(joinRequest({ memberId })));
  kit.clock.advance(6_000); // joins in one tick extend the initial delay once
  const members = await Promise.all(joins);
  const leader = members.find((result) => result.members.length > 0)!;
  const plan = members.map((result, index) => ({
    memberId: result.memberId,
    assignment: assignment({ orders: [index] }),
  }));
  const syncs = members.map((result) => sync(result, result === leader ? plan : []));
  const synced = await Promise.all(syncs);
  for (const [index, result] of synced.entries()) {
    assert.equal(result.error, null);
    assert.deepEqual(result.assignment, plan[index]!.assignment);
  }
  return { generation: leader.generationId, members, leader: leader.memberId };
}

function heartbeat(
  result: Pick<JoinResult, "memberId" | "generationId">,
  groupInstanceId: string | null = null,
) {
  return coordinator.heartbeat({
    groupId: "g",
    generationId: result.generationId,
    memberId: result.memberId,
    groupInstanceId,
  });
}

function state(): string | undefined {
  return coordinator.describeGroup("g")?.state;
}

describe("join and sync", () => {
  test("a first JoinGroup without a member id gets MEMBER_ID_REQUIRED; the group forms after the initial delay", async () => {
    const memberId = await memberIdFor();
    assert.equal(state(), "Empty");
    let answered: JoinResult | undefined;
    void coordinator.join(joinRequest({ memberId })).then((result) => (answered = result));
    await Promise.resolve();
    assert.equal(state(), "PreparingRebalance");
    kit.clock.advance(2_999);
    await Promise.resolve();
    assert.equal(answered, undefined, "the initial delay holds the first rebalance");
    kit.clock.advance(1);
    await Promise.resolve();
    const result = answered as JoinResult | undefined; // (narrowed to undefined above)
    assert.equal(result?.error, null);
    assert.equal(result?.generationId, 1);
    assert.equal(result?.leaderId, memberId);
    assert.equal(result?.protocolName, "range");
    assert.equal(result?.members.length, 1);
    assert.equal(state(), "CompletingRebalance");
  });

  test("JoinGroup v0-v3 (no required member id) joins at once", async () => {
    const pending = coordinator.join(joinRequest({ requireKnownMemberId: false }));
    kit.clock.advance(3_000);
    const result = await pending;
    assert.equal(result.error, null);
    assert.equal(result.leaderId, result.memberId);
  });

  test("members arriving during the initial delay form one generation; followers wait for the leader's SyncGroup", async () => {
    const a = await memberIdFor();
    const b = await memberIdFor();
    const joinA = coordinator.join(joinRequest({ memberId: a }));
    kit.clock.advance(2_000);
    const joinB = coordinator.join(joinRequest({ memberId: b }));
    kit.clock.advance(1_000); // t=3 s: a member arrived during the delay, so it is extended
    assert.equal(state(), "PreparingRebalance");
    kit.clock.advance(3_000); // t=6 s: no newcomer during the extension
    const [resultA, resultB] = await Promise.all([joinA, joinB]);
    assert.equal(resultA.generationId, 1);
    assert.equal(resultB.generationId, 1);
    assert.equal(resultA.leaderId, a);
    assert.deepEqual(
      resultA.members.map((m) => m.memberId),
      [a, b],
    );
    assert.deepEqual(resultB.members, [], "followers get no member list");

    let followerAssignment: Buffer | undefined;
    void sync(resultB).then((result) => (followerAssignment = result.assignment));
    await Promise.resolve();
    assert.equal(followerAssignment, undefined, "the follower waits for the leader");
    const planned = assignment({ orders: [1, 2] });
    const leaderSync = await sync(resultA, [
      { memberId: a, assignment: assignment({ orders: [0] }) },
      { memberId: b, assignment: planned },
    ]);
    await Promise.resolve();
    assert.deepEqual(leaderSync.assignment, assignment({ orders: [0] }));
    assert.deepEqual(followerAssignment, planned);
    assert.equal(state(), "Stable");
  });

  test("the protocol is the one every member supports, by the members' preference", async () => {
    const a = await memberIdFor();
    const b = await memberIdFor();
    const c = await memberIdFor();
    const meta = subscription(["orders"]);
    const joins = [
      coordinator.join(
        joinRequest({
          memberId: a,
          protocols: [
            { name: "range", metadata: meta },
            { name: "roundrobin", metadata: meta },
          ],
        }),
      ),
      coordinator.join(
        joinRequest({
          memberId: b,
          protocols: [
            { name: "roundrobin", metadata: meta },
            { name: "range", metadata: meta },
          ],
        }),
      ),
      coordinator.join(
        joinRequest({
          memberId: c,
          protocols: [
            { name: "roundrobin", metadata: meta },
            { name: "range", metadata: meta },
          ],
        }),
      ),
    ];
    kit.clock.advance(6_000); // joins in one tick extend the initial delay once
    const results = await Promise.all(joins);
    for (const result of results) assert.equal(result.protocolName, "roundrobin");

    const d = await memberIdFor();
    const inconsistent = await coordinator.join(
      joinRequest({ memberId: d, protocols: [{ name: "cooperative-sticky", metadata: meta }] }),
    );
    assert.equal(inconsistent.error, "WHARF_GROUP_INCONSISTENT_PROTOCOL");
    const otherType = await coordinator.join(joinRequest({ protocolType: "connect" }));
    assert.equal(otherType.error, "WHARF_GROUP_INCONSISTENT_PROTOCOL");
  });

  test("bad session timeouts and empty group ids are refused", async () => {
    assert.equal(
      (await coordinator.join(joinRequest({ sessionTimeoutMs: 5_999 }))).error,
      "WHARF_GROUP_INVALID_SESSION_TIMEOUT",
    );
    assert.equal(
      (await coordinator.join(joinRequest({ sessionTimeoutMs: 1_800_001 }))).error,
      "WHARF_GROUP_INVALID_SESSION_TIMEOUT",
    );
    assert.equal(
      (await coordinator.join(joinRequest({ groupId: "" }))).error,
      "WHARF_GROUP_ID_INVALID",
    );
    assert.equal(
      (await coordinator.join(joinRequest({ memberId: "nobody" }))).error,
      "WHARF_GROUP_UNKNOWN_MEMBER",
    );
  });

  test("a stable follower rejoining with the same metadata gets the current generation without a rebalance", async () => {
    const { generation, members, leader } = await stableGroup(2);
    const follower = members.find((m) => m.memberId !== leader)!;
    const again = await coordinator.join(joinRequest({ memberId: follower.memberId }));
    assert.equal(again.generationId, generation);
    assert.equal(state(), "Stable");
  });
});

describe("rebalances", () => {
  test("a joining member triggers a rebalance that completes once every member has rejoined", async () => {
    const { generation, members } = await stableGroup(2);
    const c = await memberIdFor();
    const joinC = coordinator.join(joinRequest({ memberId: c }));
    await Promise.resolve();
    assert.equal(state(), "PreparingRebalance");
    for (const member of members)
      assert.equal(heartbeat(member), "WHARF_GROUP_REBALANCE_IN_PROGRESS");
    const rejoins = members.map((m) => coordinator.join(joinRequest({ memberId: m.memberId })));
    const results = await Promise.all([...rejoins, joinC]); // no clock advance needed
    for (const result of results) assert.equal(result.generationId, generation + 1);
    assert.equal(state(), "CompletingRebalance");
  });

  test("a member that does not rejoin within the rebalance timeout is removed", async () => {
    const { generation, members } = await stableGroup(2);
    const [stays, lags] = members as [JoinResult, JoinResult];
    const c = await memberIdFor();
    const joins = [
      coordinator.join(joinRequest({ memberId: c })),
      coordinator.join(joinRequest({ memberId: stays.memberId })),
    ];
    // `lags` keeps heartbeating (so its session does not expire) but never rejoins.
    for (let t = 0; t < 30_000; t += 5_000) {
      kit.clock.advance(5_000);
      heartbeat(lags);
    }
    const results = await Promise.all(joins);
    for (const result of results) assert.equal(result.generationId, generation + 1);
    assert.equal(heartbeat(lags), "WHARF_GROUP_UNKNOWN_MEMBER");
    assert.deepEqual(
      coordinator
        .describeGroup("g")!
        .members.map((m) => m.memberId)
        .sort(),
      [c, stays.memberId].sort(),
    );
  });

  test("LeaveGroup removes members (a batch, a static one by instance id) and rebalances the rest", async () => {
    const { generation, members } = await stableGroup(3);
    const [first, second, third] = members as [JoinResult, JoinResult, JoinResult];
    const left = coordinator.leave("g", [
      { memberId: first.memberId, groupInstanceId: null },
      { memberId: "unknown-member", groupInstanceId: null },
      { memberId: "", groupInstanceId: "no-such-instance" },
    ]);
    assert.equal(left.error, null);
    assert.deepEqual(
      left.members.map((m) => m.error),
      [null, "WHARF_GROUP_UNKNOWN_MEMBER", "WHARF_GROUP_UNKNOWN_MEMBER"],
    );
    assert.equal(state(), "PreparingRebalance");
    const results = await Promise.all(
      [second, third].map((m) => coordinator.join(joinRequest({ memberId: m.memberId }))),
    );
    for (const result of results) assert.equal(result.generationId, generation + 1);
    const leader = results.find((r) => r.members.length > 0);
    assert.ok(leader, "a remaining member leads");
  });

  test("the last member leaving empties the group; its committed offsets keep it listed", async () => {
    const { members, generation } = await stableGroup(1);
    const commit = await coordinator.commitOffsets({
      groupId: "g",
      generationId: generation,
      memberId: members[0]!.memberId,
      groupInstanceId: null,
      offsets: [{ topic: "orders", partition: 0, offset: 5, leaderEpoch: -1, metadata: null }],
    });
    assert.deepEqual(commit, [null]);
    coordinator.leave("g", [{ memberId: members[0]!.memberId, groupInstanceId: null }]);
    assert.equal(state(), "Empty");
    assert.deepEqual(
      coordinator.listGroups().map((g) => [g.groupId, g.state, g.protocolType]),
      [["g", "Empty", "consumer"]],
    );
  });

  test("a group without offsets is forgotten once empty", async () => {
    const { members } = await stableGroup(1);
    coordinator.leave("g", [{ memberId: members[0]!.memberId, groupInstanceId: null }]);
    assert.equal(coordinator.describeGroup("g"), undefined);
    assert.deepEqual(coordinator.listGroups(), []);
  });

  test("a member whose session expires is removed and the group rebalances", async () => {
    const { generation, members } = await stableGroup(2);
    const [alive, silent] = members as [JoinResult, JoinResult];
    kit.clock.advance(6_000);
    assert.equal(heartbeat(alive), null);
    kit.clock.advance(4_000); // silent: 10 s without a heartbeat
    assert.equal(heartbeat(silent), "WHARF_GROUP_UNKNOWN_MEMBER");
    assert.equal(heartbeat(alive), "WHARF_GROUP_REBALANCE_IN_PROGRESS");
    const rejoined = await coordinator.join(joinRequest({ memberId: alive.memberId }));
    assert.equal(rejoined.generationId, generation + 1);
    assert.deepEqual(
      rejoined.members.map((m) => m.memberId),
      [alive.memberId],
    );
  });

  test("a parked JoinGroup keeps its member alive past the session timeout", async () => {
    const a = await memberIdFor();
    const join = coordinator.join(
      joinRequest({ memberId: a, sessionTimeoutMs: 6_000, rebalanceTimeoutMs: 60_000 }),
    );
    kit.clock.advance(3_000);
    const result = await join;
    assert.equal(result.error, null);
    const b = await memberIdFor({ sessionTimeoutMs: 6_000 });
    const joinB = coordinator.join(joinRequest({ memberId: b, sessionTimeoutMs: 6_000 }));
    const rejoinA = coordinator.join(
      joinRequest({ memberId: a, sessionTimeoutMs: 6_000, rebalanceTimeoutMs: 60_000 }),
    );
    const [ra, rb] = await Promise.all([rejoinA, joinB]);
    assert.equal(ra.generationId, 2);
    assert.equal(rb.generationId, 2);
    // Both park in SyncGroup waiting for the leader; far beyond the session timeout they stay.
    const follower = ra.members.length > 0 ? rb : ra;
    const parkedSync = sync(follower);
    kit.clock.advance(20_000);
    const leaderResult = ra.members.length > 0 ? ra : rb;
    // The leader never synced and did not heartbeat: removed at its session timeout, which
    // answers the follower with REBALANCE_IN_PROGRESS.
    assert.equal((await parkedSync).error, "WHARF_GROUP_REBALANCE_IN_PROGRESS");
    assert.equal(heartbeat(leaderResult), "WHARF_GROUP_UNKNOWN_MEMBER");
  });

  test("a follower that never sends SyncGroup is removed after the rebalance timeout", async () => {
    const a = await memberIdFor();
    const b = await memberIdFor();
    const joins = [a, b].map((memberId) =>
      coordinator.join(joinRequest({ memberId, rebalanceTimeoutMs: 8_000 })),
    );
    kit.clock.advance(6_000); // joins in one tick extend the initial delay once
    const [ra, rb] = await Promise.all(joins);
    const leader = ra!.members.length > 0 ? ra! : rb!;
    const follower = leader === ra ? rb! : ra!;
    await sync(leader, [
      { memberId: leader.memberId, assignment: assignment({ orders: [0, 1, 2] }) },
    ]);
    assert.equal(state(), "Stable");
    kit.clock.advance(5_000);
    assert.equal(heartbeat(leader), null);
    assert.equal(heartbeat(follower), null, "heartbeats keep the session, not the sync");
    kit.clock.advance(3_000);
    assert.equal(heartbeat(follower), "WHARF_GROUP_UNKNOWN_MEMBER");
    assert.equal(heartbeat(leader), "WHARF_GROUP_REBALANCE_IN_PROGRESS");
  });

  test("a new member whose connection closes while its JoinGroup is parked is removed at once", async () => {
    const { members, generation } = await stableGroup(1);
    const c = await memberIdFor();
    const controller = new AbortController();
    const parked = coordinator.join(joinRequest({ memberId: c }), controller.signal);
    controller.abort();
    assert.equal((await parked).error, "WHARF_COORDINATOR_NOT_AVAILABLE");
    const rejoin = coordinator.join(joinRequest({ memberId: members[0]!.memberId }));
    const result = await rejoin; // completes: the only remaining member has rejoined
    assert.equal(result.generationId, generation + 1);
    assert.deepEqual(
      result.members.map((m) => m.memberId),
      [members[0]!.memberId],
    );
  });

  test("an aborted SyncGroup resolves at once", async () => {
    const a = await memberIdFor();
    const b = await memberIdFor();
    const joins = [a, b].map((memberId) => coordinator.join(joinRequest({ memberId })));
    kit.clock.advance(6_000); // joins in one tick extend the initial delay once
    const results = await Promise.all(joins);
    const follower = results.find((r) => r.members.length === 0)!;
    const controller = new AbortController();
    const parked = coordinator.sync(
      {
        groupId: "g",
        generationId: follower.generationId,
        memberId: follower.memberId,
        groupInstanceId: null,
        protocolType: null,
        protocolName: null,
        assignments: [],
      },
      controller.signal,
    );
    controller.abort();
    assert.equal((await parked).error, "WHARF_COORDINATOR_NOT_AVAILABLE");
  });
});

describe("generations and validation", () => {
  test("Heartbeat and SyncGroup answer ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID", async () => {
    const { generation, members } = await stableGroup(1);
    const member = members[0]!;
    assert.equal(heartbeat(member), null);
    assert.equal(
      heartbeat({ memberId: member.memberId, generationId: generation - 1 }),
      "WHARF_GROUP_ILLEGAL_GENERATION",
    );
    assert.equal(
      heartbeat({ memberId: "stranger", generationId: generation }),
      "WHARF_GROUP_UNKNOWN_MEMBER",
    );
    assert.equal(
      coordinator.heartbeat({
        groupId: "other",
        generationId: 1,
        memberId: member.memberId,
        groupInstanceId: null,
      }),
      "WHARF_GROUP_UNKNOWN_MEMBER",
    );
    const stale = await sync({ ...member, generationId: generation + 5 });
    assert.equal(stale.error, "WHARF_GROUP_ILLEGAL_GENERATION");
    const wrongProtocol = await coordinator.sync({
      groupId: "g",
      generationId: generation,
      memberId: member.memberId,
      groupInstanceId: null,
      protocolType: "consumer",
      protocolName: "roundrobin",
      assignments: [],
    });
    assert.equal(wrongProtocol.error, "WHARF_GROUP_INCONSISTENT_PROTOCOL");
  });

  test("OffsetCommit with a stale generation is ILLEGAL_GENERATION; the current one is accepted", async () => {
    const first = await stableGroup(1);
    const member = first.members[0]!;
    const commit = (generationId: number, offset: number) =>
      coordinator.commitOffsets({
        groupId: "g",
        generationId,
        memberId: member.memberId,
        groupInstanceId: null,
        offsets: [{ topic: "orders", partition: 1, offset, leaderEpoch: 3, metadata: "m" }],
      });
    assert.deepEqual(await commit(first.generation, 10), [null]);
    // A second member joins: commits of the current generation are still accepted while
    // the group prepares the rebalance (consumers commit before they rejoin).
    const b = await memberIdFor();
    const joinB = coordinator.join(joinRequest({ memberId: b }));
    assert.equal(state(), "PreparingRebalance");
    assert.deepEqual(await commit(first.generation, 11), [null]);
    const rejoin = coordinator.join(joinRequest({ memberId: member.memberId }));
    const [next] = await Promise.all([rejoin, joinB]);
    assert.equal(state(), "CompletingRebalance");
    assert.deepEqual(await commit(next!.generationId, 12), ["WHARF_GROUP_REBALANCE_IN_PROGRESS"]);
    assert.deepEqual(await commit(first.generation, 12), ["WHARF_GROUP_ILLEGAL_GENERATION"]);
    const fetched = coordinator.fetchOffsets("g", [{ topic: "orders", partitions: [1, 2] }]);
    assert.deepEqual(fetched.topics[0]!.partitions, [
      { partition: 1, offset: 11, leaderEpoch: 3, metadata: "m", error: null },
      { partition: 2, offset: -1, leaderEpoch: -1, metadata: "", error: null },
    ]);
  });

  test("simple commits (generation -1) need an empty group; unknown partitions are refused per partition", async () => {
    const simple = await coordinator.commitOffsets({
      groupId: "tool",
      generationId: -1,
      memberId: "",
      groupInstanceId: null,
      offsets: [
        { topic: "orders", partition: 0, offset: 7, leaderEpoch: -1, metadata: null },
        { topic: "orders", partition: 3, offset: 7, leaderEpoch: -1, metadata: null },
        { topic: "missing", partition: 0, offset: 7, leaderEpoch: -1, metadata: null },
        { topic: "audit", partition: 0, offset: 1, leaderEpoch: -1, metadata: "x".repeat(4097) },
      ],
    });
    assert.deepEqual(simple, [
      null,
      "WHARF_TOPIC_NOT_FOUND",
      "WHARF_TOPIC_NOT_FOUND",
      "WHARF_OFFSET_METADATA_TOO_LARGE",
    ]);
    assert.deepEqual(
      coordinator.listGroups().map((g) => g.groupId),
      ["tool"],
    );
    const unknownGroup = await coordinator.commitOffsets({
      groupId: "ghost",
      generationId: 4,
      memberId: "m",
      groupInstanceId: null,
      offsets: [{ topic: "orders", partition: 0, offset: 1, leaderEpoch: -1, metadata: null }],
    });
    assert.deepEqual(unknownGroup, ["WHARF_GROUP_ILLEGAL_GENERATION"]);
    await stableGroup(1);
    const simpleOnActive = await coordinator.commitOffsets({
      groupId: "g",
      generationId: -1,
      memberId: "",
      groupInstanceId: null,
      offsets: [{ topic: "orders", partition: 0, offset: 1, leaderEpoch: -1, metadata: null }],
    });
    assert.deepEqual(simpleOnActive, ["WHARF_GROUP_UNKNOWN_MEMBER"]);
  });
});

describe("static membership", () => {
  async function staticGroup() {
    const joins = ["i-1", "i-2"].map((instance) =>
      coordinator.join(joinRequest({ groupInstanceId: instance, clientId: instance })),
    );
    kit.clock.advance(6_000); // joins in one tick extend the initial delay once
    const results = await Promise.all(joins);
    const leader = results.find((r) => r.members.length > 0)!;
    const plan = results.map((r, i) => ({
      memberId: r.memberId,
      assignment: assignment({ orders: [i] }),
    }));
    await Promise.all(results.map((r) => sync(r, r === leader ? plan : [])));
    return { results, plan };
  }

  test("static members join without MEMBER_ID_REQUIRED and are described with their instance ids", async () => {
    const { results } = await staticGroup();
    assert.equal(state(), "Stable");
    assert.match(results[0]!.memberId, /^i-1-/);
    assert.deepEqual(
      coordinator.describeGroup("g")!.members.map((m) => m.groupInstanceId),
      ["i-1", "i-2"],
    );
  });

  test("a static member rejoining without its id keeps its slot and assignment, without a rebalance; the old id is fenced", async () => {
    const { results, plan } = await staticGroup();
    const old = results[1]!;
    const rejoined = await coordinator.join(
      joinRequest({ groupInstanceId: "i-2", clientId: "i-2" }),
    );
    assert.equal(rejoined.error, null);
    assert.notEqual(rejoined.memberId, old.memberId);
    assert.equal(rejoined.generationId, old.generationId, "no new generation");
    assert.equal(state(), "Stable");
    assert.equal(heartbeat(old, "i-2"), "WHARF_GROUP_FENCED_INSTANCE_ID");
    assert.equal(heartbeat(rejoined, "i-2"), null);
    const synced = await coordinator.sync({
      groupId: "g",
      generationId: rejoined.generationId,
      memberId: rejoined.memberId,
      groupInstanceId: "i-2",
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    assert.deepEqual(synced.assignment, plan[1]!.assignment);
    const commitByOld = await coordinator.commitOffsets({
      groupId: "g",
      generationId: old.generationId,
      memberId: old.memberId,
      groupInstanceId: "i-2",
      offsets: [{ topic: "orders", partition: 1, offset: 1, leaderEpoch: -1, metadata: null }],
    });
    assert.deepEqual(commitByOld, ["WHARF_GROUP_FENCED_INSTANCE_ID"]);
  });

  test("JoinGroup v9: a rejoining static leader gets the member list with skipAssignment", async () => {
    const { results } = await staticGroup();
    const leader = results.find((r) => r.members.length > 0)!;
    const instance = leader.memberId.startsWith("i-1") ? "i-1" : "i-2";
    const rejoined = await coordinator.join(
      joinRequest({ groupInstanceId: instance, clientId: instance, supportsSkipAssignment: true }),
    );
    assert.equal(rejoined.leaderId, rejoined.memberId);
    assert.equal(rejoined.skipAssignment, true);
    assert.equal(rejoined.members.length, 2);
  });

  test("a static member leaves by instance id; an expired static member is removed", async () => {
    const { results } = await staticGroup();
    const left = coordinator.leave("g", [{ memberId: "", groupInstanceId: "i-1" }]);
    assert.deepEqual(
      left.members.map((m) => m.error),
      [null],
    );
    assert.equal(state(), "PreparingRebalance");
    const rejoin = await coordinator.join(
      joinRequest({ memberId: results[1]!.memberId, groupInstanceId: "i-2", clientId: "i-2" }),
    );
    assert.equal(rejoin.members.length, 1);
    kit.clock.advance(10_000);
    assert.equal(
      coordinator.describeGroup("g"),
      undefined,
      "session expired, group emptied and forgotten",
    );
  });
});

describe("group administration", () => {
  test("DeleteGroups refuses groups with members and deletes empty ones with their offsets", async () => {
    const { generation, members } = await stableGroup(1);
    await coordinator.commitOffsets({
      groupId: "g",
      generationId: generation,
      memberId: members[0]!.memberId,
      groupInstanceId: null,
      offsets: [{ topic: "orders", partition: 0, offset: 3, leaderEpoch: -1, metadata: null }],
    });
    assert.deepEqual(await coordinator.deleteGroups(["g", "nope"]), [
      { groupId: "g", error: "WHARF_GROUP_NOT_EMPTY" },
      { groupId: "nope", error: "WHARF_GROUP_NOT_FOUND" },
    ]);
    coordinator.leave("g", [{ memberId: members[0]!.memberId, groupInstanceId: null }]);
    assert.deepEqual(await coordinator.deleteGroups(["g"]), [{ groupId: "g", error: null }]);
    assert.equal(
      coordinator.fetchOffsets("g", [{ topic: "orders", partitions: [0] }]).topics[0]!
        .partitions[0]!.offset,
      -1,
    );
    assert.equal(kit.offsets.hasGroup("g"), false);
  });

  test("OffsetDelete refuses subscribed topics of an active consumer group", async () => {
    const { generation, members } = await stableGroup(1); // subscribed to "orders"
    await coordinator.commitOffsets({
      groupId: "g",
      generationId: generation,
      memberId: members[0]!.memberId,
      groupInstanceId: null,
      offsets: [
        { topic: "orders", partition: 0, offset: 3, leaderEpoch: -1, metadata: null },
        { topic: "audit", partition: 0, offset: 4, leaderEpoch: -1, metadata: null },
      ],
    });
    const result = await coordinator.deleteOffsets("g", [
      { topic: "orders", partitions: [0] },
      { topic: "audit", partitions: [0] },
    ]);
    assert.equal(result.error, null);
    assert.deepEqual(
      result.topics.map((t) => [t.topic, t.partitions[0]!.error]),
      [
        ["orders", "WHARF_GROUP_SUBSCRIBED_TO_TOPIC"],
        ["audit", null],
      ],
    );
    assert.equal(kit.offsets.get("g", "audit", 0), undefined);
    assert.equal(kit.offsets.get("g", "orders", 0)?.offset, 3);
    assert.equal((await coordinator.deleteOffsets("none", [])).error, "WHARF_GROUP_NOT_FOUND");
  });

  test("ListGroups filters by state; describe and lag report members, assignments and lag", async () => {
    const { generation, members } = await stableGroup(2);
    await coordinator.commitOffsets({
      groupId: "g",
      generationId: generation,
      memberId: members[0]!.memberId,
      groupInstanceId: null,
      offsets: [{ topic: "orders", partition: 0, offset: 40, leaderEpoch: -1, metadata: null }],
    });
    assert.deepEqual(
      coordinator.listGroups({ states: ["stable"] }).map((g) => g.groupId),
      ["g"],
    );
    assert.deepEqual(coordinator.listGroups({ states: ["Empty"] }), []);
    assert.deepEqual(coordinator.listGroups({ types: ["consumer"] }), []);
    const description = coordinator.describeGroup("g")!;
    assert.equal(description.protocolName, "range");
    assert.deepEqual(description.members[1]!.assignedPartitions, [
      { topic: "orders", partitions: [1] },
    ]);
    const lag = coordinator.groupLag("g")!;
    assert.deepEqual(
      lag.map((row) => [row.topic, row.partition, row.committedOffset, row.lag, row.memberId]),
      [
        ["orders", 0, 40, 60, members[0]!.memberId],
        ["orders", 1, -1, null, members[1]!.memberId],
      ],
    );
  });

  test("offsets of empty groups expire after the retention; those of deleted topics go too", async () => {
    await coordinator.commitOffsets({
      groupId: "old",
      generationId: -1,
      memberId: "",
      groupInstanceId: null,
      offsets: [
        { topic: "orders", partition: 0, offset: 1, leaderEpoch: -1, metadata: null },
        { topic: "audit", partition: 0, offset: 1, leaderEpoch: -1, metadata: null },
      ],
    });
    kit.topics.delete("audit");
    assert.equal(await coordinator.expireOffsets(), 1);
    assert.equal(kit.offsets.get("old", "orders", 0)?.offset, 1);
    kit.clock.advance(7 * 24 * 3600 * 1000);
    assert.equal(await coordinator.expireOffsets(), 1);
    assert.deepEqual(coordinator.listGroups(), []);
  });
});
