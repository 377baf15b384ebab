/**
 * AMQP 0-9-1 benchmark: WharfMQ's AMQP listener side by side with RabbitMQ, the same amqplib
 * client processes and workloads against each, in one run; a `ratio` line per workload gives
 * WharfMQ / RabbitMQ (issue 4).
 *
 * Targets: `wharfmq` (bin/wharf.js start through test/helpers/broker-process.ts, its default
 * fsync durability, log level warn) and `rabbitmq` (Debian's rabbitmq-server, a private node
 * on spare loopback ports with its data under a temporary directory, no plugins, classic
 * queues; bench/amqp/rabbitmq.ts). Without RabbitMQ an `unavailable` line says why and
 * WharfMQ is measured alone; a WharfMQ that does not complete an AMQP handshake gets the same
 * line and RabbitMQ is measured alone.
 *
 * Workloads (bench/amqp/workloads.ts; 100 B bodies):
 *  (a) `persistent-confirm`: durable queue, deliveryMode 2, ConfirmChannel with up to
 *      `--window` unconfirmed messages per publisher, one consumer with manual acks and
 *      prefetch `--prefetch`;
 *  (b) `transient`: non-durable queue, deliveryMode 1, no confirms, one auto-ack consumer;
 *  (c) `fanout10`: a fanout exchange bound to 10 queues, 10 auto-ack consumers (one
 *      connection each, spread over `--consumer-processes` processes), transient messages;
 *  (d) `latency-persistent`, `latency-transient`: one publisher at `--rate` messages/s, the
 *      due time stamped in the body, one consumer: p50/p99/p999 due time → delivery;
 *  (e) `backlog`: `--backlog` persistent messages confirmed into a durable queue with no
 *      consumer, then the broker's VmRSS. Minutes at 10 M: it runs only when `--backlog` or
 *      `--only backlog` asks for it (and in `--quick`, with 20 000 messages).
 *
 * Bounded: every workload is bounded in seconds (warm-up + `--seconds`) and messages; client
 * processes are killed on overrun. Brokers are stopped by PID at the end, on failure too.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "amqplib";
import { BrokerProcess } from "../test/helpers/broker-process.ts";
import { rabbitUnavailable, startRabbit } from "./amqp/rabbitmq.ts";
import {
  backlog,
  latency,
  latencySpecs,
  type Settings,
  type Target,
  throughput,
  throughputSpecs,
} from "./amqp/workloads.ts";
import { type BenchContext, numberFlag, round, stringFlag } from "./harness.ts";

export const description =
  "AMQP 0-9-1 with amqplib: WharfMQ side by side with RabbitMQ: persistent+confirms, transient, fanout to 10 queues, fixed-rate latency, RSS with a backlog.";

export const flags: Record<string, string> = {
  seconds: "measured seconds of each workload (default 10, quick 1)",
  warmup: "seconds of load before each measured window (default 3, quick 0.5)",
  repeat: "rounds of every workload (default 1); even rounds run RabbitMQ first",
  only: "workloads to run, comma-separated names or letters a-e (default a-d; e with --backlog)",
  publishers: "publisher processes of the throughput and backlog workloads (default 2)",
  "consumer-processes": "processes the 10 fan-out consumers are spread over (default 2)",
  "queue-consumers":
    "competing consumers (one process each) on the queue of (a) and (b) (default 1, as issue 4)",
  window: "unconfirmed messages per confirming publisher (default 1000)",
  prefetch: "prefetch of manual-ack consumers (default 1000)",
  rate: "messages/s of the latency workloads (default 5000)",
  backlog: "run (e) with this many messages (issue 4: 10000000; quick default 20000)",
  "backlog-timeout": "seconds allowed to publish the backlog, per broker (default 3600)",
  "no-rabbitmq": "measure WharfMQ alone",
  dir: "parent of RabbitMQ's temporary data directory (default os.tmpdir())",
  keep: "keep RabbitMQ's data and log directory",
};

type Workload = {
  name: string;
  letter: string;
  /** The figure the ratio line leads with, and whether higher is better. */
  headline: string;
  higherIsBetter: boolean;
  compared: string[];
  run(target: Target, settings: Settings, prefix: string): Promise<Record<string, unknown>>;
};

function workloads(progress: (message: string) => void): Workload[] {
  const rates = ["delivered_per_s", "end_to_end_per_s", "published_per_s", "broker_cpu_s"];
  return [
    ...Object.values(throughputSpecs).map((spec, i) => ({
      name: spec.name,
      letter: "abc"[i]!,
      headline: "delivered_per_s",
      higherIsBetter: true,
      compared: rates,
      run: (target: Target, settings: Settings, prefix: string) =>
        throughput(target, spec, settings, prefix),
    })),
    ...Object.values(latencySpecs).map((spec) => ({
      name: spec.name,
      letter: "d",
      headline: "p99_us",
      higherIsBetter: false,
      compared: ["p50_us", "p99_us", "p999_us", "broker_cpu_s"],
      run: (target: Target, settings: Settings, prefix: string) =>
        latency(target, spec, settings, prefix),
    })),
    {
      name: "backlog",
      letter: "e",
      headline: "rss_bytes",
      higherIsBetter: false,
      compared: ["rss_bytes", "confirmed_per_s", "disk_growth_bytes"],
      run: (target, settings, prefix) => backlog(target, settings, prefix, progress),
    },
  ];
}

function settingsOf(context: BenchContext): Settings {
  const quick = context.quick;
  return {
    quick,
    seconds: numberFlag(context, "seconds", quick ? 1 : 10),
    warmupSeconds: numberFlag(context, "warmup", quick ? 0.5 : 3),
    publishers: Math.floor(numberFlag(context, "publishers", 2)),
    consumerProcesses: Math.floor(numberFlag(context, "consumer-processes", 2)),
    queueConsumers: Math.floor(numberFlag(context, "queue-consumers", 1)),
    window: Math.floor(numberFlag(context, "window", 1000)),
    prefetch: Math.floor(numberFlag(context, "prefetch", 1000)),
    bodyBytes: 100,
    rate: numberFlag(context, "rate", 5000),
    // A safety bound far above what 2 cores publish in a window: the time bound decides.
    maxMessages: quick ? 2_000_000 : 50_000_000,
    backlog: Math.floor(numberFlag(context, "backlog", quick ? 20_000 : 10_000_000)),
    backlogTimeoutS: numberFlag(context, "backlog-timeout", 3600),
    drainSeconds: quick ? 15 : 60,
  };
}

function selected(context: BenchContext, all: Workload[]): Workload[] {
  const only = stringFlag(context, "only");
  if (only === undefined) {
    const withBacklog = context.quick || context.flags.has("backlog");
    return all.filter((workload) => workload.letter !== "e" || withBacklog);
  }
  const wanted = only.split(",").map((item) => item.trim());
  const chosen = all.filter((w) => wanted.includes(w.name) || wanted.includes(w.letter));
  if (chosen.length === 0) throw new Error(`--only ${only}: no such workload`);
  return chosen;
}

/** Resolves when the URL completes an AMQP handshake; the reason it does not otherwise. */
async function probe(url: string): Promise<string | undefined> {
  try {
    const connection = await connect(url, { timeout: 5000 });
    await connection.close();
    return undefined;
  } catch (error) {
    return `no AMQP handshake on ${url}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

interface Broker {
  target: Target;
  version: string;
  stop(): Promise<void>;
}

async function startWharf(context: BenchContext): Promise<Broker | undefined> {
  const broker = await BrokerProcess.start({ env: { WHARF_LOG_LEVEL: "warn" } });
  process.once("exit", () => broker.child.kill("SIGKILL"));
  const url = `amqp://guest:guest@127.0.0.1:${broker.ports.amqp}`;
  const reason = await probe(url);
  if (reason !== undefined) {
    context.emit({ case: "unavailable", params: { target: "wharfmq" }, reason });
    await broker.stop();
    return undefined;
  }
  return {
    target: { name: "wharfmq", url, pid: broker.pid, dataDir: broker.dataDir },
    version: "wharfmq",
    stop: async () => void (await broker.stop()),
  };
}

async function startRabbitTarget(
  context: BenchContext,
  parent: string,
): Promise<Broker | undefined> {
  const reason = context.flags.has("no-rabbitmq") ? "--no-rabbitmq" : rabbitUnavailable();
  if (reason !== undefined) {
    context.emit({ case: "unavailable", params: { target: "rabbitmq" }, reason });
    return undefined;
  }
  const dataDir = mkdtempSync(join(parent, "wharf-bench-rabbitmq-"));
  const keep = context.flags.has("keep");
  try {
    const node = await startRabbit(dataDir);
    context.progress(
      `RabbitMQ ${node.version} on port ${node.port} (beam.smp pid ${node.pid}, data ${dataDir}` +
        `${node.startedEpmd.length > 0 ? `, epmd pid ${node.startedEpmd.join(",")} started` : ""})`,
    );
    return {
      target: { name: "rabbitmq", url: node.url, pid: node.pid, dataDir },
      version: node.version,
      async stop() {
        await node.stop();
        if (!keep) rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    context.emit({
      case: "unavailable",
      params: { target: "rabbitmq" },
      reason: `RabbitMQ did not start: ${String(error)} (log in ${dataDir})`,
    });
    return undefined;
  }
}

export async function run(context: BenchContext): Promise<void> {
  const settings = settingsOf(context);
  const repeat = Math.floor(numberFlag(context, "repeat", 1));
  const chosen = selected(
    context,
    workloads((message) => context.progress(message)),
  );
  const parent = stringFlag(context, "dir") ?? tmpdir();
  const runTag = `${process.pid}-${Date.now().toString(36)}`;
  // A signal would end the process without 'exit' hooks: exit instead, so they kill the
  // brokers and client processes by PID.
  const onSignal = () => {
    context.progress("interrupted: killing the brokers and clients");
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await runPhases(context, settings, parent, chosen, repeat, runTag);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

async function runPhases(
  context: BenchContext,
  settings: Settings,
  parent: string,
  chosen: Workload[],
  repeat: number,
  runTag: string,
): Promise<void> {
  const main = chosen.filter((workload) => workload.letter !== "e");
  const rounds = Array.from({ length: repeat }, (_, r) => r);
  if (main.length > 0) await runPhase(context, settings, parent, main, rounds, runTag);
  // (e) on freshly started brokers, one pair per round: `rss_before_bytes` is then an idle
  // broker's, not one carrying the heap the throughput workloads left behind.
  for (const r of rounds) {
    const rest = chosen.filter((workload) => workload.letter === "e");
    if (rest.length > 0) await runPhase(context, settings, parent, rest, [r], runTag);
  }
}

/** Starts both brokers, runs `list` for each round, stops them (on failure too). */
async function runPhase(
  context: BenchContext,
  settings: Settings,
  parent: string,
  list: Workload[],
  rounds: number[],
  runTag: string,
): Promise<void> {
  const brokers: Broker[] = [];
  try {
    const wharf = await startWharf(context);
    if (wharf) brokers.push(wharf);
    const rabbit = await startRabbitTarget(context, parent);
    if (rabbit) brokers.push(rabbit);
    context.emit({
      case: "environment",
      params: { ...settings, rounds: rounds.map((r) => r + 1), workloads: list.map((w) => w.name) },
      targets: brokers.map((b) => ({ name: b.target.name, version: b.version, pid: b.target.pid })),
      nproc: cpus().length,
      cpu_model: cpus()[0]?.model,
      node: process.version,
      loadavg_at_start: loadavg(),
    });
    if (brokers.length === 0) return;
    for (const r of rounds) {
      // Alternate which broker runs first, so a neighbour's load does not always hit one.
      const order = r % 2 === 0 ? brokers : [...brokers].reverse();
      for (const workload of list) {
        const results = new Map<string, Record<string, unknown>>();
        for (const broker of order) {
          const name = broker.target.name;
          context.progress(`${workload.name} on ${name}`);
          const params = { workload: workload.name, target: name, round: r + 1 };
          try {
            const prefix = `bench-${workload.name}-${runTag}-${r}`;
            const result = await workload.run(broker.target, settings, prefix);
            results.set(name, result);
            context.emit({ case: workload.name, params, ...result });
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            context.emit({ case: workload.name, params, error: message });
          }
        }
        emitRatio(context, workload, results, r + 1, order[0]!.target.name);
      }
    }
  } finally {
    for (const broker of brokers) await broker.stop();
  }
}

function emitRatio(
  context: BenchContext,
  workload: Workload,
  results: Map<string, Record<string, unknown>>,
  round_: number,
  first: string,
): void {
  const wharf = results.get("wharfmq");
  const rabbit = results.get("rabbitmq");
  const metrics: Record<string, unknown> = {};
  for (const key of workload.compared) {
    const w = wharf?.[key];
    const r = rabbit?.[key];
    metrics[key] = {
      wharfmq: w ?? null,
      rabbitmq: r ?? null,
      wharfmq_vs_rabbitmq:
        typeof w === "number" && typeof r === "number" && r !== 0 ? round(w / r, 3) : null,
    };
  }
  const headline = metrics[workload.headline] as { wharfmq_vs_rabbitmq: number | null };
  context.emit({
    case: "ratio",
    params: { workload: workload.name, round: round_, first },
    headline: workload.headline,
    higher_is_better: workload.higherIsBetter,
    wharfmq_vs_rabbitmq: headline.wharfmq_vs_rabbitmq,
    ...(wharf && rabbit
      ? {}
      : { missing: [wharf ? [] : ["wharfmq"], rabbit ? [] : ["rabbitmq"]].flat() }),
    metrics,
  });
}
