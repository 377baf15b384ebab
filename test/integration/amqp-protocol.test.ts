/**
 * Raw-socket conformance of the AMQP 0-9-1 listener against a real broker process
 * (`--amqp-port`): bad input is answered with the spec's reply codes (or, for a wrong protocol
 * header, with our header), only the offending connection closes, and after each case a fresh
 * connection still completes the handshake and declares a queue.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { amqpFrameType, encodeMethodFrame } from "../../src/protocols/amqp/codec/frame.ts";
import { AmqpWireClient } from "../../src/protocols/amqp/testing/wire-client.ts";
import { BrokerProcess } from "../helpers/broker-process.ts";

let broker: BrokerProcess;

function open(): Promise<AmqpWireClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: broker.ports.amqp });
    socket.once("connect", () => resolve(new AmqpWireClient(socket)));
    socket.once("error", reject);
  });
}

async function openWithChannel(): Promise<AmqpWireClient> {
  const client = await open();
  await client.handshake();
  await client.expect("connection.open-ok");
  await client.openChannel(1);
  return client;
}

async function expectClose(client: AmqpWireClient, code: number): Promise<void> {
  const close = await client.expect("connection.close");
  assert.equal(close.replyCode, code, close.replyText);
  client.send(0, { name: "connection.close-ok", args: {} });
  assert.equal(await client.nextFrame(2000), null, "the server closes the socket after close-ok");
  assert.equal(client.closed, true);
}

/** The broker still serves: a new connection declares and deletes a queue. */
async function assertServing(): Promise<void> {
  const client = await openWithChannel();
  const queue = `alive-${Math.random().toString(36).slice(2)}`;
  client.send(1, {
    name: "queue.declare",
    args: {
      ticket: 0,
      queue,
      passive: false,
      durable: false,
      exclusive: true,
      autoDelete: false,
      nowait: false,
      arguments: new Map(),
    },
  });
  const ok = await client.expect("queue.declare-ok");
  assert.equal(ok.queue, queue);
  client.close();
}

describe("AMQP 0-9-1 listener, raw bytes", () => {
  let bystander: AmqpWireClient;

  before(async () => {
    // Non-default tune values, to see the configuration reach connection.tune.
    broker = await BrokerProcess.start({
      args: ["--amqp-heartbeat-seconds", "5", "--amqp-channel-max", "64"],
    });
    // Open during every case below: errors on other connections must not touch it.
    bystander = await openWithChannel();
  });
  after(async () => {
    bystander?.close();
    await broker?.stop();
  });

  test("connection.tune offers the configured heartbeat and channel_max", async () => {
    const client = await open();
    const { tune } = await client.handshake({ stopAfter: "tune-ok" });
    assert.deepEqual(
      { channelMax: tune?.channelMax, frameMax: tune?.frameMax, heartbeat: tune?.heartbeat },
      { channelMax: 64, frameMax: 131072, heartbeat: 5 },
    );
    client.close();
  });

  test("a wrong protocol header gets AMQP 0-9-1's header back, then the socket closes", async () => {
    const client = await open();
    client.write(Buffer.from("HTTP/1.1 GET /\r\n"));
    await client.nextFrame(2000);
    assert.deepEqual(client.raw, Buffer.from("AMQP\x00\x00\x09\x01", "latin1"));
    assert.equal(client.closed, true);
    await assertServing();
  });

  test("a frame above frame_max is 501 FRAME_ERROR", async () => {
    const client = await openWithChannel();
    const header = Buffer.from([amqpFrameType.body, 0, 1, 0, 0, 0, 0]);
    header.writeUInt32BE(1 << 20, 3);
    client.write(header);
    await expectClose(client, 501);
    await assertServing();
  });

  test("a bad frame-end octet is 501 FRAME_ERROR", async () => {
    const client = await openWithChannel();
    const frame = encodeMethodFrame(1, {
      name: "basic.qos",
      args: { prefetchSize: 0, prefetchCount: 10, global: false },
    });
    frame[frame.length - 1] = 0xcd;
    client.write(frame);
    await expectClose(client, 501);
    await assertServing();
  });

  test("a method on a channel that was never opened is 504 CHANNEL_ERROR", async () => {
    const client = await openWithChannel();
    client.send(7, {
      name: "basic.qos",
      args: { prefetchSize: 0, prefetchCount: 1, global: false },
    });
    await expectClose(client, 504);
    await assertServing();
  });

  test("a body longer than its content header announced is 505 UNEXPECTED_FRAME", async () => {
    const client = await openWithChannel();
    const publish = encodeMethodFrame(1, {
      name: "basic.publish",
      args: { ticket: 0, exchange: "", routingKey: "x", mandatory: false, immediate: false },
    });
    const header = Buffer.from([
      2, 0, 1, 0, 0, 0, 14, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0xce,
    ]);
    const body = Buffer.from([3, 0, 1, 0, 0, 0, 5, 1, 2, 3, 4, 5, 0xce]);
    client.write(Buffer.concat([publish, header, body]));
    await expectClose(client, 505);
    await assertServing();
  });

  test("an unknown method is 503 COMMAND_INVALID, an unknown class 540 NOT_IMPLEMENTED", async () => {
    for (const [classId, methodId, code] of [
      [60, 77, 503],
      [77, 10, 540],
    ] as const) {
      const client = await openWithChannel();
      const frame = Buffer.from([1, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0xce]);
      frame.writeUInt16BE(classId, 7);
      frame.writeUInt16BE(methodId, 9);
      client.write(frame);
      await expectClose(client, code);
    }
    await assertServing();
  });

  test("a client that stops sending heartbeats is disconnected after two intervals", async () => {
    const client = await open();
    await client.handshake({ heartbeat: 1 });
    await client.expect("connection.open-ok");
    const started = Date.now();
    let heartbeats = 0;
    for (;;) {
      const frame = await client.nextFrame(5000);
      if (frame === null) break;
      if (frame.type === amqpFrameType.heartbeat) heartbeats++;
    }
    const elapsed = Date.now() - started;
    assert.equal(client.closed, true);
    assert.ok(heartbeats >= 1, "the server sent heartbeats while waiting");
    assert.ok(elapsed >= 1400 && elapsed < 4500, `closed after ${elapsed} ms`);
    await assertServing();
  });

  test("the bystander connection survived every case", async () => {
    assert.equal(bystander.closed, false);
    bystander.send(1, {
      name: "basic.qos",
      args: { prefetchSize: 0, prefetchCount: 5, global: false },
    });
    await bystander.expect("basic.qos-ok");
  });
});
