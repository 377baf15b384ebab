import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../logging/logger.ts";
import { ResourceMonitor } from "./resource-monitor.ts";

function monitor(state: { free: number; rss: number; fail?: boolean }) {
  return new ResourceMonitor({
    dataDir: "/unused",
    diskFreeLimitBytes: 50_000_000,
    memoryLimitBytes: 1_000_000_000,
    logger: silentLogger,
    freeDiskBytes: async () => {
      if (state.fail) throw new Error("statfs failed");
      return state.free;
    },
    residentBytes: () => state.rss,
  });
}

test("the disk alarm is raised below the free-space limit and cleared above it", async () => {
  const state = { free: 10_000_000_000, rss: 100_000_000 };
  const m = monitor(state);
  const heard: (string | null)[] = [];
  m.onChange((reason) => heard.push(reason));
  await m.check();
  assert.equal(m.alarm, null);
  state.free = 20_000_000;
  await m.check();
  assert.equal(m.alarm, "disk free 20 MB below the limit of 50 MB");
  await m.check(); // unchanged: no second notification
  state.free = 60_000_000;
  await m.check();
  assert.deepEqual(heard, ["disk free 20 MB below the limit of 50 MB", null]);
});

test("the memory alarm, and both at once, name every resource", async () => {
  const state = { free: 1_000_000, rss: 2_000_000_000 };
  const m = monitor(state);
  await m.check();
  assert.equal(
    m.alarm,
    "disk free 1 MB below the limit of 50 MB; memory 2000 MB above the limit of 1000 MB",
  );
  state.free = 1e12;
  await m.check();
  assert.equal(m.alarm, "memory 2000 MB above the limit of 1000 MB");
});

test("a failing statfs keeps the previous disk state instead of inventing one", async () => {
  const state = { free: 1_000_000, rss: 0, fail: false };
  const m = monitor(state);
  await m.check();
  assert.match(m.alarm ?? "", /^disk free/);
  state.fail = true;
  await m.check();
  assert.match(m.alarm ?? "", /^disk free/);
});

test("the real statfs reads the data directory's file system", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wharf-alarm-"));
  try {
    const never = new ResourceMonitor({
      dataDir: dir,
      diskFreeLimitBytes: 1,
      memoryLimitBytes: Number.MAX_SAFE_INTEGER,
      logger: silentLogger,
    });
    await never.check();
    assert.equal(never.alarm, null);
    const always = new ResourceMonitor({
      dataDir: dir,
      diskFreeLimitBytes: Number.MAX_SAFE_INTEGER,
      memoryLimitBytes: Number.MAX_SAFE_INTEGER,
      logger: silentLogger,
    });
    await always.check();
    assert.match(always.alarm ?? "", /^disk free \d+ MB below the limit/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
