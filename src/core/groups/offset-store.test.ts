/** Committed offsets: durable across reopen, tombstones, and the rewrite that bounds the log. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { pino } from "pino";
import { silentLogger } from "../../logging/logger.ts";
import { LOGS_DIR, LogStore } from "../../storage/log-store.ts";
import { openKit } from "./group-test-kit.ts";
import {
  decodeOffsetKey,
  decodeOffsetValue,
  encodeOffsetKey,
  encodeOffsetValue,
  OffsetRecordError,
} from "./offset-records.ts";
import { OffsetStore, type OffsetStoreOptions, offsetsLogName } from "./offset-store.ts";

let dir: string;
let logStore: LogStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "wharf-offsets-"));
});
afterEach(async () => {
  await logStore?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(options: Partial<OffsetStoreOptions> = {}): Promise<OffsetStore> {
  await logStore?.close();
  logStore = await LogStore.open(dir, { retentionCheckIntervalMs: 0 });
  return OffsetStore.open(logStore, { logger: silentLogger, now: () => 1_000, ...options });
}

const value = (offset: number, metadata = "") => ({
  offset,
  leaderEpoch: 2,
  metadata,
  commitTimestamp: 1_000,
});

test("offset records round-trip and malformed ones are refused", () => {
  const key = { group: "g-ü", topic: "orders", partition: 7 };
  assert.deepEqual(decodeOffsetKey(encodeOffsetKey(key)), key);
  const v = {
    offset: 2 ** 40,
    leaderEpoch: -1,
    metadata: "meta",
    commitTimestamp: 1_700_000_000_000,
  };
  assert.deepEqual(decodeOffsetValue(encodeOffsetValue(v)), v);
  const bytes = encodeOffsetValue(v);
  assert.throws(() => decodeOffsetValue(bytes.subarray(0, bytes.length - 1)), OffsetRecordError);
  assert.throws(
    () => decodeOffsetValue(Buffer.concat([bytes, Buffer.from([0])])),
    OffsetRecordError,
  );
  assert.throws(() => decodeOffsetKey(Buffer.from([0, 9, 0, 0])), OffsetRecordError);
});

test("committed offsets and tombstones survive a reopen", async () => {
  let store = await open();
  await store.commit("g", [
    { topic: "orders", partition: 0, value: value(10, "a") },
    { topic: "orders", partition: 1, value: value(20) },
  ]);
  await store.commit("h", [{ topic: "audit", partition: 0, value: value(5) }]);
  await store.commit("g", [{ topic: "orders", partition: 0, value: value(11, "b") }]);
  await store.remove("g", [{ topic: "orders", partition: 1 }]);
  await store.removeGroup("h");
  store = await open();
  assert.deepEqual(store.get("g", "orders", 0), value(11, "b"));
  assert.equal(store.get("g", "orders", 1), undefined);
  assert.equal(store.hasGroup("h"), false);
  assert.deepEqual([...store.groupIds()], ["g"]);
  assert.equal(store.stats().offsets, 1);
});

test("a corrupt batch in the offsets log loses its commits only, with an error line", async () => {
  let store = await open();
  await store.commit("g", [{ topic: "orders", partition: 0, value: value(10) }]);
  await store.commit("g", [{ topic: "orders", partition: 1, value: value(20) }]);
  await store.commit("g", [{ topic: "orders", partition: 2, value: value(30) }]);
  await logStore.close();
  // Flip a byte inside the second batch (its CRC no longer matches); batches lie back to back,
  // each 12 bytes of offset and length, then `length` bytes.
  const segment = join(dir, LOGS_DIR, offsetsLogName, `${"0".repeat(20)}.log`);
  const bytes = readFileSync(segment);
  const second = 12 + bytes.readInt32BE(8);
  bytes[second + 12 + bytes.readInt32BE(second + 8) - 2]! ^= 0x40;
  writeFileSync(segment, bytes);
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: "error" },
    { write: (line: string) => lines.push(JSON.parse(line)) },
  );
  store = await open({ logger });
  assert.deepEqual(store.get("g", "orders", 0), value(10));
  assert.equal(store.get("g", "orders", 1), undefined);
  assert.deepEqual(store.get("g", "orders", 2), value(30));
  const lost = lines.filter((line) => String(line.msg).startsWith("committed offsets lost"));
  assert.equal(lost.length, 1);
  assert.deepEqual(lost[0]!.range, { ...(lost[0]!.range as object), startOffset: 1, endOffset: 2 });
});

test("a commit is visible only once durable", async () => {
  const store = await open();
  const pending = store.commit("g", [{ topic: "t", partition: 0, value: value(1) }]);
  assert.equal(store.get("g", "t", 0), undefined);
  await pending;
  assert.equal(store.get("g", "t", 0)?.offset, 1);
});

test("the log is rewritten with the latest value per key and stays bounded", async () => {
  const options = { rewriteBytes: 16 * 1024, segmentBytes: 4 * 1024 };
  let store = await open(options);
  for (let round = 0; round < 200; round++) {
    await store.commit("g", [
      { topic: "orders", partition: round % 5, value: value(round) },
      { topic: "audit", partition: 0, value: value(round, "x".repeat(50)) },
    ]);
  }
  await store.rewriteNow();
  const stats = store.stats();
  assert.ok(stats.rewrites >= 2, `rewrites: ${stats.rewrites}`);
  assert.ok(stats.logBytes < 40 * 1024, `log stays bounded: ${stats.logBytes} bytes`);
  store = await open(options);
  for (let partition = 0; partition < 5; partition++) {
    assert.equal(store.get("g", "orders", partition)?.offset, 195 + partition);
  }
  assert.equal(store.get("g", "audit", 0)?.offset, 199);
  assert.equal(store.stats().offsets, 6);
});

test("commits and deletes racing a rewrite are all kept", async () => {
  const options = { rewriteBytes: 1024 * 1024, segmentBytes: 4 * 1024, batchBytes: 256 };
  let store = await open(options);
  for (let partition = 0; partition < 50; partition++) {
    await store.commit("g", [{ topic: "t", partition, value: value(1) }]);
  }
  const racing: Promise<void>[] = [store.rewriteNow()];
  for (let partition = 0; partition < 50; partition++) {
    if (partition % 10 === 0) racing.push(store.remove("g", [{ topic: "t", partition }]));
    else racing.push(store.commit("g", [{ topic: "t", partition, value: value(2) }]));
    racing.push(store.commit("new", [{ topic: "t", partition, value: value(3) }]));
  }
  await Promise.all(racing);
  await store.rewriteNow();
  store = await open(options);
  for (let partition = 0; partition < 50; partition++) {
    assert.equal(store.get("g", "t", partition)?.offset, partition % 10 === 0 ? undefined : 2);
    assert.equal(store.get("new", "t", partition)?.offset, 3);
  }
});

test("the coordinator's groups with offsets exist (Empty) after a restart", async () => {
  const kit = await openKit({ dir });
  assert.deepEqual(
    await kit.coordinator.commitOffsets({
      groupId: "g",
      generationId: -1,
      memberId: "",
      groupInstanceId: null,
      offsets: [{ topic: "orders", partition: 2, offset: 42, leaderEpoch: 1, metadata: "m" }],
    }),
    [null],
  );
  await kit.close();
  const reopened = await openKit({ dir });
  try {
    assert.deepEqual(reopened.coordinator.listGroups(), [
      { groupId: "g", protocolType: "", state: "Empty", type: "classic" },
    ]);
    const fetched = reopened.coordinator.fetchOffsets("g", null);
    assert.deepEqual(fetched.topics, [
      {
        topic: "orders",
        partitions: [{ partition: 2, offset: 42, leaderEpoch: 1, metadata: "m", error: null }],
      },
    ]);
  } finally {
    await reopened.close();
  }
});
