/**
 * Fuzzes the Kafka codec: the frame splitter, the request header, and every request decoder
 * at every version (response decoders too, which clients-side tools use). Inputs are valid
 * frames built from the schemas, then mutated (bit flips, truncation, inserted and deleted
 * bytes, length fields overwritten with edge values) and delivered split at random points,
 * plus plain random bytes. The only allowed outcomes are a decoded value, "need more", a
 * returned KafkaFrameError, or a thrown KafkaDecodeError; anything else fails.
 * Budget: a fixed number of runs, a few seconds on the shared 2-core machine.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { KafkaDecodeError } from "../../src/protocols/kafka/codec/decode-error.ts";
import {
  frameNeedMore,
  KafkaFrameError,
  KafkaFrameSplitter,
} from "../../src/protocols/kafka/codec/frame.ts";
import {
  type KafkaSupportedApiKey,
  kafkaApiCodec,
} from "../../src/protocols/kafka/codec/generated/index.ts";
import { decodeRequestFrame, encodeRequestFrame } from "../../src/protocols/kafka/codec/message.ts";
import { KafkaReader } from "../../src/protocols/kafka/codec/reader.ts";
import { apiVersions, sampleBody } from "../../src/protocols/kafka/codec/sample-bodies.ts";
import { KafkaWriter } from "../../src/protocols/kafka/codec/writer.ts";
import { loadKafkaSchemas } from "../../src/protocols/kafka/schema/model.ts";

/** A small frame limit so that mutated sizes hit it; seeds are far below it. */
const fuzzFrameBytesMax = 64 * 1024;

interface Seed {
  readonly apiKey: number;
  readonly version: number;
  /** Size prefix + header + body. */
  readonly frame: Buffer;
  /** The body bytes of a response of the same version, for the response decoders. */
  readonly response: Buffer;
  readonly body: unknown;
}

function buildSeeds(): Seed[] {
  const seeds: Seed[] = [];
  for (const api of loadKafkaSchemas()) {
    const codec = kafkaApiCodec(api.apiKey);
    assert.ok(codec);
    for (const version of apiVersions(api)) {
      for (const style of ["full", "sparse"] as const) {
        const body = sampleBody(api, "request", version, style);
        const writer = new KafkaWriter(256);
        const header = {
          apiKey: api.apiKey as KafkaSupportedApiKey,
          apiVersion: version,
          correlationId: seeds.length,
          clientId: style === "full" ? "fuzz" : null,
        };
        encodeRequestFrame(writer, header, body as never);
        const frame = writer.takeBuffer();
        codec.encodeResponse(writer, version, sampleBody(api, "response", version, style));
        seeds.push({ apiKey: api.apiKey, version, frame, response: writer.takeBuffer(), body });
      }
    }
  }
  return seeds;
}

const seeds = buildSeeds();

function allowDecodeError(action: () => void): void {
  try {
    action();
  } catch (error) {
    if (!(error instanceof KafkaDecodeError)) throw error;
  }
}

/** Feeds `stream` to a splitter in pieces cut at `cuts`; decodes every frame it yields. */
function splitAndDecode(stream: Buffer, cuts: number[]): number {
  const splitter = new KafkaFrameSplitter(fuzzFrameBytesMax);
  const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  let frames = 0;
  for (const end of [...points, stream.length]) {
    splitter.push(stream.subarray(start, end));
    start = end;
    for (;;) {
      const next = splitter.next();
      if (next === frameNeedMore) break;
      if (next instanceof KafkaFrameError) return frames;
      frames++;
      allowDecodeError(() => decodeRequestFrame(next));
    }
  }
  return frames;
}

const edgeInt32s = [0, 1, -1, 0x7f, 0x80, 0x7fff, 0xffff, 0x7fffffff, -0x80000000, 1 << 20];

const mutationArbitrary = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({
    kind: fc.constant("edge" as const),
    at: fc.nat(),
    value: fc.constantFrom(...edgeInt32s),
    width: fc.constantFrom(1, 2, 4),
  }),
);

type Mutation = typeof mutationArbitrary extends fc.Arbitrary<infer T> ? T : never;

function mutate(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(input);
  for (const mutation of mutations) {
    if (bytes.length === 0) break;
    const at = mutation.at % bytes.length;
    switch (mutation.kind) {
      case "flip":
        bytes[at] ^= mutation.mask;
        break;
      case "truncate":
        bytes = bytes.subarray(0, at);
        break;
      case "insert":
        bytes = Buffer.concat([bytes.subarray(0, at), mutation.bytes, bytes.subarray(at)]);
        break;
      case "delete":
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + mutation.count)]);
        break;
      case "edge": {
        const width = Math.min(mutation.width, bytes.length - at);
        const value = Buffer.alloc(4);
        value.writeInt32BE(mutation.value | 0);
        value.copy(bytes, at, 4 - width, 4);
        break;
      }
    }
  }
  return bytes;
}

test("valid frames split at random points decode to what was encoded", () => {
  fc.assert(
    fc.property(
      fc.nat({ max: seeds.length - 1 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (index, cuts) => {
        const seed = seeds[index];
        const splitter = new KafkaFrameSplitter(fuzzFrameBytesMax);
        const points = [...new Set(cuts.map((cut) => cut % seed.frame.length))].sort(
          (a, b) => a - b,
        );
        let start = 0;
        for (const end of points) {
          splitter.push(seed.frame.subarray(start, end));
          assert.equal(splitter.next(), frameNeedMore);
          start = end;
        }
        splitter.push(seed.frame.subarray(start));
        const frame = splitter.next();
        assert.ok(Buffer.isBuffer(frame));
        const decoded = decodeRequestFrame(frame);
        assert.equal(decoded.header.apiKey, seed.apiKey);
        assert.deepEqual(decoded.body, seed.body);
      },
    ),
    { numRuns: 2000 },
  );
});

test("mutated frames decode or fail with KafkaDecodeError / KafkaFrameError only", () => {
  fc.assert(
    fc.property(
      fc.nat({ max: seeds.length - 1 }),
      fc.array(mutationArbitrary, { minLength: 1, maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 4 }),
      fc.nat(),
      (index, mutations, cuts, otherVersion) => {
        const seed = seeds[index];
        // Two frames back to back, so a mutated size also misaligns the next frame.
        const stream = mutate(Buffer.concat([seed.frame, seed.frame]), mutations);
        splitAndDecode(stream, cuts);
        // The mutated body alone, at the seed's version and at another valid version.
        const codec = kafkaApiCodec(seed.apiKey);
        assert.ok(codec);
        const body = mutate(seed.frame, mutations).subarray(4);
        const span = codec.maxVersion - codec.minVersion + 1;
        for (const version of [seed.version, codec.minVersion + (otherVersion % span)]) {
          allowDecodeError(() => codec.decodeRequest(new KafkaReader(body), version));
        }
        const response = mutate(seed.response, mutations);
        allowDecodeError(() => codec.decodeResponse(new KafkaReader(response), seed.version));
      },
    ),
    { numRuns: 25_000 },
  );
});

test("random bytes never crash the splitter, the header or any decoder", () => {
  const codecs = seeds.map((seed) => ({ apiKey: seed.apiKey, version: seed.version }));
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.nat(), { maxLength: 4 }),
      fc.nat({ max: codecs.length - 1 }),
      (array, cuts, which) => {
        const bytes = Buffer.from(array);
        splitAndDecode(bytes, cuts);
        allowDecodeError(() => decodeRequestFrame(bytes));
        const { apiKey, version } = codecs[which];
        const codec = kafkaApiCodec(apiKey);
        assert.ok(codec);
        allowDecodeError(() => codec.decodeRequest(new KafkaReader(bytes), version));
        allowDecodeError(() => codec.decodeResponse(new KafkaReader(bytes), version));
      },
    ),
    { numRuns: 20_000 },
  );
});
