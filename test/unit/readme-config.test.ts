/** The README's configuration table lists every flag and environment variable `wharf start` takes. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { settings } from "../../src/config/config.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

test("README documents every configuration flag and its environment variable", () => {
  const rows = readme.split("\n").filter((line) => line.startsWith("| `--"));
  for (const setting of settings) {
    const row = rows.find(
      (line) =>
        line.startsWith(`| \`--${setting.flag} `) || line.startsWith(`| \`--${setting.flag}\``),
    );
    assert.ok(row, `README has no row for --${setting.flag}`);
    assert.ok(
      row.includes(`\`${setting.env}\``),
      `README row for --${setting.flag} names ${setting.env}`,
    );
  }
});
