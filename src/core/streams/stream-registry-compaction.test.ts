import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { defaultConfig } from "../../config/config.ts";
import { WharfError } from "../../errors/index.ts";
import { silentLogger } from "../../logging/logger.ts";
import { LogStore } from "../../storage/log-store.ts";
import { encodeBatch } from "../../storage/record-batch.ts";
import { StreamRegistry } from "./stream-registry.ts";

const batch = (key: string | null, value: string) =>
  encodeBatch([{ key: key === null ? null : Buffer.from(key), value: Buffer.from(value) }]);

test("compacted topics: keys required, compacted by the registry's round, stopped on close", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "wharf-registry-compaction-"));
  const logStore = await LogStore.open(join(dataDir, "data"), { retentionCheckIntervalMs: 0 });
  const registry = await StreamRegistry.open(logStore, dataDir, {
    defaults: defaultConfig.storage,
    logger: silentLogger,
    compactionIntervalMs: 0,
  });
  try {
    await registry.create("table", 1, { "cleanup.policy": "compact", "segment.bytes": "1024" });
    const partition = registry.partition("table", 0);
    await assert.rejects(partition.append(batch(null, "x"), { fromProducer: true }), (error) => {
      assert.ok(error instanceof WharfError);
      return error.code === "WHARF_BATCH_INVALID";
    });
    for (let round = 0; round < 6; round++) {
      for (let k = 0; k < 8; k++) {
        await partition.append(batch(`k${k}`, `v${round}`.padEnd(40, ".")), { fromProducer: true });
      }
    }
    const log = partition.log;
    assert.ok(log.segmentCount > 3);
    assert.equal(log.cleanableDirtyRatio(), 1);
    await registry.runCompaction();
    assert.equal(log.cleanableDirtyRatio(), 0, "compacted");
    assert.ok(log.segmentCount <= 3);

    // `delete` topics are left alone, and take records without a key.
    await registry.alterConfig("table", { "cleanup.policy": "delete" }, { incremental: true });
    await partition.append(batch(null, "keyless now"), { fromProducer: true });
    for (let i = 0; i < 40; i++) await partition.append(batch("k0", `w${i}`.padEnd(40, ".")));
    const dirty = log.cleanableDirtyRatio();
    assert.ok(dirty > 0.5);
    await registry.runCompaction();
    assert.equal(log.cleanableDirtyRatio(), dirty, "not a compacted topic");
  } finally {
    await registry.close();
    await logStore.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
