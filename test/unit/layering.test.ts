/**
 * Enforces the layering of DESIGN.md so that it cannot erode:
 *   protocols -> core -> storage, never back; config/, errors/ and logging/ are the spine.
 * A protocol may use the storage codecs (record batches), never logs directly, and the
 * plumbing shared by every adapter (files directly in protocols/, such as direct-reads.ts),
 * never another protocol's modules. Nothing in src/ imports from outside it, except the test
 * kits beside the code (`*-test-kit.ts`, `*-test-support.ts`, used only by tests), which may
 * use test/helpers/.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const srcRoot = fileURLToPath(new URL("../../src", import.meta.url));

const spine = ["config", "errors", "logging"];
const storageCodecs = ["storage/record-batch.ts", "storage/varint.ts", "storage/crc32c.ts"];
const testKit = /-test-(kit|support)\.ts$/;

/** True when `source` (a src/ path) may import `target` (relative to src/, outside it). */
function mayLeaveSrc(source: string, target: string): boolean {
  return testKit.test(source) && target.startsWith("../test/helpers/");
}

/** For each layer, which top-level areas (or files) of src/ it may import. */
const allowed: Record<string, (target: string, source: string) => boolean> = {
  config: (target) => inArea(target, spine),
  errors: (target) => inArea(target, spine),
  logging: (target) => inArea(target, spine),
  storage: (target) => inArea(target, [...spine, "storage"]),
  core: (target) => inArea(target, [...spine, "storage", "core"]),
  protocols: (target, source) =>
    inArea(target, [...spine, "core"]) ||
    storageCodecs.includes(target) ||
    sameProtocol(target, source) ||
    sharedByProtocols(target),
  admin: (target) => inArea(target, [...spine, "core", "admin"]),
  cluster: (target) => inArea(target, [...spine, "storage", "core", "cluster"]),
  server: () => true,
  cli: () => true,
};

function area(path: string): string {
  return path.split("/")[0]!;
}

function inArea(target: string, areas: string[]): boolean {
  return areas.includes(area(target));
}

function sameProtocol(target: string, source: string): boolean {
  const [a, b] = [target.split("/"), source.split("/")];
  return a[0] === "protocols" && b[0] === "protocols" && a[1] === b[1];
}

/** A file directly in protocols/ (not in one protocol's directory): shared plumbing. */
function sharedByProtocols(target: string): boolean {
  const parts = target.split("/");
  return parts.length === 2 && parts[0] === "protocols";
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const importPattern =
  /(?:^|[\s;])(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

export function findViolations(root: string): string[] {
  const violations: string[] = [];
  for (const file of sourceFiles(root)) {
    const source = relative(root, file).split("\\").join("/");
    const rule = allowed[area(source)];
    if (!rule) {
      violations.push(`${source}: area '${area(source)}' has no layering rule`);
      continue;
    }
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(importPattern)) {
      const specifier = match[1] ?? match[2]!;
      if (!specifier.startsWith(".")) continue; // packages and node: builtins
      const target = relative(root, resolve(dirname(file), specifier))
        .split("\\")
        .join("/");
      if (target.startsWith("..")) {
        if (!mayLeaveSrc(source, target)) {
          violations.push(`${source} imports ${specifier}, outside src/`);
        }
      } else if (!rule(target, source)) {
        violations.push(
          `${source} imports ${target}: ${area(source)} may not depend on ${area(target)}`,
        );
      }
    }
  }
  return violations;
}

test("src/ respects the layering protocols -> core -> storage", () => {
  assert.deepEqual(findViolations(srcRoot), []);
});

test("the layering check catches a violation", () => {
  const rule = allowed.storage!;
  assert.equal(rule("core/broker.ts", "storage/log.ts"), false);
  assert.equal(allowed.core!("protocols/kafka/server.ts", "core/broker.ts"), false);
  assert.equal(allowed.protocols!("storage/log.ts", "protocols/kafka/server.ts"), false);
  assert.equal(allowed.protocols!("storage/record-batch.ts", "protocols/kafka/server.ts"), true);
  assert.equal(allowed.protocols!("protocols/amqp/x.ts", "protocols/kafka/server.ts"), false);
  assert.equal(allowed.protocols!("protocols/direct-reads.ts", "protocols/kafka/x.ts"), true);
  assert.equal(allowed.protocols!("protocols/kafka/x.ts", "protocols/direct-reads.ts"), false);
  assert.equal(mayLeaveSrc("core/queues/queue-test-kit.ts", "../test/helpers/wait-for.ts"), true);
  assert.equal(mayLeaveSrc("core/queues/queue.ts", "../test/helpers/wait-for.ts"), false);
  assert.equal(mayLeaveSrc("storage/log-test-support.ts", "../bench/harness.ts"), false);
  const sample = 'import { Log } from "../storage/log.ts";\nexport { x } from "./y.ts";';
  const found = [...sample.matchAll(importPattern)].map((m) => m[1] ?? m[2]);
  assert.deepEqual(found, ["../storage/log.ts", "./y.ts"]);
});
