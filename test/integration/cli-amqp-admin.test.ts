/**
 * The management API (`/api/...`, RabbitMQ's paths) and the `wharf queues|exchanges|bindings|
 * users|vhosts` commands against a real broker process, checked from the AMQP side with
 * amqplib: what the CLI declares, an AMQP client sees, and what AMQP declares, the CLI lists.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import amqp from "amqplib";
import { BrokerProcess, repoRoot, wharfBin } from "../helpers/broker-process.ts";

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let broker: BrokerProcess;
let restartedDataDir: string | undefined;

function wharf(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wharfBin, ...args], {
      cwd: repoRoot,
      env: { ...process.env, WHARF_API: `http://127.0.0.1:${broker.ports.http}`, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.once("error", reject);
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(args: string[], env?: Record<string, string>): Promise<string> {
  const result = await wharf(args, env);
  assert.equal(result.code, 0, `wharf ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

function amqpUrl(user = "guest", password = "guest", vhost = "/"): string {
  return `amqp://${user}:${password}@127.0.0.1:${broker.ports.amqp}/${encodeURIComponent(vhost)}`;
}

function api(path: string, init: RequestInit = {}, user = "guest:guest"): Promise<Response> {
  return fetch(broker.url(path), {
    ...init,
    headers: {
      authorization: `Basic ${Buffer.from(user).toString("base64")}`,
      "content-type": "application/json",
      ...(init.headers ?? {}),
    },
  });
}

describe("management API and CLI", { timeout: 180_000 }, () => {
  before(async () => {
    broker = await BrokerProcess.start();
  });
  after(async () => {
    await broker?.stop();
    if (restartedDataDir !== undefined) rmSync(restartedDataDir, { recursive: true, force: true });
  });

  test("the API refuses requests without valid credentials", async () => {
    const none = await fetch(broker.url("/api/queues"));
    assert.equal(none.status, 401);
    assert.match(none.headers.get("www-authenticate") ?? "", /^Basic/);
    const wrong = await api("/api/queues", {}, "guest:nope");
    assert.equal(wrong.status, 401);
  });

  test("bad input gets a clear error and the API keeps serving", async () => {
    const vhost = encodeURIComponent("/");
    const badJson = await api(`/api/queues/${vhost}/bad`, { method: "PUT", body: "{not json" });
    assert.equal(badJson.status, 400);
    assert.deepEqual(await badJson.json(), {
      error: "bad_request",
      reason: "body is not valid JSON",
    });
    const badField = await api(`/api/queues/${vhost}/bad`, {
      method: "PUT",
      body: JSON.stringify({ durable: "yes" }),
    });
    assert.equal(badField.status, 400);
    assert.match(((await badField.json()) as { reason: string }).reason, /^durable: /);
    const huge = await api(`/api/queues/${vhost}/bad`, {
      method: "PUT",
      body: JSON.stringify({ arguments: { pad: "x".repeat(1024 * 1024) } }),
    });
    assert.equal(huge.status, 413);
    const badRegex = await api(`/api/permissions/${vhost}/guest`, {
      method: "PUT",
      body: JSON.stringify({ configure: "(", write: ".*", read: ".*" }),
    });
    assert.equal(badRegex.status, 400);
    assert.equal((await api("/api/nothing-here")).status, 404);
    assert.equal((await api("/api/vhosts", { method: "POST", body: "{}" })).status, 405);
    assert.equal((await api(`/api/queues/${vhost}/bad`, { method: "POST" })).status, 405);
    const badArg = await api(`/api/queues/${vhost}/bad`, {
      method: "PUT",
      body: JSON.stringify({ arguments: { "x-max-length": -1 } }),
    });
    assert.equal(badArg.status, 400);
    assert.match(((await badArg.json()) as { reason: string }).reason, /x-max-length/);
    assert.equal((await api("/api/overview")).status, 200);
  });

  test("queues and exchanges declared by the CLI are used by amqplib, and listed back", async () => {
    await ok(["exchanges", "declare", "cli.orders", "--type", "topic"]);
    await ok(["queues", "declare", "cli.q1", "--arg", "x-max-length=5"]);
    await ok(["bindings", "add", "cli.orders", "cli.q1", "--routing-key", "eu.#"]);

    const connection = await amqp.connect(amqpUrl());
    try {
      const channel = await connection.createConfirmChannel();
      // Passive declares prove the objects exist with the CLI's settings.
      await channel.checkExchange("cli.orders");
      const declared = await channel.assertQueue("cli.q1", {
        durable: true,
        arguments: { "x-max-length": 5 },
      });
      assert.equal(declared.messageCount, 0);
      for (let i = 0; i < 3; i++) channel.publish("cli.orders", "eu.fr", Buffer.from(`m${i}`));
      channel.publish("cli.orders", "us.ny", Buffer.from("not routed"));
      await channel.waitForConfirms();
      await channel.close();
    } finally {
      await connection.close();
    }

    const queues = JSON.parse(await ok(["queues", "list", "--json"])) as Array<{
      name: string;
      messages_ready: number;
      durable: boolean;
    }>;
    const q1 = queues.find((q) => q.name === "cli.q1");
    assert.ok(q1, "cli.q1 listed");
    assert.equal(q1.messages_ready, 3);
    assert.equal(q1.durable, true);

    const table = await ok(["queues", "list"]);
    assert.match(table, /^NAME\s+TYPE\s+DURABLE\s+READY/m);
    assert.match(table, /^cli\.q1\s+classic\s+true\s+3\s+0\s+0\s*$/m);

    const bindings = JSON.parse(await ok(["bindings", "list", "--json"])) as Array<{
      source: string;
      destination: string;
      routing_key: string;
    }>;
    assert.ok(
      bindings.some(
        (b) => b.source === "cli.orders" && b.destination === "cli.q1" && b.routing_key === "eu.#",
      ),
    );
    const exchanges = await ok(["exchanges", "list"]);
    assert.match(exchanges, /^cli\.orders\s+topic\s+true/m);
    assert.match(exchanges, /^amq\.topic\s+topic/m);

    await ok(["queues", "purge", "cli.q1"]);
    const afterPurge = JSON.parse(await ok(["queues", "list", "--json"])) as typeof queues;
    assert.equal(afterPurge.find((q) => q.name === "cli.q1")?.messages_ready, 0);

    await ok(["bindings", "remove", "cli.orders", "cli.q1", "--routing-key", "eu.#"]);
    const gone = JSON.parse(await ok(["bindings", "list", "--json"])) as typeof bindings;
    assert.ok(!gone.some((b) => b.source === "cli.orders"));
    await ok(["queues", "delete", "cli.q1"]);
    await ok(["exchanges", "delete", "cli.orders"]);
    const end = JSON.parse(await ok(["queues", "list", "--json"])) as typeof queues;
    assert.ok(!end.some((q) => q.name === "cli.q1"));
  });

  test("errors come back as one line with the broker's reason", async () => {
    const missing = await wharf(["queues", "delete", "no-such-queue", "--if-empty"]);
    // RabbitMQ deletes a missing queue without error; if-empty on it is fine too.
    assert.equal(missing.code, 0, missing.stderr);
    const reserved = await wharf(["exchanges", "declare", "amq.mine", "--type", "direct"]);
    assert.equal(reserved.code, 1);
    assert.match(reserved.stderr, /^wharf: .*amq\./);
    const unreachable = await wharf(["queues", "list"], { WHARF_API: "http://127.0.0.1:1" });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^wharf: cannot reach http:\/\/127\.0\.0\.1:1/);
  });

  test("users, vhosts and permissions: a new user works only where it was granted", async () => {
    await ok(["vhosts", "add", "cli-vh"]);
    assert.match(await ok(["vhosts", "list"]), /^cli-vh$/m);
    await ok(["users", "add", "alice", "s3cret", "--tag", "monitoring"]);
    assert.match(await ok(["users", "list"]), /^alice\s+monitoring$/m);

    // No permissions yet: connection.open on the vhost is refused (530 NOT_ALLOWED).
    await assert.rejects(amqp.connect(amqpUrl("alice", "s3cret", "cli-vh")));

    await ok([
      "users",
      "grant",
      "alice",
      "--vhost",
      "cli-vh",
      "--configure",
      "^alice\\.",
      "--write",
      "^alice\\.",
      "--read",
      ".*",
    ]);
    const perms = JSON.parse(await ok(["users", "permissions", "--json"])) as Array<{
      user: string;
      vhost: string;
      configure: string;
    }>;
    assert.ok(
      perms.some((p) => p.user === "alice" && p.vhost === "cli-vh" && p.configure === "^alice\\."),
    );

    const connection = await amqp.connect(amqpUrl("alice", "s3cret", "cli-vh"));
    try {
      const channel = await connection.createChannel();
      await channel.assertQueue("alice.inbox", { durable: false });
      const refused = new Promise<Error>((resolve) => channel.once("error", resolve));
      await assert.rejects(
        channel.assertQueue("bob.inbox", { durable: false }),
        /403|ACCESS_REFUSED/,
      );
      await refused;
    } finally {
      await connection.close().catch(() => undefined);
    }

    // A non-administrator cannot manage users.
    const denied = await wharf(["users", "list"], {
      WHARF_USER: "alice",
      WHARF_PASSWORD: "s3cret",
    });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /administrator/i);

    await ok(["users", "password", "alice", "n3w"]);
    await assert.rejects(amqp.connect(amqpUrl("alice", "s3cret", "cli-vh")));
    const again = await amqp.connect(amqpUrl("alice", "n3w", "cli-vh"));
    await again.close();

    await ok(["users", "revoke", "alice", "--vhost", "cli-vh"]);
    await assert.rejects(amqp.connect(amqpUrl("alice", "n3w", "cli-vh")));
    await ok(["users", "delete", "alice"]);
    await ok(["vhosts", "delete", "cli-vh"]);
    assert.doesNotMatch(await ok(["vhosts", "list"]), /^cli-vh$/m);
  });

  test("definitions made through the API survive a restart", async () => {
    const put = await api(`/api/queues/${encodeURIComponent("/")}/api.durable`, {
      method: "PUT",
      body: JSON.stringify({ durable: true, arguments: { "x-message-ttl": 60000 } }),
    });
    assert.equal(put.status, 201);
    const { dataDir, ports } = broker;
    broker.keepDataDir();
    await broker.stop();
    broker = await BrokerProcess.start({ dataDir, ports });
    try {
      const got = await api(`/api/queues/${encodeURIComponent("/")}/api.durable`);
      assert.equal(got.status, 200);
      const body = (await got.json()) as { arguments: Record<string, unknown>; durable: boolean };
      assert.equal(body.durable, true);
      assert.equal(body.arguments["x-message-ttl"], 60000);
    } finally {
      // The restarted process does not own the directory: `after` removes it.
      restartedDataDir = dataDir;
    }
  });
});
