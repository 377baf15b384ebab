/**
 * Fuzzes the AMQP 0-9-1 session and channels of a real broker process: after a valid
 * handshake, each connection sends a random sequence of client frames (declares, binds,
 * publishes with content, consumes, acks, qos, get, confirm/tx, channel open/close/flow) on a
 * few channels, some of them mutated (bit flips, truncation, a wrong channel, a frame type
 * or size overwritten, random bytes), written split at random points.
 *
 * Allowed outcomes: replies, channel.close, connection.close, a closed socket. Not allowed: the
 * process dying, an "internal error" logged by the AMQP adapter (a defect, not bad input), or
 * a fresh connection failing to handshake and declare a queue afterwards.
 * Budget: WHARF_FUZZ_MS (default 8 s, kept under 30 s); the seed is printed for replay.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import type { AmqpFieldTable } from "../../src/protocols/amqp/codec/field-value.ts";
import { encodeContentFrames, encodeMethodFrame } from "../../src/protocols/amqp/codec/frame.ts";
import type { AmqpMethod } from "../../src/protocols/amqp/codec/generated/methods.ts";
import { AmqpWireClient } from "../../src/protocols/amqp/testing/wire-client.ts";
import { BrokerProcess } from "../helpers/broker-process.ts";

const budgetMs = Math.min(Number(process.env.WHARF_FUZZ_MS ?? 8000), 25_000);

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const noArgs: AmqpFieldTable = new Map();
const queues = ["fz-a", "fz-b", "", "amq.rabbitmq.reply-to"];
const exchanges = ["", "amq.direct", "amq.fanout", "amq.topic", "fz-x", "missing-x"];

function pick<T>(random: () => number, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)]!;
}

/** One valid client frame (or frames, for a publish) on `channel`. */
function validFrames(random: () => number, channel: number): Buffer[] {
  const queue = pick(random, queues);
  const exchange = pick(random, exchanges);
  const tag = Math.floor(random() * 6);
  const bit = () => random() < 0.5;
  const methods: Array<() => AmqpMethod> = [
    () => ({
      name: "queue.declare",
      args: {
        ticket: 0,
        queue,
        passive: random() < 0.2,
        durable: bit(),
        exclusive: bit(),
        autoDelete: bit(),
        nowait: random() < 0.2,
        arguments: noArgs,
      },
    }),
    () => ({
      name: "exchange.declare",
      args: {
        ticket: 0,
        exchange: pick(random, ["fz-x", "fz-y", "amq.bad"]),
        type: pick(random, ["direct", "fanout", "topic", "headers", "nope"]),
        passive: random() < 0.2,
        durable: bit(),
        autoDelete: false,
        internal: false,
        nowait: false,
        arguments: noArgs,
      },
    }),
    () => ({
      name: "queue.bind",
      args: { ticket: 0, queue, exchange, routingKey: queue, nowait: false, arguments: noArgs },
    }),
    () => ({
      name: "basic.consume",
      args: {
        ticket: 0,
        queue,
        consumerTag: random() < 0.5 ? "" : `c${tag}`,
        noLocal: false,
        noAck: bit(),
        exclusive: random() < 0.1,
        nowait: false,
        arguments: noArgs,
      },
    }),
    () => ({ name: "basic.cancel", args: { consumerTag: `c${tag}`, nowait: false } }),
    () => ({ name: "basic.ack", args: { deliveryTag: tag, multiple: bit() } }),
    () => ({ name: "basic.nack", args: { deliveryTag: tag, multiple: bit(), requeue: bit() } }),
    () => ({ name: "basic.reject", args: { deliveryTag: tag, requeue: bit() } }),
    () => ({
      name: "basic.qos",
      args: { prefetchSize: 0, prefetchCount: tag, global: bit() },
    }),
    () => ({ name: "basic.get", args: { ticket: 0, queue, noAck: bit() } }),
    () => ({ name: "basic.recover", args: { requeue: true } }),
    () => ({ name: "confirm.select", args: { nowait: false } }),
    () => ({ name: "tx.select", args: {} }),
    () => ({ name: "tx.commit", args: {} }),
    () => ({ name: "tx.rollback", args: {} }),
    () => ({ name: "channel.flow", args: { active: bit() } }),
    () => ({ name: "channel.open", args: { outOfBand: "" } }),
    () => ({
      name: "channel.close",
      args: { replyCode: 200, replyText: "", classId: 0, methodId: 0 },
    }),
    () => ({ name: "channel.close-ok", args: {} }),
    () => ({
      name: "queue.purge",
      args: { ticket: 0, queue, nowait: false },
    }),
    () => ({
      name: "queue.delete",
      args: { ticket: 0, queue, ifUnused: bit(), ifEmpty: bit(), nowait: false },
    }),
  ];
  if (random() < 0.35) {
    const body = Buffer.alloc(Math.floor(random() * 3000), 0x61);
    return encodeContentFrames(
      channel,
      {
        name: "basic.publish",
        args: {
          ticket: 0,
          exchange,
          routingKey: pick(random, queues),
          mandatory: bit(),
          immediate: random() < 0.05,
        },
      },
      random() < 0.3
        ? { replyTo: "amq.rabbitmq.reply-to", deliveryMode: 2, headers: noArgs }
        : { contentType: "text/plain", priority: tag },
      body,
      4096,
    );
  }
  return [encodeMethodFrame(channel, pick(random, methods)())];
}

function mutate(random: () => number, frame: Buffer): Buffer {
  const copy = Buffer.from(frame);
  switch (Math.floor(random() * 6)) {
    case 0: {
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) {
        const at = Math.floor(random() * copy.length);
        copy[at] = copy[at]! ^ (1 << Math.floor(random() * 8));
      }
      return copy;
    }
    case 1:
      return copy.subarray(0, Math.floor(random() * copy.length));
    case 2:
      // Pieces of body frames may be short (encodeBodyFrames returns header, slice, end).
      if (copy.length >= 3) copy.writeUInt16BE(Math.floor(random() * 4000), 1);
      return copy;
    case 3:
      if (copy.length >= 7) copy.writeUInt32BE(Math.floor(random() * 2 ** 32), 3);
      return copy;
    case 4:
      copy[0] = pick(random, [0, 1, 2, 3, 4, 8, 65, 206]);
      return copy;
    default: {
      const bytes = Buffer.alloc(1 + Math.floor(random() * 64));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      return bytes;
    }
  }
}

function openSocket(port: number): Promise<AmqpWireClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => resolve(new AmqpWireClient(socket)));
    socket.once("error", reject);
  });
}

async function assertServing(port: number): Promise<void> {
  const client = await openSocket(port);
  await client.handshake();
  await client.expect("connection.open-ok", 5000);
  await client.openChannel(1);
  client.send(1, {
    name: "queue.declare",
    args: {
      ticket: 0,
      queue: "",
      passive: false,
      durable: false,
      exclusive: true,
      autoDelete: false,
      nowait: false,
      arguments: noArgs,
    },
  });
  await client.expect("queue.declare-ok", 5000);
  client.close();
}

test("random and mutated frame sequences never take the broker down", async (t) => {
  const broker = await BrokerProcess.start();
  t.after(() => broker.stop());
  const seed = Number(process.env.WHARF_FUZZ_SEED ?? Date.now() % 2 ** 31);
  t.diagnostic(`seed ${seed}`);
  const random = prng(seed);
  const port = broker.ports.amqp;
  const deadline = Date.now() + budgetMs;
  let connections = 0;
  while (Date.now() < deadline) {
    connections++;
    const client = await openSocket(port);
    await client.handshake();
    await client.expect("connection.open-ok", 5000);
    const channels = [1, 2, 3];
    for (const channel of channels)
      client.send(channel, { name: "channel.open", args: { outOfBand: "" } });
    const frames: Buffer[] = [];
    const count = 5 + Math.floor(random() * 40);
    for (let i = 0; i < count; i++) {
      const channel = pick(random, channels);
      for (const frame of validFrames(random, channel)) {
        frames.push(random() < 0.08 ? mutate(random, frame) : frame);
      }
    }
    const bytes = Buffer.concat(frames);
    // Written in random pieces, so frames straddle reads at every possible point.
    for (let offset = 0; offset < bytes.length; ) {
      const size = 1 + Math.floor(random() * 2048);
      client.write(bytes.subarray(offset, offset + size));
      offset += size;
    }
    // Read what comes back for a moment (answers, closes); then hang up without ceremony.
    while ((await client.nextFrame(random() < 0.5 ? 50 : 200)) !== null) {
      if (client.closed) break;
    }
    client.close();
    if (connections % 25 === 0) await assertServing(port);
  }
  await assertServing(port);
  t.diagnostic(`${connections} connections`);
  assert.equal(broker.child.exitCode, null, "the broker is still running");
  assert.doesNotMatch(
    broker.stderr,
    /internal error in an amqp/,
    "no defect was logged by the AMQP adapter",
  );
});
