/**
 * Shared by bench/resp.ts and bench/resp-streams.ts: tool detection, readiness checks, the
 * WharfMQ broker under test and redis-benchmark runs.
 */
import { execFileSync, spawn } from "node:child_process";
import { Redis } from "ioredis";
import { BrokerProcess } from "../../test/helpers/broker-process.ts";

/** True when `tool --version` runs (a Debian package may be absent). */
export function haveTool(tool: string): boolean {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Resolves once a RESP server answers PING on 127.0.0.1:port; throws after timeoutMs. */
export async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const client = new Redis({
      host: "127.0.0.1",
      port,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    client.on("error", () => {});
    try {
      await client.connect();
      if ((await client.ping()) === "PONG") {
        client.disconnect();
        return;
      }
    } catch {
      // not up yet
    }
    client.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing answers PING on port ${port}`);
}

/** A WharfMQ broker on free ports (killed if the benchmark process exits first). */
export async function startWharfResp(): Promise<{ port: number; stop(): Promise<void> }> {
  const broker = await BrokerProcess.start({ env: { WHARF_LOG_LEVEL: "warn" } });
  process.once("exit", () => broker.child.kill("SIGKILL"));
  return { port: broker.ports.resp, stop: async () => void (await broker.stop()) };
}

/** Runs redis-benchmark with `args`; its stdout, or an error on a non-zero exit or timeout. */
export function runRedisBenchmark(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("redis-benchmark", args, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (out += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`redis-benchmark exited ${code}`));
    });
  });
}
