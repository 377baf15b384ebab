/**
 * Compression of RecordBatch v2 records: round trips per codec, the byte formats Kafka's Java
 * client writes and reads (xerial snappy, LZ4 frame), batches captured from kafka-clients
 * (fixtures/compression/, see its README), zip-bomb limits and bad input.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { compressSync as snappyRawCompressSync } from "snappy";
import { batchDecompressedBytesMax } from "../config/limits.ts";
import { isWharfError } from "../errors/index.ts";
import {
  Compression,
  type CompressionCode,
  compressRecords,
  compressRecordsSync,
  decompressRecords,
  decompressRecordsSync,
  isSyncCompressionCode,
} from "./compression.ts";
import { crc32c } from "./crc32c.ts";
import {
  Attribute,
  checkBatch,
  decodeBatchRecords,
  decodeRecords,
  encodeBatch,
  encodeBatchCompressed,
  Offset,
  type RecordInput,
  readBatchHeader,
} from "./record-batch.ts";

const codecs = [
  Compression.gzip,
  Compression.snappy,
  Compression.lz4,
  Compression.zstd,
] as const satisfies readonly CompressionCode[];
const MiB = 1024 * 1024;

/** Text-like bytes: compressible, but not trivially. */
function sampleBytes(length: number, seed = 1): Buffer {
  const words = ["wharf", "queue", "stream", "batch", "record", "offset", "epoch", "\n"];
  const parts: string[] = [];
  let state = seed;
  let size = 0;
  while (size < length) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const word = `${words[state % words.length]}${state % 97} `;
    parts.push(word);
    size += word.length;
  }
  return Buffer.from(parts.join("")).subarray(0, length);
}

async function rejects(run: () => unknown, pattern?: RegExp): Promise<void> {
  await assert.rejects(
    async () => run(),
    (error: unknown) => {
      assert.ok(isWharfError(error, "WHARF_BATCH_INVALID"), `not a WharfError: ${error}`);
      if (pattern) assert.match((error as Error).message, pattern);
      return true;
    },
  );
}

test("every codec round-trips empty, small and multi-block inputs", async () => {
  for (const codec of codecs) {
    for (const input of [Buffer.alloc(0), sampleBytes(100), sampleBytes(300_000, 7)]) {
      const compressed = await compressRecords(codec, input);
      assert.deepEqual(await decompressRecords(codec, compressed), input, `codec ${codec}`);
      if (isSyncCompressionCode(codec)) {
        assert.deepEqual(decompressRecordsSync(codec, compressed), input);
        const compressedSync = compressRecordsSync(codec, input);
        assert.deepEqual(decompressRecordsSync(codec, compressedSync), input);
      }
    }
  }
});

test("compression levels are passed to gzip and zstd and checked", async () => {
  const input = sampleBytes(50_000);
  for (const level of [1, 9]) {
    const compressed = await compressRecords(Compression.gzip, input, { level });
    assert.deepEqual(await decompressRecords(Compression.gzip, compressed), input);
  }
  const zstdFast = await compressRecords(Compression.zstd, input, { level: 1 });
  const zstdBest = await compressRecords(Compression.zstd, input, { level: 19 });
  assert.ok(zstdBest.length <= zstdFast.length);
  await assert.rejects(() => compressRecords(Compression.gzip, input, { level: 10 }), RangeError);
  await assert.rejects(() => compressRecords(Compression.zstd, input, { level: 23 }), RangeError);
});

test("snappy is written in xerial framing with 32 KiB chunks, as snappy-java does", () => {
  const input = sampleBytes(70_000);
  const framed = compressRecordsSync(Compression.snappy, input);
  assert.deepEqual([...framed.subarray(0, 8)], [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0]);
  assert.equal(framed.readInt32BE(8), 1); // version
  assert.equal(framed.readInt32BE(12), 1); // minimum compatible version
  const chunkLengths: number[] = [];
  for (let pos = 16; pos < framed.length; ) {
    const length = framed.readInt32BE(pos);
    chunkLengths.push(length);
    pos += 4 + length;
  }
  assert.equal(chunkLengths.length, 3); // 32 KiB + 32 KiB + 4464 bytes
});

test("snappy decodes raw blocks (librdkafka, kafkajs) and xerial frames (Java)", async () => {
  const input = sampleBytes(10_000);
  const raw = snappyRawCompressSync(input);
  assert.deepEqual(decompressRecordsSync(Compression.snappy, raw), input);
  assert.deepEqual(await decompressRecords(Compression.snappy, raw), input);
  const xerial = compressRecordsSync(Compression.snappy, input);
  assert.notDeepEqual(xerial, raw);
  assert.deepEqual(await decompressRecords(Compression.snappy, xerial), input);
});

test("lz4 is written as the frame Kafka's Lz4BlockOutputStream writes (FLG 0x60, BD 0x40)", async () => {
  for (const frame of [
    compressRecordsSync(Compression.lz4, sampleBytes(1000)),
    await compressRecords(Compression.lz4, sampleBytes(1000)),
  ]) {
    assert.equal(frame.readUInt32LE(0), 0x184d2204);
    // Version 1, independent blocks, no block or content checksum, no content size: the only
    // descriptor older Java consumers (Lz4BlockInputStream) accept besides checksummed ones.
    assert.equal(frame[4], 0x60);
    assert.equal(frame[5], 0x40); // 64 KiB blocks
  }
});

const largeValue = (i: number) => `${i}:${"lorem ipsum dolor sit amet ".repeat(75)}`;
const fixtureTimestamp = 1_700_000_000_000;
/** The records KafkaBatchFixtures.java appends (fixtures/compression/README.md). */
const fixtureRecords = {
  small: [
    {
      key: "k0",
      value: "hello 0",
      timestamp: fixtureTimestamp,
      headers: [["trace", "t0"]],
    },
    { key: null, value: "no key", timestamp: fixtureTimestamp + 1, headers: [] },
    {
      key: "k2",
      value: null,
      timestamp: fixtureTimestamp + 2,
      headers: [
        ["a", "1"],
        ["b", null],
      ],
    },
  ],
  large: Array.from({ length: 200 }, (_, i) => ({
    key: `key-${i}`,
    value: largeValue(i),
    timestamp: fixtureTimestamp + i,
    headers: [] as string[][],
  })),
};

test("batches compressed by Kafka's Java client (kafka-clients 4.0) decode", async () => {
  const names = ["gzip", "snappy", "lz4", "zstd"] as const;
  for (const [index, name] of names.entries()) {
    for (const size of ["small", "large"] as const) {
      const url = new URL(`./fixtures/compression/kafka-java-${name}-${size}.bin`, import.meta.url);
      const batch = readFileSync(url);
      assert.equal(readBatchHeader(batch).attributes & Attribute.compressionMask, codecs[index]);
      assert.equal(checkBatch(batch, 0, batch.length, { fromProducer: true }).ok, true);
      const decoded = await decodeBatchRecords(batch);
      const actual = decoded.map((record, offset) => {
        assert.equal(record.offset, offset);
        return {
          key: record.key?.toString() ?? null,
          value: record.value?.toString() ?? null,
          timestamp: record.timestamp,
          headers: record.headers.map((h) => [h.key, h.value?.toString() ?? null]),
        };
      });
      assert.deepEqual(actual, fixtureRecords[size], `${name}-${size}`);
    }
  }
  // The Java snappy fixture really is xerial-framed, with 32 KiB chunks.
  const snappyBatch = readFileSync(
    new URL("./fixtures/compression/kafka-java-snappy-large.bin", import.meta.url),
  );
  assert.equal(snappyBatch.subarray(Offset.records + 1, Offset.records + 7).toString(), "SNAPPY");
});

const batchRecords: RecordInput[] = Array.from({ length: 40 }, (_, i) => ({
  key: i % 5 === 0 ? null : Buffer.from(`key-${i}`),
  value: i === 3 ? null : sampleBytes(200 + i, i),
  headers: i % 2 ? [{ key: "h", value: Buffer.from(String(i)) }] : [],
  timestamp: 1_700_000_000_000 + i * 3,
}));

test("encodeBatch and encodeBatchCompressed write valid compressed batches", async () => {
  const plain = encodeBatch(batchRecords, { baseOffset: 100 });
  const expected = decodeRecords(plain);
  for (const codec of codecs) {
    const options = {
      baseOffset: 100,
      compression: codec,
      attributes: Attribute.transactional,
      producerId: 9,
    };
    const batches = [await encodeBatchCompressed(batchRecords, options)];
    if (isSyncCompressionCode(codec))
      batches.push(encodeBatch(batchRecords, { ...options, compression: codec }));
    for (const batch of batches) {
      assert.ok(batch.length < plain.length, `codec ${codec} did not shrink the batch`);
      const header = readBatchHeader(batch);
      assert.equal(header.attributes, Attribute.transactional | codec);
      assert.equal(header.recordCount, batchRecords.length);
      assert.equal(header.batchLength + 12, batch.length);
      assert.equal(header.maxTimestamp, readBatchHeader(plain).maxTimestamp);
      assert.deepEqual(checkBatch(batch, 0, batch.length, { fromProducer: true }), {
        ok: true,
        size: batch.length,
      });
      assert.deepEqual(await decodeBatchRecords(batch), expected);
      // The synchronous decoder still refuses compressed batches.
      assert.throws(() => decodeRecords(batch), /compression/);
    }
  }
  // Uncompressed batches go through decodeBatchRecords too.
  assert.deepEqual(await decodeBatchRecords(plain), expected);
});

test("decodeBatchRecords reads a batch in the middle of a buffer", async () => {
  const batch = await encodeBatchCompressed(batchRecords, { compression: Compression.zstd });
  const buffer = Buffer.concat([Buffer.alloc(7, 0xee), batch, Buffer.alloc(5, 0xee)]);
  assert.equal((await decodeBatchRecords(buffer, 7)).length, batchRecords.length);
});

test("the decompressed size is bounded (zip-bomb protection)", async () => {
  // Honest data over a small limit: refused by every codec, synchronously and not.
  const input = Buffer.alloc(2 * MiB, 0x61);
  for (const codec of codecs) {
    const compressed = await compressRecords(codec, input);
    const options = { decompressedBytesMax: MiB };
    await rejects(() => decompressRecords(codec, compressed, options), /limit/);
    if (isSyncCompressionCode(codec)) {
      await rejects(() => decompressRecordsSync(codec, compressed, options), /limit/);
    }
    assert.equal((await decompressRecords(codec, compressed)).length, input.length);
  }
});

test("bombs against the default limit are refused before their output is allocated", async () => {
  const over = batchDecompressedBytesMax + 1;
  // snappy: a raw block whose preamble declares more than the limit.
  const preamble = Buffer.from([
    0x80 | (over & 0x7f),
    0x80 | ((over >> 7) & 0x7f),
    0x80 | ((over >> 14) & 0x7f),
    over >> 21,
  ]);
  await rejects(
    () => decompressRecords(Compression.snappy, Buffer.concat([preamble, Buffer.alloc(8)])),
    /limit/,
  );
  // zstd: 513 RLE blocks of 128 KiB each (4 bytes apiece) in a 1 MiB window.
  const blocks: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50])];
  for (let i = 0; i < 513; i++) {
    const header = ((128 * 1024) << 3) | (1 << 1) | (i === 512 ? 1 : 0);
    blocks.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, header >> 16, 0x61]));
  }
  await rejects(() => decompressRecords(Compression.zstd, Buffer.concat(blocks)), /limit/);
  // lz4: a frame declaring 4 MiB blocks, each a few bytes of compressed zeros.
  const block = Buffer.from([0x1f, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff]);
  const lz4Parts = [Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x70, 0x73])];
  for (let i = 0; i < 17; i++) {
    const size = Buffer.alloc(4);
    size.writeUInt32LE(block.length);
    lz4Parts.push(size, block);
  }
  lz4Parts.push(Buffer.alloc(4));
  await rejects(() => decompressRecords(Compression.lz4, Buffer.concat(lz4Parts)), /limit/);
  // gzip: 65 concatenated members of 1 MiB of zeros (a valid multi-member stream).
  const member = gzipSync(Buffer.alloc(MiB));
  const bomb = Buffer.concat(Array.from({ length: 65 }, () => member));
  await rejects(() => decompressRecords(Compression.gzip, bomb), /limit/);
  await rejects(() => decompressRecordsSync(Compression.gzip, bomb), /limit/);
});

test("multi-member gzip and multi-frame zstd decode whole; lz4 takes exactly one frame", async () => {
  const a = sampleBytes(1000, 1);
  const b = sampleBytes(2000, 2);
  const both = Buffer.concat([a, b]);
  for (const codec of [Compression.gzip, Compression.zstd] as const) {
    const joined = Buffer.concat([
      await compressRecords(codec, a),
      await compressRecords(codec, b),
    ]);
    assert.deepEqual(await decompressRecords(codec, joined), both, `codec ${codec}`);
  }
  // lz4-napi (like Kafka's reader) stops at the first end mark: a second frame would be lost.
  const frames = Buffer.concat([
    await compressRecords(Compression.lz4, a),
    await compressRecords(Compression.lz4, b),
  ]);
  await rejects(() => decompressRecords(Compression.lz4, frames), /bytes after the frame/);
  // zstd skippable frames are allowed (the decoder skips them).
  const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
  const zstdA = await compressRecords(Compression.zstd, a);
  assert.deepEqual(await decompressRecords(Compression.zstd, Buffer.concat([skippable, zstdA])), a);
});

test("garbage, truncation and unknown codecs raise WHARF_BATCH_INVALID", async () => {
  const input = sampleBytes(5000);
  for (const codec of codecs) {
    await rejects(() => decompressRecords(codec, Buffer.alloc(0)));
    await rejects(() => decompressRecords(codec, Buffer.from("definitely not compressed")));
    const compressed = await compressRecords(codec, input);
    await rejects(() => decompressRecords(codec, compressed.subarray(0, compressed.length - 3)));
    if (isSyncCompressionCode(codec)) {
      await rejects(() => decompressRecordsSync(codec, compressed.subarray(0, 10)));
    }
  }
  await rejects(() => decompressRecords(5 as CompressionCode, input), /unknown compression/);

  const batch = await encodeBatchCompressed(batchRecords, { compression: Compression.lz4 });
  const unknown = Buffer.from(batch);
  unknown.writeInt16BE(6, Offset.attributes);
  unknown.writeUInt32BE(crc32c(unknown, Offset.attributes), Offset.crc);
  await rejects(() => decodeBatchRecords(unknown), /unknown compression codec 6/);
  const check = checkBatch(unknown, 0, unknown.length, { fromProducer: true });
  assert.equal(check.ok, false);
  assert.ok(!check.ok && isWharfError(check.error, "WHARF_BATCH_INVALID"));
});

test("a compressed section with bytes after the last record is refused", async () => {
  const plain = encodeBatch(batchRecords.slice(0, 2));
  const section = Buffer.concat([plain.subarray(Offset.records), Buffer.from([0, 0])]);
  const compressed = await compressRecords(Compression.gzip, section);
  const batch = Buffer.concat([plain.subarray(0, Offset.records), compressed]);
  batch.writeInt32BE(batch.length - 12, Offset.batchLength);
  batch.writeInt16BE(Compression.gzip, Offset.attributes);
  batch.writeUInt32BE(crc32c(batch, Offset.attributes), Offset.crc);
  await rejects(() => decodeBatchRecords(batch), /after the last of 2 records/);
});
