/**
 * Kafka's own performance tools, run from the fetched jars the way `kafka-producer-perf-test.sh`
 * and `kafka-consumer-perf-test.sh` run them (`-Xmx512M`, G1):
 *
 * - `org.apache.kafka.tools.ProducerPerformance --topic T --num-records N --record-size S
 *   --throughput -1 --producer-props bootstrap.servers=127.0.0.1:P acks=A`: the Java producer
 *   with its defaults (batch.size 16384, linger.ms 5, max.in.flight 5, no compression;
 *   idempotence on with acks=-1 and off with acks=1). Its final line gives records/s and the
 *   send-to-ack latency percentiles (ms).
 * - `org.apache.kafka.tools.ConsumerPerformance --bootstrap-server 127.0.0.1:P --topic T
 *   --num-records N`: one consumer in a fresh group; its CSV line gives records/s over the whole
 *   run and over the fetch time only (without the group join).
 *
 * A run is bounded by its record count and by a time limit after which it is killed; then the
 * producer figures come from its periodic 5-second lines and the result says `complete: false`.
 */
import { spawn } from "node:child_process";
import { classpath, type KafkaDistribution } from "./kafka-broker.ts";
import { cpuSeconds } from "./process-stats.ts";

export interface JavaToolRun {
  code: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  seconds: number;
  /** CPU seconds of the tool's JVM (last /proc reading before it exited, 100 ms polling). */
  clientCpuSeconds: number | undefined;
  command: string;
}

export function runJavaTool(
  distribution: KafkaDistribution,
  log4jConfig: string,
  mainClass: string,
  args: string[],
  timeoutMs: number,
): Promise<JavaToolRun> {
  const jvm = [
    "-Xmx512M",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${log4jConfig}`,
    "-cp",
    classpath(distribution),
  ];
  const command = [distribution.java, ...jvm, mainClass, ...args];
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(command[0]!, command.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let cpu: number | undefined;
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const poll = setInterval(() => {
      const reading = cpuSeconds(child.pid!);
      if (reading !== undefined) cpu = reading;
    }, 100);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("exit", (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({
        code,
        timedOut,
        stdout,
        stderr,
        seconds: (Date.now() - started) / 1000,
        clientCpuSeconds: cpu,
        command: [mainClass, ...args].join(" "),
      });
    });
  });
}

export interface ProducerPerformanceResult {
  complete: boolean;
  records: number;
  records_per_s: number;
  /** As printed by the tool: MiB/s (2^20 bytes) of record values. */
  tool_mib_per_s: number;
  latency_ms?: { avg: number; max: number; p50: number; p95: number; p99: number; p999: number };
}

const finalLine =
  /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th/;
const windowLine = /^(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/;

export function parseProducerPerformance(stdout: string): ProducerPerformanceResult | undefined {
  const final = finalLine.exec(stdout);
  if (final) {
    return {
      complete: true,
      records: Number(final[1]),
      records_per_s: Number(final[2]),
      tool_mib_per_s: Number(final[3]),
      latency_ms: {
        avg: Number(final[4]),
        max: Number(final[5]),
        p50: Number(final[6]),
        p95: Number(final[7]),
        p99: Number(final[8]),
        p999: Number(final[9]),
      },
    };
  }
  // Killed at the time limit: sum the periodic windows (each about 5 s).
  let records = 0;
  let seconds = 0;
  for (const line of stdout.split("\n")) {
    const window = windowLine.exec(line);
    if (!window) continue;
    const count = Number(window[1]);
    const rate = Number(window[2]);
    if (rate > 0) {
      records += count;
      seconds += count / rate;
    }
  }
  if (records === 0) return undefined;
  return {
    complete: false,
    records,
    records_per_s: records / seconds,
    tool_mib_per_s: Number.NaN,
  };
}

export interface ConsumerPerformanceResult {
  records: number;
  /** Over the whole run, group join included. */
  records_per_s: number;
  /** Over the fetch time only (without the group join): the figure compared. */
  fetch_records_per_s: number;
  fetch_seconds: number;
  rebalance_ms: number;
  tool_mib_per_s: number;
}

export function parseConsumerPerformance(stdout: string): ConsumerPerformanceResult | undefined {
  const lines = stdout.split("\n");
  const headerIndex = lines.findIndex((line) => line.startsWith("start.time"));
  if (headerIndex < 0) return undefined;
  const header = lines[headerIndex]!.split(",").map((field) => field.trim());
  const values = (lines[headerIndex + 1] ?? "").split(",").map((field) => field.trim());
  const field = (name: string) => Number(values[header.indexOf(name)]);
  const records = field("data.consumed.in.nMsg");
  if (!Number.isFinite(records)) return undefined;
  return {
    records,
    records_per_s: field("nMsg.sec"),
    fetch_records_per_s: field("fetch.nMsg.sec"),
    fetch_seconds: field("fetch.time.ms") / 1000,
    rebalance_ms: field("rebalance.time.ms"),
    tool_mib_per_s: field("fetch.MB.sec"),
  };
}
