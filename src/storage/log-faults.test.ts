import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isWharfError, type WharfError } from "../errors/index.ts";
import { FaultyFileSystem, systemError } from "./faulty-file-system.ts";
import { Log } from "./log.ts";
import {
  labelledBatch,
  makeTempDir,
  readWholeLog,
  removeDir,
  testConfig,
} from "./log-test-support.ts";

let root: string;
let counter = 0;
before(async () => {
  root = await makeTempDir("faults");
});
after(async () => {
  await removeDir(root);
});
const freshDir = () => `${root}/log-${++counter}`;
const SEGMENT_0 = `${"0".repeat(20)}.log`;

const code = (expected: string) => (error: unknown) => {
  assert.ok(isWharfError(error), String(error));
  assert.equal((error as WharfError).code, expected, (error as Error).message);
  return true;
};

/** Appends `count` batches of 2 records; returns the values acknowledged. */
async function fill(log: Log, label: string, count: number): Promise<string[]> {
  const values: string[] = [];
  for (let i = 0; i < count; i++) {
    await log.append(labelledBatch(`${label}${i}`, 2));
    values.push(`${label}${i}-0`.padEnd(16, "."), `${label}${i}-1`.padEnd(16, "."));
  }
  return values;
}

describe("write faults during append", () => {
  test("ENOSPC half-way through a round: the round fails, no partial batch stays, appends resume", async () => {
    const dir = freshDir();
    const fileSystem = new FaultyFileSystem();
    const log = await Log.open(dir, testConfig({ segmentBytes: 1 << 20 }), { fileSystem });
    const acknowledged = await fill(log, "a", 5);
    const durableSize = (await stat(join(dir, SEGMENT_0))).size;
    // Room for one and a half batches: the first writev of the round is partial, then ENOSPC.
    const batchBytes = labelledBatch("x", 2).length;
    fileSystem.spaceLeftBytes = Math.floor(batchBytes * 1.5);
    const round = Array.from({ length: 4 }, (_, i) => log.append(labelledBatch(`full${i}`, 2)));
    const outcomes = await Promise.allSettled(round);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, "rejected");
      code("WHARF_STORAGE_FULL")(outcome.reason);
    }
    assert.equal(
      (await stat(join(dir, SEGMENT_0))).size,
      durableSize,
      "truncated to the last durable end",
    );
    assert.equal(log.logEndOffset, 10);
    assert.equal(log.highWatermark, 10);
    // While the disk stays full, appends keep failing fast with the same code.
    await assert.rejects(log.append(labelledBatch("still", 2)), code("WHARF_STORAGE_FULL"));
    // Space is back: appends succeed and continue the offsets densely.
    fileSystem.spaceLeftBytes = null;
    const next = await log.append(labelledBatch("b0", 2));
    assert.equal(next.baseOffset, 10);
    acknowledged.push(...["b0-0", "b0-1"].map((v) => v.padEnd(16, ".")));
    acknowledged.push(...(await fill(log, "c", 3)));
    assert.deepEqual(
      (await readWholeLog(log)).flatMap((b) => b.values),
      acknowledged,
    );
    await log.close();
    const reopened = await Log.open(dir, testConfig({ segmentBytes: 1 << 20 }));
    assert.deepEqual(
      (await readWholeLog(reopened)).flatMap((b) => b.values),
      acknowledged,
    );
    await reopened.close();
  });

  test("EIO on fdatasync fails the round with WHARF_STORAGE_IO and hides its data", async () => {
    const dir = freshDir();
    const fileSystem = new FaultyFileSystem();
    const log = await Log.open(dir, testConfig(), { fileSystem });
    const acknowledged = await fill(log, "a", 3);
    fileSystem.failWhen("datasync", "EIO", ".log");
    await assert.rejects(log.append(labelledBatch("lost", 2)), code("WHARF_STORAGE_IO"));
    assert.equal(log.highWatermark, 6);
    assert.equal((await log.read(6, 100)).bytes.length, 0);
    fileSystem.fault = null;
    assert.equal((await log.append(labelledBatch("d0", 2))).baseOffset, 6);
    acknowledged.push(...["d0-0", "d0-1"].map((v) => v.padEnd(16, ".")));
    assert.deepEqual(
      (await readWholeLog(log)).flatMap((b) => b.values),
      acknowledged,
    );
    await log.close();
  });

  test("onWritten reports the provisional offsets before the fdatasync; a failed one reuses them", async () => {
    const dir = freshDir();
    const fileSystem = new FaultyFileSystem();
    const log = await Log.open(dir, testConfig(), { fileSystem });
    await fill(log, "a", 2);
    const events: string[] = [];
    fileSystem.fault = async (operation, path) => {
      if (operation === "datasync" && path.endsWith(".log")) events.push("datasync");
    };
    const ok = await log.append(labelledBatch("b", 2), {
      onWritten: (base) => events.push(`written ${base}`),
    });
    events.push(`resolved ${ok.baseOffset}`);
    assert.deepEqual(events, ["written 4", "datasync", "resolved 4"]);
    // Written, then the fdatasync fails: written was reported, the append is rejected and the
    // offsets go to the next append.
    events.length = 0;
    fileSystem.failWhen("datasync", "EIO", ".log");
    await assert.rejects(
      log.append(labelledBatch("lost", 2), { onWritten: (base) => events.push(`written ${base}`) }),
      code("WHARF_STORAGE_IO"),
    );
    assert.deepEqual(events, ["written 6"]);
    // A failed write reports nothing.
    events.length = 0;
    fileSystem.failWhen("writev", "ENOSPC", ".log");
    await assert.rejects(
      log.append(labelledBatch("full", 2), { onWritten: (base) => events.push(`written ${base}`) }),
      code("WHARF_STORAGE_FULL"),
    );
    assert.deepEqual(events, []);
    fileSystem.fault = null;
    assert.equal((await log.append(labelledBatch("c", 2))).baseOffset, 6);
    await log.close();
  });

  test("EROFS and EACCES map to WHARF_STORAGE_READ_ONLY", async () => {
    const fileSystem = new FaultyFileSystem();
    const log = await Log.open(freshDir(), testConfig(), { fileSystem });
    for (const errno of ["EROFS", "EACCES"]) {
      fileSystem.failWhen("writev", errno, ".log");
      await assert.rejects(log.append(labelledBatch("ro", 1)), code("WHARF_STORAGE_READ_ONLY"));
    }
    fileSystem.fault = null;
    assert.equal((await log.append(labelledBatch("rw", 1))).baseOffset, 0);
    await log.close();
  });

  test("when the truncation after a failed write fails too, appends wait for it to succeed", async () => {
    const dir = freshDir();
    const fileSystem = new FaultyFileSystem();
    const log = await Log.open(dir, testConfig(), { fileSystem });
    await fill(log, "a", 2);
    const durableSize = (await stat(join(dir, SEGMENT_0))).size;
    let failTruncate = true;
    let writes = 0;
    fileSystem.fault = (operation, path) => {
      if (!path.endsWith(".log")) return;
      // The first write lands on disk but its fdatasync fails: junk past the end.
      if (operation === "datasync" && writes++ === 0) throw systemError("EIO");
      if (operation === "truncate" && failTruncate) throw systemError("EIO");
    };
    await assert.rejects(log.append(labelledBatch("junk", 2)), code("WHARF_STORAGE_IO"));
    assert.ok((await stat(join(dir, SEGMENT_0))).size > durableSize, "the junk is still there");
    await assert.rejects(log.append(labelledBatch("blocked", 2)), code("WHARF_STORAGE_IO"));
    failTruncate = false;
    assert.equal((await log.append(labelledBatch("ok", 2))).baseOffset, 4);
    await log.close();
    const reopened = await Log.open(dir, testConfig());
    assert.deepEqual(
      (await readWholeLog(reopened)).map((b) => b.values[0]!.split("-")[0]),
      ["a0", "a1", "ok"],
    );
    await reopened.close();
  });

  test("a roll whose directory fsync fails fails the appends; the next roll succeeds", async () => {
    const dir = freshDir();
    const fileSystem = new FaultyFileSystem();
    const log = await Log.open(dir, testConfig({ segmentBytes: 1024 }), { fileSystem });
    await fill(log, "a", 8); // some rolls already
    const segments = log.segmentCount;
    fileSystem.fault = (operation) => {
      if (operation === "syncDirectory") throw systemError("EIO");
    };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => log.append(labelledBatch(`r${i}`, 2))),
    );
    const succeeded = outcomes.filter((outcome) => outcome.status === "fulfilled").length;
    assert.ok(succeeded < 12, "the appends that needed a roll failed");
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") code("WHARF_STORAGE_IO")(outcome.reason);
    }
    assert.equal(log.segmentCount, segments, "no segment whose directory entry is not durable");
    fileSystem.fault = null;
    const next = await log.append(labelledBatch("z", 2));
    assert.equal(next.baseOffset, (8 + succeeded) * 2);
    assert.ok(log.segmentCount > segments);
    assert.equal((await readWholeLog(log)).length, 8 + succeeded + 1);
    await log.close();
  });
});

describe("a real full file system (tmpfs)", () => {
  test("fills a 2 MiB tmpfs: WHARF_STORAGE_FULL, nothing acknowledged lost, recovers when space returns", async (t) => {
    const mountPoint = join(root, "tmpfs");
    await mkdir(mountPoint, { recursive: true });
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint], {
        stdio: "pipe",
      });
    } catch (error) {
      t.skip(
        `cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): ${(error as Error).message.split("\n")[0]}`,
      );
      return;
    }
    try {
      const filler = join(mountPoint, "filler");
      await writeFile(filler, Buffer.alloc(512 * 1024));
      const dir = join(mountPoint, "log");
      const config = testConfig({ segmentBytes: 256 * 1024, indexIntervalBytes: 4096 });
      const log = await Log.open(dir, config);
      const acknowledged: string[] = [];
      let failure: unknown = null;
      for (let i = 0; i < 10_000 && failure === null; i++) {
        try {
          const batch = labelledBatch(`t${i}`, 16, 250);
          await log.append(batch);
          acknowledged.push(`t${i}`);
        } catch (error) {
          failure = error;
        }
      }
      code("WHARF_STORAGE_FULL")(failure);
      await assert.rejects(log.append(labelledBatch("more", 16, 250)), code("WHARF_STORAGE_FULL"));
      await unlink(filler);
      for (let i = 0; i < 20; i++) {
        await log.append(labelledBatch(`after${i}`, 16, 250));
        acknowledged.push(`after${i}`);
      }
      await log.close();
      const reopened = await Log.open(dir, config);
      const stored = (await readWholeLog(reopened, 256 * 1024)).map(
        (b) => b.values[0]!.split("-")[0],
      );
      assert.deepEqual(stored, acknowledged);
      await reopened.close();
    } finally {
      execFileSync("umount", [mountPoint], { stdio: "pipe" });
    }
  });
});
