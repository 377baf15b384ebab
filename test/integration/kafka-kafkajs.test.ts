/**
 * kafkajs 2.2.4 against a real broker process: produce/consume round trips (100k records with
 * keys and headers, uncompressed and gzip), the admin API, replay by offset and timestamp, the
 * idempotent producer, producing to a deleted topic, and data surviving a restart.
 *
 * Records are read back without a consumer group through kafkajs's own fetch path
 * (test/helpers/kafkajs-reader.ts); consumer groups are tested with the group coordinator.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { CompressionTypes, Kafka, logLevel, type Message } from "kafkajs";
import { BrokerProcess } from "../helpers/broker-process.ts";
import { KafkaWireClient } from "../helpers/kafka-wire-client.ts";
import { registerKafkajsCodecs } from "../helpers/kafkajs-codecs.ts";
import { type FetchedRecord, KafkajsReader } from "../helpers/kafkajs-reader.ts";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

registerKafkajsCodecs();

function client(broker: BrokerProcess, clientId = "wharf-test"): Kafka {
  return new Kafka({
    brokers: [`127.0.0.1:${broker.ports.kafka}`],
    clientId,
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 500 },
  });
}

async function readTopic(
  kafka: Kafka,
  topic: string,
  partitions: number,
): Promise<FetchedRecord[][]> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const reader = await KafkajsReader.connect(kafka);
  try {
    const out: FetchedRecord[][] = [];
    for (let partition = 0; partition < partitions; partition++) {
      const range = offsets.find((entry) => entry.partition === partition)!;
      out.push(await reader.readRange(topic, partition, Number(range.low), Number(range.high)));
    }
    return out;
  } finally {
    await reader.disconnect();
  }
}

/** Produces `count` records (key, value and headers derived from the index) in sends of 1000. */
async function produceNumbered(
  kafka: Kafka,
  topic: string,
  count: number,
  compression = CompressionTypes.None,
): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const perSend = 1000;
    for (let start = 0; start < count; start += perSend) {
      const messages: Message[] = [];
      for (let index = start; index < Math.min(count, start + perSend); index++) {
        messages.push({
          key: `key-${index}`,
          value: `value-${index}-${"x".repeat(index % 50)}`,
          headers: { index: String(index), kind: index % 2 === 0 ? "even" : "odd" },
        });
      }
      await producer.send({ topic, messages, acks: -1, compression });
    }
  } finally {
    await producer.disconnect();
  }
}

function checkNumbered(partitions: FetchedRecord[][], count: number): void {
  const seen = new Uint8Array(count);
  for (const records of partitions) {
    let previous = -1;
    let previousOffset = -1;
    for (const record of records) {
      const index = Number(record.headers.index!.toString());
      assert.ok(record.offset > previousOffset, "offsets increase within a partition");
      previousOffset = record.offset;
      assert.equal(record.key!.toString(), `key-${index}`);
      assert.equal(record.value!.toString(), `value-${index}-${"x".repeat(index % 50)}`);
      assert.equal(record.headers.kind!.toString(), index % 2 === 0 ? "even" : "odd");
      assert.ok(index > previous, "records of one partition keep their produce order");
      previous = index;
      assert.equal(seen[index], 0, `record ${index} read twice`);
      seen[index] = 1;
    }
  }
  const missing = seen.indexOf(0);
  assert.equal(missing, -1, `record ${missing} missing`);
}

describe("kafkajs against a broker without auto-creation", { timeout: 240_000 }, () => {
  let broker: BrokerProcess;
  let kafka: Kafka;

  before(async () => {
    broker = await BrokerProcess.start({ args: ["--auto-create-topics", "false"] });
    kafka = client(broker);
  });
  after(() => broker.stop());

  async function createTopic(topic: string, numPartitions: number): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions }] }), true);
    } finally {
      await admin.disconnect();
    }
  }

  test("100k records with keys and headers round-trip uncompressed", async () => {
    await createTopic("round-trip-plain", 3);
    await produceNumbered(kafka, "round-trip-plain", 100_000);
    checkNumbered(await readTopic(kafka, "round-trip-plain", 3), 100_000);
  });

  test("100k records round-trip with gzip (batches stored and served as produced)", async () => {
    await createTopic("round-trip-gzip", 2);
    await produceNumbered(kafka, "round-trip-gzip", 100_000, CompressionTypes.GZIP);
    checkNumbered(await readTopic(kafka, "round-trip-gzip", 2), 100_000);
  });

  test("snappy, lz4 and zstd batches round-trip", async () => {
    for (const [name, codec] of [
      ["snappy", CompressionTypes.Snappy],
      ["lz4", CompressionTypes.LZ4],
      ["zstd", CompressionTypes.ZSTD],
    ] as const) {
      await createTopic(`round-trip-${name}`, 1);
      await produceNumbered(kafka, `round-trip-${name}`, 20_000, codec);
      checkNumbered(await readTopic(kafka, `round-trip-${name}`, 1), 20_000);
    }
  });

  test("admin: create, describe and alter configs, partitions, offsets, delete records and topics", async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.equal(
        await admin.createTopics({
          topics: [
            {
              topic: "admin-a",
              numPartitions: 2,
              configEntries: [{ name: "retention.ms", value: "3600000" }],
            },
          ],
        }),
        true,
      );
      assert.equal(
        await admin.createTopics({ topics: [{ topic: "admin-a" }] }),
        false,
        "existing topic",
      );
      await assert.rejects(
        admin.createTopics({ topics: [{ topic: "admin-rf", replicationFactor: 3 }] }),
        (error: Error & { errors?: Array<{ type: string }> }) =>
          error.errors?.[0]?.type === "INVALID_REPLICATION_FACTOR",
      );
      await assert.rejects(
        admin.createTopics({
          topics: [{ topic: "admin-cfg", configEntries: [{ name: "no.such.config", value: "1" }] }],
        }),
        (error: Error & { errors?: Array<{ type: string }> }) =>
          error.errors?.[0]?.type === "INVALID_CONFIG",
      );
      assert.equal(
        await admin.createTopics({
          validateOnly: true,
          waitForLeaders: false,
          topics: [{ topic: "admin-validate" }],
        }),
        true,
      );
      assert.ok(
        !(await admin.listTopics()).includes("admin-validate"),
        "validateOnly creates nothing",
      );
      assert.ok((await admin.listTopics()).includes("admin-a"));

      const metadata = await admin.fetchTopicMetadata({ topics: ["admin-a"] });
      assert.equal(metadata.topics[0]!.partitions.length, 2);
      assert.deepEqual(metadata.topics[0]!.partitions[0]!.replicas, [0]);

      await admin.createPartitions({ topicPartitions: [{ topic: "admin-a", count: 4 }] });
      assert.equal(
        (await admin.fetchTopicMetadata({ topics: ["admin-a"] })).topics[0]!.partitions.length,
        4,
      );
      await assert.rejects(
        admin.createPartitions({ topicPartitions: [{ topic: "admin-a", count: 2 }] }),
      );

      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: "admin-a" }],
      });
      const retention = described.resources[0]!.configEntries.find(
        (entry) => entry.configName === "retention.ms",
      );
      assert.equal(retention?.configValue, "3600000");
      assert.equal(retention?.isDefault, false);
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: 2,
            name: "admin-a",
            configEntries: [{ name: "cleanup.policy", value: "compact" }],
          },
        ],
      });
      const altered = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: "admin-a" }],
      });
      const entries = altered.resources[0]!.configEntries;
      assert.equal(
        entries.find((entry) => entry.configName === "cleanup.policy")?.configValue,
        "compact",
      );
      assert.equal(
        entries.find((entry) => entry.configName === "retention.ms")?.isDefault,
        true,
        "AlterConfigs replaces the set",
      );

      const brokerConfigs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 4, name: "0" }],
      });
      const autoCreate = brokerConfigs.resources[0]!.configEntries.find(
        (entry) => entry.configName === "auto.create.topics.enable",
      );
      assert.equal(autoCreate?.configValue, "false");

      const cluster = await admin.describeCluster();
      assert.equal(cluster.brokers.length, 1);
      assert.equal(cluster.brokers[0]!.port, broker.ports.kafka);
      assert.match(cluster.clusterId, /^[A-Za-z0-9_-]{22}$/);

      const producer = kafka.producer();
      await producer.connect();
      for (let batch = 0; batch < 5; batch++) {
        await producer.send({
          topic: "admin-a",
          // admin-a is compacted now: Kafka refuses records without a key there.
          messages: Array.from({ length: 10 }, (_, i) => ({
            key: `k${batch}-${i}`,
            value: `v${batch}-${i}`,
            partition: 0,
          })),
        });
      }
      await producer.disconnect();
      const before = await admin.fetchTopicOffsets("admin-a");
      assert.deepEqual(
        before.find((entry) => entry.partition === 0),
        { partition: 0, offset: "50", high: "50", low: "0" },
      );
      await admin.deleteTopicRecords({
        topic: "admin-a",
        partitions: [{ partition: 0, offset: "20" }],
      });
      const after = await admin.fetchTopicOffsets("admin-a");
      assert.equal(after.find((entry) => entry.partition === 0)?.low, "20");
      const reader = await KafkajsReader.connect(kafka);
      try {
        const rest = await reader.readRange("admin-a", 0, 20, 50);
        assert.equal(rest.length, 30);
        assert.equal(rest[0]!.value!.toString(), "v2-0");
        await assert.rejects(
          reader.fetchOnce("admin-a", 0, 5),
          { name: "KafkaJSOffsetOutOfRange" },
          "below the log start offset",
        );
      } finally {
        await reader.disconnect();
      }

      await admin.deleteTopics({ topics: ["admin-a"] });
      assert.ok(!(await admin.listTopics()).includes("admin-a"));
    } finally {
      await admin.disconnect();
    }
  });

  test("replay from earliest and from a timestamp", async () => {
    await createTopic("replay", 1);
    const producer = kafka.producer();
    await producer.connect();
    const base = Date.now() - 60_000;
    for (let step = 0; step < 3; step++) {
      const timestamp = String(base + step * 10_000);
      await producer.send({
        topic: "replay",
        messages: Array.from({ length: 100 }, (_, i) => ({ value: `step${step}-${i}`, timestamp })),
      });
    }
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [earliest] = await admin.fetchTopicOffsetsByTimestamp("replay", 0);
      assert.equal(earliest!.offset, "0");
      const [middle] = await admin.fetchTopicOffsetsByTimestamp("replay", base + 5_000);
      assert.equal(middle!.offset, "100", "first record at or after the timestamp");
      const [late] = await admin.fetchTopicOffsetsByTimestamp("replay", base + 20_000);
      assert.equal(late!.offset, "200");
      const [future] = await admin.fetchTopicOffsetsByTimestamp("replay", Date.now() + 3_600_000);
      assert.equal(
        future!.offset,
        "300",
        "no record that late: kafkajs falls back to the latest offset",
      );
    } finally {
      await admin.disconnect();
    }
    const reader = await KafkajsReader.connect(kafka);
    try {
      const all = await reader.readRange("replay", 0, 0, 300);
      assert.deepEqual(all.map((record) => record.value!.toString()).slice(98, 102), [
        "step0-98",
        "step0-99",
        "step1-0",
        "step1-1",
      ]);
      const fromTimestamp = await reader.readRange("replay", 0, 100, 300);
      assert.equal(fromTimestamp[0]!.value!.toString(), "step1-0");
      assert.equal(fromTimestamp[0]!.timestamp, base + 10_000, "CreateTime kept as produced");
    } finally {
      await reader.disconnect();
    }
  });

  test("idempotent producer: InitProducerId, sequences, no duplicates", async () => {
    await createTopic("idempotent", 2);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let batch = 0; batch < 20; batch++) {
      await producer.send({
        topic: "idempotent",
        acks: -1,
        messages: Array.from({ length: 50 }, (_, i) => ({
          key: `k${i % 7}`,
          value: `b${batch}-${i}`,
        })),
      });
    }
    await producer.disconnect();
    const partitions = await readTopic(kafka, "idempotent", 2);
    const values = partitions.flat().map((record) => record.value!.toString());
    assert.equal(values.length, 1000);
    assert.equal(new Set(values).size, 1000);
  });

  test("producing to a deleted topic fails with UNKNOWN_TOPIC_OR_PARTITION when auto-creation is off", async () => {
    await createTopic("doomed", 1);
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      retry: { retries: 1, initialRetryTime: 50 },
    });
    await producer.connect();
    try {
      await producer.send({ topic: "doomed", messages: [{ value: "before" }] });
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: ["doomed"] });
      await admin.disconnect();
      await assert.rejects(
        producer.send({ topic: "doomed", messages: [{ value: "after" }] }),
        (error: Error) =>
          /UNKNOWN_TOPIC_OR_PARTITION|does not host this topic-partition|not host/i.test(
            `${error.name} ${error.message} ${JSON.stringify(error)}`,
          ),
      );
    } finally {
      await producer.disconnect();
    }
    // The broker still serves: a raw produce to the deleted topic answers the error per partition.
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      const metadata = await wire.request(3, 9, {
        topics: [{ name: "doomed" }],
        allowAutoTopicCreation: true,
        includeTopicAuthorizedOperations: false,
      });
      assert.equal(
        metadata.body.topics[0]!.errorCode,
        3,
        "no auto-creation even when the request allows it",
      );
    } finally {
      wire.close();
    }
  });
});

describe("kafkajs against a broker with auto-creation (the default)", { timeout: 120_000 }, () => {
  test("auto-creation, producing to a re-created topic, data and offsets survive a restart", async (t) => {
    const first = await BrokerProcess.start({ args: ["--default-partitions", "2"] });
    t.after(() => first.stop());
    first.keepDataDir();
    t.after(() => rmSync(first.dataDir, { recursive: true, force: true }));
    const kafka = client(first);
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    await producer.send({ topic: "auto-made", messages: [{ value: "one", partition: 1 }] });
    await producer.send({
      topic: "kept",
      messages: Array.from({ length: 500 }, (_, i) => ({ key: `k${i}`, value: `kept-${i}` })),
    });
    const admin = kafka.admin();
    await admin.connect();
    assert.equal(
      (await admin.fetchTopicMetadata({ topics: ["auto-made"] })).topics[0]!.partitions.length,
      2,
    );
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        { type: 2, name: "kept", configEntries: [{ name: "retention.ms", value: "86400000" }] },
      ],
    });
    // Deleted, then produced to again: auto-creation makes a new, empty topic.
    await admin.deleteTopics({ topics: ["auto-made"] });
    await producer.send({ topic: "auto-made", messages: [{ value: "two", partition: 0 }] });
    const recreated = await admin.fetchTopicOffsets("auto-made");
    assert.deepEqual(recreated.map((entry) => entry.high).sort(), ["0", "1"]);
    const offsetsBefore = await admin.fetchTopicOffsets("kept");
    const clusterBefore = (await admin.describeCluster()).clusterId;
    await admin.disconnect();
    await producer.disconnect();
    const recordsBefore = await readTopic(kafka, "kept", 2);
    assert.equal(recordsBefore.flat().length, 500);
    assert.equal((await first.stop()).code, 0);

    const second = await BrokerProcess.start({ dataDir: first.dataDir, ports: first.ports });
    t.after(() => second.stop());
    const again = client(second);
    const admin2 = again.admin();
    await admin2.connect();
    try {
      assert.deepEqual(await admin2.fetchTopicOffsets("kept"), offsetsBefore);
      assert.equal(
        (await admin2.describeCluster()).clusterId,
        clusterBefore,
        "cluster id is stable",
      );
      const configs = await admin2.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: "kept" }],
      });
      assert.equal(
        configs.resources[0]!.configEntries.find((entry) => entry.configName === "retention.ms")
          ?.configValue,
        "86400000",
      );
    } finally {
      await admin2.disconnect();
    }
    const recordsAfter = await readTopic(again, "kept", 2);
    assert.deepEqual(
      recordsAfter.map((records) =>
        records.map((record) => [record.offset, record.key!.toString(), record.value!.toString()]),
      ),
      recordsBefore.map((records) =>
        records.map((record) => [record.offset, record.key!.toString(), record.value!.toString()]),
      ),
    );
    assert.equal((await second.stop()).code, 0, "clean shutdown after the restart");
  });
});
