/** The classic queue engine on a real LogStore: delivery, settlement, limits, recovery. */
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import {
  appendQueueBytesMax,
  queueAckHolesMax,
  queueReadAheadMessages,
  queueReadChunkBytes,
} from "../../config/limits.ts";
import { isRoutingError } from "../routing/types.ts";
import { publish, QueueKit, settleDown, TestConsumer, text, waitFor } from "./queue-test-kit.ts";
import type { QueueConsumer, QueuedMessage } from "./queue-types.ts";

let kit: QueueKit;

beforeEach(() => {
  kit = new QueueKit();
});
afterEach(async () => {
  await kit.cleanup();
});

const numbered = (count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => `m${from + i}`);

test("messages are delivered in order, also past the in-memory window", async () => {
  const queue = await kit.open();
  const count = queueReadAheadMessages * 2 + 100;
  for (const body of numbered(count)) assert.equal(publish(queue, body).accepted, true);
  assert.equal(queue.messagesReady, count);
  const consumer = new TestConsumer("c", { noAck: true }).subscribe(queue);
  await waitFor(() => consumer.received.length === count, "all deliveries");
  assert.deepEqual(consumer.texts(), numbered(count));
  assert.equal(queue.messagesReady, 0);
  assert.equal(queue.messagesUnacknowledged, 0);
  assert.ok(consumer.received.every((m) => !m.redelivered && m.exchange === "ex"));
});

test("a transient flood larger than the log's append queue is written in bounded appends, none lost", async () => {
  // bench/amqp transient: publishers outran the lane log's opening; every enqueue of those
  // turns went into one append larger than the append queue (WHARF_BATCH_TOO_LARGE), which
  // failed them all, silently (transient, no confirm): the consumer stopped at what it had.
  const queue = await kit.open();
  const body = Buffer.alloc(1024 * 1024, 0x78); // shared: the test holds 1 MiB, not the flood
  const count = Math.ceil((appendQueueBytesMax * 1.25) / body.length);
  const waits: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const result = queue.enqueue({
      exchange: "",
      routingKey: `k${i}`,
      propertiesBytes: Buffer.from([0, 0]),
      body,
      persistent: false,
      priority: 0,
      expirationMs: undefined,
    });
    assert.equal(result.accepted, true);
    if (result.durable) waits.push(result.durable);
  }
  const consumer = new TestConsumer("c", { noAck: true }).subscribe(queue);
  // Done when everything arrived, or when messages went missing (a failed append).
  await waitFor(
    () => consumer.received.length + queue.messagesReady < count || queue.messagesReady === 0,
    "every delivery",
    20_000,
  );
  assert.equal(consumer.received.length, count, "messages lost");
  assert.deepEqual(
    consumer.received.map((m) => m.routingKey),
    Array.from({ length: count }, (_, i) => `k${i}`),
  );
  // Back-pressure: once megabytes wait for the log, transient enqueues get a promise too.
  assert.ok(waits.length > count / 2, `${waits.length} of ${count} enqueues wait for the log`);
  await Promise.all(waits);
});

test("messages read back into the window do not keep whole read chunks alive", async () => {
  const queue = await kit.open();
  const count = queueReadAheadMessages * 6;
  const bodies = numbered(count).map((body) => body.padEnd(100, "."));
  for (const body of bodies) publish(queue, body, { persistent: false });
  await settleDown();
  const consumer = new TestConsumer("c", { prefetch: 100 }).subscribe(queue);
  for (let acked = 0; acked < count; ) {
    await waitFor(() => consumer.received.length > acked, "a delivery");
    for (; acked < consumer.received.length; acked++) consumer.settle(consumer.received[acked]!);
  }
  assert.deepEqual(consumer.texts(), bodies);
  // Past the first window every message was read from the log in 256 KiB chunks; a few bytes
  // of message must not pin such a chunk while they wait in the window or unacked.
  const loaded = consumer.received.slice(queueReadAheadMessages);
  const pinned = loaded.filter((m) => m.body.buffer.byteLength >= queueReadChunkBytes / 2);
  assert.equal(pinned.length, 0, `${pinned.length} messages pin a read chunk`);
});

test("ack settles; reject with requeue redelivers first with redelivered=true", async () => {
  const queue = await kit.open();
  for (const body of ["a", "b", "c"]) publish(queue, body);
  const first = await queue.get(false);
  assert.ok(first);
  assert.equal(text(first.message), "a");
  assert.equal(first.messageCount, 2);
  assert.equal(queue.messagesUnacknowledged, 1);
  const second = await queue.get(false);
  assert.equal(text(second!.message), "b");
  queue.reject(second!.message.id, true);
  queue.reject(first.message.id, true);
  assert.equal(queue.messagesReady, 3);
  const again = [await queue.get(false), await queue.get(false), await queue.get(false)];
  assert.deepEqual(
    again.map((r) => [text(r!.message), r!.message.redelivered]),
    [
      ["a", true],
      ["b", true],
      ["c", false],
    ],
  );
  for (const r of again) queue.ack(r!.message.id);
  queue.ack(again[0]!.message.id); // a second ack of the same id is ignored
  assert.equal(queue.messagesUnacknowledged, 0);
  assert.equal(await queue.get(false), null);
});

test("prefetch: a consumer gets only what canTake allows, more after acks", async () => {
  const queue = await kit.open();
  for (const body of numbered(5)) publish(queue, body);
  const consumer = new TestConsumer("c", { prefetch: 2 }).subscribe(queue);
  await waitFor(() => consumer.received.length === 2, "two deliveries");
  await settleDown();
  assert.equal(consumer.received.length, 2);
  assert.equal(queue.messagesUnacknowledged, 2);
  assert.equal(queue.messagesReady, 3);
  consumer.settle(consumer.received[0]!);
  await waitFor(() => consumer.received.length === 3, "a third delivery");
  await settleDown();
  assert.equal(consumer.received.length, 3);
  assert.deepEqual(consumer.texts(), ["m0", "m1", "m2"]);
});

test("competing consumers share the messages round robin", async () => {
  const queue = await kit.open();
  const one = new TestConsumer("one").subscribe(queue);
  const two = new TestConsumer("two").subscribe(queue);
  for (const body of numbered(10)) publish(queue, body);
  await waitFor(() => one.received.length + two.received.length === 10, "ten deliveries");
  assert.deepEqual(one.texts(), ["m0", "m2", "m4", "m6", "m8"]);
  assert.deepEqual(two.texts(), ["m1", "m3", "m5", "m7", "m9"]);
  assert.equal(queue.consumerCount, 2);
});

test("higher-priority consumers are served first while they have room", async () => {
  const queue = await kit.open();
  const low = new TestConsumer("low").subscribe(queue);
  const high = new TestConsumer("high", { prefetch: 3, priority: 10 }).subscribe(queue);
  for (const body of numbered(8)) publish(queue, body);
  await waitFor(() => low.received.length + high.received.length === 8, "eight deliveries");
  assert.deepEqual(high.texts(), ["m0", "m1", "m2"]);
  assert.deepEqual(low.texts(), ["m3", "m4", "m5", "m6", "m7"]);
});

test("single active consumer: only the first gets messages; the next takes over", async () => {
  const queue = await kit.open({ "x-single-active-consumer": true });
  const first = new TestConsumer("first", { prefetch: 2 }).subscribe(queue);
  const second = new TestConsumer("second").subscribe(queue);
  for (const body of numbered(5)) publish(queue, body);
  await waitFor(() => first.received.length === 2, "first consumer's deliveries");
  await settleDown();
  assert.equal(second.received.length, 0, "the standby consumer gets nothing");
  first.registration!.cancel();
  await waitFor(() => second.received.length === 3, "failover deliveries");
  assert.deepEqual(second.texts(), ["m2", "m3", "m4"]);
  // The old consumer's unacked messages stay with it until it gives them back.
  assert.equal(queue.messagesUnacknowledged, 5);
  first.settle(first.received[0]!, "requeue");
  await waitFor(() => second.received.length === 4, "the requeued message");
  assert.equal(text(second.received[3]!), "m0");
  assert.equal(second.received[3]!.redelivered, true);
});

test("exclusive consumers refuse others with ACCESS_REFUSED", async () => {
  const queue = await kit.open();
  const owner = new TestConsumer("owner").subscribe(queue, true);
  assert.throws(
    () => queue.consume(new TestConsumer("other"), { exclusive: false }),
    (error: unknown) =>
      isRoutingError(error, "ACCESS_REFUSED") &&
      error.message === "queue 'q' in vhost '/' in exclusive use",
  );
  owner.registration!.cancel();
  assert.equal(kit.unused, 1, "the last consumer leaving reports the queue unused");
  const plain = new TestConsumer("plain").subscribe(queue);
  assert.throws(() => queue.consume(new TestConsumer("x"), { exclusive: true }), /exclusive use/);
  plain.registration!.cancel();
});

test("priority lanes: higher priorities first, FIFO within a lane", async () => {
  const queue = await kit.open({ "x-max-priority": 5 });
  const input: Array<[string, number]> = [
    ["p0-a", 0],
    ["p5-a", 5],
    ["p3-a", 3],
    ["p9-clamped", 9],
    ["p1-a", 1],
    ["p3-b", 3],
  ];
  for (const [body, priority] of input) publish(queue, body, { priority });
  const order: string[] = [];
  for (let r = await queue.get(true); r; r = await queue.get(true)) order.push(text(r.message));
  assert.deepEqual(order, ["p5-a", "p9-clamped", "p3-a", "p3-b", "p1-a", "p0-a"]);
});

test("queue TTL: expired heads are dead-lettered 'expired' instead of delivered", async () => {
  const queue = await kit.open(
    { "x-message-ttl": 100, "x-dead-letter-exchange": "dlx" },
    { fakeClock: true },
  );
  publish(queue, "old");
  kit.clock += 50;
  publish(queue, "young");
  kit.clock += 60; // "old" is 110 ms old, "young" 60 ms
  const got = await queue.get(true);
  assert.equal(text(got!.message), "young");
  assert.deepEqual(
    kit.deadLetters.map((d) => [d.reason, d.body.toString(), d.queue, d.routingKey]),
    [["expired", "old", "q", "rk"]],
  );
});

test("per-message expiration takes the smaller of message and queue TTL", async () => {
  const queue = await kit.open({ "x-message-ttl": 1000 }, { fakeClock: true });
  publish(queue, "short", { expirationMs: 10 });
  publish(queue, "long", { expirationMs: 5000 });
  kit.clock += 500;
  const got = await queue.get(true);
  assert.equal(text(got!.message), "long");
  assert.equal(kit.deadLetters.length, 0, "without a DLX, expired messages are dropped");
  publish(queue, "later", { expirationMs: 5000 });
  kit.clock += 1001; // the queue TTL (1000) wins over 5000
  queue.checkExpiry();
  await settleDown();
  assert.equal(queue.messagesReady, 0);
});

test("a timer expires the heads of a queue without consumers", async () => {
  const queue = await kit.open({ "x-message-ttl": 30, "x-dead-letter-exchange": "dlx" });
  for (const body of numbered(3)) publish(queue, body);
  await waitFor(() => queue.messagesReady === 0, "expiry by timer", 3_000);
  assert.deepEqual(
    kit.deadLetters.map((d) => d.reason),
    ["expired", "expired", "expired"],
  );
});

test("x-overflow drop-head dead-letters the oldest with 'maxlen'", async () => {
  const queue = await kit.open({ "x-max-length": 3, "x-dead-letter-exchange": "dlx" });
  for (const body of numbered(5)) assert.equal(publish(queue, body).accepted, true);
  assert.equal(queue.messagesReady, 3);
  assert.deepEqual(
    kit.deadLetters.map((d) => [d.reason, d.body.toString()]),
    [
      ["maxlen", "m0"],
      ["maxlen", "m1"],
    ],
  );
  const rest: string[] = [];
  for (let r = await queue.get(true); r; r = await queue.get(true)) rest.push(text(r.message));
  assert.deepEqual(rest, ["m2", "m3", "m4"]);
});

test("x-max-length-bytes drops from the head until the bodies fit", async () => {
  const queue = await kit.open({ "x-max-length-bytes": 10 });
  publish(queue, "aaaa");
  publish(queue, "bbbb");
  publish(queue, "cccc"); // 12 bytes > 10: "aaaa" goes
  assert.equal(queue.messagesReady, 2);
  assert.equal(queue.bytesReady, 8);
  assert.equal(text((await queue.get(true))!.message), "bbbb");
});

test("x-overflow reject-publish refuses new messages without dead-lettering", async () => {
  const queue = await kit.open({
    "x-max-length": 2,
    "x-overflow": "reject-publish",
    "x-dead-letter-exchange": "dlx",
  });
  assert.equal(publish(queue, "a").accepted, true);
  assert.equal(publish(queue, "b").accepted, true);
  const refused = publish(queue, "c");
  assert.equal(refused.accepted, false);
  assert.equal(refused.durable, null);
  assert.equal(kit.deadLetters.length, 0);
  assert.equal(queue.messagesReady, 2);
  await queue.get(true);
  assert.equal(publish(queue, "d").accepted, true, "room again after a delivery");
});

test("x-overflow reject-publish-dlx refuses and dead-letters the new message", async () => {
  const queue = await kit.open({
    "x-max-length": 1,
    "x-overflow": "reject-publish-dlx",
    "x-dead-letter-exchange": "dlx",
  });
  assert.equal(publish(queue, "kept").accepted, true);
  assert.equal(publish(queue, "refused").accepted, false);
  assert.deepEqual(
    kit.deadLetters.map((d) => [d.reason, d.body.toString()]),
    [["maxlen", "refused"]],
  );
});

test("reject without requeue dead-letters 'rejected' (or drops without a DLX)", async () => {
  const withDlx = await kit.open({ "x-dead-letter-exchange": "dlx" });
  publish(withDlx, "bad", { routingKey: "orders" });
  const got = await withDlx.get(false);
  withDlx.reject(got!.message.id, false);
  assert.deepEqual(
    kit.deadLetters.map((d) => [d.reason, d.body.toString(), d.routingKey, d.exchange]),
    [["rejected", "bad", "orders", "ex"]],
  );
  assert.equal(withDlx.messagesUnacknowledged, 0);
  assert.equal(withDlx.messagesReady, 0);
});

test("x-delivery-limit: a message returned more often is dead-lettered 'delivery_limit'", async () => {
  const queue = await kit.open({ "x-delivery-limit": 1, "x-dead-letter-exchange": "dlx" });
  publish(queue, "poison");
  const first = await queue.get(false);
  queue.reject(first!.message.id, true);
  assert.equal(first!.message.deliveryCount, 0);
  const second = await queue.get(false);
  assert.equal(second!.message.redelivered, true);
  assert.equal(second!.message.deliveryCount, 1, "x-delivery-count: returned once");
  queue.reject(second!.message.id, true);
  assert.equal(await queue.get(false), null);
  assert.deepEqual(
    kit.deadLetters.map((d) => d.reason),
    ["delivery_limit"],
  );
});

test("restart: acked gone, unacked redelivered, transient dropped", async () => {
  let queue = await kit.open({}, { durable: true });
  const results = [
    publish(queue, "p1"),
    publish(queue, "t1", { persistent: false }),
    publish(queue, "p2"),
    publish(queue, "p3"),
    publish(queue, "t2", { persistent: false }),
    publish(queue, "p4"),
  ];
  assert.equal(results[1]!.durable, null, "transient messages have nothing to wait for");
  await Promise.all(results.map((r) => r.durable));
  const p1 = await queue.get(false);
  const t1 = await queue.get(false);
  const p2 = await queue.get(false);
  assert.deepEqual(
    [p1, t1, p2].map((r) => text(r!.message)),
    ["p1", "t1", "p2"],
  );
  queue.ack(p1!.message.id);
  queue = await kit.restart(queue);
  assert.equal(queue.messagesReady, 3, "p2 (unacked), p3, p4");
  const after: Array<[string, boolean]> = [];
  for (let r = await queue.get(false); r; r = await queue.get(false)) {
    after.push([text(r.message), r.message.redelivered]);
    queue.ack(r.message.id);
  }
  assert.deepEqual(
    after.map(([body]) => body),
    ["p2", "p3", "p4"],
  );
  assert.equal(after[0]![1], true, "a message delivered before the restart is marked");
  queue = await kit.restart(queue);
  assert.equal(queue.messagesReady, 0, "acks survive the restart");
  assert.equal(await queue.get(false), null);
});

test("a non-durable queue starts empty after a restart", async () => {
  let queue = await kit.open();
  publish(queue, "gone");
  await waitFor(() => queue.logBytes > 0, "the write");
  queue = await kit.restart(queue, {}, { durable: false });
  assert.equal(queue.messagesReady, 0);
  assert.equal(await queue.get(true), null);
  assert.deepEqual(
    (await kit.logStore.listLogs()).filter((name) => name.startsWith("__queue-1-")),
    [],
  );
});

test("restart after journal snapshots keeps acks, holes and delivery counts", async () => {
  const options = { durable: true, journalRewriteBytes: 512 };
  const args = { "x-delivery-limit": 2, "x-dead-letter-exchange": "dlx" };
  let queue = await kit.open(args, options);
  const results = numbered(300).map((body) => publish(queue, body));
  await Promise.all(results.map((r) => r.durable));
  const got = [];
  for (let i = 0; i < 300; i++) got.push((await queue.get(false))!.message);
  // Ack all but every 50th (holes), and give m0 back twice (returns = 2, at the limit).
  for (const [i, message] of got.entries()) if (i % 50 !== 0) queue.ack(message.id);
  queue.reject(got[0]!.id, true);
  const again = await queue.get(false);
  assert.equal(text(again!.message), "m0");
  queue.reject(again!.message.id, true);
  await settleDown();
  queue = await kit.restart(queue, args, options);
  const left: string[] = [];
  for (let r = await queue.get(false); r; r = await queue.get(false)) {
    left.push(text(r.message));
    if (text(r.message) === "m0") queue.reject(r.message.id, true);
    else queue.ack(r.message.id);
  }
  assert.deepEqual(left, ["m0", "m50", "m100", "m150", "m200", "m250"]);
  assert.deepEqual(
    kit.deadLetters.map((d) => [d.reason, d.body.toString()]),
    [["delivery_limit", "m0"]],
    "the returns counted before the restart still count",
  );
});

test("purge removes ready messages, also on disk, and keeps unacked ones", async () => {
  const queue = await kit.open();
  const count = queueReadAheadMessages * 3;
  for (const body of numbered(count)) publish(queue, body);
  const held = await queue.get(false);
  assert.equal(await queue.purge(), count - 1);
  assert.equal(queue.messagesReady, 0);
  assert.equal(queue.bytesReady, 0);
  assert.equal(queue.messagesUnacknowledged, 1);
  assert.equal(await queue.get(true), null);
  queue.reject(held!.message.id, true);
  assert.equal(text((await queue.get(true))!.message), "m0");
  publish(queue, "after");
  assert.equal(text((await queue.get(true))!.message), "after");
  assert.equal(kit.deadLetters.length, 0, "purged messages are not dead-lettered");
});

test("delete cancels consumers and removes the queue's logs", async () => {
  const queue = await kit.open({}, { durable: true });
  const consumer = new TestConsumer("c", { prefetch: 1 }).subscribe(queue);
  for (const body of numbered(3)) publish(queue, body);
  await waitFor(() => consumer.received.length === 1, "a delivery");
  assert.ok((await kit.logStore.listLogs()).some((name) => name.startsWith("__queue-1-")));
  await queue.delete();
  assert.equal(consumer.cancelledWith, "queue-deleted");
  assert.deepEqual(
    (await kit.logStore.listLogs()).filter((name) => name.startsWith("__queue-1-")),
    [],
  );
});

test("acks give back disk space: head segments go once the floor passes them", async () => {
  const queue = await kit.open({}, { segmentBytes: 16 * 1024 });
  const body = "x".repeat(200);
  publish(queue, body);
  await waitFor(() => queue.logBytes > 0, "the lane log created");
  // One append per tick: 40 messages (~10 KB), so the 16 KiB segments roll as they fill.
  for (let i = 1; i < 2000; i++) {
    publish(queue, body);
    if (i % 40 === 39) await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor(() => queue.logBytes > 400_000, "the backlog written");
  const consumer = new TestConsumer("c", { prefetch: 100 }).subscribe(queue);
  let acked = 0;
  await waitFor(() => {
    for (const message of consumer.received.slice(acked)) consumer.settle(message);
    acked = consumer.received.length;
    return acked === 2000;
  }, "all deliveries");
  await waitFor(() => queue.logBytes < 40_000, `space reclaimed (${queue.logBytes} bytes)`);
});

test("a 200k-message backlog lives on disk: memory stays bounded", async () => {
  const queue = await kit.open();
  const total = 200_000;
  const body = Buffer.alloc(100, 7);
  const heapBefore = process.memoryUsage().heapUsed;
  let maxInMemory = 0;
  for (let sent = 0; sent < total; ) {
    for (let i = 0; i < 2_000; i++, sent++) {
      publish(queue, "", { body, routingKey: String(sent), persistent: false });
    }
    await new Promise((resolve) => setImmediate(resolve));
    maxInMemory = Math.max(maxInMemory, queue.messagesInMemory);
  }
  await settleDown();
  assert.equal(queue.messagesReady, total);
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(
    maxInMemory <= queueReadAheadMessages + 2_000,
    `at most a window (+ one tick of writes) in memory, saw ${maxInMemory}`,
  );
  // 200k messages held as objects would take well over 40 MB.
  assert.ok(heapGrowth < 40 * 1024 * 1024, `heap grew by ${heapGrowth} bytes`);
  const consumer = new TestConsumer("c", { prefetch: 500 }).subscribe(queue);
  let next = 0;
  await waitFor(
    () => {
      const batch = consumer.received.splice(0);
      for (const message of batch) {
        assert.equal(message.routingKey, String(next++));
        consumer.settle(message);
      }
      maxInMemory = Math.max(maxInMemory, queue.messagesInMemory);
      return next === total;
    },
    "the whole backlog consumed",
    15_000,
  );
  assert.ok(maxInMemory <= queueReadAheadMessages + 2_500, `in memory at most ${maxInMemory}`);
  assert.equal(queue.messagesReady, 0);
});

test("one unacked message does not pin the log: it is relocated, acks stay bounded", async () => {
  const options = { durable: true, segmentBytes: 16 * 1024 };
  let queue = await kit.open({}, options);
  publish(queue, "pinned");
  await waitFor(() => queue.logBytes > 0, "the lane log created");
  const total = queueAckHolesMax + 8_000;
  for (let i = 1; i < total; i++) {
    publish(queue, `m${i}`, { persistent: i % 2 === 0 });
    if (i % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const held = await queue.get(false);
  assert.equal(text(held!.message), "pinned");
  const consumer = new TestConsumer("c", { prefetch: 200 }).subscribe(queue);
  let done = 0;
  let maxHoles = 0;
  await waitFor(
    () => {
      for (const message of consumer.received.splice(0)) {
        consumer.settle(message);
        done++;
      }
      maxHoles = Math.max(maxHoles, queue.ackHoles);
      return done === total - 1;
    },
    "the rest consumed",
    15_000,
  );
  await waitFor(() => queue.ackHoles < 1_000, `holes closed (${queue.ackHoles})`);
  // Acks go on while the copy is written (fsync): the peak is the threshold plus that much.
  assert.ok(maxHoles < 2 * queueAckHolesMax, `holes peaked at ${maxHoles}`);
  await waitFor(() => queue.logBytes < 64 * 1024, `segments reclaimed (${queue.logBytes})`);
  assert.equal(queue.messagesUnacknowledged, 1);
  assert.equal(queue.messagesReady, 0);
  // After a restart the relocated copy is the one unacked message, redelivered.
  queue = await kit.restart(queue, {}, options);
  assert.equal(queue.messagesReady, 1);
  const again = await queue.get(false);
  assert.equal(text(again!.message), "pinned");
  assert.equal(again!.message.redelivered, true);
  queue.ack(again!.message.id);
  queue = await kit.restart(queue, {}, options);
  assert.equal(queue.messagesReady, 0);
});

test("a relocated unacked message is still settled by its original id", async () => {
  const queue = await kit.open({ "x-dead-letter-exchange": "dlx" });
  publish(queue, "pinned");
  for (let i = 1; i <= queueAckHolesMax + 100; i++) publish(queue, `m${i}`);
  const held = await queue.get(false);
  const consumer = new TestConsumer("c", { prefetch: 500 }).subscribe(queue);
  let done = 0;
  await waitFor(() => {
    for (const message of consumer.received.splice(0)) {
      consumer.settle(message);
      done++;
    }
    return done === queueAckHolesMax + 100;
  }, "the rest consumed");
  await waitFor(() => queue.ackHoles < 1_000, "relocation");
  for (let i = 0; i < queueReadAheadMessages * 2; i++) publish(queue, `late${i}`);
  await waitFor(() => queue.messagesReady === queueReadAheadMessages * 2, "late messages");
  // A purge of a backlog on disk must not take the relocated copy with it.
  assert.equal(await queue.purge(), queueReadAheadMessages * 2);
  assert.equal(queue.messagesUnacknowledged, 1);
  queue.reject(held!.message.id, true); // given back: delivered again from its copy
  const again = await queue.get(false);
  assert.equal(text(again!.message), "pinned");
  assert.equal(again!.message.redelivered, true);
  queue.reject(again!.message.id, false);
  assert.deepEqual(
    kit.deadLetters.map((d) => [d.reason, d.body.toString()]),
    [["rejected", "pinned"]],
  );
  assert.equal(queue.messagesUnacknowledged, 0);
  assert.equal(queue.ackHoles, 0);
});

test("purging a backlog keeps the relocated copy of an unacked message", async () => {
  const options = { durable: true };
  let queue = await kit.open({}, options);
  const results = [publish(queue, "pinned")];
  const total = queueAckHolesMax + 5_000;
  for (let i = 1; i < total; i++) results.push(publish(queue, `m${i}`));
  await Promise.all(results.map((r) => r.durable));
  const held = await queue.get(false);
  assert.equal(text(held!.message), "pinned");
  for (let i = 0; i < queueAckHolesMax + 100; i++) queue.ack((await queue.get(false))!.message.id);
  // The copy went to the tail, past the part of the backlog still on disk.
  await waitFor(() => queue.ackHoles < 1_000, "relocation");
  assert.equal(await queue.purge(), total - 1 - (queueAckHolesMax + 100));
  assert.equal(queue.messagesUnacknowledged, 1);
  queue = await kit.restart(queue, {}, options);
  assert.equal(queue.messagesReady, 1, "the unacked message comes back after a restart");
  const again = await queue.get(true);
  assert.equal(text(again!.message), "pinned");
  assert.equal(again!.message.redelivered, true);
});

/** A no-ack consumer that records bodies and has room while `room()` says so. */
function noAckConsumer(received: string[], room: () => boolean): QueueConsumer {
  return {
    tag: "no-ack",
    priority: 0,
    noAck: true,
    canTake: room,
    deliver: (message: QueuedMessage) => received.push(text(message)),
    cancelled: () => {},
  };
}

test("transient messages to an empty queue go straight to no-ack consumers, in order with those stored meanwhile", async () => {
  const queue = await kit.open({}, { durable: false });
  let room = true;
  const received: string[] = [];
  const registration = queue.consume(
    noAckConsumer(received, () => room),
    { exclusive: false },
  );
  // Caught up and with room: delivered during the publish, nothing written.
  for (const body of numbered(100)) publish(queue, body, { persistent: false });
  assert.deepEqual(received, numbered(100));
  assert.equal(queue.messagesReady, 0);
  await settleDown();
  assert.equal(queue.logBytes, 0, "handed-over messages are not written");
  // No room: messages wait in the queue; later publishes queue up behind them, never ahead.
  room = false;
  for (const body of numbered(50, 100)) publish(queue, body, { persistent: false });
  assert.equal(queue.messagesReady, 50);
  room = true;
  for (const body of numbered(50, 150)) publish(queue, body, { persistent: false });
  registration.resume();
  await waitFor(() => received.length === 200, "every delivery");
  assert.deepEqual(received, numbered(200));
  // Once empty again, hand-over resumes.
  publish(queue, "after", { persistent: false });
  assert.equal(received.at(-1), "after");
});

test("no direct hand-over to consumers that acknowledge, nor of persistent messages in a durable queue", async () => {
  const durable = await kit.open({}, { durable: true });
  const noAck = new TestConsumer("n", { noAck: true }).subscribe(durable);
  publish(durable, "persistent", { persistent: true });
  assert.equal(noAck.received.length, 0, "a persistent message waits for its write");
  await waitFor(() => noAck.received.length === 1, "the persistent message");
  publish(durable, "transient", { persistent: false });
  assert.equal(noAck.received.length, 2, "a transient one is handed over");
  const acking = new TestConsumer("a", { prefetch: 10 }).subscribe(durable);
  publish(durable, "with-acker", { persistent: false });
  assert.equal(noAck.received.length + acking.received.length, 2, "stored while one acks");
  await waitFor(() => noAck.received.length + acking.received.length === 3, "the stored one");
  acking.registration!.cancel();
  publish(durable, "acker-gone", { persistent: false });
  assert.equal(noAck.texts().at(-1), "acker-gone");
});

test("a lane that fell behind under a flood returns to caught up and to direct hand-over, in order", async () => {
  const queue = await kit.open({}, { durable: false });
  let room = false;
  const received: string[] = [];
  const registration = queue.consume(
    noAckConsumer(received, () => room),
    { exclusive: false },
  );
  const backlog = queueReadAheadMessages * 3;
  let sent = 0;
  for (; sent < backlog; sent++) publish(queue, `m${sent}`, { persistent: false });
  await settleDown();
  room = true;
  registration.resume();
  // Publishing goes on every turn while the backlog drains: the lane must get back to
  // handing messages over during the publish itself.
  let handedOver = false;
  for (let turn = 0; turn < 2_000 && !handedOver; turn++) {
    for (let i = 0; i < 20; i++) {
      const before = received.length;
      publish(queue, `m${sent++}`, { persistent: false });
      if (received.length > before && queue.messagesReady === 0) handedOver = true;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(handedOver, "direct hand-over resumed after the backlog drained");
  await waitFor(() => received.length === sent, "every delivery");
  assert.deepEqual(received, numbered(sent));
});
