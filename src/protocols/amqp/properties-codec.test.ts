/**
 * The PropertiesCodec the core stores AMQP properties with, and the field-table conversion
 * between the codec's tagged tables and the core's plain ones.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeContentHeaderFrame } from "./codec/frame.ts";
import { ConfirmTracker } from "./confirms.ts";
import { fromCoreTable, toCoreTable } from "./field-table.ts";
import { amqpPropertiesCodec, decodeBasicPropertyList } from "./properties-codec.ts";

test("encode/decode round-trips every property, headers included", () => {
  const properties = {
    contentType: "application/json",
    contentEncoding: "gzip",
    headers: {
      text: "v",
      small: 7,
      big: 2 ** 40,
      ratio: 0.5,
      flag: true,
      none: null,
      when: new Date(1_700_000_000_000),
      bytes: new Uint8Array([1, 2, 3]),
      list: [1, "two"],
      nested: { inner: "x" },
    },
    deliveryMode: 2,
    priority: 5,
    correlationId: "c",
    replyTo: "r",
    expiration: "60000",
    messageId: "m",
    timestamp: 1_700_000_000,
    type: "t",
    userId: "guest",
    appId: "a",
    clusterId: "cl",
  };
  const bytes = amqpPropertiesCodec.encode(properties);
  const decoded = amqpPropertiesCodec.decode(bytes);
  assert.deepEqual(
    { ...decoded, headers: { ...decoded.headers } },
    {
      ...properties,
      headers: {
        ...properties.headers,
        bytes: Buffer.from([1, 2, 3]),
        nested: Object.assign(Object.create(null), { inner: "x" }),
      },
    },
  );
});

test("properties from other protocols are made to fit instead of failing an assert", () => {
  const long = "é".repeat(200);
  const bytes = amqpPropertiesCodec.encode({
    contentType: long,
    priority: 1000,
    deliveryMode: -3,
    timestamp: -1,
    headers: { ["k".repeat(300)]: "v" },
  });
  const decoded = amqpPropertiesCodec.decode(bytes);
  assert.ok(Buffer.byteLength(decoded.contentType!) <= 255);
  assert.ok(decoded.contentType!.startsWith("é"));
  assert.equal(decoded.priority, 255);
  assert.equal(decoded.deliveryMode, 0);
  assert.equal(decoded.timestamp, 0);
  assert.deepEqual(Object.keys(decoded.headers!), ["k".repeat(255)]);
});

test("the property bytes are those a content header frame carries after 12 bytes", () => {
  const frame = encodeContentHeaderFrame(1, 3, { contentType: "text/plain", deliveryMode: 1 });
  const propertyBytes = frame.subarray(7 + 12, frame.length - 1);
  assert.deepEqual(amqpPropertiesCodec.decode(propertyBytes), {
    contentType: "text/plain",
    deliveryMode: 1,
  });
  assert.throws(() => decodeBasicPropertyList(Buffer.concat([propertyBytes, Buffer.from([0])])));
});

test("field tables: wire tags map to plain values and back to RabbitMQ's usual tags", () => {
  const core = toCoreTable(
    new Map([
      ["i8", { type: "b" as const, value: -1 }],
      ["i64", { type: "l" as const, value: 2n ** 60n }],
      ["dec", { type: "D" as const, value: { scale: 2, digits: 150 } }],
      ["__proto__", { type: "S" as const, value: "plain key" }],
    ]),
  );
  assert.equal(core.i8, -1);
  assert.equal(core.i64, 2n ** 60n);
  assert.equal(core.dec, 1.5);
  assert.equal(Object.getOwnPropertyDescriptor(core, "__proto__")?.value, "plain key");
  const wire = fromCoreTable({ n: 3, big: 2 ** 33, f: 0.25, s: "x" });
  assert.deepEqual(
    [...wire.values()].map((value) => value.type),
    ["I", "l", "d", "S"],
  );
});

test("confirms: in order, coalesced per run of equal outcomes", () => {
  const tracker = new ConfirmTracker();
  const sent: string[] = [];
  const sink = (ack: boolean, sequence: number, multiple: boolean) =>
    sent.push(`${ack ? "ack" : "nack"}:${sequence}${multiple ? "+" : ""}`);
  for (let i = 0; i < 6; i++) tracker.next();
  tracker.settle(2, true);
  tracker.settle(3, true);
  assert.equal(tracker.drain(sink), false, "nothing before seq 1 settles");
  tracker.settle(1, true);
  tracker.settle(4, false);
  tracker.settle(4, true); // a second outcome for the same publish is ignored
  tracker.settle(6, true);
  tracker.drain(sink);
  assert.deepEqual(sent, ["ack:3+", "nack:4"]);
  tracker.settle(5, true);
  tracker.drain(sink);
  assert.deepEqual(sent, ["ack:3+", "nack:4", "ack:6+"]);
  assert.equal(tracker.unconfirmed, 0);
});
