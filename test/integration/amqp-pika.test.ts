/**
 * Interop with pika (Python, BlockingConnection) through test/fixtures/amqp/pika_client.py:
 * publishing with publisher confirms and consuming with prefetch and manual acks, and
 * messages crossing between pika and amqplib with their properties and headers intact.
 * Runs Debian's /usr/bin/python3, which has python3-pika (the python3 first on PATH may not).
 * Expectations were checked against RabbitMQ 3.10 (see test/helpers/amqp-target.ts).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  type AmqpSession,
  type AmqpTarget,
  drain,
  publishConfirmed,
  uniqueName,
  useAmqpSuite,
} from "../helpers/amqp-target.ts";
import { repoRoot } from "../helpers/broker-process.ts";

const python = "/usr/bin/python3";
const script = join(repoRoot, "test", "fixtures", "amqp", "pika_client.py");

let target: AmqpTarget;
let session: AmqpSession;

useAmqpSuite((started, opened) => {
  target = started;
  session = opened;
});

interface Received {
  body: string;
  headers: Record<string, unknown> | null;
  content_type: string | null;
  message_id: string | null;
  redelivered: boolean;
  delivery_tag: number;
}

function pika(mode: string, queue: string, count: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      python,
      [script, target.url, mode, queue, String(count)],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`pika ${mode} failed: ${error.message}\n${stdout}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}"));
      },
    );
  });
}

const skip = existsSync(python) ? false : "needs /usr/bin/python3 with python3-pika";

test("pika: publish with confirms and consume with acks in one connection", { skip }, async (t) => {
  const queue = uniqueName("pika");
  const channel = await session.channel();
  t.after(async () => {
    await channel.deleteQueue(queue);
    await channel.close();
  });
  const result = await pika("roundtrip", queue, 20);
  assert.equal(result.published, 20);
  const received = result.received as Received[];
  assert.deepEqual(
    received.map((m) => m.body),
    Array.from({ length: 20 }, (_, index) => `pika-${index}`),
  );
  assert.deepEqual(
    received.map((m) => m.delivery_tag),
    Array.from({ length: 20 }, (_, index) => index + 1),
  );
  assert.ok(received.every((m) => !m.redelivered && m.content_type === "text/plain"));
  assert.deepEqual(received[3].headers, { index: 3, client: "pika" });
  // Everything was acked.
  assert.equal((await channel.checkQueue(queue)).messageCount, 0);
});

test("pika publishes, amqplib reads the properties; amqplib publishes, pika reads them", {
  skip,
}, async (t) => {
  const queue = uniqueName("pika-cross");
  const channel = await session.confirmChannel();
  t.after(async () => {
    await channel.deleteQueue(queue);
    await channel.close();
  });
  await pika("publish", queue, 3);
  const first = await channel.get(queue, { noAck: true });
  assert.ok(first);
  assert.equal(first.content.toString(), "pika-0");
  assert.equal(first.properties.contentType, "text/plain");
  assert.equal(first.properties.deliveryMode, 2);
  assert.equal(first.properties.messageId, "pika-id-0");
  assert.deepEqual(first.properties.headers, { index: 0, client: "pika" });
  assert.deepEqual(await drain(channel, queue), ["pika-1", "pika-2"]);

  await publishConfirmed(channel, "", queue, ["from-amqplib-0", "from-amqplib-1"], {
    headers: { client: "amqplib", nested: { depth: 2 } },
    contentType: "application/octet-stream",
    messageId: "amqplib-id",
  });
  const result = await pika("consume", queue, 2);
  const received = result.received as Received[];
  assert.deepEqual(
    received.map((m) => [m.body, m.content_type, m.message_id]),
    [
      ["from-amqplib-0", "application/octet-stream", "amqplib-id"],
      ["from-amqplib-1", "application/octet-stream", "amqplib-id"],
    ],
  );
  assert.deepEqual(received[0].headers, { client: "amqplib", nested: { depth: 2 } });
});
