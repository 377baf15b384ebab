/**
 * Real Apache Kafka for the side-by-side benchmark: fetched from Maven Central, run on this
 * machine's Java, on loopback ports, stopped by PID.
 *
 * - `ensureKafka` checks for `java` (17 or newer) and `mvn`, then copies
 *   `org.apache.kafka:kafka_2.13` and `org.apache.kafka:kafka-tools` with their runtime
 *   dependencies (bench/kafka/pom.xml) into a cache directory outside the repository,
 *   `~/.cache/wharf-bench/kafka-<version>/libs` by default. A `.complete` marker makes later
 *   runs skip Maven.
 * - `ApacheKafka.start` writes a single-node KRaft `server.properties` (broker and controller
 *   in one process, static voter `1@127.0.0.1:<controller port>`), formats the log directory
 *   with `kafka.tools.StorageTool format`, and starts `kafka.Kafka` with the heap and GC flags of
 *   Kafka's own `kafka-server-start.sh` (-Xmx1G -Xms1G, G1). Its log (WARN and up) goes to
 *   `kafka.log` in the run directory.
 * - `stop()` sends SIGTERM to the PID and SIGKILL after a grace period. Every started broker is
 *   also killed from a process 'exit' hook, so a failed run leaves no JVM behind.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const kafkaPom = join(here, "pom.xml");
/** Newest 4.x that Maven Central served here whole for both kafka_2.13 and kafka-tools. */
export const kafkaVersionDefault = "4.3.1";

export interface KafkaDistribution {
  version: string;
  /** Directory of jars: the classpath is `<libs>/*`. */
  libs: string;
  java: string;
  javaVersion: string;
}

export type KafkaAvailability =
  | { available: true; distribution: KafkaDistribution; fetched: boolean; fetchSeconds: number }
  | { available: false; reason: string };

function run(
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, stdout, stderr, ...(error ? { error } : {}) });
      },
    );
  });
}

export function defaultCacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "wharf-bench");
}

/** Checks Java and Maven and fetches the Kafka jars if needed. Never throws. */
export async function ensureKafka(
  version: string,
  cacheRoot: string,
  progress: (message: string) => void,
): Promise<KafkaAvailability> {
  const javaCheck = await run("java", ["-version"], 30_000);
  if (javaCheck.code !== 0) {
    return { available: false, reason: "java not found on PATH (Java 17+ is needed)" };
  }
  const javaVersion = /version "([^"]+)"/.exec(javaCheck.stderr)?.[1] ?? "unknown";
  const major = Number(/^(\d+)/.exec(javaVersion)?.[1] ?? "0");
  if (major < 17) {
    return { available: false, reason: `java ${javaVersion} found; Kafka 4 needs Java 17+` };
  }
  const libs = join(cacheRoot, `kafka-${version}`, "libs");
  const marker = join(libs, ".complete");
  if (existsSync(marker)) {
    return {
      available: true,
      distribution: { version, libs, java: "java", javaVersion },
      fetched: false,
      fetchSeconds: 0,
    };
  }
  const mavenCheck = await run("mvn", ["-v"], 60_000);
  if (mavenCheck.code !== 0) {
    return {
      available: false,
      reason: `mvn not found on PATH, and the Kafka ${version} jars are not cached in ${libs}`,
    };
  }
  progress(`fetching Apache Kafka ${version} and its dependencies into ${libs} (Maven)`);
  mkdirSync(libs, { recursive: true });
  const started = Date.now();
  const fetch = await run(
    "mvn",
    [
      "-q",
      "-B",
      "-f",
      kafkaPom,
      `-Dkafka.version=${version}`,
      "dependency:copy-dependencies",
      "-DincludeScope=runtime",
      `-DoutputDirectory=${libs}`,
    ],
    15 * 60_000,
  );
  if (fetch.code !== 0) {
    const output = `${fetch.stdout}\n${fetch.stderr}`.trim().split("\n").slice(-15).join("\n");
    return { available: false, reason: `mvn could not fetch Kafka ${version}:\n${output}` };
  }
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return {
    available: true,
    distribution: { version, libs, java: "java", javaVersion },
    fetched: true,
    fetchSeconds: (Date.now() - started) / 1000,
  };
}

export function classpath(distribution: KafkaDistribution): string {
  return join(distribution.libs, "*");
}

/** The log4j2 configuration used by the broker and by Kafka's tools: WARN and up. */
export function writeLog4jConfig(dir: string): string {
  const file = join(dir, "log4j2.xml");
  writeFileSync(
    file,
    [
      '<Configuration status="WARN">',
      '  <Appenders><Console name="STDOUT"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console></Appenders>',
      '  <Loggers><Root level="WARN"><AppenderRef ref="STDOUT"/></Root></Loggers>',
      "</Configuration>",
      "",
    ].join("\n"),
  );
  return file;
}

/** JVM flags of Kafka's kafka-server-start.sh and kafka-run-class.sh. */
export const kafkaServerJvmFlags = [
  "-Xmx1G",
  "-Xms1G",
  "-server",
  "-XX:+UseG1GC",
  "-XX:MaxGCPauseMillis=20",
  "-XX:InitiatingHeapOccupancyPercent=35",
  "-XX:+ExplicitGCInvokesConcurrent",
  "-Djava.awt.headless=true",
];

const started = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of started) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
}

export interface ApacheKafkaOptions {
  distribution: KafkaDistribution;
  /** Run directory: config, log and the log.dirs directory go below it. */
  dir: string;
  port: number;
  controllerPort: number;
  readyTimeoutMs?: number;
}

export class ApacheKafka {
  private readonly exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  static async start(options: ApacheKafkaOptions): Promise<ApacheKafka> {
    const { distribution, dir, port, controllerPort } = options;
    mkdirSync(dir, { recursive: true });
    const logDir = join(dir, "data");
    const properties = join(dir, "server.properties");
    writeFileSync(
      properties,
      [
        "process.roles=broker,controller",
        "node.id=1",
        `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
        `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        `log.dirs=${logDir}`,
        "num.partitions=1",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        // Deleted topics' files go at once, so a long run does not fill the disk.
        "log.segment.delete.delay.ms=0",
        "auto.create.topics.enable=false",
        "",
      ].join("\n"),
    );
    const log4j = writeLog4jConfig(dir);
    const cp = classpath(distribution);
    const common = [`-Dlog4j2.configurationFile=${log4j}`, "-cp", cp];
    const format = await run(
      distribution.java,
      [
        "-Xmx256M",
        ...common,
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        randomBytes(16).toString("base64url"),
        "--config",
        properties,
      ],
      120_000,
    );
    if (format.code !== 0) {
      throw new Error(`kafka-storage format failed:\n${format.stdout}\n${format.stderr}`);
    }
    const logFile = join(dir, "kafka.log");
    const out = openSync(logFile, "a");
    installExitHook();
    const child = spawn(
      distribution.java,
      [...kafkaServerJvmFlags, ...common, "kafka.Kafka", properties],
      { cwd: dir, stdio: ["ignore", out, out] },
    );
    started.add(child);
    child.once("exit", () => started.delete(child));
    const kafka = new ApacheKafka(child, port, dir, logFile);
    return kafka;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves when the JVM is gone. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.running) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
  }

  /** Removes the run directory (data and logs). */
  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
