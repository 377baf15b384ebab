/**
 * Shared by bench/resp.ts and bench/resp-streams.ts: tool detection, readiness checks, the
 * WharfMQ broker under test and redis-benchmark runs.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { BrokerProcess } from "../../test/helpers/broker-process.ts";
import { round as roundTo } from "../harness.ts";

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
export async function startWharfResp(): Promise<{
  port: number;
  pid: number;
  stop(): Promise<void>;
}> {
  const broker = await BrokerProcess.start({ env: { WHARF_LOG_LEVEL: "warn" } });
  process.once("exit", () => broker.child.kill("SIGKILL"));
  return {
    port: broker.ports.resp,
    pid: broker.child.pid!,
    stop: async () => void (await broker.stop()),
  };
}

const clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

/**
 * CPU seconds (user + system, all threads) a running process has used so far, from
 * /proc/PID/stat: read before and after a case, the difference is the server's CPU for it.
 */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

/**
 * CPU of each process of a case: µs per request and `busy` (CPU seconds per second of the
 * case: near 1 for a single-threaded process means it was the bound).
 */
export function cpuFigures(cpuSeconds: Record<string, number>, seconds: number, requests: number) {
  const figures: Record<string, number> = {};
  for (const [process, cpu] of Object.entries(cpuSeconds)) {
    figures[`${process}_cpu_us_per_request`] = roundTo((cpu * 1e6) / requests);
    figures[`${process}_busy`] = roundTo(cpu / seconds, 2);
  }
  return figures;
}

export interface BenchmarkRun {
  /** redis-benchmark's stdout. */
  out: string;
  /** CPU seconds (user + system) redis-benchmark used, from the shell's `times`. */
  clientCpuSeconds: number;
}

/** `times`' second line ("0m0.512s 0m4.680s": children's user and system) in seconds. */
function childrenCpuSeconds(stderr: string): number {
  const lines = stderr.trim().split("\n");
  const match = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(lines.at(-1) ?? "");
  if (match === null) return Number.NaN;
  const [, um, us, sm, ss] = match.map(Number) as [number, number, number, number, number];
  return um * 60 + us + sm * 60 + ss;
}

/**
 * Runs redis-benchmark with `args` (through bash, whose `times` then reports the CPU the
 * benchmark client used: it is single-threaded, so near one second per second of wall time
 * means the client, not the server, bounds the result). Rejects on a non-zero exit or timeout.
 */
export function runRedisBenchmark(args: string[], timeoutMs: number): Promise<BenchmarkRun> {
  return new Promise((resolve, reject) => {
    const script = 'redis-benchmark "$@"; status=$?; times >&2; exit $status';
    // Its own process group, so that a timeout kills redis-benchmark and not only bash.
    const child = spawn("bash", ["-c", script, "redis-benchmark", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (out += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (err += text));
    const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), timeoutMs);
    child.once("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ out, clientCpuSeconds: childrenCpuSeconds(err) });
      else reject(new Error(`redis-benchmark exited ${code}`));
    });
  });
}
