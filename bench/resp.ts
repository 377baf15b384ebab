/**
 * RESP benchmark: WharfMQ's RESP listener side by side with Redis (Debian's `redis-server`),
 * same tools and workloads, in one run; every case line carries both figures and the ratio
 * WharfMQ / Redis (above 1: WharfMQ faster; for latency below 1 is better).
 *
 * Targets: `wharfmq` (bin/wharf.js start, test/helpers/broker-process.ts, log level warn) and
 * `redis` (`redis-server --port P --bind 127.0.0.1 --save '' --appendonly no`, on a spare
 * loopback port, stopped by PID at the end, also on failure). Without redis-server a
 * `redis-unavailable` line says so and WharfMQ is measured alone.
 *
 * Cases (issue 5, "Measured"):
 *  (a) `publish`: redis-benchmark PUBLISH throughput, 50 clients, 100-byte message, no
 *      subscribers, without and with pipelining (`-P 16`). redis-benchmark 7.0 has no built-in
 *      publish test, so PUBLISH runs as its explicit-command mode.
 *  (b) `fanout`: 1 ioredis publisher (pipelines of 100 PUBLISH awaited in turn) → 1, 10, 100
 *      ioredis subscribers in a child process (bench/resp/subscribers.ts), 100-byte messages;
 *      `delivered_per_s` = messages received by all subscribers / (last arrival − first send).
 *  (c) XADD: added by the Redis Streams work.
 *  (d) `latency`: 1 publisher at a fixed rate (`--rate`, default 5000/s), 1 subscriber, both
 *      in this process (one clock); p50/p99/p999 of publish→delivery (HdrHistogram).
 *
 * Bounded: every case is bounded in messages and seconds; children are killed on overrun.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { repoRoot } from "../test/helpers/broker-process.ts";
import { freePort } from "../test/helpers/free-port.ts";
import {
  type BenchContext,
  latencyHistogram,
  numberFlag,
  recordSince,
  round,
  stringFlag,
  summarize,
} from "./harness.ts";
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
  "RESP pub/sub: WharfMQ side by side with redis-server: redis-benchmark PUBLISH (with and without -P 16), ioredis fan-out to 1/10/100 subscribers, fixed-rate delivery latency.";

export const flags: Record<string, string> = {
  requests:
    "redis-benchmark requests per PUBLISH case (default 200000; -P 16 runs 5x; quick 20000)",
  messages: "messages published per fan-out case with 1 and 10 subscribers (default 50000)",
  rate: "messages/s of the latency case (default 5000)",
  seconds: "seconds of the latency case (default 5, quick 1)",
  repeat:
    "rounds of every case (default 1); round 2, 4... runs Redis first, so each side gets both slots",
  "no-redis": "measure WharfMQ alone",
  baseline:
    "DIR: also measure the broker of another copy of the repository (target `wharfmq-baseline`), side by side",
};

interface Target {
  name: "wharfmq" | "wharfmq-baseline" | "redis";
  port: number;
  /** The server's process, for its CPU time around each case. */
  pid: number;
  stop(): Promise<void>;
}

const payload = "x".repeat(100);

async function startRedis(): Promise<Target> {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.once("exit", () => child.kill("SIGKILL"));
  await waitForPing(port, 10_000);
  return {
    name: "redis",
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** (a) requests/s of PUBLISH from redis-benchmark's CSV line; server and client CPU. */
async function publishThroughput(target: Target, requests: number, pipeline: number) {
  const serverBefore = processCpuSeconds(target.pid);
  const run = await runRedisBenchmark(
    [
      ...["-h", "127.0.0.1", "-p", String(target.port), "-c", "50", "-n", String(requests)],
      ...["-P", String(pipeline), "-q", "--csv", "PUBLISH", "bench-channel", payload],
    ],
    300_000,
  );
  const serverCpu = processCpuSeconds(target.pid) - serverBefore;
  const row = run.out
    .trim()
    .split("\n")[1]!
    .split(",")
    .map((cell) => JSON.parse(cell) as string);
  const requestsPerSecond = Number(row[1]);
  const seconds = requests / requestsPerSecond;
  return {
    requests_per_s: requestsPerSecond,
    p50_ms: Number(row[4]),
    p99_ms: Number(row[6]),
    ...cpuFigures({ server: serverCpu, client: run.clientCpuSeconds }, seconds, requests),
  };
}

function spawnSubscribers(target: Target, count: number, expect: number): ChildProcess {
  return spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "bench/resp/subscribers.ts",
      String(target.port),
      "fanout",
      String(count),
      String(expect),
      "60000",
    ],
    { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] },
  );
}

/** (b) delivered messages/s from one publisher to `count` subscribers; CPU of each process. */
async function fanout(target: Target, count: number, messages: number) {
  const child = spawnSubscribers(target, count, messages);
  const lines = createInterface({ input: child.stdout! });
  const iterator = lines[Symbol.asyncIterator]();
  const ready = await iterator.next();
  if (ready.value !== "ready") throw new Error(`subscribers: ${String(ready.value)}`);
  const publisher = new Redis({ host: "127.0.0.1", port: target.port });
  await publisher.ping();
  const body = Buffer.from(payload);
  const serverBefore = processCpuSeconds(target.pid);
  const publisherBefore = process.cpuUsage();
  const started = Date.now();
  let receivers = 0;
  for (let sent = 0; sent < messages; ) {
    const batch = publisher.pipeline();
    const size = Math.min(100, messages - sent);
    for (let i = 0; i < size; i++) batch.publish("fanout", body);
    const results = (await batch.exec())!;
    receivers = results[0]![1] as number;
    sent += size;
  }
  const publishedAt = Date.now();
  const result = JSON.parse(String((await iterator.next()).value)) as {
    received: number;
    lastAt: number;
    cpuSeconds: number;
  };
  const serverCpu = processCpuSeconds(target.pid) - serverBefore;
  const publisherUsage = process.cpuUsage(publisherBefore);
  publisher.disconnect();
  child.stdin!.end();
  const seconds = Math.max(0.001, (result.lastAt - started) / 1000);
  return {
    subscribers: count,
    receivers_reported: receivers,
    messages,
    delivered: result.received,
    complete: result.received === messages * count,
    publish_s: round((publishedAt - started) / 1000),
    duration_s: round(seconds),
    delivered_per_s: Math.round(result.received / seconds),
    // Per published message; the subscribers' process counts from its first message.
    ...cpuFigures(
      {
        server: serverCpu,
        publisher: (publisherUsage.user + publisherUsage.system) / 1e6,
        subscribers: result.cpuSeconds,
      },
      seconds,
      messages,
    ),
  };
}

/** (d) publish→delivery latency at a fixed rate, one clock. */
async function latency(target: Target, rate: number, seconds: number) {
  const subscriber = new Redis({ host: "127.0.0.1", port: target.port });
  const publisher = new Redis({ host: "127.0.0.1", port: target.port });
  const histogram = latencyHistogram();
  const sentAt = new Map<number, bigint>();
  subscriber.on("message", (_channel: string, message: string) => {
    const id = Number(message.slice(0, message.indexOf(" ")));
    const start = sentAt.get(id);
    if (start !== undefined) {
      recordSince(histogram, start);
      sentAt.delete(id);
    }
  });
  await subscriber.subscribe("latency");
  const total = Math.round(rate * seconds);
  const begin = performance.now();
  for (let id = 0; id < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * rate) + 1);
    for (; id < due; id++) {
      sentAt.set(id, process.hrtime.bigint());
      void publisher.publish("latency", `${id} ${payload}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const deadline = Date.now() + 5000;
  while (sentAt.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  subscriber.disconnect();
  publisher.disconnect();
  return { rate, seconds, lost: sentAt.size, ...summarize(histogram) };
}

export async function run(context: BenchContext): Promise<void> {
  const quick = context.quick;
  const requests = numberFlag(context, "requests", quick ? 20_000 : 200_000);
  const messages = numberFlag(context, "messages", quick ? 5_000 : 50_000);
  const rate = numberFlag(context, "rate", 5000);
  const seconds = numberFlag(context, "seconds", quick ? 1 : 5);
  const repeat = numberFlag(context, "repeat", 1);
  if (!haveTool("redis-benchmark"))
    throw new Error("redis-benchmark is not installed (redis-tools)");
  const baseline = stringFlag(context, "baseline");
  const targets: Target[] = [];
  try {
    targets.push({ name: "wharfmq", ...(await startWharfResp()) });
    if (baseline !== undefined) {
      targets.push({ name: "wharfmq-baseline", ...(await startBaselineBroker(baseline)) });
    }
    if (context.flags.get("no-redis") === true) {
      context.emit({ case: "redis-unavailable", params: {}, reason: "--no-redis" });
    } else if (!haveTool("redis-server")) {
      context.emit({
        case: "redis-unavailable",
        params: {},
        reason: "redis-server is not installed (apt-get install redis-server)",
      });
    } else {
      targets.push(await startRedis());
    }
    const compare = (
      caseName: string,
      params: Record<string, unknown>,
      results: Map<string, Record<string, unknown>>,
      key: string,
    ) => {
      const wharf = results.get("wharfmq")?.[key] as number | undefined;
      const redis = results.get("redis")?.[key] as number | undefined;
      const before = results.get("wharfmq-baseline")?.[key] as number | undefined;
      context.emit({
        case: caseName,
        params,
        wharfmq: results.get("wharfmq"),
        redis: results.get("redis") ?? null,
        [`wharfmq_vs_redis_${key}`]: wharf !== undefined && redis ? round(wharf / redis, 3) : null,
        ...(baseline === undefined
          ? {}
          : {
              wharfmq_baseline: results.get("wharfmq-baseline"),
              [`wharfmq_baseline_vs_redis_${key}`]:
                before !== undefined && redis ? round(before / redis, 3) : null,
              [`wharfmq_vs_wharfmq_baseline_${key}`]:
                wharf !== undefined && before ? round(wharf / before, 3) : null,
            }),
      });
    };
    // Alternate which side runs first: a neighbour's load landing on one slot evens out.
    for (let r = 0; r < repeat; r++) {
      const order = r % 2 === 0 ? targets : [...targets].reverse();
      for (const pipeline of [1, 16]) {
        const count = pipeline === 1 ? requests : requests * 5;
        const results = new Map<string, Record<string, unknown>>();
        for (const target of order) {
          context.progress(`publish -P ${pipeline} on ${target.name}`);
          results.set(target.name, await publishThroughput(target, count, pipeline));
        }
        compare(
          "publish",
          {
            pipeline,
            requests: count,
            clients: 50,
            message_bytes: 100,
            round: r + 1,
            first: order[0]!.name,
          },
          results,
          "requests_per_s",
        );
      }
      for (const subscribers of [1, 10, 100]) {
        const count = subscribers === 100 ? Math.max(1, Math.floor(messages / 5)) : messages;
        const results = new Map<string, Record<string, unknown>>();
        for (const target of order) {
          context.progress(`fanout to ${subscribers} on ${target.name}`);
          results.set(target.name, await fanout(target, subscribers, count));
        }
        compare(
          "fanout",
          { subscribers, messages: count, message_bytes: 100, round: r + 1, first: order[0]!.name },
          results,
          "delivered_per_s",
        );
      }
      const results = new Map<string, Record<string, unknown>>();
      for (const target of order) {
        context.progress(`latency at ${rate}/s on ${target.name}`);
        results.set(target.name, await latency(target, rate, seconds));
      }
      compare(
        "latency",
        { rate, seconds, message_bytes: 100, round: r + 1, first: order[0]!.name },
        results,
        "p99_us",
      );
    }
  } finally {
    for (const target of targets) await target.stop();
  }
}
