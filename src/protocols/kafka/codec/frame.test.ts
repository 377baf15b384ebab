import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { frameNeedMore, KafkaFrameError, KafkaFrameSplitter } from "./frame.ts";
import { kafkaFrameBytesMax } from "./limits.ts";

function frame(body: string): Buffer {
  const bytes = Buffer.from(body);
  const size = Buffer.alloc(4);
  size.writeInt32BE(bytes.length);
  return Buffer.concat([size, bytes]);
}

function drain(splitter: KafkaFrameSplitter): Array<Buffer | KafkaFrameError> {
  const out: Array<Buffer | KafkaFrameError> = [];
  for (;;) {
    const next = splitter.next();
    if (next === frameNeedMore) return out;
    out.push(next);
    if (next instanceof KafkaFrameError) return out;
  }
}

describe("kafka frame splitter", () => {
  it("returns frames lying inside one chunk as views of that chunk", () => {
    const chunk = Buffer.concat([frame("hello"), frame(""), frame("world!")]);
    const splitter = new KafkaFrameSplitter();
    splitter.push(chunk);
    const frames = drain(splitter) as Buffer[];
    assert.deepEqual(
      frames.map((item) => item.toString()),
      ["hello", "", "world!"],
    );
    assert.equal(frames[0].buffer, chunk.buffer);
    assert.equal(frames[2].byteOffset, chunk.byteOffset + 9 + 4 + 4);
    assert.equal(splitter.bufferedBytes, 0);
  });

  it("answers need-more on short input and joins frames split at every point", () => {
    const stream = Buffer.concat([frame("abcdefgh"), frame("ij"), frame("")]);
    for (let cut = 0; cut <= stream.length; cut++) {
      for (let second = cut; second <= stream.length; second++) {
        const splitter = new KafkaFrameSplitter();
        const frames: string[] = [];
        for (const part of [
          stream.subarray(0, cut),
          stream.subarray(cut, second),
          stream.subarray(second),
        ]) {
          splitter.push(part);
          for (const item of drain(splitter)) frames.push((item as Buffer).toString());
        }
        assert.deepEqual(frames, ["abcdefgh", "ij", ""], `cuts at ${cut}, ${second}`);
        assert.equal(splitter.bufferedBytes, 0);
      }
    }
    const splitter = new KafkaFrameSplitter();
    splitter.push(Buffer.from([0, 0]));
    assert.equal(splitter.next(), frameNeedMore);
    splitter.push(Buffer.from([0, 3, 1]));
    assert.equal(splitter.next(), frameNeedMore);
  });

  it("returns a frame that starts in a later chunk as a view of it", () => {
    const whole = frame("payload");
    const splitter = new KafkaFrameSplitter();
    splitter.push(whole.subarray(0, 4));
    assert.equal(splitter.next(), frameNeedMore);
    const rest = whole.subarray(4);
    splitter.push(rest);
    const result = splitter.next() as Buffer;
    assert.equal(result.toString(), "payload");
    assert.equal(result.buffer, rest.buffer);
  });

  it("fails, and stays failed, on a negative size or one above the maximum", () => {
    const negative = new KafkaFrameSplitter();
    negative.push(Buffer.from([0xff, 0xff, 0xff, 0xfe, 0, 0]));
    const error = negative.next();
    assert.ok(error instanceof KafkaFrameError);
    assert.equal(error.reason, "frame-size-negative");
    assert.equal(error.size, -2);
    negative.push(frame("ok"));
    assert.equal(negative.next(), error);
    assert.equal(negative.bufferedBytes, 0);

    const large = new KafkaFrameSplitter(16);
    large.push(frame("x".repeat(16)));
    assert.equal((large.next() as Buffer).length, 16);
    large.push(frame("x".repeat(17)).subarray(0, 4));
    const tooLarge = large.next();
    assert.ok(tooLarge instanceof KafkaFrameError);
    assert.equal(tooLarge.reason, "frame-size-too-large");
    assert.match(tooLarge.message, /exceeds the limit of 16 bytes/);

    const defaults = new KafkaFrameSplitter();
    const size = Buffer.alloc(4);
    size.writeInt32BE(kafkaFrameBytesMax + 1);
    defaults.push(size);
    assert.ok(defaults.next() instanceof KafkaFrameError);
  });
});
