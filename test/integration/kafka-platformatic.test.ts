/**
 * @platformatic/kafka (a second Node client, with its own codec and newer API versions:
 * Metadata v12, Produce v11, Fetch v17 with topic ids, ApiVersions v4) against a real broker:
 * an idempotent produce and a group-less fetch round trip, with keys and headers.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Consumer, Producer, stringDeserializers, stringSerializers } from "@platformatic/kafka";
import { BrokerProcess } from "../helpers/broker-process.ts";

test("@platformatic/kafka produce and fetch round trip", { timeout: 60_000 }, async (t) => {
  const broker = await BrokerProcess.start();
  t.after(() => broker.stop());
  const bootstrapBrokers = [`127.0.0.1:${broker.ports.kafka}`];
  const producer = new Producer({
    clientId: "wharf-platformatic",
    bootstrapBrokers,
    serializers: stringSerializers,
    idempotent: true,
    autocreateTopics: true,
  });
  t.after(() => producer.close());
  const count = 5000;
  for (let start = 0; start < count; start += 500) {
    const messages = Array.from({ length: 500 }, (_, i) => ({
      topic: "platformatic",
      partition: 0,
      key: `key-${start + i}`,
      value: `value-${start + i}`,
      headers: new Map([["index", String(start + i)]]),
    }));
    const result = await producer.send({ messages });
    assert.equal(Number(result.offsets?.[0]?.offset), start);
  }

  const consumer = new Consumer({
    clientId: "wharf-platformatic-reader",
    groupId: "unused-no-group-calls",
    bootstrapBrokers,
    deserializers: stringDeserializers,
  });
  t.after(() => consumer.close(true));
  const metadata = await consumer.metadata({ topics: ["platformatic"] });
  const topicId = metadata.topics.get("platformatic")!.id;
  assert.match(topicId, /^[0-9a-f-]{36}$/);
  const values: string[] = [];
  let offset = 0n;
  const deadline = Date.now() + 30_000;
  while (values.length < count) {
    assert.ok(Date.now() < deadline, `stuck at offset ${offset}`);
    const response = await consumer.fetch({
      node: 0,
      topics: [
        {
          topicId,
          partitions: [
            {
              partition: 0,
              fetchOffset: offset,
              partitionMaxBytes: 1 << 20,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
            },
          ],
        },
      ],
    });
    const partition = response.responses[0]!.partitions[0]!;
    assert.equal(partition.errorCode, 0);
    assert.equal(partition.highWatermark, BigInt(count));
    for (const batch of partition.records ?? []) {
      for (const record of batch.records) {
        const recordOffset = batch.firstOffset + BigInt(record.offsetDelta);
        if (recordOffset < offset) continue;
        assert.equal(record.key!.toString(), `key-${recordOffset}`);
        assert.equal(record.headers[0]?.[1]?.toString(), String(recordOffset));
        values.push(record.value!.toString());
        offset = recordOffset + 1n;
      }
    }
  }
  assert.deepEqual(values.slice(0, 2), ["value-0", "value-1"]);
  assert.equal(values[count - 1], `value-${count - 1}`);
});
