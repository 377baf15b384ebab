import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeBatch } from "../../storage/record-batch.ts";
import { encodeEntryBatch } from "./entry-codec.ts";
import { compareIds, formatId, maxId, minId } from "./stream-id.ts";
import { type Checkpoint, StreamIndex } from "./stream-index.ts";
import { auto, fields, id, key, openStreamKit, type StreamKit } from "./stream-test-kit.ts";

const s = key("s");

async function allIds(kit: StreamKit): Promise<string[]> {
  const out: string[] = [];
  let start = minId;
  for (;;) {
    const page = await kit.streams.xrange(s, start, maxId, 500, false);
    out.push(...page.map((entry) => entry.id));
    if (page.length < 500) return out;
    const last = id(page[page.length - 1]!.id);
    start = { ms: last.ms, seq: last.seq + 1n };
  }
}

/** XADD entries and Kafka records (odd timestamps, some in the past) interleaved. */
async function fillMixed(kit: StreamKit, rounds: number): Promise<void> {
  const partition = kit.registry.partition("s", 0);
  for (let round = 0; round < rounds; round++) {
    const adds = Array.from({ length: 20 }, (_, i) =>
      kit.streams.xadd(s, {
        id: auto,
        noMkStream: false,
        trim: null,
        fields: fields("r", `${round}-${i}`),
      }),
    );
    await Promise.all(adds);
    kit.clock.advance(round % 3 === 0 ? 0 : 7);
    await partition.append(
      encodeBatch([
        { key: null, value: Buffer.from(`k${round}`), timestamp: kit.clock.ms - 50_000 },
        {
          key: Buffer.from("x"),
          value: Buffer.from(`k${round}b`),
          timestamp: kit.clock.ms + (round % 5),
        },
      ]),
    );
  }
}

test("ids of XADD and Kafka records are the same after a restart, across segments and checkpoints", async (t) => {
  const first = await openStreamKit({ segmentBytes: 8 * 1024 });
  await first.streams.xadd(s, {
    id: auto,
    noMkStream: false,
    trim: null,
    fields: fields("a", "b"),
  });
  await fillMixed(first, 80);
  const before = await allIds(first);
  assert.equal(before.length, 1 + 80 * 22);
  for (let i = 1; i < before.length; i++) {
    assert.ok(compareIds(id(before[i - 1]!), id(before[i]!)) < 0, `ids increase at ${i}`);
  }
  const partition = first.registry.partition("s", 0);
  assert.ok(partition.log.segmentCount > 4, "several segments");
  await first.close();
  const kit = await openStreamKit({ dir: first.dir, segmentBytes: 8 * 1024, clock: first.clock });
  t.after(() => kit.dispose());
  assert.deepEqual(await allIds(kit), before);
  assert.equal(await kit.streams.xlen(s), before.length);
  // retention / Kafka DeleteRecords at a segment boundary: the rest keeps its ids
  const reopened = kit.registry.partition("s", 0);
  const base = reopened.log.segmentBaseOffsets()[2]!;
  await reopened.deleteRecordsBefore(base);
  const afterDelete = await allIds(kit);
  assert.deepEqual(afterDelete, before.slice(before.length - afterDelete.length));
  await kit.close();
  const again = await openStreamKit({ dir: first.dir, segmentBytes: 8 * 1024, clock: first.clock });
  assert.deepEqual(await allIds(again), afterDelete);
  // a lookup in the middle lands exactly
  const probe = afterDelete[Math.floor(afterDelete.length / 2)]!;
  const [found] = await again.streams.xrange(s, id(probe), maxId, 1, false);
  assert.equal(found!.id, probe);
  await again.close();
});

test("the index keeps a bounded number of checkpoints and still finds every id", async () => {
  const kit = await openStreamKit();
  try {
    await kit.streams.xadd(s, {
      id: auto,
      noMkStream: false,
      trim: null,
      fields: fields("a", "b"),
    });
    const partition = kit.registry.partition("s", 0);
    const entries = Array.from({ length: 400 }, (_, i) => ({
      idText: `${1_800_000_000_000 + i * 3}-${i % 2}`,
      fields: fields("n", `${i}`),
      timestamp: kit.clock.ms,
    }));
    for (let i = 0; i < entries.length; i += 50) {
      await partition.append(encodeEntryBatch(entries.slice(i, i + 50)));
    }
    const persisted: Checkpoint[] = [];
    const index = new StreamIndex(partition, {
      persist: (checkpoints) => persisted.push(...checkpoints),
      intervalRecords: 4,
      checkpointsMax: 16,
      recentMax: 8,
    });
    await index.catchUp();
    index.flush();
    assert.ok(index.checkpointList().length <= 16, `${index.checkpointList().length} checkpoints`);
    assert.ok(persisted.length > 16, "checkpoints were handed to the journal as they were made");
    assert.equal(index.length, 401);
    for (const entry of entries) {
      const offset = await index.offsetOf(id(entry.idText));
      assert.ok(offset > 0, entry.idText);
    }
    assert.equal(await index.offsetOf(id("1800000000001-0")), -1);
    assert.equal(formatId(index.lastId), entries[entries.length - 1]!.idText);
  } finally {
    await kit.dispose();
  }
});
