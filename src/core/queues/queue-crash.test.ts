/**
 * kill -9 of a process with a durable queue: persistent messages survive, acks already written
 * survive (no redelivery), delivered-but-unacked messages come back with redelivered=true, and
 * transient ones are gone.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../../logging/logger.ts";
import { LogStore } from "../../storage/log-store.ts";
import { Queue } from "./queue.ts";

const child = fileURLToPath(new URL("./testing/crash-child.ts", import.meta.url));

test("kill -9: written acks hold, unacked come back redelivered, transient are gone", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wharf-queue-crash-"));
  try {
    const total = 2000;
    const delivered = 600;
    const acked = 400;
    const proc = spawn(
      process.execPath,
      ["--import", "tsx", child, dir, String(total), String(delivered), String(acked)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("child not ready in time")), 30_000);
      proc.stdout!.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once("exit", (code) => reject(new Error(`child exited early (${code})`)));
    });
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    process.kill(proc.pid!, "SIGKILL");
    await exited;

    const logStore = await LogStore.open(dir, { retentionCheckIntervalMs: 0 });
    try {
      const queue = await Queue.open({
        name: "q",
        vhost: "/",
        logStore,
        logPrefix: "__queue-crash",
        durable: true,
        settings: { overflow: "drop-head", singleActiveConsumer: false },
        logger: silentLogger,
        onDeadLetter: () => {},
      });
      const bodies: string[] = [];
      const redelivered: string[] = [];
      for (let got = await queue.get(true); got; got = await queue.get(true)) {
        const body = got.message.body.toString();
        bodies.push(body);
        if (got.message.redelivered) redelivered.push(body);
      }
      const expected: string[] = [];
      for (let i = 0; i < total; i++) if (i >= acked && i % 10 !== 9) expected.push(`m${i}`);
      assert.deepEqual(bodies, expected);
      for (let i = acked; i < delivered; i++) {
        if (i % 10 !== 9) assert.ok(redelivered.includes(`m${i}`), `m${i} marked redelivered`);
      }
      await queue.close();
    } finally {
      await logStore.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
