import assert from "node:assert/strict";
import { test } from "node:test";
import { keyForTopic, topicForKey } from "./key-name.ts";
import { StreamCommandError } from "./stream-errors.ts";
import {
  compareIds,
  formatId,
  maxId,
  nextId,
  parseCanonicalId,
  parseIdArgument,
  parseIntervalBound,
  previousId,
  tryParseIdArgument,
  uint64Max,
} from "./stream-id.ts";

const invalid = (error: unknown) =>
  error instanceof StreamCommandError &&
  error.reply === "ERR Invalid stream ID specified as stream command argument";

test("ids: parse forms as streamGenericParseIDOrReply", () => {
  assert.equal(formatId(parseIdArgument("5-3").id), "5-3");
  assert.equal(formatId(parseIdArgument("5").id), "5-0");
  assert.equal(formatId(parseIdArgument("5", { missingSeq: uint64Max }).id), `5-${uint64Max}`);
  assert.equal(formatId(parseIdArgument("-").id), "0-0");
  assert.deepEqual(parseIdArgument("+").id, maxId);
  assert.equal(
    formatId(parseIdArgument("18446744073709551615-18446744073709551615").id),
    `${uint64Max}-${uint64Max}`,
  );
  // strtoull's leniency: a leading '+', blanks and zeros
  assert.equal(formatId(parseIdArgument("+7-01").id), "7-1");
  assert.equal(formatId(parseIdArgument(" 7").id), "7-0");
  for (const bad of ["", "a", "1-", "-1", "1-2-3", "18446744073709551616-0", "1-x", "1.5", "*"]) {
    assert.equal(tryParseIdArgument(bad), null, bad);
  }
  assert.throws(() => parseIdArgument("+", { strict: true }), invalid);
  assert.throws(() => parseIdArgument("-", { strict: true }), invalid);
  assert.throws(() => parseIdArgument("x".repeat(128)), invalid);
  // <ms>-* only where XADD allows it
  assert.equal(tryParseIdArgument("5-*"), null);
  const auto = parseIdArgument("5-*", { allowAutoSeq: true });
  assert.equal(auto.seqGiven, false);
  assert.equal(auto.id.ms, 5n);
});

test("ids: order, neighbours, exclusive interval bounds", () => {
  assert.equal(compareIds(parseIdArgument("1-9").id, parseIdArgument("2-0").id), -1);
  assert.equal(formatId(nextId(parseIdArgument(`1-${uint64Max}`).id)!), "2-0");
  assert.equal(nextId(maxId), null);
  assert.equal(formatId(previousId(parseIdArgument("2-0").id)!), `1-${uint64Max}`);
  assert.equal(previousId(parseIdArgument("0-0").id), null);
  assert.equal(formatId(parseIntervalBound(Buffer.from("(1-5"), "start")), "1-6");
  // an incomplete exclusive end takes seq UINT64_MAX first, as Redis does: (2 means < 2-MAX
  assert.equal(formatId(parseIntervalBound(Buffer.from("(2"), "end")), `2-${uint64Max - 1n}`);
  assert.equal(formatId(parseIntervalBound(Buffer.from("2"), "end")), `2-${uint64Max}`);
  assert.throws(
    () => parseIntervalBound(Buffer.from(`(${uint64Max}-${uint64Max}`), "start"),
    (error: unknown) =>
      error instanceof StreamCommandError &&
      error.reply === "ERR invalid start ID for the interval",
  );
  assert.throws(
    () => parseIntervalBound(Buffer.from("(0-0"), "end"),
    (error: unknown) =>
      error instanceof StreamCommandError && error.reply === "ERR invalid end ID for the interval",
  );
  assert.throws(() => parseIntervalBound(Buffer.from("(-"), "start"), invalid);
  // "(" alone is not exclusive: it is an invalid id
  assert.throws(() => parseIntervalBound(Buffer.from("("), "start"), invalid);
});

test("ids: record keys claim ids only in canonical form", () => {
  assert.equal(formatId(parseCanonicalId("1700000000000-0")!), "1700000000000-0");
  for (const other of ["01-0", "1-00", "1", "a-1", "-1-0", "1-0 ", "18446744073709551616-0"]) {
    assert.equal(parseCanonicalId(other), null, other);
  }
});

test("keys: topic names are the key when legal, escaped into rk. otherwise", () => {
  const cases: Array<[string, string]> = [
    ["orders", "orders"],
    ["a.b_c-d", "a.b_c-d"],
    ["user:1:events", "rk.user_3a1_3aevents"],
    ["rk.x", "rk.rk.x"],
    ["a_b:c", "rk.a_5fb_3ac"],
    [".", "rk.."],
  ];
  for (const [key, topic] of cases) {
    assert.equal(topicForKey(Buffer.from(key, "latin1")), topic, key);
    assert.equal(keyForTopic(topic).toString("latin1"), key, topic);
  }
  const binary = Buffer.from([0, 255, 0x3a, 0x5f]);
  assert.deepEqual(keyForTopic(topicForKey(binary)!), binary);
  assert.equal(topicForKey(Buffer.alloc(200, 0x3a)), null, "escaped name too long");
  assert.equal(topicForKey(Buffer.alloc(0)), "rk.");
});
