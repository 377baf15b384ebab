import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { splitTopic, TopicTrie } from "./topic-trie.ts";
import type { Destination, DestinationSink } from "./types.ts";

function q(name: string): Destination {
  return { kind: "queue", name };
}

/** Matches `key` and returns the sorted, deduplicated names emitted. */
function matchNames(trie: TopicTrie, key: string): string[] {
  const seen = new Set<string>();
  const sink: DestinationSink = { emit: (d) => seen.add(d.name) };
  trie.match(key, sink);
  return [...seen].sort();
}

function trieOf(patterns: Record<string, string>): TopicTrie {
  const trie = new TopicTrie();
  for (const [name, pattern] of Object.entries(patterns)) trie.add(pattern, name, q(name));
  return trie;
}

test("RabbitMQ tutorial 5 examples", () => {
  const trie = new TopicTrie();
  trie.add("*.orange.*", "q1", q("Q1"));
  trie.add("*.*.rabbit", "q2a", q("Q2"));
  trie.add("lazy.#", "q2b", q("Q2"));
  const cases: [string, string[]][] = [
    ["quick.orange.rabbit", ["Q1", "Q2"]],
    ["lazy.orange.elephant", ["Q1", "Q2"]],
    ["quick.orange.fox", ["Q1"]],
    ["lazy.brown.fox", ["Q2"]],
    ["lazy.pink.rabbit", ["Q2"]],
    ["quick.brown.fox", []],
    ["orange", []],
    ["quick.orange.new.rabbit", []],
    ["lazy.orange.new.rabbit", ["Q2"]],
    ["lazy", ["Q2"]],
  ];
  for (const [key, expected] of cases) assert.deepEqual(matchNames(trie, key), expected, key);
});

test("# backtracking: #.a.#, a.#.#.b, #.#, *.#, #.*", () => {
  const trie = trieOf({
    hashAHash: "#.a.#",
    aHashHashB: "a.#.#.b",
    hashHash: "#.#",
    starHash: "*.#",
    hashStar: "#.*",
    aHashB: "a.#.b",
    hashBHash: "#.b.#",
  });
  const all = [
    "aHashB",
    "aHashHashB",
    "hashAHash",
    "hashBHash",
    "hashHash",
    "hashStar",
    "starHash",
  ];
  assert.deepEqual(matchNames(trie, "a.b"), all);
  assert.deepEqual(matchNames(trie, "a.x.y.b"), all);
  assert.deepEqual(matchNames(trie, "x.a.x"), ["hashAHash", "hashHash", "hashStar", "starHash"]);
  assert.deepEqual(matchNames(trie, "a"), ["hashAHash", "hashHash", "hashStar", "starHash"]);
  assert.deepEqual(matchNames(trie, ""), ["hashHash"]);
  assert.deepEqual(matchNames(trie, "b.a.b.a"), [
    "hashAHash",
    "hashBHash",
    "hashHash",
    "hashStar",
    "starHash",
  ]);
});

test("empty words are words, as in RabbitMQ", () => {
  assert.deepEqual(splitTopic(""), []);
  assert.deepEqual(splitTopic("."), ["", ""]);
  assert.deepEqual(splitTopic("a."), ["a", ""]);
  const trie = trieOf({ empty: "", star: "*", starStar: "*.*", aStar: "a.*", dot: ".", hash: "#" });
  assert.deepEqual(matchNames(trie, ""), ["empty", "hash"]);
  assert.deepEqual(matchNames(trie, "."), ["dot", "hash", "starStar"]);
  assert.deepEqual(matchNames(trie, "a."), ["aStar", "hash", "starStar"]);
  assert.deepEqual(matchNames(trie, "a"), ["hash", "star"]);
});

test("remove prunes and duplicate add is reported", () => {
  const trie = new TopicTrie();
  assert.equal(trie.add("a.#.b", "x", q("x")), true);
  assert.equal(trie.add("a.#.b", "x", q("x")), false);
  assert.equal(trie.add("a.#.#.b", "y", q("y")), true);
  assert.equal(trie.bindingCount, 2);
  assert.equal(trie.remove("a.#.b", "missing"), false);
  assert.equal(trie.remove("a.#.b", "x"), true);
  assert.deepEqual(matchNames(trie, "a.b"), ["y"]);
  assert.equal(trie.remove("a.#.#.b", "y"), true);
  assert.equal(trie.bindingCount, 0);
  assert.deepEqual(matchNames(trie, "a.b"), []);
});

/** The straightforward recursive matcher of RabbitMQ's rules, used as the oracle. */
function referenceMatch(pattern: readonly string[], key: readonly string[]): boolean {
  if (pattern.length === 0) return key.length === 0;
  const [head, ...rest] = pattern;
  if (head === "#") {
    return referenceMatch(rest, key) || (key.length > 0 && referenceMatch(pattern, key.slice(1)));
  }
  if (key.length === 0) return false;
  return (head === "*" || head === key[0]) && referenceMatch(rest, key.slice(1));
}

test("property: the trie agrees with a recursive reference matcher", () => {
  const patternWord = fc.constantFrom("a", "b", "", "*", "#", "#");
  const keyWord = fc.constantFrom("a", "b", "", "c");
  const pattern = fc.array(patternWord, { maxLength: 5 }).map((w) => w.join("."));
  const key = fc.array(keyWord, { maxLength: 6 }).map((w) => w.join("."));
  fc.assert(
    fc.property(
      fc.array(pattern, { minLength: 1, maxLength: 12 }),
      fc.array(key, { minLength: 1, maxLength: 8 }),
      fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
      (patterns, keys, removals) => {
        const trie = new TopicTrie();
        const live = new Map<string, string>();
        patterns.forEach((p, i) => {
          trie.add(p, `b${i}`, q(`b${i}`));
          live.set(`b${i}`, p);
        });
        const check = () => {
          for (const k of keys) {
            const expected = [...live]
              .filter(([, p]) => referenceMatch(splitTopic(p), splitTopic(k)))
              .map(([name]) => name)
              .sort();
            assert.deepEqual(matchNames(trie, k), expected, `key ${JSON.stringify(k)}`);
          }
        };
        check();
        patterns.forEach((p, i) => {
          if (removals[i]) {
            assert.equal(trie.remove(p, `b${i}`), true);
            live.delete(`b${i}`);
          }
        });
        check();
        assert.equal(trie.bindingCount, live.size);
      },
    ),
    { numRuns: 300 },
  );
});
