/**
 * AmqpSession and AmqpChannel over an in-memory duplex, with an in-memory virtual host
 * (testing/fake-vhost.ts): the connection handshake and its negotiation, the reply codes of
 * every class of bad input, and the channel's publish / consume / ack / confirm / tx paths.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { pino } from "pino";
import { duplexPair } from "../../../test/helpers/duplex-pair.ts";
import { WharfError } from "../../errors/index.ts";
import { silentLogger } from "../../logging/logger.ts";
import { amqpFrameType, encodeMethodFrame } from "./codec/frame.ts";
import { DirectReplyRegistry } from "./direct-reply-to.ts";
import { AmqpServer } from "./server.ts";
import type { AmqpSessionLimits } from "./session.ts";
import { FakeVirtualHost } from "./testing/fake-vhost.ts";
import { AmqpWireClient } from "./testing/wire-client.ts";

function harness(
  limits: Partial<AmqpSessionLimits> = {},
  options: { logger?: typeof silentLogger; debugFrames?: boolean; connectionsMax?: number } = {},
) {
  const vhost = new FakeVirtualHost();
  const server = new AmqpServer({
    debugFrames: options.debugFrames,
    connectionsMax: options.connectionsMax,
    broker: {
      authenticate(user, password) {
        if (user !== "guest" || password !== "guest") {
          throw new WharfError("WHARF_AUTHENTICATION_FAILED", "invalid user name or password");
        }
        return { user };
      },
      vhost: (name) => (name === "/" || name === "/private" ? vhost : undefined),
      canAccessVhost: (_user, name) => name === "/",
    },
    logger: options.logger ?? silentLogger,
    version: "0.0.0-test",
    limits,
    replyRegistry: new DirectReplyRegistry(),
  });
  const connect = () => {
    const [serverSide, clientSide] = duplexPair();
    const session = server.attach(serverSide, "127.0.0.1");
    return { client: new AmqpWireClient(clientSide), session };
  };
  return { vhost, server, connect };
}

async function openClient(
  h: ReturnType<typeof harness>,
  options: Parameters<AmqpWireClient["handshake"]>[0] = {},
) {
  const { client, session } = h.connect();
  await client.handshake(options);
  await client.expect("connection.open-ok");
  await client.openChannel(1);
  return { client, session };
}

async function declare(client: AmqpWireClient, channel: number, queue: string) {
  client.send(channel, {
    name: "queue.declare",
    args: {
      ticket: 0,
      queue,
      passive: false,
      durable: false,
      exclusive: false,
      autoDelete: false,
      nowait: false,
      arguments: new Map(),
    },
  });
  return client.expect("queue.declare-ok");
}

function consume(client: AmqpWireClient, channel: number, queue: string, noAck = false, tag = "") {
  client.send(channel, {
    name: "basic.consume",
    args: {
      ticket: 0,
      queue,
      consumerTag: tag,
      noLocal: false,
      noAck,
      exclusive: false,
      nowait: false,
      arguments: new Map(),
    },
  });
}

async function expectConnectionClose(client: AmqpWireClient, code: number) {
  const close = await client.expect("connection.close");
  assert.equal(close.replyCode, code, close.replyText);
  client.send(0, { name: "connection.close-ok", args: {} });
  return close;
}

describe("AmqpSession: connection", () => {
  test("a wrong protocol header is answered with AMQP 0-9-1's and the socket closes [spec 4.2.2]", async () => {
    const { client } = harness().connect();
    client.write(Buffer.from("AMQP\x01\x01\x00\x0a"));
    await client.nextFrame(1000);
    assert.deepEqual(client.raw, Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]));
    assert.equal(client.closed, true);
  });

  test("start announces product, capabilities and mechanisms; tune offers RabbitMQ's defaults", async () => {
    const h = harness();
    const { client } = h.connect();
    const { start, tune } = await client.handshake();
    assert.equal(start.versionMajor, 0);
    assert.equal(start.versionMinor, 9);
    const product = start.serverProperties.get("product");
    assert.deepEqual(product, { type: "S", value: "WharfMQ" });
    const capabilities = start.serverProperties.get("capabilities");
    assert.equal(capabilities?.type, "F");
    for (const name of [
      "publisher_confirms",
      "exchange_exchange_bindings",
      "basic.nack",
      "consumer_cancel_notify",
      "connection.blocked",
      "consumer_priorities",
      "authentication_failure_close",
      "per_consumer_qos",
      "direct_reply_to",
    ]) {
      assert.deepEqual(
        (capabilities!.value as Map<string, unknown>).get(name),
        { type: "t", value: true },
        name,
      );
    }
    assert.equal(start.mechanisms.toString(), "PLAIN AMQPLAIN");
    assert.equal(start.locales.toString(), "en_US");
    assert.deepEqual(
      { channelMax: tune!.channelMax, frameMax: tune!.frameMax, heartbeat: tune!.heartbeat },
      { channelMax: 2047, frameMax: 131072, heartbeat: 60 },
    );
    await client.expect("connection.open-ok");
    client.send(0, {
      name: "connection.close",
      args: { replyCode: 200, replyText: "bye", classId: 0, methodId: 0 },
    });
    await client.expect("connection.close-ok");
    await client.nextFrame(500);
    assert.equal(client.closed, true);
  });

  test("a wrong password is 403 ACCESS_REFUSED when the client has authentication_failure_close", async () => {
    const { client } = harness().connect();
    await client.handshake({ password: "nope", stopAfter: "start-ok" });
    const close = await expectConnectionClose(client, 403);
    assert.match(close.replyText, /^ACCESS_REFUSED - Login was refused/);
  });

  test("a wrong password only drops the socket for clients without that capability", async () => {
    const { client } = harness().connect();
    await client.handshake({ password: "nope", capabilities: {}, stopAfter: "start-ok" });
    assert.equal(await client.nextFrame(1000), null);
    assert.equal(client.closed, true);
  });

  test("AMQPLAIN credentials are accepted", async () => {
    const { client } = harness().connect();
    client.sendHeader();
    await client.expect("connection.start");
    // LOGIN S guest, PASSWORD S guest: a field table without its length prefix.
    const entry = (key: string, value: string) =>
      Buffer.concat([
        Buffer.from([key.length]),
        Buffer.from(key),
        Buffer.from("S"),
        Buffer.from([0, 0, 0, value.length]),
        Buffer.from(value),
      ]);
    client.send(0, {
      name: "connection.start-ok",
      args: {
        clientProperties: new Map(),
        mechanism: "AMQPLAIN",
        response: Buffer.concat([entry("LOGIN", "guest"), entry("PASSWORD", "guest")]),
        locale: "en_US",
      },
    });
    await client.expect("connection.tune");
  });

  test("tune-ok: a frame_max above the server's, or below 4096, is 530 NOT_ALLOWED", async () => {
    for (const frameMax of [262144, 1024]) {
      const { client } = harness().connect();
      await client.handshake({ frameMax, stopAfter: "tune-ok" });
      const close = await expectConnectionClose(client, 530);
      assert.match(close.replyText, /frame_max/);
    }
  });

  test("an unknown vhost, or one the user may not use, is 530 NOT_ALLOWED", async () => {
    for (const vhost of ["/nope", "/private"]) {
      const { client } = harness().connect();
      await client.handshake({ vhost });
      const close = await expectConnectionClose(client, 530);
      assert.match(close.replyText, /^NOT_ALLOWED - /);
    }
  });

  test("the negotiated channel_max bounds channel ids (530)", async () => {
    const h = harness();
    const { client } = h.connect();
    await client.handshake({ channelMax: 10 });
    await client.expect("connection.open-ok");
    client.send(11, { name: "channel.open", args: { outOfBand: "" } });
    await expectConnectionClose(client, 530);
  });

  test("a method on a channel that is not open is 504 CHANNEL_ERROR", async () => {
    const h = harness();
    const { client } = h.connect();
    await client.handshake();
    await client.expect("connection.open-ok");
    client.send(3, {
      name: "basic.qos",
      args: { prefetchSize: 0, prefetchCount: 1, global: false },
    });
    const close = await expectConnectionClose(client, 504);
    assert.equal(close.classId, 60);
    assert.equal(close.methodId, 10);
  });

  test("a second channel.open on an open channel is 504", async () => {
    const { client } = await openClient(harness());
    client.send(1, { name: "channel.open", args: { outOfBand: "" } });
    await expectConnectionClose(client, 504);
  });

  test("an oversized frame or a bad frame-end is 501 FRAME_ERROR", async () => {
    const h = harness();
    {
      const { client } = await openClient(h);
      const header = Buffer.from([1, 0, 1, 0, 0, 0, 0]);
      header.writeUInt32BE(200_000, 3);
      client.write(header);
      await expectConnectionClose(client, 501);
    }
    {
      const { client } = await openClient(h);
      const frame = encodeMethodFrame(1, {
        name: "basic.qos",
        args: { prefetchSize: 0, prefetchCount: 1, global: false },
      });
      frame[frame.length - 1] = 0x00;
      client.write(frame);
      await expectConnectionClose(client, 501);
    }
  });

  test("unknown class is 540, unknown method of a known class is 503", async () => {
    const h = harness();
    for (const [classId, methodId, code] of [
      [99, 1, 540],
      [60, 999, 503],
    ] as const) {
      const { client } = await openClient(h);
      const frame = Buffer.from([1, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0xce]);
      frame.writeUInt16BE(classId, 7);
      frame.writeUInt16BE(methodId, 9);
      client.write(frame);
      await expectConnectionClose(client, code);
    }
  });

  test("content out of sequence is 505 UNEXPECTED_FRAME", async () => {
    const h = harness();
    const publish = encodeMethodFrame(1, {
      name: "basic.publish",
      args: { ticket: 0, exchange: "", routingKey: "q", mandatory: false, immediate: false },
    });
    // A content header of class 60 announcing 4 body bytes, no properties.
    const header = Buffer.from([
      2, 0, 1, 0, 0, 0, 14, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0xce,
    ]);
    const body = (n: number) => {
      const frame = Buffer.alloc(8 + n, 0x61);
      frame[0] = 3;
      frame.writeUInt16BE(1, 1);
      frame.writeUInt32BE(n, 3);
      frame[7 + n] = 0xce;
      return frame;
    };
    const qos = encodeMethodFrame(1, {
      name: "basic.qos",
      args: { prefetchSize: 0, prefetchCount: 1, global: false },
    });
    const cases: Array<[string, Buffer]> = [
      ["header without publish", header],
      ["body without publish", body(4)],
      ["method instead of header", Buffer.concat([publish, qos])],
      ["method during body", Buffer.concat([publish, header, body(2), qos])],
      ["body longer than announced", Buffer.concat([publish, header, body(5)])],
    ];
    for (const [what, bytes] of cases) {
      const { client } = await openClient(h);
      client.write(bytes);
      const close = await client.expect("connection.close");
      assert.equal(close.replyCode, 505, what);
    }
  });

  test("missed heartbeats close the socket after two intervals", async () => {
    const { client } = harness().connect();
    await client.handshake({ heartbeat: 1 });
    await client.expect("connection.open-ok");
    const started = Date.now();
    let heartbeats = 0;
    for (;;) {
      const frame = await client.nextFrame(4000);
      if (frame === null) break;
      if (frame.type === amqpFrameType.heartbeat) heartbeats++;
    }
    const elapsed = Date.now() - started;
    assert.equal(client.closed, true);
    assert.ok(heartbeats >= 1, "the server sends heartbeats");
    assert.ok(elapsed >= 1400 && elapsed < 3500, `closed after ${elapsed} ms`);
  });

  test("connection.blocked / unblocked reach clients with the capability", async () => {
    const h = harness();
    const { client } = await openClient(h);
    await declare(client, 1, "bq");
    h.server.setResourceAlarm("low on disk");
    const blocked = await client.expect("connection.blocked");
    assert.equal(blocked.reason, "low on disk");
    // A publishing connection is not read while the alarm lasts (RabbitMQ's "blocked").
    client.publish(1, "", "bq", "held");
    client.send(1, { name: "basic.get", args: { ticket: 0, queue: "bq", noAck: true } });
    assert.equal(await client.nextFrame(300), null, "nothing is read after the publish");
    h.server.setResourceAlarm(null);
    await client.expect("connection.unblocked");
    const got = await client.nextMessage();
    assert.equal(got.method.name, "basic.get-ok");
    assert.equal(got.body.toString(), "held");
  });

  test("WHARF_DEBUG_FRAMES dumps frames in both directions, bounded", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    const h = harness(
      { debugFrameBytesMax: 16 },
      { logger: pino({ level: "info" }, sink), debugFrames: true },
    );
    const { client } = await openClient(h);
    client.close();
    const frames = lines
      .map((line) => JSON.parse(line))
      .filter((line) => /amqp frame/.test(line.msg));
    assert.ok(frames.some((line) => line.direction === "in" && line.channel === 1));
    assert.ok(frames.some((line) => line.direction === "out"));
    assert.ok(frames.every((line) => line.hex.length <= 32));
  });

  test("connections above the limit are refused at accept", async () => {
    const h = harness({}, { connectionsMax: 1 });
    await new Promise<void>((resolve) => h.server.netServer.listen(0, "127.0.0.1", resolve));
    const port = (h.server.netServer.address() as { port: number }).port;
    const dial = () =>
      new Promise<AmqpWireClient>((resolve) => {
        const socket = connect({ host: "127.0.0.1", port }, () =>
          resolve(new AmqpWireClient(socket)),
        );
      });
    const first = await dial();
    await first.handshake();
    await first.expect("connection.open-ok");
    const second = await dial();
    second.sendHeader();
    assert.equal(await second.nextFrame(1000), null);
    assert.equal(second.closed, true);
    assert.equal(h.server.stats.connectionsRefused, 1);
    first.close();
    await h.server.close();
  });

  test("the vhost hears that the connection closed", async () => {
    const h = harness();
    const { client, session } = await openClient(h);
    client.close();
    await session.closed;
    assert.deepEqual(h.vhost.closedConnections, [session.identity.connectionId]);
  });
});

describe("AmqpChannel", () => {
  test("publish and consume: consume-ok first, delivery tags from 1, properties verbatim", async () => {
    const h = harness();
    const { client } = await openClient(h);
    await declare(client, 1, "q1");
    const properties = {
      contentType: "text/plain",
      headers: new Map([["n", { type: "I" as const, value: 7 }]]),
      deliveryMode: 2,
      messageId: "m-1",
    };
    client.publish(1, "", "q1", "hello", { properties });
    client.publish(1, "", "q1", Buffer.alloc(300_000, 0x62));
    consume(client, 1, "q1");
    const ok = await client.expect("basic.consume-ok");
    assert.match(ok.consumerTag, /^amq\.ctag-/);
    const first = await client.nextMessage();
    assert.equal(first.method.name, "basic.deliver");
    const args = first.method.args as { deliveryTag: number; consumerTag: string };
    assert.equal(args.deliveryTag, 1);
    assert.equal(args.consumerTag, ok.consumerTag);
    assert.equal(first.body.toString(), "hello");
    assert.equal(first.properties.contentType, "text/plain");
    assert.equal(first.properties.messageId, "m-1");
    assert.deepEqual(first.properties.headers?.get("n"), { type: "I", value: 7 });
    const second = await client.nextMessage();
    assert.equal((second.method.args as { deliveryTag: number }).deliveryTag, 2);
    assert.equal(second.body.length, 300_000);
  });

  test("a connection yields after its per-turn input budget, so one publisher cannot hold the loop", async () => {
    const h = harness({ inputBytesPerTurn: 4096 });
    const { client } = await openClient(h);
    await declare(client, 1, "fair");
    // 1000 publishes of ~60 frame bytes each arrive at once; the budget is ~70 of them.
    const total = 1000;
    const stream = client.stream;
    stream.cork();
    for (let i = 0; i < total; i++) client.publish(1, "", "fair", `m${i}`);
    stream.uncork();
    const queue = h.vhost.queues.get("fair")!;
    const counts: number[] = [];
    for (let turn = 0; turn < 200 && queue.ready.length < total; turn++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      counts.push(queue.ready.length);
    }
    assert.equal(queue.ready.length, total, "every publish arrives in the end");
    // Several turns were needed, and no turn took much more than the budget.
    const steps = counts.map((count, i) => count - (counts[i - 1] ?? 0)).filter((n) => n > 0);
    assert.ok(steps.length >= 8, `publishes spread over turns: ${steps.join(",")}`);
    // Without the budget all 1000 go in the first turn; a step may span two turns.
    assert.ok(Math.max(...steps) <= 160, `about one budget per turn: ${steps.join(",")}`);
    assert.deepEqual(
      queue.ready.slice(0, 3).map((m) => m.body.toString()),
      ["m0", "m1", "m2"],
      "order kept across turns",
    );
  });

  test("publishing to a missing exchange closes the channel with 404; the connection lives", async () => {
    const h = harness();
    const { client } = await openClient(h);
    client.publish(1, "missing", "k", "x");
    const close = await client.expect("channel.close");
    assert.equal(close.replyCode, 404);
    assert.equal(close.replyText, "NOT_FOUND - no exchange 'missing' in vhost '/'");
    assert.equal(close.classId, 60);
    assert.equal(close.methodId, 40);
    // Ignored until close-ok: this would be a 504 on an open connection otherwise.
    client.send(1, {
      name: "basic.qos",
      args: { prefetchSize: 0, prefetchCount: 1, global: false },
    });
    client.send(1, { name: "channel.close-ok", args: {} });
    await client.openChannel(1);
    await declare(client, 1, "after");
  });

  test("basic.qos prefetch: deliveries stop at the window and resume after acks", async () => {
    const h = harness();
    const { client } = await openClient(h);
    await declare(client, 1, "pf");
    for (let i = 0; i < 5; i++) client.publish(1, "", "pf", `m${i}`);
    client.send(1, {
      name: "basic.qos",
      args: { prefetchSize: 0, prefetchCount: 2, global: false },
    });
    await client.expect("basic.qos-ok");
    consume(client, 1, "pf");
    await client.expect("basic.consume-ok");
    const a = await client.nextMessage();
    const b = await client.nextMessage();
    assert.deepEqual([a.body.toString(), b.body.toString()], ["m0", "m1"]);
    assert.equal(await client.nextFrame(200), null, "no third delivery beyond prefetch 2");
    client.send(1, { name: "basic.ack", args: { deliveryTag: 2, multiple: true } });
    const c = await client.nextMessage();
    const d = await client.nextMessage();
    assert.deepEqual([c.body.toString(), d.body.toString()], ["m2", "m3"]);
    assert.equal(h.vhost.queues.get("pf")!.inflight.size, 2);
  });

  test("an unknown delivery tag is 406 PRECONDITION_FAILED", async () => {
    const { client } = await openClient(harness());
    client.send(1, { name: "basic.ack", args: { deliveryTag: 9, multiple: false } });
    const close = await client.expect("channel.close");
    assert.equal(close.replyCode, 406);
    assert.equal(close.replyText, "PRECONDITION_FAILED - unknown delivery tag 9");
  });

  test("closing a channel requeues its unacknowledged deliveries", async () => {
    const h = harness();
    const { client } = await openClient(h);
    await declare(client, 1, "rq");
    client.publish(1, "", "rq", "one");
    consume(client, 1, "rq");
    await client.expect("basic.consume-ok");
    await client.nextMessage();
    client.send(1, {
      name: "channel.close",
      args: { replyCode: 200, replyText: "", classId: 0, methodId: 0 },
    });
    await client.expect("channel.close-ok");
    const queue = h.vhost.queues.get("rq")!;
    assert.equal(queue.ready.length, 1);
    assert.equal(queue.ready[0]!.redelivered, true);
    await client.openChannel(1);
    client.send(1, { name: "basic.get", args: { ticket: 0, queue: "rq", noAck: true } });
    const got = await client.nextMessage();
    assert.equal(got.method.name, "basic.get-ok");
    assert.equal((got.method.args as { redelivered: boolean }).redelivered, true);
    // The queue reported a delivery count: it travels as the x-delivery-count header.
    assert.deepEqual(got.properties.headers?.get("x-delivery-count"), { type: "l", value: 1n });
    client.send(1, { name: "basic.get", args: { ticket: 0, queue: "rq", noAck: true } });
    await client.expect("basic.get-empty");
  });

  test("confirms go out in order, coalesced with multiple=true, only once outcomes resolve", async () => {
    const h = harness();
    const { client } = await openClient(h);
    await declare(client, 1, "cf");
    client.send(1, { name: "confirm.select", args: { nowait: false } });
    await client.expect("confirm.select-ok");
    h.vhost.holdOutcomes();
    for (let i = 0; i < 3; i++) client.publish(1, "", "cf", `m${i}`);
    // Unroutable: its outcome is known at once, but it is confirmed after the three before it.
    client.publish(1, "", "nowhere", "x");
    assert.equal(await client.nextFrame(200), null, "nothing confirmed while outcomes are pending");
    h.vhost.releaseOutcomes([2, 1, 0]);
    const ack = await client.expect("basic.ack");
    assert.deepEqual({ tag: ack.deliveryTag, multiple: ack.multiple }, { tag: 4, multiple: true });
    h.vhost.nackNext = true;
    client.publish(1, "", "cf", "refused");
    const nack = await client.expect("basic.nack");
    assert.deepEqual(
      { tag: nack.deliveryTag, multiple: nack.multiple },
      { tag: 5, multiple: false },
    );
  });

  test("mandatory unroutable publish: basic.return 312 NO_ROUTE, then the confirm", async () => {
    const { client } = await openClient(harness());
    client.send(1, { name: "confirm.select", args: { nowait: false } });
    await client.expect("confirm.select-ok");
    client.publish(1, "", "nowhere", "lost", { mandatory: true });
    const returned = await client.nextMessage();
    assert.equal(returned.method.name, "basic.return");
    assert.deepEqual(
      { ...(returned.method.args as object) },
      { replyCode: 312, replyText: "NO_ROUTE", exchange: "", routingKey: "nowhere" },
    );
    assert.equal(returned.body.toString(), "lost");
    const ack = await client.expect("basic.ack");
    assert.equal(ack.deliveryTag, 1);
  });

  test("tx: publishes and acks apply at commit, not before; rollback drops them", async () => {
    const h = harness();
    const { client } = await openClient(h);
    await declare(client, 1, "tq");
    client.send(1, { name: "tx.select", args: {} });
    await client.expect("tx.select-ok");
    client.publish(1, "", "tq", "t1");
    client.send(1, { name: "tx.rollback", args: {} });
    await client.expect("tx.rollback-ok");
    assert.equal(h.vhost.queues.get("tq")!.ready.length, 0);
    client.publish(1, "", "tq", "t2");
    await declare(client, 1, "tq");
    assert.equal(h.vhost.queues.get("tq")!.ready.length, 0);
    client.send(1, { name: "tx.commit", args: {} });
    await client.expect("tx.commit-ok");
    assert.equal(h.vhost.queues.get("tq")!.ready.length, 1);
    client.send(1, { name: "confirm.select", args: { nowait: false } });
    const close = await client.expect("channel.close");
    assert.equal(close.replyCode, 406);
  });

  test("a reused consumer tag is 530 NOT_ALLOWED", async () => {
    const h = harness();
    const { client } = await openClient(h);
    await declare(client, 1, "dup");
    consume(client, 1, "dup", false, "tag");
    await client.expect("basic.consume-ok");
    consume(client, 1, "dup", false, "tag");
    await expectConnectionClose(client, 530);
  });

  test("a deleted queue cancels its consumers with basic.cancel (consumer_cancel_notify)", async () => {
    const h = harness();
    const { client } = await openClient(h);
    await declare(client, 1, "gone");
    consume(client, 1, "gone", false, "c1");
    await client.expect("basic.consume-ok");
    client.send(1, {
      name: "queue.delete",
      args: { ticket: 0, queue: "gone", ifUnused: false, ifEmpty: false, nowait: false },
    });
    const cancel = await client.expect("basic.cancel");
    assert.equal(cancel.consumerTag, "c1");
    await client.expect("queue.delete-ok");
  });

  test("nowait declares send no reply; commands stay in order behind them", async () => {
    const h = harness();
    const { client } = await openClient(h);
    client.send(1, {
      name: "queue.declare",
      args: {
        ticket: 0,
        queue: "nw",
        passive: false,
        durable: false,
        exclusive: false,
        autoDelete: false,
        nowait: true,
        arguments: new Map(),
      },
    });
    client.publish(1, "", "nw", "after-declare");
    client.send(1, { name: "basic.get", args: { ticket: 0, queue: "nw", noAck: true } });
    const got = await client.nextMessage();
    assert.equal(got.method.name, "basic.get-ok");
    assert.equal(got.body.toString(), "after-declare");
  });

  test("direct reply-to: the reply goes straight to the requesting channel", async () => {
    const h = harness();
    const requester = await openClient(h);
    const responder = await openClient(h);
    await declare(responder.client, 1, "rpc");
    consume(responder.client, 1, "rpc", true);
    await responder.client.expect("basic.consume-ok");
    consume(requester.client, 1, "amq.rabbitmq.reply-to", false);
    const refused = await requester.client.expect("channel.close");
    assert.equal(refused.replyCode, 406);
    requester.client.send(1, { name: "channel.close-ok", args: {} });
    await requester.client.openChannel(1);
    consume(requester.client, 1, "amq.rabbitmq.reply-to", true);
    await requester.client.expect("basic.consume-ok");
    requester.client.publish(1, "", "rpc", "ping", {
      properties: { replyTo: "amq.rabbitmq.reply-to", correlationId: "c-1" },
    });
    const request = await responder.client.nextMessage();
    const replyTo = request.properties.replyTo!;
    assert.match(replyTo, /^amq\.rabbitmq\.reply-to\.[A-Za-z0-9_-]+$/);
    assert.equal(request.properties.correlationId, "c-1");
    responder.client.publish(1, "", replyTo, "pong", { properties: { correlationId: "c-1" } });
    const reply = await requester.client.nextMessage();
    assert.equal(reply.method.name, "basic.deliver");
    assert.equal(reply.body.toString(), "pong");
    assert.equal(reply.properties.correlationId, "c-1");
  });

  test("stream deliveries carry x-stream-offset", async () => {
    const h = harness();
    const { client } = await openClient(h);
    client.send(1, {
      name: "queue.declare",
      args: {
        ticket: 0,
        queue: "s1",
        passive: false,
        durable: true,
        exclusive: false,
        autoDelete: false,
        nowait: false,
        arguments: new Map([["x-queue-type", { type: "S" as const, value: "stream" }]]),
      },
    });
    await client.expect("queue.declare-ok");
    client.publish(1, "", "s1", "a", {
      properties: { headers: new Map([["k", { type: "S" as const, value: "v" }]]) },
    });
    client.publish(1, "", "s1", "b");
    // RabbitMQ refuses stream consumers without a prefetch (406) or with no-ack (540).
    consume(client, 1, "s1");
    const refused = await client.expect("channel.close");
    assert.equal(refused.replyCode, 406);
    client.send(1, { name: "channel.close-ok", args: {} });
    await client.openChannel(1);
    client.send(1, {
      name: "basic.qos",
      args: { prefetchSize: 0, prefetchCount: 10, global: false },
    });
    await client.expect("basic.qos-ok");
    consume(client, 1, "s1");
    await client.expect("basic.consume-ok");
    const first = await client.nextMessage();
    const second = await client.nextMessage();
    assert.deepEqual(first.properties.headers?.get("x-stream-offset"), { type: "l", value: 0n });
    assert.deepEqual(first.properties.headers?.get("k"), { type: "S", value: "v" });
    assert.deepEqual(second.properties.headers?.get("x-stream-offset"), { type: "l", value: 1n });
  });
});
