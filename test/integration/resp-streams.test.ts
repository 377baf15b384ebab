/**
 * Redis Streams through real clients against a real broker process: ioredis and node-redis
 * (RESP2 and RESP3) run every stream command; blocking reads are woken by XADD from another
 * client; a consumer group fails over with XAUTOCLAIM; a Kafka consumer (kafkajs) reads the
 * entries XADDed to the same stream; redis-cli adds and reads entries; Redis's error texts.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { createClient } from "redis";
import { BrokerProcess } from "../helpers/broker-process.ts";
import { KafkajsReader } from "../helpers/kafkajs-reader.ts";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const run = promisify(execFile);
let broker: BrokerProcess;

before(async () => {
  broker = await BrokerProcess.start();
});

after(async () => {
  await broker?.stop();
});

function ioredis(): Redis {
  return new Redis({ host: "127.0.0.1", port: broker.ports.resp, maxRetriesPerRequest: 2 });
}

async function rejectsWith(promise: Promise<unknown>, text: string): Promise<void> {
  await assert.rejects(promise, (error: Error) => {
    assert.equal(error.message, text);
    return true;
  });
}

test("ioredis: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM with Redis's replies and errors", async (t) => {
  const redis = ioredis();
  t.after(() => redis.disconnect());
  const s = "io:basic";
  const first = await redis.xadd(s, "*", "name", "ada", "lang", "en");
  assert.match(first!, /^\d+-0$/);
  assert.equal(
    await redis.xadd(s, "1-1", "x", "y").catch((e: Error) => e.message),
    "ERR The ID specified in XADD is equal or smaller than the target stream top item",
  );
  const [ms] = first!.split("-");
  const second = await redis.xadd(s, `${ms}-*`, "name", "bob");
  assert.equal(second, `${ms}-1`);
  await rejectsWith(
    redis.xadd(s, "0-0", "a", "b"),
    "ERR The ID specified in XADD must be greater than 0-0",
  );
  await rejectsWith(
    redis.xadd(s, "bad", "a", "b"),
    "ERR Invalid stream ID specified as stream command argument",
  );
  await rejectsWith(
    redis.call("XADD", s, "*", "odd") as Promise<unknown>,
    "ERR wrong number of arguments for 'xadd' command",
  );
  await rejectsWith(
    redis.call(
      "XADD",
      s,
      "MAXLEN",
      "~",
      "10",
      "LIMIT",
      "5",
      "MINID",
      "1",
      "*",
      "a",
      "b",
    ) as Promise<unknown>,
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
  );
  await rejectsWith(
    redis.call("XADD", s, "MAXLEN", "10", "LIMIT", "5", "*", "a", "b") as Promise<unknown>,
    "ERR syntax error, LIMIT cannot be used without the special ~ option",
  );
  assert.equal(await redis.call("XADD", "io:absent", "NOMKSTREAM", "*", "a", "b"), null);
  assert.equal(await redis.exists("io:absent").catch(() => 0), 0);
  for (let i = 0; i < 8; i++) await redis.xadd(s, "*", "i", String(i));
  assert.equal(await redis.xlen(s), 10);
  const all = await redis.xrange(s, "-", "+");
  assert.equal(all.length, 10);
  assert.deepEqual(all[0], [first, ["name", "ada", "lang", "en"]]);
  const exclusive = await redis.xrange(s, `(${first}`, "+", "COUNT", 1);
  assert.deepEqual(exclusive, [[second, ["name", "bob"]]]);
  const reversed = await redis.xrevrange(s, "+", "-", "COUNT", 2);
  assert.deepEqual(
    reversed.map((e) => e[1]),
    [
      ["i", "7"],
      ["i", "6"],
    ],
  );
  assert.equal(await redis.call("XRANGE", s, "-", "+", "COUNT", "0"), null);
  assert.deepEqual(await redis.xrange("io:none", "-", "+"), []);
  await rejectsWith(
    redis.call("XRANGE", s, "(-", "+") as Promise<unknown>,
    "ERR Invalid stream ID specified as stream command argument",
  );
  assert.equal(await redis.xdel(s, first!, first!, "1-1"), 1);
  assert.equal(await redis.xlen(s), 9);
  assert.equal(await redis.xtrim(s, "MAXLEN", 5), 4);
  assert.equal(await redis.xlen(s), 5);
  await rejectsWith(
    redis.call("XTRIM", s, "LIMIT", "1") as Promise<unknown>,
    "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
  );
  await rejectsWith(redis.call("XTRIM", s, "FOO", "1") as Promise<unknown>, "ERR syntax error");
  assert.equal(
    await redis.call("XTRIM", s, "MAXLEN", "~", "0"),
    0,
    "approximate: under a node of excess",
  );
  // a key holding a topic of several partitions is the wrong type
  assert.equal(await redis.xlen("io:none"), 0);
});

test("ioredis: consumer groups — XGROUP, XREADGROUP, XACK, XPENDING (summary, extended, IDLE), XCLAIM, XINFO", async (t) => {
  const redis = ioredis();
  t.after(() => redis.disconnect());
  const s = "io:groups";
  await rejectsWith(
    redis.xgroup("CREATE", s, "g", "$"),
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
  );
  assert.equal(await redis.xgroup("CREATE", s, "g", "$", "MKSTREAM"), "OK");
  await rejectsWith(
    redis.xgroup("CREATE", s, "g", "$"),
    "BUSYGROUP Consumer Group name already exists",
  );
  await rejectsWith(
    redis.xgroup("SETID", s, "nope", "$"),
    `NOGROUP No such consumer group 'nope' for key name '${s}'`,
  );
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await redis.xadd(s, "*", "n", String(i)))!);
  const delivered = (await redis.xreadgroup(
    "GROUP",
    "g",
    "alice",
    "COUNT",
    3,
    "STREAMS",
    s,
    ">",
  )) as Array<[string, Array<[string, string[]]>]>;
  assert.deepEqual(
    delivered[0]![1].map((e) => e[0]),
    ids.slice(0, 3),
  );
  const summary = (await redis.xpending(s, "g")) as [
    number,
    string,
    string,
    Array<[string, string]>,
  ];
  assert.deepEqual(summary, [3, ids[0], ids[2], [["alice", "3"]]]);
  const extended = (await redis.xpending(s, "g", "-", "+", 10, "alice")) as Array<
    [string, string, number, number]
  >;
  assert.deepEqual(
    extended.map((e) => [e[0], e[1], e[3]]),
    ids.slice(0, 3).map((id) => [id, "alice", 1]),
  );
  await new Promise((resolve) => setTimeout(resolve, 60));
  const idle = (await redis.xpending(s, "g", "IDLE", 50, "-", "+", 10)) as unknown[];
  assert.equal(idle.length, 3);
  assert.deepEqual(await redis.xpending(s, "g", "IDLE", 60_000, "-", "+", 10), []);
  assert.equal(await redis.xack(s, "g", ids[0]!, ids[0]!, "9-9"), 1);
  await rejectsWith(
    redis.xack(s, "g", "bad"),
    "ERR Invalid stream ID specified as stream command argument",
  );
  assert.equal(await redis.xack(s, "nogroup", "bad"), 0, "no group: 0 before the ids are parsed");
  const claimed = (await redis.xclaim(s, "g", "bob", 0, ids[1]!, "JUSTID")) as string[];
  assert.deepEqual(claimed, [ids[1]]);
  await rejectsWith(
    redis.xclaim(s, "g", "bob", "x", ids[1]!),
    "ERR Invalid min-idle-time argument for XCLAIM",
  );
  await rejectsWith(
    redis.call("XCLAIM", s, "g", "bob", "0", ids[1]!, "BOGUS") as Promise<unknown>,
    "ERR Unrecognized XCLAIM option 'BOGUS'",
  );
  await rejectsWith(
    redis.call("XCLAIM", s, "nogroup", "bob", "x", ids[1]!) as Promise<unknown>,
    `NOGROUP No such key '${s}' or consumer group 'nogroup'`,
  );
  // history: bob's own pending entries
  const history = (await redis.xreadgroup("GROUP", "g", "bob", "STREAMS", s, "0")) as Array<
    [string, Array<[string, string[]]>]
  >;
  assert.deepEqual(history[0]![1], [[ids[1], ["n", "1"]]]);
  const info = (await redis.xinfo("STREAM", s)) as unknown[];
  const infoMap = new Map<string, unknown>();
  for (let i = 0; i < info.length; i += 2) infoMap.set(info[i] as string, info[i + 1]);
  assert.deepEqual(
    [...infoMap.keys()],
    [
      "length",
      "radix-tree-keys",
      "radix-tree-nodes",
      "last-generated-id",
      "max-deleted-entry-id",
      "entries-added",
      "recorded-first-entry-id",
      "groups",
      "first-entry",
      "last-entry",
    ],
  );
  assert.equal(infoMap.get("length"), 5);
  assert.equal(infoMap.get("last-generated-id"), ids[4]);
  assert.deepEqual(infoMap.get("first-entry"), [ids[0], ["n", "0"]]);
  const groups = (await redis.xinfo("GROUPS", s)) as unknown[][];
  assert.deepEqual(groups[0], [
    "name",
    "g",
    "consumers",
    2,
    "pending",
    2,
    "last-delivered-id",
    ids[2],
    "entries-read",
    3,
    "lag",
    2,
  ]);
  const consumers = (await redis.xinfo("CONSUMERS", s, "g")) as unknown[][];
  assert.deepEqual(
    consumers.map((c) => [c[0], c[1], c[2], c[3]]),
    [
      ["name", "alice", "pending", 1],
      ["name", "bob", "pending", 1],
    ],
  );
  const full = (await redis.xinfo("STREAM", s, "FULL", "COUNT", 2)) as unknown[];
  assert.equal(full[0], "length");
  assert.equal(full[14], "entries");
  assert.equal((full[15] as unknown[]).length, 2);
  await rejectsWith(redis.xinfo("STREAM", "io:nokey"), "ERR no such key");
  await rejectsWith(
    redis.call("XINFO", "STREAM", s, "PARTIAL") as Promise<unknown>,
    "ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.",
  );
  assert.equal(await redis.xgroup("CREATECONSUMER", s, "g", "carol"), 1);
  assert.equal(await redis.xgroup("DELCONSUMER", s, "g", "alice"), 1);
  assert.equal(await redis.xgroup("SETID", s, "g", "0", "ENTRIESREAD", 0), "OK");
  assert.equal(await redis.xgroup("DESTROY", s, "g"), 1);
  assert.equal(await redis.xgroup("DESTROY", s, "g"), 0);
  await rejectsWith(
    redis.xreadgroup("GROUP", "g", "x", "STREAMS", s, ">"),
    `NOGROUP No such key '${s}' or consumer group 'g' in XREADGROUP with GROUP option`,
  );
  await rejectsWith(
    redis.call("XREAD", "COUNT", "1", "STREAMS", s) as Promise<unknown>,
    "ERR Unbalanced 'xread' list of streams: for each stream key an ID, '+', or '$' must be specified.",
  );
  await rejectsWith(
    redis.call("XREAD", "STREAMS", s, ">") as Promise<unknown>,
    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
  );
  await rejectsWith(
    redis.call("XSETID", s, "1-0") as Promise<unknown>,
    "ERR The ID specified in XSETID is smaller than the target stream top item",
  );
});

test("blocking XREAD and XREADGROUP are woken by XADD from another client", async (t) => {
  const reader = ioredis();
  const groupReader = ioredis();
  const writer = ioredis();
  t.after(() => {
    reader.disconnect();
    groupReader.disconnect();
    writer.disconnect();
  });
  const s = "io:block";
  await writer.xgroup("CREATE", s, "workers", "$", "MKSTREAM");
  const started = Date.now();
  const blocked = reader.xread("BLOCK", 10_000, "STREAMS", s, "$");
  const blockedGroup = groupReader.xreadgroup(
    "GROUP",
    "workers",
    "w1",
    "BLOCK",
    10_000,
    "STREAMS",
    s,
    ">",
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  // While they wait, INFO and CLIENT LIST show them blocked (as Redis: flag b).
  const blockedNow = async () =>
    /blocked_clients:(\d+)/.exec(String(await writer.info("clients")))?.[1];
  assert.equal(await blockedNow(), "2");
  const list = String(await writer.client("LIST"));
  assert.equal(list.match(/ flags=b /g)?.length, 2, list);
  const id = await writer.xadd(s, "*", "job", "1");
  const [read, group] = await Promise.all([blocked, blockedGroup]);
  assert.equal(await blockedNow(), "0");
  assert.ok(Date.now() - started < 5000, "woken, not timed out");
  assert.deepEqual(read, [[s, [[id, ["job", "1"]]]]]);
  assert.deepEqual(group, [[s, [[id, ["job", "1"]]]]]);
  // a timeout answers a null array
  assert.equal(await reader.xread("BLOCK", 50, "STREAMS", s, "$"), null);
});

test("consumer-group failover: a dead consumer's entries are taken over with XAUTOCLAIM", async (t) => {
  const redis = ioredis();
  t.after(() => redis.disconnect());
  const s = "io:failover";
  await redis.xgroup("CREATE", s, "g", "0", "MKSTREAM");
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push((await redis.xadd(s, "*", "job", String(i)))!);
  // "crashed" reads 4 entries and dies without acking; "healthy" acks what it reads
  await redis.xreadgroup("GROUP", "g", "crashed", "COUNT", 4, "STREAMS", s, ">");
  const healthy = (await redis.xreadgroup("GROUP", "g", "healthy", "STREAMS", s, ">")) as Array<
    [string, Array<[string, string[]]>]
  >;
  await redis.xack(s, "g", ...healthy[0]![1].map((e) => e[0]));
  await redis.xdel(s, ids[2]!); // one of the crashed consumer's entries was deleted meanwhile
  await new Promise((resolve) => setTimeout(resolve, 120));
  const first = (await redis.xautoclaim(s, "g", "healthy", 100, "0", "COUNT", 2)) as [
    string,
    Array<[string, string[]]>,
    string[],
  ];
  assert.deepEqual(
    first[1].map((e) => e[0]),
    ids.slice(0, 2),
  );
  assert.equal(first[0], ids[2]);
  const second = (await redis.xautoclaim(s, "g", "healthy", 100, first[0], "COUNT", 10)) as [
    string,
    Array<[string, string[]]>,
    string[],
  ];
  assert.deepEqual(second[1], [[ids[3], ["job", "3"]]]);
  assert.deepEqual(second[2], [ids[2]], "deleted entries are reported and leave the PEL");
  assert.equal(second[0], "0-0");
  const summary = (await redis.xpending(s, "g")) as [
    number,
    string,
    string,
    Array<[string, string]>,
  ];
  assert.deepEqual(summary[3], [["healthy", "3"]]);
  const justId = (await redis.xautoclaim(s, "g", "other", 0, "-", "JUSTID")) as [
    string,
    string[],
    string[],
  ];
  assert.deepEqual(justId[1], [ids[0], ids[1], ids[3]]);
});

test("node-redis (RESP2 and RESP3): stream commands and XREAD's map reply", async (t) => {
  for (const RESP of [2, 3] as const) {
    // node-redis v5 parses XREAD's RESP3 map only with `unstableResp3`
    const client = createClient({
      url: `redis://127.0.0.1:${broker.ports.resp}`,
      RESP,
      unstableResp3: RESP === 3,
    });
    client.on("error", () => {});
    await client.connect();
    t.after(() => {
      if (client.isOpen) client.destroy();
    });
    const s = `nr:${RESP}`;
    const id = await client.xAdd(s, "*", { a: "1", b: "2" });
    assert.match(id, /^\d+-0$/);
    assert.equal(await client.xLen(s), 1);
    const range = await client.xRange(s, "-", "+");
    assert.deepEqual(
      range.map((e) => [e.id, { ...e.message }]),
      [[id, { a: "1", b: "2" }]],
    );
    const read = await client.xRead({ key: s, id: "0-0" }, { COUNT: 10 });
    assert.ok(read, "xRead returned entries");
    const streams = Array.isArray(read)
      ? read
      : Object.entries(read as object).map(([name, messages]) => ({ name, messages }));
    assert.equal(streams.length, 1);
    await client.xGroupCreate(s, "g", "0");
    const group = await client.xReadGroup("g", "c", { key: s, id: ">" });
    assert.ok(group);
    const pending = await client.xPending(s, "g");
    assert.equal(pending.pending, 1);
    assert.equal(await client.xAck(s, "g", id), 1);
    const info = await client.xInfoStream(s);
    assert.equal(info.length, 1);
    assert.equal(
      info["last-generated-id"] ?? (info as unknown as { lastGeneratedId: string }).lastGeneratedId,
      id,
    );
    const groups = await client.xInfoGroups(s);
    assert.equal(groups.length, 1);
    const raw = await client.sendCommand(["XREAD", "STREAMS", s, "0"]);
    const entries = [[id, ["a", "1", "b", "2"]]];
    // RESP3: a map (key -> entries), which node-redis gives as an object; RESP2: [[key, entries]]
    if (RESP === 3) assert.deepEqual({ ...(raw as object) }, { [s]: entries });
    else assert.deepEqual(raw, [[s, entries]]);
    await client.close();
  }
});

test("a Kafka consumer reads the entries XADDed to the same stream", async (t) => {
  const redis = ioredis();
  t.after(() => redis.disconnect());
  const ids: string[] = [];
  for (let i = 0; i < 3; i++)
    ids.push((await redis.xadd("orders", "*", "item", `sku-${i}`, "qty", String(i + 1)))!);
  const kafka = new Kafka({
    brokers: [`127.0.0.1:${broker.ports.kafka}`],
    clientId: "streams",
    logLevel: logLevel.NOTHING,
  });
  const reader = await KafkajsReader.connect(kafka);
  t.after(() => reader.disconnect());
  const records = await reader.readRange("orders", 0, 0, 3);
  assert.deepEqual(
    records.map((r) => [
      r.key!.toString(),
      r.value,
      r.headers.item!.toString(),
      r.headers.qty!.toString(),
    ]),
    ids.map((id, i) => [id, null, `sku-${i}`, String(i + 1)]),
  );
  // and a Kafka producer's record shows up in XRANGE with an id after the entries
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: "orders",
    messages: [{ key: "k", value: "from-kafka", headers: { h: "x" } }],
  });
  await producer.disconnect();
  const tail = await redis.xrevrange("orders", "+", "-", "COUNT", 1);
  assert.deepEqual(tail[0]![1], ["h", "x", "key", "k", "value", "from-kafka"]);
  assert.ok(tail[0]![0] > ids[2]!, "an id above the last XADD entry");
});

test("redis-cli: XADD and XRANGE", async () => {
  const cli = (...args: string[]) =>
    run("redis-cli", ["-h", "127.0.0.1", "-p", String(broker.ports.resp), ...args], {
      timeout: 10_000,
    });
  const added = await cli("XADD", "cli:s", "*", "greeting", "hello world");
  const id = added.stdout.trim();
  assert.match(id, /^\d+-0$/);
  const range = await cli("XRANGE", "cli:s", "-", "+");
  assert.equal(range.stdout, `${id}\ngreeting\nhello world\n`);
  const csv = await cli("--csv", "XRANGE", "cli:s", "-", "+");
  assert.equal(csv.stdout.trim(), `"${id}","greeting","hello world"`);
});
