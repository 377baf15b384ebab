/**
 * AMQP consumers through amqplib: prefetch (per consumer and per channel), ack / nack /
 * reject with multiple and requeue and the redelivered flag, basic.get and get-empty,
 * basic.recover, cancel (client and server side), no-ack consumers and consumer tags.
 * Expectations were checked against RabbitMQ 3.10 (see test/helpers/amqp-target.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Channel, ConfirmChannel, ConsumeMessage, Message } from "amqplib";
import {
  AmqpSession,
  type AmqpTarget,
  channelClosed,
  drain,
  eventually,
  publishConfirmed,
  sleep,
  uniqueName,
  useAmqpSuite,
} from "../helpers/amqp-target.ts";

let target: AmqpTarget;
let session: AmqpSession;
let channel: ConfirmChannel;

useAmqpSuite(async (started, opened) => {
  target = started;
  session = opened;
  channel = await opened.confirmChannel();
});

async function declare(
  t: { after: (fn: () => Promise<unknown>) => void },
  prefix: string,
  count = 0,
): Promise<string> {
  const queue = uniqueName(prefix);
  await channel.assertQueue(queue, { durable: false });
  t.after(async () => {
    const cleanup = await session.channel();
    await cleanup.deleteQueue(queue);
    await cleanup.close();
  });
  if (count > 0) {
    await publishConfirmed(
      channel,
      "",
      queue,
      Array.from({ length: count }, (_, index) => String(index + 1)),
    );
  }
  return queue;
}

/** Consumes `queue` on `own` and records the deliveries without acking them. */
async function record(
  own: Channel,
  queue: string,
  options: { noAck?: boolean; consumerTag?: string } = {},
): Promise<{ tag: string; got: ConsumeMessage[]; cancelled: () => boolean }> {
  const got: ConsumeMessage[] = [];
  let cancelled = false;
  const { consumerTag } = await own.consume(
    queue,
    (message) => {
      if (message === null) cancelled = true;
      else got.push(message);
    },
    {
      noAck: options.noAck ?? false,
      ...(options.consumerTag ? { consumerTag: options.consumerTag } : {}),
    },
  );
  return { tag: consumerTag, got, cancelled: () => cancelled };
}

const bodies = (messages: ConsumeMessage[]) => messages.map((m) => m.content.toString());

test("prefetch count bounds unacked deliveries per consumer; acks release more", async (t) => {
  const queue = await declare(t, "prefetch", 5);
  const own = await session.channel();
  t.after(() => own.close());
  await own.prefetch(2);
  const consumer = await record(own, queue);
  await eventually(() => consumer.got.length === 2, "two deliveries");
  await sleep(150);
  assert.deepEqual(bodies(consumer.got), ["1", "2"]);
  own.ack(consumer.got[0]);
  await eventually(() => consumer.got.length === 3, "third delivery");
  await sleep(100);
  assert.equal(consumer.got.length, 3);
  own.ack(consumer.got[2], true); // multiple: acks 2 and 3
  await eventually(() => consumer.got.length === 5, "all deliveries");
  assert.deepEqual(bodies(consumer.got), ["1", "2", "3", "4", "5"]);
  own.ackAll();
  await eventually(async () => (await channel.checkQueue(queue)).messageCount === 0, "empty");
});

test("global prefetch is shared by the channel's consumers; per-consumer applies alongside", async (t) => {
  const first = await declare(t, "gprefetch-a", 5);
  const second = await declare(t, "gprefetch-b", 5);
  const own = await session.channel();
  t.after(() => own.close());
  await own.prefetch(3, true); // basic.qos global=true: the whole channel
  const a = await record(own, first);
  const b = await record(own, second);
  await eventually(() => a.got.length + b.got.length === 3, "three deliveries over both");
  await sleep(150);
  assert.equal(a.got.length + b.got.length, 3);

  const both = await session.channel();
  t.after(() => both.close());
  await both.prefetch(1, false); // per consumer
  await both.prefetch(10, true); // and per channel: the tighter bound wins
  const third = await declare(t, "gprefetch-c", 5);
  const fourth = await declare(t, "gprefetch-d", 5);
  const c = await record(both, third);
  const d = await record(both, fourth);
  await eventually(() => c.got.length === 1 && d.got.length === 1, "one each");
  await sleep(150);
  assert.equal(c.got.length + d.got.length, 2);
});

test("nack / reject with requeue redeliver with redelivered=true; without requeue they drop", async (t) => {
  const queue = await declare(t, "nack", 4);
  const own = await session.channel();
  t.after(() => own.close());
  const got = [];
  for (let index = 0; index < 4; index++) {
    const message = await own.get(queue);
    assert.ok(message);
    assert.equal(message.fields.redelivered, false);
    got.push(message);
  }
  own.reject(got[0], true); // "1" back
  own.reject(got[1], false); // "2" dropped
  own.nack(got[3], true, true); // multiple + requeue: "3" and "4" back
  await eventually(async () => (await channel.checkQueue(queue)).messageCount === 3, "requeued");
  const again = [];
  for (let index = 0; index < 3; index++) {
    const message = await own.get(queue, { noAck: true });
    assert.ok(message);
    again.push([message.content.toString(), message.fields.redelivered]);
  }
  // Requeued messages keep their original position (RabbitMQ).
  assert.deepEqual(again, [
    ["1", true],
    ["3", true],
    ["4", true],
  ]);

  await publishConfirmed(channel, "", queue, ["5", "6", "7"]);
  let last: Message | undefined;
  for (let index = 0; index < 3; index++) {
    const message = await own.get(queue);
    assert.ok(message && typeof message === "object");
    last = message;
  }
  assert.ok(last);
  own.nack(last, true, false); // multiple, no requeue: all three drop
  await sleep(100);
  assert.equal((await channel.checkQueue(queue)).messageCount, 0);
});

test("closing a channel requeues its unacked deliveries as redelivered", async (t) => {
  const queue = await declare(t, "close-requeue", 3);
  const own = await session.channel();
  await own.prefetch(10);
  const consumer = await record(own, queue);
  await eventually(() => consumer.got.length === 3, "three deliveries");
  own.ack(consumer.got[1]);
  await own.close();
  const after = await session.channel();
  t.after(() => after.close());
  const redelivered = [];
  for (let index = 0; index < 2; index++) {
    const message = await after.get(queue, { noAck: true });
    assert.ok(message);
    redelivered.push([message.content.toString(), message.fields.redelivered]);
  }
  assert.deepEqual(redelivered, [
    ["1", true],
    ["3", true],
  ]);
  assert.equal(await after.get(queue), false);
});

test("basic.get returns the remaining count; get-empty on an empty queue", async (t) => {
  const queue = await declare(t, "get", 3);
  const first = await channel.get(queue, { noAck: true });
  assert.ok(first);
  assert.equal(first.content.toString(), "1");
  assert.equal(first.fields.messageCount, 2);
  assert.equal(first.fields.exchange, "");
  assert.equal(first.fields.routingKey, queue);
  const second = await channel.get(queue);
  assert.ok(second);
  assert.equal(second.fields.messageCount, 1);
  channel.ack(second);
  await channel.get(queue, { noAck: true });
  assert.equal(await channel.get(queue), false);
});

test("basic.recover requeues every unacked delivery of the channel", async (t) => {
  const queue = await declare(t, "recover", 2);
  const own = await session.channel();
  t.after(() => own.close());
  await own.prefetch(10);
  const consumer = await record(own, queue);
  await eventually(() => consumer.got.length === 2, "two deliveries");
  await own.recover();
  await eventually(() => consumer.got.length === 4, "redeliveries");
  assert.deepEqual(
    consumer.got.slice(2).map((m) => [m.content.toString(), m.fields.redelivered]),
    [
      ["1", true],
      ["2", true],
    ],
  );
  own.ackAll();
  await eventually(async () => (await channel.checkQueue(queue)).messageCount === 0, "empty");
});

test("cancel stops deliveries; unacked ones can still be acked", async (t) => {
  const queue = await declare(t, "cancel", 2);
  const own = await session.channel();
  t.after(() => own.close());
  await own.prefetch(1);
  const consumer = await record(own, queue, { consumerTag: "my-tag" });
  assert.equal(consumer.tag, "my-tag");
  await eventually(() => consumer.got.length === 1, "first delivery");
  assert.equal(consumer.got[0].fields.consumerTag, "my-tag");
  assert.deepEqual(await own.cancel("my-tag"), { consumerTag: "my-tag" });
  own.ack(consumer.got[0]);
  await sleep(200);
  assert.equal(consumer.got.length, 1);
  assert.deepEqual(await drain(channel, queue), ["2"]);
  assert.equal((await channel.checkQueue(queue)).consumerCount, 0);
});

test("server-generated consumer tags are unique and prefixed amq.ctag-", async (t) => {
  const queue = await declare(t, "ctag");
  const own = await session.channel();
  t.after(() => own.close());
  const a = await record(own, queue);
  const b = await record(own, queue);
  assert.match(a.tag, /^amq\.ctag-/);
  assert.notEqual(a.tag, b.tag);
  assert.equal((await channel.checkQueue(queue)).consumerCount, 2);
});

test("deleting a queue sends basic.cancel to its consumers", async () => {
  const queue = uniqueName("server-cancel");
  await channel.assertQueue(queue, { durable: false });
  const own = await session.channel();
  const consumer = await record(own, queue);
  await channel.deleteQueue(queue);
  await eventually(consumer.cancelled, "the server-side cancel");
  // The channel stays open.
  await own.checkExchange("amq.direct");
  await own.close();
});

test("no-ack consumer: messages leave the queue on delivery and are never redelivered", async (t) => {
  const queue = await declare(t, "noack", 3);
  const own = await session.channel();
  const consumer = await record(own, queue, { noAck: true });
  await eventually(() => consumer.got.length === 3, "three deliveries");
  await own.close();
  await sleep(100);
  assert.equal((await channel.checkQueue(queue)).messageCount, 0);
});

test("reusing a consumer tag on the same channel is a 530 connection error", async () => {
  const other = await AmqpSession.open(target.url);
  const own = await other.channel();
  const queue = uniqueName("dup-tag");
  await own.assertQueue(queue, { exclusive: true });
  await own.consume(queue, () => {}, { consumerTag: "dup" });
  const closed = new Promise<{ code?: number }>((resolve) =>
    other.connection.once("error", resolve),
  );
  await assert.rejects(own.consume(queue, () => {}, { consumerTag: "dup" }));
  assert.equal((await closed).code, 530);
  await other.close();
});

test("acking an unknown delivery tag closes the channel with 406", async (t) => {
  const queue = await declare(t, "bad-tag", 1);
  const own = await session.channel();
  const message = await own.get(queue);
  assert.ok(message);
  own.ack(message);
  const closed = channelClosed(own);
  own.ack(message); // the same tag twice
  assert.equal((await closed).code, 406);
});
