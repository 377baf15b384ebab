/**
 * The `wharf` client commands (topics, produce, consume, groups) against a real broker, run as
 * a user runs them: `bin/wharf.js` in a child process, with `--bootstrap` from the environment.
 * Lines go in through a file and through stdin and come back byte-identical, including empty
 * lines, tabs, carriage returns, UTF-8 and bytes that are not UTF-8. About 45 CLI processes
 * run against one broker: about 90 s on an idle 2-core machine, several minutes under load.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BrokerProcess, repoRoot, wharfBin } from "../helpers/broker-process.ts";
import { freePort } from "../helpers/free-port.ts";

interface WharfResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `wharf <args>` with `input` on stdin (or none), bounded by `timeoutMs`. */
function wharf(
  args: string[],
  options: { bootstrap: string; input?: Buffer; timeoutMs?: number },
): Promise<WharfResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wharfBin, ...args], {
      cwd: repoRoot,
      env: { ...process.env, WHARF_BOOTSTRAP: options.bootstrap },
      stdio: [options.input ? "pipe" : "ignore", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.once("error", reject);
    if (options.input && child.stdin) {
      child.stdin.on("error", () => undefined);
      child.stdin.end(options.input);
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout), stderr });
    });
  });
}

function json<T>(result: WharfResult): T {
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout.toString("utf8")) as T;
}

/** 10,000 lines that exercise byte-exactness; the file ends with a newline. */
function sampleLines(count: number, tag: string): Buffer {
  const lines: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    switch (i % 500) {
      case 7:
        lines.push(Buffer.alloc(0));
        break;
      case 11:
        lines.push(Buffer.from(`${tag} ${i} tab\there carriage\rreturn`));
        break;
      case 13:
        lines.push(Buffer.from(`${tag} ${i} café ☕ 日本`));
        break;
      case 17:
        lines.push(
          Buffer.concat([Buffer.from(`${tag} ${i} `), Buffer.from([0xff, 0xfe, 0x00, 0x80])]),
        );
        break;
      default:
        lines.push(Buffer.from(`${tag} ${i} ${"x".repeat(i % 97)}`));
    }
  }
  return Buffer.concat(lines.flatMap((line) => [line, Buffer.from("\n")]));
}

function lastLines(data: Buffer, count: number): Buffer {
  let position = data.length - 1; // the final newline
  for (let seen = 0; seen < count; seen++) position = data.lastIndexOf(0x0a, position - 1);
  return data.subarray(position + 1);
}

describe("wharf CLI as a Kafka client", { timeout: 600_000 }, () => {
  let broker: BrokerProcess;
  let bootstrap: string;
  let dir: string;
  const run = (args: string[], input?: Buffer) => wharf(args, { bootstrap, input });

  before(async () => {
    broker = await BrokerProcess.start();
    bootstrap = `127.0.0.1:${broker.ports.kafka}`;
    dir = mkdtempSync(join(tmpdir(), "wharf-cli-"));
  });
  after(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("topics create, list, describe, alter and delete", async () => {
    const created = await run([
      "topics",
      "create",
      "admin-topic",
      "--partitions",
      "2",
      "--config",
      "retention.ms=3600000",
    ]);
    assert.equal(created.code, 0, created.stderr);

    const again = await run(["topics", "create", "admin-topic"]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, "wharf: topic 'admin-topic' already exists\n");
    const tolerated = await run(["topics", "create", "admin-topic", "--if-not-exists"]);
    assert.equal(tolerated.code, 0, tolerated.stderr);

    const listed = json<{ name: string; partitions: number }[]>(
      await run(["topics", "list", "--json"]),
    );
    assert.deepEqual(
      listed.find((topic) => topic.name === "admin-topic"),
      { name: "admin-topic", partitions: 2 },
    );
    const table = await run(["topics", "list"]);
    assert.match(table.stdout.toString(), /^TOPIC\s+PARTITIONS$/m);
    assert.match(table.stdout.toString(), /^admin-topic\s+2$/m);

    type Described = {
      name: string;
      partitions: {
        partition: number;
        leader: number;
        logStartOffset: number;
        logEndOffset: number;
      }[];
      configs: { name: string; value: string; source: string }[];
    };
    const described = json<Described>(await run(["topics", "describe", "admin-topic", "--json"]));
    assert.equal(described.partitions.length, 2);
    assert.deepEqual(
      described.partitions.map(({ partition, leader, logStartOffset, logEndOffset }) => [
        partition,
        leader,
        logStartOffset,
        logEndOffset,
      ]),
      [
        [0, 0, 0, 0],
        [1, 0, 0, 0],
      ],
    );
    const config = (result: Described, name: string) =>
      result.configs.find((entry) => entry.name === name);
    assert.deepEqual(config(described, "retention.ms"), {
      name: "retention.ms",
      value: "3600000",
      source: "override",
      readOnly: false,
    });
    const text = (await run(["topics", "describe", "admin-topic"])).stdout.toString();
    assert.match(text, /^PARTITION\s+LEADER\s+REPLICAS\s+ISR\s+LOG-START\s+LOG-END$/m);
    assert.match(text, /^retention\.ms\s+3600000\s+override$/m);

    const altered = await run([
      "topics",
      "alter",
      "admin-topic",
      "--partitions",
      "3",
      "--config",
      "cleanup.policy=compact",
      "--delete-config",
      "retention.ms",
    ]);
    assert.equal(altered.code, 0, altered.stderr);
    const afterAlter = json<Described>(await run(["topics", "describe", "admin-topic", "--json"]));
    assert.equal(afterAlter.partitions.length, 3);
    assert.equal(config(afterAlter, "cleanup.policy")?.value, "compact");
    assert.equal(config(afterAlter, "cleanup.policy")?.source, "override");
    assert.equal(config(afterAlter, "retention.ms")?.source, "default");

    const shrink = await run(["topics", "alter", "admin-topic", "--partitions", "1"]);
    assert.equal(shrink.code, 1);
    assert.match(
      shrink.stderr,
      /^wharf: topic 'admin-topic' has 3 partitions; partitions can only be added\n$/,
    );
    const badConfig = await run(["topics", "alter", "admin-topic", "--config", "no.such.config=1"]);
    assert.equal(badConfig.code, 1);
    assert.match(badConfig.stderr, /^wharf: invalid configuration \[INVALID_CONFIG\].*\n$/);

    const deleted = await run(["topics", "delete", "admin-topic"]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const names = json<{ name: string }[]>(await run(["topics", "list", "--json"])).map(
      (topic) => topic.name,
    );
    assert.ok(!names.includes("admin-topic"));
    const gone = await run(["topics", "delete", "admin-topic"]);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, "wharf: topic 'admin-topic' does not exist\n");
    assert.equal((await run(["topics", "delete", "admin-topic", "--if-exists"])).code, 0);
  });

  test("10k lines produced from a file and from stdin come back byte-identical", async () => {
    const fromFile = sampleLines(10_000, "file");
    const fromStdin = sampleLines(10_000, "stdin");
    const path = join(dir, "lines.txt");
    writeFileSync(path, fromFile);
    assert.equal((await run(["topics", "create", "lines", "--partitions", "1"])).code, 0);

    const producedFile = await run(["produce", "lines", "--file", path]);
    assert.equal(producedFile.code, 0, producedFile.stderr);
    assert.equal(producedFile.stdout.length, 0, "nothing on stdout without --json");
    assert.equal(producedFile.stderr, "", "no progress line when stderr is not a terminal");
    const producedStdin = json<{ records: number; bytes: number }>(
      await run(["produce", "lines", "--json"], fromStdin),
    );
    assert.deepEqual(producedStdin, { topic: "lines", records: 10_000, bytes: fromStdin.length });

    const consumed = await run(["consume", "lines", "--from-beginning", "--max-messages", "20000"]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.ok(consumed.stdout.equals(Buffer.concat([fromFile, fromStdin])), "byte-identical");

    const firstOnly = await run([
      "consume",
      "lines",
      "--from-beginning",
      "--max-messages",
      "10000",
    ]);
    assert.equal(firstOnly.code, 0, firstOnly.stderr);
    assert.ok(firstOnly.stdout.equals(fromFile), "--max-messages stops at exactly N");

    // --timeout-ms alone ends a consumer that has read everything.
    const idle = await run(["consume", "lines", "--from-beginning", "--timeout-ms", "3000"]);
    assert.equal(idle.code, 0, idle.stderr);
    assert.equal(idle.stdout.length, fromFile.length + fromStdin.length);

    const tail = await run(["consume", "lines", "--offset", "19990", "--max-messages", "10"]);
    assert.equal(tail.code, 0, tail.stderr);
    assert.ok(tail.stdout.equals(lastLines(fromStdin, 10)), "--offset 19990 reads the last 10");

    const records = (
      await run(["consume", "lines", "--offset", "10000", "--max-messages", "2", "--json"])
    ).stdout
      .toString()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { offset: number; partition: number; value: string });
    assert.deepEqual(
      records.map(({ offset, partition, value }) => ({ offset, partition, value })),
      [
        { offset: 10_000, partition: 0, value: "stdin 0 " },
        { offset: 10_001, partition: 0, value: `stdin 1 ${"x"}` },
      ],
    );

    const outOfRange = await run(["consume", "lines", "--offset", "20001"]);
    assert.equal(outOfRange.code, 1);
    assert.equal(
      outOfRange.stderr,
      "wharf: offset 20001 is out of range for partition 0 of 'lines' (log start 0, log end 20000)\n",
    );
  });

  test("--timestamp starts at the first record at or after T", async () => {
    const early = Buffer.from("early-1\nearly-2\nearly-3\n");
    const late = Buffer.from("late-1\nlate-2\n");
    assert.equal((await run(["produce", "stamped"], early)).code, 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const between = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await run(["produce", "stamped"], late)).code, 0);

    const fromT = await run([
      "consume",
      "stamped",
      "--timestamp",
      String(between),
      "--max-messages",
      "2",
    ]);
    assert.equal(fromT.code, 0, fromT.stderr);
    assert.equal(fromT.stdout.toString(), late.toString());
    const iso = new Date(between).toISOString();
    const fromIso = await run(["consume", "stamped", "--timestamp", iso, "--max-messages", "2"]);
    assert.equal(fromIso.stdout.toString(), late.toString());
    const future = await run([
      "consume",
      "stamped",
      "--timestamp",
      String(Date.now() + 3_600_000),
      "--timeout-ms",
      "1000",
    ]);
    assert.equal(future.code, 0, future.stderr);
    assert.equal(future.stdout.length, 0, "no record after T: nothing printed");
  });

  test("consume --group commits what it printed; groups list and describe show lag 0", async () => {
    const data = sampleLines(10_000, "group");
    assert.equal((await run(["topics", "create", "grouped", "--partitions", "2"])).code, 0);
    assert.equal((await run(["produce", "grouped"], data)).code, 0);

    const partial = await run([
      "consume",
      "grouped",
      "--group",
      "cli-group",
      "--from-beginning",
      "--max-messages",
      "4000",
    ]);
    assert.equal(partial.code, 0, partial.stderr);
    type Group = {
      id: string;
      state: string;
      members: unknown[];
      partitions: {
        topic: string;
        partition: number;
        committedOffset: number | null;
        logEndOffset: number;
        lag: number | null;
      }[];
    };
    const midway = json<Group>(await run(["groups", "describe", "cli-group", "--json"]));
    // Every partition of the topic is listed; one the group has not committed on has no lag.
    assert.deepEqual(
      midway.partitions.map(({ partition }) => partition),
      [0, 1],
    );
    const committedMidway = midway.partitions.reduce(
      (sum, partition) => sum + (partition.committedOffset ?? 0),
      0,
    );
    assert.equal(committedMidway, 4_000, "exactly the records printed are committed");
    for (const partition of midway.partitions) {
      assert.equal(partition.logEndOffset, 5_000);
      const expected =
        partition.committedOffset === null
          ? null
          : partition.logEndOffset - partition.committedOffset;
      assert.equal(partition.lag, expected);
    }

    // --from-beginning only applies to a partition with no committed offset yet.
    const rest = await run([
      "consume",
      "grouped",
      "--group",
      "cli-group",
      "--from-beginning",
      "--timeout-ms",
      "5000",
    ]);
    assert.equal(rest.code, 0, rest.stderr);
    const sorted = (buffer: Buffer) => buffer.toString("latin1").split("\n").slice(0, -1).sort();
    assert.deepEqual(
      sorted(Buffer.concat([partial.stdout, rest.stdout])),
      sorted(data),
      "the two runs together printed every record once",
    );

    const groups = json<{ id: string; state: string; protocolType: string }[]>(
      await run(["groups", "list", "--json"]),
    );
    assert.deepEqual(
      groups.find((group) => group.id === "cli-group"),
      { id: "cli-group", state: "EMPTY", protocolType: "consumer" },
    );
    const listText = (await run(["groups", "list"])).stdout.toString();
    assert.match(listText, /^cli-group\s+EMPTY\s+consumer$/m);

    const done = json<Group>(await run(["groups", "describe", "cli-group", "--json"]));
    assert.equal(done.state, "EMPTY");
    assert.deepEqual(
      done.partitions.map(({ topic, partition, lag }) => ({ topic, partition, lag })),
      [
        { topic: "grouped", partition: 0, lag: 0 },
        { topic: "grouped", partition: 1, lag: 0 },
      ],
    );
    for (const partition of done.partitions) {
      assert.equal(partition.committedOffset, partition.logEndOffset);
    }
    const describeText = (await run(["groups", "describe", "cli-group"])).stdout.toString();
    assert.match(describeText, /^TOPIC\s+PARTITION\s+COMMITTED\s+LOG-END\s+LAG\s+MEMBER$/m);
    assert.match(describeText, /^grouped\s+0\s+\d+\s+\d+\s+0\s+-$/m);
  });

  test("errors are one line on stderr with a non-zero exit code", async () => {
    const unknownTopic = await run(["topics", "describe", "no-such-topic"]);
    assert.equal(unknownTopic.code, 1);
    assert.equal(unknownTopic.stderr, "wharf: topic 'no-such-topic' does not exist\n");
    assert.equal(unknownTopic.stdout.length, 0);

    const consumeUnknown = await run(["consume", "no-such-topic", "--timeout-ms", "1000"]);
    assert.equal(consumeUnknown.code, 1);
    assert.equal(consumeUnknown.stderr, "wharf: topic 'no-such-topic' does not exist\n");

    const unknownGroup = await run(["groups", "describe", "no-such-group"]);
    assert.equal(unknownGroup.code, 1);
    assert.equal(unknownGroup.stderr, "wharf: group 'no-such-group' does not exist\n");

    const closedPort = await freePort();
    const unreachable = await wharf(["topics", "list"], { bootstrap: `127.0.0.1:${closedPort}` });
    assert.equal(unreachable.code, 1);
    assert.match(
      unreachable.stderr,
      /^wharf: cannot reach the broker: [^\n]*ECONNREFUSED[^\n]*\n$/,
    );

    const badBootstrap = await wharf(["topics", "list"], { bootstrap: "no-port" });
    assert.equal(badBootstrap.code, 1);
    assert.equal(badBootstrap.stderr, "wharf: --bootstrap 'no-port' is not HOST:PORT\n");

    const conflicting = await run(["consume", "lines", "--from-beginning", "--offset", "3"]);
    assert.notEqual(conflicting.code, 0);
    assert.match(conflicting.stderr, /cannot be used with/);
  });
});
