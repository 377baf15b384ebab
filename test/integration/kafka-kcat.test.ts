/**
 * kcat (librdkafka 2.x, the Debian package `kcat` that .ci/run installs) against a real broker:
 * `-L` metadata, and 100k lines produced from a file and consumed back byte-identical.
 * Skipped, with a note, where kcat is not installed.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BrokerProcess } from "../helpers/broker-process.ts";

const kcatMissing = spawnSync("kcat", ["-V"], { stdio: "ignore" }).status !== 0;

function kcat(
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("kcat", args, { stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout), stderr });
    });
  });
}

describe("kcat (librdkafka)", {
  skip: kcatMissing ? "kcat is not installed (apt-get install kcat)" : false,
  timeout: 120_000,
}, () => {
  let broker: BrokerProcess;
  let bootstrap: string;
  let dir: string;

  before(async () => {
    broker = await BrokerProcess.start({ args: ["--default-partitions", "3"] });
    bootstrap = `127.0.0.1:${broker.ports.kafka}`;
    dir = mkdtempSync(join(tmpdir(), "wharf-kcat-"));
  });
  after(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("kcat -L lists the broker at its advertised address and an auto-created topic", async () => {
    const produced = await kcat(["-b", bootstrap, "-P", "-t", "listed", "-p", "2"], 30_000);
    assert.equal(produced.code, 0, produced.stderr);
    const listed = await kcat(["-b", bootstrap, "-L", "-t", "listed"], 30_000);
    assert.equal(listed.code, 0, listed.stderr);
    const text = listed.stdout.toString();
    assert.match(text, new RegExp(`broker 0 at 127\\.0\\.0\\.1:${broker.ports.kafka}`));
    assert.match(text, /topic "listed" with 3 partitions/);
    assert.match(text, /partition 2, leader 0, replicas: 0, isrs: 0/);
  });

  test("100k lines produced from a file come back byte-identical", async () => {
    const lines: string[] = [];
    for (let index = 0; index < 100_000; index++)
      lines.push(`line ${index} ${"abcdefghij".slice(index % 10)} ünïcödé`);
    const input = `${lines.join("\n")}\n`;
    const file = join(dir, "lines.txt");
    writeFileSync(file, input);
    const produced = await kcat([
      "-b",
      bootstrap,
      "-P",
      "-t",
      "lines",
      "-p",
      "0",
      "-X",
      "acks=all",
      "-l",
      file,
    ]);
    assert.equal(produced.code, 0, produced.stderr);
    const consumed = await kcat([
      "-b",
      bootstrap,
      "-C",
      "-t",
      "lines",
      "-p",
      "0",
      "-o",
      "beginning",
      "-e",
      "-q",
    ]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.equal(consumed.stdout.length, Buffer.byteLength(input), "same number of bytes");
    assert.ok(consumed.stdout.equals(readFileSync(file)), "byte-identical");
  });

  test("gzip, snappy, lz4 and zstd batches are served as produced", async () => {
    for (const codec of ["gzip", "snappy", "lz4", "zstd"]) {
      const file = join(dir, `${codec}.txt`);
      const input = `${Array.from({ length: 20_000 }, (_, i) => `${codec} ${i}`).join("\n")}\n`;
      writeFileSync(file, input);
      const topic = `compressed-${codec}`;
      const produce = ["-b", bootstrap, "-P", "-t", topic, "-p", "1", "-z", codec, "-l", file];
      const produced = await kcat(produce);
      assert.equal(produced.code, 0, produced.stderr);
      const consume = [
        "-b",
        bootstrap,
        "-C",
        "-t",
        topic,
        "-p",
        "1",
        "-o",
        "beginning",
        "-e",
        "-q",
      ];
      const consumed = await kcat(consume);
      assert.equal(consumed.code, 0, consumed.stderr);
      assert.equal(consumed.stdout.toString(), input, codec);
    }
  });
});
