/**
 * Starts a real broker process (`bin/wharf.js start`) on free loopback ports with its own
 * temporary data directory, waits until /readyz answers 200, and stops it by its PID.
 * Every test that starts a broker stops it (`stop()` or `kill()`), also on failure: use
 * `t.after(() => broker.stop())`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.ts";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const wharfBin = join(repoRoot, "bin", "wharf.js");

export interface BrokerPorts {
  kafka: number;
  amqp: number;
  resp: number;
  mqtt: number;
  stomp: number;
  http: number;
}

export interface StartOptions {
  /** Reuse a data directory (for restart tests); a fresh temp dir otherwise. */
  dataDir?: string;
  /** Reuse ports (for restart tests). */
  ports?: BrokerPorts;
  /** Extra `wharf start` flags. */
  args?: string[];
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export class BrokerProcess {
  stderr = "";
  stdout = "";
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private ownsDataDir: boolean;

  private constructor(
    readonly child: ChildProcess,
    readonly dataDir: string,
    readonly ports: BrokerPorts,
    ownsDataDir: boolean,
  ) {
    this.ownsDataDir = ownsDataDir;
    child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      this.stderr += text;
    });
    child.stdout?.setEncoding("utf8").on("data", (text: string) => {
      this.stdout += text;
    });
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(options: StartOptions = {}): Promise<BrokerProcess> {
    const ownsDataDir = options.dataDir === undefined;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "wharf-test-"));
    const ports = options.ports ?? (await allocatePorts());
    // WHARF_BROKER_NODE_ARGS: extra node flags for the broker only (e.g. `--cpu-prof
    // --cpu-prof-dir=/tmp/prof` while profiling a benchmark; NODE_OPTIONS refuses those).
    const nodeArgs = (process.env.WHARF_BROKER_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const child = spawn(
      process.execPath,
      [...nodeArgs, wharfBin, "start", ...portArgs(dataDir, ports), ...(options.args ?? [])],
      {
        cwd: repoRoot,
        env: { ...process.env, WHARF_LOG_LEVEL: "info", ...options.env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const broker = new BrokerProcess(child, dataDir, ports, ownsDataDir);
    await broker.waitReady(options.readyTimeoutMs ?? 20_000);
    return broker;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.ports.http}${path}`;
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exit: { code: number | null } | undefined;
    this.exited.then((value) => {
      exit = value;
    });
    while (Date.now() < deadline) {
      if (exit) throw new Error(`broker exited (code ${exit.code}) before ready:\n${this.stderr}`);
      try {
        const response = await fetch(this.url("/readyz"));
        if (response.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.kill();
    throw new Error(`broker not ready within ${timeoutMs} ms:\n${this.stderr}`);
  }

  /** SIGTERM, wait for a clean exit (SIGKILL after the timeout); returns the exit status. */
  async stop(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
      const status = await this.exited;
      clearTimeout(timer);
      this.cleanup();
      return status;
    }
    this.cleanup();
    return this.exited;
  }

  /** Waits for the process to exit on its own (after a signal the test sent itself). */
  async waitExit(
    timeoutMs = 15_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }

  /** SIGKILL (a crash); the data directory is kept for a restart. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }

  /** Removes the temporary data directory if this helper created it. */
  cleanup(): void {
    if (this.ownsDataDir && process.env.WHARF_KEEP_TEST_DATA !== "1") {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }

  /** Keeps the data directory after stop (for a restart by another BrokerProcess). */
  keepDataDir(): void {
    this.ownsDataDir = false;
  }
}

export async function allocatePorts(): Promise<BrokerPorts> {
  return {
    kafka: await freePort(),
    amqp: await freePort(),
    resp: await freePort(),
    mqtt: await freePort(),
    stomp: await freePort(),
    http: await freePort(),
  };
}

export function portArgs(dataDir: string, ports: BrokerPorts): string[] {
  return [
    "--data-dir",
    dataDir,
    "--host",
    "127.0.0.1",
    "--kafka-port",
    String(ports.kafka),
    "--amqp-port",
    String(ports.amqp),
    "--resp-port",
    String(ports.resp),
    "--mqtt-port",
    String(ports.mqtt),
    "--stomp-port",
    String(ports.stomp),
    "--http-port",
    String(ports.http),
  ];
}

/** Runs `wharf <args>` to completion (bounded by timeoutMs) and returns its output. */
export function runWharf(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [wharfBin, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
