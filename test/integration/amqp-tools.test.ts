/**
 * Interop with the rabbitmq-c command-line tools (Debian package amqp-tools):
 * amqp-declare-queue, amqp-publish (single body, line-buffered, headers, content type),
 * amqp-consume with -c (count) and -p (prefetch), amqp-get (exit 1 when empty) and
 * amqp-delete-queue (prints the message count). amqplib checks what the tools did.
 * Expectations (outputs, exit codes) were checked against RabbitMQ 3.10.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import {
  type AmqpSession,
  type AmqpTarget,
  drain,
  eventually,
  publishConfirmed,
  uniqueName,
  useAmqpSuite,
} from "../helpers/amqp-target.ts";

let target: AmqpTarget;
let session: AmqpSession;

useAmqpSuite((started, opened) => {
  target = started;
  session = opened;
});

/** Runs one of the tools with `-u <url>` first; bounded by a timeout. */
function tool(
  name: string,
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      name,
      ["-u", target.url, ...args],
      { timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

const skip = existsSync("/usr/bin/amqp-publish") ? false : "needs amqp-tools";

test("amqp-declare-queue, amqp-publish, amqp-get and amqp-delete-queue", { skip }, async () => {
  const queue = uniqueName("tools");
  const declared = await tool("amqp-declare-queue", ["-q", queue]);
  assert.equal(declared.code, 0, declared.stderr);
  assert.equal(declared.stdout.trim(), queue);
  const channel = await session.channel();
  try {
    assert.equal((await channel.checkQueue(queue)).messageCount, 0);

    const single = await tool("amqp-publish", [
      "-r",
      queue,
      "-b",
      "hello",
      "-C",
      "text/plain",
      "-H",
      "origin: amqp-tools",
      "-p",
    ]);
    assert.equal(single.code, 0, single.stderr);
    const lines = await tool("amqp-publish", ["-r", queue, "-l"], "line-1\nline-2\n");
    assert.equal(lines.code, 0, lines.stderr);
    assert.equal((await channel.checkQueue(queue)).messageCount, 3);

    const first = await channel.get(queue, { noAck: true });
    assert.ok(first);
    assert.equal(first.content.toString(), "hello");
    assert.equal(first.properties.contentType, "text/plain");
    assert.equal(first.properties.deliveryMode, 2);
    assert.equal(String(first.properties.headers?.origin), "amqp-tools");

    const got = await tool("amqp-get", ["-q", queue]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, "line-1\n"); // -l keeps each line's newline in the body

    const deleted = await tool("amqp-delete-queue", ["-q", queue]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout.trim(), "1"); // line-2 was still in it
    const gone = await tool("amqp-get", ["-q", queue]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /404/);
  } finally {
    await channel.deleteQueue(queue);
    await channel.close();
  }
});

test("amqp-get on an empty queue exits 2 and prints nothing", { skip }, async () => {
  const queue = uniqueName("tools-empty");
  const channel = await session.channel();
  await channel.assertQueue(queue, { durable: false });
  try {
    const got = await tool("amqp-get", ["-q", queue]);
    assert.equal(got.code, 2);
    assert.equal(got.stdout, "");
  } finally {
    await channel.deleteQueue(queue);
    await channel.close();
  }
});

test("amqp-consume -c stops after the count and acks exactly those", { skip }, async () => {
  const queue = uniqueName("tools-consume");
  const channel = await session.confirmChannel();
  await channel.assertQueue(queue, { durable: false });
  try {
    await publishConfirmed(channel, "", queue, ["a", "b", "c", "d"]);
    // amqp-consume runs the command once per message, the body on its stdin.
    const consumed = await tool("amqp-consume", [
      "-q",
      queue,
      "-c",
      "3",
      "-p",
      "1",
      "--",
      "sh",
      "-c",
      "cat; echo",
    ]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.equal(consumed.stdout, "a\nb\nc\n");
    assert.deepEqual(await drain(channel, queue), ["d"]);
  } finally {
    await channel.deleteQueue(queue);
    await channel.close();
  }
});

test("amqp-declare-queue -d on an existing transient queue fails with 406", { skip }, async () => {
  const queue = uniqueName("tools-406");
  const channel = await session.channel();
  await channel.assertQueue(queue, { durable: false });
  try {
    const declared = await tool("amqp-declare-queue", ["-q", queue, "-d"]);
    assert.notEqual(declared.code, 0);
    assert.match(declared.stderr, /406/);
  } finally {
    await channel.deleteQueue(queue);
    await channel.close();
  }
});

// amqp-tools 0.11 crashes (SIGSEGV) on -e without -r, so a routing key is given (a fanout
// exchange ignores it). amqp-consume declares the named queue (auto-delete) and binds it; the
// broker deletes it when the consumer leaves.
test("amqp-consume -q -e declares an auto-delete queue bound to an exchange", {
  skip,
}, async () => {
  const exchange = uniqueName("tools-ex");
  const queue = uniqueName("tools-bound");
  const channel = await session.confirmChannel();
  await channel.assertExchange(exchange, "fanout", { durable: false });
  try {
    const consumer = tool("amqp-consume", [
      "-q",
      queue,
      "-e",
      exchange,
      "-r",
      "ignored",
      "-c",
      "2",
      "--",
      "sh",
      "-c",
      "cat; echo",
    ]);
    // amqp-consume declares, binds, then consumes: a consumer on the queue means it is bound.
    await eventually(
      async () => {
        const probe = await session.channel();
        try {
          return (await probe.checkQueue(queue)).consumerCount === 1;
        } catch {
          return false;
        } finally {
          await probe.close().catch(() => {});
        }
      },
      "amqp-consume to attach",
      10_000,
    );
    await publishConfirmed(channel, exchange, "", ["first"]);
    await publishConfirmed(channel, exchange, "", ["second"]);
    const result = await consumer;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "first\nsecond\n");
    const probe = await session.channel();
    await assert.rejects(probe.checkQueue(queue), /404/); // auto-deleted
  } finally {
    await channel.deleteExchange(exchange);
    await channel.close();
  }
});
