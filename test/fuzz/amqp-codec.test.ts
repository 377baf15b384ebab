/**
 * Fuzzes the AMQP 0-9-1 codec: the protocol header check, the frame splitter, the method
 * decoders (all 66) and the content header decoder. Inputs are valid frame streams built from
 * the schema's sample methods, then mutated (bit flips, truncation, inserted and deleted
 * bytes, length/size fields overwritten with edge values) and delivered split at random
 * points, plus plain random bytes. The only allowed outcomes are a decoded value, "need
 * more", or an AmqpDecodeError (returned by the splitter, thrown by payload decoders) with a
 * 50x reply code; anything else fails. Whatever decodes must re-encode and decode to the same
 * value. Budget: a fixed number of runs, a few seconds on the shared 2-core machine.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { AmqpDecodeError } from "../../src/protocols/amqp/codec/decode-error.ts";
import {
  AmqpFrameSplitter,
  amqpHeartbeatFrame,
  checkProtocolHeader,
  encodeContentHeaderFrame,
  encodeMethodFrame,
  frameNeedMore,
} from "../../src/protocols/amqp/codec/frame.ts";
import {
  decodeContentHeaderPayload,
  decodeMethodPayload,
} from "../../src/protocols/amqp/codec/payload.ts";
import { AmqpReader } from "../../src/protocols/amqp/codec/reader.ts";
import { AmqpWriter } from "../../src/protocols/amqp/codec/writer.ts";
import { sampleMethods, sampleProperties } from "../helpers/amqp-sample-methods.ts";

const frameBytesMax = 8192;
const replyCodes = new Set([501, 502, 503, 505, 540]);

const seeds: Buffer[] = [
  ...(["full", "zero"] as const).flatMap((style) =>
    sampleMethods(style).map((sample) => encodeMethodFrame(1, sample.method)),
  ),
  encodeContentHeaderFrame(1, 100, sampleProperties("full")),
  encodeContentHeaderFrame(1, 0, {}),
  amqpHeartbeatFrame,
];

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: number[] }
  | { kind: "delete"; at: number; count: number }
  | { kind: "overwrite32"; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({
    kind: fc.constant("overwrite32" as const),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 0x7f, 0xff, 0x100, 0xffff, 0x7fffffff, 0xffffffff),
  }),
);

function mutate(frame: Buffer, mutations: Mutation[]): Buffer {
  let bytes = Buffer.from(frame);
  for (const change of mutations) {
    const at = bytes.length === 0 ? 0 : change.at % bytes.length;
    switch (change.kind) {
      case "flip":
        if (bytes.length > 0) bytes[at]! ^= 1 << change.bit;
        break;
      case "truncate":
        bytes = bytes.subarray(0, at);
        break;
      case "insert":
        bytes = Buffer.concat([
          bytes.subarray(0, at),
          Buffer.from(change.bytes),
          bytes.subarray(at),
        ]);
        break;
      case "delete":
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + change.count)]);
        break;
      case "overwrite32":
        if (at + 4 <= bytes.length) bytes.writeUInt32BE(change.value, at);
        break;
    }
  }
  return bytes;
}

function expectDecodeError(error: unknown): void {
  assert.ok(error instanceof AmqpDecodeError, `unexpected throw: ${String(error)}`);
  assert.ok(replyCodes.has(error.replyCode), `reply code ${error.replyCode}`);
}

/** Decodes one payload; a value must re-encode to something that decodes the same. */
function checkPayload(type: number, payload: Buffer): void {
  try {
    if (type === 1) {
      const decoded = decodeMethodPayload(payload);
      const again = encodeMethodFrame(0, decoded.method);
      assert.deepEqual(decodeMethodPayload(again.subarray(7, -1)).method, decoded.method);
    } else if (type === 2) {
      const header = decodeContentHeaderPayload(payload);
      const again = encodeContentHeaderFrame(0, header.bodySize, header.properties);
      assert.deepEqual(decodeContentHeaderPayload(again.subarray(7, -1)), header);
    }
  } catch (error) {
    expectDecodeError(error);
  }
}

/** Runs the splitter over `stream` cut at `cuts`, then decodes every frame it yields. */
function splitAndDecode(stream: Buffer, cuts: number[]): void {
  const splitter = new AmqpFrameSplitter(frameBytesMax);
  const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, stream.length]) {
    splitter.push(stream.subarray(from, to));
    from = to;
    for (;;) {
      const result = splitter.next();
      if (result === frameNeedMore) break;
      if (result instanceof AmqpDecodeError) {
        expectDecodeError(result);
        return;
      }
      checkPayload(result.type, result.payload);
    }
  }
}

test("amqp codec fuzz: mutated frames, split at random points", () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...seeds), { minLength: 1, maxLength: 3 }),
      fc.array(mutation, { maxLength: 3 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (frames, mutations, cuts) => {
        splitAndDecode(mutate(Buffer.concat(frames), mutations), cuts);
      },
    ),
    { numRuns: 3000 },
  );
});

test("amqp codec fuzz: mutated payloads straight into the decoders", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...seeds),
      fc.array(mutation, { maxLength: 4 }),
      (frame, mutations) => {
        const payload = mutate(frame.subarray(7, -1), mutations);
        checkPayload(frame[0]!, payload);
      },
    ),
    { numRuns: 3000 },
  );
});

test("amqp codec fuzz: random bytes", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.array(fc.nat(), { maxLength: 4 }),
      (raw, cuts) => {
        const bytes = Buffer.from(raw);
        const header = checkProtocolHeader(bytes);
        assert.ok(["need-more", "accepted", "rejected"].includes(header.kind));
        splitAndDecode(bytes, cuts);
        checkPayload(1, bytes);
        checkPayload(2, bytes);
        try {
          const table = new AmqpReader(bytes).table();
          const writer = new AmqpWriter();
          writer.table(table);
          assert.deepEqual(new AmqpReader(writer.finish()).table(), table);
        } catch (error) {
          expectDecodeError(error);
        }
      },
    ),
    { numRuns: 3000 },
  );
});
