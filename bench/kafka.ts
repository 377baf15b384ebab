/**
 * Kafka benchmark: WharfMQ side by side with real Apache Kafka 4.x, in one run, the same
 * clients and settings against each broker.
 *
 * Brokers ("targets"), all on loopback ports of this machine, data in a temporary directory:
 *   - `wharfmq`: `bin/wharf.js start --durability fsync` (its default: a produce is
 *     acknowledged once fsync'd), only the Kafka and HTTP listeners on.
 *   - `kafka-default`: Apache Kafka (single-node KRaft, fetched with Maven, run on Java 17+)
 *     with topics in Kafka's default mode: appends go to the page cache, no fsync.
 *   - `kafka-flush`: the same Kafka process, topics created with `flush.messages=1`: Kafka
 *     fsyncs the log after every appended batch, the durability WharfMQ gives by default.
 *   Where java or mvn is missing, a `kafka-unavailable` line says why and WharfMQ runs alone.
 *
 * Workloads (see bench/README.md for every field): Kafka's ProducerPerformance and
 * ConsumerPerformance; the lean load generator (bench/kafka/load-generator.ts), produce and
 * consume; kafkajs and @platformatic/kafka producers; latency at a fixed rate. For each
 * workload the targets run back to back (the order rotates with the repeat), then a `ratio`
 * line compares them; `summary` and `target` lines close the run.
 *
 * Measurements from outside the broker: the broker's CPU time (/proc/<pid>/stat utime+stime)
 * over each measured window, its RSS (VmRSS) at the end of the window and peak (VmHWM) so far.
 *
 * Fault model: every broker this benchmark starts is stopped by PID at the end, on failure
 * too (and killed from an 'exit' hook if the process dies); each case is bounded in records
 * and in seconds, and a client that overruns is killed.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrokerPorts, BrokerProcess, repoRoot } from "../test/helpers/broker-process.ts";
import { freePort } from "../test/helpers/free-port.ts";
import { type BenchContext, numberFlag, round, stringFlag } from "./harness.ts";
import { BenchAdmin } from "./kafka/admin.ts";
import type { ClientJob } from "./kafka/client-process.ts";
import { runClient } from "./kafka/client-runner.ts";
import { summarizeProfile } from "./kafka/cpu-profile.ts";
import {
  parseConsumerPerformance,
  parseProducerPerformance,
  runJavaTool,
} from "./kafka/java-tools.ts";
import {
  ApacheKafka,
  defaultCacheRoot,
  ensureKafka,
  type KafkaDistribution,
  kafkaServerJvmFlags,
  kafkaVersionDefault,
  writeLog4jConfig,
} from "./kafka/kafka-broker.ts";
import { CpuMeter, cpuSeconds, memory } from "./kafka/process-stats.ts";

export const description =
  "Kafka protocol: WharfMQ (fsync) side by side with Apache Kafka 4.x (default and flush.messages=1): Kafka's perf tools, a lean load generator, kafkajs, @platformatic/kafka, fixed-rate latency.";

export const flags: Record<string, string> = {
  seconds: "measured seconds of each time-bounded case (default 10, quick 1)",
  repeat: "run every workload this many times, to see the noise (default 1)",
  only: "run only workload groups with a workload whose name contains this text (comma = or)",
  "no-kafka": "measure WharfMQ alone (no Kafka broker; Kafka's tools still run if available)",
  "kafka-version": `Apache Kafka version fetched from Maven Central (default ${kafkaVersionDefault})`,
  "kafka-cache": "cache directory of the Kafka jars (default ~/.cache/wharf-bench)",
  "kafka-modes": "Kafka topic modes to run: default, flush or default,flush (default both)",
  dir: "parent of the temporary data directories (default os.tmpdir())",
  rate: "records/s of the latency workloads (default 20000)",
  partitions: "partitions of each throughput topic (default 4)",
  profile:
    "profile WharfMQ (V8 sampling profiler, as node --cpu-prof), one broker per case, and emit the hot functions of each",
  keep: "keep the temporary directory (data, broker logs, profiles) at the end",
};

type TargetName = "wharfmq" | "kafka-default" | "kafka-flush";

interface Target {
  name: TargetName;
  /** What a produce acknowledgement means on this target. */
  durability: string;
  port: number;
  pid: number;
  admin: BenchAdmin;
  topicConfigs: Record<string, string>;
  alive(): boolean;
  /** Profiling: SIGUSR2 to the broker opens and closes a profiled window (see the preload). */
  profiled: boolean;
}

/** The broker's CPU time over a measured window; a profiled broker profiles that window. */
function windowMeter(target: Target): {
  start(): void;
  stop(): void;
  readonly seconds: number | undefined;
} {
  const meter = new CpuMeter(target.pid);
  const pid = target.pid;
  return {
    start() {
      if (target.profiled) process.kill(pid, "SIGUSR2");
      meter.start();
    },
    stop() {
      meter.stop();
      if (target.profiled) process.kill(pid, "SIGUSR2");
    },
    get seconds() {
      return meter.seconds;
    },
  };
}

interface Settings {
  quick: boolean;
  seconds: number;
  warmupSeconds: number;
  repeat: number;
  partitions: number;
  rate: number;
  javaRecords: Record<number, number>;
  javaTimeoutMs: number;
  recordsMax: number;
  loadConnections: number;
  loadDepth: number;
  loadBatchRecords: Record<number, number>;
  nodeLanes: number;
  nodeBatchRecords: number;
}

function settingsOf(context: BenchContext): Settings {
  const quick = context.quick;
  return {
    quick,
    seconds: numberFlag(context, "seconds", quick ? 1 : 10),
    warmupSeconds: quick ? 0.5 : 2,
    repeat: Math.floor(numberFlag(context, "repeat", 1)),
    partitions: Math.floor(numberFlag(context, "partitions", 4)),
    rate: numberFlag(context, "rate", 20_000),
    javaRecords: quick ? { 100: 100_000, 1024: 20_000 } : { 100: 3_000_000, 1024: 600_000 },
    javaTimeoutMs: quick ? 30_000 : 45_000,
    recordsMax: quick ? 2_000_000 : 100_000_000,
    loadConnections: 4,
    loadDepth: 8,
    // About 55 KB and 66 KB batches: well above a Java producer's 16 KiB default, so the
    // broker's per-request costs are amortised the way a loaded producer amortises them.
    loadBatchRecords: { 100: 500, 1024: 64 },
    nodeLanes: 4,
    nodeBatchRecords: 500,
  };
}

// ---------------------------------------------------------------------------------------------
// Workloads

type WorkloadKind =
  | "java-producer"
  | "java-consumer"
  | "lg-produce"
  | "lg-consume"
  | "kafkajs-producer"
  | "platformatic-producer"
  | "latency";

interface Workload {
  name: string;
  kind: WorkloadKind;
  recordBytes: number;
  acks: number;
  /** Produce workloads write a topic of their own; consume workloads read this workload's. */
  readsFrom?: string;
  /** Consumption is the same in Kafka's two modes (flush.messages changes writes only). */
  skipFlush?: boolean;
  partitions: number;
}

interface WorkloadGroup {
  name: string;
  workloads: Workload[];
}

const acksName = (acks: number) => (acks === -1 ? "all" : String(acks));

function workloadGroups(settings: Settings): WorkloadGroup[] {
  const sizes = settings.quick ? [100] : [100, 1024];
  const p = settings.partitions;
  const groups: WorkloadGroup[] = [];
  for (const size of sizes) {
    const java1 = `java-producer-r${size}-acks1`;
    groups.push({
      name: `java-r${size}`,
      workloads: [
        { name: java1, kind: "java-producer", recordBytes: size, acks: 1, partitions: p },
        {
          name: `java-consumer-r${size}`,
          kind: "java-consumer",
          recordBytes: size,
          acks: 1,
          readsFrom: java1,
          skipFlush: true,
          partitions: p,
        },
        // A smoke run keeps one Java producer per size: each costs a JVM start.
        ...(settings.quick
          ? []
          : [
              {
                name: `java-producer-r${size}-acksall`,
                kind: "java-producer" as const,
                recordBytes: size,
                acks: -1,
                partitions: p,
              },
            ]),
      ],
    });
  }
  for (const size of sizes) {
    const lg1 = `lg-produce-r${size}-acks1`;
    groups.push({
      name: `lg-r${size}`,
      workloads: [
        { name: lg1, kind: "lg-produce", recordBytes: size, acks: 1, partitions: p },
        {
          name: `lg-consume-r${size}`,
          kind: "lg-consume",
          recordBytes: size,
          acks: 1,
          readsFrom: lg1,
          skipFlush: true,
          partitions: p,
        },
        // On WharfMQ acks=all is the same fsync as acks=1: a smoke run keeps one of the two.
        ...(settings.quick
          ? []
          : [
              {
                name: `lg-produce-r${size}-acksall`,
                kind: "lg-produce" as const,
                recordBytes: size,
                acks: -1,
                partitions: p,
              },
            ]),
      ],
    });
  }
  for (const kind of ["kafkajs-producer", "platformatic-producer"] as const) {
    const acks = settings.quick ? [1] : [1, -1];
    groups.push({
      name: `${kind}-r100`,
      workloads: acks.map((value) => ({
        name: `${kind}-r100-acks${acksName(value)}`,
        kind,
        recordBytes: 100,
        acks: value,
        partitions: p,
      })),
    });
  }
  const latencyAcks = settings.quick ? [-1] : [1, -1];
  groups.push({
    name: "latency-r100",
    workloads: latencyAcks.map((value) => ({
      name: `latency-r100-rate${settings.rate}-acks${acksName(value)}`,
      kind: "latency" as const,
      recordBytes: 100,
      acks: value,
      partitions: 1,
    })),
  });
  return groups;
}

function selectGroups(groups: WorkloadGroup[], only: string | undefined): WorkloadGroup[] {
  if (only === undefined) return groups;
  const needles = only.split(",").filter((needle) => needle !== "");
  return groups.filter((group) =>
    group.workloads.some((workload) => needles.some((needle) => workload.name.includes(needle))),
  );
}

// ---------------------------------------------------------------------------------------------
// Measuring one case

interface CaseMeasure {
  records: number;
  seconds: number;
  /** Broker CPU seconds over the measured window. */
  brokerCpuSeconds: number | undefined;
  clientCpuSeconds: number | undefined;
  extra: Record<string, unknown>;
}

type Phases = { onMeasureStart(): void; onMeasureEnd(): void };

function clientTimeoutMs(settings: Settings): number {
  return (settings.warmupSeconds + settings.seconds) * 1000 + 60_000;
}

async function runWithClient(
  target: Target,
  job: ClientJob,
  settings: Settings,
): Promise<CaseMeasure & { result: Record<string, unknown> }> {
  const meter = windowMeter(target);
  const phases: Phases = { onMeasureStart: () => meter.start(), onMeasureEnd: () => meter.stop() };
  const run = await runClient(job, { ...phases, timeoutMs: clientTimeoutMs(settings) });
  const records = Number(run.result.records ?? run.result.records_acknowledged ?? 0);
  const seconds = Number(run.result.seconds ?? settings.warmupSeconds + settings.seconds);
  return {
    records,
    seconds,
    brokerCpuSeconds: meter.seconds,
    clientCpuSeconds: run.client_cpu_s,
    extra: {},
    result: run.result,
  };
}

interface RunState {
  context: BenchContext;
  settings: Settings;
  distribution: KafkaDistribution | undefined;
  log4jConfig: string | undefined;
  /** Records written by each produce workload per target (for the consumers after it). */
  produced: Map<string, number>;
}

function topicName(workload: string, target: TargetName, repeat: number): string {
  return `bench-${workload}-${target}-${repeat}`;
}

async function measureWorkload(
  state: RunState,
  target: Target,
  workload: Workload,
  topic: string,
): Promise<CaseMeasure> {
  const { settings } = state;
  const size = workload.recordBytes;
  const bounded = { warmupSeconds: settings.warmupSeconds, seconds: settings.seconds };
  switch (workload.kind) {
    case "java-producer": {
      const records = settings.javaRecords[size]!;
      const meter = windowMeter(target);
      meter.start();
      const run = await runJavaTool(
        state.distribution!,
        state.log4jConfig!,
        "org.apache.kafka.tools.ProducerPerformance",
        [
          "--topic",
          topic,
          "--num-records",
          String(records),
          "--record-size",
          String(size),
          "--throughput",
          "-1",
          "--producer-props",
          `bootstrap.servers=127.0.0.1:${target.port}`,
          `acks=${workload.acks}`,
        ],
        settings.javaTimeoutMs,
      );
      meter.stop();
      const parsed = parseProducerPerformance(run.stdout);
      if (!parsed) {
        throw new Error(`ProducerPerformance gave no figures (exit ${run.code}):\n${tail(run)}`);
      }
      state.produced.set(`${workload.name}/${target.name}`, parsed.records);
      return {
        records: parsed.records,
        seconds: parsed.records / parsed.records_per_s,
        brokerCpuSeconds: meter.seconds,
        clientCpuSeconds: run.clientCpuSeconds,
        extra: {
          complete: parsed.complete,
          tool_records_per_s: parsed.records_per_s,
          tool_mib_per_s: parsed.tool_mib_per_s,
          tool_latency_ms: parsed.latency_ms,
          tool_wall_s: round(run.seconds, 2),
          broker_cpu_window: "whole tool run (JVM start included)",
          command: run.command,
        },
      };
    }
    case "java-consumer": {
      const available = state.produced.get(`${workload.readsFrom}/${target.name}`) ?? 0;
      if (available === 0) throw new Error(`nothing was produced by ${workload.readsFrom}`);
      const meter = windowMeter(target);
      meter.start();
      const run = await runJavaTool(
        state.distribution!,
        state.log4jConfig!,
        "org.apache.kafka.tools.ConsumerPerformance",
        [
          "--bootstrap-server",
          `127.0.0.1:${target.port}`,
          "--topic",
          topic,
          "--num-records",
          String(available),
          "--timeout",
          "10000",
        ],
        settings.javaTimeoutMs,
      );
      meter.stop();
      const parsed = parseConsumerPerformance(run.stdout);
      if (!parsed) {
        throw new Error(`ConsumerPerformance gave no figures (exit ${run.code}):\n${tail(run)}`);
      }
      return {
        records: parsed.records,
        seconds: parsed.fetch_seconds,
        brokerCpuSeconds: meter.seconds,
        clientCpuSeconds: run.clientCpuSeconds,
        extra: {
          records_expected: available,
          tool_fetch_records_per_s: parsed.fetch_records_per_s,
          tool_records_per_s_with_join: parsed.records_per_s,
          tool_rebalance_ms: parsed.rebalance_ms,
          tool_fetch_mib_per_s: parsed.tool_mib_per_s,
          tool_wall_s: round(run.seconds, 2),
          broker_cpu_window: "whole tool run (JVM start and group join included)",
          command: run.command,
        },
      };
    }
    case "lg-produce": {
      const measured = await runWithClient(
        target,
        {
          tool: "produce-load",
          port: target.port,
          topic,
          partitions: workload.partitions,
          connections: settings.loadConnections,
          depth: settings.loadDepth,
          acks: workload.acks,
          recordBytes: size,
          batchRecords: settings.loadBatchRecords[size]!,
          recordsMax: settings.recordsMax,
          ...bounded,
        },
        settings,
      );
      const { result } = measured;
      state.produced.set(
        `${workload.name}/${target.name}`,
        Number(result.records) + Number(result.warmup_records),
      );
      return {
        ...measured,
        extra: {
          connections: settings.loadConnections,
          depth: settings.loadDepth,
          batch_records: settings.loadBatchRecords[size],
          batch_bytes: result.batch_bytes,
          requests: result.requests,
          request_latency: result.request_latency,
        },
      };
    }
    case "lg-consume": {
      const measured = await runWithClient(
        target,
        {
          tool: "consume-load",
          port: target.port,
          topic,
          partitions: workload.partitions,
          partitionMaxBytes: 4 * 1024 * 1024,
          seconds: settings.seconds * 3,
          recordsMax: settings.recordsMax,
        },
        settings,
      );
      const { result } = measured;
      return {
        ...measured,
        extra: {
          records_available: result.records_available,
          fetches: result.fetches,
          wire_mb_per_s: round(Number(result.wire_bytes) / 1e6 / measured.seconds, 2),
          partition_max_bytes: 4 * 1024 * 1024,
        },
      };
    }
    case "kafkajs-producer":
    case "platformatic-producer": {
      const measured = await runWithClient(
        target,
        {
          tool: workload.kind,
          port: target.port,
          topic,
          partitions: workload.partitions,
          lanes: settings.nodeLanes,
          acks: workload.acks,
          recordBytes: size,
          batchRecords: settings.nodeBatchRecords,
          recordsMax: settings.recordsMax,
          ...bounded,
        },
        settings,
      );
      return {
        ...measured,
        extra: {
          lanes: settings.nodeLanes,
          batch_records: settings.nodeBatchRecords,
          send_latency: measured.result.send_latency,
        },
      };
    }
    case "latency": {
      const measured = await runWithClient(
        target,
        {
          tool: "latency",
          port: target.port,
          topic,
          acks: workload.acks,
          recordBytes: size,
          rate: settings.rate,
          batchRecordsMax: 1000,
          ...bounded,
        },
        settings,
      );
      const { result } = measured;
      return {
        ...measured,
        records: Number(result.records_acknowledged),
        seconds: settings.warmupSeconds + settings.seconds,
        extra: {
          rate: settings.rate,
          records_scheduled: result.records_scheduled,
          records_consumed: result.records_consumed,
          produce_latency: result.produce_latency,
          end_to_end_latency: result.end_to_end_latency,
          broker_cpu_window: "sending time, warm-up included",
        },
      };
    }
  }
}

function tail(run: { stdout: string; stderr: string }): string {
  return `${run.stdout}\n${run.stderr}`.trim().split("\n").slice(-20).join("\n");
}

// ---------------------------------------------------------------------------------------------
// Brokers

interface WharfHandle {
  broker: BrokerProcess | undefined;
  dataDir: string;
  ports: BrokerPorts;
  profileDir: string | undefined;
  admin: BenchAdmin | undefined;
}

const profilerPreload = fileURLToPath(new URL("./kafka/cpu-profiler-preload.mjs", import.meta.url));

const wharfArgs = [
  "--durability",
  "fsync",
  "--auto-create-topics",
  "false",
  "--group-initial-rebalance-delay-ms",
  "0",
];

async function startWharf(handle: WharfHandle, profileName?: string): Promise<void> {
  const env: Record<string, string> = { WHARF_LOG_LEVEL: "warn" };
  if (handle.profileDir && profileName) {
    const dir = join(handle.profileDir, profileName);
    mkdirSync(dir, { recursive: true });
    // Node refuses --cpu-prof in NODE_OPTIONS and BrokerProcess takes no node flags: the
    // preload starts the same sampling profiler through node:inspector.
    env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --import=${profilerPreload}`.trim();
    env.WHARF_BENCH_CPU_PROFILE = join(dir, "wharfmq");
  }
  handle.broker = await BrokerProcess.start({
    dataDir: handle.dataDir,
    ports: handle.ports,
    args: wharfArgs,
    env,
    readyTimeoutMs: 60_000,
  });
  const broker = handle.broker;
  handle.admin = await BenchAdmin.waitReady(
    handle.ports.kafka,
    60_000,
    () => broker.child.exitCode === null,
  );
}

async function stopWharf(handle: WharfHandle): Promise<void> {
  await handle.admin?.close();
  handle.admin = undefined;
  if (handle.broker) {
    await handle.broker.stop(60_000);
    handle.broker = undefined;
  }
}

function wharfTarget(handle: WharfHandle): Target {
  return {
    name: "wharfmq",
    durability: "fsync before ack (WharfMQ default, --durability fsync)",
    get port() {
      return handle.ports.kafka;
    },
    get pid() {
      return handle.broker!.pid;
    },
    get admin() {
      return handle.admin!;
    },
    topicConfigs: {},
    alive: () => handle.broker !== undefined && handle.broker.child.exitCode === null,
    profiled: handle.profileDir !== undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Output helpers

interface CaseLine {
  workload: Workload;
  target: TargetName;
  repeat: number;
  records_per_s: number;
  cpu_per_million: number | undefined;
  rss_bytes: number | undefined;
  produce_p99_us: number | undefined;
  end_to_end_p99_us: number | undefined;
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0)
    return undefined;
  return round(a / b, 3);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function environment(state: RunState, dir: string, kafkaVersion: string | undefined) {
  const run = (command: string, args: string[]) => {
    try {
      return execFileSync(command, args, {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    } catch {
      return undefined;
    }
  };
  const packageVersion = (name: string) => {
    try {
      return (
        JSON.parse(readFileSync(join(repoRoot, "node_modules", name, "package.json"), "utf8")) as {
          version: string;
        }
      ).version;
    } catch {
      return undefined;
    }
  };
  return {
    dir,
    fs_type: run("stat", ["-f", "-c", "%T", dir]),
    nproc: cpus().length,
    cpu_model: cpus()[0]?.model,
    memory_bytes: totalmem(),
    kernel: release(),
    node: process.version,
    java: state.distribution?.javaVersion,
    kafka_version: kafkaVersion,
    kafka_jvm_flags: state.distribution ? kafkaServerJvmFlags.join(" ") : undefined,
    kafkajs: packageVersion("kafkajs"),
    platformatic_kafka: packageVersion("@platformatic/kafka"),
    wharf_args: wharfArgs.join(" "),
    loadavg_at_start: loadavg().map((value) => round(value, 2)),
    git_head: run("git", ["-C", repoRoot, "rev-parse", "--short", "HEAD"]),
    git_dirty: (run("git", ["-C", repoRoot, "status", "--porcelain"]) ?? "") !== "",
  };
}

// ---------------------------------------------------------------------------------------------
// The run

export async function run(context: BenchContext): Promise<void> {
  const settings = settingsOf(context);
  const kafkaVersion = stringFlag(context, "kafka-version") ?? kafkaVersionDefault;
  const modes = (stringFlag(context, "kafka-modes") ?? "default,flush").split(",");
  // --no-kafka: no Kafka broker; Kafka's Java tools still run against WharfMQ when the jars
  // can be had (java present, jars cached or mvn present).
  const useKafka = context.flags.get("no-kafka") !== true;
  const profile = context.flags.get("profile") === true;
  const keep = context.flags.get("keep") === true;
  const parent = resolve(stringFlag(context, "dir") ?? tmpdir());
  const root = mkdtempSync(join(parent, "wharf-bench-kafka-"));
  const groups = selectGroups(workloadGroups(settings), stringFlag(context, "only"));
  if (groups.length === 0) throw new Error("--only selects no workload");
  const state: RunState = {
    context,
    settings,
    distribution: undefined,
    log4jConfig: undefined,
    produced: new Map(),
  };

  let kafka: ApacheKafka | undefined;
  let kafkaAdmin: BenchAdmin | undefined;
  const wharf: WharfHandle = {
    broker: undefined,
    dataDir: join(root, "wharfmq"),
    ports: {
      kafka: await freePort(),
      http: await freePort(),
      amqp: 0,
      resp: 0,
      mqtt: 0,
      stomp: 0,
    },
    profileDir: profile ? join(root, "profiles") : undefined,
    admin: undefined,
  };
  mkdirSync(wharf.dataDir, { recursive: true });
  const onSignal = () => {
    // The 'exit' hooks kill the brokers; a second signal is not waited for.
    context.progress("interrupted: stopping the brokers");
    if (wharf.broker) wharf.broker.child.kill("SIGKILL");
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const killWharfOnExit = () => wharf.broker?.child.kill("SIGKILL");
  process.on("exit", killWharfOnExit);

  try {
    const targets: Target[] = [];
    {
      const availability = await ensureKafka(
        kafkaVersion,
        stringFlag(context, "kafka-cache") ?? defaultCacheRoot(),
        context.progress,
      );
      if (availability.available) {
        state.distribution = availability.distribution;
        state.log4jConfig = writeLog4jConfig(root);
        if (availability.fetched) {
          context.progress(
            `fetched Kafka ${kafkaVersion} in ${round(availability.fetchSeconds, 1)} s`,
          );
        }
      } else {
        context.progress(`Apache Kafka is not available: ${availability.reason}`);
        if (useKafka) context.progress("measuring WharfMQ alone");
        context.emit({
          case: "kafka-unavailable",
          params: { kafka_version: kafkaVersion },
          reason: availability.reason,
        });
      }
    }
    context.emit({
      case: "environment",
      params: {
        quick: settings.quick,
        seconds: settings.seconds,
        warmup_seconds: settings.warmupSeconds,
        repeat: settings.repeat,
        partitions: settings.partitions,
        rate: settings.rate,
        java_records: settings.javaRecords,
        kafka_modes: state.distribution && useKafka ? modes : [],
        profile,
        groups: groups.map((group) => group.name),
      },
      ...environment(state, root, state.distribution ? kafkaVersion : undefined),
    });

    if (!profile) {
      context.progress("starting WharfMQ");
      await startWharf(wharf);
    }
    targets.push(wharfTarget(wharf));
    if (state.distribution && useKafka) {
      context.progress(`starting Apache Kafka ${kafkaVersion}`);
      const started = Date.now();
      kafka = await ApacheKafka.start({
        distribution: state.distribution,
        dir: join(root, "kafka"),
        port: await freePort(),
        controllerPort: await freePort(),
      });
      const running = kafka;
      try {
        kafkaAdmin = await BenchAdmin.waitReady(running.port, 120_000, () => running.running);
      } catch (error) {
        const log = readFileSync(running.logFile, "utf8").split("\n").slice(-30).join("\n");
        throw new Error(`${String(error)}\nkafka.log:\n${log}`);
      }
      context.progress(
        `Kafka ready in ${round((Date.now() - started) / 1000, 1)} s (pid ${running.pid})`,
      );
      const admin = kafkaAdmin;
      if (modes.includes("default")) {
        targets.push({
          name: "kafka-default",
          durability: "page cache, no fsync (Kafka default)",
          port: running.port,
          pid: running.pid,
          admin,
          topicConfigs: {},
          alive: () => running.running,
          profiled: false,
        });
      }
      if (modes.includes("flush")) {
        targets.push({
          name: "kafka-flush",
          durability: "fsync after every batch (topic config flush.messages=1)",
          port: running.port,
          pid: running.pid,
          admin,
          topicConfigs: { "flush.messages": "1" },
          alive: () => running.running,
          profiled: false,
        });
      }
    }
    await measureIdle(context, targets, wharf, profile);
    await warmUp(state, targets, profile);

    const lines: CaseLine[] = [];
    for (let repeat = 1; repeat <= settings.repeat; repeat++) {
      for (const group of groups) {
        await runGroup(state, group, targets, wharf, repeat, lines);
      }
    }
    emitSummary(context, lines, targets);
  } finally {
    context.progress("stopping the brokers");
    await kafkaAdmin?.close();
    await stopWharf(wharf).catch(() => undefined);
    if (kafka) await kafka.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("exit", killWharfOnExit);
    if (keep) context.progress(`kept ${root}`);
    else rmSync(root, { recursive: true, force: true });
  }
}

/** CPU the brokers use while idle (Kafka's background threads), for reading the noise. */
async function measureIdle(
  context: BenchContext,
  targets: Target[],
  wharf: WharfHandle,
  profile: boolean,
): Promise<void> {
  const seconds = context.quick ? 1 : 3;
  const pids = new Map<string, number>();
  if (!profile) pids.set("wharfmq", wharf.broker!.pid);
  const kafkaTarget = targets.find((target) => target.name !== "wharfmq");
  if (kafkaTarget) pids.set("kafka", kafkaTarget.pid);
  const before = new Map([...pids].map(([name, pid]) => [name, cpuSeconds(pid) ?? 0]));
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  for (const [name, pid] of pids) {
    const used = (cpuSeconds(pid) ?? 0) - before.get(name)!;
    context.emit({
      case: "idle",
      params: { broker: name, seconds },
      broker_cpu_percent: round((used / seconds) * 100, 1),
      ...memoryFields(pid),
    });
  }
}

/**
 * A first load on each broker process before anything is measured: the JVM's JIT (and V8's)
 * compiles the hot paths here, not in the first measured case. Reported as `warmup` lines,
 * never compared. Profiling restarts WharfMQ for every case, so there only Kafka is warmed up.
 */
async function warmUp(state: RunState, targets: Target[], profile: boolean): Promise<void> {
  const { context, settings } = state;
  const seconds = settings.quick ? 1 : 8;
  const seen = new Set<number>();
  for (const target of targets) {
    if (target.name === "wharfmq" && profile) continue;
    if (seen.has(target.pid)) continue;
    seen.add(target.pid);
    const topic = `bench-warmup-${target.name}`;
    context.progress(`warming up ${target.name} (${seconds} s of produce, then a consume)`);
    try {
      await target.admin.createTopic(topic, settings.partitions, target.topicConfigs);
      for (const job of [
        {
          tool: "produce-load" as const,
          port: target.port,
          topic,
          partitions: settings.partitions,
          connections: settings.loadConnections,
          depth: settings.loadDepth,
          acks: 1,
          recordBytes: 100,
          batchRecords: settings.loadBatchRecords[100]!,
          recordsMax: settings.recordsMax,
          warmupSeconds: 0.5,
          seconds,
        },
        {
          tool: "consume-load" as const,
          port: target.port,
          topic,
          partitions: settings.partitions,
          partitionMaxBytes: 4 * 1024 * 1024,
          seconds,
          recordsMax: settings.recordsMax,
        },
      ]) {
        // A smoke run only needs the broker to be up: no consume warm-up.
        if (settings.quick && job.tool === "consume-load") continue;
        const measured = await runWithClient(target, job, settings);
        context.emit({
          case: "warmup",
          params: { target: target.name, tool: job.tool, note: "not compared" },
          records_per_s: round(measured.records / measured.seconds, 0),
        });
      }
    } catch (error) {
      context.progress(`warm-up of ${target.name} failed: ${String(error)}`);
    } finally {
      await target.admin.deleteTopic(topic).catch(() => undefined);
    }
  }
}

function memoryFields(pid: number) {
  const reading = memory(pid);
  return { broker_rss_bytes: reading?.rss_bytes, broker_hwm_bytes: reading?.hwm_bytes };
}

async function runGroup(
  state: RunState,
  group: WorkloadGroup,
  targets: Target[],
  wharf: WharfHandle,
  repeat: number,
  lines: CaseLine[],
): Promise<void> {
  const { context } = state;
  const javaMissing = state.distribution === undefined;
  const topics: { target: Target; name: string }[] = [];
  try {
    for (const workload of group.workloads) {
      if (workload.kind.startsWith("java-") && javaMissing) {
        context.progress(`skipping ${workload.name}: Kafka's tools need Java and the Kafka jars`);
        continue;
      }
      // Rotate the order with the repeat: no target always runs first (after an idle gap) or last.
      const shift = (repeat - 1) % targets.length;
      const ordered = [...targets.slice(shift), ...targets.slice(0, shift)];
      const results: CaseLine[] = [];
      for (const target of ordered) {
        if (workload.skipFlush && target.name === "kafka-flush") continue;
        const line = await runCase(state, target, workload, wharf, repeat, topics);
        if (line) {
          results.push(line);
          lines.push(line);
        }
      }
      emitRatio(context, workload, repeat, results);
    }
  } finally {
    for (const { target, name } of topics) {
      // Profiling stops WharfMQ after each case: its data directory is emptied instead.
      if (target.name === "wharfmq" && wharf.profileDir !== undefined) continue;
      await target.admin.deleteTopic(name).catch((error: unknown) => {
        context.progress(`could not delete ${name} on ${target.name}: ${String(error)}`);
      });
    }
    if (wharf.profileDir !== undefined && wharf.broker === undefined) {
      rmSync(wharf.dataDir, { recursive: true, force: true });
      mkdirSync(wharf.dataDir, { recursive: true });
    }
  }
}

async function runCase(
  state: RunState,
  target: Target,
  workload: Workload,
  wharf: WharfHandle,
  repeat: number,
  topics: { target: Target; name: string }[],
): Promise<CaseLine | undefined> {
  const { context } = state;
  const topic = topicName(workload.readsFrom ?? workload.name, target.name, repeat);
  const params = {
    name: workload.name,
    target: target.name,
    durability: target.durability,
    record_bytes: workload.recordBytes,
    acks:
      workload.kind.endsWith("consume") || workload.kind.endsWith("consumer")
        ? undefined
        : workload.acks,
    partitions: workload.partitions,
    repeat,
  };
  const profiling = wharf.profileDir !== undefined && target.name === "wharfmq";
  const caseName = workload.kind;
  context.progress(
    `${workload.name} on ${target.name} (repeat ${repeat}), load ${loadavg()[0]!.toFixed(2)}`,
  );
  try {
    if (profiling) await startWharf(wharf, `${workload.name}-${repeat}`);
    if (!target.alive()) throw new Error(`${target.name} is not running`);
    if (workload.readsFrom === undefined) {
      await target.admin.createTopic(topic, workload.partitions, target.topicConfigs);
      topics.push({ target, name: topic });
    }
    // Write back every dirty page first (Kafka's default mode leaves gigabytes of them), so
    // the kernel's background writeback of one case does not land in the next one's fsyncs.
    const syncSeconds = syncFileSystems();
    const loadBefore = loadavg()[0]!;
    const measured = await measureWorkload(state, target, workload, topic);
    const memoryNow = memory(target.pid);
    const recordsPerSecond = measured.records / measured.seconds;
    const cpu = measured.brokerCpuSeconds;
    const cpuPerMillion =
      cpu === undefined || measured.records === 0 ? undefined : cpu / (measured.records / 1e6);
    const extra = measured.extra as {
      produce_latency?: { p99_us: number };
      end_to_end_latency?: { p99_us: number };
    };
    context.emit({
      case: caseName,
      params,
      records_per_s: round(recordsPerSecond, 0),
      mb_per_s: round((recordsPerSecond * workload.recordBytes) / 1e6, 2),
      records: measured.records,
      duration_s: round(measured.seconds, 3),
      broker_cpu_s: cpu === undefined ? undefined : round(cpu, 2),
      broker_cpu_s_per_million_records:
        cpuPerMillion === undefined ? undefined : round(cpuPerMillion, 3),
      broker_rss_bytes: memoryNow?.rss_bytes,
      broker_hwm_bytes: memoryNow?.hwm_bytes,
      client_cpu_s:
        measured.clientCpuSeconds === undefined ? undefined : round(measured.clientCpuSeconds, 2),
      sync_before_s: syncSeconds,
      loadavg_1m_before: round(loadBefore, 2),
      loadavg_1m_after: round(loadavg()[0]!, 2),
      ...measured.extra,
    });
    return {
      workload,
      target: target.name,
      repeat,
      records_per_s: recordsPerSecond,
      cpu_per_million: cpuPerMillion,
      rss_bytes: memoryNow?.rss_bytes,
      produce_p99_us: extra.produce_latency?.p99_us,
      end_to_end_p99_us: extra.end_to_end_latency?.p99_us,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    context.progress(`${workload.name} on ${target.name} failed: ${message}`);
    context.emit({ case: caseName, params, error: message.slice(0, 4000) });
    return undefined;
  } finally {
    if (profiling) {
      await stopWharf(wharf).catch(() => undefined);
      emitProfile(context, wharf.profileDir!, `${workload.name}-${repeat}`, params);
    }
  }
}

/** Runs sync(1) and returns how long it took (seconds). */
function syncFileSystems(): number {
  const started = process.hrtime.bigint();
  try {
    execFileSync("sync", [], { stdio: "ignore", timeout: 120_000 });
  } catch {
    // best effort: a slow or missing sync only leaves more writeback noise
  }
  return round(Number(process.hrtime.bigint() - started) / 1e9, 2);
}

function emitProfile(
  context: BenchContext,
  profileDir: string,
  name: string,
  params: Record<string, unknown>,
): void {
  const dir = join(profileDir, name);
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((file) => file.endsWith(".cpuprofile"));
  } catch {
    // no profile written
  }
  if (files.length === 0) {
    context.progress(`no .cpuprofile in ${dir}`);
    return;
  }
  for (const file of files) {
    const summary = summarizeProfile(join(dir, file), repoRoot, 25);
    let gcByKind: unknown;
    try {
      gcByKind = JSON.parse(
        readFileSync(join(dir, file.replace(/\.cpuprofile$/, ".gc.json")), "utf8"),
      );
    } catch {
      gcByKind = undefined;
    }
    context.emit({ case: "profile", params, ...summary, gc_by_kind: gcByKind });
  }
}

function emitRatio(context: BenchContext, workload: Workload, repeat: number, results: CaseLine[]) {
  const by = new Map(results.map((line) => [line.target, line]));
  const wharf = by.get("wharfmq");
  if (!wharf || results.length < 2) return;
  const metrics = {
    records_per_s: (line: CaseLine) => line.records_per_s,
    broker_cpu_s_per_million_records: (line: CaseLine) => line.cpu_per_million,
    broker_rss_bytes: (line: CaseLine) => line.rss_bytes,
    produce_p99_us: (line: CaseLine) => line.produce_p99_us,
    end_to_end_p99_us: (line: CaseLine) => line.end_to_end_p99_us,
  };
  const fields: Record<string, unknown> = {};
  for (const [metric, read] of Object.entries(metrics)) {
    const value = read(wharf);
    if (value === undefined) continue;
    const entry: Record<string, number | undefined> = { wharfmq: round(value, 3) };
    for (const other of ["kafka-default", "kafka-flush"] as const) {
      const line = by.get(other);
      if (!line) continue;
      const otherValue = read(line);
      entry[other.replace("-", "_")] = otherValue === undefined ? undefined : round(otherValue, 3);
      entry[`wharfmq_vs_${other.replace("-", "_")}`] = ratio(value, otherValue);
    }
    fields[metric] = entry;
  }
  context.emit({ case: "ratio", params: { name: workload.name, repeat }, ...fields });
}

function emitSummary(context: BenchContext, lines: CaseLine[], targets: Target[]): void {
  const names = [...new Set(lines.map((line) => line.workload.name))];
  const medians = new Map<string, Map<TargetName, { rps: number; p99?: number }>>();
  for (const name of names) {
    const perTarget = new Map<TargetName, { rps: number; p99?: number }>();
    for (const target of targets) {
      const own = lines.filter(
        (line) => line.workload.name === name && line.target === target.name,
      );
      if (own.length === 0) continue;
      const rates = own.map((line) => line.records_per_s);
      const p99s = own.map((line) => line.produce_p99_us).filter((value) => value !== undefined);
      const middle = median(rates);
      context.emit({
        case: "summary",
        params: { name, target: target.name, repeats: own.length },
        records_per_s_median: round(middle, 0),
        records_per_s_min: round(Math.min(...rates), 0),
        records_per_s_max: round(Math.max(...rates), 0),
        spread_percent: round(((Math.max(...rates) - Math.min(...rates)) / middle) * 100, 1),
        produce_p99_us_median: p99s.length > 0 ? median(p99s) : undefined,
        produce_p99_us_all: p99s.length > 0 ? p99s : undefined,
        broker_cpu_s_per_million_records_median: median(
          own.map((line) => line.cpu_per_million ?? Number.NaN).filter(Number.isFinite),
        ),
      });
      perTarget.set(target.name, { rps: middle, p99: p99s.length > 0 ? median(p99s) : undefined });
    }
    medians.set(name, perTarget);
  }
  emitTargets(context, lines, medians);
}

function emitTargets(
  context: BenchContext,
  lines: CaseLine[],
  medians: Map<string, Map<TargetName, { rps: number; p99?: number }>>,
): void {
  const kindOf = new Map(lines.map((line) => [line.workload.name, line.workload.kind]));
  const produceKinds = new Set([
    "java-producer",
    "lg-produce",
    "kafkajs-producer",
    "platformatic-producer",
  ]);
  for (const reference of ["kafka-default", "kafka-flush"] as const) {
    const ratios: Record<string, number | undefined> = {};
    for (const [name, perTarget] of medians) {
      if (!produceKinds.has(kindOf.get(name) ?? "")) continue;
      const wharf = perTarget.get("wharfmq");
      const other = perTarget.get(reference);
      if (wharf && other) ratios[name] = ratio(wharf.rps, other.rps);
    }
    const values = Object.values(ratios).filter((value) => value !== undefined);
    if (values.length > 0) {
      context.emit({
        case: "target",
        params: { check: "produce_throughput_vs_kafka", reference, threshold: 1.0 },
        met: values.every((value) => value >= 1.0),
        worst_ratio: Math.min(...values),
        ratios,
      });
    }
    const latencyRatios: Record<string, number | undefined> = {};
    for (const [name, perTarget] of medians) {
      if (kindOf.get(name) !== "latency") continue;
      const wharf = perTarget.get("wharfmq")?.p99;
      const other = perTarget.get(reference)?.p99;
      if (wharf !== undefined && other !== undefined) latencyRatios[name] = ratio(wharf, other);
    }
    const latencyValues = Object.values(latencyRatios).filter((value) => value !== undefined);
    if (latencyValues.length > 0) {
      context.emit({
        case: "target",
        params: { check: "produce_p99_latency_vs_kafka", reference, threshold: 1.0 },
        met: latencyValues.every((value) => value <= 1.0),
        worst_ratio: Math.max(...latencyValues),
        wharfmq_p99_over_kafka_p99: latencyRatios,
      });
    }
  }
  const loadGenerator = medians.get("lg-produce-r100-acks1")?.get("wharfmq");
  if (loadGenerator) {
    context.emit({
      case: "target",
      params: { check: "load_generator_r100_acks1_records_per_s", threshold: 1_000_000 },
      met: loadGenerator.rps >= 1_000_000,
      records_per_s: round(loadGenerator.rps, 0),
    });
  }
  const consumers: Record<string, number> = {};
  for (const [name, perTarget] of medians) {
    const kind = kindOf.get(name);
    const wharf = perTarget.get("wharfmq");
    if ((kind === "lg-consume" || kind === "java-consumer") && wharf)
      consumers[name] = round(wharf.rps, 0);
  }
  if (Object.keys(consumers).length > 0) {
    context.emit({
      case: "target",
      params: { check: "consume_records_per_s", threshold: 2_000_000 },
      met: Object.values(consumers).some((value) => value >= 2_000_000),
      best_records_per_s: Math.max(...Object.values(consumers)),
      records_per_s: consumers,
    });
  }
}
