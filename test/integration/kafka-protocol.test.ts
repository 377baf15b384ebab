/**
 * The Kafka listener at the byte level, against a real broker process: version negotiation,
 * bad input (truncated, oversized and garbage frames, unknown API keys, unsupported versions,
 * bad CRCs), request ordering, long polling, error codes a real client cannot provoke, and
 * SASL PLAIN. After every case that closes a connection, another connection must still be
 * served: bad input costs the sender its connection, never the broker.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import type { ProduceRequest } from "../../src/protocols/kafka/codec/generated/index.ts";
import { Compression, encodeBatch } from "../../src/storage/record-batch.ts";
import { BrokerProcess } from "../helpers/broker-process.ts";
import { fetchRequestBody, KafkaWireClient } from "../helpers/kafka-wire-client.ts";

const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  ApiVersions: 18,
  CreateTopics: 19,
} as const;

function produceBody(topic: string, partition: number, records: Buffer, acks = -1): ProduceRequest {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  };
}

function batchOf(values: string[], options: Parameters<typeof encodeBatch>[1] = {}): Buffer {
  return encodeBatch(
    values.map((value) => ({ value: Buffer.from(value) })),
    { baseTimestamp: Date.now(), ...options },
  );
}

function fetchBody(topic: string, partition: number, offset: number, maxWaitMs = 0, minBytes = 1) {
  return fetchRequestBody(topic, partition, offset, { maxWaitMs, minBytes });
}

describe("kafka protocol edge cases", { timeout: 120_000 }, () => {
  let broker: BrokerProcess;

  before(async () => {
    broker = await BrokerProcess.start();
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    const created = await wire.request(ApiKey.CreateTopics, 7, {
      topics: [
        { name: "edge", numPartitions: 2, replicationFactor: -1, assignments: [], configs: [] },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    assert.equal(created.body.topics[0]!.errorCode, 0);
    wire.close();
  });
  after(() => broker.stop());

  /** Another connection is served normally. */
  async function assertServed(): Promise<void> {
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      const response = await wire.request(ApiKey.ApiVersions, 3, {
        clientSoftwareName: "check",
        clientSoftwareVersion: "1",
      });
      assert.equal(response.body.errorCode, 0);
    } finally {
      wire.close();
    }
  }

  /** Waits for a broker log line (logs are written asynchronously). */
  async function assertLogged(pattern: RegExp): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!pattern.test(broker.stderr)) {
      assert.ok(Date.now() < deadline, `no log line matching ${pattern}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function assertClosedAfter(bytes: Buffer): Promise<void> {
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      wire.write(bytes);
      assert.equal(await wire.waitClosed(), true, "the broker closes the connection");
    } finally {
      wire.close();
    }
    await assertServed();
  }

  test("ApiVersions v0 and v3 advertise the served ranges", async () => {
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      for (const version of [0, 3]) {
        const { body } = await wire.request(ApiKey.ApiVersions, version, {
          clientSoftwareName: "t",
          clientSoftwareVersion: "1",
        });
        assert.equal(body.errorCode, 0);
        const range = (key: number) => body.apiKeys.find((entry) => entry.apiKey === key);
        assert.deepEqual(range(ApiKey.Produce), { apiKey: 0, minVersion: 3, maxVersion: 11 });
        assert.deepEqual(range(ApiKey.Fetch), { apiKey: 1, minVersion: 4, maxVersion: 17 });
        assert.deepEqual(range(ApiKey.ListOffsets), { apiKey: 2, minVersion: 0, maxVersion: 6 });
        assert.deepEqual(range(ApiKey.ApiVersions), { apiKey: 18, minVersion: 0, maxVersion: 4 });
      }
    } finally {
      wire.close();
    }
  });

  test("ApiVersions of an unknown version gets the v0 fallback (KIP-511)", async () => {
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      // Header v2 (a flexible ApiVersions v9 from the future), empty tagged fields, some body.
      const frame = Buffer.from([0, 0, 0, 14, 0, 18, 0, 9, 0, 0, 0, 77, 0, 1, 0x41, 0, 2, 0x42]);
      frame.writeInt32BE(frame.length - 4, 0);
      wire.write(frame);
      const response = await wire.nextFrame();
      assert.ok(response);
      assert.equal(response.readInt32BE(0), 77, "correlation id, response header v0");
      assert.equal(response.readInt16BE(4), 35, "UNSUPPORTED_VERSION");
      assert.equal(response.readInt32BE(6), 1, "one api key");
      assert.deepEqual(
        [response.readInt16BE(10), response.readInt16BE(12), response.readInt16BE(14)],
        [18, 0, 4],
      );
      const retry = await wire.request(ApiKey.ApiVersions, 4, {
        clientSoftwareName: "t",
        clientSoftwareVersion: "1",
      });
      assert.equal(retry.body.errorCode, 0, "the same connection serves the retry");
    } finally {
      wire.close();
    }
  });

  test("an unknown API key closes the connection", async () => {
    const frame = Buffer.alloc(4 + 10);
    frame.writeInt32BE(10, 0);
    frame.writeInt16BE(999, 4);
    frame.writeInt16BE(0, 6);
    frame.writeInt32BE(1, 8);
    frame.writeInt16BE(-1, 12);
    await assertClosedAfter(frame);
  });

  test("an unsupported version of another API closes the connection", async () => {
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    // Produce v2 predates record batches v2; the codec knows it, the broker does not serve it.
    wire.write(wire.encode(ApiKey.Produce, 2, produceBody("edge", 0, batchOf(["x"]))));
    assert.equal(await wire.waitClosed(), true);
    wire.close();
    await assertServed();
  });

  test("a frame larger than the limit closes the connection at once", async () => {
    const header = Buffer.alloc(4);
    header.writeInt32BE(200 * 1024 * 1024, 0);
    await assertClosedAfter(header);
    await assertLogged(/frame-size-too-large/);
  });

  test("a negative frame size closes the connection", async () => {
    await assertClosedAfter(Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]));
  });

  test("a frame whose body is truncated closes the connection with a logged snippet", async () => {
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    const full = wire.encode(ApiKey.Metadata, 9, {
      topics: [{ name: "edge" }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    wire.close();
    const cut = Buffer.from(full.subarray(0, full.length - 6));
    cut.writeInt32BE(cut.length - 4, 0);
    await assertClosedAfter(cut);
    await assertLogged(/"reason":"decode-error".*"snippet":"/);
  });

  test("a connection that sends half a frame and goes away costs nothing", async () => {
    const socket = connect({ port: broker.ports.kafka, host: "127.0.0.1" });
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.end(Buffer.from([0, 0, 1, 0, 0, 3, 0]));
    await new Promise((resolve) => socket.once("close", resolve));
    await assertServed();
  });

  test("garbage bytes close the connection", async () => {
    for (let round = 0; round < 5; round++) {
      const garbage = randomBytes(64 + round * 100);
      // Half of the rounds with a plausible size prefix, so the garbage reaches the decoder.
      if (round % 2 === 0) garbage.writeInt32BE(garbage.length - 4, 0);
      await assertClosedAfter(garbage);
    }
  });

  test("a batch with a bad CRC gets CORRUPT_MESSAGE and the connection stays usable", async () => {
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      const batch = batchOf(["good", "data"]);
      batch[batch.length - 1]! ^= 0xff;
      const corrupt = await wire.request(ApiKey.Produce, 9, produceBody("edge", 0, batch));
      assert.equal(corrupt.body.responses[0]!.partitionResponses[0]!.errorCode, 2);
      const twoBatches = Buffer.concat([batchOf(["a"]), batchOf(["b"])]);
      const multi = await wire.request(ApiKey.Produce, 9, produceBody("edge", 0, twoBatches));
      assert.equal(
        multi.body.responses[0]!.partitionResponses[0]!.errorCode,
        87,
        "one batch per partition (v3+)",
      );
      const good = await wire.request(ApiKey.Produce, 9, produceBody("edge", 0, batchOf(["fine"])));
      assert.equal(good.body.responses[0]!.partitionResponses[0]!.errorCode, 0);
      const badAcks = await wire.request(
        ApiKey.Produce,
        9,
        produceBody("edge", 0, batchOf(["x"]), 2),
      );
      assert.equal(
        badAcks.body.responses[0]!.partitionResponses[0]!.errorCode,
        21,
        "INVALID_REQUIRED_ACKS",
      );
      const unknown = await wire.request(ApiKey.Produce, 9, produceBody("edge", 7, batchOf(["x"])));
      assert.equal(
        unknown.body.responses[0]!.partitionResponses[0]!.errorCode,
        3,
        "UNKNOWN_TOPIC_OR_PARTITION",
      );
    } finally {
      wire.close();
    }
  });

  test("a compressed batch is stored and served byte for byte as produced", async () => {
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      const records = Array.from({ length: 200 }, (_, i) => `compressible ${i} ${"z".repeat(100)}`);
      const batch = batchOf(records, { compression: Compression.gzip });
      const produced = await wire.request(
        ApiKey.Produce,
        9,
        produceBody("edge", 0, Buffer.from(batch)),
      );
      const { baseOffset, errorCode } = produced.body.responses[0]!.partitionResponses[0]!;
      assert.equal(errorCode, 0);
      const fetched = await wire.request(ApiKey.Fetch, 11, fetchBody("edge", 0, baseOffset));
      const served = fetched.body.responses[0]!.partitions[0]!.records!;
      assert.equal(served.length, batch.length, "one batch, same size");
      assert.equal(served.readBigInt64BE(0), BigInt(baseOffset), "base offset assigned by the log");
      // Everything from the magic byte on (CRC, attributes, compressed records) is untouched.
      assert.ok(served.subarray(16).equals(batch.subarray(16)));
    } finally {
      wire.close();
    }
  });

  test("fetching beyond the log end is OFFSET_OUT_OF_RANGE (by name and by topic id)", async () => {
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      const byName = await wire.request(ApiKey.Fetch, 11, fetchBody("edge", 1, 1000));
      assert.equal(byName.body.responses[0]!.partitions[0]!.errorCode, 1);
      const metadata = await wire.request(ApiKey.Metadata, 12, {
        topics: [{ topicId: undefined, name: "edge" }],
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      });
      const topicId = metadata.body.topics[0]!.topicId!;
      const { topic: _unused, ...byIdTopic } = fetchBody("edge", 1, 1000).topics[0]!;
      const byId = await wire.request(ApiKey.Fetch, 13, {
        ...fetchBody("edge", 1, 1000),
        topics: [{ ...byIdTopic, topicId }],
      });
      assert.equal(byId.body.responses[0]!.topicId, topicId);
      assert.equal(byId.body.responses[0]!.partitions[0]!.errorCode, 1);
      const unknownId = await wire.request(ApiKey.Fetch, 13, {
        ...fetchBody("edge", 1, 0),
        topics: [{ ...byIdTopic, topicId: "0f0e0d0c-0b0a-4908-8706-050403020100" }],
      });
      assert.equal(unknownId.body.responses[0]!.partitions[0]!.errorCode, 100, "UNKNOWN_TOPIC_ID");
      const session = await wire.request(ApiKey.Fetch, 11, {
        ...fetchBody("edge", 1, 0),
        sessionId: 12345,
        sessionEpoch: 1,
      });
      assert.equal(session.body.errorCode, 70, "FETCH_SESSION_ID_NOT_FOUND: sessions are not kept");
    } finally {
      wire.close();
    }
  });

  test("responses come back in request order; a long poll wakes on produce", async () => {
    const consumer = await KafkaWireClient.connect(broker.ports.kafka);
    const producer = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      const offsets = await consumer.request(ApiKey.ListOffsets, 6, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            name: "edge",
            partitions: [{ partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -1 }],
          },
        ],
      });
      const end = offsets.body.topics[0]!.partitions[0]!.offset!;
      // A long poll, then a metadata request behind it on the same connection, in one write.
      const fetchFrame = consumer.encode(ApiKey.Fetch, 11, fetchBody("edge", 1, end, 10_000), 501);
      const metadataFrame = consumer.encode(
        ApiKey.Metadata,
        9,
        { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false },
        502,
      );
      const started = Date.now();
      consumer.write(Buffer.concat([fetchFrame, metadataFrame]));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const produced = await producer.request(
        ApiKey.Produce,
        9,
        produceBody("edge", 1, batchOf(["wake", "up"])),
      );
      assert.equal(produced.body.responses[0]!.partitionResponses[0]!.baseOffset, end);
      const first = await consumer.nextFrame();
      const second = await consumer.nextFrame();
      assert.equal(first!.readInt32BE(0), 501, "the fetch answers first, as it was asked first");
      assert.equal(second!.readInt32BE(0), 502);
      assert.ok(Date.now() - started < 5000, "the long poll woke on the produce, not at max_wait");
    } finally {
      consumer.close();
      producer.close();
    }
  });

  test("acks=0 gets no response; an idempotent retry gets the original offsets", async () => {
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      wire.write(
        wire.encode(ApiKey.Produce, 9, produceBody("edge", 0, batchOf(["fire", "forget"]), 0), 900),
      );
      const next = await wire.request(ApiKey.ApiVersions, 3, {
        clientSoftwareName: "t",
        clientSoftwareVersion: "1",
      });
      assert.notEqual(
        next.correlationId,
        900,
        "the first response belongs to the request after the acks=0 one",
      );
      const init = await wire.request(22, 4, {
        transactionalId: null,
        transactionTimeoutMs: 60_000,
        producerId: -1,
        producerEpoch: -1,
      });
      assert.equal(init.body.errorCode, 0);
      const producerId = init.body.producerId;
      const batch = batchOf(["once"], {
        producerId,
        producerEpoch: init.body.producerEpoch,
        baseSequence: 0,
      });
      const first = await wire.request(
        ApiKey.Produce,
        9,
        produceBody("edge", 1, Buffer.from(batch)),
      );
      const again = await wire.request(
        ApiKey.Produce,
        9,
        produceBody("edge", 1, Buffer.from(batch)),
      );
      const [a, b] = [
        first.body.responses[0]!.partitionResponses[0]!,
        again.body.responses[0]!.partitionResponses[0]!,
      ];
      assert.equal(a.errorCode, 0);
      assert.equal(b.errorCode, 0);
      assert.equal(b.baseOffset, a.baseOffset, "the duplicate is not appended again");
      const gap = batchOf(["gap"], {
        producerId,
        producerEpoch: init.body.producerEpoch,
        baseSequence: 5,
      });
      const outOfOrder = await wire.request(ApiKey.Produce, 9, produceBody("edge", 1, gap));
      assert.equal(
        outOfOrder.body.responses[0]!.partitionResponses[0]!.errorCode,
        45,
        "OUT_OF_ORDER_SEQUENCE_NUMBER",
      );
      // Regression: a client sending an existing id/epoch (as @platformatic/kafka sends 0/0)
      // must get a fresh id, never a bumped epoch of someone else's id.
      const claimed = [];
      for (let i = 0; i < 2; i++) {
        const response = await wire.request(22, 4, {
          transactionalId: null,
          transactionTimeoutMs: 60_000,
          producerId,
          producerEpoch: 0,
        });
        assert.equal(response.body.errorCode, 0);
        assert.equal(response.body.producerEpoch, 0);
        claimed.push(response.body.producerId);
      }
      assert.equal(new Set([producerId, ...claimed]).size, 3, "every InitProducerId gets a new id");
      const transactional = await wire.request(22, 4, {
        transactionalId: "tx-1",
        transactionTimeoutMs: 60_000,
        producerId: -1,
        producerEpoch: -1,
      });
      assert.equal(
        transactional.body.errorCode,
        42,
        "transactions are refused with INVALID_REQUEST",
      );
      const rf = await wire.request(ApiKey.CreateTopics, 7, {
        topics: [
          { name: "rf3", numPartitions: 1, replicationFactor: 3, assignments: [], configs: [] },
        ],
        timeoutMs: 1000,
        validateOnly: false,
      });
      assert.equal(rf.body.topics[0]!.errorCode, 38, "INVALID_REPLICATION_FACTOR");
    } finally {
      wire.close();
    }
  });

  test("SASL PLAIN: guest/guest from loopback; a wrong password is refused and closes", async () => {
    const wire = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      const scram = await wire.request(17, 1, { mechanism: "SCRAM-SHA-256" });
      assert.equal(scram.body.errorCode, 33, "UNSUPPORTED_SASL_MECHANISM");
      assert.deepEqual(scram.body.mechanisms, ["PLAIN"]);
      const handshake = await wire.request(17, 1, { mechanism: "PLAIN" });
      assert.equal(handshake.body.errorCode, 0);
      const ok = await wire.request(36, 2, { authBytes: Buffer.from("\u0000guest\u0000guest") });
      assert.equal(ok.body.errorCode, 0);
      const metadata = await wire.request(ApiKey.Metadata, 9, {
        topics: null,
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      });
      assert.ok(metadata.body.topics.some((topic) => topic.name === "edge"));
    } finally {
      wire.close();
    }
    const bad = await KafkaWireClient.connect(broker.ports.kafka);
    try {
      await bad.request(17, 1, { mechanism: "PLAIN" });
      const refused = await bad.request(36, 1, {
        authBytes: Buffer.from("\u0000guest\u0000wrong"),
      });
      assert.equal(refused.body.errorCode, 58, "SASL_AUTHENTICATION_FAILED");
      assert.equal(await bad.waitClosed(), true);
    } finally {
      bad.close();
    }
    await assertServed();
  });
});

test("--advertise HOST:PORT is what Metadata and DescribeCluster answer", {
  timeout: 30_000,
}, async (t) => {
  const broker = await BrokerProcess.start({ args: ["--advertise", "kafka.example:19092"] });
  t.after(() => broker.stop());
  const wire = await KafkaWireClient.connect(broker.ports.kafka);
  try {
    const metadata = await wire.request(ApiKey.Metadata, 12, {
      topics: null,
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    assert.deepEqual(metadata.body.brokers, [
      { nodeId: 0, host: "kafka.example", port: 19092, rack: null },
    ]);
    const cluster = await wire.request(60, 1, {
      includeClusterAuthorizedOperations: false,
      endpointType: 1,
    });
    assert.deepEqual(cluster.body.brokers, [
      { brokerId: 0, host: "kafka.example", port: 19092, rack: null },
    ]);
    assert.equal(cluster.body.clusterId, metadata.body.clusterId);
  } finally {
    wire.close();
  }
});
