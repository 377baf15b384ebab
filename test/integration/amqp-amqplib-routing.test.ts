/**
 * AMQP 0-9-1 routing through amqplib: every exchange type, the default exchange, the amq.*
 * exchanges every vhost has, exchange-to-exchange bindings (also in a cycle), alternate
 * exchanges, internal exchanges and auto-delete exchanges. Expectations were checked against
 * RabbitMQ 3.10 (see test/helpers/amqp-target.ts). Each test publishes on a confirm channel,
 * so that by the time the confirms arrive the messages are routed, then drains each queue.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ConfirmChannel } from "amqplib";
import {
  channelClosed,
  drain,
  eventually,
  type AmqpSession as Session,
  uniqueName,
  useAmqpSuite,
} from "../helpers/amqp-target.ts";

let session: Session;
let channel: ConfirmChannel;

useAmqpSuite(async (_target, opened) => {
  session = opened;
  channel = await opened.confirmChannel();
});

/** Declares an exclusive server-named queue per label; returns label -> queue name. */
async function queues(labels: string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const label of labels) {
    const { queue } = await channel.assertQueue("", { exclusive: true });
    names.set(label, queue);
  }
  return names;
}

/** What each queue holds, as label -> bodies. */
async function contents(names: Map<string, string>): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  for (const [label, queue] of names) result[label] = await drain(channel, queue);
  return result;
}

async function deleteQueues(names: Map<string, string>): Promise<void> {
  for (const queue of names.values()) await channel.deleteQueue(queue);
}

test("direct exchange: exact routing-key match; one copy per queue even with two bindings", async (t) => {
  const exchange = uniqueName("direct");
  await channel.assertExchange(exchange, "direct", { durable: false });
  const names = await queues(["a", "b", "both"]);
  t.after(async () => {
    await deleteQueues(names);
    await channel.deleteExchange(exchange);
  });
  await channel.bindQueue(names.get("a")!, exchange, "a");
  await channel.bindQueue(names.get("b")!, exchange, "b");
  await channel.bindQueue(names.get("both")!, exchange, "a");
  await channel.bindQueue(names.get("both")!, exchange, "b");
  await channel.bindQueue(names.get("both")!, exchange, "a"); // idempotent rebind
  for (const key of ["a", "b", "c", "A", "a "]) channel.publish(exchange, key, Buffer.from(key));
  await channel.waitForConfirms();
  assert.deepEqual(await contents(names), { a: ["a"], b: ["b"], both: ["a", "b"] });

  await channel.unbindQueue(names.get("both")!, exchange, "a");
  channel.publish(exchange, "a", Buffer.from("after-unbind"));
  await channel.waitForConfirms();
  assert.deepEqual(await contents(names), { a: ["after-unbind"], b: [], both: [] });
});

test("fanout exchange ignores the routing key", async (t) => {
  const exchange = uniqueName("fanout");
  await channel.assertExchange(exchange, "fanout", { durable: false });
  const names = await queues(["one", "two"]);
  t.after(async () => {
    await deleteQueues(names);
    await channel.deleteExchange(exchange);
  });
  await channel.bindQueue(names.get("one")!, exchange, "");
  await channel.bindQueue(names.get("two")!, exchange, "ignored");
  channel.publish(exchange, "anything", Buffer.from("m1"));
  channel.publish(exchange, "", Buffer.from("m2"));
  await channel.waitForConfirms();
  assert.deepEqual(await contents(names), { one: ["m1", "m2"], two: ["m1", "m2"] });
});

test("topic exchange: * is one word, # zero or more, empty words count as words", async (t) => {
  const exchange = uniqueName("topic");
  await channel.assertExchange(exchange, "topic", { durable: false });
  const patterns = [
    "*.orange.*",
    "*.*.rabbit",
    "lazy.#",
    "#",
    "*",
    "a.*.b",
    "a.#.b",
    "#.end",
    "",
    "exact.key",
  ];
  const names = await queues(patterns);
  t.after(async () => {
    await deleteQueues(names);
    await channel.deleteExchange(exchange);
  });
  for (const pattern of patterns) await channel.bindQueue(names.get(pattern)!, exchange, pattern);
  const keys = [
    "quick.orange.rabbit",
    "lazy.orange.elephant",
    "quick.orange.fox",
    "lazy",
    "a.b",
    "a..b",
    "a.x.b",
    "a.x.y.b",
    "end",
    "x.y.end",
    "",
    "exact.key",
    "exact.key.more",
    "orange",
  ];
  for (const key of keys) channel.publish(exchange, key, Buffer.from(`[${key}]`));
  await channel.waitForConfirms();
  assert.deepEqual(await contents(names), {
    "*.orange.*": ["[quick.orange.rabbit]", "[lazy.orange.elephant]", "[quick.orange.fox]"],
    "*.*.rabbit": ["[quick.orange.rabbit]"],
    "lazy.#": ["[lazy.orange.elephant]", "[lazy]"],
    "#": keys.map((key) => `[${key}]`),
    // The empty routing key has zero words (RabbitMQ), so "*" does not match it; "#" does.
    "*": ["[lazy]", "[end]", "[orange]"],
    "a.*.b": ["[a..b]", "[a.x.b]"],
    "a.#.b": ["[a.b]", "[a..b]", "[a.x.b]", "[a.x.y.b]"],
    "#.end": ["[end]", "[x.y.end]"],
    "": ["[]"],
    "exact.key": ["[exact.key]"],
  });
});

test("headers exchange: x-match all / any / all-with-x / any-with-x", async (t) => {
  const exchange = uniqueName("headers");
  await channel.assertExchange(exchange, "headers", { durable: false });
  const bindings: Record<string, Record<string, unknown>> = {
    all: { "x-match": "all", kind: "order", priority: 1 },
    any: { "x-match": "any", kind: "order", region: "eu" },
    "all-with-x": { "x-match": "all-with-x", kind: "order", "x-tenant": "t1" },
    "any-with-x": { "x-match": "any-with-x", "x-tenant": "t1" },
    "any-ignores-x": { "x-match": "any", "x-tenant": "t1" },
    "default-all": { kind: "order", region: "eu" },
    "no-args": {},
  };
  const names = await queues(Object.keys(bindings));
  t.after(async () => {
    await deleteQueues(names);
    await channel.deleteExchange(exchange);
  });
  for (const [label, args] of Object.entries(bindings)) {
    await channel.bindQueue(names.get(label)!, exchange, "", args);
  }
  const messages: Array<[string, Record<string, unknown>]> = [
    ["m1", { kind: "order", priority: 1 }],
    ["m2", { kind: "order", priority: 1, region: "eu", "x-tenant": "t1" }],
    ["m3", { kind: "order", priority: "1" }], // a string is not the integer 1
    ["m4", { region: "eu" }],
    ["m5", { "x-tenant": "t1" }],
    ["m6", { kind: "order", "x-tenant": "t2" }],
    ["m7", {}],
  ];
  for (const [body, headers] of messages) {
    channel.publish(exchange, "routing-key-is-ignored", Buffer.from(body), { headers });
  }
  await channel.waitForConfirms();
  assert.deepEqual(await contents(names), {
    all: ["m1", "m2"],
    any: ["m1", "m2", "m3", "m4", "m6"],
    "all-with-x": ["m2"],
    "any-with-x": ["m2", "m5"],
    "any-ignores-x": [],
    "default-all": ["m2"],
    "no-args": ["m1", "m2", "m3", "m4", "m5", "m6", "m7"],
  });
});

test("default exchange routes by queue name; binding to it is refused with 403", async (t) => {
  const queue = uniqueName("default-ex");
  await channel.assertQueue(queue, { durable: false });
  t.after(() => channel.deleteQueue(queue));
  channel.publish("", queue, Buffer.from("via-default"));
  channel.sendToQueue(queue, Buffer.from("via-sendToQueue"));
  channel.publish("", `${queue}.no-such-queue`, Buffer.from("dropped"));
  await channel.waitForConfirms();
  assert.deepEqual(await drain(channel, queue), ["via-default", "via-sendToQueue"]);

  const other = await session.channel();
  const closed = channelClosed(other);
  await assert.rejects(other.bindQueue(queue, "", queue));
  assert.equal((await closed).code, 403);
});

test("amq.* exchanges are predeclared with their types", async (t) => {
  for (const name of ["amq.direct", "amq.fanout", "amq.topic", "amq.headers", "amq.match"]) {
    await channel.checkExchange(name);
  }
  // Redeclaring with the right type is allowed (passive or not); a different type is 406.
  await channel.assertExchange("amq.topic", "topic", { durable: true });
  const names = await queues(["topic", "direct", "fanout", "match"]);
  t.after(() => deleteQueues(names));
  await channel.bindQueue(names.get("topic")!, "amq.topic", "sensor.*");
  await channel.bindQueue(names.get("direct")!, "amq.direct", names.get("direct")!);
  await channel.bindQueue(names.get("fanout")!, "amq.fanout", "");
  await channel.bindQueue(names.get("match")!, "amq.match", "", {
    "x-match": "all",
    probe: names.get("match")!,
  });
  channel.publish("amq.topic", "sensor.t1", Buffer.from("topic"));
  channel.publish("amq.direct", names.get("direct")!, Buffer.from("direct"));
  channel.publish("amq.match", "", Buffer.from("match"), {
    headers: { probe: names.get("match")! },
  });
  await channel.waitForConfirms();
  const got = await contents(names);
  assert.deepEqual(got.topic, ["topic"]);
  assert.deepEqual(got.direct, ["direct"]);
  assert.deepEqual(got.match, ["match"]);
  // amq.fanout is shared with any other run on the same broker: only check ours arrived.
  await channel.unbindQueue(names.get("fanout")!, "amq.fanout", "");

  const other = await session.channel();
  const closed = channelClosed(other);
  await assert.rejects(other.assertExchange("amq.topic", "direct", { durable: true }));
  assert.equal((await closed).code, 406);
});

test("exchange-to-exchange bindings route through, and a cycle delivers one copy", async (t) => {
  const source = uniqueName("e2e-source");
  const middle = uniqueName("e2e-middle");
  await channel.assertExchange(source, "direct", { durable: false });
  await channel.assertExchange(middle, "topic", { durable: false });
  const names = await queues(["middle", "source"]);
  t.after(async () => {
    await deleteQueues(names);
    await channel.deleteExchange(source);
    await channel.deleteExchange(middle);
  });
  await channel.bindExchange(middle, source, "orders.new");
  await channel.bindQueue(names.get("middle")!, middle, "orders.*");
  channel.publish(source, "orders.new", Buffer.from("routed"));
  channel.publish(source, "orders.old", Buffer.from("not-bound-at-source"));
  channel.publish(middle, "orders.old", Buffer.from("direct-to-middle"));
  await channel.waitForConfirms();
  assert.deepEqual(await contents(names), {
    middle: ["routed", "direct-to-middle"],
    source: [],
  });

  // A cycle source -> middle -> source: each queue still gets each message once.
  await channel.bindExchange(source, middle, "#");
  await channel.bindQueue(names.get("source")!, source, "orders.new");
  channel.publish(source, "orders.new", Buffer.from("cycle"));
  await channel.waitForConfirms();
  assert.deepEqual(await contents(names), { middle: ["cycle"], source: ["cycle"] });

  await channel.unbindExchange(middle, source, "orders.new");
  await channel.unbindExchange(source, middle, "#");
  channel.publish(source, "orders.new", Buffer.from("after-unbind"));
  await channel.waitForConfirms();
  assert.deepEqual(await contents(names), { middle: [], source: ["after-unbind"] });
});

test("alternate exchange receives what the main exchange cannot route", async (t) => {
  const main = uniqueName("ae-main");
  const alternate = uniqueName("ae-alt");
  await channel.assertExchange(alternate, "fanout", { durable: false });
  await channel.assertExchange(main, "direct", { durable: false, alternateExchange: alternate });
  const names = await queues(["routed", "unrouted"]);
  t.after(async () => {
    await deleteQueues(names);
    await channel.deleteExchange(main);
    await channel.deleteExchange(alternate);
  });
  await channel.bindQueue(names.get("routed")!, main, "known");
  await channel.bindQueue(names.get("unrouted")!, alternate, "");
  const returned: string[] = [];
  channel.on("return", (message) => returned.push(message.content.toString()));
  channel.publish(main, "known", Buffer.from("k"), { mandatory: true });
  channel.publish(main, "unknown", Buffer.from("u"), { mandatory: true });
  await channel.waitForConfirms();
  assert.deepEqual(await contents(names), { routed: ["k"], unrouted: ["u"] });
  // Routed to the alternate exchange counts as routed: no basic.return.
  assert.deepEqual(returned, []);
});

test("internal exchange: publishing to it is 403, routing into it through a binding works", async (t) => {
  const internal = uniqueName("internal");
  const front = uniqueName("internal-front");
  await channel.assertExchange(internal, "fanout", { durable: false, internal: true });
  await channel.assertExchange(front, "fanout", { durable: false });
  const names = await queues(["behind"]);
  t.after(async () => {
    await deleteQueues(names);
    await channel.deleteExchange(front);
    await channel.deleteExchange(internal);
  });
  await channel.bindQueue(names.get("behind")!, internal, "");
  await channel.bindExchange(internal, front, "");
  channel.publish(front, "", Buffer.from("through-front"));
  await channel.waitForConfirms();
  assert.deepEqual(await contents(names), { behind: ["through-front"] });

  const other = await session.channel();
  const closed = channelClosed(other);
  other.publish(internal, "", Buffer.from("direct"));
  assert.equal((await closed).code, 403);
  assert.deepEqual(await contents(names), { behind: [] });
});

test("auto-delete exchange goes away when its last binding is removed", async (t) => {
  const exchange = uniqueName("autodelete");
  await channel.assertExchange(exchange, "direct", { durable: false, autoDelete: true });
  const names = await queues(["q"]);
  t.after(async () => {
    await deleteQueues(names);
    await channel.deleteExchange(exchange);
  });
  // No binding yet: it stays (auto-delete needs a binding to have existed).
  await channel.checkExchange(exchange);
  await channel.bindQueue(names.get("q")!, exchange, "k1");
  await channel.bindQueue(names.get("q")!, exchange, "k2");
  await channel.unbindQueue(names.get("q")!, exchange, "k1");
  await channel.checkExchange(exchange); // one binding left
  await channel.unbindQueue(names.get("q")!, exchange, "k2");
  await eventually(async () => {
    const probe = await session.channel();
    try {
      await probe.checkExchange(exchange);
      await probe.close();
      return false;
    } catch (error) {
      assert.equal((error as { code?: number }).code, 404);
      return true;
    }
  }, "the auto-delete exchange to be deleted");
});
