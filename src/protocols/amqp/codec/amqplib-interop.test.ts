/**
 * Interop with amqplib's own codec (amqplib/lib/defs.js, generated from the same RabbitMQ
 * JSON, and amqplib/lib/frame.js): for the methods an amqplib client and a broker exchange,
 * the frames amqplib encodes are byte-identical to ours, ours decode in amqplib to the fields
 * it would have produced, and amqplib's decode with ours into the expected typed values.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { AmqpDecodeError } from "./decode-error.ts";
import { type AmqpFieldTable, type AmqpFieldValue, fieldTable } from "./field-value.ts";
import {
  type AmqpFrame,
  AmqpFrameSplitter,
  amqpHeartbeatFrame,
  encodeBodyFrames,
  encodeContentHeaderFrame,
  encodeMethodFrame,
  frameNeedMore,
} from "./frame.ts";
import {
  type AmqpMethod,
  amqpMethodKey,
  amqpMethodsByName,
  type BasicProperties,
} from "./generated/methods.ts";
import { decodeContentHeaderPayload, decodeMethodPayload } from "./payload.ts";

const require = createRequire(import.meta.url);

interface AmqplibDefs {
  encodeMethod(id: number, channel: number, fields: object): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: object): Buffer;
  decode(id: number, payload: Buffer): Record<string, unknown>;
  BasicProperties: number;
}
interface AmqplibFrame {
  makeBodyFrame(channel: number, payload: Buffer): Buffer;
  parseFrame(
    bytes: Buffer,
    max: number,
  ): false | { type: number; channel: number; payload: Buffer };
  decodeFrame(frame: object): Record<string, unknown>;
  HEARTBEAT_BUF: Buffer;
}
// lib/ is not in amqplib's package exports; reach it through the resolved package root.
const amqplibRoot = dirname(require.resolve("amqplib"));
const defs = require(join(amqplibRoot, "lib/defs.js")) as AmqplibDefs;
const amqplibFrame = require(join(amqplibRoot, "lib/frame.js")) as AmqplibFrame;

/** Our table in amqplib's representation, as amqplib's decoder returns it. */
function toAmqplib(value: AmqpFieldValue): unknown {
  switch (value.type) {
    case "l":
      return Number(value.value);
    case "T":
      return { "!": "timestamp", value: Number(value.value) };
    case "D":
      return { "!": "decimal", value: { places: value.value.scale, digits: value.value.digits } };
    case "A":
      return value.value.map(toAmqplib);
    case "F":
      return tableToAmqplib(value.value);
    default:
      return value.value;
  }
}

function tableToAmqplib(table: AmqpFieldTable): Record<string, unknown> {
  return Object.fromEntries([...table].map(([key, value]) => [key, toAmqplib(value)]));
}

/** Converts args for amqplib's decoder output: tables become objects. */
function argsToAmqplib(args: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(args).map(([key, value]) => [
      key,
      value instanceof Map ? tableToAmqplib(value as AmqpFieldTable) : value,
    ]),
  );
}

function splitAll(bytes: Buffer): AmqpFrame[] {
  const splitter = new AmqpFrameSplitter(131072);
  splitter.push(bytes);
  const frames: AmqpFrame[] = [];
  for (;;) {
    const result = splitter.next();
    if (result === frameNeedMore) return frames;
    if (result instanceof AmqpDecodeError) throw result;
    frames.push(result);
  }
}

function amqplibDecode(bytes: Buffer): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const frame = amqplibFrame.parseFrame(rest, 131072);
    assert.ok(frame, "amqplib: incomplete frame");
    out.push(amqplibFrame.decodeFrame(frame));
    rest = rest.subarray(7 + frame.payload.length + 1);
  }
  return out;
}

const capabilities = {
  publisher_confirms: true,
  exchange_exchange_bindings: true,
  "basic.nack": true,
  consumer_cancel_notify: true,
  "connection.blocked": true,
  authentication_failure_close: true,
};

/** Each case: the amqplib field values it would pass, and the same method in our model. */
const cases: { amqplib: Record<string, unknown>; ours: AmqpMethod }[] = [
  {
    amqplib: {
      versionMajor: 0,
      versionMinor: 9,
      serverProperties: { capabilities, product: "WharfMQ", version: "0.1.0" },
      mechanisms: Buffer.from("PLAIN AMQPLAIN"),
      locales: Buffer.from("en_US"),
    },
    ours: {
      name: "connection.start",
      args: {
        versionMajor: 0,
        versionMinor: 9,
        serverProperties: fieldTable({
          capabilities: {
            type: "F",
            value: new Map(
              Object.keys(capabilities).map((key) => [key, { type: "t", value: true } as const]),
            ),
          },
          product: { type: "S", value: "WharfMQ" },
          version: { type: "S", value: "0.1.0" },
        }),
        mechanisms: Buffer.from("PLAIN AMQPLAIN"),
        locales: Buffer.from("en_US"),
      },
    },
  },
  {
    amqplib: {
      clientProperties: { product: "amqplib", platform: "Node.JS v20", capabilities },
      mechanism: "PLAIN",
      response: Buffer.from("\u0000guest\u0000guest"),
      locale: "en_US",
    },
    ours: {
      name: "connection.start-ok",
      args: {
        clientProperties: fieldTable({
          product: { type: "S", value: "amqplib" },
          platform: { type: "S", value: "Node.JS v20" },
          capabilities: {
            type: "F",
            value: new Map(
              Object.keys(capabilities).map((key) => [key, { type: "t", value: true } as const]),
            ),
          },
        }),
        mechanism: "PLAIN",
        response: Buffer.from("\u0000guest\u0000guest"),
        locale: "en_US",
      },
    },
  },
  {
    amqplib: { channelMax: 2047, frameMax: 131072, heartbeat: 60 },
    ours: { name: "connection.tune", args: { channelMax: 2047, frameMax: 131072, heartbeat: 60 } },
  },
  {
    amqplib: { channelMax: 2047, frameMax: 131072, heartbeat: 60 },
    ours: {
      name: "connection.tune-ok",
      args: { channelMax: 2047, frameMax: 131072, heartbeat: 60 },
    },
  },
  {
    amqplib: { virtualHost: "/", capabilities: "", insist: false },
    ours: { name: "connection.open", args: { virtualHost: "/", capabilities: "", insist: false } },
  },
  {
    amqplib: { outOfBand: "" },
    ours: { name: "channel.open", args: { outOfBand: "" } },
  },
  {
    amqplib: {
      ticket: 0,
      exchange: "logs",
      type: "topic",
      passive: false,
      durable: true,
      autoDelete: false,
      internal: false,
      nowait: false,
      arguments: { "alternate-exchange": "unrouted" },
    },
    ours: {
      name: "exchange.declare",
      args: {
        ticket: 0,
        exchange: "logs",
        type: "topic",
        passive: false,
        durable: true,
        autoDelete: false,
        internal: false,
        nowait: false,
        arguments: fieldTable({ "alternate-exchange": { type: "S", value: "unrouted" } }),
      },
    },
  },
  {
    amqplib: {
      ticket: 0,
      queue: "orders",
      passive: false,
      durable: true,
      exclusive: false,
      autoDelete: true,
      nowait: false,
      arguments: {
        "x-message-ttl": 60000,
        "x-max-priority": 10,
        "x-max-length": 1000,
        "x-max-length-bytes": 2 ** 40,
        "x-dead-letter-exchange": "dlx",
        "x-single-active-consumer": true,
        "x-ratio": 0.25,
        "x-float": { "!": "float", value: 1.5 },
        "x-uint32": { "!": "uint32", value: 3000000000 },
        "x-uint16": { "!": "unsignedshort", value: 65000 },
        "x-uint8": { "!": "uint8", value: 200 },
        "x-negative": -40000,
        "x-when": { "!": "timestamp", value: 1700000000 },
        "x-decimal": { "!": "decimal", value: { places: 2, digits: 314 } },
        "x-list": ["a", 1, { nested: null }],
        "x-bytes": Buffer.from([1, 2, 3]),
      },
    },
    ours: {
      name: "queue.declare",
      args: {
        ticket: 0,
        queue: "orders",
        passive: false,
        durable: true,
        exclusive: false,
        autoDelete: true,
        nowait: false,
        arguments: fieldTable({
          "x-message-ttl": { type: "I", value: 60000 },
          "x-max-priority": { type: "b", value: 10 },
          "x-max-length": { type: "s", value: 1000 },
          "x-max-length-bytes": { type: "l", value: 2n ** 40n },
          "x-dead-letter-exchange": { type: "S", value: "dlx" },
          "x-single-active-consumer": { type: "t", value: true },
          "x-ratio": { type: "d", value: 0.25 },
          "x-float": { type: "f", value: 1.5 },
          "x-uint32": { type: "i", value: 3000000000 },
          "x-uint16": { type: "u", value: 65000 },
          "x-uint8": { type: "B", value: 200 },
          "x-negative": { type: "I", value: -40000 },
          "x-when": { type: "T", value: 1700000000n },
          "x-decimal": { type: "D", value: { scale: 2, digits: 314 } },
          "x-list": {
            type: "A",
            value: [
              { type: "S", value: "a" },
              { type: "b", value: 1 },
              { type: "F", value: fieldTable({ nested: { type: "V", value: null } }) },
            ],
          },
          "x-bytes": { type: "x", value: Buffer.from([1, 2, 3]) },
        }),
      },
    },
  },
  {
    amqplib: {
      ticket: 0,
      exchange: "logs",
      routingKey: "a.b",
      mandatory: true,
      immediate: false,
    },
    ours: {
      name: "basic.publish",
      args: { ticket: 0, exchange: "logs", routingKey: "a.b", mandatory: true, immediate: false },
    },
  },
  {
    amqplib: {
      consumerTag: "amq.ctag-1",
      deliveryTag: 2 ** 40 + 1,
      redelivered: true,
      exchange: "logs",
      routingKey: "a.b",
    },
    ours: {
      name: "basic.deliver",
      args: {
        consumerTag: "amq.ctag-1",
        deliveryTag: 2 ** 40 + 1,
        redelivered: true,
        exchange: "logs",
        routingKey: "a.b",
      },
    },
  },
  {
    amqplib: { deliveryTag: 42, multiple: true },
    ours: { name: "basic.ack", args: { deliveryTag: 42, multiple: true } },
  },
  {
    amqplib: { deliveryTag: 43, multiple: false, requeue: true },
    ours: { name: "basic.nack", args: { deliveryTag: 43, multiple: false, requeue: true } },
  },
  {
    amqplib: { nowait: false },
    ours: { name: "confirm.select", args: { nowait: false } },
  },
];

function methodId(method: AmqpMethod): number {
  const info = amqpMethodsByName[method.name];
  return amqpMethodKey(info.classId, info.methodId);
}

describe("interop with amqplib's codec: methods", () => {
  for (const { amqplib, ours } of cases) {
    it(ours.name, () => {
      const theirs = defs.encodeMethod(methodId(ours), 3, amqplib);
      const mine = encodeMethodFrame(3, ours);
      assert.deepEqual(mine, theirs, "same bytes");
      const [frame, ...more] = splitAll(theirs);
      assert.equal(more.length, 0);
      assert.equal(frame!.channel, 3);
      assert.deepEqual(decodeMethodPayload(frame!.payload).method, ours);
      const [decoded] = amqplibDecode(mine);
      assert.deepEqual(decoded, {
        id: methodId(ours),
        channel: 3,
        fields: argsToAmqplib(ours.args),
      });
    });
  }
});

describe("interop with amqplib's codec: content", () => {
  const headers = fieldTable({
    "x-retry": { type: "b", value: 3 },
    trace: { type: "S", value: "abc" },
    "x-death": {
      type: "A",
      value: [
        {
          type: "F",
          value: fieldTable({
            count: { type: "l", value: 2n ** 33n },
            queue: { type: "S", value: "q" },
          }),
        },
      ],
    },
  });
  const properties: BasicProperties = {
    contentType: "application/json",
    contentEncoding: "gzip",
    headers,
    deliveryMode: 2,
    priority: 5,
    correlationId: "c-1",
    replyTo: "amq.rabbitmq.reply-to",
    expiration: "60000",
    messageId: "m-1",
    timestamp: 1700000000,
    type: "order.created",
    userId: "guest",
    appId: "shop",
    clusterId: "",
  };
  const amqplibProperties = { ...properties, headers: tableToAmqplib(headers) };

  it("content header with all 14 properties", () => {
    const theirs = defs.encodeProperties(defs.BasicProperties, 7, 300000, amqplibProperties);
    const mine = encodeContentHeaderFrame(7, 300000, properties);
    assert.deepEqual(mine, theirs);
    assert.deepEqual(decodeContentHeaderPayload(splitAll(theirs)[0]!.payload), {
      classId: 60,
      bodySize: 300000,
      properties,
    });
    const [decoded] = amqplibDecode(mine);
    assert.deepEqual(decoded, { id: 60, channel: 7, size: 300000, fields: amqplibProperties });
  });

  it("content header with few properties", () => {
    const few = { deliveryMode: 1, contentType: "text/plain" };
    assert.deepEqual(
      encodeContentHeaderFrame(1, 5, few),
      defs.encodeProperties(defs.BasicProperties, 1, 5, few),
    );
  });

  it("basic.publish + header + body split in frames, and heartbeats", () => {
    const body = Buffer.alloc(10000, 0x7a);
    const frameMax = 4096;
    const theirBody = [0, 4088, 8176].map((offset) =>
      amqplibFrame.makeBodyFrame(7, body.subarray(offset, offset + 4088)),
    );
    assert.deepEqual(Buffer.concat(encodeBodyFrames(7, body, frameMax)), Buffer.concat(theirBody));
    assert.deepEqual(amqpHeartbeatFrame, amqplibFrame.HEARTBEAT_BUF);
    const stream = Buffer.concat([
      defs.encodeMethod(methodId(cases[8]!.ours), 7, cases[8]!.amqplib),
      defs.encodeProperties(defs.BasicProperties, 7, body.length, amqplibProperties),
      ...theirBody,
      amqplibFrame.HEARTBEAT_BUF,
    ]);
    const frames = splitAll(stream);
    assert.deepEqual(
      frames.map((frame) => frame.type),
      [1, 2, 3, 3, 3, 8],
    );
    assert.deepEqual(Buffer.concat(frames.slice(2, 5).map((frame) => frame.payload)), body);
  });
});
