/**
 * kill -9 during XADD loses no acknowledged entry, and no acknowledged consumer-group change.
 * Each cycle: ioredis clients XADD numbered entries from a few concurrent loops while a
 * consumer reads them with XREADGROUP and acknowledges every other one; at a random moment the
 * broker gets SIGKILL; it restarts on the same data directory. At the end:
 * - every XADD that got a reply is in the stream with the id it was answered and its fields;
 * - every XACK that got a reply stays acknowledged, and every entry an XREADGROUP reply handed
 *   out and that was not acknowledged is still pending for its consumer.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { Redis } from "ioredis";
import { BrokerProcess } from "../helpers/broker-process.ts";

const cycles = 3;
const loops = 4;
const stream = "crash:orders";

function connect(broker: BrokerProcess): Redis {
  return new Redis({
    host: "127.0.0.1",
    port: broker.ports.resp,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    lazyConnect: true,
  });
}

test("SIGKILL during XADD / XREADGROUP / XACK loses nothing that was answered", {
  timeout: 180_000,
}, async (t) => {
  let broker = await BrokerProcess.start();
  broker.keepDataDir();
  const { dataDir, ports } = broker;
  t.after(async () => {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const setup = connect(broker);
  await setup.connect();
  await setup.xgroup("CREATE", stream, "g", "0", "MKSTREAM");
  setup.disconnect();

  const added = new Map<string, string>(); // id -> payload
  const acked = new Set<string>();
  const delivered = new Set<string>();
  /** XACKs sent whose reply never came: either outcome is allowed. */
  const ackUnknown = new Set<string>();
  let sequence = 0;
  for (let cycle = 0; cycle < cycles; cycle++) {
    const clients = Array.from({ length: loops + 1 }, () => connect(broker));
    await Promise.all(clients.map((client) => client.connect()));
    let stopped = false;
    const adder = async (client: Redis) => {
      while (!stopped) {
        const payload = `c${cycle}-n${sequence++}`;
        try {
          const id = await client.xadd(stream, "*", "payload", payload, "cycle", String(cycle));
          added.set(id!, payload);
        } catch {
          stopped = true;
        }
      }
    };
    const consumer = async (client: Redis) => {
      while (!stopped) {
        try {
          const reply = (await client.xreadgroup(
            "GROUP",
            "g",
            "worker",
            "COUNT",
            20,
            "BLOCK",
            100,
            "STREAMS",
            stream,
            ">",
          )) as Array<[string, Array<[string, string[]]>]> | null;
          const ids = reply?.[0]?.[1].map((entry) => entry[0]) ?? [];
          for (const id of ids) delivered.add(id);
          const toAck = ids.filter((_, i) => i % 2 === 0);
          if (toAck.length > 0) {
            for (const id of toAck) ackUnknown.add(id);
            await client.xack(stream, "g", ...toAck);
            for (const id of toAck) {
              acked.add(id);
              ackUnknown.delete(id);
            }
          }
        } catch {
          stopped = true;
        }
      }
    };
    const running = [
      ...clients.slice(0, loops).map((client) => adder(client)),
      consumer(clients[loops]!),
    ];
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(Math.random() * 900)));
    await broker.kill();
    stopped = true;
    await Promise.all(running);
    for (const client of clients) client.disconnect();
    broker = await BrokerProcess.start({ dataDir, ports });
    broker.keepDataDir();
  }
  t.diagnostic(`answered: ${added.size} XADDs, ${acked.size} XACKs, ${delivered.size} delivered`);
  assert.ok(added.size > 0, "some XADDs were answered before the kills");
  assert.ok(acked.size > 0, "some XACKs were answered before the kills");

  const check = connect(broker);
  await check.connect();
  t.after(() => check.disconnect());
  const entries = new Map<string, string[]>();
  let cursor = "-";
  for (;;) {
    const page = await check.xrange(stream, cursor, "+", "COUNT", 1000);
    for (const [id, fields] of page) entries.set(id, fields);
    if (page.length < 1000) break;
    cursor = `(${page[page.length - 1]![0]}`;
  }
  for (const [id, payload] of added) {
    const fields = entries.get(id);
    assert.ok(fields, `acknowledged XADD ${id} (${payload}) is missing after kill -9`);
    assert.equal(fields[1], payload, `entry ${id} has its fields`);
  }
  const ids = [...entries.keys()];
  const sorted = [...ids].sort((a, b) => {
    const [am, as] = a.split("-").map(BigInt);
    const [bm, bs] = b.split("-").map(BigInt);
    return am! === bm! ? (as! < bs! ? -1 : 1) : am! < bm! ? -1 : 1;
  });
  assert.deepEqual(ids, sorted, "ids increase with the log");
  const pending = new Set(
    ((await check.xpending(stream, "g", "-", "+", 1_000_000)) as Array<[string, string]>).map(
      (entry) => entry[0],
    ),
  );
  for (const id of acked) assert.ok(!pending.has(id), `acknowledged ${id} is pending again`);
  for (const id of delivered) {
    if (acked.has(id) || ackUnknown.has(id)) continue;
    assert.ok(pending.has(id), `delivered ${id} left the PEL without an ack`);
  }
});
