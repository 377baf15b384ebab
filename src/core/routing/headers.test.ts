import assert from "node:assert/strict";
import { test } from "node:test";
import { compileHeadersPattern, headersMatch } from "./exchange-types.ts";
import { canonicalTable, fieldEquals } from "./field-values.ts";
import { type FieldTable, isRoutingError } from "./types.ts";

function matches(binding: FieldTable, headers: FieldTable | undefined): boolean {
  return headersMatch(compileHeadersPattern(binding), headers);
}

// [binding arguments, message headers, expected]
const TABLE: [string, FieldTable, FieldTable | undefined, boolean][] = [
  ["all: every key equal", { "x-match": "all", a: 1, b: "x" }, { a: 1, b: "x", c: 3 }, true],
  ["all: one key differs", { "x-match": "all", a: 1, b: "x" }, { a: 1, b: "y" }, false],
  ["all: one key missing", { "x-match": "all", a: 1, b: "x" }, { a: 1 }, false],
  ["all is the default", { a: 1, b: 2 }, { a: 1 }, false],
  ["all: no headers at all", { a: 1 }, undefined, false],
  ["all over no keys matches anything", { "x-match": "all" }, {}, true],
  ["all over no keys, no headers", {}, undefined, true],
  ["any: one key equal", { "x-match": "any", a: 1, b: 2 }, { b: 2 }, true],
  ["any: none equal", { "x-match": "any", a: 1, b: 2 }, { a: 2, b: 1 }, false],
  ["any over no keys matches nothing", { "x-match": "any" }, { a: 1 }, false],
  ["void binding value = presence", { a: null }, { a: "anything" }, true],
  ["void binding value, absent", { a: undefined }, { b: 1 }, false],
  ["void binding value, message void", { a: null }, { a: null }, true],
  ["valued binding vs void header", { a: 1 }, { a: null }, false],
  ["x- args ignored by all", { "x-match": "all", "x-foo": 1, a: 1 }, { a: 1 }, true],
  ["x- args ignored by any", { "x-match": "any", "x-foo": 1 }, { "x-foo": 1 }, false],
  ["all-with-x tests x- args", { "x-match": "all-with-x", "x-foo": 1 }, { "x-foo": 1 }, true],
  ["all-with-x, x- arg missing", { "x-match": "all-with-x", "x-foo": 1, a: 1 }, { a: 1 }, false],
  ["any-with-x on an x- arg", { "x-match": "any-with-x", "x-foo": 1, a: 1 }, { "x-foo": 1 }, true],
  ["any-with-x, nothing", { "x-match": "any-with-x", "x-foo": 1 }, { "x-bar": 1 }, false],
  ["string is not number", { a: "1" }, { a: 1 }, false],
  ["boolean is not number", { a: true }, { a: 1 }, false],
  ["boolean equal", { a: false }, { a: false }, true],
  ["numbers by value (int widths)", { a: 5 }, { a: 5n }, true],
  ["bigint vs fraction", { a: 5n }, { a: 5.5 }, false],
  ["float equal", { a: 1.5 }, { a: 1.5 }, true],
  ["string equals same bytes", { a: "ab" }, { a: Buffer.from("ab") }, true],
  ["bytes differ", { a: Buffer.from("ab") }, { a: Buffer.from("ac") }, false],
  ["arrays elementwise", { a: [1, "x"] }, { a: [1, "x"] }, true],
  ["arrays differ", { a: [1, "x"] }, { a: [1, "y"] }, false],
  ["nested tables", { a: { b: 1 } }, { a: { b: 1 } }, true],
  ["nested tables differ", { a: { b: 1 } }, { a: { b: 1, c: 2 } }, false],
];

for (const [name, binding, headers, expected] of TABLE) {
  test(`headers matching: ${name}`, () => {
    assert.equal(matches(binding, headers), expected);
  });
}

test("an invalid x-match is a 406 at bind time", () => {
  assert.throws(
    () => compileHeadersPattern({ "x-match": "some" }),
    (e) => isRoutingError(e, "PRECONDITION_FAILED") && e.amqpReplyCode === 406,
  );
});

test("field equality and canonical tables", () => {
  assert.equal(fieldEquals(new Date(5000), 5), true);
  assert.equal(fieldEquals(null, undefined), true);
  assert.equal(fieldEquals("a", null), false);
  assert.equal(canonicalTable({ b: 1, a: "1" }), canonicalTable({ a: "1", b: 1 }));
  assert.notEqual(canonicalTable({ a: "1" }), canonicalTable({ a: 1 }));
  assert.notEqual(canonicalTable({ a: 1 }), canonicalTable({ a: 1.5 }));
  assert.notEqual(canonicalTable({}), canonicalTable({ a: null }));
});
