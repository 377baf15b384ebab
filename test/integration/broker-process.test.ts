/**
 * The broker process as an operator meets it: start, health, clean shutdown on SIGTERM, and
 * one-line failures for bad flags, bad values, taken ports and unusable data directories.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { allocatePorts, BrokerProcess, portArgs, runWharf } from "../helpers/broker-process.ts";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "wharf-it-"));
}

test("start, health and readiness, clean shutdown on SIGTERM", async (t) => {
  const broker = await BrokerProcess.start();
  t.after(() => broker.stop());
  const health = await fetch(broker.url("/healthz"));
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
  const ready = await fetch(broker.url("/readyz"));
  assert.equal(ready.status, 200);
  assert.equal((await fetch(broker.url("/nope"))).status, 404);
  const status = await broker.stop();
  assert.equal(status.code, 0, broker.stderr);
  const lines = broker.stderr
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { msg: string; level: number });
  assert.ok(
    lines.some((line) => line.msg === "wharf is ready"),
    "structured ready line",
  );
  assert.ok(
    lines.some((line) => line.msg === "stopped"),
    "structured stopped line",
  );
});

test("SIGINT also shuts down cleanly and the data directory can be reopened", async (t) => {
  const dataDir = tempDir();
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await BrokerProcess.start({ dataDir });
  t.after(() => first.stop());
  first.child.kill("SIGINT");
  const status = await first.waitExit();
  assert.equal(status.code, 0, first.stderr);
  const second = await BrokerProcess.start({ dataDir });
  t.after(() => second.stop());
  assert.equal((await fetch(second.url("/readyz"))).status, 200);
  assert.equal((await second.stop()).code, 0);
});

test("a taken port ends startup with one line naming it", async (t) => {
  const ports = await allocatePorts();
  const blocker = createServer();
  await new Promise<void>((resolve) =>
    blocker.listen({ host: "127.0.0.1", port: ports.http }, resolve),
  );
  t.after(() => blocker.close());
  const dataDir = tempDir();
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const result = await runWharf(["start", ...portArgs(dataDir, ports)]);
  assert.notEqual(result.code, 0);
  assert.match(
    result.stderr,
    new RegExp(`^wharf: .*http port ${ports.http} on 127\\.0\\.0\\.1 is already in use$`, "m"),
  );
});

test("an unusable data directory ends startup with one line naming it", async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "not-a-dir");
  writeFileSync(file, "x");
  const result = await runWharf(["start", ...portArgs(file, await allocatePorts())]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /^wharf: the data directory cannot be used: .*not-a-dir/m);
});

test("a data directory in use by a live broker is refused", async (t) => {
  const broker = await BrokerProcess.start();
  t.after(() => broker.stop());
  const result = await runWharf(["start", ...portArgs(broker.dataDir, await allocatePorts())]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /^wharf: the data directory cannot be used: .*(lock|in use)/im);
  assert.equal((await fetch(broker.url("/readyz"))).status, 200, "the first broker keeps serving");
});

test("unknown flags and bad values are refused with a clear message", async () => {
  const unknown = await runWharf(["start", "--kafka-prot", "1"]);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /unknown option '--kafka-prot'/);
  const bad = await runWharf(["start", "--kafka-port", "99999"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /^wharf: invalid configuration: .*kafkaPort/m);
  const env = await runWharf(["start"], { env: { WHARF_HTTP_PORT: "http" } });
  assert.notEqual(env.code, 0);
  assert.match(
    env.stderr,
    /^wharf: invalid configuration: environment WHARF_HTTP_PORT: 'http' is not an integer$/m,
  );
});

test("a config file is read, and flags override it", async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ports = await allocatePorts();
  const configPath = join(dir, "wharf.json");
  writeFileSync(configPath, JSON.stringify({ httpPort: 1, logLevel: "warn" }));
  const broker = await BrokerProcess.start({
    dataDir: join(dir, "data"),
    ports,
    args: ["--config", configPath, "--http-port", String(ports.http)],
    env: { WHARF_LOG_LEVEL: "" },
  });
  t.after(() => broker.stop());
  assert.equal((await fetch(broker.url("/healthz"))).status, 200);
  assert.equal((await broker.stop()).code, 0);
  assert.doesNotMatch(
    broker.stderr,
    /"level":30/,
    "info lines are filtered by the file's logLevel",
  );
});

test("--help and --version", async () => {
  const help = await runWharf(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: wharf/);
  assert.match(help.stdout, /start/);
  const startHelp = await runWharf(["start", "--help"]);
  assert.match(startHelp.stdout, /--data-dir <value>/);
  assert.match(startHelp.stdout, /WHARF_DATA_DIR/);
  const version = await runWharf(["--version"]);
  assert.equal(version.code, 0);
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  assert.equal(version.stdout.trim(), pkg.version);
});
