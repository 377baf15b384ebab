/**
 * kcat (librdkafka) consumer-group mode against a broker process: two `kcat -G` processes
 * split a topic's partitions, with the eager protocol (range) and with cooperative-sticky
 * (incremental rebalances: the first member gives up half of its partitions in a second
 * rebalance). Every record produced once the group is stable is consumed exactly once, by the
 * process that owns its partition. Skipped when kcat is not installed (`.ci/run` installs it).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { Kafka, logLevel, type Message } from "kafkajs";
import { BrokerProcess } from "../helpers/broker-process.ts";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const kcatInstalled = spawnSync("kcat", ["-V"], { stdio: "ignore" }).status === 0;

/** One `kcat -G` process: its records and its current assignment, read from its output. */
class KcatMember {
  readonly records: Array<{ partition: number; value: string }> = [];
  readonly assigned = new Set<number>();
  stderr = "";
  private stdoutRest = "";
  private stderrRest = "";
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding("utf8").on("data", (text: string) => {
      const lines = (this.stdoutRest + text).split("\n");
      this.stdoutRest = lines.pop()!;
      for (const line of lines) {
        const match = /^(\d+):(\d+):(.*)$/.exec(line);
        if (match) this.records.push({ partition: Number(match[1]), value: match[3]! });
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (text: string) => {
      this.stderr += text;
      const lines = (this.stderrRest + text).split("\n");
      this.stderrRest = lines.pop()!;
      for (const line of lines) this.onLog(line);
    });
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  /** Tracks the assignment from kcat's rebalance lines (eager and incremental). */
  private onLog(line: string): void {
    const partitions = [...line.matchAll(/\[(\d+)\]/g)].map((match) => Number(match[1]));
    if (/rebalanced.*: assigned: /.test(line) || /incremental assignment of/.test(line)) {
      if (!line.includes("incremental")) this.assigned.clear();
      for (const partition of partitions) this.assigned.add(partition);
    } else if (/rebalanced.*: revoked: /.test(line) || /incremental revoke of/.test(line)) {
      for (const partition of partitions) this.assigned.delete(partition);
    }
  }

  /** SIGTERM (kcat leaves the group and exits), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

function startKcat(
  name: string,
  port: number,
  group: string,
  topic: string,
  extra: string[] = [],
): KcatMember {
  const args = [
    "-b",
    `127.0.0.1:${port}`,
    "-u", // unbuffered output: records show as they arrive
    "-X",
    "heartbeat.interval.ms=500",
    "-X",
    "session.timeout.ms=10000",
    ...extra,
    "-o",
    "beginning",
    "-f",
    "%p:%o:%s\\n",
    "-G",
    group,
    topic,
  ];
  const child = spawn("kcat", args, { stdio: ["ignore", "pipe", "pipe"] });
  return new KcatMember(name, child);
}

async function until(
  what: string,
  condition: () => boolean,
  timeoutMs: number,
  detail = () => "",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("kcat consumer groups", { skip: kcatInstalled ? false : "kcat is not installed" }, () => {
  let broker: BrokerProcess;
  let kafka: Kafka;

  before(async () => {
    broker = await BrokerProcess.start({ args: ["--group-initial-rebalance-delay-ms", "100"] });
    kafka = new Kafka({ brokers: [`127.0.0.1:${broker.ports.kafka}`], logLevel: logLevel.NOTHING });
  });
  after(() => broker.stop());

  async function splitPartitions(group: string, topic: string, extra: string[]): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
    await admin.disconnect();
    const members: KcatMember[] = [];
    const detail = () =>
      members.map((m) => `--- ${m.name} [${[...m.assigned]}]\n${m.stderr}`).join("\n");
    try {
      const first = startKcat("first", broker.ports.kafka, group, topic, extra);
      members.push(first);
      await until(
        "the first member to own every partition",
        () => first.assigned.size === 4,
        20_000,
        detail,
      );
      const second = startKcat("second", broker.ports.kafka, group, topic, extra);
      members.push(second);
      await until(
        "the partitions to be split between the two members",
        () =>
          first.assigned.size === 2 &&
          second.assigned.size === 2 &&
          [...first.assigned].every((partition) => !second.assigned.has(partition)),
        30_000,
        detail,
      );

      const total = 400;
      const producer = kafka.producer();
      await producer.connect();
      const messages: Message[] = Array.from({ length: total }, (_, index) => ({
        key: `key-${index}`,
        value: String(index),
      }));
      await producer.send({ topic, messages, acks: -1 });
      await producer.disconnect();

      await until(
        "every record",
        () => first.records.length + second.records.length >= total,
        20_000,
        detail,
      );
      await new Promise((resolve) => setTimeout(resolve, 500)); // room for a duplicate to show
      const values = [...first.records, ...second.records]
        .map((record) => Number(record.value))
        .sort((a, b) => a - b);
      assert.deepEqual(
        values,
        Array.from({ length: total }, (_, index) => index),
        "each record consumed once",
      );
      for (const member of [first, second]) {
        assert.ok(member.records.length > 0, `${member.name} consumed records`);
        for (const record of member.records) {
          assert.ok(
            member.assigned.has(record.partition),
            `${member.name} only reads its own partitions`,
          );
        }
      }
    } finally {
      for (const member of members) await member.stop();
    }
    const admin2 = kafka.admin();
    await admin2.connect();
    try {
      const description = await admin2.describeGroups([group]);
      assert.deepEqual(description.groups[0]!.members, [], "both members left the group");
    } finally {
      await admin2.disconnect();
    }
  }

  test("two kcat -G processes split the partitions (eager, range)", {
    timeout: 90_000,
  }, async () => {
    await splitPartitions("kcat-eager", "kcat-eager-topic", []);
  });

  test("a static member (group.instance.id) restarted within its session keeps its partitions without a rebalance", {
    timeout: 90_000,
  }, async () => {
    const topic = "kcat-static-topic";
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
    await admin.disconnect();
    const members: KcatMember[] = [];
    const detail = () =>
      members.map((m) => `--- ${m.name} [${[...m.assigned]}]\n${m.stderr}`).join("\n");
    const start = (name: string, instance: string) => {
      const member = startKcat(name, broker.ports.kafka, "kcat-static", topic, [
        "-X",
        `group.instance.id=${instance}`,
      ]);
      members.push(member);
      return member;
    };
    try {
      const first = start("first", "static-a");
      const second = start("second", "static-b");
      const split = (a: KcatMember, b: KcatMember) =>
        a.assigned.size === 2 &&
        b.assigned.size === 2 &&
        [...a.assigned].every((p) => !b.assigned.has(p));
      await until("the partitions to be split", () => split(first, second), 30_000, detail);
      const owned = [...first.assigned].sort();
      const secondLog = second.stderr.length;
      // A crash: no LeaveGroup. The restarted process rejoins with the same instance id.
      first.child.kill("SIGKILL");
      await first.stop();
      const restarted = start("first-restarted", "static-a");
      await until(
        "the restarted member to get its partitions back",
        () => restarted.assigned.size === 2,
        20_000,
        detail,
      );
      assert.deepEqual(
        [...restarted.assigned].sort(),
        owned,
        "same partitions as before the restart",
      );
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // a rebalance would show by now
      assert.doesNotMatch(
        second.stderr.slice(secondLog),
        /revoke/,
        "the other member saw no rebalance",
      );
    } finally {
      for (const member of members) await member.stop();
    }
  });

  test("two kcat -G processes split the partitions (cooperative-sticky)", {
    timeout: 90_000,
  }, async () => {
    await splitPartitions("kcat-cooperative", "kcat-coop-topic", [
      "-X",
      "partition.assignment.strategy=cooperative-sticky",
    ]);
  });
});
