/** docs/errors.md lists every catalog code with its protocol mappings (kept in step). */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { type ErrorEntry, errorCatalog } from "../../src/errors/index.ts";

const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");

test("docs/errors.md documents every error code with its mappings", () => {
  for (const [code, entry] of Object.entries(errorCatalog) as Array<[string, ErrorEntry]>) {
    const row = doc.split("\n").find((line) => line.startsWith(`| \`${code}\` |`));
    assert.ok(row, `docs/errors.md has no row for ${code}`);
    const cells = row.split("|").map((cell) => cell.trim());
    assert.equal(cells[2], entry.retriable ? "yes" : "no", `${code}: retriable`);
    assert.equal(cells[3], entry.kafka === undefined ? "-" : String(entry.kafka), `${code}: kafka`);
    assert.equal(cells[4], entry.amqp === undefined ? "-" : String(entry.amqp), `${code}: amqp`);
  }
});

test("docs/errors.md lists no code the catalog lacks", () => {
  const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1]!);
  for (const code of documented)
    assert.ok(code in errorCatalog, `${code} is documented but not in the catalog`);
});
