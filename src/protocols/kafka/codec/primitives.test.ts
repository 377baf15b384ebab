import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KafkaDecodeError } from "./decode-error.ts";
import { kafkaStringBytesMax } from "./limits.ts";
import { KafkaReader, zeroUuid } from "./reader.ts";
import { KafkaWriter, recordsCopyBytesMax } from "./writer.ts";

function roundTrip<T>(
  write: (writer: KafkaWriter, value: T) => void,
  read: (reader: KafkaReader) => T,
  values: readonly T[],
): void {
  for (const value of values) {
    const writer = new KafkaWriter(8);
    write(writer, value);
    const reader = new KafkaReader(writer.takeBuffer());
    assert.deepEqual(read(reader), value, `value ${String(value)}`);
    assert.equal(reader.remaining, 0, `all bytes of ${String(value)} consumed`);
  }
}

function bytes(...values: number[]): KafkaReader {
  return new KafkaReader(Buffer.from(values));
}

function assertDecodeError(action: () => unknown, reason: KafkaDecodeError["reason"]): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof KafkaDecodeError, `expected KafkaDecodeError, got ${error}`);
    assert.equal(error.reason, reason);
    return true;
  });
}

describe("kafka primitives: fixed-width integers", () => {
  it("round-trips int8/int16/int32/uint16/uint32 at their edges", () => {
    roundTrip(
      (w, v) => w.writeInt8(v),
      (r) => r.readInt8(),
      [0, 1, -1, 127, -128],
    );
    roundTrip(
      (w, v) => w.writeInt16(v),
      (r) => r.readInt16(),
      [0, -1, 32767, -32768],
    );
    roundTrip(
      (w, v) => w.writeInt32(v),
      (r) => r.readInt32(),
      [0, -1, 2147483647, -2147483648, 65536],
    );
    roundTrip(
      (w, v) => w.writeUint16(v),
      (r) => r.readUint16(),
      [0, 65535, 256],
    );
    roundTrip(
      (w, v) => w.writeUint32(v),
      (r) => r.readUint32(),
      [0, 4294967295, 2147483648],
    );
    roundTrip(
      (w, v) => w.writeBool(v),
      (r) => r.readBool(),
      [true, false],
    );
    roundTrip(
      (w, v) => w.writeFloat64(v),
      (r) => r.readFloat64(),
      [0, -1.5, 1e300, Math.PI],
    );
  });

  it("round-trips int64 exactly within ±2^53 and in big-endian two's complement", () => {
    const values = [0, -1, 1, 2 ** 32, -(2 ** 32), 2 ** 53 - 1, -(2 ** 53 - 1), 1700000000000];
    roundTrip(
      (w, v) => w.writeInt64(v),
      (r) => r.readInt64(),
      values,
    );
    const writer = new KafkaWriter();
    writer.writeInt64(-2);
    assert.deepEqual(writer.takeBuffer(), Buffer.from("fffffffffffffffe", "hex"));
  });

  it("saturates int64 beyond the int64 range, so Long.MAX_VALUE survives a round trip", () => {
    const max = Buffer.from("7fffffffffffffff", "hex");
    const value = new KafkaReader(max).readInt64();
    assert.equal(value, 2 ** 63);
    const writer = new KafkaWriter();
    writer.writeInt64(value);
    writer.writeInt64(-(2 ** 64));
    assert.deepEqual(
      writer.takeBuffer(),
      Buffer.concat([max, Buffer.from("8000000000000000", "hex")]),
    );
  });
});

describe("kafka primitives: varints", () => {
  it("round-trips unsigned varints up to 2^32-1 with the minimal encoding", () => {
    roundTrip(
      (w, v) => w.writeUnsignedVarint(v),
      (r) => r.readUnsignedVarint(),
      [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32 - 1],
    );
    const writer = new KafkaWriter();
    writer.writeUnsignedVarint(300);
    assert.deepEqual(writer.takeBuffer(), Buffer.from([0xac, 0x02]));
  });

  it("round-trips zigzag varints and varlongs", () => {
    roundTrip(
      (w, v) => w.writeVarint(v),
      (r) => r.readVarint(),
      [0, -1, 1, -64, 63, 2147483647, -2147483648],
    );
    roundTrip(
      (w, v) => w.writeVarlong(v),
      (r) => r.readVarlong(),
      [0, -1, 1, 2 ** 40, -(2 ** 40), 2 ** 52, -(2 ** 52)],
    );
    const writer = new KafkaWriter();
    writer.writeVarint(-1);
    writer.writeVarint(1);
    assert.deepEqual(writer.takeBuffer(), Buffer.from([0x01, 0x02]));
  });

  it("rejects overlong and oversized varints", () => {
    assertDecodeError(
      () => bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x01).readUnsignedVarint(),
      "invalid-varint",
    );
    assertDecodeError(
      () => bytes(0xff, 0xff, 0xff, 0xff, 0x1f).readUnsignedVarint(),
      "invalid-varint",
    );
    assertDecodeError(
      () => bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02).readVarlong(),
      "invalid-varint",
    );
    assertDecodeError(() => bytes(0x80).readUnsignedVarint(), "truncated");
  });
});

describe("kafka primitives: strings, bytes, uuid", () => {
  it("round-trips classic and compact strings, nullable or not, in UTF-8", () => {
    const texts = ["", "a", "topic-ü€😀", "x".repeat(kafkaStringBytesMax)];
    roundTrip(
      (w, v) => w.writeString(v),
      (r) => r.readString(),
      texts,
    );
    roundTrip(
      (w, v) => w.writeCompactString(v),
      (r) => r.readCompactString(),
      texts,
    );
    roundTrip(
      (w, v) => w.writeNullableString(v),
      (r) => r.readNullableString(),
      [...texts, null],
    );
    roundTrip(
      (w, v) => w.writeCompactNullableString(v),
      (r) => r.readCompactNullableString(),
      [...texts, null],
    );
  });

  it("refuses to encode a string longer than Kafka allows", () => {
    assert.throws(() => new KafkaWriter().writeString("x".repeat(kafkaStringBytesMax + 1)));
  });

  it("rejects null where not allowed, bad lengths and declared lengths beyond the input", () => {
    assertDecodeError(() => bytes(0xff, 0xff).readString(), "null-not-allowed");
    assertDecodeError(() => bytes(0xff, 0xfe).readNullableString(), "invalid-length");
    assertDecodeError(() => bytes(0x00).readCompactString(), "null-not-allowed");
    assertDecodeError(() => bytes(0x00, 0x05, 0x61).readString(), "truncated");
    assertDecodeError(() => bytes(0xff, 0xff, 0xff, 0xff).readBytes(), "null-not-allowed");
    assertDecodeError(() => bytes(0x80, 0x00, 0x00, 0x00).readNullableBytes(), "invalid-length");
    assertDecodeError(() => bytes(0x7f, 0xff, 0xff, 0xff).readBytes(), "truncated");
    // A compact string declaring more than the Kafka string limit.
    assertDecodeError(() => bytes(0x82, 0x80, 0x02).readCompactString(), "invalid-length");
  });

  it("returns bytes as views of the input, not copies", () => {
    const writer = new KafkaWriter();
    writer.writeBytes(Buffer.from("abc"));
    writer.writeCompactNullableBytes(Buffer.from("de"));
    writer.writeNullableBytes(null);
    writer.writeCompactNullableBytes(null);
    const input = writer.takeBuffer();
    const reader = new KafkaReader(input);
    const first = reader.readBytes();
    assert.equal(first.toString(), "abc");
    assert.equal(first.buffer, input.buffer);
    assert.equal(first.byteOffset, input.byteOffset + 4);
    assert.equal(reader.readCompactNullableBytes()?.toString(), "de");
    assert.equal(reader.readNullableBytes(), null);
    assert.equal(reader.readCompactNullableBytes(), null);
  });

  it("round-trips uuids as lowercase hex text", () => {
    const values = [
      zeroUuid,
      "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
      "ffffffff-ffff-ffff-ffff-ffffffffffff",
    ];
    roundTrip(
      (w, v) => w.writeUuid(v),
      (r) => r.readUuid(),
      values,
    );
    assert.throws(() => new KafkaWriter().writeUuid("not-a-uuid"));
  });
});

describe("kafka primitives: arrays and tagged fields", () => {
  it("encodes array lengths classic (int32, -1 null) and compact (uvarint n+1, 0 null)", () => {
    const writer = new KafkaWriter();
    writer.writeArrayLength(2);
    writer.writeNullableArrayLength(null);
    writer.writeCompactArrayLength(2);
    writer.writeCompactNullableArrayLength(null);
    const reader = new KafkaReader(Buffer.concat([writer.takeBuffer(), Buffer.alloc(2)]));
    assert.equal(reader.readArrayLength(), 2);
    assert.equal(reader.readNullableArrayLength(), -1);
    assert.equal(reader.readCompactArrayLength(), 2);
    assert.equal(reader.readCompactNullableArrayLength(), -1);
  });

  it("rejects an array count above the bytes left before decoding any element", () => {
    assertDecodeError(
      () => bytes(0x00, 0x00, 0x00, 0x03, 0x01, 0x02).readArrayLength(),
      "invalid-length",
    );
    assertDecodeError(
      () => bytes(0x7f, 0xff, 0xff, 0xff).readNullableArrayLength(),
      "invalid-length",
    );
    assertDecodeError(
      () => bytes(0xff, 0xff, 0xff, 0xfe).readNullableArrayLength(),
      "invalid-length",
    );
    assertDecodeError(() => bytes(0x00).readCompactArrayLength(), "null-not-allowed");
    assertDecodeError(() => bytes(0x05, 0x00).readCompactNullableArrayLength(), "invalid-length");
  });

  it("skips unknown tagged fields and checks a known field's size", () => {
    const tagged = new KafkaWriter();
    tagged.writeInt32(7);
    const writer = new KafkaWriter();
    writer.writeUnsignedVarint(2);
    writer.writeTaggedField(5, tagged);
    writer.writeUnsignedVarint(9);
    writer.writeUnsignedVarint(3);
    writer.writeRaw(Buffer.from([1, 2, 3]));
    writer.writeInt8(42);
    const reader = new KafkaReader(writer.takeBuffer());
    reader.skipTaggedFields();
    assert.equal(reader.readInt8(), 42);

    // A known tag whose decoder consumes less than the declared size.
    const short = bytes(0x00, 0x05, 0x00, 0x00, 0x00, 0x07, 0xff);
    short.readUnsignedVarint();
    const outerEnd = short.enterTaggedField();
    short.readInt32();
    assertDecodeError(() => short.leaveTaggedField(outerEnd), "invalid-tagged-field");
    // A tagged field cannot be read past its declared size.
    const bounded = bytes(0x02, 0x00, 0x00, 0x00, 0x07);
    bounded.enterTaggedField();
    assertDecodeError(() => bounded.readInt32(), "truncated");
  });
});

describe("kafka writer: chunks and back-patching", () => {
  it("pushes large record data as its own chunk and copies small data", () => {
    const records = Buffer.alloc(recordsCopyBytesMax + 1, 7);
    const small = Buffer.alloc(recordsCopyBytesMax, 8);
    const writer = new KafkaWriter();
    const size = writer.reserveInt32();
    writer.writeInt16(1);
    writer.writeRecords(records);
    writer.writeCompactRecords(small);
    writer.writeRecords(null);
    writer.patchSize(size);
    const total = writer.length;
    const chunks = writer.takeChunks();
    assert.ok(chunks.includes(records), "the records Buffer itself is a chunk");
    assert.ok(!chunks.includes(small));
    const joined = Buffer.concat(chunks);
    assert.equal(joined.length, total);
    assert.equal(joined.readInt32BE(0), total - 4);
    const reader = new KafkaReader(joined, 4);
    assert.equal(reader.readInt16(), 1);
    assert.deepEqual(reader.readRecords(), records);
    assert.deepEqual(reader.readCompactRecords(), small);
    assert.equal(reader.readRecords(), null);
  });

  it("grows across blocks, patches a slot in an earlier block, and is reusable", () => {
    const writer = new KafkaWriter(16);
    const size = writer.reserveInt32();
    for (let index = 0; index < 100; index++) writer.writeInt32(index);
    writer.patchSize(size);
    const first = writer.takeBuffer();
    assert.equal(first.readInt32BE(0), 400);
    assert.equal(first.readInt32BE(4 + 99 * 4), 99);
    writer.writeInt8(5);
    assert.deepEqual(writer.takeBuffer(), Buffer.from([5]));
    assert.equal(first.readInt32BE(4), 0, "earlier output is not overwritten by reuse");
  });
});
