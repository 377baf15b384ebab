/**
 * Fuzzes the RESP request parser (src/protocols/resp/codec/parser.ts). Inputs are valid
 * pipelines (multibulk and inline commands with binary arguments) that are then mutated (bytes
 * flipped, inserted, deleted, length digits replaced with edge values) or plain random bytes,
 * and each is delivered split at random points. The only allowed outcomes are commands
 * (arrays of Buffers), "need more", or a returned RespProtocolError with one of Redis's texts;
 * a throw fails. And the outcome must not depend on the split: the same input parsed whole
 * gives the same commands and the same error.
 * Budget: a fixed number of runs, under 10 s on the shared 2-core machine.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { needMore, RespParser, RespProtocolError } from "../../src/protocols/resp/codec/parser.ts";

const limits = { bulkBytesMax: 4096, multibulkLengthMax: 64, inlineBytesMax: 256 };

const redisErrorTexts = new Set([
  "Protocol error: too big inline request",
  "Protocol error: unbalanced quotes in request",
  "Protocol error: too big mbulk count string",
  "Protocol error: invalid multibulk length",
  "Protocol error: too big bulk count string",
  "Protocol error: invalid bulk length",
]);

interface Outcome {
  commands: string[][];
  error: string | null;
}

function parse(input: Buffer, cuts: number[]): Outcome {
  const parser = new RespParser(limits);
  const outcome: Outcome = { commands: [], error: null };
  let start = 0;
  const points = [...new Set(cuts.map((cut) => cut % (input.length + 1)))].sort((a, b) => a - b);
  for (const end of [...points, input.length]) {
    parser.push(input.subarray(start, end));
    start = end;
    for (;;) {
      const result = parser.next();
      if (result === needMore) break;
      if (result instanceof RespProtocolError) {
        outcome.error = result.message;
        return outcome;
      }
      assert.ok(Array.isArray(result) && result.length > 0);
      for (const arg of result) assert.ok(Buffer.isBuffer(arg));
      outcome.commands.push(result.map((arg) => arg.toString("latin1")));
    }
  }
  return outcome;
}

function checkError(outcome: Outcome): void {
  if (outcome.error === null) return;
  assert.ok(
    redisErrorTexts.has(outcome.error) ||
      /^Protocol error: expected '\$', got '.'$/s.test(outcome.error),
    outcome.error,
  );
}

const argument = fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes));
const multibulk = fc
  .array(argument, { minLength: 1, maxLength: 5 })
  .map((args) =>
    Buffer.concat([
      Buffer.from(`*${args.length}\r\n`),
      ...args.flatMap((arg) => [Buffer.from(`$${arg.length}\r\n`), arg, Buffer.from("\r\n")]),
    ]),
  );
const inlineWord = fc.stringMatching(/^[a-zA-Z0-9"' \\x]{0,12}$/);
const inline = fc
  .array(inlineWord, { minLength: 1, maxLength: 4 })
  .map((words) => Buffer.from(`${words.join(" ")}\r\n`, "latin1"));
const pipeline = fc
  .array(fc.oneof(multibulk, multibulk, inline), { minLength: 1, maxLength: 6 })
  .map((parts) => Buffer.concat(parts));

const edgeDigits = ["-1", "0", "-0", "01", "x", "", "99999999999999999999", "4097", "65"];
type Mutation =
  | { kind: "flip"; at: number; value: number }
  | { kind: "insert"; at: number; value: number }
  | { kind: "delete"; at: number }
  | { kind: "digits"; at: number; text: string };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("digits" as const),
    at: fc.nat(),
    text: fc.constantFrom(...edgeDigits),
  }),
);

function mutate(input: Buffer, mutations: Mutation[]): Buffer {
  let bytes = Buffer.from(input);
  for (const change of mutations) {
    if (bytes.length === 0) break;
    const at = change.at % bytes.length;
    if (change.kind === "flip") bytes[at] = change.value;
    else if (change.kind === "insert")
      bytes = Buffer.concat([
        bytes.subarray(0, at),
        Buffer.from([change.value]),
        bytes.subarray(at),
      ]);
    else if (change.kind === "delete")
      bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
    else {
      // Replace the digits after a '*' or '$' at or after `at`.
      let marker = at;
      while (marker < bytes.length && bytes[marker] !== 0x2a && bytes[marker] !== 0x24) marker++;
      if (marker >= bytes.length) continue;
      let end = marker + 1;
      while (end < bytes.length && bytes[end] !== 0x0d) end++;
      bytes = Buffer.concat([
        bytes.subarray(0, marker + 1),
        Buffer.from(change.text),
        bytes.subarray(end),
      ]);
    }
  }
  return bytes;
}

const cuts = fc.array(fc.nat(), { maxLength: 8 });

test("valid pipelines parse to their commands however they are split", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(argument, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
      cuts,
      (commands, points) => {
        const input = Buffer.concat(
          commands.map((args) =>
            Buffer.concat([
              Buffer.from(`*${args.length}\r\n`),
              ...args.flatMap((arg) => [
                Buffer.from(`$${arg.length}\r\n`),
                arg,
                Buffer.from("\r\n"),
              ]),
            ]),
          ),
        );
        const outcome = parse(input, points);
        assert.equal(outcome.error, null);
        assert.deepEqual(
          outcome.commands,
          commands.map((args) => args.map((arg) => arg.toString("latin1"))),
        );
      },
    ),
    { numRuns: 1500 },
  );
});

test("mutated pipelines give commands or a typed protocol error, independent of splits", () => {
  fc.assert(
    fc.property(
      pipeline,
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      cuts,
      (input, mutations, points) => {
        const bytes = mutate(input, mutations);
        const whole = parse(bytes, []);
        checkError(whole);
        assert.deepEqual(parse(bytes, points), whole);
      },
    ),
    { numRuns: 3000 },
  );
});

test("random bytes give commands or a typed protocol error, independent of splits", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), cuts, (random, points) => {
      const bytes = Buffer.from(random);
      const whole = parse(bytes, []);
      checkError(whole);
      assert.deepEqual(parse(bytes, points), whole);
    }),
    { numRuns: 3000 },
  );
});
