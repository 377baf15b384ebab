import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isWharfError } from "../errors/index.ts";
import { loadClusterId } from "./cluster-identity.ts";

test("the cluster id is created once and kept", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "wharf-cluster-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const id = await loadClusterId(dir);
  assert.match(id, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(await loadClusterId(dir), id);
  writeFileSync(join(dir, "cluster.json"), JSON.stringify({ version: 1, clusterId: "not valid!" }));
  await assert.rejects(loadClusterId(dir), (error) => isWharfError(error, "WHARF_DATA_CORRUPT"));
});
