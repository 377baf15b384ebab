#!/usr/bin/env node
// Runs one or more test suites with node's test runner and tsx's loader.
// Node 20's `--test` does not expand globs, so the files are found here.
// Usage: node scripts/run-tests.mjs unit|integration|crash|fuzz [more suites] [-- extra node flags]
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const SUITES = {
  unit: { roots: ["src", "test/unit"], concurrency: 2 },
  integration: { roots: ["test/integration"], concurrency: 2 },
  crash: { roots: ["test/crash"], concurrency: 1 },
  fuzz: { roots: ["test/fuzz"], concurrency: 2 },
};

function findTests(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const only = process.env.WHARF_TEST_FILTER;
for (const suite of args) {
  const spec = SUITES[suite];
  if (!spec) {
    console.error(`unknown suite '${suite}' (expected one of ${Object.keys(SUITES).join(", ")})`);
    process.exit(2);
  }
  let files = spec.roots.flatMap((root) => findTests(root, [])).sort();
  if (only) files = files.filter((file) => file.includes(only));
  if (files.length === 0) {
    console.log(`# suite ${suite}: no test files`);
    continue;
  }
  console.log(`# suite ${suite}: ${files.length} files`);
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", `--test-concurrency=${spec.concurrency}`, ...files],
    { stdio: "inherit" },
  );
  if (result.status !== 0) process.exit(result.status ?? 1);
}
