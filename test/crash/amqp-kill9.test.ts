/**
 * AMQP durability across crashes and restarts, through amqplib:
 * - kill -9 while ConfirmChannels publish persistent messages to a durable queue, in bounded
 *   cycles: every message whose confirm arrived is in the queue after the restart, once;
 * - kill -9 with deliveries outstanding (unacked): after the restart they are delivered
 *   again with redelivered=true;
 * - a clean restart keeps durable queues, durable exchanges and their bindings, and persistent
 *   messages; it drops transient messages, non-durable queues and non-durable exchanges.
 * Against WharfMQ the broker is started here and killed by PID. With WHARF_AMQP_TEST_URL the
 * tests skip unless WHARF_AMQP_TEST_KILL_CMD / WHARF_AMQP_TEST_RESTART_CMD are given (that is
 * how they were validated against RabbitMQ 3.10).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ConfirmChannel, ConsumeMessage } from "amqplib";
import {
  AmqpSession,
  type AmqpTarget,
  drain,
  eventually,
  publishConfirmed,
  rejectsWithCode,
  sleep,
  startAmqpTarget,
  uniqueName,
} from "../helpers/amqp-target.ts";

const cycles = 3;
const publishers = 3;
/** Per cycle: each publisher stops after this many messages even if the kill comes late. */
const messagesPerPublisherMax = 5000;

let target: AmqpTarget;

before(async () => {
  target = await startAmqpTarget();
});

after(async () => {
  await target?.stop();
});

/** Connects, retrying while the broker is still coming up after a restart. */
async function connect(): Promise<AmqpSession> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await AmqpSession.open(target.url);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

test("kill -9 during confirmed publishing loses no confirmed message", {
  timeout: 300_000,
}, async (t) => {
  if (!target.kill) return t.skip("the target cannot be killed");
  const queue = uniqueName("crash-confirms");
  {
    const setup = await connect();
    await (await setup.channel()).assertQueue(queue, { durable: true });
    await setup.close();
  }
  const confirmed = new Set<string>();
  const attempted = new Set<string>();
  for (let cycle = 0; cycle < cycles; cycle++) {
    const session = await connect();
    let stopped = false;
    const publisher = async (index: number) => {
      const channel = await session.confirmChannel();
      for (let sequence = 0; !stopped && sequence < messagesPerPublisherMax; sequence++) {
        const id = `c${cycle}-p${index}-n${sequence}`;
        attempted.add(id);
        // At most 20 unconfirmed per publisher: wait for each batch, as a real app would.
        let closed = false;
        const done = new Promise<void>((resolve) => {
          try {
            channel.sendToQueue(
              queue,
              Buffer.from(id),
              { persistent: true, messageId: id },
              (error) => {
                if (!error) confirmed.add(id);
                resolve();
              },
            );
          } catch {
            closed = true; // amqplib throws once the connection is gone
            resolve();
          }
        });
        if (closed) break;
        if (sequence % 20 === 19) await done;
      }
    };
    const running = Array.from({ length: publishers }, (_, index) =>
      publisher(index).catch(() => {}),
    );
    await sleep(300 + Math.floor(Math.random() * 700));
    const confirmedBeforeKill = confirmed.size;
    await target.kill();
    stopped = true;
    await Promise.all(running);
    await session.close();
    assert.ok(confirmed.size > confirmedBeforeKill - 1, "bookkeeping");
  }
  assert.ok(confirmed.size > 0, "nothing was confirmed: the test proved nothing");

  const reader = await connect();
  t.after(() => reader.close());
  const channel = await reader.channel();
  const seen = new Map<string, number>();
  for (const body of await drain(channel, queue, 10 * publishers * messagesPerPublisherMax)) {
    seen.set(body, (seen.get(body) ?? 0) + 1);
  }
  await channel.deleteQueue(queue);
  const lost = [...confirmed].filter((id) => !seen.has(id));
  assert.deepEqual(
    lost.slice(0, 20),
    [],
    `${lost.length} of ${confirmed.size} confirmed messages lost`,
  );
  const unknown = [...seen.keys()].filter((id) => !attempted.has(id));
  assert.deepEqual(unknown, [], "messages nobody published");
  const duplicated = [...seen].filter(([, count]) => count > 1).map(([id]) => id);
  assert.deepEqual(duplicated.slice(0, 20), [], "a message published once is stored once");
});

test("kill -9 with unacked deliveries: they are redelivered with redelivered=true", {
  timeout: 120_000,
}, async (t) => {
  if (!target.kill) return t.skip("the target cannot be killed");
  const queue = uniqueName("crash-unacked");
  const bodies = Array.from({ length: 10 }, (_, index) => `u${index}`);
  {
    const session = await connect();
    const channel = await session.confirmChannel();
    await channel.assertQueue(queue, { durable: true });
    await publishConfirmed(channel, "", queue, bodies, { persistent: true });
    const consumer = await session.channel();
    await consumer.prefetch(20);
    const got: ConsumeMessage[] = [];
    await consumer.consume(queue, (message) => message && got.push(message));
    await eventually(() => got.length === bodies.length, "deliveries before the crash");
    assert.ok(got.every((message) => !message.fields.redelivered));
    await target.kill();
    await session.close();
  }
  const session = await connect();
  t.after(() => session.close());
  const channel = await session.channel();
  const after: Array<[string, boolean]> = [];
  for (let index = 0; index < bodies.length; index++) {
    const message = await channel.get(queue, { noAck: true });
    assert.ok(message, `message ${index} missing after the restart`);
    after.push([message.content.toString(), message.fields.redelivered]);
  }
  assert.deepEqual(
    after,
    bodies.map((body) => [body, true]),
  );
  assert.equal(await channel.get(queue), false);
  await channel.deleteQueue(queue);
});

test("clean restart keeps durable queues, exchanges, bindings and persistent messages only", {
  timeout: 120_000,
}, async (t) => {
  if (!target.restart) return t.skip("the target cannot be restarted");
  const durableQueue = uniqueName("restart-durable");
  const transientQueue = uniqueName("restart-transient");
  const durableExchange = uniqueName("restart-durable-ex");
  const transientExchange = uniqueName("restart-transient-ex");
  {
    const session = await connect();
    const channel: ConfirmChannel = await session.confirmChannel();
    await channel.assertQueue(durableQueue, { durable: true });
    await channel.assertQueue(transientQueue, { durable: false });
    await channel.assertExchange(durableExchange, "topic", { durable: true });
    await channel.assertExchange(transientExchange, "fanout", { durable: false });
    await channel.bindQueue(durableQueue, durableExchange, "keep.#");
    for (const [body, persistent] of [
      ["p1", true],
      ["t1", false],
      ["p2", true],
      ["t2", false],
      ["p3", true],
    ] as const) {
      channel.publish(durableExchange, "keep.it", Buffer.from(body), { persistent });
      channel.sendToQueue(transientQueue, Buffer.from(body), { persistent });
    }
    await channel.waitForConfirms();
    await session.close();
  }
  await target.restart();
  const session = await connect();
  t.after(() => session.close());
  const channel = await session.confirmChannel();
  assert.deepEqual(await drain(channel, durableQueue), ["p1", "p2", "p3"]);
  await rejectsWithCode((await session.channel()).checkQueue(transientQueue), 404);
  await rejectsWithCode((await session.channel()).checkExchange(transientExchange), 404);
  // The durable exchange and its binding survived: routing still works.
  await publishConfirmed(channel, durableExchange, "keep.again", ["routed"]);
  assert.deepEqual(await drain(channel, durableQueue), ["routed"]);
  await channel.deleteQueue(durableQueue);
  await channel.deleteExchange(durableExchange);
});
