/**
 * Publisher confirms and transactions through amqplib. Confirms: every publish is acked
 * (sequential delivery tags), an unroutable mandatory message is returned (basic.return)
 * before its ack, and a publish to a missing exchange fails the pending confirms with the
 * channel's 404. Transactions (amqplib has no tx API, so tx.select / commit / rollback go
 * through its generic `rpc`): published messages and acks take effect at commit only, a
 * rollback discards them, and confirm.select on a tx channel is 406. Expectations were checked
 * against RabbitMQ 3.10 (see test/helpers/amqp-target.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Channel, Message } from "amqplib";
import {
  type AmqpSession,
  channelClosed,
  drain,
  uniqueName,
  useAmqpSuite,
} from "../helpers/amqp-target.ts";

let session: AmqpSession;

useAmqpSuite((_target, opened) => {
  session = opened;
});

// Method ids (class << 16 | method) from the AMQP 0-9-1 spec, class tx = 90.
const TX_SELECT = (90 << 16) | 10;
const TX_SELECT_OK = (90 << 16) | 11;
const TX_COMMIT = (90 << 16) | 20;
const TX_COMMIT_OK = (90 << 16) | 21;
const TX_ROLLBACK = (90 << 16) | 30;
const TX_ROLLBACK_OK = (90 << 16) | 31;
const CONFIRM_SELECT = (85 << 16) | 10;
const CONFIRM_SELECT_OK = (85 << 16) | 11;

type RpcChannel = Channel & {
  rpc(method: number, fields: Record<string, unknown>, expect: number): Promise<unknown>;
};

const tx = {
  select: (channel: Channel) => (channel as RpcChannel).rpc(TX_SELECT, {}, TX_SELECT_OK),
  commit: (channel: Channel) => (channel as RpcChannel).rpc(TX_COMMIT, {}, TX_COMMIT_OK),
  rollback: (channel: Channel) => (channel as RpcChannel).rpc(TX_ROLLBACK, {}, TX_ROLLBACK_OK),
};

async function scratchQueue(t: { after: (fn: () => Promise<unknown>) => void }): Promise<string> {
  const channel = await session.channel();
  const { queue } = await channel.assertQueue("", { exclusive: true });
  t.after(async () => {
    await channel.deleteQueue(queue);
    await channel.close();
  });
  return queue;
}

test("confirms: every publish is acked, delivery tags count up from 1", async (t) => {
  const queue = await scratchQueue(t);
  const channel = await session.confirmChannel();
  t.after(() => channel.close());
  const acked: number[] = [];
  channel.on("ack", ({ deliveryTag, multiple }) => {
    // A multiple ack confirms everything up to the tag.
    const from = multiple ? (acked.at(-1) ?? 0) + 1 : deliveryTag;
    for (let tag = from; tag <= deliveryTag; tag++) acked.push(tag);
  });
  const nacks: number[] = [];
  channel.on("nack", ({ deliveryTag }) => nacks.push(deliveryTag));
  const results = await Promise.all(
    Array.from(
      { length: 200 },
      (_, index) =>
        new Promise<string>((resolve) =>
          channel.sendToQueue(queue, Buffer.from(`m${index}`), {}, (error) =>
            resolve(error ? "nack" : "ack"),
          ),
        ),
    ),
  );
  assert.ok(results.every((result) => result === "ack"));
  assert.deepEqual(nacks, []);
  assert.deepEqual(
    acked,
    Array.from({ length: 200 }, (_, index) => index + 1),
  );
  const check = await session.channel();
  assert.equal((await check.checkQueue(queue)).messageCount, 200);
  await check.close();
});

test("confirms: an unroutable mandatory publish is returned (312 NO_ROUTE) before its ack", async (t) => {
  const channel = await session.confirmChannel();
  t.after(() => channel.close());
  const events: string[] = [];
  channel.on("return", (message: Message) => {
    const fields = message.fields as Message["fields"] & { replyCode: number; replyText: string };
    events.push(`return ${fields.replyCode} ${fields.replyText} ${message.content.toString()}`);
  });
  const exchange = uniqueName("unroutable");
  await channel.assertExchange(exchange, "direct", { durable: false, autoDelete: false });
  t.after(async () => {
    const cleanup = await session.channel();
    await cleanup.deleteExchange(exchange);
    await cleanup.close();
  });
  await new Promise<void>((resolve, reject) =>
    channel.publish(exchange, "nowhere", Buffer.from("lost"), { mandatory: true }, (error) => {
      events.push(error ? "nack" : "ack");
      if (error) reject(error);
      else resolve();
    }),
  );
  assert.deepEqual(events, ["return 312 NO_ROUTE lost", "ack"]);
  // Without mandatory an unroutable message is just acked and dropped.
  await new Promise<void>((resolve) =>
    channel.publish(exchange, "nowhere", Buffer.from("silent"), {}, () => resolve()),
  );
  assert.deepEqual(events, ["return 312 NO_ROUTE lost", "ack"]);
});

test("confirms: publishing to a missing exchange closes the channel with 404 and fails pending confirms", async () => {
  const channel = await session.confirmChannel();
  const closed = channelClosed(channel);
  const outcome = new Promise<unknown>((resolve) =>
    channel.publish(uniqueName("missing"), "k", Buffer.from("x"), {}, (error) => resolve(error)),
  );
  assert.equal((await closed).code, 404);
  assert.ok(await outcome, "the pending confirm must fail");
});

test("tx: publishes become visible at commit; rollback discards them", async (t) => {
  const queue = await scratchQueue(t);
  const channel = await session.channel();
  t.after(() => channel.close());
  const observer = await session.channel();
  t.after(() => observer.close());
  await tx.select(channel);
  channel.sendToQueue(queue, Buffer.from("a"));
  channel.sendToQueue(queue, Buffer.from("b"));
  // Round trip on the tx channel so the publishes have reached the broker.
  await channel.checkQueue(queue);
  assert.equal((await observer.checkQueue(queue)).messageCount, 0);
  await tx.commit(channel);
  assert.equal((await observer.checkQueue(queue)).messageCount, 2);

  channel.sendToQueue(queue, Buffer.from("c"));
  await tx.rollback(channel);
  await tx.commit(channel); // an empty commit
  assert.deepEqual(await drain(observer, queue), ["a", "b"]);
});

test("tx: acks take effect at commit; rolled-back acks leave the messages unacked", async (t) => {
  const queue = await scratchQueue(t);
  const channel = await session.channel();
  const observer = await session.channel();
  t.after(() => observer.close());
  observer.sendToQueue(queue, Buffer.from("one"));
  observer.sendToQueue(queue, Buffer.from("two"));
  await observer.checkQueue(queue);
  await tx.select(channel);
  const one = await channel.get(queue);
  const two = await channel.get(queue);
  assert.ok(one && two);
  channel.ack(one);
  await tx.rollback(channel);
  channel.ack(two);
  await tx.commit(channel);
  // "one" is still unacked on the tx channel: closing the channel requeues it.
  await channel.close();
  const left = await observer.get(queue, { noAck: true });
  assert.ok(left);
  assert.equal(left.content.toString(), "one");
  assert.equal(left.fields.redelivered, true);
  assert.equal(await observer.get(queue), false);
});

test("tx: confirm.select on a transactional channel is 406", async () => {
  const channel = await session.channel();
  await tx.select(channel);
  const closed = channelClosed(channel);
  await assert.rejects(
    (channel as RpcChannel).rpc(CONFIRM_SELECT, { nowait: false }, CONFIRM_SELECT_OK),
  );
  assert.equal((await closed).code, 406);
});

test("tx: commit without select is 406", async () => {
  const channel = await session.channel();
  const closed = channelClosed(channel);
  await assert.rejects(tx.commit(channel));
  assert.equal((await closed).code, 406);
});
