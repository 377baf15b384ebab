/**
 * Log compaction observed through the Kafka protocol with kafkajs: a `cleanup.policy=compact`
 * topic with tiny segments, several values per key (some batches gzip-compressed) and
 * tombstones; the broker's compaction timer runs every 200 ms (`--compaction-interval-ms`).
 * Read from offset 0 with kafkajs's fetch path, the topic ends up with the latest value of
 * every key at its original offset, the tombstones for a while, and then without them.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CompressionTypes, Kafka, logLevel, type Message } from "kafkajs";
import { BrokerProcess } from "../helpers/broker-process.ts";
import { registerKafkajsCodecs } from "../helpers/kafkajs-codecs.ts";
import { type FetchedRecord, KafkajsReader } from "../helpers/kafkajs-reader.ts";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";
registerKafkajsCodecs();

const TOPIC = "compacted";
const DELETE_RETENTION_MS = 3000;
const SEGMENT_MS = 300;

/**
 * Every record from offset 0 up to `until`, as a consumer reads a compacted partition: a fetch
 * that returns nothing at or after the offset asked for (the rest of its batch was removed) is
 * followed by one at the next offset, as kafkajs's consumer does.
 */
async function readFromStart(reader: KafkajsReader, until: number): Promise<FetchedRecord[]> {
  const records: FetchedRecord[] = [];
  let offset = 0;
  while (offset < until) {
    const fetched = await reader.fetchOnce(TOPIC, 0, offset, { maxWaitTime: 10 });
    assert.equal(fetched.errorCode, 0, `fetch at ${offset}`);
    const fresh = fetched.records.filter((record) => record.offset < until);
    if (fresh.length === 0) {
      offset++;
      continue;
    }
    records.push(...fresh);
    offset = fresh[fresh.length - 1]!.offset + 1;
  }
  return records;
}

async function eventually<T>(
  what: string,
  attempt: () => Promise<T | null>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== null) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("log compaction through kafkajs", { timeout: 120_000 }, () => {
  let broker: BrokerProcess;
  let kafka: Kafka;

  before(async () => {
    broker = await BrokerProcess.start({
      args: ["--auto-create-topics", "false", "--compaction-interval-ms", "200"],
    });
    kafka = new Kafka({
      brokers: [`127.0.0.1:${broker.ports.kafka}`],
      clientId: "wharf-compaction-test",
      logLevel: logLevel.NOTHING,
      retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 500 },
    });
  });
  after(() => broker.stop());

  test("only the latest value per key remains; tombstoned keys go after delete.retention.ms", async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [
          {
            topic: TOPIC,
            numPartitions: 1,
            configEntries: [
              { name: "cleanup.policy", value: "compact" },
              { name: "segment.bytes", value: "1024" },
              { name: "segment.ms", value: String(SEGMENT_MS) },
              { name: "delete.retention.ms", value: String(DELETE_RETENTION_MS) },
              { name: "min.compaction.lag.ms", value: "0" },
            ],
          },
        ],
      });
    } finally {
      await admin.disconnect();
    }

    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    /** key -> [offset, value] of its latest record (value null: a tombstone). */
    const latest = new Map<string, [number, string | null]>();
    const send = async (messages: Message[], compression = CompressionTypes.None) => {
      const [metadata] = await producer.send({ topic: TOPIC, messages, acks: -1, compression });
      const base = Number(metadata!.baseOffset);
      messages.forEach((message, i) => {
        const value = message.value === null ? null : String(message.value);
        latest.set(String(message.key), [base + i, value]);
      });
    };
    try {
      const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
      for (let round = 0; round < 4; round++) {
        for (let start = 0; start < keys.length; start += 4) {
          const messages = keys.slice(start, start + 4).map((key) => ({
            key,
            value: `${key}=round-${round}`.padEnd(60, "."),
          }));
          await send(messages, round % 2 === 0 ? CompressionTypes.None : CompressionTypes.GZIP);
        }
      }
      await send([
        { key: "key-3", value: null },
        { key: "key-7", value: null },
      ]);
      // A compacted topic takes only records with a key: INVALID_RECORD.
      const strict = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
      await strict.connect();
      await assert.rejects(
        strict.send({ topic: TOPIC, messages: [{ value: "no key" }], acks: -1 }),
        (error: Error & { type?: string }) => error.type === "INVALID_RECORD",
      );
      await strict.disconnect();
      // The active segment is never compacted: roll it (segment.ms) with one more record.
      await new Promise((resolve) => setTimeout(resolve, SEGMENT_MS + 50));
      await send([{ key: "marker", value: "end" }]);
    } finally {
      await producer.disconnect();
    }
    const end = latest.get("marker")![0] + 1;
    const expected = (withTombstones: boolean) =>
      [...latest.entries()]
        .filter(([, [, value]]) => withTombstones || value !== null)
        .map(([key, [offset, value]]) => ({ offset, key, value }))
        .sort((a, b) => a.offset - b.offset);

    const reader = await KafkajsReader.connect(kafka);
    try {
      const simplify = (records: FetchedRecord[]) =>
        records.map((record) => ({
          offset: record.offset,
          key: record.key?.toString() ?? null,
          value: record.value?.toString() ?? null,
        }));
      // First the older values go; the tombstones stay (within delete.retention.ms).
      const compacted = await eventually("compaction", async () => {
        const records = simplify(await readFromStart(reader, end));
        const keys = new Set(records.map((record) => record.key));
        return keys.size === records.length ? records : null;
      });
      const withTombstones = expected(true);
      if (compacted.some((record) => record.value === null)) {
        assert.deepEqual(compacted, withTombstones);
      } else {
        // The horizon already passed on a very slow machine: then they are gone as well.
        assert.deepEqual(compacted, expected(false));
      }
      // Then, once their delete horizon has passed, the tombstones too.
      const final = await eventually("tombstone removal", async () => {
        const records = simplify(await readFromStart(reader, end));
        return records.some((record) => record.value === null) ? null : records;
      });
      assert.deepEqual(final, expected(false));
      assert.ok(!final.some((record) => record.key === "key-3" || record.key === "key-7"));
    } finally {
      await reader.disconnect();
    }
  });
});
