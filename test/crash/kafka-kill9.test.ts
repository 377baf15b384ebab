/**
 * kill -9 during produce with acks=-1 loses no acknowledged record, through the Kafka
 * protocol with a real client. Each cycle: a kafkajs producer sends numbered records with
 * acks=-1 from a few concurrent loops; at a random moment the broker gets SIGKILL; the broker
 * restarts on the same data directory. At the end every record whose send was acknowledged must
 * be in the topic (records whose send failed may or may not be there).
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { BrokerProcess } from "../helpers/broker-process.ts";
import { KafkajsReader } from "../helpers/kafkajs-reader.ts";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const cycles = 3;
const loops = 4;
const perSend = 50;

function client(broker: BrokerProcess): Kafka {
  return new Kafka({
    brokers: [`127.0.0.1:${broker.ports.kafka}`],
    clientId: "kill9",
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    requestTimeout: 5000,
  });
}

test("SIGKILL during acks=-1 produce loses no acknowledged record", {
  timeout: 180_000,
}, async (t) => {
  let broker = await BrokerProcess.start();
  broker.keepDataDir();
  const { dataDir, ports } = broker;
  t.after(async () => {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const setup = client(broker).admin();
  await setup.connect();
  await setup.createTopics({ topics: [{ topic: "crash", numPartitions: 2 }] });
  await setup.disconnect();

  const acknowledged = new Set<string>();
  let sequence = 0;
  for (let cycle = 0; cycle < cycles; cycle++) {
    const producer = client(broker).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    let stopped = false;
    const sender = async () => {
      while (!stopped) {
        const values = Array.from({ length: perSend }, () => `c${cycle}-r${sequence++}`);
        try {
          await producer.send({
            topic: "crash",
            acks: -1,
            messages: values.map((value) => ({ key: value, value })),
          });
          for (const value of values) acknowledged.add(value);
        } catch {
          stopped = true;
        }
      }
    };
    const running = Array.from({ length: loops }, sender);
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(Math.random() * 700)));
    await broker.kill();
    stopped = true;
    await Promise.all(running);
    await producer.disconnect().catch(() => undefined);
    broker = await BrokerProcess.start({ dataDir, ports });
    broker.keepDataDir();
  }
  assert.ok(acknowledged.size > 0, "some sends were acknowledged before the kills");

  const kafka = client(broker);
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets("crash");
  await admin.disconnect();
  const reader = await KafkajsReader.connect(kafka);
  const stored = new Set<string>();
  try {
    for (const { partition, low, high } of offsets) {
      for (const record of await reader.readRange("crash", partition, Number(low), Number(high))) {
        stored.add(record.value!.toString());
      }
    }
  } finally {
    await reader.disconnect();
  }
  t.diagnostic(
    `${acknowledged.size} records acknowledged over ${cycles} kills; ${stored.size} distinct records stored`,
  );
  const lost = [...acknowledged].filter((value) => !stored.has(value));
  assert.deepEqual(
    lost.slice(0, 10),
    [],
    `${lost.length} of ${acknowledged.size} acknowledged records lost`,
  );
});
