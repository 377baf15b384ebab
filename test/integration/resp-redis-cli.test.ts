/**
 * Debian's `redis-tools` against a real broker: redis-cli one-shot commands and `--csv`,
 * `redis-cli SUBSCRIBE` in one process receiving a PUBLISH sent by another, and a short
 * `redis-benchmark -t ping,publish`. Skipped (with a reason) where redis-tools is not
 * installed; .ci/run installs it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { BrokerProcess } from "../helpers/broker-process.ts";

function installed(tool: string): boolean {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const haveTools = installed("redis-cli") && installed("redis-benchmark");
const skip = haveTools ? false : "redis-tools (redis-cli, redis-benchmark) is not installed";

let broker: BrokerProcess;

before(async () => {
  if (haveTools) broker = await BrokerProcess.start();
});

after(async () => {
  await broker?.stop();
});

/** Runs a tool to completion, bounded by `timeoutMs`. */
function run(
  tool: string,
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(tool, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const cli = (...args: string[]) =>
  run("redis-cli", ["-h", "127.0.0.1", "-p", String(broker.ports.resp), ...args]);

test("redis-cli PING, ECHO, CLIENT, INFO, COMMAND", { skip }, async () => {
  assert.equal((await cli("PING")).stdout, "PONG\n");
  assert.equal((await cli("ECHO", "hello world")).stdout, "hello world\n");
  assert.equal((await cli("PUBLISH", "nobody", "x")).stdout, "0\n");
  assert.match((await cli("INFO", "server")).stdout, /redis_version:7\.2\.0/);
  assert.match((await cli("CLIENT", "LIST")).stdout, /cmd=client\|list/);
  assert.match((await cli("COMMAND", "COUNT")).stdout, /^\d+\n$/);
  const docs = await cli("COMMAND", "DOCS", "publish");
  assert.match(docs.stdout, /Posts a message to a channel/);
  assert.equal(
    (await cli("FOO")).stdout,
    "ERR unknown command 'FOO', with args beginning with: \n\n",
  );
  // RESP3 through redis-cli -3: HELLO 3 then a map/push-capable connection.
  assert.equal((await cli("-3", "PING")).stdout, "PONG\n");
});

test("redis-cli --stat reads its figures from INFO (keyspace, memory, clients)", {
  skip,
}, async () => {
  assert.match((await cli("XADD", "stat:s", "*", "f", "v")).stdout, /^\d+-\d+\n$/);
  const keys = /^db0:keys=(\d+),expires=0,avg_ttl=0\r?$/m.exec(
    (await cli("INFO", "keyspace")).stdout,
  )?.[1];
  assert.ok(Number(keys) >= 1, `INFO keyspace: ${keys}`);
  // --stat prints a row per interval until killed; stdbuf makes its stdout line-buffered.
  const stat = await run(
    "stdbuf",
    ["-oL", "redis-cli", "-h", "127.0.0.1", "-p", String(broker.ports.resp), "--stat", "-i", "0.2"],
    1500,
  );
  const rows = stat.stdout.split("\n").filter((line) => /^\d/.test(line));
  assert.ok(rows.length >= 2, stat.stdout);
  // keys, mem (Redis's human form), clients, blocked, requests (+delta), connections
  assert.match(rows[0]!, /^\d+\s+\d+(\.\d+)?[BKMG]\s+\d+\s+0\s+\d+ \(\+\d+\)\s+\d+/);
  assert.equal(rows[0]!.split(/\s+/)[0], keys);
  const memory = (await cli("INFO", "memory")).stdout;
  assert.match(memory, /^used_memory:\d+\r?$/m);
  assert.match(memory, /^used_memory_human:\d+(\.\d+)?[BKMG]\r?$/m);
  assert.match(memory, /^maxmemory_policy:noeviction\r?$/m);
  assert.match((await cli("INFO", "clients")).stdout, /^maxclients:\d+\r?$/m);
});

test("redis-cli --csv", { skip }, async () => {
  assert.equal((await cli("--csv", "PUBSUB", "NUMSUB", "a", "b")).stdout, '"a",0,"b",0\n');
  assert.equal((await cli("--csv", "PING")).stdout, '"PONG"\n');
});

test("redis-cli SUBSCRIBE receives a PUBLISH from another process", { skip }, async (t) => {
  const subscriber: ChildProcess = spawn(
    "redis-cli",
    ["-h", "127.0.0.1", "-p", String(broker.ports.resp), "SUBSCRIBE", "cli-channel"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  t.after(() => {
    if (subscriber.exitCode === null) subscriber.kill("SIGKILL");
  });
  let output = "";
  subscriber.stdout!.setEncoding("utf8").on("data", (text: string) => (output += text));
  const deadline = Date.now() + 10_000;
  let receivers = "0\n";
  while (receivers !== "1\n" && Date.now() < deadline) {
    receivers = (await cli("PUBLISH", "cli-channel", "hello from another process")).stdout;
    if (receivers !== "1\n") await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(receivers, "1\n");
  while (!output.includes("hello from another process") && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.match(
    output,
    /subscribe\ncli-channel\n1\nmessage\ncli-channel\nhello from another process\n/,
  );
});

// redis-benchmark 7.0 (Debian 12) has no built-in `publish` test: `-t ping` runs its PING
// tests, and PUBLISH is benchmarked as an explicit command, as bench/resp.ts does.
test("redis-benchmark -t ping and PUBLISH, -n 2000", { skip }, async () => {
  const target = ["-h", "127.0.0.1", "-p", String(broker.ports.resp), "-n", "2000", "-c", "4"];
  const ping = await run("redis-benchmark", [...target, "-t", "ping", "-q", "--csv"], 60_000);
  const publish = await run(
    "redis-benchmark",
    [...target, "-P", "16", "-q", "--csv", "PUBLISH", "bench-channel", "hello"],
    60_000,
  );
  const rows = [ping, publish].flatMap((result) => {
    assert.equal(result.code, 0, result.stderr);
    return result.stdout
      .trim()
      .split("\n")
      .slice(1)
      .map((line) => line.split(",").map((cell) => JSON.parse(cell) as string));
  });
  assert.deepEqual(
    rows.map((row) => row[0]),
    ["PING_INLINE", "PING_MBULK", "PUBLISH bench-channel hello"],
  );
  for (const row of rows) assert.ok(Number(row[1]) > 0, row.join(","));
});
