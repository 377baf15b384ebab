/**
 * Regenerates src/core/channels/fixtures/redis-glob-cases.json: asks a real Redis (KEYS uses
 * the same `stringmatchlen` as PSUBSCRIBE) which subjects each pattern matches, so that the
 * glob matcher is checked against Redis itself rather than against our reading of its code.
 *
 *   redis-server --port 16399 --save '' --appendonly no &
 *   node --import tsx test/helpers/redis-glob-oracle.ts 16399
 *
 * Deterministic: patterns come from a fixed list plus a seeded generator.
 */
import { writeFileSync } from "node:fs";
import { connect } from "node:net";

const port = Number(process.argv[2] ?? 6379);
const out = new URL("../../src/core/channels/fixtures/redis-glob-cases.json", import.meta.url);

const alphabet = ["a", "b", "c", "-", "]", "[", "^", "\\", "*", "?", "\x80", "\xff", "z"];
const subjectAlphabet = ["a", "b", "c", "-", "]", "[", "^", "\\", "*", "\x80", "\xff", "z"];

function* subjects(): Generator<string> {
  yield "";
  for (const a of subjectAlphabet) {
    yield a;
    for (const b of subjectAlphabet) {
      yield a + b;
      for (const c of ["a", "b", "]", "\xff"]) yield a + b + c;
    }
  }
  yield "news.sport";
  yield "news.";
  yield "news.art.figurative";
  yield "h\x00llo";
}

// Not "*": KEYS answers it without matching (every key, "" included), while PUBLISH runs the
// matcher, under which "*" does not match the empty channel; glob.test.ts checks that case.
const fixedPatterns = [
  "?",
  "[",
  "[^",
  "]",
  "\\",
  "[a",
  "[abc",
  "[^a",
  "[a-",
  "[a-]",
  "[-a]",
  "[]]",
  "[]a]",
  "[\\]]",
  "[\\",
  "[a\\",
  "[z-a]",
  "[a-c]",
  "[^a-c]",
  "[a-\xff]",
  "[\x80-\xff]",
  "[\\-]",
  "a*",
  "*a",
  "a*b",
  "a?b",
  "*?",
  "?*",
  "**",
  "***a",
  "a\\*",
  "\\*",
  "\\?",
  "\\[",
  "\\\\",
  "a[",
  "a[b",
  "a[bc",
  "[ab]*",
  "*[ab]",
  "news.*",
  "news.[as]*",
  "h?llo",
  "h*llo",
  "h[^e]llo",
  "[^]",
  "[^]]",
  "[]",
  "[]-a]",
  "[a-b-c]",
  "[--]",
  "[---]",
  "[a-a]",
  "[\\a-c]",
  "[a\\-c]",
  "*]",
  "[*]",
  "[?]",
  "[[]",
  "[^[]",
  "a]",
  "^a",
  "[\\\\]",
  "[]\\]",
];

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function encode(args: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, "latin1");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** Sends commands one at a time and returns the raw reply of each (a tiny RESP2 reader). */
class Client {
  private buffer = Buffer.alloc(0);
  private waiting: ((value: unknown) => void) | null = null;
  private readonly socket = connect(port, "127.0.0.1");
  constructor() {
    this.socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.tryResolve();
    });
  }
  command(args: string[]): Promise<unknown> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(encode(args));
    });
  }
  private tryResolve(): void {
    const parsed = parse(this.buffer, 0);
    if (parsed === null || !this.waiting) return;
    this.buffer = this.buffer.subarray(parsed.end);
    const resolve = this.waiting;
    this.waiting = null;
    resolve(parsed.value);
  }
  close(): void {
    this.socket.end();
  }
}

function parse(buffer: Buffer, at: number): { value: unknown; end: number } | null {
  const line = buffer.indexOf("\r\n", at);
  if (line < 0) return null;
  const head = buffer.toString("latin1", at + 1, line);
  switch (buffer[at]) {
    case 0x2b:
    case 0x2d:
      return { value: head, end: line + 2 };
    case 0x3a:
      return { value: Number(head), end: line + 2 };
    case 0x24: {
      const length = Number(head);
      if (length < 0) return { value: null, end: line + 2 };
      if (buffer.length < line + 2 + length + 2) return null;
      return {
        value: buffer.toString("latin1", line + 2, line + 2 + length),
        end: line + 4 + length,
      };
    }
    case 0x2a: {
      const count = Number(head);
      const items: unknown[] = [];
      let end = line + 2;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, end);
        if (item === null) return null;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new Error(`unexpected reply byte ${buffer[at]}`);
  }
}

async function main(): Promise<void> {
  const client = new Client();
  await client.command(["FLUSHALL"]);
  const all = [...new Set(subjects())];
  for (const subject of all) await client.command(["SET", subject, "1"]);
  const random = seededRandom(7);
  const patterns = [...fixedPatterns];
  while (patterns.length < 400) {
    const length = 1 + Math.floor(random() * 6);
    let pattern = "";
    for (let i = 0; i < length; i++) pattern += alphabet[Math.floor(random() * alphabet.length)];
    if (pattern !== "*" && !patterns.includes(pattern)) patterns.push(pattern);
  }
  const cases: Array<{ pattern: string; matches: string[] }> = [];
  for (const pattern of patterns) {
    const keys = (await client.command(["KEYS", pattern])) as string[];
    cases.push({ pattern, matches: keys.sort() });
  }
  const info = (await client.command(["INFO", "server"])) as string;
  const version = /redis_version:(\S+)/.exec(info)?.[1];
  await client.command(["FLUSHALL"]);
  client.close();
  // Strings are latin1: one character per byte.
  writeFileSync(
    out,
    `${JSON.stringify({ generatedBy: "test/helpers/redis-glob-oracle.ts", redisVersion: version, subjects: all, cases }, null, 1)}\n`,
  );
  process.stdout.write(`${cases.length} patterns x ${all.length} subjects from redis ${version}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
