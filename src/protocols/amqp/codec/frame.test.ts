import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AmqpDecodeError } from "./decode-error.ts";
import {
  type AmqpFrame,
  AmqpFrameSplitter,
  amqpHeartbeatFrame,
  amqpProtocolHeader,
  checkProtocolHeader,
  encodeBodyFrames,
  encodeContentFrames,
  encodeMethodFrame,
  frameNeedMore,
} from "./frame.ts";
import { decodeContentHeaderPayload, decodeMethodPayload } from "./payload.ts";

function drain(splitter: AmqpFrameSplitter): AmqpFrame[] {
  const frames: AmqpFrame[] = [];
  for (;;) {
    const result = splitter.next();
    if (result === frameNeedMore) return frames;
    if (result instanceof AmqpDecodeError) throw result;
    frames.push({ ...result, payload: Buffer.from(result.payload) });
  }
}

const publish = encodeContentFrames(
  5,
  {
    name: "basic.publish",
    args: { ticket: 0, exchange: "ex", routingKey: "rk", mandatory: true, immediate: false },
  },
  { contentType: "text/plain", deliveryMode: 2 },
  Buffer.alloc(10000, 0x61),
  4096,
);
const stream = Buffer.concat([...publish, amqpHeartbeatFrame]);

describe("amqp protocol header [spec 4.2.2]", () => {
  it("accepts AMQP 0-9-1 and hands back pipelined bytes", () => {
    const result = checkProtocolHeader(Buffer.concat([amqpProtocolHeader, amqpHeartbeatFrame]));
    assert.equal(result.kind, "accepted");
    assert.deepEqual(
      result.kind === "accepted" && result.rest,
      amqpProtocolHeader.length && amqpHeartbeatFrame,
    );
  });

  it("waits on a matching prefix and rejects at the first differing byte", () => {
    assert.equal(checkProtocolHeader(Buffer.from("AMQ")).kind, "need-more");
    assert.equal(checkProtocolHeader(Buffer.from("GET / HTTP/1.1")).kind, "rejected");
    // AMQP 1.0 and 0-8 headers: answer with our header, then close.
    for (const hex of ["414d515000010000", "414d515001010800"]) {
      const result = checkProtocolHeader(Buffer.from(hex, "hex"));
      assert.deepEqual(result, { kind: "rejected", reply: amqpProtocolHeader });
    }
  });
});

describe("amqp frame splitter", () => {
  it("splits method, header, body frames and a heartbeat; body split by frame_max", () => {
    const splitter = new AmqpFrameSplitter();
    splitter.push(stream);
    const frames = drain(splitter);
    assert.deepEqual(
      frames.map((frame) => [frame.type, frame.channel, frame.payload.length]),
      [
        [1, 5, 13],
        [2, 5, 26],
        [3, 5, 4088],
        [3, 5, 4088],
        [3, 5, 1824],
        [8, 0, 0],
      ],
    );
    assert.equal(decodeMethodPayload(frames[0]!.payload).method.name, "basic.publish");
    const header = decodeContentHeaderPayload(frames[1]!.payload);
    assert.equal(header.bodySize, 10000);
    assert.deepEqual(header.properties, { contentType: "text/plain", deliveryMode: 2 });
    assert.equal(splitter.bufferedBytes, 0);
  });

  it("gives the same frames whatever the split points, never throwing on short input", () => {
    const whole = new AmqpFrameSplitter();
    whole.push(stream);
    const expected = drain(whole);
    for (const step of [1, 2, 3, 7, 8, 100, 4095, 4096, 4097]) {
      const splitter = new AmqpFrameSplitter();
      const frames: AmqpFrame[] = [];
      for (let offset = 0; offset < stream.length; offset += step) {
        splitter.push(stream.subarray(offset, offset + step));
        frames.push(...drain(splitter));
      }
      assert.deepEqual(frames, expected, `step ${step}`);
    }
  });

  it("returns payloads as views of the chunk when a frame lies inside one", () => {
    const frame = encodeMethodFrame(1, {
      name: "basic.ack",
      args: { deliveryTag: 1, multiple: false },
    });
    const splitter = new AmqpFrameSplitter();
    splitter.push(frame);
    const result = splitter.next();
    assert.ok(result !== frameNeedMore && !(result instanceof AmqpDecodeError));
    assert.equal(result.payload.buffer, frame.buffer);
  });

  it("a bad frame-end octet is 501 and the splitter stays failed", () => {
    const frame = Buffer.from(amqpHeartbeatFrame);
    frame[7] = 0;
    const splitter = new AmqpFrameSplitter();
    splitter.push(frame);
    const result = splitter.next();
    assert.ok(result instanceof AmqpDecodeError);
    assert.equal(result.reason, "frame-end-invalid");
    assert.equal(result.replyCode, 501);
    splitter.push(amqpHeartbeatFrame);
    assert.equal(splitter.next(), result);
  });

  it("a size over frame_max is 501 as soon as the header arrives", () => {
    const splitter = new AmqpFrameSplitter(4096);
    splitter.push(Buffer.from([1, 0, 1, 0, 0, 0x0f, 0xf9])); // 4089 + 8 = 4097
    const result = splitter.next();
    assert.ok(result instanceof AmqpDecodeError);
    assert.equal(result.reason, "frame-too-large");
    assert.equal(result.replyCode, 501);
    const raised = new AmqpFrameSplitter(4096);
    raised.frameBytesMax = 131072;
    raised.push(Buffer.from([1, 0, 1, 0, 0, 0x0f, 0xf9]));
    assert.equal(raised.next(), frameNeedMore);
  });

  it("an unknown frame type or a heartbeat off channel 0 is 501", () => {
    for (const bytes of [
      [4, 0, 0, 0, 0, 0, 0, 0xce],
      [8, 0, 1, 0, 0, 0, 0, 0xce],
    ]) {
      const splitter = new AmqpFrameSplitter();
      splitter.push(Buffer.from(bytes));
      const result = splitter.next();
      assert.ok(result instanceof AmqpDecodeError);
      assert.equal(result.replyCode, 501);
    }
  });

  it("encodes no body frames for an empty body, and body pieces reference the body", () => {
    assert.deepEqual(encodeBodyFrames(1, Buffer.alloc(0), 4096), []);
    const body = Buffer.alloc(5000);
    const pieces = encodeBodyFrames(1, body, 4096);
    assert.equal(pieces.length, 6);
    assert.equal(pieces[1]!.buffer, body.buffer);
  });
});
