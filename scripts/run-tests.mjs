#!/usr/bin/env node
// Runs one or more test suites with node's test runner and tsx's loader.
// Node 20's `--test` does not expand globs, so the files are found here.
// Usage: node scripts/run-tests.mjs unit|integration|crash|fuzz [more suites] [-- extra node flags]
import { spawn } from "node:child_process";
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

/** Runs one suite, echoing its output, and returns its exit code and pass/fail counts. */
function runSuite(files, concurrency) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, ...files],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const counts = { passed: 0, failed: 0 };
    let pending = "";
    child.stdout.setEncoding("utf8").on("data", (text) => {
      process.stdout.write(text);
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const match = /^# (pass|fail) (\d+)$/.exec(line);
        if (match) counts[match[1] === "pass" ? "passed" : "failed"] += Number(match[2]);
      }
    });
    child.once("exit", (code) => resolve({ code: code ?? 1, ...counts }));
  });
}

const args = process.argv.slice(2);
const only = process.env.WHARF_TEST_FILTER;
const total = { passed: 0, failed: 0 };
let exitCode = 0;
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
  const result = await runSuite(files, spec.concurrency);
  total.passed += result.passed;
  total.failed += result.failed;
  if (result.code !== 0) {
    exitCode = result.code;
    break;
  }
}
// One closing line over every suite that ran.
console.log(`tests: ${total.passed} passed, ${total.failed} failed`);
process.exit(exitCode);
