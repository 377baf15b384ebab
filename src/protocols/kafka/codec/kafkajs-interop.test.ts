/**
 * Interop with a real client's codec: requests encoded by kafkajs's own protocol modules must
 * decode with ours to the values kafkajs was given, and responses we encode must decode with
 * kafkajs's response decoders to the values we encoded. kafkajs is CommonJS; its modules are
 * loaded directly with createRequire (they are not part of its public API, so a kafkajs
 * upgrade may move them: the test then fails loudly at require time).
 */

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { frameNeedMore, KafkaFrameSplitter } from "./frame.ts";
import {
  type FetchResponse,
  KafkaApiKey,
  type KafkaResponseBodies,
  type KafkaSupportedApiKey,
  type ProduceRequest,
} from "./generated/index.ts";
import {
  decodeRequestFrame,
  encodeApiVersionsFallbackResponse,
  encodeResponseFrame,
  supportedApiVersions,
} from "./message.ts";
import { zeroUuid } from "./reader.ts";
import { KafkaWriter } from "./writer.ts";

const require = createRequire(import.meta.url);
const kafkajsRequest = require("kafkajs/src/protocol/request.js") as (options: {
  correlationId: number;
  clientId: string;
  request: unknown;
}) => Promise<{ buffer: Buffer }>;

type KafkajsRequestFactory = (args: Record<string, unknown>) => unknown;
interface KafkajsResponse {
  decode(payload: Buffer): Promise<Record<string, unknown>>;
}

function kafkajsRequestModule(path: string): KafkajsRequestFactory {
  return require(`kafkajs/src/protocol/requests/${path}/request.js`) as KafkajsRequestFactory;
}

function kafkajsResponseModule(path: string): KafkajsResponse {
  return require(`kafkajs/src/protocol/requests/${path}/response.js`) as KafkajsResponse;
}

const correlationId = 42;
const clientId = "kafkajs-interop";

function onlyFrame(chunks: Buffer[]): Buffer {
  const splitter = new KafkaFrameSplitter();
  for (const chunk of chunks) splitter.push(chunk);
  const frame = splitter.next();
  assert.ok(Buffer.isBuffer(frame));
  assert.equal(splitter.next(), frameNeedMore);
  return frame;
}

/** Encodes with kafkajs, decodes with ours, checks the header, returns the body. */
async function viaKafkajs(
  path: string,
  apiKey: number,
  apiVersion: number,
  args: Record<string, unknown>,
): Promise<unknown> {
  const encoded = await kafkajsRequest({
    correlationId,
    clientId,
    request: kafkajsRequestModule(path)(args),
  });
  const decoded = decodeRequestFrame(onlyFrame([encoded.buffer]));
  assert.deepEqual(decoded.header, { apiKey, apiVersion, correlationId, clientId });
  assert.equal(decoded.support, "supported");
  assert.equal(decoded.trailingBytes, 0);
  return decoded.body;
}

/** Encodes a response frame with ours and decodes its payload with kafkajs. */
async function toKafkajs<K extends KafkaSupportedApiKey>(
  path: string,
  apiKey: K,
  apiVersion: number,
  body: KafkaResponseBodies[K],
): Promise<Record<string, unknown>> {
  const writer = new KafkaWriter();
  encodeResponseFrame(writer, apiKey, apiVersion, correlationId, body);
  const frame = onlyFrame(writer.takeChunks());
  // kafkajs versions here are all non-flexible: response header v0 is the correlation id.
  assert.equal(frame.readInt32BE(0), correlationId);
  return kafkajsResponseModule(path).decode(frame.subarray(4));
}

const recordTimestamp = 1_700_000_000_000;
/** Big enough that the batch is above the writer's copy threshold. */
const largeValue = `v2-${"x".repeat(400)}`;

/** A Produce v3 request as kafkajs sends it, decoded by ours (its record batch is reused). */
async function kafkajsProduce(): Promise<{ frame: Buffer; body: ProduceRequest }> {
  const encoded = await kafkajsRequest({
    correlationId,
    clientId,
    request: kafkajsRequestModule("produce/v3")({
      acks: -1,
      timeout: 30000,
      topicData: [
        {
          topic: "orders",
          partitions: [
            {
              partition: 2,
              messages: [
                { key: "k1", value: "v1", timestamp: recordTimestamp },
                {
                  key: null,
                  value: largeValue,
                  timestamp: recordTimestamp + 5,
                  headers: { h: "x" },
                },
              ],
            },
          ],
        },
      ],
    }),
  });
  const frame = onlyFrame([encoded.buffer]);
  const decoded = decodeRequestFrame(frame);
  return { frame, body: decoded.body as ProduceRequest };
}

describe("kafkajs requests decode with our codec", () => {
  it("Produce v3: fields, and the record batch as a zero-copy view", async () => {
    const { frame, body } = await kafkajsProduce();
    assert.equal(body.transactionalId, null);
    assert.equal(body.acks, -1);
    assert.equal(body.timeoutMs, 30000);
    assert.equal(body.topicData.length, 1);
    assert.equal(body.topicData[0].name, "orders");
    const partition = body.topicData[0].partitionData[0];
    assert.equal(partition.index, 2);
    const records = partition.records;
    assert.ok(records);
    assert.equal(records.buffer, frame.buffer, "records share the frame's memory");
    // RecordBatch v2: batchLength at 8 counts from byte 12; magic at 16; record count at 57.
    assert.equal(records.readInt32BE(8), records.length - 12);
    assert.equal(records.readInt8(16), 2);
    assert.equal(records.readInt32BE(57), 2);
  });

  it("Fetch v11", async () => {
    const body = await viaKafkajs("fetch/v11", KafkaApiKey.Fetch, 11, {
      replicaId: -1,
      maxWaitTime: 5000,
      minBytes: 1,
      maxBytes: 10485760,
      isolationLevel: 1,
      topics: [
        { topic: "orders", partitions: [{ partition: 0, fetchOffset: "17", maxBytes: 1048576 }] },
      ],
      rackId: "rack-a",
    });
    assert.deepEqual(body, {
      clusterId: null,
      replicaId: -1,
      replicaState: undefined,
      maxWaitMs: 5000,
      minBytes: 1,
      maxBytes: 10485760,
      isolationLevel: 1,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: "orders",
          topicId: zeroUuid,
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: -1,
              fetchOffset: 17,
              lastFetchedEpoch: -1,
              logStartOffset: -1,
              partitionMaxBytes: 1048576,
              replicaDirectoryId: zeroUuid,
            },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: "rack-a",
    });
  });

  it("Metadata v6 and ApiVersions v2", async () => {
    const metadata = await viaKafkajs("metadata/v6", KafkaApiKey.Metadata, 6, {
      topics: ["a", "b"],
      allowAutoTopicCreation: false,
    });
    assert.deepEqual(metadata, {
      topics: [
        { topicId: zeroUuid, name: "a" },
        { topicId: zeroUuid, name: "b" },
      ],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const apiVersions = await viaKafkajs("apiVersions/v2", KafkaApiKey.ApiVersions, 2, {});
    assert.deepEqual(apiVersions, { clientSoftwareName: "", clientSoftwareVersion: "" });
  });

  it("JoinGroup v5 and SyncGroup v3", async () => {
    const join = await viaKafkajs("joinGroup/v5", KafkaApiKey.JoinGroup, 5, {
      groupId: "g",
      sessionTimeout: 30000,
      rebalanceTimeout: 60000,
      memberId: "",
      protocolType: "consumer",
      groupProtocols: [{ name: "RoundRobinAssigner", metadata: Buffer.from([0, 1, 2]) }],
    });
    assert.deepEqual(join, {
      groupId: "g",
      sessionTimeoutMs: 30000,
      rebalanceTimeoutMs: 60000,
      memberId: "",
      groupInstanceId: null,
      protocolType: "consumer",
      protocols: [{ name: "RoundRobinAssigner", metadata: Buffer.from([0, 1, 2]) }],
      reason: null,
    });
    const sync = await viaKafkajs("syncGroup/v3", KafkaApiKey.SyncGroup, 3, {
      groupId: "g",
      generationId: 3,
      memberId: "m-1",
      groupAssignment: [{ memberId: "m-1", memberAssignment: Buffer.from([9, 9]) }],
    });
    assert.deepEqual(sync, {
      groupId: "g",
      generationId: 3,
      memberId: "m-1",
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [{ memberId: "m-1", assignment: Buffer.from([9, 9]) }],
    });
  });

  it("OffsetCommit v5 and OffsetFetch v4", async () => {
    const commit = await viaKafkajs("offsetCommit/v5", KafkaApiKey.OffsetCommit, 5, {
      groupId: "g",
      groupGenerationId: 3,
      memberId: "m-1",
      topics: [{ topic: "orders", partitions: [{ partition: 0, offset: "100", metadata: "md" }] }],
    });
    assert.deepEqual(commit, {
      groupId: "g",
      generationIdOrMemberEpoch: 3,
      memberId: "m-1",
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [
        {
          name: "orders",
          partitions: [
            {
              partitionIndex: 0,
              committedOffset: 100,
              committedLeaderEpoch: -1,
              commitTimestamp: -1,
              committedMetadata: "md",
            },
          ],
        },
      ],
    });
    const fetch = await viaKafkajs("offsetFetch/v4", KafkaApiKey.OffsetFetch, 4, {
      groupId: "g",
      topics: [{ topic: "orders", partitions: [{ partition: 0 }, { partition: 1 }] }],
    });
    assert.deepEqual(fetch, {
      groupId: "g",
      topics: [{ name: "orders", partitionIndexes: [0, 1] }],
      groups: [],
      requireStable: false,
    });
  });

  it("ListOffsets v3 and CreateTopics v3", async () => {
    const list = await viaKafkajs("listOffsets/v3", KafkaApiKey.ListOffsets, 3, {
      replicaId: -1,
      isolationLevel: 1,
      topics: [{ topic: "orders", partitions: [{ partition: 0, timestamp: -2 }] }],
    });
    assert.deepEqual(list, {
      replicaId: -1,
      isolationLevel: 1,
      topics: [
        {
          name: "orders",
          partitions: [
            { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2, maxNumOffsets: 1 },
          ],
        },
      ],
      timeoutMs: 0,
    });
    const create = await viaKafkajs("createTopics/v3", KafkaApiKey.CreateTopics, 3, {
      topics: [
        {
          topic: "new",
          numPartitions: 3,
          replicationFactor: 1,
          replicaAssignment: [{ partition: 0, replicas: [1, 2] }],
          configEntries: [{ name: "cleanup.policy", value: "compact" }],
        },
      ],
      timeout: 5000,
      validateOnly: true,
    });
    assert.deepEqual(create, {
      topics: [
        {
          name: "new",
          numPartitions: 3,
          replicationFactor: 1,
          assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
          configs: [{ name: "cleanup.policy", value: "compact" }],
        },
      ],
      timeoutMs: 5000,
      validateOnly: true,
    });
  });
});

describe("responses we encode decode with kafkajs", () => {
  it("Produce v3", async () => {
    const decoded = await toKafkajs("produce/v3", KafkaApiKey.Produce, 3, {
      responses: [
        {
          name: "orders",
          partitionResponses: [{ index: 2, errorCode: 0, baseOffset: 1234, logAppendTimeMs: -1 }],
        },
      ],
      throttleTimeMs: 0,
    });
    assert.deepEqual(decoded, {
      topics: [
        {
          topicName: "orders",
          partitions: [{ partition: 2, errorCode: 0, baseOffset: "1234", logAppendTime: "-1" }],
        },
      ],
      throttleTime: 0,
    });
  });

  it("Fetch v11 serves a kafkajs-produced record batch without copying it", async () => {
    const { body: produced } = await kafkajsProduce();
    const records = produced.topicData[0].partitionData[0].records;
    assert.ok(records);
    const response: FetchResponse = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: "orders",
          partitions: [
            {
              partitionIndex: 2,
              errorCode: 0,
              highWatermark: 2,
              lastStableOffset: 2,
              logStartOffset: 0,
              abortedTransactions: [],
              preferredReadReplica: -1,
              records,
            },
          ],
        },
      ],
    };
    const writer = new KafkaWriter();
    encodeResponseFrame(writer, KafkaApiKey.Fetch, 11, correlationId, response);
    const chunks = writer.takeChunks();
    assert.ok(chunks.includes(records), "the record batch is sent as its own chunk");
    const frame = onlyFrame(chunks);
    const decoded = await kafkajsResponseModule("fetch/v11").decode(frame.subarray(4));
    const topics = decoded.responses as Array<{ topicName: string; partitions: unknown[] }>;
    assert.equal(topics[0].topicName, "orders");
    const partition = topics[0].partitions[0] as Record<string, unknown>;
    assert.equal(partition.partition, 2);
    assert.equal(partition.highWatermark, "2");
    assert.equal(partition.lastStableOffset, "2");
    assert.equal(partition.preferredReadReplica, -1);
    const messages = partition.messages as Array<Record<string, unknown>>;
    assert.deepEqual(
      messages.map((message) => [
        message.offset,
        message.timestamp,
        message.key?.toString() ?? null,
        String(message.value),
      ]),
      [
        ["0", String(recordTimestamp), "k1", "v1"],
        ["1", String(recordTimestamp + 5), null, largeValue],
      ],
    );
    assert.equal(String((messages[1].headers as Record<string, Buffer>).h), "x");
  });

  it("Metadata v6", async () => {
    const decoded = await toKafkajs("metadata/v6", KafkaApiKey.Metadata, 6, {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: "127.0.0.1", port: 9092, rack: null }],
      clusterId: "wharf",
      controllerId: 1,
      topics: [
        {
          errorCode: 0,
          name: "orders",
          isInternal: false,
          partitions: [
            {
              errorCode: 0,
              partitionIndex: 0,
              leaderId: 1,
              replicaNodes: [1],
              isrNodes: [1],
              offlineReplicas: [],
            },
          ],
        },
      ],
    });
    assert.deepEqual(decoded.brokers, [{ nodeId: 1, host: "127.0.0.1", port: 9092, rack: null }]);
    assert.equal(decoded.clusterId, "wharf");
    assert.equal(decoded.controllerId, 1);
    assert.deepEqual(decoded.topicMetadata, [
      {
        topicErrorCode: 0,
        topic: "orders",
        isInternal: false,
        partitionMetadata: [
          {
            partitionErrorCode: 0,
            partitionId: 0,
            leader: 1,
            replicas: [1],
            isr: [1],
            offlineReplicas: [],
          },
        ],
      },
    ]);
  });

  it("ApiVersions v2, and the v0 fallback kafkajs reads as UNSUPPORTED_VERSION", async () => {
    const decoded = await toKafkajs("apiVersions/v2", KafkaApiKey.ApiVersions, 2, {
      errorCode: 0,
      apiKeys: supportedApiVersions(),
      throttleTimeMs: 0,
    });
    assert.equal(decoded.errorCode, 0);
    assert.deepEqual(decoded.apiVersions, supportedApiVersions());

    const writer = new KafkaWriter();
    encodeApiVersionsFallbackResponse(writer, correlationId);
    const frame = onlyFrame(writer.takeChunks());
    await assert.rejects(kafkajsResponseModule("apiVersions/v0").decode(frame.subarray(4)), {
      type: "UNSUPPORTED_VERSION",
    });
  });

  it("JoinGroup v5 and SyncGroup v3", async () => {
    const join = await toKafkajs("joinGroup/v5", KafkaApiKey.JoinGroup, 5, {
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: 4,
      protocolName: "RoundRobinAssigner",
      leader: "m-1",
      memberId: "m-1",
      members: [{ memberId: "m-1", groupInstanceId: null, metadata: Buffer.from([1, 2]) }],
    });
    assert.deepEqual(join, {
      throttleTime: 0,
      clientSideThrottleTime: 0,
      errorCode: 0,
      generationId: 4,
      groupProtocol: "RoundRobinAssigner",
      leaderId: "m-1",
      memberId: "m-1",
      members: [{ memberId: "m-1", groupInstanceId: null, memberMetadata: Buffer.from([1, 2]) }],
    });
    const sync = await toKafkajs("syncGroup/v3", KafkaApiKey.SyncGroup, 3, {
      throttleTimeMs: 0,
      errorCode: 0,
      assignment: Buffer.from([7, 7, 7]),
    });
    assert.equal(sync.errorCode, 0);
    assert.deepEqual(sync.memberAssignment, Buffer.from([7, 7, 7]));
  });

  it("OffsetCommit v5 and OffsetFetch v4", async () => {
    const commit = await toKafkajs("offsetCommit/v5", KafkaApiKey.OffsetCommit, 5, {
      throttleTimeMs: 0,
      topics: [{ name: "orders", partitions: [{ partitionIndex: 0, errorCode: 0 }] }],
    });
    assert.deepEqual(commit.responses, [
      { topic: "orders", partitions: [{ partition: 0, errorCode: 0 }] },
    ]);
    const fetch = await toKafkajs("offsetFetch/v4", KafkaApiKey.OffsetFetch, 4, {
      throttleTimeMs: 0,
      topics: [
        {
          name: "orders",
          partitions: [
            { partitionIndex: 0, committedOffset: 100, metadata: "md", errorCode: 0 },
            { partitionIndex: 1, committedOffset: -1, metadata: null, errorCode: 0 },
          ],
        },
      ],
      errorCode: 0,
    });
    assert.deepEqual(fetch.responses, [
      {
        topic: "orders",
        partitions: [
          { partition: 0, offset: "100", metadata: "md", errorCode: 0 },
          { partition: 1, offset: "-1", metadata: null, errorCode: 0 },
        ],
      },
    ]);
    assert.equal(fetch.errorCode, 0);
  });

  it("ListOffsets v3 and CreateTopics v3", async () => {
    const list = await toKafkajs("listOffsets/v3", KafkaApiKey.ListOffsets, 3, {
      throttleTimeMs: 0,
      topics: [
        {
          name: "orders",
          partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: -1, offset: 55 }],
        },
      ],
    });
    assert.deepEqual(list.responses, [
      {
        topic: "orders",
        partitions: [{ partition: 0, errorCode: 0, timestamp: "-1", offset: "55" }],
      },
    ]);
    const create = await toKafkajs("createTopics/v3", KafkaApiKey.CreateTopics, 3, {
      throttleTimeMs: 0,
      topics: [
        { name: "b", errorCode: 36, errorMessage: "exists" },
        { name: "a", errorCode: 0, errorMessage: null },
      ],
    });
    assert.deepEqual(create.topicErrors, [
      { topic: "a", errorCode: 0, errorMessage: null },
      { topic: "b", errorCode: 36, errorMessage: "exists" },
    ]);
  });
});
