/**
 * A second WharfMQ broker started from another copy of the repository (`--baseline DIR`), so
 * that bench/resp.ts and bench/resp-streams.ts measure a change and the code before it side by
 * side, in one run, on one machine state (STYLE.md item 12: the machine is shared and noisy,
 * figures from runs minutes apart are not comparable).
 *
 * DIR is a copy of the tree (e.g. `git worktree add` or a `tar` of the working tree, with
 * `node_modules` linked); it is run as `node DIR/bin/wharf.js start` on free loopback ports,
 * with a temporary data directory, and stopped by PID (SIGTERM, SIGKILL after 15 s).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { allocatePorts, portArgs } from "../../test/helpers/broker-process.ts";
import { waitForPing } from "./redis-tools.ts";

export interface BaselineBroker {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function startBaselineBroker(root: string): Promise<BaselineBroker> {
  const bin = join(resolve(root), "bin", "wharf.js");
  if (!existsSync(bin)) throw new Error(`--baseline: ${bin} does not exist`);
  const dataDir = mkdtempSync(join(tmpdir(), "wharf-bench-baseline-"));
  const ports = await allocatePorts();
  const child = spawn(process.execPath, [bin, "start", ...portArgs(dataDir, ports)], {
    cwd: resolve(root),
    env: { ...process.env, WHARF_LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  process.once("exit", () => child.kill("SIGKILL"));
  try {
    await waitForPing(ports.resp, 30_000);
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    port: ports.resp,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
