import assert from "node:assert/strict";
import { test } from "node:test";
import { ChannelDelivery } from "../../../core/channels/channel-registry.ts";
import {
  nullArray,
  RespBigNumber,
  RespBoolean,
  RespDouble,
  RespErrorReply,
  RespMap,
  RespPush,
  RespReplies,
  RespSet,
  RespSimple,
  type RespValue,
  RespVerbatim,
} from "./reply.ts";
import { encodeDelivery, type RespProtocolVersion, RespWriter } from "./writer.ts";

function encode(value: RespValue, protocol: RespProtocolVersion): string {
  const writer = new RespWriter();
  writer.protocol = protocol;
  writer.value(value);
  return Buffer.concat(writer.take()).toString("latin1");
}

const table: Array<[name: string, value: RespValue, resp2: string, resp3: string]> = [
  ["simple", new RespSimple("OK"), "+OK\r\n", "+OK\r\n"],
  ["error", new RespErrorReply("ERR bad\r\nthing"), "-ERR bad  thing\r\n", "-ERR bad  thing\r\n"],
  ["integer", 42, ":42\r\n", ":42\r\n"],
  ["negative integer", -7, ":-7\r\n", ":-7\r\n"],
  ["big integer", 2 ** 40, `:${2 ** 40}\r\n`, `:${2 ** 40}\r\n`],
  ["bigint", 9223372036854775807n, ":9223372036854775807\r\n", ":9223372036854775807\r\n"],
  ["bulk", Buffer.from("hi"), "$2\r\nhi\r\n", "$2\r\nhi\r\n"],
  ["utf-8 string", "é", "$2\r\n\xc3\xa9\r\n", "$2\r\n\xc3\xa9\r\n"],
  [
    "ascii string",
    "1700000000000-12",
    "$16\r\n1700000000000-12\r\n",
    "$16\r\n1700000000000-12\r\n",
  ],
  ["utf-8 after ascii", "ab\u20ac", "$5\r\nab\xe2\x82\xac\r\n", "$5\r\nab\xe2\x82\xac\r\n"],
  ["long string", "x".repeat(65), `$65\r\n${"x".repeat(65)}\r\n`, `$65\r\n${"x".repeat(65)}\r\n`],
  ["null", null, "$-1\r\n", "_\r\n"],
  ["null array", nullArray, "*-1\r\n", "_\r\n"],
  ["array", [1, "a"], "*2\r\n:1\r\n$1\r\na\r\n", "*2\r\n:1\r\n$1\r\na\r\n"],
  ["map", new RespMap([["k", 1]]), "*2\r\n$1\r\nk\r\n:1\r\n", "%1\r\n$1\r\nk\r\n:1\r\n"],
  ["set", new RespSet(["a"]), "*1\r\n$1\r\na\r\n", "~1\r\n$1\r\na\r\n"],
  ["push", new RespPush(["a"]), "*1\r\n$1\r\na\r\n", ">1\r\n$1\r\na\r\n"],
  ["double", new RespDouble(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"],
  ["infinity", new RespDouble(-Infinity), "$4\r\n-inf\r\n", ",-inf\r\n"],
  ["nan", new RespDouble(Number.NaN), "$3\r\nnan\r\n", ",nan\r\n"],
  ["boolean", new RespBoolean(true), ":1\r\n", "#t\r\n"],
  ["verbatim", new RespVerbatim("abc"), "$3\r\nabc\r\n", "=7\r\ntxt:abc\r\n"],
  [
    "big number",
    new RespBigNumber("123456789012345678901234567890"),
    "$30\r\n123456789012345678901234567890\r\n",
    "(123456789012345678901234567890\r\n",
  ],
  ["several replies", new RespReplies([1, 2]), ":1\r\n:2\r\n", ":1\r\n:2\r\n"],
];

test("encodes every reply type in RESP2 and RESP3", () => {
  for (const [name, value, resp2, resp3] of table) {
    assert.equal(encode(value, 2), resp2, `${name} (RESP2)`);
    assert.equal(encode(value, 3), resp3, `${name} (RESP3)`);
  }
});

test("large bulks become their own chunk, without a copy", () => {
  const payload = Buffer.alloc(100_000, 1);
  const writer = new RespWriter();
  writer.value([payload, 1]);
  const chunks = writer.take();
  assert.ok(chunks.some((chunk) => chunk === payload));
  assert.equal(Buffer.concat(chunks).toString("latin1", 0, 12), "*2\r\n$100000\r");
  assert.equal(writer.pendingBytes, 0);
});

test("chunks handed out are never overwritten by later replies", () => {
  const writer = new RespWriter();
  writer.value("first");
  const [first] = writer.take();
  const copy = Buffer.from(first!);
  for (let i = 0; i < 5000; i++) writer.value(`reply ${i}`);
  writer.take();
  assert.deepEqual(first, copy);
});

test("recycle(): the scratch is written again from its start once everything was released", () => {
  const writer = new RespWriter();
  writer.value("first");
  const first = writer.takeSingle()!;
  writer.value("pending");
  writer.recycle(); // bytes not taken yet: nothing is reused
  const pending = writer.takeSingle()!;
  assert.equal(pending.byteOffset, first.byteOffset + first.length);
  writer.recycle();
  writer.value("again");
  const again = writer.takeSingle()!;
  assert.equal(again.buffer, first.buffer);
  assert.equal(again.byteOffset, first.byteOffset);
  assert.equal(again.toString("latin1"), "$5\r\nagain\r\n");
});

test("pub/sub frames: RESP2 arrays, RESP3 pushes", () => {
  const message = new ChannelDelivery("message", Buffer.from("ch"), null, Buffer.from("hi"));
  assert.equal(
    encodeDelivery(message, 2).toString(),
    "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
  );
  const pattern = new ChannelDelivery(
    "pmessage",
    Buffer.from("ch"),
    Buffer.from("c*"),
    Buffer.from(""),
  );
  assert.equal(
    encodeDelivery(pattern, 3).toString(),
    ">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$0\r\n\r\n",
  );
  const shard = new ChannelDelivery("smessage", Buffer.from("s"), null, Buffer.from("x"));
  assert.equal(
    encodeDelivery(shard, 2).toString(),
    "*3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nx\r\n",
  );
});

test("delivery(): the frame encoded in place, a stable view of it to share, integers 0-9", () => {
  const payloads = [0, 9, 10, 99, 100, 12345, 70_000].map((n) => Buffer.alloc(n, 0x61));
  const writer = new RespWriter();
  const expected: Buffer[] = [];
  const views: Buffer[] = [];
  for (const protocol of [2, 3] as const) {
    for (const payload of payloads) {
      const delivery = new ChannelDelivery(
        "pmessage",
        Buffer.from("ch"),
        Buffer.from("c*"),
        payload,
      );
      const frame = encodeDelivery(delivery, protocol);
      expected.push(frame);
      const view = writer.delivery(delivery, protocol, true)!;
      assert.deepEqual(view, frame);
      views.push(view);
      assert.equal(writer.delivery(delivery, protocol, false), undefined);
      expected.push(frame);
      writer.integer(expected.length % 10);
      expected.push(Buffer.from(`:${expected.length % 10}\r\n`));
    }
  }
  assert.deepEqual(Buffer.concat(writer.take()), Buffer.concat(expected));
  // The views still hold their bytes after the writer moved on.
  for (let i = 0; i < 100; i++) writer.value(`reply ${i}`);
  writer.take();
  let k = 0;
  for (const protocol of [2, 3] as const) {
    for (const payload of payloads) {
      const delivery = new ChannelDelivery(
        "pmessage",
        Buffer.from("ch"),
        Buffer.from("c*"),
        payload,
      );
      assert.deepEqual(views[k++], encodeDelivery(delivery, protocol));
    }
  }
});
