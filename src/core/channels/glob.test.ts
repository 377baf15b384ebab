import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { globMatch, isLiteralPattern } from "./glob.ts";

interface GlobCases {
  redisVersion: string;
  /** Latin1 strings: one character per byte. */
  subjects: string[];
  cases: Array<{ pattern: string; matches: string[] }>;
}

const bytes = (text: string) => Buffer.from(text, "latin1");
const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/redis-glob-cases.json", import.meta.url), "utf8"),
) as GlobCases;

test("matches exactly what Redis matched for every pattern of the recorded table", () => {
  assert.ok(fixture.cases.length >= 400);
  const subjects = fixture.subjects.map((subject) => ({ subject, encoded: bytes(subject) }));
  for (const { pattern, matches } of fixture.cases) {
    const encodedPattern = bytes(pattern);
    const ours = subjects
      .filter(({ encoded }) => globMatch(encodedPattern, encoded))
      .map(({ subject }) => subject)
      .sort();
    assert.deepEqual(
      ours,
      matches,
      `pattern ${JSON.stringify(pattern)} (redis ${fixture.redisVersion})`,
    );
  }
});

const table: Array<[pattern: string, subject: string, expected: boolean]> = [
  ["news.*", "news.sport", true],
  ["news.*", "news.", true], // trailing stars match the empty rest
  ["*", "", false], // PUBLISH "" reaches no '*' subscriber in Redis 7
  ["", "", true],
  ["h?llo", "hello", true],
  ["h?llo", "hllo", false],
  ["h*llo", "hllo", true],
  ["h[ae]llo", "hallo", true],
  ["h[ae]llo", "hillo", false],
  ["h[^e]llo", "hallo", true],
  ["h[^e]llo", "hello", false],
  ["h[a-b]llo", "hbllo", true],
  ["h[b-a]llo", "hallo", true], // reversed range
  ["h\\*llo", "h*llo", true],
  ["h\\*llo", "hallo", false],
  ["[", "[", false], // a lone '[' matches nothing
  ["[abc", "b", true], // unterminated class runs to the end of the pattern
  ["[^", "x", true], // negated empty unterminated class: any one byte
  ["[a-]", "^", true], // "a-]" is a range a..']' (swapped to ']'..'a')
  ["[]a]", "]", false], // ']' right after '[' closes the (empty) class
  ["[\\]]", "]", true],
  ["a\\", "a\\", true], // trailing backslash is literal
  // Signed chars: 0xff is -1, so the range is -1..97: 0xff and 0x00-0x61, not 0x80.
  ["[a-\xff]", "\xff", true],
  ["[a-\xff]", "A", true],
  ["[a-\xff]", "\x80", false],
  ["[a-\xff]", "b", false],
];

test("Redis glob edge cases", () => {
  for (const [pattern, subject, expected] of table) {
    assert.equal(
      globMatch(bytes(pattern), bytes(subject)),
      expected,
      `${JSON.stringify(pattern)} vs ${JSON.stringify(subject)}`,
    );
  }
});

test("abusive patterns finish quickly", () => {
  const pattern = bytes(`${"a*".repeat(40)}b`);
  const subject = bytes("a".repeat(2000));
  const started = performance.now();
  assert.equal(globMatch(pattern, subject), false);
  assert.ok(performance.now() - started < 500);
  // Deeper than the nesting bound: no match, no stack overflow.
  assert.equal(globMatch(bytes("*a".repeat(1500)), bytes("a".repeat(1600))), false);
});

test("literal patterns", () => {
  assert.equal(isLiteralPattern(bytes("news.sport")), true);
  assert.equal(isLiteralPattern(bytes("news.*")), false);
  assert.equal(isLiteralPattern(bytes("a\\b")), false);
  assert.equal(isLiteralPattern(bytes("")), false);
});
