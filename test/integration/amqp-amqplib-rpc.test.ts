/**
 * Request / reply through amqplib: RabbitMQ's direct reply-to (the pseudo-queue
 * amq.rabbitmq.reply-to, consumed in no-ack mode, replies routed by the token the broker puts
 * in reply_to) and the classic pattern with an exclusive reply queue. Expectations were
 * checked against RabbitMQ 3.10 (see test/helpers/amqp-target.ts).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Channel, ConsumeMessage } from "amqplib";
import {
  AmqpSession,
  type AmqpTarget,
  channelClosed,
  eventually,
  startAmqpTarget,
  uniqueName,
} from "../helpers/amqp-target.ts";

let target: AmqpTarget;
let server: AmqpSession;
let client: AmqpSession;

before(async () => {
  target = await startAmqpTarget();
  server = await AmqpSession.open(target.url);
  client = await AmqpSession.open(target.url);
});

after(async () => {
  await client?.close();
  await server?.close();
  await target?.stop();
});

/** An RPC server that upper-cases the body and replies to reply_to with the correlation id. */
async function startServer(t: { after: (fn: () => Promise<unknown>) => void }): Promise<{
  queue: string;
  replyTos: string[];
}> {
  const channel = await server.channel();
  const queue = uniqueName("rpc");
  await channel.assertQueue(queue, { durable: false });
  t.after(async () => {
    await channel.deleteQueue(queue);
    await channel.close();
  });
  const replyTos: string[] = [];
  await channel.consume(queue, (request) => {
    if (!request) return;
    replyTos.push(request.properties.replyTo);
    channel.publish(
      "",
      request.properties.replyTo,
      Buffer.from(request.content.toString().toUpperCase()),
      {
        correlationId: request.properties.correlationId,
      },
    );
    channel.ack(request);
  });
  return { queue, replyTos };
}

test("direct reply-to: replies reach the requesting channel, matched by correlation id", async (t) => {
  const { queue, replyTos } = await startServer(t);
  const channel = await client.channel();
  t.after(() => channel.close());
  const replies: ConsumeMessage[] = [];
  await channel.consume("amq.rabbitmq.reply-to", (reply) => reply && replies.push(reply), {
    noAck: true,
  });
  for (let index = 0; index < 5; index++) {
    channel.sendToQueue(queue, Buffer.from(`hello ${index}`), {
      replyTo: "amq.rabbitmq.reply-to",
      correlationId: `c${index}`,
    });
  }
  await eventually(() => replies.length === 5, "five replies");
  assert.deepEqual(
    replies.map((reply) => [reply.properties.correlationId, reply.content.toString()]).sort(),
    [0, 1, 2, 3, 4].map((index) => [`c${index}`, `HELLO ${index}`]),
  );
  // The server saw a per-channel token, not the pseudo-queue's bare name.
  assert.ok(replyTos.every((replyTo) => replyTo.startsWith("amq.rabbitmq.reply-to.")));
  assert.equal(new Set(replyTos).size, 1);
});

test("direct reply-to: consuming it with acks is 406", async () => {
  const channel = await client.channel();
  const closed = channelClosed(channel);
  await assert.rejects(channel.consume("amq.rabbitmq.reply-to", () => {}, { noAck: false }));
  assert.equal((await closed).code, 406);
});

test("direct reply-to: publishing with it before consuming it is 406", async (t) => {
  const { queue } = await startServer(t);
  const channel = await client.channel();
  const closed = channelClosed(channel);
  channel.sendToQueue(queue, Buffer.from("x"), { replyTo: "amq.rabbitmq.reply-to" });
  assert.equal((await closed).code, 406);
});

test("direct reply-to: a reply to a token whose channel is gone is dropped", async (t) => {
  const { queue, replyTos } = await startServer(t);
  const channel: Channel = await client.channel();
  await channel.consume("amq.rabbitmq.reply-to", () => {}, { noAck: true });
  channel.sendToQueue(queue, Buffer.from("x"), {
    replyTo: "amq.rabbitmq.reply-to",
    correlationId: "1",
  });
  await eventually(() => replyTos.length === 1, "request");
  await channel.close();
  const late = await server.confirmChannel();
  t.after(() => late.close());
  // Publishing to the dead token must not break the replier's channel.
  late.publish("", replyTos[0], Buffer.from("late"));
  await late.waitForConfirms();
  await late.checkExchange("amq.direct");
});

test("classic RPC with an exclusive reply queue", async (t) => {
  const { queue } = await startServer(t);
  const channel = await client.channel();
  t.after(() => channel.close());
  const { queue: replyQueue } = await channel.assertQueue("", { exclusive: true });
  const replies: string[] = [];
  await channel.consume(
    replyQueue,
    (reply) => {
      if (reply) replies.push(`${reply.properties.correlationId}:${reply.content.toString()}`);
    },
    { noAck: true },
  );
  channel.sendToQueue(queue, Buffer.from("ping"), { replyTo: replyQueue, correlationId: "abc" });
  await eventually(() => replies.length === 1, "reply");
  assert.deepEqual(replies, ["abc:PING"]);
});
