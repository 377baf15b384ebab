import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sampleTable } from "../../../../test/helpers/amqp-sample-methods.ts";
import { amqpFieldTableDepthMax, amqpFieldTableEntriesMax } from "../../../config/limits.ts";
import { AmqpDecodeError } from "./decode-error.ts";
import { type AmqpFieldValue, fieldNumber, fieldString, fieldTable } from "./field-value.ts";
import { AmqpReader } from "./reader.ts";
import { AmqpWriter } from "./writer.ts";

function bytesOf(write: (writer: AmqpWriter) => void): Buffer {
  const writer = new AmqpWriter(1);
  write(writer);
  return Buffer.from(writer.finish());
}

function decodeFails(bytes: Buffer, read: (reader: AmqpReader) => unknown): AmqpDecodeError {
  try {
    read(new AmqpReader(bytes));
  } catch (error) {
    assert.ok(error instanceof AmqpDecodeError, String(error));
    return error;
  }
  assert.fail("decoded without error");
}

describe("amqp primitives", () => {
  it("round-trips integers, strings and timestamps in network byte order", () => {
    const bytes = bytesOf((writer) => {
      writer.octet(0xab);
      writer.short(0xbeef);
      writer.long(0xdeadbeef);
      writer.longlong(2 ** 53 - 1);
      writer.shortstr("é");
      writer.longstr(Buffer.from([1, 2, 3]));
      writer.timestamp(1700000000);
    });
    assert.equal(bytes.subarray(0, 7).toString("hex"), "abbeefdeadbeef");
    const reader = new AmqpReader(bytes);
    assert.equal(reader.octet(), 0xab);
    assert.equal(reader.short(), 0xbeef);
    assert.equal(reader.long(), 0xdeadbeef);
    assert.equal(reader.longlong(), 2 ** 53 - 1);
    assert.equal(reader.shortstr(), "é");
    assert.deepEqual([...reader.longstr()], [1, 2, 3]);
    assert.equal(reader.timestamp(), 1700000000);
    reader.expectEnd();
  });

  it("rejects longlong above 2^53 - 1 with 502 instead of rounding", () => {
    const error = decodeFails(Buffer.from("0020000000000000", "hex"), (r) => r.longlong());
    assert.equal(error.reason, "integer-too-large");
    assert.equal(error.replyCode, 502);
  });

  it("rejects truncated strings with 502 before allocating", () => {
    assert.equal(decodeFails(Buffer.from([5, 0x61]), (r) => r.shortstr()).replyCode, 502);
    const huge = Buffer.from("ffffffff", "hex");
    assert.equal(decodeFails(huge, (r) => r.longstr()).reason, "truncated");
  });

  it("rejects shortstr that is not UTF-8 (502): a re-encoded name could outgrow 255 bytes", () => {
    const bytes = Buffer.concat([Buffer.from([255]), Buffer.alloc(255, 0xff)]);
    assert.equal(decodeFails(bytes, (r) => r.shortstr()).reason, "string-invalid");
  });

  it("round-trips a table of every RabbitMQ field type byte for byte", () => {
    const bytes = bytesOf((writer) => writer.table(sampleTable));
    const decoded = new AmqpReader(bytes).table();
    assert.deepEqual(decoded, sampleTable);
    assert.deepEqual(
      bytesOf((writer) => writer.table(decoded)),
      bytes,
    );
  });

  it("encodes tags as RabbitMQ does: s is int16, l is int64, x is a byte array", () => {
    const one = (value: AmqpFieldValue) => bytesOf((writer) => writer.fieldValue(value));
    assert.equal(one({ type: "s", value: -2 }).toString("hex"), "73fffe");
    assert.equal(one({ type: "l", value: -1n }).toString("hex"), "6cffffffffffffffff");
    assert.equal(one({ type: "x", value: Buffer.from([7]) }).toString("hex"), "780000000107");
    assert.equal(one({ type: "V", value: null }).toString("hex"), "56");
    assert.equal(
      one({ type: "D", value: { scale: 2, digits: 5 } }).toString("hex"),
      "440200000005",
    );
  });

  it("rejects the spec-only tags U and L and unknown tags with 502", () => {
    for (const tag of ["U", "L", "Z"]) {
      const table = Buffer.concat([
        Buffer.from([0, 0, 0, 4, 1, 0x6b]),
        Buffer.from(tag),
        Buffer.from([0]),
      ]);
      const error = decodeFails(table, (r) => r.table());
      assert.equal(error.reason, "field-type-unknown");
      assert.equal(error.replyCode, 502);
    }
  });

  it("bounds nesting depth", () => {
    let value: AmqpFieldValue = { type: "V", value: null };
    for (let depth = 0; depth < amqpFieldTableDepthMax; depth++) {
      value = { type: "A", value: [value] };
    }
    const ok = bytesOf((writer) => writer.table(fieldTable({ k: value })));
    new AmqpReader(ok).table();
    const deep = bytesOf((writer) =>
      writer.table(fieldTable({ k: { type: "A", value: [value] } })),
    );
    assert.equal(decodeFails(deep, (r) => r.table()).reason, "table-too-deep");
  });

  it("bounds entries per table and array", () => {
    const values = Array.from({ length: amqpFieldTableEntriesMax + 1 }, () => ({
      type: "V" as const,
      value: null,
    }));
    const array = bytesOf((writer) => writer.array(values));
    assert.equal(decodeFails(array, (r) => r.array()).reason, "table-too-large");
    const table = bytesOf((writer) =>
      writer.table(new Map(values.map((value, index) => [`k${index}`, value]))),
    );
    assert.equal(decodeFails(table, (r) => r.table()).reason, "table-too-large");
  });

  it("a table whose length cuts a value in half is 502", () => {
    const bytes = bytesOf((writer) => writer.table(fieldTable({ n: { type: "I", value: 1 } })));
    bytes.writeUInt32BE(bytes.length - 4 - 2, 0);
    assert.equal(decodeFails(bytes, (r) => r.table()).replyCode, 502);
  });

  it("reads numbers and strings whatever tag the client chose", () => {
    const table = fieldTable({
      ttl: { type: "l", value: 60000n },
      small: { type: "b", value: 5 },
      dlx: { type: "S", value: "dead" },
      raw: { type: "x", value: Buffer.from("bytes") },
    });
    assert.equal(fieldNumber(table, "ttl"), 60000);
    assert.equal(fieldNumber(table, "small"), 5);
    assert.equal(fieldNumber(table, "dlx"), undefined);
    assert.equal(fieldString(table, "dlx"), "dead");
    assert.equal(fieldString(table, "raw"), "bytes");
  });

  it("the writer grows without corrupting earlier bytes", () => {
    const writer = new AmqpWriter(1);
    for (let index = 0; index < 1000; index++) writer.fieldValue({ type: "I", value: index });
    const reader = new AmqpReader(writer.finish());
    for (let index = 0; index < 1000; index++) {
      assert.deepEqual(reader.fieldValue(0), { type: "I", value: index });
    }
  });
});
