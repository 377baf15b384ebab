/**
 * AMQP queue features through amqplib: durable / transient / exclusive / auto-delete queues,
 * x-expires, message TTL (queue and per message), length limits with each overflow mode,
 * dead-lettering (chains, x-death content, x-dead-letter-routing-key), priorities, single
 * active consumer, consumer priorities, delivery limits, purge, conditional delete and
 * passive declare. Expectations were checked against RabbitMQ 3.10 (classic queues unless
 * said otherwise); see test/helpers/amqp-target.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Channel, ConfirmChannel, ConsumeMessage, Message } from "amqplib";
import {
  AmqpSession,
  type AmqpTarget,
  drain,
  eventually,
  publishConfirmed,
  rejectsWithCode,
  sleep,
  uniqueName,
  useAmqpSuite,
  wharfOnly,
} from "../helpers/amqp-target.ts";

let target: AmqpTarget;
let session: AmqpSession;
let channel: ConfirmChannel;

useAmqpSuite(async (started, opened) => {
  target = started;
  session = opened;
  channel = await opened.confirmChannel();
});

/** Declares a queue that the test deletes afterwards. */
async function declare(
  t: { after: (fn: () => Promise<unknown>) => void },
  prefix: string,
  options: Record<string, unknown> = {},
): Promise<string> {
  const queue = uniqueName(prefix);
  await channel.assertQueue(queue, { durable: false, ...options });
  t.after(async () => {
    const cleanup = await session.channel();
    await cleanup.deleteQueue(queue);
    await cleanup.close();
  });
  return queue;
}

async function declareExchange(
  t: { after: (fn: () => Promise<unknown>) => void },
  prefix: string,
  type: string,
): Promise<string> {
  const exchange = uniqueName(prefix);
  await channel.assertExchange(exchange, type, { durable: false });
  t.after(async () => {
    const cleanup = await session.channel();
    await cleanup.deleteExchange(exchange);
    await cleanup.close();
  });
  return exchange;
}

/** Starts a consumer that records deliveries (without acking) on its own channel. */
async function recorder(
  queue: string,
  options: { prefetch?: number; priority?: number; noAck?: boolean } = {},
): Promise<{ channel: Channel; tag: string; got: ConsumeMessage[] }> {
  const own = await session.channel();
  if (options.prefetch !== undefined) await own.prefetch(options.prefetch);
  const got: ConsumeMessage[] = [];
  const { consumerTag } = await own.consume(
    queue,
    (message) => {
      if (message) got.push(message);
    },
    {
      noAck: options.noAck ?? false,
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
    },
  );
  return { channel: own, tag: consumerTag, got };
}

/** The x-death header of a dead-lettered message (fails the test when it is missing). */
function xDeath(message: Message): Array<Record<string, unknown>> {
  const deaths: unknown = message.properties.headers?.["x-death"];
  assert.ok(Array.isArray(deaths), "no x-death header");
  return deaths as Array<Record<string, unknown>>;
}

const bodies = (messages: ConsumeMessage[]) => messages.map((m) => m.content.toString());

test("durable and transient queues: declare-ok counts, passive declare, 404 when missing", async (t) => {
  const durable = uniqueName("durable");
  await channel.assertQueue(durable, { durable: true });
  t.after(() => channel.deleteQueue(durable));
  const transient = await declare(t, "transient");
  await publishConfirmed(channel, "", durable, ["d1", "d2"], { persistent: true });
  await publishConfirmed(channel, "", transient, ["t1"]);
  const again = await channel.assertQueue(durable, { durable: true });
  assert.deepEqual(again, { queue: durable, messageCount: 2, consumerCount: 0 });
  assert.deepEqual(await channel.checkQueue(transient), {
    queue: transient,
    messageCount: 1,
    consumerCount: 0,
  });
  const other = await session.channel();
  await rejectsWithCode(other.checkQueue(uniqueName("missing")), 404);
});

test("server-named queue: amq.gen- prefix, unique per declare", async (t) => {
  const first = await channel.assertQueue("", { exclusive: true });
  const second = await channel.assertQueue("", { exclusive: true });
  t.after(async () => {
    await channel.deleteQueue(first.queue);
    await channel.deleteQueue(second.queue);
  });
  assert.match(first.queue, /^amq\.gen-/);
  assert.notEqual(first.queue, second.queue);
});

test("exclusive queue: other connections get 405, it is deleted with its connection", async () => {
  const owner = await AmqpSession.open(target.url);
  const ownerChannel = await owner.channel();
  const queue = uniqueName("exclusive");
  await ownerChannel.assertQueue(queue, { exclusive: true });
  await ownerChannel.sendToQueue(queue, Buffer.from("x"));

  const outsider = await AmqpSession.open(target.url);
  try {
    await rejectsWithCode((await outsider.channel()).checkQueue(queue), 405);
    await rejectsWithCode(
      (await outsider.channel()).consume(queue, () => {}),
      405,
    );
    await rejectsWithCode((await outsider.channel()).get(queue), 405);
    await rejectsWithCode((await outsider.channel()).deleteQueue(queue), 405);
    await owner.close();
    await eventually(async () => {
      try {
        await (await outsider.channel()).checkQueue(queue);
        return false;
      } catch (error) {
        return (error as { code?: number }).code === 404;
      }
    }, "the exclusive queue to go away with its connection");
  } finally {
    await outsider.close();
  }
});

test("auto-delete queue: kept until its first consumer, deleted when the last one cancels", async () => {
  const queue = uniqueName("autodelete");
  await channel.assertQueue(queue, { durable: false, autoDelete: true });
  await sleep(100);
  await channel.checkQueue(queue); // never had a consumer: still there
  const first = await recorder(queue);
  const second = await recorder(queue);
  await first.channel.cancel(first.tag);
  await channel.checkQueue(queue); // one consumer left
  await second.channel.cancel(second.tag);
  await eventually(async () => {
    const probe = await session.channel();
    try {
      await probe.checkQueue(queue);
      await probe.close();
      return false;
    } catch (error) {
      return (error as { code?: number }).code === 404;
    }
  }, "the auto-delete queue to be deleted");
  await first.channel.close();
  await second.channel.close();
});

test("x-expires deletes an unused queue; use keeps it alive", async () => {
  const unused = uniqueName("expires");
  await channel.assertQueue(unused, { durable: false, arguments: { "x-expires": 300 } });
  // Any declare (passive too), get or consume counts as use and restarts the timer, so the
  // test waits without touching the queue, then looks once (RabbitMQ behaves so).
  await sleep(1200);
  await rejectsWithCode((await session.channel()).checkQueue(unused), 404);

  const consumed = uniqueName("expires-consumed");
  await channel.assertQueue(consumed, { durable: false, arguments: { "x-expires": 300 } });
  const consumer = await recorder(consumed);
  await sleep(800); // a queue with a consumer is in use: it must not expire
  await channel.checkQueue(consumed);
  await consumer.channel.close();
  await channel.deleteQueue(consumed);
});

test("x-message-ttl and per-message expiration drop expired messages", async (t) => {
  const withTtl = await declare(t, "ttl", { arguments: { "x-message-ttl": 150 } });
  await publishConfirmed(channel, "", withTtl, ["old"]);
  await sleep(400);
  await publishConfirmed(channel, "", withTtl, ["fresh"]);
  assert.deepEqual(await drain(channel, withTtl), ["fresh"]);

  const plain = await declare(t, "per-message-ttl");
  channel.sendToQueue(plain, Buffer.from("short"), { expiration: "100" });
  channel.sendToQueue(plain, Buffer.from("long"), { expiration: "60000" });
  channel.sendToQueue(plain, Buffer.from("forever"));
  channel.sendToQueue(plain, Buffer.from("zero"), { expiration: "0" });
  await channel.waitForConfirms();
  await sleep(300);
  const got = await channel.get(plain, { noAck: true });
  assert.ok(got);
  // RabbitMQ drops expired messages at the head; "short" expired, "long" keeps its header.
  assert.equal(got.content.toString(), "long");
  assert.equal(got.properties.expiration, "60000");
  assert.deepEqual(await drain(channel, plain), ["forever"]);

  // The lower of queue TTL and message TTL applies.
  const both = await declare(t, "ttl-min", { arguments: { "x-message-ttl": 100 } });
  await publishConfirmed(channel, "", both, ["capped"], { expiration: "60000" });
  await sleep(300);
  assert.deepEqual(await drain(channel, both), []);
});

test("x-max-length and x-max-length-bytes drop from the head by default", async (t) => {
  const byCount = await declare(t, "maxlen", { arguments: { "x-max-length": 3 } });
  await publishConfirmed(channel, "", byCount, ["1", "2", "3", "4", "5"]);
  assert.deepEqual(await drain(channel, byCount), ["3", "4", "5"]);

  const byBytes = await declare(t, "maxbytes", {
    arguments: { "x-max-length-bytes": 10, "x-overflow": "drop-head" },
  });
  await publishConfirmed(channel, "", byBytes, ["aaaa", "bbbb", "cccc", "dddd"]);
  assert.deepEqual(await drain(channel, byBytes), ["cccc", "dddd"]);

  // x-max-length 0: nothing is kept.
  const zero = await declare(t, "maxlen-zero", { arguments: { "x-max-length": 0 } });
  await publishConfirmed(channel, "", zero, ["gone"]);
  assert.deepEqual(await drain(channel, zero), []);
});

test("x-overflow reject-publish: the publish past the limit is nacked, the queue keeps the oldest", async (t) => {
  const queue = await declare(t, "reject-publish", {
    arguments: { "x-max-length": 2, "x-overflow": "reject-publish" },
  });
  const outcomes: string[] = [];
  await new Promise<void>((resolve) => {
    let pending = 3;
    for (const body of ["1", "2", "3"]) {
      channel.sendToQueue(queue, Buffer.from(body), {}, (error) => {
        outcomes.push(`${body}:${error ? "nack" : "ack"}`);
        if (--pending === 0) resolve();
      });
    }
  });
  assert.deepEqual(outcomes.sort(), ["1:ack", "2:ack", "3:nack"]);
  assert.deepEqual(await drain(channel, queue), ["1", "2"]);
  // Room again: accepted.
  await publishConfirmed(channel, "", queue, ["4"]);
  assert.deepEqual(await drain(channel, queue), ["4"]);
});

test("x-overflow reject-publish-dlx: nacked and dead-lettered with reason maxlen", async (t) => {
  const dlx = await declareExchange(t, "rp-dlx", "fanout");
  const dead = await declare(t, "rp-dead");
  await channel.bindQueue(dead, dlx, "");
  const queue = await declare(t, "reject-publish-dlx", {
    arguments: {
      "x-max-length": 1,
      "x-overflow": "reject-publish-dlx",
      "x-dead-letter-exchange": dlx,
    },
  });
  await publishConfirmed(channel, "", queue, ["kept"]);
  await assert.rejects(publishConfirmed(channel, "", queue, ["over"]));
  assert.deepEqual(await drain(channel, queue), ["kept"]);
  await eventually(async () => (await channel.checkQueue(dead)).messageCount === 1, "dead letter");
  const got = await channel.get(dead, { noAck: true });
  assert.ok(got);
  assert.equal(got.content.toString(), "over");
  const death = xDeath(got)[0];
  assert.equal(death.reason, "maxlen");
  assert.equal(death.queue, queue);
});

test("dead-letter chain: x-death lists each hop newest first with queue, reason, count, exchange, routing-keys", async (t) => {
  const hop = await declareExchange(t, "dlx-hop", "direct");
  const final = await declareExchange(t, "dlx-final", "topic");
  const third = await declare(t, "dl-third");
  await channel.bindQueue(third, final, "#");
  const second = await declare(t, "dl-second", {
    arguments: { "x-message-ttl": 50, "x-dead-letter-exchange": final },
  });
  await channel.bindQueue(second, hop, "to-second");
  const first = await declare(t, "dl-first", {
    arguments: {
      "x-dead-letter-exchange": hop,
      "x-dead-letter-routing-key": "to-second",
    },
  });
  await publishConfirmed(channel, "", first, ["payload"], {
    headers: { app: "kept" },
    messageId: "m-1",
  });
  // Reject (not requeued) out of the first queue, TTL out of the second.
  const fromFirst = await channel.get(first);
  assert.ok(fromFirst);
  channel.nack(fromFirst, false, false);
  await eventually(async () => (await channel.checkQueue(third)).messageCount === 1, "third hop");
  const got = await channel.get(third, { noAck: true });
  assert.ok(got);
  assert.equal(got.content.toString(), "payload");
  assert.equal(got.properties.messageId, "m-1");
  // Dead-lettered with the second queue's routing key (set by x-dead-letter-routing-key).
  assert.equal(got.fields.routingKey, "to-second");
  assert.equal(got.fields.exchange, final);
  const headers = got.properties.headers ?? {};
  assert.equal(headers.app, "kept");
  const deaths = xDeath(got).map((death) => ({
    queue: death.queue,
    reason: death.reason,
    count: death.count,
    exchange: death.exchange,
    "routing-keys": death["routing-keys"],
  }));
  assert.deepEqual(deaths, [
    { queue: second, reason: "expired", count: 1, exchange: hop, "routing-keys": ["to-second"] },
    { queue: first, reason: "rejected", count: 1, exchange: "", "routing-keys": [first] },
  ]);
  assert.equal(headers["x-first-death-queue"], first);
  assert.equal(headers["x-first-death-reason"], "rejected");
  assert.equal(headers["x-first-death-exchange"], "");
});

test("dead-lettering the same message twice from one queue increments x-death count", async (t) => {
  const queue = uniqueName("dl-loop");
  await channel.assertQueue(queue, {
    durable: false,
    // Rejected messages go back to this same queue through the default exchange.
    arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue },
  });
  t.after(() => channel.deleteQueue(queue));
  await publishConfirmed(channel, "", queue, ["looping"]);
  for (let round = 1; round <= 2; round++) {
    let message: Awaited<ReturnType<Channel["get"]>> = false;
    await eventually(async () => {
      message = await channel.get(queue);
      return message !== false;
    }, `round ${round}`);
    assert.ok(message);
    channel.reject(message, false);
  }
  let last: Awaited<ReturnType<Channel["get"]>> = false;
  await eventually(async () => {
    last = await channel.get(queue, { noAck: true });
    return last !== false;
  }, "third round");
  assert.ok(last);
  const deaths = xDeath(last as ConsumeMessage);
  assert.equal(deaths.length, 1);
  assert.equal(deaths[0].count, 2);
  assert.equal(deaths[0].reason, "rejected");
  assert.equal(deaths[0].queue, queue);
});

test("x-max-priority: higher priority first, FIFO within a priority, above max counts as max", async (t) => {
  const queue = await declare(t, "priority", { arguments: { "x-max-priority": 5 } });
  const published: Array<[string, number | undefined]> = [
    ["p1-a", 1],
    ["none-a", undefined],
    ["p5-a", 5],
    ["p9", 9],
    ["p3", 3],
    ["p1-b", 1],
    ["p0", 0],
    ["p5-b", 5],
    ["none-b", undefined],
  ];
  for (const [body, priority] of published) {
    channel.sendToQueue(queue, Buffer.from(body), priority === undefined ? {} : { priority });
  }
  await channel.waitForConfirms();
  assert.deepEqual(await drain(channel, queue), [
    "p5-a",
    "p9",
    "p5-b",
    "p3",
    "p1-a",
    "p1-b",
    "none-a",
    "p0",
    "none-b",
  ]);

  // A consumer with prefetch 1 also sees the highest priority first.
  await publishConfirmed(channel, "", queue, ["low"], { priority: 1 });
  await publishConfirmed(channel, "", queue, ["high"], { priority: 4 });
  const consumer = await recorder(queue, { prefetch: 1 });
  await eventually(() => consumer.got.length === 1, "first delivery");
  assert.equal(consumer.got[0].content.toString(), "high");
  consumer.channel.ack(consumer.got[0]);
  await eventually(() => consumer.got.length === 2, "second delivery");
  assert.equal(consumer.got[1].content.toString(), "low");
  consumer.channel.ack(consumer.got[1]);
  await consumer.channel.close();
});

test("x-single-active-consumer: one consumer gets everything until it cancels, then the next", async (t) => {
  const queue = await declare(t, "sac", { arguments: { "x-single-active-consumer": true } });
  const first = await recorder(queue, { prefetch: 10 });
  const second = await recorder(queue, { prefetch: 10 });
  await publishConfirmed(channel, "", queue, ["a", "b", "c"]);
  await eventually(() => first.got.length === 3, "active consumer deliveries");
  await sleep(100);
  assert.equal(second.got.length, 0);
  assert.equal((await channel.checkQueue(queue)).consumerCount, 2);
  // Cancelling the active consumer with unacked messages: they go to the next one.
  await first.channel.cancel(first.tag);
  await first.channel.close();
  await publishConfirmed(channel, "", queue, ["d"]);
  await eventually(() => second.got.length === 4, "failover deliveries");
  assert.deepEqual(bodies(second.got).sort(), ["a", "b", "c", "d"]);
  assert.deepEqual(
    second.got
      .filter((m) => m.fields.redelivered)
      .map((m) => m.content.toString())
      .sort(),
    ["a", "b", "c"],
  );
  await second.channel.close();
});

test("consumer priorities: the highest-priority consumer with capacity gets the message", async (t) => {
  const queue = await declare(t, "consumer-priority");
  const low = await recorder(queue, { prefetch: 1, priority: 1 });
  const high = await recorder(queue, { prefetch: 2, priority: 10 });
  const middle = await recorder(queue, { prefetch: 1, priority: 5 });
  await publishConfirmed(channel, "", queue, ["1", "2", "3", "4", "5"]);
  await eventually(
    () => low.got.length + high.got.length + middle.got.length === 4,
    "4 deliveries",
  );
  await sleep(100);
  assert.deepEqual(bodies(high.got), ["1", "2"]);
  assert.deepEqual(bodies(middle.got), ["3"]);
  assert.deepEqual(bodies(low.got), ["4"]);
  // Capacity frees up at the high-priority consumer: it gets the last message.
  high.channel.ack(high.got[0]);
  await eventually(() => high.got.length === 3, "fifth delivery");
  assert.equal(high.got[2].content.toString(), "5");
  for (const consumer of [low, high, middle]) await consumer.channel.close();
});

/**
 * x-delivery-limit: a message returned to the queue more often than the limit is
 * dead-lettered (reason delivery_limit) instead of being delivered again; x-delivery-count
 * says how often it was returned. Checked on RabbitMQ with a quorum queue, the only kind
 * that has the argument in 3.10; WharfMQ accepts it on classic queues too (next test).
 */
async function deliveryLimitScenario(
  t: { after: (fn: () => Promise<unknown>) => void },
  queueArguments: Record<string, unknown>,
  durable: boolean,
): Promise<void> {
  const dlx = await declareExchange(t, "dlimit-dlx", "fanout");
  const dead = await declare(t, "dlimit-dead");
  await channel.bindQueue(dead, dlx, "");
  const queue = uniqueName("dlimit");
  await channel.assertQueue(queue, {
    durable,
    arguments: { ...queueArguments, "x-delivery-limit": 2, "x-dead-letter-exchange": dlx },
  });
  t.after(() => channel.deleteQueue(queue));
  await publishConfirmed(channel, "", queue, ["poison"]);
  const counts: unknown[] = [];
  for (;;) {
    let message: Awaited<ReturnType<Channel["get"]>> = false;
    const deadline = Date.now() + 2000;
    while (message === false && Date.now() < deadline) {
      message = await channel.get(queue);
      if (message === false) await sleep(20);
    }
    if (message === false) break;
    counts.push(message.properties.headers?.["x-delivery-count"]);
    channel.nack(message, false, true);
    assert.ok(counts.length <= 5, "the delivery limit was not enforced");
  }
  assert.equal(counts.length, 3, "delivered once plus two redeliveries, then dead-lettered");
  await eventually(async () => (await channel.checkQueue(dead)).messageCount === 1, "dead letter");
  const got = await channel.get(dead, { noAck: true });
  assert.ok(got);
  const death = xDeath(got)[0];
  assert.equal(death.reason, "delivery_limit");
  assert.equal(death.queue, queue);
  // Delivered three times: x-delivery-count 0 (RabbitMQ 3.10 sets it; later versions omit
  // it on the first delivery, so both are accepted), then after one and two returns.
  assert.ok(counts[0] === 0 || counts[0] === undefined, `first count ${String(counts[0])}`);
  assert.deepEqual(counts.slice(1), [1, 2]);
}

test("x-delivery-limit on a quorum queue dead-letters after the limit", async (t) => {
  await deliveryLimitScenario(t, { "x-queue-type": "quorum" }, true);
});

// RabbitMQ 3.10 ignores x-delivery-limit on classic queues (quorum only), so this variant
// cannot be validated there: it checks WharfMQ's classic-queue support of the same contract.
test("x-delivery-limit on a classic queue (WharfMQ)", { skip: wharfOnly }, async (t) => {
  await deliveryLimitScenario(t, {}, false);
});

test("purge returns the count and empties the queue; unacked deliveries are not purged", async (t) => {
  const queue = await declare(t, "purge");
  await publishConfirmed(channel, "", queue, ["1", "2", "3", "4"]);
  const held = await channel.get(queue); // unacked: not counted, not purged
  assert.ok(held);
  assert.deepEqual(await channel.purgeQueue(queue), { messageCount: 3 });
  assert.equal((await channel.checkQueue(queue)).messageCount, 0);
  channel.nack(held, false, true);
  await eventually(async () => (await channel.checkQueue(queue)).messageCount === 1, "requeue");
  assert.deepEqual(await drain(channel, queue), ["1"]);
});

test("queue.delete if-unused / if-empty: 406 when the condition fails, count when it holds", async () => {
  const queue = uniqueName("delete-if");
  await channel.assertQueue(queue, { durable: false });
  await publishConfirmed(channel, "", queue, ["m"]);
  await rejectsWithCode((await session.channel()).deleteQueue(queue, { ifEmpty: true }), 406);
  const consumer = await recorder(queue, { noAck: true });
  await eventually(() => consumer.got.length === 1, "delivery");
  await rejectsWithCode((await session.channel()).deleteQueue(queue, { ifUnused: true }), 406);
  await consumer.channel.close();
  await publishConfirmed(channel, "", queue, ["a", "b"]);
  assert.deepEqual(await channel.deleteQueue(queue, { ifUnused: true }), { messageCount: 2 });
  // Deleting a queue that does not exist is not an error.
  assert.deepEqual(await channel.deleteQueue(queue), { messageCount: 0 });
});
