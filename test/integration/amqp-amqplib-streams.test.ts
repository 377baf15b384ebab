/**
 * Stream queues (`x-queue-type: stream`) through amqplib: durable only, consumed with a
 * prefetch and manual acks, non-destructive (every consumer reads everything), each delivery
 * carrying its `x-stream-offset`, and `x-stream-offset` on basic.consume choosing the start:
 * first, last (the last chunk), next (default: only new messages), a numeric offset, or a
 * timestamp. Then the WharfMQ-only part: a Kafka client (kafkajs) reads what AMQP published
 * to the stream through an exchange, because a stream queue is a stream in the core.
 * Expectations were checked against RabbitMQ 3.10 (see test/helpers/amqp-target.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ConfirmChannel, ConsumeMessage } from "amqplib";
import { Kafka, logLevel } from "kafkajs";
import {
  AmqpSession,
  type AmqpTarget,
  eventually,
  publishConfirmed,
  rejectsWithCode,
  sleep,
  uniqueName,
  useAmqpSuite,
  wharfOnly,
  withTimeout,
} from "../helpers/amqp-target.ts";

let target: AmqpTarget;
let session: AmqpSession;
let channel: ConfirmChannel;

useAmqpSuite(async (started, opened) => {
  target = started;
  session = opened;
  channel = await opened.confirmChannel();
});

async function declareStream(t: { after: (fn: () => Promise<unknown>) => void }): Promise<string> {
  const stream = uniqueName("stream");
  await channel.assertQueue(stream, { durable: true, arguments: { "x-queue-type": "stream" } });
  t.after(() =>
    // Bounded: a broker stuck on this stream must fail the test, not hang the suite.
    withTimeout(
      (async () => {
        const cleanup = await session.channel();
        await cleanup.deleteQueue(stream);
        await cleanup.close();
      })(),
      10_000,
      `deleting stream ${stream}`,
    ),
  );
  return stream;
}

/** Consumes `stream` from `offset` with prefetch 10, acking each delivery. */
async function readStream(
  stream: string,
  offset: unknown,
): Promise<{ got: ConsumeMessage[]; close: () => Promise<void> }> {
  const own = await session.channel();
  await own.prefetch(10);
  const got: ConsumeMessage[] = [];
  await own.consume(
    stream,
    (message) => {
      if (!message) return;
      got.push(message);
      own.ack(message);
    },
    { noAck: false, ...(offset === undefined ? {} : { arguments: { "x-stream-offset": offset } }) },
  );
  return { got, close: () => own.close() };
}

const entries = (messages: ConsumeMessage[]) =>
  messages.map((m) => [Number(m.properties.headers?.["x-stream-offset"]), m.content.toString()]);

test("stream queue: first reads all from offset 0, twice over, more than prefetch", async (t) => {
  const stream = await declareStream(t);
  const bodies = Array.from({ length: 25 }, (_, index) => `m${index}`);
  await publishConfirmed(channel, "", stream, bodies);
  const first = await readStream(stream, "first");
  const second = await readStream(stream, "first");
  t.after(async () => {
    await first.close();
    await second.close();
  });
  await eventually(() => first.got.length === 25 && second.got.length === 25, "both readers");
  const expected = bodies.map((body, index) => [index, body]);
  assert.deepEqual(entries(first.got), expected);
  assert.deepEqual(entries(second.got), expected);
  // Reading does not remove anything.
  const third = await readStream(stream, "first");
  await eventually(() => third.got.length === 25, "third reader");
  await third.close();
});

test("stream queue: next (and no offset) read only what is published after attaching", async (t) => {
  const stream = await declareStream(t);
  await publishConfirmed(channel, "", stream, ["old-1", "old-2"]);
  const next = await readStream(stream, "next");
  const implicit = await readStream(stream, undefined);
  t.after(async () => {
    await next.close();
    await implicit.close();
  });
  await sleep(200);
  await publishConfirmed(channel, "", stream, ["new-1", "new-2"]);
  await eventually(() => next.got.length === 2 && implicit.got.length === 2, "new messages");
  await sleep(100);
  assert.deepEqual(entries(next.got), [
    [2, "new-1"],
    [3, "new-2"],
  ]);
  assert.deepEqual(entries(implicit.got), entries(next.got));
});

test("stream queue: last starts at the last chunk, a number at that offset", async (t) => {
  const stream = await declareStream(t);
  await publishConfirmed(channel, "", stream, ["a", "b", "c", "d"]);
  await publishConfirmed(channel, "", stream, ["e"]); // a chunk of its own
  const last = await readStream(stream, "last");
  const fromTwo = await readStream(stream, 2);
  t.after(async () => {
    await last.close();
    await fromTwo.close();
  });
  await eventually(() => last.got.length >= 1 && fromTwo.got.length === 3, "deliveries");
  await sleep(100);
  assert.deepEqual(entries(last.got), [[4, "e"]]);
  assert.deepEqual(entries(fromTwo.got), [
    [2, "c"],
    [3, "d"],
    [4, "e"],
  ]);
});

test("stream queue: a timestamp starts at the first message published at or after it", async (t) => {
  const stream = await declareStream(t);
  await publishConfirmed(channel, "", stream, ["before-1", "before-2"]);
  // AMQP timestamps are seconds: pick the next whole second, publish after it has passed.
  const seconds = Math.ceil((Date.now() + 1) / 1000);
  await sleep(seconds * 1000 - Date.now() + 100);
  await publishConfirmed(channel, "", stream, ["after-1", "after-2"]);
  const reader = await readStream(stream, { "!": "timestamp", value: seconds });
  t.after(() => reader.close());
  await eventually(() => reader.got.length === 2, "deliveries from the timestamp");
  await sleep(100);
  assert.deepEqual(entries(reader.got), [
    [2, "after-1"],
    [3, "after-2"],
  ]);
});

test("stream queue: published through an exchange; properties and headers survive", async (t) => {
  const stream = await declareStream(t);
  const exchange = uniqueName("to-stream");
  await channel.assertExchange(exchange, "topic", { durable: false });
  t.after(() => channel.deleteExchange(exchange));
  await channel.bindQueue(stream, exchange, "events.#");
  channel.publish(exchange, "events.created", Buffer.from("routed"), {
    headers: { source: "amqp" },
    contentType: "text/plain",
    messageId: "id-1",
  });
  channel.publish(exchange, "other", Buffer.from("not-routed"));
  await channel.waitForConfirms();
  const reader = await readStream(stream, "first");
  t.after(() => reader.close());
  await eventually(() => reader.got.length === 1, "routed message");
  await sleep(100);
  const [message] = reader.got;
  assert.equal(message.content.toString(), "routed");
  assert.equal(message.fields.routingKey, "events.created");
  assert.equal(message.fields.exchange, exchange);
  assert.equal(message.properties.headers?.source, "amqp");
  assert.equal(message.properties.contentType, "text/plain");
  assert.equal(message.properties.messageId, "id-1");
  assert.equal(reader.got.length, 1);
});

test("stream queue misuse: declaring a non-durable stream is 406", async () => {
  await rejectsWithCode(
    (await session.channel()).assertQueue(uniqueName("stream-transient"), {
      durable: false,
      arguments: { "x-queue-type": "stream" },
    }),
    406,
  );
});

test("stream queue misuse: consuming without a prefetch (basic.qos) is 406", {
  timeout: 30_000,
}, async (t) => {
  const stream = await declareStream(t);
  await rejectsWithCode(
    (await session.channel()).consume(stream, () => {}),
    406,
  );
});

test("stream queue misuse: a no-ack consumer is connection error 540 NOT_IMPLEMENTED", async (t) => {
  const stream = await declareStream(t);
  const other = await AmqpSession.open(target.url);
  t.after(() => other.close());
  const noAck = await other.channel();
  await noAck.prefetch(10);
  const closed = new Promise<{ code?: number }>((resolve) =>
    other.connection.once("error", resolve),
  );
  await assert.rejects(noAck.consume(stream, () => {}, { noAck: true }));
  assert.equal((await closed).code, 540);
});

test("a Kafka client reads what AMQP published to a stream queue through an exchange", {
  skip: wharfOnly,
}, async (t) => {
  const stream = await declareStream(t);
  const exchange = uniqueName("kafka-bridge");
  await channel.assertExchange(exchange, "direct", { durable: false });
  t.after(() => channel.deleteExchange(exchange));
  await channel.bindQueue(stream, exchange, "k");
  const bodies = Array.from({ length: 10 }, (_, index) => `cross-${index}`);
  await publishConfirmed(channel, exchange, "k", bodies);

  assert.ok(target.kafkaBroker);
  const kafka = new Kafka({ brokers: [target.kafkaBroker], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniqueName("group") });
  t.after(() => consumer.disconnect());
  await consumer.connect();
  // The stream queue is a stream in the core, so its name is a Kafka topic.
  await consumer.subscribe({ topic: stream, fromBeginning: true });
  const values: string[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      values.push(message.value?.toString() ?? "");
    },
  });
  await eventually(() => values.length >= bodies.length, "the Kafka consumer", 20_000);
  assert.deepEqual(values, bodies);
});
