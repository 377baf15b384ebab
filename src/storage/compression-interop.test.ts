/**
 * Interop with real clients' compression (STYLE.md 9d): record batches built by kafkajs's own
 * RecordBatch encoder with its gzip codec and the community codecs kafkajs-snappy (raw snappy,
 * as librdkafka also writes) must decode with ours;
 * batches we compress must decode with kafkajs's RecordBatch decoder and those codecs. zstd
 * has no kafkajs codec that builds here (@kafkajs/zstd needs the unmaintained native cppzst);
 * it is covered by the batches captured from Kafka's Java client (compression.test.ts).
 * kafkajs modules are loaded with createRequire (not public API: an upgrade that moves them
 * fails loudly at require time).
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import { Compression, type CompressionCode } from "./compression.ts";
import {
  checkBatch,
  type DecodedRecord,
  decodeBatchRecords,
  encodeBatchCompressed,
  type RecordInput,
} from "./record-batch.ts";

const require = createRequire(import.meta.url);

interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}
const kafkajs = require("kafkajs") as {
  CompressionTypes: { GZIP: number; Snappy: number; LZ4: number };
  CompressionCodecs: Record<number, () => KafkajsCodec>;
};
const SnappyCodec = require("kafkajs-snappy") as () => KafkajsCodec;
// Registration as kafkajs documents it for this package (lz4 and zstd: see
// test/integration/kafka-kafkajs.test.ts and the Java fixtures in compression.test.ts).
kafkajs.CompressionCodecs[kafkajs.CompressionTypes.Snappy] = SnappyCodec;

type Encoder = { buffer: Buffer };
const RecordEncoder = require("kafkajs/src/protocol/recordBatch/record/v0/index.js") as (record: {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}) => Encoder;
const { RecordBatch } = require("kafkajs/src/protocol/recordBatch/v0/index.js") as {
  RecordBatch: (options: {
    compression: number;
    firstTimestamp: number;
    maxTimestamp: number;
    lastOffsetDelta: number;
    records: Encoder[];
  }) => Promise<Encoder>;
};
const Decoder = require("kafkajs/src/protocol/decoder.js") as new (buffer: Buffer) => unknown;
const decodeKafkajsBatch = require("kafkajs/src/protocol/recordBatch/v0/decoder.js") as (
  decoder: unknown,
) => Promise<{
  records: Array<{
    offset: string;
    timestamp: string;
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer>;
  }>;
}>;

const baseTimestamp = 1_700_000_000_000;
const sample: RecordInput[] = Array.from({ length: 60 }, (_, i) => ({
  key: i % 7 === 0 ? null : Buffer.from(`key-${i}`),
  value: Buffer.from(`value ${i} `.repeat(20 + (i % 13))),
  headers: i % 3 === 0 ? [{ key: "trace", value: Buffer.from(`t-${i}`) }] : [],
  timestamp: baseTimestamp + i * 11,
}));

const viaKafkajs: Array<[string, number, CompressionCode]> = [
  ["gzip (kafkajs built-in)", kafkajs.CompressionTypes.GZIP, Compression.gzip],
  ["snappy (kafkajs-snappy)", kafkajs.CompressionTypes.Snappy, Compression.snappy],
];

function summary(records: DecodedRecord[]) {
  return records.map((r) => ({
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key?.toString() ?? null,
    value: r.value?.toString() ?? null,
    headers: r.headers.map((h) => [h.key, h.value?.toString() ?? null]),
  }));
}

const expected = summary(
  sample.map((record, offset) => ({
    offset,
    timestamp: record.timestamp!,
    key: record.key ?? null,
    value: record.value,
    headers: record.headers ?? [],
  })),
);

for (const [name, kafkajsType, codec] of viaKafkajs) {
  test(`a batch compressed by kafkajs with ${name} decodes with ours`, async () => {
    const records = sample.map((record, offsetDelta) =>
      RecordEncoder({
        offsetDelta,
        timestampDelta: record.timestamp! - baseTimestamp,
        key: record.key ?? null,
        value: record.value,
        headers: Object.fromEntries((record.headers ?? []).map((h) => [h.key, h.value!])),
      }),
    );
    const batch = (
      await RecordBatch({
        compression: kafkajsType,
        firstTimestamp: baseTimestamp,
        maxTimestamp: sample.at(-1)!.timestamp!,
        lastOffsetDelta: sample.length - 1,
        records,
      })
    ).buffer;
    assert.equal(batch.readInt16BE(21) & 0x07, codec);
    assert.equal(checkBatch(batch, 0, batch.length, { fromProducer: true }).ok, true);
    assert.deepEqual(summary(await decodeBatchRecords(batch)), expected);
  });

  test(`a batch we compress with ${name.split(" ")[0]} decodes with kafkajs`, async () => {
    const batch = await encodeBatchCompressed(sample, { compression: codec });
    const decoded = await decodeKafkajsBatch(new Decoder(batch));
    assert.deepEqual(
      decoded.records.map((r) => ({
        offset: Number(r.offset),
        timestamp: Number(r.timestamp),
        key: r.key?.toString() ?? null,
        value: r.value?.toString() ?? null,
        headers: Object.entries(r.headers).map(([key, value]) => [key, value.toString()]),
      })),
      expected,
    );
  });
}
