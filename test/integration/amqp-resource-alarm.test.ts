/**
 * Resource alarms against a real broker process: a broker whose free-disk limit cannot be met
 * (as a full disk looks to it) sends connection.blocked with the reason to clients that
 * announce the capability, and stops reading a connection once it publishes (RabbitMQ's
 * behaviour: the publishes wait in TCP buffers, nothing is refused); consumers are still
 * served. The alarm clearing is covered by src/core/alarms/resource-monitor.test.ts and the
 * session's unit tests (connection.unblocked).
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import amqp from "amqplib";
import { AmqpWireClient } from "../../src/protocols/amqp/testing/wire-client.ts";
import { BrokerProcess } from "../helpers/broker-process.ts";

let broker: BrokerProcess;

before(async () => {
  broker = await BrokerProcess.start({
    args: ["--disk-free-limit-bytes", String(Number.MAX_SAFE_INTEGER)],
  });
});

after(async () => {
  await broker?.stop();
});

test("connection.blocked names the resource; a publishing connection is no longer read", {
  timeout: 60_000,
}, async () => {
  const socket = connect(broker.ports.amqp!, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const publisher = new AmqpWireClient(socket);
  const consumer = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.ports.amqp}`);
  try {
    await publisher.handshake();
    await publisher.expect("connection.open-ok");
    const blocked = await publisher.expect("connection.blocked");
    assert.match(blocked.reason, /^disk free \d+ MB below the limit of \d+ MB$/);

    const reader = await consumer.createChannel();
    const { queue } = await reader.assertQueue("", { exclusive: true });
    await publisher.openChannel(1);
    for (let i = 0; i < 3; i++) publisher.publish(1, "", queue, `m${i}`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // The publish that finds the alarm is taken in; then the connection is not read: the
    // other two wait. The consumer's connection is served throughout.
    const { messageCount } = await reader.checkQueue(queue);
    assert.ok(messageCount <= 1, `at most the first publish went in, got ${messageCount}`);
    assert.match(broker.stderr, /resource alarm raised: publishers blocked/);
  } finally {
    publisher.close();
    await consumer.close();
  }
});
