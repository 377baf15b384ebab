import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { logSyncsInFlightMax } from "../config/limits.ts";
import { isWharfError } from "../errors/index.ts";
import { FaultyFileSystem } from "./faulty-file-system.ts";
import { GroupCommitQueue, type QueuedAppend } from "./group-commit.ts";
import { Log } from "./log.ts";
import {
  batchOf,
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
  root = await makeTempDir("group-commit");
});
after(async () => {
  await removeDir(root);
});
const freshDir = () => `${root}/log-${++counter}`;

/** A gate that holds every datasync of `.log` files until opened. */
function holdDatasync(fileSystem: FaultyFileSystem) {
  let open!: () => void;
  let opened = new Promise<void>((resolve) => (open = resolve));
  let held = 0;
  fileSystem.fault = async (operation, path) => {
    if (operation === "datasync" && path.endsWith(".log")) {
      held++;
      await opened;
    }
  };
  return {
    get held() {
      return held;
    },
    release() {
      open();
    },
    rearm() {
      opened = new Promise<void>((resolve) => (open = resolve));
    },
  };
}

describe("group commit", () => {
  test("64 concurrent single-record appends share a few fdatasyncs and writevs", async () => {
    const fileSystem = new FaultyFileSystem();
    const log = await Log.open(freshDir(), testConfig({ segmentBytes: 1 << 20 }), { fileSystem });
    fileSystem.resetCounts();
    const results = await Promise.all(
      Array.from({ length: 64 }, (_, i) => log.append(batchOf([`record-${i}`]))),
    );
    const syncs = fileSystem.count("datasync");
    assert.ok(syncs >= 1 && syncs <= 4, `${syncs} fdatasyncs for 64 appends`);
    assert.equal(fileSystem.count("writev"), syncs, "one writev per round");
    assert.deepEqual(
      results.map((r) => r.baseOffset),
      Array.from({ length: 64 }, (_, i) => i),
    );
    await log.close();
  });

  test("appends arriving during an fdatasync are pipelined up to logSyncsInFlightMax rounds, then form one round", async () => {
    const fileSystem = new FaultyFileSystem();
    const log = await Log.open(freshDir(), testConfig({ segmentBytes: 1 << 20 }), { fileSystem });
    fileSystem.resetCounts();
    const gate = holdDatasync(fileSystem);
    const pending = [log.append(batchOf(["first"]))];
    await waitFor(() => gate.held > 0, "the first fdatasync");
    // 63 appends, each in its own macrotask, while the first round waits on the disk.
    for (let i = 0; i < 63; i++) {
      pending.push(log.append(batchOf([`later-${i}`])));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(log.highWatermark, 0, "nothing visible before its fdatasync");
    await waitFor(() => gate.held >= logSyncsInFlightMax, "a full pipeline of fdatasyncs");
    await sleep(20);
    assert.equal(gate.held, logSyncsInFlightMax, "never more fdatasyncs in flight");
    gate.release();
    await Promise.all(pending);
    // The full pipeline, the round that waited for its head, then everything that queued
    // meanwhile as one round.
    assert.equal(fileSystem.count("datasync"), logSyncsInFlightMax + 2);
    assert.equal(log.highWatermark, 64);
    await log.close();
  });

  test("fsync mode: an append resolves only after the fdatasync covering it", async () => {
    const fileSystem = new FaultyFileSystem();
    const log = await Log.open(freshDir(), testConfig(), { fileSystem });
    const gate = holdDatasync(fileSystem);
    let resolved = false;
    const append = log.append(batchOf(["x"])).then((r) => {
      resolved = true;
      return r;
    });
    await waitFor(() => gate.held > 0, "the first fdatasync");
    await sleep(20);
    assert.equal(resolved, false);
    assert.equal(log.highWatermark, 0);
    assert.equal((await log.read(0, 100)).bytes.length, 0, "readers do not see it yet");
    gate.release();
    assert.equal((await append).baseOffset, 0);
    assert.equal(log.highWatermark, 1);
    await log.close();
  });

  test("a round is bounded in bytes", async () => {
    const fileSystem = new FaultyFileSystem();
    const batch = labelledBatch("b", 10, 90); // ~1 KiB
    const log = await Log.open(freshDir(), testConfig({ segmentBytes: 1 << 20 }), {
      fileSystem,
      appendLimits: { roundBytesMax: batch.length * 4 },
    });
    fileSystem.resetCounts();
    await Promise.all(Array.from({ length: 16 }, () => log.append(Buffer.from(batch))));
    assert.equal(fileSystem.count("writev"), 4);
    await log.close();
  });

  test("a full append queue fails fast with WHARF_APPEND_QUEUE_FULL; the rest succeed", async () => {
    const fileSystem = new FaultyFileSystem();
    const batch = labelledBatch("q", 10, 90);
    const log = await Log.open(freshDir(), testConfig({ segmentBytes: 1 << 20 }), {
      fileSystem,
      appendLimits: { queueBytesMax: batch.length * 5, roundBytesMax: batch.length * 5 },
    });
    const gate = holdDatasync(fileSystem);
    const accepted = Array.from({ length: 5 }, () => log.append(Buffer.from(batch)));
    await assert.rejects(log.append(Buffer.from(batch)), (e) =>
      isWharfError(e, "WHARF_APPEND_QUEUE_FULL"),
    );
    gate.release();
    const results = await Promise.all(accepted);
    assert.equal(results.at(-1)!.lastOffset, 49);
    // Room again once the round is done.
    assert.equal((await log.append(Buffer.from(batch))).baseOffset, 50);
    await log.close();
  });
});

describe("durability modes", () => {
  test("interval: appends resolve without fdatasync; the timer syncs", async () => {
    const fileSystem = new FaultyFileSystem();
    const config = testConfig({ durability: { mode: "interval", intervalMs: 30 } });
    const log = await Log.open(freshDir(), config, { fileSystem });
    fileSystem.resetCounts();
    // Every fdatasync is held: appends that waited for one would never resolve.
    const gate = holdDatasync(fileSystem);
    for (let i = 0; i < 10; i++) await log.append(batchOf([`i${i}`]));
    assert.equal(log.highWatermark, 10);
    await waitFor(() => gate.held >= 1, "the interval fdatasync to start");
    gate.release();
    await sleep(150);
    assert.equal(gate.held, 1, "one fdatasync, none while nothing is new");
    await log.close();
  });

  test("none: no fdatasync on append, one on roll and on close", async () => {
    const fileSystem = new FaultyFileSystem();
    const log = await Log.open(
      freshDir(),
      testConfig({ segmentBytes: 2048, durability: { mode: "none" } }),
      {
        fileSystem,
      },
    );
    fileSystem.resetCounts();
    const batch = labelledBatch("n", 4, 40);
    for (let i = 0; i < 20; i++) await log.append(Buffer.from(batch));
    const rolls = log.segmentCount - 1;
    assert.ok(rolls >= 1);
    const syncsOfLogFiles = () => fileSystem.count("datasync");
    // Each roll: the sealed segment's data + its two index files (temp files fdatasync'd).
    assert.equal(syncsOfLogFiles(), rolls * 3);
    await log.close();
    assert.ok(syncsOfLogFiles() > rolls * 3, "close syncs the tail");
    const reopened = await Log.open(log.dir, log.config);
    assert.equal((await readWholeLog(reopened)).length, 20);
    await reopened.close();
  });
});

describe("GroupCommitQueue", () => {
  test("tasks run alone, in order with appends", async () => {
    const events: string[] = [];
    const queue = new GroupCommitQueue<QueuedAppend & { name: string }>(
      async (round) => {
        events.push(`round:${round.map((a) => a.name).join(",")}`);
        for (const append of round) append.resolve();
      },
      { roundBytesMax: 100, queueBytesMax: 1000 },
    );
    const append = (name: string) =>
      new Promise<void>((resolve, reject) => queue.enqueue({ name, bytes: 10, resolve, reject }));
    const done = [
      append("a"),
      append("b"),
      queue.runExclusive(async () => {
        events.push("task");
      }),
      append("c"),
    ];
    await Promise.all(done);
    assert.deepEqual(events, ["round:a,b", "task", "round:c"]);
    assert.equal(queue.queuedBytes, 0);
    await queue.whenIdle();
    assert.ok(queue.idle);
  });
});

describe("GroupCommitQueue with rounds in flight", () => {
  test("a round that returns `settled` lets the next round start, keeps its bytes counted until it settles, and tasks wait for it", async () => {
    const events: string[] = [];
    const gates: Array<() => void> = [];
    let inFlight: Promise<unknown>[] = [];
    const queue = new GroupCommitQueue<QueuedAppend & { name: string }>(
      async (round) => {
        events.push(`write:${round.map((a) => a.name).join(",")}`);
        const settled = new Promise<void>((resolve) => gates.push(resolve)).then(() => {
          events.push(`settle:${round.map((a) => a.name).join(",")}`);
          for (const append of round) append.resolve();
        });
        inFlight.push(settled);
        return { settled };
      },
      { roundBytesMax: 10, queueBytesMax: 1000 },
      async () => {
        events.push("settle-all");
        const pending = inFlight;
        inFlight = [];
        await Promise.all(pending);
      },
    );
    const append = (name: string) =>
      new Promise<void>((resolve, reject) => queue.enqueue({ name, bytes: 10, resolve, reject }));
    const a = append("a");
    await new Promise((resolve) => setImmediate(resolve));
    const b = append("b");
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events, ["write:a", "write:b"], "b was written while a was in flight");
    assert.equal(queue.queuedBytes, 20, "bytes in flight still count against the queue");
    const task = queue.runExclusive(async () => {
      events.push("task");
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(!events.includes("task"), "the task waits for the rounds in flight");
    for (const open of gates) open();
    await Promise.all([a, b, task]);
    assert.deepEqual(events, ["write:a", "write:b", "settle-all", "settle:a", "settle:b", "task"]);
    assert.equal(queue.queuedBytes, 0);
  });
});
