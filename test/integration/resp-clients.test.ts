/**
 * Redis pub/sub through real clients against a real broker process: ioredis and node-redis
 * (v5, RESP2 and RESP3): subscribe, psubscribe with Redis's glob edge cases, ssubscribe,
 * pipelined publishes with receiver counts, RESP3 pushes on a connection that also runs
 * commands, and reconnection: after the broker restarts, clients resubscribe and receive.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { BrokerProcess } from "../helpers/broker-process.ts";

let broker: BrokerProcess;

before(async () => {
  broker = await BrokerProcess.start();
});

after(async () => {
  await broker?.stop();
});

/** Polls until `check` holds, at most `timeoutMs`. */
async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function ioredis(port: number): Redis {
  return new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 2, lazyConnect: false });
}

test("ioredis: subscribe, psubscribe and ssubscribe receive; PUBLISH counts receivers", async (t) => {
  const subscriber = ioredis(broker.ports.resp);
  const publisher = ioredis(broker.ports.resp);
  t.after(() => {
    subscriber.disconnect();
    publisher.disconnect();
  });
  const received: string[] = [];
  subscriber.on("message", (channel: string, message: string) =>
    received.push(`message ${channel} ${message}`),
  );
  subscriber.on("pmessage", (pattern: string, channel: string, message: string) =>
    received.push(`pmessage ${pattern} ${channel} ${message}`),
  );
  subscriber.on("smessage", (channel: string, message: string) =>
    received.push(`smessage ${channel} ${message}`),
  );
  assert.equal(await subscriber.subscribe("news.sport", "news.art"), 2);
  assert.equal(await subscriber.psubscribe("news.*", "h[ae]llo", "a\\*b", "[^x]y"), 6);
  assert.equal(await subscriber.ssubscribe("orders"), 1);

  assert.equal(await publisher.publish("news.sport", "goal"), 2); // channel + news.*
  assert.equal(await publisher.publish("hallo", "1"), 1);
  assert.equal(await publisher.publish("hillo", "2"), 0);
  assert.equal(await publisher.publish("a*b", "3"), 1);
  assert.equal(await publisher.publish("aXb", "4"), 0); // the star is escaped
  assert.equal(await publisher.publish("zy", "5"), 1);
  assert.equal(await publisher.publish("xy", "6"), 0);
  assert.equal(await publisher.spublish("orders", "o-1"), 1);
  assert.equal(await publisher.publish("orders", "not-shard"), 0); // shard channels apart

  await eventually(() => received.length === 6, "six deliveries");
  assert.deepEqual(received.sort(), [
    "message news.sport goal",
    "pmessage [^x]y zy 5",
    "pmessage a\\*b a*b 3",
    "pmessage h[ae]llo hallo 1",
    "pmessage news.* news.sport goal",
    "smessage orders o-1",
  ]);

  assert.deepEqual(await publisher.pubsub("NUMSUB", "news.sport", "none"), [
    "news.sport",
    1,
    "none",
    0,
  ]);
  assert.equal(await publisher.pubsub("NUMPAT"), 4);
  assert.deepEqual((await publisher.pubsub("CHANNELS", "news.*")) as string[], [
    "news.sport",
    "news.art",
  ]);
  assert.deepEqual(await publisher.pubsub("SHARDCHANNELS"), ["orders"]);
  assert.deepEqual(await publisher.pubsub("SHARDNUMSUB", "orders"), ["orders", 1]);

  await subscriber.unsubscribe("news.sport");
  assert.equal(await publisher.publish("news.sport", "again"), 1); // the pattern only
});

test("ioredis: pipelined publishes answer in order with their receiver counts", async (t) => {
  const subscriber = ioredis(broker.ports.resp);
  const publisher = ioredis(broker.ports.resp);
  t.after(() => {
    subscriber.disconnect();
    publisher.disconnect();
  });
  const messages: string[] = [];
  subscriber.on("message", (_channel: string, message: string) => messages.push(message));
  await subscriber.subscribe("pipe");
  const pipeline = publisher.pipeline();
  for (let i = 0; i < 500; i++) pipeline.publish(i % 2 === 0 ? "pipe" : "nobody", `m${i}`);
  pipeline.ping();
  const results = (await pipeline.exec())!;
  assert.equal(results.length, 501);
  for (let i = 0; i < 500; i++) assert.deepEqual(results[i], [null, i % 2 === 0 ? 1 : 0]);
  assert.deepEqual(results[500], [null, "PONG"]);
  await eventually(() => messages.length === 250, "250 messages");
  assert.deepEqual(
    messages,
    Array.from({ length: 250 }, (_, i) => `m${i * 2}`),
  );
});

test("node-redis v5 (RESP2): subscribe, pSubscribe, sSubscribe, client commands", async (t) => {
  const client = createClient({ url: `redis://127.0.0.1:${broker.ports.resp}` });
  await client.connect();
  const subscriber = client.duplicate();
  await subscriber.connect();
  t.after(async () => {
    await subscriber.quit().catch(() => {});
    await client.quit().catch(() => {});
  });
  assert.equal(await client.ping(), "PONG");
  assert.equal(await client.echo("hello"), "hello");
  assert.equal(await client.clientSetName("app-1"), "OK");
  assert.equal(await client.clientGetName(), "app-1");
  assert.ok((await client.clientList()).some((entry) => entry.name === "app-1"));
  const received: string[] = [];
  await subscriber.subscribe("room", (message, channel) => received.push(`${channel}:${message}`));
  await subscriber.pSubscribe("ro?m*", (message, channel) =>
    received.push(`p ${channel}:${message}`),
  );
  await subscriber.sSubscribe("shard-1", (message, channel) =>
    received.push(`s ${channel}:${message}`),
  );
  assert.equal(await client.publish("room", "hi"), 2);
  assert.equal(await client.sPublish("shard-1", "x"), 1);
  await eventually(() => received.length === 3, "three deliveries");
  assert.deepEqual(received.sort(), ["p room:hi", "room:hi", "s shard-1:x"]);
  await subscriber.unsubscribe("room");
  await subscriber.pUnsubscribe();
  await subscriber.sUnsubscribe();
  assert.equal(await client.publish("room", "gone"), 0);
});

test("node-redis v5 with RESP: 3: pushes and replies on one connection", async (t) => {
  const client = createClient({ url: `redis://127.0.0.1:${broker.ports.resp}`, RESP: 3 });
  await client.connect();
  const publisher = createClient({ url: `redis://127.0.0.1:${broker.ports.resp}`, RESP: 3 });
  await publisher.connect();
  t.after(async () => {
    await client.quit().catch(() => {});
    await publisher.quit().catch(() => {});
  });
  const received: string[] = [];
  await client.subscribe("resp3", (message) => received.push(message));
  await client.pSubscribe("resp*", (message, channel) => received.push(`p:${channel}:${message}`));
  // RESP3 allows ordinary commands while subscribed, on the same connection.
  assert.equal(await client.ping(), "PONG");
  assert.equal(await client.publish("resp3", "self"), 2);
  assert.equal(await publisher.publish("resp3", "other"), 2);
  await eventually(() => received.length === 4, "four pushes");
  assert.deepEqual(received.sort(), ["other", "p:resp3:other", "p:resp3:self", "self"]);
  const info = await client.clientInfo();
  assert.equal(info.resp, 3);
});

test("reconnection: after a broker restart clients resubscribe and receive", async (t) => {
  const own = await BrokerProcess.start();
  own.keepDataDir();
  let current = own;
  t.after(async () => {
    await current.stop();
    own.cleanup();
  });
  const port = own.ports.resp;
  const retry = { retryStrategy: () => 100 };
  const subscriber = new Redis({ host: "127.0.0.1", port, ...retry });
  const publisher = new Redis({ host: "127.0.0.1", port, ...retry });
  const nodeSubscriber = createClient({
    url: `redis://127.0.0.1:${port}`,
    socket: { reconnectStrategy: () => 100 },
  });
  nodeSubscriber.on("error", () => {}); // reconnect errors while the broker is down
  subscriber.on("error", () => {});
  publisher.on("error", () => {});
  t.after(async () => {
    subscriber.disconnect();
    publisher.disconnect();
    await nodeSubscriber.disconnect().catch(() => {});
  });
  const received: string[] = [];
  subscriber.on("message", (_channel: string, message: string) => received.push(`io:${message}`));
  await subscriber.subscribe("survive");
  await nodeSubscriber.connect();
  await nodeSubscriber.subscribe("survive", (message) => received.push(`node:${message}`));
  assert.equal(await publisher.publish("survive", "before"), 2);
  await eventually(() => received.length === 2, "deliveries before the restart");

  await own.stop();
  current = await BrokerProcess.start({ dataDir: own.dataDir, ports: own.ports });
  current.keepDataDir();

  // Both clients reconnect and resubscribe on their own; publish until both receive.
  await eventually(() => publisher.status === "ready", "the publisher to reconnect", 10_000);
  const deadline = Date.now() + 10_000;
  let receivers = 0;
  while (receivers < 2 && Date.now() < deadline) {
    receivers = (await publisher.publish("probe-none", "x")) as number;
    receivers = (await publisher.publish("survive", "after")) as number;
    if (receivers < 2) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(receivers, 2);
  await eventually(
    () => received.includes("io:after") && received.includes("node:after"),
    "deliveries after the restart",
  );
});
