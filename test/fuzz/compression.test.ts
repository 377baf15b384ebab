/**
 * Fuzzes decompression of record batches: compressed batches of every codec, with bytes
 * flipped, inserted or cut anywhere (header, framing, compressed data), must decode or be
 * rejected with a WharfError: never a raw exception, a crash of a native library or a hang.
 * Random bytes behind each codec's magic exercise the frame walkers. Budget: a few seconds.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { WharfError } from "../../src/errors/index.ts";
import {
  Compression,
  type CompressionCode,
  decompressRecords,
  decompressRecordsSync,
  isSyncCompressionCode,
} from "../../src/storage/compression.ts";
import {
  decodeBatchRecords,
  encodeBatchCompressed,
  type RecordInput,
} from "../../src/storage/record-batch.ts";

const codecs: CompressionCode[] = [
  Compression.gzip,
  Compression.snappy,
  Compression.lz4,
  Compression.zstd,
];
/** A small limit keeps each run cheap; mutations that inflate past it must be refused. */
const decompressedBytesMax = 256 * 1024;

const recordArbitrary = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a))),
  value: fc.option(
    fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
      fc.string({ maxLength: 400 }).map((s) => Buffer.from(s.repeat(3))),
    ),
  ),
  headers: fc.array(
    fc.record({
      key: fc.string({ maxLength: 8 }),
      value: fc.option(fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a))),
    }),
    { maxLength: 2 },
  ),
  timestamp: fc.integer({ min: 0, max: 2 ** 42 }),
});

async function mustBeWharfOrOk<T>(run: () => Promise<T> | T): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof WharfError)) throw error;
    assert.equal(error.code, "WHARF_BATCH_INVALID", error.message);
    return undefined;
  }
}

test("mutated compressed batches decode or are rejected with a WharfError", async () => {
  const mutation = fc.record({
    codec: fc.constantFrom(...codecs),
    records: fc.array(recordArbitrary, { minLength: 1, maxLength: 6 }),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 3 }),
    insert: fc.option(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 }))),
    cut: fc.option(fc.nat()),
  });
  await fc.assert(
    fc.asyncProperty(mutation, async ({ codec, records, flips, insert, cut }) => {
      const original = await encodeBatchCompressed(records as RecordInput[], {
        compression: codec,
      });
      let batch = Buffer.from(original);
      // Mutate the compressed section mostly: the header is fuzzed by record-batch.test.ts.
      const sectionStart = 61;
      const section = batch.length - sectionStart;
      for (const [at, mask] of flips) batch[sectionStart + (at % section)]! ^= mask;
      if (insert !== null) {
        const at = sectionStart + (insert[0] % section);
        batch = Buffer.concat([batch.subarray(0, at), insert[1], batch.subarray(at)]);
        batch.writeInt32BE(batch.length - 12, 8);
      }
      if (cut !== null) {
        batch = batch.subarray(0, sectionStart + (cut % (section + 1)));
        batch.writeInt32BE(batch.length - 12, 8);
      }
      const decoded = await mustBeWharfOrOk(() =>
        decodeBatchRecords(batch, 0, { decompressedBytesMax }),
      );
      if (decoded !== undefined) assert.equal(decoded.length, records.length);
    }),
    { numRuns: 600 },
  );
});

/** A frame start for each codec, so random tails reach past the magic checks. */
const prefixes: Record<CompressionCode, number[][]> = {
  [Compression.none]: [[]],
  [Compression.gzip]: [[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]],
  [Compression.snappy]: [[], [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]],
  [Compression.lz4]: [
    [0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82],
    [0x04, 0x22, 0x4d, 0x18, 0x64, 0x70],
  ],
  [Compression.zstd]: [
    [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58],
    [0x28, 0xb5, 0x2f, 0xfd, 0x20],
  ],
};

test("random bytes behind each codec's magic never escape as raw errors", async () => {
  const input = fc.record({
    codec: fc.constantFrom(...codecs),
    prefix: fc.nat(),
    tail: fc.uint8Array({ maxLength: 200 }),
  });
  await fc.assert(
    fc.asyncProperty(input, async ({ codec, prefix, tail }) => {
      const choices = prefixes[codec];
      const bytes = Buffer.concat([Buffer.from(choices[prefix % choices.length]!), tail]);
      const options = { decompressedBytesMax };
      const output = await mustBeWharfOrOk(() => decompressRecords(codec, bytes, options));
      if (output !== undefined) assert.ok(output.length <= decompressedBytesMax);
      if (isSyncCompressionCode(codec)) {
        await mustBeWharfOrOk(() => decompressRecordsSync(codec, bytes, options));
      }
    }),
    { numRuns: 1500 },
  );
});
