import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeRecords, encodeBatch } from "../../storage/record-batch.ts";
import { StreamCommandError } from "./stream-errors.ts";
import { maxId, minId, parseIdArgument, uint64Max } from "./stream-id.ts";
import {
  auto,
  explicit,
  fields,
  id,
  key,
  openStreamKit,
  type StreamKit,
  text,
} from "./stream-test-kit.ts";

const s = key("s");

function rejectsWith(reply: string) {
  return (error: unknown) => error instanceof StreamCommandError && error.reply === reply;
}

async function add(kit: StreamKit, idText: string | null, ...pairs: string[]): Promise<string> {
  const result = await kit.streams.xadd(s, {
    id: idText === null ? auto : explicit(idText),
    noMkStream: false,
    trim: null,
    fields: fields(...pairs),
  });
  return result!;
}

async function ids(kit: StreamKit, start = "-", end = "+"): Promise<string[]> {
  const last = parseIdArgument(end, { missingSeq: uint64Max }).id;
  const entries = await kit.streams.xrange(s, id(start), last, null, false);
  return entries.map((entry) => entry.id);
}

test("XADD: auto ids from the clock, sequence within a millisecond, never backwards", async (t) => {
  const kit = await openStreamKit();
  t.after(() => kit.dispose());
  const ms = kit.clock.ms;
  assert.equal(await add(kit, null, "a", "1"), `${ms}-0`);
  assert.equal(await add(kit, null, "a", "2"), `${ms}-1`);
  kit.clock.advance(5);
  assert.equal(await add(kit, null, "a", "3"), `${ms + 5}-0`);
  kit.clock.advance(-100); // the clock went back: ids do not
  assert.equal(await add(kit, null, "a", "4"), `${ms + 5}-1`);
  // concurrent XADDs share a group commit and still get increasing ids
  const many = await Promise.all(Array.from({ length: 50 }, (_, i) => add(kit, null, "i", `${i}`)));
  assert.deepEqual(
    many,
    Array.from({ length: 50 }, (_, i) => `${ms + 5}-${i + 2}`),
  );
  assert.equal(await kit.streams.xlen(s), 54);
  const entries = await kit.streams.xrange(s, minId, maxId, 2, false);
  assert.deepEqual(text(entries[1]!.fields), ["a", "2"]);
});

test("XADD: explicit ids must grow; <ms>-* picks the sequence; NOMKSTREAM", async (t) => {
  const kit = await openStreamKit();
  t.after(() => kit.dispose());
  const smaller = rejectsWith(
    "ERR The ID specified in XADD is equal or smaller than the target stream top item",
  );
  assert.equal(await add(kit, "5-5", "f", "v"), "5-5");
  await assert.rejects(add(kit, "5-5", "f", "v"), smaller);
  await assert.rejects(add(kit, "5-4", "f", "v"), smaller);
  await assert.rejects(add(kit, "4", "f", "v"), smaller);
  assert.equal(await add(kit, "5-*", "f", "v"), "5-6");
  assert.equal(await add(kit, "7-*", "f", "v"), "7-0");
  assert.equal(
    await add(kit, "18446744073709551615-18446744073709551615", "f", "v"),
    "18446744073709551615-18446744073709551615",
  );
  await assert.rejects(
    add(kit, null, "f", "v"),
    rejectsWith("ERR The stream has exhausted the last possible ID, unable to add more items"),
  );
  const missing = await kit.streams.xadd(key("nope"), {
    id: auto,
    noMkStream: true,
    trim: null,
    fields: fields("f", "v"),
  });
  assert.equal(missing, null);
  assert.equal(kit.streams.keyType(key("nope")), "none");
  // binary field names and values survive (Kafka header keys are strings; ours are raw bytes)
  const binary = Buffer.from([0xff, 0x00, 0xfe]);
  await kit.streams.xadd(key("bin"), {
    id: auto,
    noMkStream: false,
    trim: null,
    fields: [binary, binary],
  });
  const [entry] = await kit.streams.xrange(key("bin"), minId, maxId, null, false);
  assert.deepEqual(entry!.fields, [binary, binary]);
});

test("XRANGE / XREVRANGE: inclusive and exclusive bounds, COUNT, across index checkpoints", async (t) => {
  const kit = await openStreamKit({ segmentBytes: 64 * 1024 });
  t.after(() => kit.dispose());
  // added 100 at a time (one group commit each), in id order
  for (let i = 1; i <= 3000; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) => add(kit, `${i + j}-1`, "n", `${i + j}`)),
    );
  }
  assert.deepEqual(await ids(kit, "10", "12"), ["10-1", "11-1", "12-1"]);
  assert.deepEqual(await ids(kit, "10-2", "12-0"), ["11-1"]);
  const exclusive = await kit.streams.xrange(s, id("10-2"), id("12-0"), null, false);
  assert.equal(exclusive.length, 1);
  const head = await kit.streams.xrange(s, minId, maxId, 3, false);
  assert.deepEqual(
    head.map((e) => e.id),
    ["1-1", "2-1", "3-1"],
  );
  const tail = await kit.streams.xrange(s, minId, maxId, 3, true);
  assert.deepEqual(
    tail.map((e) => e.id),
    ["3000-1", "2999-1", "2998-1"],
  );
  // a reverse range crossing many checkpoint blocks
  const upTo2500 = parseIdArgument("2500", { missingSeq: uint64Max }).id;
  const middle = await kit.streams.xrange(s, id("1000"), upTo2500, null, true);
  assert.equal(middle.length, 1501);
  assert.equal(middle[0]!.id, "2500-1");
  assert.equal(middle[1500]!.id, "1000-1");
  for (const probe of [1, 1023, 1024, 1025, 2047, 2999, 3000]) {
    const [found] = await kit.streams.xrange(s, id(`${probe}`), maxId, 1, false);
    assert.equal(found!.id, `${probe}-1`);
    assert.deepEqual(text(found!.fields), ["n", `${probe}`]);
  }
  assert.deepEqual(await ids(kit, "3001", "+"), []);
  assert.deepEqual(await ids(kit, "5", "4"), []);
  assert.deepEqual(await kit.streams.xrange(key("missing"), minId, maxId, null, false), []);
});

test("XDEL and XLEN; deletes survive a restart", async (t) => {
  const first = await openStreamKit();
  for (let i = 1; i <= 10; i++) await add(first, `${i}-0`, "n", `${i}`);
  assert.equal(await first.streams.xdel(s, [id("3-0"), id("3-0"), id("99-0"), id("5-0")]), 2);
  assert.equal(await first.streams.xdel(s, [id("3-0")]), 0);
  assert.equal(await first.streams.xlen(s), 8);
  assert.deepEqual(await ids(first, "2", "6"), ["2-0", "4-0", "6-0"]);
  await first.close();
  const kit = await openStreamKit({ dir: first.dir });
  t.after(() => kit.dispose());
  assert.equal(await kit.streams.xlen(s), 8);
  assert.deepEqual(await ids(kit, "2", "6"), ["2-0", "4-0", "6-0"]);
  const info = await kit.streams.xinfoStream(s);
  assert.equal(info.maxDeletedEntryId, "5-0");
  assert.equal(info.entriesAdded, 10);
  assert.equal(info.lastGeneratedId, "10-0");
  assert.equal(info.firstEntry!.id, "1-0");
  assert.equal(info.lastEntry!.id, "10-0");
  // the next id still grows past the deleted ones
  assert.equal(await add(kit, "10-*", "n", "11"), "10-1");
});

test("XTRIM: MAXLEN exact and approximate, MINID, LIMIT; trimmed data leaves the log", async (t) => {
  const kit = await openStreamKit({ segmentBytes: 16 * 1024 });
  t.after(() => kit.dispose());
  for (let i = 1; i <= 1000; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) => add(kit, `${i + j}-0`, "n", `${i + j}`)),
    );
  }
  await kit.streams.xdel(s, [id("2-0")]);
  const trim = (spec: Partial<Parameters<typeof kit.streams.xtrim>[1]>) =>
    kit.streams.xtrim(s, {
      strategy: "maxlen",
      maxLength: 0,
      minId,
      approx: false,
      limit: 0,
      ...spec,
    });
  assert.equal(await trim({ maxLength: 990 }), 9); // 999 live -> 990
  assert.equal(await kit.streams.xlen(s), 990);
  assert.deepEqual(await ids(kit, "-", "12"), ["11-0", "12-0"]);
  assert.equal(await trim({ maxLength: 900, approx: true }), 0, "under 100 in excess: nothing");
  assert.equal(await trim({ maxLength: 800, approx: true }), 100, "whole nodes of 100");
  assert.equal(await trim({ maxLength: 0, approx: true, limit: 250 }), 250);
  assert.equal(await kit.streams.xlen(s), 640);
  assert.equal(await trim({ strategy: "minid", minId: id("500") }), 139);
  assert.deepEqual((await ids(kit)).slice(0, 2), ["500-0", "501-0"]);
  const partition = kit.registry.partition("s", 0);
  assert.ok(partition.logStartOffset >= 499, "the log start moved (Kafka DeleteRecords)");
  assert.equal(await trim({ maxLength: 0 }), 501);
  assert.equal(await kit.streams.xlen(s), 0);
  assert.equal(await add(kit, null, "after", "trim"), `${kit.clock.ms}-0`);
  // XADD with MAXLEN trims after appending
  for (let i = 0; i < 5; i++) {
    await kit.streams.xadd(s, {
      id: auto,
      noMkStream: false,
      trim: { strategy: "maxlen", maxLength: 3, minId, approx: false, limit: 0 },
      fields: fields("i", `${i}`),
    });
  }
  assert.equal(await kit.streams.xlen(s), 3);
});

test("records produced by Kafka clients get increasing ids; XADD entries are Kafka records", async (t) => {
  const kit = await openStreamKit();
  t.after(() => kit.dispose());
  await add(kit, "100-0", "f", "v");
  const partition = kit.registry.partition("s", 0);
  await partition.append(
    encodeBatch([
      { key: Buffer.from("k1"), value: Buffer.from("v1"), timestamp: 50 },
      {
        key: null,
        value: Buffer.from("v2"),
        timestamp: 200,
        headers: [{ key: "h", value: Buffer.from("x") }],
      },
      { key: null, value: Buffer.from("v3"), timestamp: 200 },
    ]),
  );
  assert.equal(await add(kit, "200-*", "f", "w"), "200-2");
  const entries = await kit.streams.xrange(s, minId, maxId, null, false);
  assert.deepEqual(
    entries.map((entry) => [entry.id, text(entry.fields)]),
    [
      ["100-0", ["f", "v"]],
      ["100-1", ["key", "k1", "value", "v1"]], // timestamp 50 is below 100: next sequence
      ["200-0", ["h", "x", "value", "v2"]],
      ["200-1", ["value", "v3"]],
      ["200-2", ["f", "w"]],
    ],
  );
  // what a Kafka consumer sees of an XADD entry: key = id, headers = fields, no value
  const { bytes } = await partition.read(0, 1 << 20);
  const [record] = decodeRecords(bytes, 0);
  assert.equal(record!.key!.toString(), "100-0");
  assert.equal(record!.value, null);
  assert.deepEqual(
    record!.headers.map((h) => [h.key, h.value!.toString()]),
    [["f", "v"]],
  );
});

test("XADD racing a Kafka append: the id is re-picked, never duplicated", async (t) => {
  const kit = await openStreamKit();
  t.after(() => kit.dispose());
  await add(kit, null, "first", "1");
  const partition = kit.registry.partition("s", 0);
  const future = kit.clock.ms + 60_000;
  // The Kafka record is enqueued first, not yet durable when XADD picks its id.
  const foreign = partition.append(
    encodeBatch([{ key: null, value: Buffer.from("k"), timestamp: future }]),
  );
  const xadd = add(kit, null, "second", "2");
  await foreign;
  const addedId = await xadd;
  assert.equal(addedId, `${future}-1`, "above the Kafka record's id");
  const entries = await kit.streams.xrange(s, minId, maxId, null, false);
  assert.deepEqual(
    entries.map((entry) => entry.id),
    [`${kit.clock.ms}-0`, `${future}-0`, `${future}-1`],
  );
  assert.equal(await kit.streams.xlen(s), 3, "the void record is not an entry");
  // explicit ids are refused instead, as if the other record had come first
  const foreign2 = partition.append(
    encodeBatch([{ key: null, value: Buffer.from("k"), timestamp: future + 10 }]),
  );
  const explicitAdd = add(kit, `${future + 5}-0`, "third", "3");
  await foreign2;
  await assert.rejects(
    explicitAdd,
    rejectsWith("ERR The ID specified in XADD is equal or smaller than the target stream top item"),
  );
  assert.equal(await kit.streams.xlen(s), 4);
});

test("consumer groups: delivery, PEL, history, ack, NOACK, entries-read and lag", async (t) => {
  const kit = await openStreamKit();
  t.after(() => kit.dispose());
  const g = key("g");
  for (let i = 1; i <= 5; i++) await add(kit, `${i}-0`, "n", `${i}`);
  await kit.streams.xgroupCreate(s, g, id("0"), false, null);
  await assert.rejects(
    kit.streams.xgroupCreate(s, g, "$", false, null),
    rejectsWith("BUSYGROUP Consumer Group name already exists"),
  );
  const read = (consumer: string, position: "new" | string, count: number | null, noAck = false) =>
    kit.streams.xreadgroup(
      g,
      key(consumer),
      [
        {
          key: s,
          position: position === "new" ? { kind: "new" } : { kind: "id", id: id(position) },
        },
      ],
      { count, blockMs: null, noAck },
    );
  const first = await read("alice", "new", 2);
  assert.deepEqual(
    first![0]!.entries.map((e) => e.id),
    ["1-0", "2-0"],
  );
  kit.clock.advance(10);
  const second = await read("bob", "new", 2);
  assert.deepEqual(
    second![0]!.entries.map((e) => e.id),
    ["3-0", "4-0"],
  );
  const summary = kit.streams.xpendingSummary(s, g);
  assert.equal(summary.count, 4);
  assert.equal(summary.first, "1-0");
  assert.equal(summary.last, "4-0");
  assert.deepEqual(
    summary.consumers.map((c) => [c.name.toString(), c.count]),
    [
      ["alice", 2],
      ["bob", 2],
    ],
  );
  // history: alice's own pending entries, delivery count goes up
  const history = await read("alice", "0", null);
  assert.deepEqual(
    history![0]!.entries.map((e) => e.id),
    ["1-0", "2-0"],
  );
  const detail = kit.streams.xpendingRange(s, g, {
    minIdleMs: 0,
    start: minId,
    end: maxId,
    count: 10,
    consumer: null,
  });
  assert.deepEqual(
    detail.map((d) => [d.id, d.consumer.toString(), d.deliveries]),
    [
      ["1-0", "alice", 2],
      ["2-0", "alice", 2],
      ["3-0", "bob", 1],
      ["4-0", "bob", 1],
    ],
  );
  const idle = kit.streams.xpendingRange(s, g, {
    minIdleMs: 5,
    start: minId,
    end: maxId,
    count: 10,
    consumer: null,
  });
  assert.deepEqual(
    idle.map((d) => d.id),
    [],
    "alice's entries were just re-read; bob's 0 ms idle",
  );
  assert.equal(await kit.streams.xack(s, g, [id("1-0"), id("1-0"), id("3-0"), id("9-0")]), 2);
  // a deleted pending entry reads back as [id, nil]
  await kit.streams.xdel(s, [id("2-0")]);
  const afterDelete = await read("alice", "0", null);
  assert.deepEqual(afterDelete![0]!.entries, [{ id: "2-0", fields: null }]);
  // NOACK: delivered, not pending
  const noack = await read("carol", "new", null, true);
  assert.deepEqual(
    noack![0]!.entries.map((e) => e.id),
    ["5-0"],
  );
  assert.equal(kit.streams.xpendingSummary(s, g).count, 2);
  assert.equal(await read("carol", "new", null), null, "nothing new: null reply");
  const [groupInfo] = await kit.streams.xinfoGroups(s);
  assert.equal(groupInfo!.lastDeliveredId, "5-0");
  assert.equal(groupInfo!.consumers, 3);
  assert.equal(groupInfo!.pending, 2);
  assert.equal(groupInfo!.entriesRead, 5);
  assert.equal(groupInfo!.lag, 0);
  const consumers = kit.streams.xinfoConsumers(s, g);
  assert.deepEqual(
    consumers.map((c) => [c.name.toString(), c.pending]),
    [
      ["alice", 1],
      ["bob", 1],
      ["carol", 0],
    ],
  );
  assert.equal(await kit.streams.xgroupDelConsumer(s, g, key("bob")), 1);
  assert.equal(kit.streams.xpendingSummary(s, g).count, 1);
  assert.equal(await kit.streams.xgroupCreateConsumer(s, g, key("dave")), 1);
  assert.equal(await kit.streams.xgroupCreateConsumer(s, g, key("dave")), 0);
  await kit.streams.xgroupSetId(s, g, id("0"), null);
  const again = await read("dave", "new", 1);
  assert.deepEqual(
    again![0]!.entries.map((e) => e.id),
    ["1-0"],
  );
  assert.equal(await kit.streams.xgroupDestroy(s, g), 1);
  assert.equal(await kit.streams.xgroupDestroy(s, g), 0);
  await assert.rejects(
    read("dave", "new", 1),
    rejectsWith("NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option"),
  );
});

test("XCLAIM and XAUTOCLAIM with an injected clock; deleted entries reported as Redis 7 does", async (t) => {
  const kit = await openStreamKit();
  t.after(() => kit.dispose());
  const g = key("g");
  for (let i = 1; i <= 6; i++) await add(kit, `${i}-0`, "n", `${i}`);
  await kit.streams.xgroupCreate(s, g, id("0"), false, null);
  await kit.streams.xreadgroup(g, key("a"), [{ key: s, position: { kind: "new" } }], {
    count: null,
    blockMs: null,
    noAck: false,
  });
  kit.clock.advance(1000);
  const claim = (consumer: string, minIdleMs: number, idTexts: string[], extra = {}) =>
    kit.streams.xclaim(s, g, key(consumer), {
      minIdleMs,
      ids: idTexts.map(id),
      idleMs: null,
      timeMs: null,
      retryCount: null,
      force: false,
      justId: false,
      lastId: null,
      ...extra,
    });
  assert.deepEqual(await claim("b", 5000, ["1-0"]), [], "not idle long enough");
  const claimed = await claim("b", 500, ["1-0", "2-0", "42-0"]);
  assert.deepEqual(
    claimed.map((e) => [e.id, text(e.fields)]),
    [
      ["1-0", ["n", "1"]],
      ["2-0", ["n", "2"]],
    ],
  );
  const justId = await claim("c", 0, ["2-0"], { justId: true, retryCount: 7 });
  assert.deepEqual(justId, [{ id: "2-0", fields: null }]);
  const pending = kit.streams.xpendingRange(s, g, {
    minIdleMs: 0,
    start: minId,
    end: maxId,
    count: 10,
    consumer: null,
  });
  assert.deepEqual(
    pending.slice(0, 2).map((p) => [p.id, p.consumer.toString(), p.deliveries, p.idleMs]),
    [
      ["1-0", "b", 2, 0],
      ["2-0", "c", 7, 0],
    ],
  );
  await kit.streams.xdel(s, [id("4-0")]);
  kit.clock.advance(1000);
  const auto1 = await kit.streams.xautoclaim(s, g, key("d"), {
    minIdleMs: 500,
    start: minId,
    count: 2,
    justId: false,
  });
  assert.deepEqual(
    auto1.claimed.map((e) => e.id),
    ["1-0", "2-0"],
  );
  assert.equal(auto1.next, "3-0");
  const auto2 = await kit.streams.xautoclaim(s, g, key("d"), {
    minIdleMs: 500,
    start: id(auto1.next),
    count: 10,
    justId: true,
  });
  assert.deepEqual(auto2.claimedIds, ["3-0", "5-0", "6-0"]);
  assert.deepEqual(auto2.deleted, ["4-0"]);
  assert.equal(auto2.next, "0-0");
  assert.equal(kit.streams.xpendingSummary(s, g).count, 5, "the deleted entry left the PEL");
  // FORCE creates a PEL entry for an entry that exists
  const forced = await claim("e", 0, ["4-0", "6-0"], { force: true, justId: true });
  assert.deepEqual(
    forced.map((e) => e.id),
    ["6-0"],
  );
  assert.throws(
    () => kit.streams.checkPendingGroup(s, key("nogroup")),
    rejectsWith("NOGROUP No such key 's' or consumer group 'nogroup'"),
  );
});

test("durability across reopen: groups, PEL, consumers, ids; and after a journal snapshot", async (t) => {
  const first = await openStreamKit();
  const g = key("g");
  for (let i = 1; i <= 4; i++) await add(first, null, "n", `${i}`);
  await first.streams.xgroupCreate(s, g, id("0"), false, null);
  await first.streams.xreadgroup(g, key("a"), [{ key: s, position: { kind: "new" } }], {
    count: 3,
    blockMs: null,
    noAck: false,
  });
  const before = kit2Snapshot(first);
  await first.streams.xack(s, g, [id(`${first.clock.ms}-0`)]);
  await first.close();
  let kit = await openStreamKit({ dir: first.dir, clock: first.clock });
  assert.deepEqual(kit2Snapshot(kit).pending, before.pending.slice(1));
  const next = await add(kit, null, "n", "5");
  assert.equal(next, `${kit.clock.ms}-4`, "ids continue after a restart");
  await kit.streams.rewriteJournal();
  await kit.close();
  kit = await openStreamKit({ dir: first.dir, clock: first.clock });
  t.after(() => kit.dispose());
  const after = kit2Snapshot(kit);
  assert.deepEqual(after.pending, before.pending.slice(1));
  const [groupInfo] = await kit.streams.xinfoGroups(s);
  assert.equal(groupInfo!.lastDeliveredId, `${kit.clock.ms}-2`);
  assert.equal(groupInfo!.lag, 2);
  const rest = await kit.streams.xreadgroup(g, key("b"), [{ key: s, position: { kind: "new" } }], {
    count: null,
    blockMs: null,
    noAck: false,
  });
  assert.deepEqual(
    rest![0]!.entries.map((e) => e.id),
    [`${kit.clock.ms}-3`, `${kit.clock.ms}-4`],
  );
});

function kit2Snapshot(kit: StreamKit) {
  return {
    pending: kit.streams
      .xpendingRange(s, key("g"), {
        minIdleMs: 0,
        start: minId,
        end: maxId,
        count: 100,
        consumer: null,
      })
      .map((p) => [p.id, p.consumer.toString(), p.deliveries]),
  };
}

test("XREAD BLOCK is woken by XADD; $ and + positions; timeout gives null", async (t) => {
  const kit = await openStreamKit();
  t.after(() => kit.dispose());
  await add(kit, "1-0", "a", "1");
  const last = await kit.streams.xread([{ key: s, position: { kind: "lastEntry" } }], {
    count: null,
    blockMs: null,
  });
  assert.deepEqual(
    last![0]!.entries.map((e) => e.id),
    ["1-0"],
  );
  const timedOut = await kit.streams.xread([{ key: s, position: { kind: "last" } }], {
    count: null,
    blockMs: 30,
  });
  assert.equal(timedOut, null);
  const blocked = kit.streams.xread(
    [
      { key: key("other"), position: { kind: "last" } },
      { key: s, position: { kind: "last" } },
    ],
    { count: null, blockMs: 5000 },
  );
  setTimeout(() => void add(kit, "2-0", "b", "2"), 20);
  const woken = await blocked;
  assert.equal(woken!.length, 1);
  assert.equal(woken![0]!.key.toString(), "s");
  assert.deepEqual(
    woken![0]!.entries.map((e) => e.id),
    ["2-0"],
  );
  // a blocked read on a stream that does not exist yet is woken by the XADD that creates it
  const onNew = kit.streams.xread([{ key: key("later"), position: { kind: "last" } }], {
    count: null,
    blockMs: 5000,
  });
  setTimeout(
    () =>
      void kit.streams.xadd(key("later"), {
        id: auto,
        noMkStream: false,
        trim: null,
        fields: fields("x", "y"),
      }),
    20,
  );
  assert.equal((await onNew)![0]!.entries.length, 1);
  // abort ends a blocked read
  const controller = new AbortController();
  const aborted = kit.streams.xread([{ key: s, position: { kind: "last" } }], {
    count: null,
    blockMs: 0,
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(), 20);
  assert.equal(await aborted, null);
});

test("XSETID: bounds, entries-added, max-deleted-id; the next XADD goes above it", async (t) => {
  const kit = await openStreamKit();
  t.after(() => kit.dispose());
  await add(kit, "5-0", "a", "1");
  await kit.streams.xdel(s, [id("5-0")]);
  await assert.rejects(
    kit.streams.xsetid(s, id("4-0"), null, null),
    rejectsWith("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id"),
  );
  await add(kit, "6-0", "a", "2");
  await assert.rejects(
    kit.streams.xsetid(s, id("5-9"), null, null),
    rejectsWith("ERR The ID specified in XSETID is smaller than the target stream top item"),
  );
  await assert.rejects(
    kit.streams.xsetid(s, id("7-0"), 0, null),
    rejectsWith(
      "ERR The entries_added specified in XSETID is smaller than the target stream length",
    ),
  );
  await kit.streams.xsetid(s, id("1000-0"), 50, id("900-0"));
  const info = await kit.streams.xinfoStream(s);
  assert.equal(info.lastGeneratedId, "1000-0");
  assert.equal(info.entriesAdded, 50);
  assert.equal(info.maxDeletedEntryId, "900-0");
  await assert.rejects(add(kit, "999-0", "a", "3"), StreamCommandError);
  assert.equal(await add(kit, "1000-*", "a", "3"), "1000-1");
  await assert.rejects(
    kit.streams.xsetid(key("none"), id("1-0"), null, null),
    rejectsWith("ERR no such key"),
  );
});

test("WRONGTYPE for a topic of several partitions", async (t) => {
  const kit = await openStreamKit();
  t.after(() => kit.dispose());
  await kit.registry.create("wide", 3);
  assert.throws(
    () => kit.streams.keyType(key("wide")),
    rejectsWith("WRONGTYPE Operation against a key holding the wrong kind of value"),
  );
  await assert.rejects(kit.streams.xlen(key("wide")), StreamCommandError);
});

test("a snapshot of a large PEL spans several journal records and reloads whole", async (t) => {
  const first = await openStreamKit();
  const g = key("g");
  await Promise.all(Array.from({ length: 25_000 }, (_, i) => add(first, null, "n", `${i}`)));
  await first.streams.xgroupCreate(s, g, id("0"), false, null);
  const delivered = await first.streams.xreadgroup(
    g,
    key("a"),
    [{ key: s, position: { kind: "new" } }],
    {
      count: null,
      blockMs: null,
      noAck: false,
    },
  );
  assert.equal(delivered![0]!.entries.length, 25_000);
  await first.streams.xack(s, g, [id(delivered![0]!.entries[7]!.id)]);
  await first.streams.rewriteJournal();
  assert.equal(first.streams.journalStats().rewrites, 1);
  await first.close();
  const kit = await openStreamKit({ dir: first.dir, clock: first.clock });
  t.after(() => kit.dispose());
  const summary = kit.streams.xpendingSummary(s, g);
  assert.equal(summary.count, 24_999);
  assert.equal(summary.first, delivered![0]!.entries[0]!.id);
  assert.equal(summary.last, delivered![0]!.entries[24_999]!.id);
  assert.equal(await kit.streams.xlen(s), 25_000);
});
