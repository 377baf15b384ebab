/**
 * Kill -9 while appending: nothing acknowledged may be lost, nothing corrupt may be served.
 *
 * Each cycle starts `log-appender.ts` on the same directory (so the log grows across cycles and
 * every open after a kill runs crash recovery), waits until it acknowledges appends, SIGKILLs
 * it by PID 20-300 ms later, then reopens the log here and checks:
 * - every acknowledged append is at its acknowledged offsets, its records intact (their own
 *   checksums) and belonging to it;
 * - offsets are dense from the log start to the end, and every batch `read` serves passes its
 *   CRC (so no corrupt batch is served anywhere);
 * - an append after reopening continues at the log end offset.
 * The parent closes the log cleanly, so the child's next open takes the clean-marker path.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { Log } from "../../src/storage/log.ts";
import { makeTempDir, removeDir } from "../../src/storage/log-test-support.ts";
import {
  checkBatch,
  decodeRecords,
  Offset,
  readBaseOffset,
  readBatchSize,
  readLastOffsetDelta,
} from "../../src/storage/record-batch.ts";
import { checkRecordValue, crashBatch, crashLogConfig } from "./log-crash-records.ts";

const CYCLES = 50;
const KILL_DELAY_MS_MIN = 20;
const KILL_DELAY_MS_MAX = 300;
/** A child that has not acknowledged anything by then is stuck: fail rather than hang. */
const FIRST_ACK_TIMEOUT_MS = 15_000;
const appenderPath = fileURLToPath(new URL("./log-appender.ts", import.meta.url));

let dir: string;
before(async () => {
  dir = await makeTempDir("kill9");
});
after(async () => {
  await removeDir(dir);
});

interface Acknowledged {
  lastOffset: number;
  id: string;
}

/** Runs one child until killed; returns the acknowledgement lines it printed. */
async function runAndKill(
  cycle: number,
): Promise<{ lines: string[]; killedAfterMs: number; firstAckMs: number }> {
  const spawned = Date.now();
  let firstAckMs = 0;
  const child = spawn(process.execPath, ["--import", "tsx", appenderPath, dir, String(cycle)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let killTimer: NodeJS.Timeout | null = null;
  const killedAfterMs =
    KILL_DELAY_MS_MIN + Math.floor(Math.random() * (KILL_DELAY_MS_MAX - KILL_DELAY_MS_MIN + 1));
  const stuckTimer = setTimeout(() => {
    stderr += "\n[test] no acknowledgement in time; killing";
    if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  }, FIRST_ACK_TIMEOUT_MS);
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    stdout += chunk;
    if (killTimer === null) {
      firstAckMs = Date.now() - spawned;
      clearTimeout(stuckTimer);
      killTimer = setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGKILL");
      }, killedAfterMs);
    }
  });
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once("exit", (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  clearTimeout(stuckTimer);
  if (killTimer) clearTimeout(killTimer);
  assert.equal(
    signal,
    "SIGKILL",
    `cycle ${cycle}: the appender exited by itself (code ${code}): ${stderr}`,
  );
  assert.ok(killTimer !== null, `cycle ${cycle}: the appender never acknowledged: ${stderr}`);
  // A line cut by the kill was never fully reported: only whole lines count.
  const lines = stdout.split("\n").slice(0, -1);
  return { lines, killedAfterMs, firstAckMs };
}

interface StoredBatch {
  lastOffset: number;
  id: string;
  /** The batch's CRC32C field: identifies its content once the CRC is checked. */
  crc: number;
}

/**
 * Reads the whole log through `Log.read`, checking every batch's CRC and the density of
 * offsets. Records are decoded and checked one by one (their own checksums, ids and indexes)
 * unless the batch is one already checked in an earlier cycle with the same CRC: the CRC
 * proves its content is the same, which keeps the checks per cycle proportional to new data.
 */
async function readAndCheckAll(
  log: Log,
  checked: Map<number, StoredBatch>,
): Promise<Map<number, StoredBatch>> {
  const batches = new Map<number, StoredBatch>();
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    const { bytes } = await log.read(offset, 256 * 1024);
    assert.ok(bytes.length > 0, `read(${offset}) below the high watermark returned nothing`);
    let pos = 0;
    while (pos < bytes.length) {
      const check = checkBatch(bytes, pos, bytes.length, { maxBatchBytes: 1 << 30 });
      assert.ok(
        check.ok,
        `a served batch at offset ${offset} is invalid: ${check.ok || check.error.message}`,
      );
      const baseOffset = readBaseOffset(bytes, pos);
      assert.equal(baseOffset, offset, "offsets are dense");
      const lastOffset = baseOffset + readLastOffsetDelta(bytes, pos);
      const crc = bytes.readUInt32BE(pos + Offset.crc);
      const known = checked.get(baseOffset);
      if (known && known.crc === crc && known.lastOffset === lastOffset) {
        batches.set(baseOffset, known);
      } else {
        const records = decodeRecords(bytes, pos);
        const first = checkRecordValue(records[0]!.value);
        assert.equal(records.length, first.count, `batch at ${baseOffset} has all its records`);
        records.forEach((record, index) => {
          const value = checkRecordValue(record.value);
          assert.deepEqual([value.id, value.index], [first.id, index], `record ${record.offset}`);
          assert.equal(record.offset, baseOffset + index);
        });
        batches.set(baseOffset, { lastOffset, id: first.id, crc });
      }
      offset = lastOffset + 1;
      pos += readBatchSize(bytes, pos);
    }
  }
  assert.equal(offset, log.logEndOffset, "the whole log is visible after recovery");
  return batches;
}

test(`kill -9 during concurrent appends, ${CYCLES} cycles: nothing acknowledged is lost`, {
  timeout: 115_000,
}, async (t) => {
  const acknowledged = new Map<number, Acknowledged>();
  /** Acknowledged batches whose records were checked once (they may never change). */
  const checked = new Map<number, StoredBatch>();
  const started = Date.now();
  let totalAcks = 0;
  let tornTails = 0;
  let corruptLines = 0;
  // Counts what recovery reports: torn tails are expected now and then, corruption never.
  const recoveryLogger = pino(
    { level: "warn" },
    {
      write: (line: string) => {
        const entry = JSON.parse(line) as { level: number; msg: string };
        if (entry.msg === "truncating torn or corrupt tail of the log") tornTails++;
        else if (entry.level >= 50) corruptLines++;
      },
    },
  );
  let startupMs = 0;
  let checkMs = 0;
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const { lines, firstAckMs } = await runAndKill(cycle);
    startupMs += firstAckMs;
    const checkStarted = Date.now();
    for (const line of lines) {
      const [base, last, id] = line.split(" ");
      const baseOffset = Number(base);
      const previous = acknowledged.get(baseOffset);
      assert.ok(
        previous === undefined,
        `offset ${baseOffset} acknowledged twice (${previous?.id}, ${id})`,
      );
      acknowledged.set(baseOffset, { lastOffset: Number(last), id: id! });
    }
    totalAcks += lines.length;

    const log = await Log.open(dir, crashLogConfig, { logger: recoveryLogger });
    try {
      const stored = await readAndCheckAll(log, checked);
      for (const [baseOffset, ack] of acknowledged) {
        const found = stored.get(baseOffset);
        assert.ok(
          found,
          `cycle ${cycle}: acknowledged append ${ack.id} at ${baseOffset} is missing`,
        );
        assert.deepEqual(
          { lastOffset: found.lastOffset, id: found.id },
          ack,
          `cycle ${cycle}: acknowledged append at ${baseOffset}`,
        );
        checked.set(baseOffset, found);
      }
      // Appends continue densely after recovery, and count as acknowledged from now on.
      const end = log.logEndOffset;
      const id = `parent.${cycle}`;
      const result = await log.append(crashBatch(id, 3, 40));
      assert.equal(result.baseOffset, end);
      acknowledged.set(result.baseOffset, { lastOffset: result.lastOffset, id });
    } finally {
      await log.close();
    }
    checkMs += Date.now() - checkStarted;
  }
  assert.equal(corruptLines, 0, "recovery reported corruption or errors");
  t.diagnostic(
    `${CYCLES} cycles, ${totalAcks} acknowledged appends, ${acknowledged.size} checked, ` +
      `${Date.now() - started} ms (child start to first ack ${Math.round(startupMs / CYCLES)} ms, ` +
      `reopen and check ${Math.round(checkMs / CYCLES)} ms per cycle, ${tornTails} torn tails truncated)`,
  );
});
