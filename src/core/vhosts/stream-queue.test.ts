import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeRecords, encodeBatch, readBatchSize } from "../../storage/record-batch.ts";
import { isRoutingError } from "../routing/types.ts";
import { EXCHANGE_HEADER, PROPERTIES_HEADER, parseStreamOffset } from "./stream-queue.ts";
import {
  eventually,
  jsonPropertiesCodec,
  message,
  noArgs,
  openVhostKit,
  recorder,
  session,
  type VhostKit,
} from "./vhost-test-kit.ts";
import type { VirtualHost } from "./virtual-host.ts";

const guest = session();

async function withKit(run: (kit: VhostKit, vhost: VirtualHost) => Promise<void>): Promise<void> {
  const kit = await openVhostKit();
  try {
    await run(kit, kit.vhosts.get("/")!);
  } finally {
    await kit.dispose();
  }
}

async function publishAll(vhost: VirtualHost, queue: string, texts: string[]): Promise<void> {
  const outcomes = texts.map((text) => vhost.publish(guest, message("", queue, text), {}).outcome);
  for (const outcome of outcomes) assert.equal(await outcome, "ack");
}

/** Consumes from `offset` until `count` deliveries arrived; answers [offset, body] pairs. */
async function readFrom(
  vhost: VirtualHost,
  queue: string,
  offset: unknown,
  count: number,
  prefetch = 2,
): Promise<[number, string][]> {
  const consumer = recorder({ prefetch });
  const args = offset === undefined ? {} : { "x-stream-offset": offset as string };
  const registration = vhost.consume(guest, queue, consumer, { arguments: args });
  try {
    // Acks free the window, as an AMQP client with a prefetch does.
    await eventually(
      () => {
        for (const m of consumer.got.slice(consumer.got.length - consumer.unsettled))
          consumer.ack(m);
        registration.resume();
        return consumer.got.length >= count;
      },
      `${count} deliveries from ${String(offset)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    return consumer.got.map((m) => [m.streamOffset!, m.body.toString()]);
  } finally {
    registration.cancel();
  }
}

test("x-stream-offset parsing: first/last/next, numbers, timestamps, intervals", () => {
  const now = 1_700_000_000_000;
  assert.deepEqual(parseStreamOffset(undefined, now), { kind: "next" });
  assert.deepEqual(parseStreamOffset("first", now), { kind: "first" });
  assert.deepEqual(parseStreamOffset(5, now), { kind: "offset", offset: 5 });
  assert.deepEqual(parseStreamOffset(7n, now), { kind: "offset", offset: 7 });
  assert.deepEqual(parseStreamOffset(new Date(now - 10), now), { kind: "timestamp", ms: now - 10 });
  assert.deepEqual(parseStreamOffset("2h", now), { kind: "timestamp", ms: now - 7_200_000 });
  assert.equal(parseStreamOffset("sometime", now), null);
  assert.equal(parseStreamOffset(-1, now), null);
});

test("stream queue: first, next, last chunk, numeric offset, timestamp; every consumer reads everything", async () => {
  await withKit(async (kit, vhost) => {
    await vhost.declareQueue(guest, "events", {
      durable: true,
      arguments: { "x-queue-type": "stream" },
    });
    assert.equal(
      kit.streams.get("events")?.partitions.length,
      1,
      "the queue is a 1-partition stream",
    );
    await publishAll(vhost, "events", ["a", "b", "c", "d"]); // one turn: one batch (chunk)
    await publishAll(vhost, "events", ["e"]);
    const all: [number, string][] = [
      [0, "a"],
      [1, "b"],
      [2, "c"],
      [3, "d"],
      [4, "e"],
    ];
    assert.deepEqual(await readFrom(vhost, "events", "first", 5), all);
    assert.deepEqual(await readFrom(vhost, "events", "first", 5), all, "non-destructive");
    assert.deepEqual(await readFrom(vhost, "events", "last", 1), [[4, "e"]]);
    assert.deepEqual(await readFrom(vhost, "events", 2, 3), all.slice(2));
    assert.deepEqual(
      await readFrom(vhost, "events", 99, 0),
      [],
      "past the end: waits for new data",
    );

    // next (the default): only what is published after attaching
    const consumer = recorder({ prefetch: 10 });
    const registration = vhost.consume(guest, "events", consumer, {});
    await new Promise((resolve) => setTimeout(resolve, 50));
    await publishAll(vhost, "events", ["f"]);
    await eventually(() => consumer.got.length === 1, "the new message");
    assert.equal(consumer.got[0]!.streamOffset, 5);
    assert.equal(consumer.got[0]!.body.toString(), "f");
    registration.cancel();

    // timestamp: the first message published at or after it
    await new Promise((resolve) => setTimeout(resolve, 30));
    const since = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await publishAll(vhost, "events", ["g", "h"]);
    assert.deepEqual(await readFrom(vhost, "events", since, 2), [
      [6, "g"],
      [7, "h"],
    ]);

    // the prefetch window is respected: no more than 2 unacked at once
    const slow = recorder({ prefetch: 2 });
    const held = vhost.consume(guest, "events", slow, {
      arguments: { "x-stream-offset": "first" },
    });
    await eventually(() => slow.got.length === 2, "two deliveries");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(slow.got.length, 2);
    slow.ack(slow.got[0]!);
    held.resume();
    await eventually(() => slow.got.length === 3, "one more after an ack");
    held.cancel();

    // RabbitMQ's refusals
    await assert.rejects(vhost.get(guest, "events", false), (e) =>
      isRoutingError(e, "PRECONDITION_FAILED"),
    );
    assert.throws(
      () => vhost.consume(guest, "events", recorder({ noAck: true }), {}),
      (e) => isRoutingError(e, "PRECONDITION_FAILED"),
    );
    assert.throws(
      () =>
        vhost.consume(guest, "events", recorder(), { arguments: { "x-stream-offset": "bogus" } }),
      (e) => isRoutingError(e, "PRECONDITION_FAILED"),
    );
    await assert.rejects(
      vhost.declareQueue(guest, "transient-stream", { arguments: { "x-queue-type": "stream" } }),
      (e) => isRoutingError(e, "PRECONDITION_FAILED") && /non-durable/.test(e.message),
    );
  });
});

test("stream queue records are Kafka records; Kafka-produced records are read by AMQP consumers", async () => {
  await withKit(async (kit, vhost) => {
    await vhost.declareQueue(guest, "mixed", {
      durable: true,
      arguments: { "x-queue-type": "stream" },
    });
    await vhost.declareExchange(guest, "ingest", "topic", { durable: true });
    await vhost.bindQueue(guest, "mixed", "ingest", "events.#", noArgs);
    const published = vhost.publish(
      guest,
      message("ingest", "events.created", "from amqp", {
        contentType: "text/plain",
        headers: { h: "v" },
      }),
      {},
    );
    assert.equal(await published.outcome, "ack");
    const partition = kit.streams.partition("mixed", 0);
    const { bytes } = await partition.read(0, 1 << 20);
    const [record] = decodeRecords(bytes.subarray(0, readBatchSize(bytes, 0)));
    assert.equal(record!.key!.toString(), "events.created");
    assert.equal(record!.value!.toString(), "from amqp");
    const header = (key: string) => record!.headers.find((h) => h.key === key)?.value;
    assert.equal(header(EXCHANGE_HEADER)!.toString(), "ingest");
    assert.equal(jsonPropertiesCodec.decode(header(PROPERTIES_HEADER)!).contentType, "text/plain");

    // A Kafka producer's record: key, value and a header, no AMQP properties.
    await partition.append(
      encodeBatch([
        {
          key: Buffer.from("k1"),
          value: Buffer.from("from kafka"),
          headers: [{ key: "trace", value: Buffer.from("t-1") }],
        },
      ]),
    );
    const consumer = recorder();
    const registration = vhost.consume(guest, "mixed", consumer, {
      arguments: { "x-stream-offset": "first" },
    });
    await eventually(() => consumer.got.length === 2, "both records");
    registration.cancel();
    const [amqp, kafka] = consumer.got;
    assert.equal(amqp!.exchange, "ingest");
    assert.equal(amqp!.routingKey, "events.created");
    assert.equal(jsonPropertiesCodec.decode(amqp!.propertiesBytes).headers?.h, "v");
    assert.equal(kafka!.exchange, "");
    assert.equal(kafka!.routingKey, "k1");
    assert.equal(kafka!.body.toString(), "from kafka");
    assert.equal(kafka!.streamOffset, 1);
    assert.deepEqual(jsonPropertiesCodec.decode(kafka!.propertiesBytes).headers, { trace: "t-1" });

    // Durable across a restart; deleting the queue deletes the stream.
    await kit.reopen();
    const again = kit.vhosts.get("/")!;
    assert.deepEqual(
      again.listQueues().map((q) => [q.name, q.type, q.messagesReady]),
      [["mixed", "stream", 2]],
    );
    assert.equal(
      again.publish(guest, message("ingest", "events.more", "after restart"), {}).routed,
      true,
    );
    await again.deleteQueue(guest, "mixed", {});
    assert.equal(kit.streams.get("mixed"), undefined);
  });
});

test("an exchange bound to an existing Kafka topic appends to it (read back through the StreamRegistry)", async () => {
  await withKit(async (kit, vhost) => {
    await kit.streams.create("orders", 1);
    await vhost.declareExchange(guest, "shop", "direct", { durable: true });
    await vhost.bindQueue(guest, "orders", "shop", "order.new", noArgs);
    const result = vhost.publish(
      guest,
      message("shop", "order.new", "order-1", { deliveryMode: 2 }),
      {},
    );
    assert.equal(result.routed, true);
    assert.equal(await result.outcome, "ack");
    assert.equal(vhost.publish(guest, message("shop", "other", "x"), {}).routed, false);
    const { bytes } = await kit.streams.partition("orders", 0).read(0, 1 << 20);
    const records = decodeRecords(bytes);
    assert.deepEqual(
      records.map((r) => [r.offset, r.key!.toString(), r.value!.toString()]),
      [[0, "order.new", "order-1"]],
    );
    // The binding is durable (the topic is a stream, the exchange durable).
    await kit.reopen();
    const again = kit.vhosts.get("/")!;
    assert.equal(
      await again.publish(guest, message("shop", "order.new", "order-2"), {}).outcome,
      "ack",
    );
    assert.equal(kit.streams.partition("orders", 0).highWatermark, 2);
  });
});
