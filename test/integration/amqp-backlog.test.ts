/**
 * A large backlog through amqplib (bench/amqp `transient`): publishers at full speed into a
 * queue faster than its consumer reads, then every message must arrive, and the broker's
 * memory must stay that of a bounded window, not of the backlog. Once, a flood of transient
 * messages went into one lane append larger than the log's append queue: the append failed,
 * every message of it was lost without a word (no confirms), and the consumer stopped after a
 * tenth of them while the broker held ~600 MB (the engine-level regression test is in
 * src/core/queues/queue.test.ts: "a transient flood larger than the log's append queue...").
 * Bounded: each case has its own deadline; the broker is stopped by PID.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { BrokerProcess } from "../helpers/broker-process.ts";

let broker: BrokerProcess;
let url: string;

before(async () => {
  broker = await BrokerProcess.start({ env: { WHARF_LOG_LEVEL: "warn" } });
  url = `amqp://guest:guest@127.0.0.1:${broker.ports.amqp}`;
});

after(async () => {
  await broker?.stop();
});

function brokerRssBytes(): number {
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${broker.pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}

async function open(): Promise<{ connection: ChannelModel; channel: Channel }> {
  const connection = await amqp.connect(url);
  connection.on("error", () => {});
  const channel = await connection.createChannel();
  return { connection, channel };
}

/**
 * Publishes `count` 100-byte messages as fast as amqplib takes them (waiting only for its
 * 'drain'), each body starting with the publisher number and a sequence number.
 */
async function flood(
  publisher: number,
  queue: string,
  count: number,
  persistent: boolean,
): Promise<void> {
  const { connection, channel } = await open();
  const body = Buffer.alloc(100, 0x78);
  for (let sequence = 0; sequence < count; ) {
    const end = Math.min(count, sequence + 256);
    for (; sequence < end; sequence++) {
      const content = Buffer.from(body);
      content.writeUInt8(publisher, 0);
      content.writeUInt32BE(sequence, 1);
      if (!channel.publish("", queue, content, { deliveryMode: persistent ? 2 : 1 })) {
        await new Promise((resolve) => channel.once("drain", resolve));
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  // close waits for the broker to have taken every publish of the channel.
  await channel.close();
  await connection.close();
}

/** Polls until `condition` holds; fails with `what()` after `timeoutMs`. */
async function until(condition: () => boolean, what: () => string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Checks each publisher's messages arrived once each, in order. */
function checkOrder(next: number[], content: Buffer): void {
  const publisher = content.readUInt8(0);
  const sequence = content.readUInt32BE(1);
  assert.equal(sequence, next[publisher], `publisher ${publisher}: out of order or duplicate`);
  next[publisher] = sequence + 1;
}

test("a transient flood from two publishers reaches an auto-ack consumer whole; memory stays bounded", {
  timeout: 45_000,
}, async () => {
  const queue = `backlog-transient-${process.pid}`;
  const perPublisher = 100_000;
  const admin = await open();
  await admin.channel.assertQueue(queue, { durable: false });
  const consumer = await open();
  const next = [0, 0];
  let delivered = 0;
  await consumer.channel.consume(
    queue,
    (message) => {
      if (message === null) return;
      checkOrder(next, message.content);
      delivered++;
    },
    { noAck: true },
  );
  let rssMax = 0;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, brokerRssBytes());
  }, 100);
  try {
    await Promise.all([0, 1].map((p) => flood(p, queue, perPublisher, false)));
    await until(
      () => delivered === 2 * perPublisher,
      () => `${delivered} of ${2 * perPublisher} delivered\n${broker.stderr}`,
      25_000,
    );
  } finally {
    clearInterval(sampler);
  }
  assert.deepEqual(next, [perPublisher, perPublisher]);
  assert.equal((await admin.channel.checkQueue(queue)).messageCount, 0);
  // 200k x 100 B is 20 MB of bodies; a broker holding the backlog in memory needs far more.
  assert.ok(rssMax < 450 * 1024 * 1024, `broker RSS reached ${rssMax} bytes`);
  await admin.channel.deleteQueue(queue);
  await consumer.connection.close();
  await admin.connection.close();
});

test("a persistent backlog in a durable queue drains to a manual-ack consumer attached afterwards", {
  timeout: 45_000,
}, async () => {
  const queue = `backlog-durable-${process.pid}`;
  const perPublisher = 40_000;
  const admin = await open();
  await admin.channel.assertQueue(queue, { durable: true });
  await Promise.all([0, 1].map((p) => flood(p, queue, perPublisher, true)));
  // Every publish was taken (channel.close); they become ready as their fsyncs complete.
  let ready = 0;
  const deadline = Date.now() + 15_000;
  while (ready < 2 * perPublisher && Date.now() < deadline) {
    ready = (await admin.channel.checkQueue(queue)).messageCount;
    if (ready < 2 * perPublisher) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(ready, 2 * perPublisher, "the backlog is on the queue");
  const consumer = await open();
  await consumer.channel.prefetch(500);
  const next = [0, 0];
  let delivered = 0;
  await consumer.channel.consume(queue, (message) => {
    if (message === null) return;
    checkOrder(next, message.content);
    assert.equal(message.fields.redelivered, false);
    delivered++;
    consumer.channel.ack(message);
  });
  await until(
    () => delivered === 2 * perPublisher,
    () => `${delivered} of ${2 * perPublisher} delivered\n${broker.stderr}`,
    25_000,
  );
  assert.deepEqual(next, [perPublisher, perPublisher]);
  await consumer.connection.close(); // flushes the acks first
  assert.equal((await admin.channel.checkQueue(queue)).messageCount, 0);
  await admin.channel.deleteQueue(queue);
  await admin.connection.close();
});
