/**
 * RESP conformance on raw sockets against a real broker process, named after the Redis
 * behaviour they pin down (redis/src/networking.c, tests/unit/protocol.tcl):
 * - protocol errors get Redis's exact `-ERR Protocol error: ...` reply, the connection is
 *   closed, the broker logs a line with a snippet, and other connections keep being served;
 * - Redis's exact errors for unknown commands, wrong arity and the RESP2 subscribed context;
 * - a subscriber that stops reading is disconnected by the pub/sub output-buffer limit while
 *   the broker's memory stays bounded.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { BrokerProcess } from "../helpers/broker-process.ts";
import { rawExchange } from "../helpers/resp-raw-client.ts";

let broker: BrokerProcess;

before(async () => {
  broker = await BrokerProcess.start({ args: ["--resp-proto-max-bulk-bytes", "1048576"] });
});

after(async () => {
  await broker?.stop();
});

/** Sends raw bytes on a fresh connection; the reply until the peer closes or `waitMs` pass. */
async function exchange(bytes: string | Buffer, waitMs = 400) {
  const { output, closed } = await rawExchange(broker.ports.resp, bytes, waitMs);
  return { reply: output, closed };
}

const protocolErrors: Array<[name: string, input: string, reply: string]> = [
  ["bad multibulk length", "*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"],
  [
    "multibulk length over the max",
    "*1048577\r\n",
    "-ERR Protocol error: invalid multibulk length\r\n",
  ],
  ["non-numeric bulk length", "*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n"],
  [
    "bulk over proto-max-bulk-len",
    "*2\r\n$4\r\nECHO\r\n$1048577\r\n",
    "-ERR Protocol error: invalid bulk length\r\n",
  ],
  ["expected $", "*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"],
  [
    "unbalanced quotes",
    'ECHO "unterminated\r\n',
    "-ERR Protocol error: unbalanced quotes in request\r\n",
  ],
];

for (const [name, input, reply] of protocolErrors) {
  test(`protocol error (${name}): Redis's reply, then the connection closes`, async () => {
    const result = await exchange(`PING\r\n${input}PING\r\n`);
    assert.equal(result.reply, `+PONG\r\n${reply}`);
    assert.equal(result.closed, true);
    // Another connection is served.
    assert.equal((await exchange("PING\r\n")).reply, "+PONG\r\n");
  });
}

test("protocol errors are logged with a bounded snippet", async () => {
  await exchange("*1\r\n$zz\r\n");
  const deadline = Date.now() + 3000;
  while (!broker.stderr.includes("resp protocol error") && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const line = broker.stderr.split("\n").find((text) => text.includes("resp protocol error"));
  assert.ok(line, broker.stderr);
  assert.match(line, /"snippet":/);
});

test("Redis's errors: unknown command, wrong arity, unknown subcommand", async () => {
  const result = await exchange(
    "FOO bar baz\r\nPUBLISH a\r\nCLIENT NOPE\r\nPING a b\r\nSELECT 2\r\nECHO\r\n",
  );
  assert.equal(
    result.reply,
    [
      "-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' ",
      "-ERR wrong number of arguments for 'publish' command",
      "-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.",
      "-ERR wrong number of arguments for 'ping' command",
      "-ERR DB index is out of range",
      "-ERR wrong number of arguments for 'echo' command",
      "",
    ].join("\r\n"),
  );
});

test("RESP2 subscribed context: only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET", async () => {
  const result = await exchange(
    "SUBSCRIBE c\r\nPUBLISH c x\r\nPING\r\nCLIENT ID\r\nRESET\r\nPING\r\n",
  );
  assert.equal(
    result.reply,
    [
      "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1",
      "-ERR Can't execute 'publish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
      "*2\r\n$4\r\npong\r\n$0\r\n",
      "-ERR Can't execute 'client|id': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
      "+RESET",
      "+PONG",
      "",
    ].join("\r\n"),
  );
});

test("QUIT answers +OK and closes", async () => {
  const result = await exchange("QUIT\r\nPING\r\n");
  assert.equal(result.reply, "+OK\r\n");
  assert.equal(result.closed, true);
});

async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

test("a subscriber that stops reading is disconnected by the output-buffer limit", async (t) => {
  const limited = await BrokerProcess.start({
    args: [
      "--resp-pubsub-buffer-hard-bytes",
      String(4 * 1024 * 1024),
      "--resp-pubsub-buffer-soft-bytes",
      String(1024 * 1024),
      "--resp-pubsub-buffer-soft-ms",
      "60000",
    ],
  });
  t.after(() => limited.stop());
  // The slow subscriber: a tiny receive buffer and never reads after subscribing.
  const slow: Socket = connect({ port: limited.ports.resp, host: "127.0.0.1" });
  await new Promise<void>((resolve) => slow.once("connect", () => resolve()));
  slow.write("SUBSCRIBE firehose\r\n");
  await new Promise<void>((resolve) => slow.once("data", () => resolve()));
  slow.pause();
  let slowClosed = false;
  slow.on("close", () => {
    slowClosed = true;
  });
  const publisher = connect({ port: limited.ports.resp, host: "127.0.0.1" });
  await new Promise<void>((resolve) => publisher.once("connect", () => resolve()));
  let replies = "";
  publisher.on("data", (chunk) => {
    replies = (replies + chunk.toString("latin1")).slice(-64);
  });
  const payload = "x".repeat(16 * 1024);
  const command = `*3\r\n$7\r\nPUBLISH\r\n$8\r\nfirehose\r\n$${payload.length}\r\n${payload}\r\n`;
  const rssBefore = await rssOf(limited.pid);
  // 12,000 x 16 KiB = 192 MiB offered: far above the 4 MiB hard limit. (RSS also moves with
  // garbage collection of the input buffers, tens of MiB either way; the offered volume is
  // large enough that a subscriber buffered without bound could not stay under the bound.)
  for (let i = 0; i < 12_000 && !slowClosed; i++) {
    if (!publisher.write(command)) await new Promise((resolve) => publisher.once("drain", resolve));
    if (i % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  publisher.write("PING\r\n");
  const deadline = Date.now() + 10_000;
  while (!replies.endsWith("+PONG\r\n") && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(replies.endsWith("+PONG\r\n"), "the publisher is served throughout");
  // The broker closed the slow subscriber; its socket sees the end once it reads again.
  slow.resume();
  const closeDeadline = Date.now() + 10_000;
  while (!slowClosed && Date.now() < closeDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(slowClosed, true, "slow subscriber disconnected");
  assert.match(limited.stderr, /output buffer over the pub\/sub limit/);
  const rssAfter = await rssOf(limited.pid);
  // Bounded: far less than the 192 MiB published.
  assert.ok(rssAfter - rssBefore < 96 * 1024 * 1024, `rss grew by ${rssAfter - rssBefore}`);
  publisher.destroy();
  slow.destroy();
});
