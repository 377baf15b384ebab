import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  sampleMethods,
  sampleProperties,
  sampleTable,
} from "../../../../test/helpers/amqp-sample-methods.ts";
import { AmqpDecodeError } from "./decode-error.ts";
import { amqpMethodsByName, encodeExchangeDeclare } from "./generated/methods.ts";
import {
  decodeContentHeaderPayload,
  decodeMethodPayload,
  encodeContentHeaderPayload,
  encodeMethodPayload,
} from "./payload.ts";
import { AmqpWriter } from "./writer.ts";

function methodBytes(method: Parameters<typeof encodeMethodPayload>[1]): Buffer {
  const writer = new AmqpWriter();
  encodeMethodPayload(writer, method);
  return Buffer.from(writer.finish());
}

function decodeError(run: () => unknown): AmqpDecodeError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof AmqpDecodeError, String(error));
    return error;
  }
  assert.fail("decoded without error");
}

describe("amqp methods", () => {
  for (const style of ["full", "zero"] as const) {
    it(`every method round-trips (${style} values)`, () => {
      for (const sample of sampleMethods(style)) {
        const bytes = methodBytes(sample.method);
        assert.equal(bytes.readUInt16BE(0), sample.classId);
        assert.equal(bytes.readUInt16BE(2), sample.methodId);
        const decoded = decodeMethodPayload(bytes);
        assert.deepEqual(decoded.method, sample.method, sample.method.name);
        assert.deepEqual(methodBytes(decoded.method), bytes, sample.method.name);
      }
    });
  }

  it("packs consecutive bits into one octet, first field in bit 0 (spec 4.2.5.2)", () => {
    const writer = new AmqpWriter();
    encodeExchangeDeclare(writer, {
      ticket: 0,
      exchange: "x",
      type: "topic",
      passive: true,
      durable: false,
      autoDelete: true,
      internal: false,
      nowait: true,
      arguments: new Map(),
    });
    // ticket(2) + "x"(2) + "topic"(6) + bits(1) + table(4)
    const bytes = writer.finish();
    assert.equal(bytes.length, 15);
    assert.equal(bytes[10], 0b10101);
  });

  it("bits after a non-bit field start a fresh octet (basic.nack)", () => {
    const info = amqpMethodsByName["basic.nack"];
    const writer = new AmqpWriter();
    info.encode(writer, { deliveryTag: 7, multiple: false, requeue: true });
    assert.equal(writer.finish().toString("hex"), "000000000000000702");
  });

  it("unknown class is 540, unknown method of a known class is 503", () => {
    assert.equal(
      decodeError(() => decodeMethodPayload(Buffer.from("00630001", "hex"))).replyCode,
      540,
    );
    assert.equal(
      decodeError(() => decodeMethodPayload(Buffer.from("003c0063", "hex"))).replyCode,
      503,
    );
  });

  it("truncated arguments and trailing bytes are 502", () => {
    const bytes = methodBytes(
      sampleMethods("full").find((s) => s.method.name === "queue.declare")!.method,
    );
    for (let cut = 4; cut < bytes.length; cut++) {
      assert.equal(decodeError(() => decodeMethodPayload(bytes.subarray(0, cut))).replyCode, 502);
    }
    const longer = Buffer.concat([bytes, Buffer.from([0])]);
    assert.equal(decodeError(() => decodeMethodPayload(longer)).reason, "trailing-bytes");
  });
});

describe("amqp content headers", () => {
  function headerBytes(bodySize: number, style: "full" | "zero"): Buffer {
    const writer = new AmqpWriter();
    encodeContentHeaderPayload(writer, {
      classId: 60,
      bodySize,
      properties: sampleProperties(style),
    });
    return Buffer.from(writer.finish());
  }

  it("round-trips all 14 basic properties and none", () => {
    for (const style of ["full", "zero"] as const) {
      const bytes = headerBytes(12345, style);
      const decoded = decodeContentHeaderPayload(bytes);
      assert.deepEqual(decoded, {
        classId: 60,
        bodySize: 12345,
        properties: sampleProperties(style),
      });
      assert.equal(bytes.readUInt16BE(12), style === "full" ? 0xfffc : 0);
    }
    assert.deepEqual(sampleProperties("full").headers, sampleTable);
  });

  it("sets one flag bit per present property, from bit 15 down", () => {
    const writer = new AmqpWriter();
    encodeContentHeaderPayload(writer, {
      classId: 60,
      bodySize: 0,
      properties: { deliveryMode: 2, appId: "a" },
    });
    assert.equal(writer.finish().toString("hex"), "003c000000000000000000001008020161");
  });

  it("accepts an empty continuation word; rejects flags naming missing properties (502)", () => {
    const base = headerBytes(0, "zero");
    const continued = Buffer.concat([base.subarray(0, 12), Buffer.from("00010000", "hex")]);
    assert.deepEqual(decodeContentHeaderPayload(continued).properties, {});
    const reserved = Buffer.concat([base.subarray(0, 12), Buffer.from("0002", "hex")]);
    assert.equal(
      decodeError(() => decodeContentHeaderPayload(reserved)).reason,
      "property-flags-invalid",
    );
    const extra = Buffer.concat([base.subarray(0, 12), Buffer.from("00018000", "hex")]);
    assert.equal(decodeError(() => decodeContentHeaderPayload(extra)).replyCode, 502);
  });

  it("a header for a class without content is 505; a non-zero weight is 502", () => {
    const base = headerBytes(0, "zero");
    const wrongClass = Buffer.from(base);
    wrongClass.writeUInt16BE(50, 0);
    assert.equal(decodeError(() => decodeContentHeaderPayload(wrongClass)).replyCode, 505);
    const weighted = Buffer.from(base);
    weighted.writeUInt16BE(1, 2);
    assert.equal(decodeError(() => decodeContentHeaderPayload(weighted)).replyCode, 502);
  });
});
