/**
 * Consumer groups through the real protocol against a broker process:
 * - kafkajs 2.2.4: a group of 3 that loses a member and gains one mid-stream, with every
 *   record processed exactly once in total (offsets committed after each record);
 * - committed offsets surviving a broker restart;
 * - committing (and heartbeating) with a stale generation → ILLEGAL_GENERATION, through raw
 *   requests encoded with our codec;
 * - the admin side: describe, list, fetch/delete offsets, delete groups.
 * kcat (librdkafka) consumer groups are in kafka-consumer-groups-kcat.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Consumer, Kafka, logLevel, type Message } from "kafkajs";
import { BrokerProcess } from "../helpers/broker-process.ts";
import { KafkaWireClient } from "../helpers/kafka-wire-client.ts";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

function client(broker: BrokerProcess, clientId = "groups-test"): Kafka {
  return new Kafka({
    brokers: [`127.0.0.1:${broker.ports.kafka}`],
    clientId,
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 50, maxRetryTime: 500 },
  });
}

/** Consumer settings that make rebalances quick without making sessions fragile. */
const consumerSettings = {
  sessionTimeout: 10_000,
  rebalanceTimeout: 10_000,
  heartbeatInterval: 300,
  maxWaitTimeInMs: 100,
};

async function produceKeyed(kafka: Kafka, topic: string, from: number, to: number): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let start = from; start < to; start += 500) {
      const messages: Message[] = [];
      for (let index = start; index < Math.min(to, start + 500); index++) {
        messages.push({ key: `key-${index}`, value: String(index) });
      }
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}

async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function createTopic(kafka: Kafka, topic: string, numPartitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

describe("kafkajs consumer groups", () => {
  let broker: BrokerProcess;

  before(async () => {
    broker = await BrokerProcess.start({
      args: ["--auto-create-topics", "false", "--group-initial-rebalance-delay-ms", "300"],
    });
  });
  after(() => broker.stop());

  test("a group of 3 that loses and gains a member processes every record exactly once", {
    timeout: 120_000,
  }, async () => {
    const kafka = client(broker);
    const topic = "cg-exactly-once";
    const groupId = "cg-three";
    const total = 3_000;
    await createTopic(kafka, topic, 6);
    // The last third is produced only once member-d holds partitions, so how fast the
    // others drain the topic cannot decide whether the late member gets any records.
    await produceKeyed(kafka, topic, 0, (2 * total) / 3);

    const processed = new Uint16Array(total);
    let count = 0;
    const byMember = new Map<string, number>();
    const consumers: Consumer[] = [];
    const assigned = new Map<string, number>();
    const start = async (name: string): Promise<Consumer> => {
      const consumer = client(broker, name).consumer({ groupId, ...consumerSettings });
      consumers.push(consumer);
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        const partitions = Object.values(payload.memberAssignment).flat().length;
        assigned.set(name, partitions);
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: true,
        autoCommitThreshold: 1, // commit after every record: none is processed twice
        eachMessage: async ({ message }) => {
          const index = Number(message.value!.toString());
          processed[index]!++;
          count++;
          byMember.set(name, (byMember.get(name) ?? 0) + 1);
          await new Promise((resolve) => setTimeout(resolve, 1)); // slow enough to rebalance mid-stream
        },
      });
      return consumer;
    };
    try {
      const first = await start("member-a");
      await start("member-b");
      await start("member-c");
      await until("a third of the records", () => count >= total / 3, 60_000);
      await first.disconnect(); // LeaveGroup: the other two take over its partitions
      consumers.splice(consumers.indexOf(first), 1);
      await until("two thirds of the records", () => count >= (2 * total) / 3, 60_000);
      await start("member-d"); // JoinGroup: a rebalance hands it a share
      await until("member-d's assignment", () => (assigned.get("member-d") ?? 0) > 0, 60_000);
      await produceKeyed(kafka, topic, (2 * total) / 3, total);
      await until("every record", () => count >= total, 60_000);
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // room for a duplicate to show
      const twice = [...processed.entries()]
        .filter(([, times]) => times > 1)
        .map(([index]) => index);
      const never = [...processed.entries()]
        .filter(([, times]) => times === 0)
        .map(([index]) => index);
      assert.deepEqual(twice, [], "records processed more than once");
      assert.deepEqual(never, [], "records never processed");
      assert.equal(count, total);
      assert.ok((byMember.get("member-d") ?? 0) > 0, "the member that joined late got partitions");
      assert.ok((byMember.get("member-a") ?? 0) > 0, "the member that left had partitions");
    } finally {
      for (const consumer of consumers) await consumer.disconnect();
    }
    const admin = kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      const committed = offsets[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
      assert.equal(committed, total, "committed offsets cover every record");
      const groups = await admin.describeGroups([groupId]);
      assert.equal(groups.groups[0]!.state, "Empty");
    } finally {
      await admin.disconnect();
    }
  });

  test("OffsetCommit and Heartbeat with a stale generation get ILLEGAL_GENERATION", {
    timeout: 30_000,
  }, async () => {
    await createTopic(client(broker), "cg-stale", 2);
    const first = await KafkaWireClient.connect(broker.ports.kafka);
    const second = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      const join = (wire: KafkaWireClient, memberId: string) =>
        wire.request(11, 5, {
          groupId: "cg-stale",
          sessionTimeoutMs: 10_000,
          rebalanceTimeoutMs: 5_000,
          memberId,
          groupInstanceId: null,
          protocolType: "consumer",
          protocols: [
            { name: "range", metadata: Buffer.from([0, 0, 0, 0, 0, 0, 255, 255, 255, 255]) },
          ],
        });
      const required = await join(first, "");
      assert.equal(required.body.errorCode, 79, "MEMBER_ID_REQUIRED");
      const generation1 = await join(first, required.body.memberId);
      assert.equal(generation1.body.errorCode, 0);
      const memberA = generation1.body.memberId;
      const sync = await first.request(14, 3, {
        groupId: "cg-stale",
        generationId: generation1.body.generationId,
        memberId: memberA,
        groupInstanceId: null,
        assignments: [{ memberId: memberA, assignment: Buffer.alloc(0) }],
      });
      assert.equal(sync.body.errorCode, 0);
      const commit = (generationId: number) =>
        first.request(8, 7, {
          groupId: "cg-stale",
          generationIdOrMemberEpoch: generationId,
          memberId: memberA,
          groupInstanceId: null,
          topics: [
            {
              name: "cg-stale",
              partitions: [
                {
                  partitionIndex: 0,
                  committedOffset: 5,
                  committedLeaderEpoch: -1,
                  committedMetadata: null,
                },
              ],
            },
          ],
        });
      assert.equal(
        (await commit(generation1.body.generationId)).body.topics[0]!.partitions[0]!.errorCode,
        0,
      );

      // A second member joins; the first rejoins: generation 2.
      const requiredB = await join(second, "");
      const joinB = join(second, requiredB.body.memberId);
      const heartbeat = await first.request(12, 3, {
        groupId: "cg-stale",
        generationId: generation1.body.generationId,
        memberId: memberA,
        groupInstanceId: null,
      });
      assert.equal(heartbeat.body.errorCode, 27, "REBALANCE_IN_PROGRESS");
      const [generation2] = await Promise.all([join(first, memberA), joinB]);
      assert.equal(generation2.body.generationId, generation1.body.generationId + 1);

      const stale = await commit(generation1.body.generationId);
      assert.equal(stale.body.topics[0]!.partitions[0]!.errorCode, 22, "ILLEGAL_GENERATION");
      const staleHeartbeat = await first.request(12, 3, {
        groupId: "cg-stale",
        generationId: generation1.body.generationId,
        memberId: memberA,
        groupInstanceId: null,
      });
      assert.equal(staleHeartbeat.body.errorCode, 22, "ILLEGAL_GENERATION");
      const unknown = await first.request(12, 3, {
        groupId: "cg-stale",
        generationId: generation2.body.generationId,
        memberId: "nobody",
        groupInstanceId: null,
      });
      assert.equal(unknown.body.errorCode, 25, "UNKNOWN_MEMBER_ID");
      const fetched = await first.request(9, 7, {
        groupId: "cg-stale",
        topics: [{ name: "cg-stale", partitionIndexes: [0, 1] }],
        requireStable: true,
      });
      assert.deepEqual(
        fetched.body.topics![0]!.partitions.map((p) => p.committedOffset),
        [5, -1],
      );
    } finally {
      first.close();
      second.close();
    }
  });

  test("admin: set and fetch offsets, list, describe and delete groups", {
    timeout: 30_000,
  }, async () => {
    const kafka = client(broker);
    await createTopic(kafka, "cg-admin", 2);
    await produceKeyed(kafka, "cg-admin", 0, 10);
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.setOffsets({
        groupId: "cg-admin-group",
        topic: "cg-admin",
        partitions: [{ partition: 0, offset: "3" }],
      });
      const fetched = await admin.fetchOffsets({ groupId: "cg-admin-group", topics: ["cg-admin"] });
      assert.deepEqual(fetched[0]!.partitions.map((p) => [p.partition, p.offset]).sort(), [
        [0, "3"],
        [1, "-1"],
      ]);
      const listed = await admin.listGroups();
      assert.ok(listed.groups.some((group) => group.groupId === "cg-admin-group"));
      const described = await admin.describeGroups(["cg-admin-group", "cg-no-such-group"]);
      assert.deepEqual(
        described.groups.map((group) => [group.groupId, group.state]),
        [
          ["cg-admin-group", "Empty"],
          ["cg-no-such-group", "Dead"],
        ],
      );
      const deleted = await admin.deleteGroups(["cg-admin-group"]);
      assert.equal(deleted[0]!.errorCode, 0);
      const afterDelete = await admin.fetchOffsets({
        groupId: "cg-admin-group",
        topics: ["cg-admin"],
      });
      assert.ok(afterDelete[0]!.partitions.every((p) => p.offset === "-1"));
      await assert.rejects(
        admin.deleteGroups(["cg-admin-group"]),
        (error: { groups?: Array<{ errorCode: number }> }) => {
          assert.equal(error.groups?.[0]?.errorCode, 69, "GROUP_ID_NOT_FOUND");
          return true;
        },
      );
    } finally {
      await admin.disconnect();
    }
  });

  test("FindCoordinator names this broker for groups and refuses transactional ids", {
    timeout: 20_000,
  }, async () => {
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      const v2 = await wire.request(10, 2, { key: "any-group", keyType: 0 });
      assert.deepEqual(
        [v2.body.errorCode, v2.body.host, v2.body.port],
        [0, "127.0.0.1", broker.ports.kafka],
      );
      const v4 = await wire.request(10, 4, { keyType: 0, coordinatorKeys: ["a", "b"] });
      assert.deepEqual(
        v4.body.coordinators!.map((c) => [c.key, c.errorCode, c.port]),
        [
          ["a", 0, broker.ports.kafka],
          ["b", 0, broker.ports.kafka],
        ],
      );
      const transaction = await wire.request(10, 4, { keyType: 1, coordinatorKeys: ["tx"] });
      assert.equal(transaction.body.coordinators![0]!.errorCode, 42, "INVALID_REQUEST");
    } finally {
      wire.close();
    }
  });
});

describe("committed offsets across a broker restart", () => {
  test("a group resumes from its committed offsets after the broker restarts", {
    timeout: 90_000,
  }, async (t) => {
    let broker = await BrokerProcess.start({ args: ["--group-initial-rebalance-delay-ms", "100"] });
    broker.keepDataDir();
    const { dataDir, ports } = broker;
    t.after(async () => {
      await broker.stop();
      const { rmSync } = await import("node:fs");
      rmSync(dataDir, { recursive: true, force: true });
    });
    const topic = "cg-restart";
    const groupId = "cg-restart-group";
    let kafka = client(broker);
    await createTopic(kafka, topic, 2);
    await produceKeyed(kafka, topic, 0, 200);

    const seen: number[] = [];
    const consumeUntil = async (target: number) => {
      const consumer = kafka.consumer({ groupId, ...consumerSettings });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommitThreshold: 1,
        eachMessage: async ({ message }) => {
          seen.push(Number(message.value!.toString()));
        },
      });
      try {
        await until(`${target} records`, () => seen.length >= target, 30_000);
      } finally {
        await consumer.disconnect();
      }
    };
    await consumeUntil(200);
    await produceKeyed(kafka, topic, 200, 300);

    const admin = kafka.admin();
    await admin.connect();
    const before = await admin.fetchOffsets({ groupId, topics: [topic] });
    await admin.disconnect();

    await broker.stop();
    broker = await BrokerProcess.start({
      dataDir,
      ports,
      args: ["--group-initial-rebalance-delay-ms", "100"],
    });
    kafka = client(broker);
    const adminAfter = kafka.admin();
    await adminAfter.connect();
    try {
      const after = await adminAfter.fetchOffsets({ groupId, topics: [topic] });
      assert.deepEqual(after, before, "committed offsets are the same after the restart");
      const listed = await adminAfter.listGroups();
      assert.ok(listed.groups.some((group) => group.groupId === groupId));
    } finally {
      await adminAfter.disconnect();
    }
    seen.length = 0;
    await consumeUntil(100);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => 200 + i),
      "only the records produced after the last commit are consumed again",
    );
  });
});
