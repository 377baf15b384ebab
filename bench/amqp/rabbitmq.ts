/**
 * A private RabbitMQ node for bench/amqp.ts: Debian's rabbitmq-server on spare loopback ports,
 * with its own node name, Erlang cookie (HOME), data and log directories in a temporary
 * directory and no plugins, so it touches nothing of a system RabbitMQ.
 *
 * Fault model: the node is stopped with `rabbitmqctl stop`, then its processes are killed by
 * PID (the start script and beam.smp); if starting it made an epmd daemon, that epmd is
 * killed by PID too (an epmd that was already running is left alone: other nodes use it).
 * An 'exit' hook SIGKILLs all of them if the benchmark dies.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "amqplib";
import { freePort } from "../../test/helpers/free-port.ts";

/** Debian installs the real scripts here; /usr/sbin's wrappers `su` to the rabbitmq user. */
const debianScripts = "/usr/lib/rabbitmq/bin";

export interface RabbitNode {
  port: number;
  url: string;
  /** beam.smp: the process whose CPU and memory are RabbitMQ's. */
  pid: number;
  nodeName: string;
  dataDir: string;
  stop(): Promise<void>;
}

function scriptPath(name: string): string {
  const debian = join(debianScripts, name);
  return existsSync(debian) ? debian : name;
}

/** Why this machine cannot run RabbitMQ, or undefined when it can. */
export function rabbitUnavailable(): string | undefined {
  try {
    execFileSync("erl", ["-noshell", "-eval", "halt()."], { stdio: "ignore", timeout: 20_000 });
  } catch {
    return "erl (Erlang) is not installed: apt-get install rabbitmq-server";
  }
  if (!existsSync(join(debianScripts, "rabbitmq-server"))) {
    try {
      execFileSync("sh", ["-c", "command -v rabbitmq-server"], { stdio: "ignore" });
    } catch {
      return "rabbitmq-server is not installed: apt-get install rabbitmq-server";
    }
  }
  return undefined;
}

function processesNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === name) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return text === "" ? [] : text.split(" ").map(Number);
  } catch {
    return [];
  }
}

function findDescendant(pid: number, name: string): number | undefined {
  for (const child of childrenOf(pid)) {
    try {
      if (readFileSync(`/proc/${child}/comm`, "utf8").trim() === name) return child;
    } catch {
      continue;
    }
    const deeper = findDescendant(child, name);
    if (deeper !== undefined) return deeper;
  }
  return undefined;
}

/** True when the process's environment names our node: an epmd our node's erl started. */
function startedBy(pid: number, nodeName: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .includes(`RABBITMQ_NODENAME=${nodeName}`);
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killPid(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function waitForAmqp(url: string, isAlive: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error("rabbitmq-server exited before it was ready");
    try {
      const connection = await connect(url, { timeout: 2000 });
      const version = String(connection.connection.serverProperties.version ?? "unknown");
      await connection.close();
      return version;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`RabbitMQ did not answer AMQP within ${timeoutMs} ms: ${String(last)}`);
}

/** Starts the node and resolves once it completes an AMQP handshake. */
export async function startRabbit(
  dataDir: string,
): Promise<RabbitNode & { version: string; startedEpmd: number[] }> {
  mkdirSync(join(dataDir, "mnesia"), { recursive: true });
  mkdirSync(join(dataDir, "log"), { recursive: true });
  writeFileSync(join(dataDir, "enabled_plugins"), "[].\n");
  writeFileSync(join(dataDir, "rabbitmq-env.conf"), "");
  const port = await freePort();
  const distPort = await freePort();
  const nodeName = `wharfbench-${process.pid}@localhost`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dataDir, // the Erlang cookie lives here, shared with rabbitmqctl below
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dataDir, "mnesia"),
    RABBITMQ_LOG_BASE: join(dataDir, "log"),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dataDir, "enabled_plugins"),
    RABBITMQ_CONF_ENV_FILE: join(dataDir, "rabbitmq-env.conf"),
    // Absent files: the node runs on defaults, whatever /etc/rabbitmq holds.
    RABBITMQ_CONFIG_FILE: join(dataDir, "rabbitmq"),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dataDir, "advanced.config"),
    ERL_EPMD_ADDRESS: "127.0.0.1",
  };
  const output = openSync(join(dataDir, "rabbitmq-server.out"), "w");
  const script = spawn(scriptPath("rabbitmq-server"), [], {
    cwd: dataDir,
    env,
    stdio: ["ignore", output, output],
  });
  const exited = new Promise<void>((resolve) => script.once("exit", () => resolve()));
  let beam: number | undefined;
  let epmd: number[] = [];
  const killAll = () => {
    for (const pid of [beam, script.pid, ...epmd]) killPid(pid, "SIGKILL");
  };
  process.once("exit", killAll);
  const stop = async () => {
    try {
      execFileSync(scriptPath("rabbitmqctl"), ["-n", nodeName, "stop"], {
        env,
        stdio: "ignore",
        timeout: 60_000,
      });
    } catch {
      // not answering: the kills below end it
    }
    const deadline = Date.now() + 20_000;
    while ((alive(beam ?? -1) || script.exitCode === null) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    killPid(beam, "SIGKILL");
    killPid(script.pid, "SIGKILL");
    await exited;
    for (const pid of epmd) killPid(pid, "SIGTERM");
    process.removeListener("exit", killAll);
  };
  try {
    const url = `amqp://guest:guest@127.0.0.1:${port}`;
    const version = await waitForAmqp(url, () => script.exitCode === null, 90_000);
    beam = findDescendant(script.pid!, "beam.smp");
    if (beam === undefined) throw new Error("no beam.smp under rabbitmq-server");
    epmd = processesNamed("epmd").filter((pid) => startedBy(pid, nodeName));
    return { port, url, pid: beam, nodeName, dataDir, version, startedEpmd: epmd, stop };
  } catch (error) {
    epmd = processesNamed("epmd").filter((pid) => startedBy(pid, nodeName));
    beam = findDescendant(script.pid!, "beam.smp");
    await stop();
    throw error;
  }
}
