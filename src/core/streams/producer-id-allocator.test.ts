import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ProducerIdAllocator } from "./producer-id-allocator.ts";

test("producer ids are unique, concurrent callers included, and never repeat after a restart", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "wharf-pid-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await ProducerIdAllocator.open(dir, 10);
  const ids = await Promise.all(Array.from({ length: 25 }, () => first.allocate()));
  assert.deepEqual(
    [...ids].sort((a, b) => a - b),
    Array.from({ length: 25 }, (_, i) => i),
  );
  assert.equal(
    JSON.parse(readFileSync(join(dir, "producer-ids.json"), "utf8")).blockEnd,
    30,
    "block end durable before use",
  );
  // A "crash" here: the rest of the block is skipped, nothing is reused.
  const second = await ProducerIdAllocator.open(dir, 10);
  assert.equal(await second.allocate(), 30);
});
