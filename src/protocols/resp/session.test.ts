/**
 * RespSession over an in-memory duplex pair: replies in request order when a command answers
 * later than the ones behind it, messages queued behind a pending reply, QUIT after the
 * replies due, and a protocol error after the replies due.
 */
import assert from "node:assert/strict";
import type { Duplex } from "node:stream";
import { test } from "node:test";
import { duplexPair } from "../../../test/helpers/duplex-pair.ts";
import { waitFor } from "../../../test/helpers/wait-for.ts";
import type { Broker } from "../../core/broker.ts";
import { ChannelRegistry } from "../../core/channels/channel-registry.ts";
import { silentLogger } from "../../logging/logger.ts";
import { RespSimple } from "./codec/reply.ts";
import type { RespCommand } from "./commands/command.ts";
import { commandModules } from "./commands/index.ts";
import { RespServer } from "./server.ts";
import type { RespSessionLimits } from "./session.ts";

/** A test command: `SLOW ms value` answers `value` after `ms` milliseconds. */
const slow: RespCommand = {
  name: "slow",
  arity: 3,
  flags: [],
  summary: "test",
  since: "0",
  group: "test",
  handler: async (_context, args) => {
    await new Promise((resolve) => setTimeout(resolve, Number(args[1]!.toString())));
    return new RespSimple(args[2]!.toString());
  },
};

interface TestClient {
  client: Duplex;
  received: () => string;
  channels: ChannelRegistry;
}

/** A server of its own; `connect` attaches clients to it, `onWrite` sees its writes. */
function testServer(
  onWrite?: (client: number, chunk: Buffer) => void,
  limits?: Partial<RespSessionLimits>,
) {
  const channels = new ChannelRegistry();
  const server = new RespServer({
    broker: {} as Broker,
    channels,
    logger: silentLogger,
    version: "test",
    commandModules: [...commandModules, [slow]],
    ...(limits === undefined ? {} : { limits }),
  });
  let clients = 0;
  const connect = (): TestClient => {
    const id = clients++;
    const [client, serverSide] = duplexPair((side, chunk) => {
      if (side === 1) onWrite?.(id, chunk);
    });
    server.attach(serverSide, {
      remoteAddress: "127.0.0.1",
      remotePort: 1,
      localAddress: "127.0.0.1",
      localPort: 2,
    });
    let text = "";
    client.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
    });
    return { client, received: () => text, channels };
  };
  return { connect };
}

function setup(): TestClient {
  return testServer().connect();
}

test("replies keep request order when an earlier command finishes later", async () => {
  const { client, received } = setup();
  client.write("SLOW 50 first\r\nSLOW 1 second\r\nPING\r\nECHO x\r\n");
  await waitFor(() => received().endsWith("$1\r\nx\r\n"));
  assert.equal(received(), "+first\r\n+second\r\n+PONG\r\n$1\r\nx\r\n");
});

test("a message produced behind a pending reply waits for it", async () => {
  const { client, received, channels } = setup();
  client.write("HELLO 3\r\nSUBSCRIBE c\r\n");
  await waitFor(() => received().includes("subscribe"));
  const before = received().length;
  client.write("SLOW 40 done\r\n");
  await new Promise((resolve) => setTimeout(resolve, 5));
  channels.publish(Buffer.from("c"), Buffer.from("m"));
  await waitFor(() => received().includes("message"));
  assert.equal(received().slice(before), "+done\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n");
});

test("QUIT and protocol errors come after the replies already due", async () => {
  const quit = setup();
  let closed = false;
  quit.client.on("end", () => {
    closed = true;
  });
  quit.client.write("SLOW 20 a\r\nQUIT\r\nPING\r\n");
  await waitFor(() => closed);
  assert.equal(quit.received(), "+a\r\n+OK\r\n");
  const bad = setup();
  bad.client.write("SLOW 20 a\r\n*1\r\n$x\r\n");
  await waitFor(() => bad.received().includes("Protocol"));
  assert.equal(bad.received(), "+a\r\n-ERR Protocol error: invalid bulk length\r\n");
});

test("multibulk PUBLISH (the fast path): replies, deliveries, order and subscribed context", async () => {
  const pub = (channel: string, message: string) =>
    `*3\r\n$7\r\nPUBLISH\r\n$${channel.length}\r\n${channel}\r\n$${message.length}\r\n${message}\r\n`;
  const subscriber = setup();
  subscriber.client.write("SUBSCRIBE c\r\n");
  await waitFor(() => subscriber.received().includes("subscribe"));
  // RESP2 while subscribed: the subscribed-context error, as for any other form of PUBLISH.
  subscriber.client.write(pub("c", "x"));
  await waitFor(() => subscriber.received().includes("-ERR"));
  assert.match(subscriber.received(), /-ERR Can't execute 'publish': only \(P\|S\)SUBSCRIBE/);
  // Another connection, split in the middle of a request, behind a pending reply.
  const publisher = setup();
  const input = `SLOW 30 a\r\n${pub("c", "m1")}${pub("nobody", "m2")}*3\r\n$7\r\npublish\r\n$1\r\nc\r\n$2\r\nm3\r\n`;
  publisher.client.write(input.slice(0, 40));
  await new Promise((resolve) => setTimeout(resolve, 5));
  publisher.client.write(input.slice(40));
  await waitFor(() => publisher.received().length >= 16);
  assert.equal(publisher.received(), "+a\r\n:0\r\n:0\r\n:0\r\n");
  // Separate registries: the subscriber above is on its own server. Same registry now:
  const shared = setup();
  shared.client.write("HELLO 3\r\nSUBSCRIBE c\r\n");
  await waitFor(() => shared.received().includes("subscribe"));
  const before = shared.received().length;
  // RESP3: PUBLISH is allowed while subscribed, and the own message comes before the reply.
  shared.client.write(pub("c", "hi"));
  await waitFor(() => shared.received().length > before && shared.received().endsWith(":1\r\n"));
  assert.equal(
    shared.received().slice(before),
    ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n:1\r\n",
  );
  assert.equal(shared.channels.stats.published, 1);
});

test("output leaves newest session first, as Redis writes its clients: the publisher's reply, then the deliveries", async () => {
  const writes: number[] = [];
  const { connect } = testServer((client) => writes.push(client));
  const subscribers = [connect(), connect()];
  for (const subscriber of subscribers) {
    subscriber.client.write("SUBSCRIBE c\r\n");
    await waitFor(() => subscriber.received().includes("subscribe"));
  }
  const publisher = connect();
  writes.length = 0;
  publisher.client.write("PUBLISH c m\r\n");
  await waitFor(() => writes.length === 3);
  assert.deepEqual(writes, [2, 1, 0]);
  assert.equal(publisher.received(), ":2\r\n");
});

test("a session given output while others are flushed is flushed in the same burst", async () => {
  // One pending command at most: the PUBLISH behind SLOW runs when SLOW's reply is flushed,
  // and its delivery queues the subscriber during that flush.
  const { connect } = testServer(undefined, { pendingCommandsMax: 1 });
  const subscriber = connect();
  subscriber.client.write("SUBSCRIBE c\r\n");
  await waitFor(() => subscriber.received().includes("subscribe"));
  const publisher = connect();
  publisher.client.write("SLOW 10 a\r\nPUBLISH c m\r\n");
  await waitFor(() => subscriber.received().endsWith("$1\r\nm\r\n"), "the delivery");
  await waitFor(() => publisher.received() === "+a\r\n:1\r\n");
});
