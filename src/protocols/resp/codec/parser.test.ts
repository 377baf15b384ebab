import assert from "node:assert/strict";
import { test } from "node:test";
import {
  needMore,
  parseRedisInteger,
  RespParser,
  type RespParserLimits,
  RespProtocolError,
  splitInlineArguments,
} from "./parser.ts";

type Outcome = string[] | { error: string };

/** Parses `chunks` fed one after the other; commands as latin1 strings, then the error if any. */
function parseAll(chunks: Buffer[], limits: Partial<RespParserLimits> = {}): Outcome[] {
  const parser = new RespParser(limits);
  const out: Outcome[] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    for (;;) {
      const result = parser.next();
      if (result === needMore) break;
      if (result instanceof RespProtocolError) {
        out.push({ error: result.message });
        return out;
      }
      out.push(result.map((arg) => arg.toString("latin1")));
    }
  }
  return out;
}

const bytes = (text: string) => Buffer.from(text, "latin1");

const cases: Array<[name: string, input: string, expected: Outcome[]]> = [
  ["multibulk", "*2\r\n$4\r\nECHO\r\n$3\r\nhey\r\n", [["ECHO", "hey"]]],
  ["binary bulk with CRLF inside", "*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n", [["ECHO", "a\r\nb"]]],
  ["empty bulk", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", [["ECHO", ""]]],
  ["pipelined", "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", [["PING"], ["PING"]]],
  ["empty multibulk skipped", "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", [["PING"]]],
  ["inline", "PING\r\n", [["PING"]]],
  ["inline LF only", "ECHO hi\n", [["ECHO", "hi"]]],
  ["blank inline lines skipped", "\r\n  \r\nPING\r\n", [["PING"]]],
  ["inline quotes", "SET \"a b\" 'c d'\r\n", [["SET", "a b", "c d"]]],
  ["inline escapes", 'ECHO "\\x41\\n\\t\\q"\r\n', [["ECHO", "A\n\tq"]]],
  ["inline single-quote escape", "ECHO 'it\\'s'\r\n", [["ECHO", "it's"]]],
  ["quote inside a word opens quoting", 'PING a"b c"\r\n', [["PING", "ab c"]]],
  ["zero byte ends an inline line", "ECHO a\x00b c\r\n", [["ECHO", "a"]]],
  [
    "unterminated bulk trailer not checked",
    "*1\r\n$4\r\nPINGxy*1\r\n$4\r\nPING\r\n",
    [["PING"], ["PING"]],
  ],
  ["unbalanced quotes", 'PING "a\r\n', [{ error: "Protocol error: unbalanced quotes in request" }]],
  [
    "closing quote not followed by space",
    'PING "a"b\r\n',
    [{ error: "Protocol error: unbalanced quotes in request" }],
  ],
  [
    "non-numeric multibulk length",
    "*x\r\n",
    [{ error: "Protocol error: invalid multibulk length" }],
  ],
  ["leading zero", "*01\r\n", [{ error: "Protocol error: invalid multibulk length" }]],
  ["plus sign", "*+1\r\n", [{ error: "Protocol error: invalid multibulk length" }]],
  ["too many elements", "*1048577\r\n", [{ error: "Protocol error: invalid multibulk length" }]],
  ["non-numeric bulk length", "*1\r\n$x\r\n", [{ error: "Protocol error: invalid bulk length" }]],
  ["negative bulk length", "*1\r\n$-1\r\n", [{ error: "Protocol error: invalid bulk length" }]],
  ["expected dollar", "*1\r\nx4\r\n", [{ error: "Protocol error: expected '$', got 'x'" }]],
  [
    "commands before an error are returned",
    "*1\r\n$4\r\nPING\r\n*1\r\n:4\r\n",
    [["PING"], { error: "Protocol error: expected '$', got ':'" }],
  ],
];

test("parses commands and reports Redis's protocol errors", () => {
  for (const [name, input, expected] of cases) {
    assert.deepEqual(parseAll([bytes(input)]), expected, name);
  }
});

test("the result does not depend on where the input is split (every byte boundary)", () => {
  for (const [name, input, expected] of cases) {
    const whole = bytes(input);
    for (let cut = 1; cut < whole.length; cut++) {
      const split = [whole.subarray(0, cut), whole.subarray(cut)];
      assert.deepEqual(parseAll(split), expected, `${name}, split at ${cut}`);
    }
    const byteByByte = [...whole].map((byte) => Buffer.from([byte]));
    assert.deepEqual(parseAll(byteByByte), expected, `${name}, byte by byte`);
  }
});

test("bulk over the configured maximum is an invalid bulk length", () => {
  assert.deepEqual(parseAll([bytes("*1\r\n$1025\r\n")], { bulkBytesMax: 1024 }), [
    { error: "Protocol error: invalid bulk length" },
  ]);
  assert.deepEqual(parseAll([bytes("*3\r\n$3\r\nSET\r\n$600000000\r\n")]), [
    { error: "Protocol error: invalid bulk length" },
  ]);
});

test("lines longer than the inline limit fail whether or not their end arrived", () => {
  const limits = { inlineBytesMax: 16 };
  const long = `PING ${"a".repeat(20)}`;
  assert.deepEqual(parseAll([bytes(long)], limits), [
    { error: "Protocol error: too big inline request" },
  ]);
  assert.deepEqual(parseAll([bytes(`${long}\r\n`)], limits), [
    { error: "Protocol error: too big inline request" },
  ]);
  assert.deepEqual(parseAll([bytes(`*${"1".repeat(20)}`)], limits), [
    { error: "Protocol error: too big mbulk count string" },
  ]);
  assert.deepEqual(parseAll([bytes(`*1\r\n$${"1".repeat(20)}`)], limits), [
    { error: "Protocol error: too big bulk count string" },
  ]);
  // Short input is never an error: it waits.
  assert.deepEqual(parseAll([bytes("*1\r\n$4\r\nPI")]), []);
});

test("a large bulk arriving in many chunks is joined once and kept intact", () => {
  const payload = Buffer.alloc(300_000, 7);
  const input = Buffer.concat([bytes("*2\r\n$4\r\nECHO\r\n$300000\r\n"), payload, bytes("\r\n")]);
  const parser = new RespParser();
  const chunks: Buffer[] = [];
  for (let at = 0; at < input.length; at += 1000) chunks.push(input.subarray(at, at + 1000));
  let command: unknown = needMore;
  for (const chunk of chunks) {
    parser.push(chunk);
    const result = parser.next();
    if (result !== needMore) command = result;
  }
  assert.ok(Array.isArray(command));
  assert.deepEqual((command as Buffer[])[1], payload);
  assert.equal(parser.idle, true);
});

test("arguments stay valid after more input arrives", () => {
  const parser = new RespParser();
  parser.push(bytes("*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n*1\r\n$4\r\nPI"));
  const first = parser.next() as Buffer[];
  parser.push(bytes("NG\r\n"));
  assert.deepEqual(parser.next(), [bytes("PING")]);
  assert.equal(first[1]!.toString(), "abc");
});

test("string2ll rules", () => {
  const parse = (text: string) => parseRedisInteger(bytes(text), 0, text.length);
  assert.equal(parse("0"), 0);
  assert.equal(parse("-1"), -1);
  assert.equal(parse("12"), 12);
  assert.equal(parse("9223372036854775807"), Number(9223372036854775807n));
  for (const bad of ["", "-", "-0", "01", "+1", " 1", "1 ", "1a", "9223372036854775808"]) {
    assert.equal(parse(bad), null, JSON.stringify(bad));
  }
  assert.equal(parse("-9223372036854775808"), Number(-9223372036854775808n));
});

test("sdssplitargs details", () => {
  const split = (text: string) =>
    splitInlineArguments(bytes(text), 0, text.length)?.map((arg) => arg.toString("latin1")) ?? null;
  assert.deepEqual(split("  a \t b  "), ["a", "b"]);
  assert.deepEqual(split('""'), [""]);
  assert.deepEqual(split('"\\x4"'), ["x4"]); // incomplete hex escape: the backslash escapes x
  assert.equal(split("'abc"), null);
  assert.equal(split("'a'b"), null);
});

/** `parseAll` as the session reads: `nextPublish` first, then `next`; counts fast-path hits. */
function parseAllFast(
  chunks: Buffer[],
  limits: Partial<RespParserLimits> = {},
): { out: Outcome[]; fast: number } {
  const parser = new RespParser(limits);
  const out: Outcome[] = [];
  let fast = 0;
  for (const chunk of chunks) {
    parser.push(chunk);
    for (;;) {
      if (parser.nextPublish()) {
        fast++;
        const input = parser.publishInput;
        out.push([
          "PUBLISH",
          input.toString("latin1", parser.publishChannelStart, parser.publishChannelEnd),
          input.toString("latin1", parser.publishMessageStart, parser.publishMessageEnd),
        ]);
        continue;
      }
      const result = parser.next();
      if (result === needMore) break;
      if (result instanceof RespProtocolError) {
        out.push({ error: result.message });
        return { out, fast };
      }
      out.push(result.map((arg) => arg.toString("latin1")));
    }
  }
  return { out, fast };
}

/** Command names upper-cased (the fast path reports PUBLISH in capitals). */
function upperNames(outcomes: Outcome[]): Outcome[] {
  return outcomes.map((o) => (Array.isArray(o) ? [o[0]!.toUpperCase(), ...o.slice(1)] : o));
}

const publishCases: Array<[name: string, input: string, fast: number]> = [
  ["plain", "*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$5\r\nhello\r\n", 1],
  ["lower case", "*3\r\n$7\r\npublish\r\n$2\r\nch\r\n$5\r\nhello\r\n", 1],
  ["empty channel and message", "*3\r\n$7\r\nPuBlIsH\r\n$0\r\n\r\n$0\r\n\r\n", 1],
  ["binary message with CRLF", "*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$4\r\na\r\nb\r\n", 1],
  ["unchecked trailer", "*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$1\r\nmxy*1\r\n$4\r\nPING\r\n", 1],
  ["leading zero length", "*3\r\n$7\r\nPUBLISH\r\n$01\r\nc\r\n$1\r\nm\r\n", 0],
  ["double zero length", "*3\r\n$7\r\nPUBLISH\r\n$00\r\n\r\n$1\r\nm\r\n", 0],
  ["negative length", "*3\r\n$7\r\nPUBLISH\r\n$-1\r\n$1\r\nm\r\n", 0],
  ["too many arguments", "*4\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$1\r\nm\r\n$1\r\nx\r\n", 0],
  ["too few arguments", "*2\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n", 0],
  ["other command", "*3\r\n$7\r\nPUBLISX\r\n$1\r\nc\r\n$1\r\nm\r\n", 0],
  ["not a letter", "*3\r\n$7\r\n\x10UBLISH\r\n$1\r\nc\r\n$1\r\nm\r\n", 0],
  ["LF only after the count", "*3\n\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$1\r\nm\r\n", 0],
  ["huge length", "*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$99999999999\r\nm\r\n", 0],
  ["expected dollar", "*3\r\n$7\r\nPUBLISH\r\n:1\r\nc\r\n$1\r\nm\r\n", 0],
  ["inline publish", "PUBLISH c m\r\n", 0],
];

test("nextPublish reads PUBLISH exactly as next() does, or leaves it to next()", () => {
  for (const [name, input, fast] of publishCases) {
    const whole = bytes(input);
    const expected = upperNames(parseAll([whole]));
    const result = parseAllFast([whole]);
    assert.deepEqual(upperNames(result.out), expected, name);
    assert.equal(result.fast, fast, `${name}: fast-path hits`);
    for (let cut = 1; cut < whole.length; cut++) {
      const split = [whole.subarray(0, cut), whole.subarray(cut)];
      assert.deepEqual(upperNames(parseAllFast(split).out), expected, `${name}, split at ${cut}`);
    }
  }
  // All cases in one stream, cut at pseudo-random points.
  const stream = bytes(publishCases.map(([, input]) => input).join(""));
  const expected = upperNames(parseAll([stream]));
  let seed = 7;
  for (let round = 0; round < 200; round++) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < stream.length; ) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const size = 1 + (seed % 40);
      chunks.push(stream.subarray(at, at + size));
      at += size;
    }
    assert.deepEqual(upperNames(parseAllFast(chunks).out), expected, `round ${round}`);
  }
});

test("nextPublish leaves requests over the limits to next()", () => {
  const input = bytes("*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$20\r\n01234567890123456789\r\n");
  const limits = { bulkBytesMax: 10 };
  assert.deepEqual(parseAllFast([input], limits), {
    out: [{ error: "Protocol error: invalid bulk length" }],
    fast: 0,
  });
  assert.equal(parseAllFast([input], { inlineBytesMax: 2 }).fast, 0);
  assert.equal(parseAllFast([input], { multibulkLengthMax: 2 }).fast, 0);
});
