/**
 * RESP benchmark (c), Redis Streams: XADD throughput of WharfMQ side by side with Redis
 * (Debian's `redis-server`), same tool (redis-benchmark) and workload in one run.
 *
 * Targets:
 * - `wharfmq`: bin/wharf.js start (test/helpers/broker-process.ts), default durability: an XADD
 *   is answered after its entry is fsync'd;
 * - `redis-always`: `redis-server --appendonly yes --appendfsync always`: the honest durability
 *   match (Redis writes and fsyncs its AOF before answering, once per event-loop turn);
 * - `redis-default`: `redis-server` with its defaults (RDB snapshots, no AOF): answered from
 *   memory, nothing fsync'd per write.
 * Each Redis runs in a temporary directory on a spare loopback port and is stopped by PID.
 * Without redis-server a `redis-unavailable` line says so and WharfMQ is measured alone.
 *
 * Cases: `XADD <stream> * payload <100 B>` with 1 client, 50 clients, and 50 clients with
 * pipelining (`-P 16`). Each line carries every target's requests/s, the stream length
 * afterwards (every XADD was applied), and the ratios WharfMQ / Redis (target of issue 5:
 * >= 2x redis-always).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "../test/helpers/free-port.ts";
import { type BenchContext, numberFlag, round, stringFlag } from "./harness.ts";
import { startBaselineBroker } from "./resp/baseline-broker.ts";
import {
  cpuFigures,
  haveTool,
  processCpuSeconds,
  runRedisBenchmark,
  startWharfResp,
  waitForPing,
} from "./resp/redis-tools.ts";

export const description =
  "Redis Streams XADD throughput: WharfMQ (fsync before reply) vs redis-server with appendfsync always and with its defaults, redis-benchmark with 1, 50 and 50x16-pipelined clients.";

export const flags: Record<string, string> = {
  requests:
    "XADDs per case with 50 clients (default 100000; -P 16 runs 4x; 1 client 1/10; quick 5000)",
  repeat: "rounds of every case (default 1); even rounds run the Redis targets first",
  "no-redis": "measure WharfMQ alone",
  baseline:
    "DIR: also measure the broker of another copy of the repository (target `wharfmq-baseline`), side by side",
};

type TargetName = "wharfmq" | "wharfmq-baseline" | "redis-always" | "redis-default";

interface Target {
  name: TargetName;
  port: number;
  /** The server's process, for its CPU time around each case. */
  pid: number;
  stop(): Promise<void>;
}

const payload = "x".repeat(100);

async function startRedis(name: "redis-always" | "redis-default"): Promise<Target> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `wharf-bench-${name}-`));
  const durability =
    name === "redis-always" ? ["--appendonly", "yes", "--appendfsync", "always", "--save", ""] : [];
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, ...durability],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.once("exit", () => child.kill("SIGKILL"));
  await waitForPing(port, 10_000);
  return {
    name,
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function streamLength(port: number, stream: string): Promise<number> {
  const client = new Redis({ host: "127.0.0.1", port });
  try {
    return await client.xlen(stream);
  } finally {
    client.disconnect();
  }
}

interface CaseSpec {
  name: string;
  clients: number;
  pipeline: number;
  requests: number;
}

/** requests/s of XADD from redis-benchmark's CSV line, and the stream length afterwards. */
async function xaddThroughput(target: Target, spec: CaseSpec, stream: string) {
  const before = await streamLength(target.port, stream);
  const serverBefore = processCpuSeconds(target.pid);
  const run = await runRedisBenchmark(
    [
      ...["-h", "127.0.0.1", "-p", String(target.port), "-c", String(spec.clients)],
      ...["-n", String(spec.requests), "-P", String(spec.pipeline), "-q", "--csv"],
      ...["XADD", stream, "*", "payload", payload],
    ],
    600_000,
  );
  const serverCpu = processCpuSeconds(target.pid) - serverBefore;
  const row = run.out
    .trim()
    .split("\n")
    .at(-1)!
    .split(",")
    .map((cell) => JSON.parse(cell) as string);
  const added = (await streamLength(target.port, stream)) - before;
  const requestsPerSecond = Number(row[1]);
  return {
    requests_per_s: requestsPerSecond,
    p50_ms: Number(row[4]),
    p99_ms: Number(row[6]),
    added,
    ...cpuFigures(
      { server: serverCpu, client: run.clientCpuSeconds },
      spec.requests / requestsPerSecond,
      spec.requests,
    ),
  };
}

export async function run(context: BenchContext): Promise<void> {
  const requests = numberFlag(context, "requests", context.quick ? 5000 : 100_000);
  const repeat = numberFlag(context, "repeat", 1);
  const withRedis = context.flags.get("no-redis") !== true && haveTool("redis-server");
  if (!haveTool("redis-benchmark")) throw new Error("redis-benchmark is not installed");
  if (!withRedis) context.emit({ case: "redis-unavailable", params: {} });
  const cases: CaseSpec[] = [
    { name: "xadd-c1", clients: 1, pipeline: 1, requests: Math.max(1000, requests / 10) },
    { name: "xadd-c50", clients: 50, pipeline: 1, requests },
    { name: "xadd-c50-p16", clients: 50, pipeline: 16, requests: requests * 4 },
  ];
  const baseline = stringFlag(context, "baseline");
  const names: TargetName[] = withRedis
    ? ["wharfmq", "redis-always", "redis-default"]
    : ["wharfmq"];
  if (typeof baseline === "string") names.splice(1, 0, "wharfmq-baseline");
  const targets = new Map<TargetName, Target>();
  try {
    for (const name of names) {
      context.progress(`starting ${name}`);
      if (name === "wharfmq") targets.set(name, { name: "wharfmq", ...(await startWharfResp()) });
      else if (name === "wharfmq-baseline") {
        const broker = await startBaselineBroker(baseline!);
        targets.set(name, { name, ...broker });
      } else targets.set(name, await startRedis(name));
    }
    for (let roundIndex = 1; roundIndex <= repeat; roundIndex++) {
      for (const spec of cases) {
        const order = roundIndex % 2 === 0 ? [...names].reverse() : names;
        const results = new Map<TargetName, Awaited<ReturnType<typeof xaddThroughput>>>();
        for (const name of order) {
          context.progress(`round ${roundIndex} ${spec.name} on ${name}`);
          const stream = `bench-${spec.name}-${roundIndex}`;
          results.set(name, await xaddThroughput(targets.get(name)!, spec, stream));
        }
        const wharf = results.get("wharfmq")!;
        const line: Record<string, unknown> = {};
        for (const [name, result] of results) {
          for (const [field, value] of Object.entries(result)) line[`${name}_${field}`] = value;
        }
        for (const name of ["wharfmq-baseline", "redis-always", "redis-default"] as const) {
          const other = results.get(name);
          if (other) line[`ratio_vs_${name}`] = round(wharf.requests_per_s / other.requests_per_s);
        }
        context.emit({
          case: spec.name,
          params: {
            clients: spec.clients,
            pipeline: spec.pipeline,
            requests: spec.requests,
            payload_bytes: payload.length,
            round: roundIndex,
          },
          ...line,
        });
      }
    }
  } finally {
    for (const target of targets.values()) await target.stop();
  }
}
