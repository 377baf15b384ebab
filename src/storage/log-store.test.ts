import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isWharfError } from "../errors/index.ts";
import { LogStore, validateLogName } from "./log-store.ts";
import {
  labelledBatch,
  makeTempDir,
  readWholeLog,
  removeDir,
  testConfig,
  waitFor,
} from "./log-test-support.ts";

let root: string;
let counter = 0;
before(async () => {
  root = await makeTempDir("store");
});
after(async () => {
  await removeDir(root);
});
const freshDir = () => join(root, `data-${++counter}`);
const unusable = (error: unknown) => isWharfError(error, "WHARF_DATA_DIR_UNUSABLE");

describe("LogStore", () => {
  test("creates the data directory, opens, lists and reopens logs", async () => {
    const dataDir = join(freshDir(), "nested", "data");
    const store = await LogStore.open(dataDir, { retentionCheckIntervalMs: 0 });
    assert.equal((await readFile(join(dataDir, "wharf.lock"), "utf8")).trim(), String(process.pid));
    const orders = await store.openLog("orders-0", testConfig());
    assert.equal(await store.openLog("orders-0", testConfig()), orders, "the same instance");
    await orders.append(labelledBatch("o", 2));
    const events = await store.openLog("__consumer_offsets-3", testConfig());
    await events.append(labelledBatch("e", 1));
    assert.deepEqual(await store.listLogs(), ["__consumer_offsets-3", "orders-0"]);
    await store.close();
    assert.ok(!(await readdir(dataDir)).includes("wharf.lock"), "lock released");
    assert.ok((await readdir(join(dataDir, "logs", "orders-0"))).includes("clean-shutdown"));

    const again = await LogStore.open(dataDir, { retentionCheckIntervalMs: 0 });
    const reopened = await again.openLog("orders-0", testConfig());
    assert.equal(reopened.logEndOffset, 2);
    await again.close();
  });

  test("deletes a log: closed, gone from disk and from the list", async () => {
    const store = await LogStore.open(freshDir(), { retentionCheckIntervalMs: 0 });
    const log = await store.openLog("doomed", testConfig());
    await log.append(labelledBatch("d", 1));
    assert.equal(await store.deleteLog("doomed"), true);
    await assert.rejects(log.append(labelledBatch("x", 1)), (e) =>
      isWharfError(e, "WHARF_LOG_CLOSED"),
    );
    assert.deepEqual(await store.listLogs(), []);
    assert.equal(await store.deleteLog("doomed"), false);
    const fresh = await store.openLog("doomed", testConfig());
    assert.equal(fresh.logEndOffset, 0);
    await store.close();
  });

  test("refuses unsafe log names", () => {
    for (const name of [
      "",
      ".",
      "..",
      "../x",
      "a/b",
      ".hidden",
      "a\\b",
      "x".repeat(250),
      "sp ace",
      "a\0b",
    ]) {
      assert.throws(
        () => validateLogName(name),
        (e) => isWharfError(e, "WHARF_LOG_NAME_INVALID"),
        JSON.stringify(name),
      );
    }
    for (const name of ["orders-0", "__consumer_offsets-49", "a.b_c-D", "x".repeat(249)])
      validateLogName(name);
  });

  test("refuses a path that is a file, and an unwritable directory", async (t) => {
    const file = join(freshDir(), "file");
    await mkdir(join(file, ".."), { recursive: true });
    await writeFile(file, "x");
    await assert.rejects(
      LogStore.open(file),
      (e) => unusable(e) && /not a directory/.test(String(e)),
    );
    if (process.getuid?.() === 0) {
      t.diagnostic("running as root: the unwritable-directory case cannot be checked");
      return;
    }
    const locked = freshDir();
    await mkdir(locked);
    await chmod(locked, 0o500);
    await assert.rejects(
      LogStore.open(locked),
      (e) => unusable(e) && /not writable/.test(String(e)),
    );
  });

  test("refuses a directory locked by a live process; takes over a dead one's lock", async () => {
    const dataDir = freshDir();
    const store = await LogStore.open(dataDir, { retentionCheckIntervalMs: 0 });
    await assert.rejects(
      LogStore.open(dataDir),
      (e) => unusable(e) && /locked by process/.test(String(e)),
    );
    await store.close();

    // Another live process holds it.
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], {
      stdio: "ignore",
    });
    try {
      await writeFile(join(dataDir, "wharf.lock"), `${child.pid}\n`);
      await assert.rejects(
        LogStore.open(dataDir),
        (e) => unusable(e) && new RegExp(`${child.pid}`).test(String(e)),
      );
    } finally {
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    // That process is gone: its lock is stale.
    const taken = await LogStore.open(dataDir, { retentionCheckIntervalMs: 0 });
    assert.equal((await readFile(join(dataDir, "wharf.lock"), "utf8")).trim(), String(process.pid));
    await taken.close();
  });

  test("runs retention on a timer", async () => {
    const store = await LogStore.open(freshDir(), { retentionCheckIntervalMs: 20 });
    const log = await store.openLog("r", testConfig({ segmentBytes: 1024, retentionBytes: 1500 }));
    for (let i = 0; i < 20; i++) await log.append(labelledBatch(`r${i}`, 3, 24));
    await waitFor(() => log.logStartOffset > 0, "retention to delete segments");
    assert.ok(log.sizeBytes < 1500 + 1024);
    await store.close();
  });

  test("close finishes in-flight appends before closing", async () => {
    const dataDir = freshDir();
    const store = await LogStore.open(dataDir, { retentionCheckIntervalMs: 0 });
    const log = await store.openLog("busy", testConfig());
    const appends = Array.from({ length: 50 }, (_, i) => log.append(labelledBatch(`b${i}`, 1)));
    await store.close();
    const results = await Promise.all(appends);
    assert.equal(results.at(-1)!.baseOffset, 49);
    const again = await LogStore.open(dataDir, { retentionCheckIntervalMs: 0 });
    assert.equal((await readWholeLog(await again.openLog("busy", testConfig()))).length, 50);
    await again.close();
  });
});
