import assert from "node:assert/strict";
import { test } from "node:test";
import { isWharfError } from "../errors/index.ts";
import { loadConfig, parseAdvertise } from "./config.ts";

test("--advertise HOST[:PORT]", () => {
  assert.deepEqual(parseAdvertise("broker.example.com"), {
    host: "broker.example.com",
    port: null,
  });
  assert.deepEqual(parseAdvertise("10.1.2.3:19092"), { host: "10.1.2.3", port: 19092 });
  assert.deepEqual(parseAdvertise("[::1]:9092"), { host: "::1", port: 9092 });
  assert.deepEqual(parseAdvertise("[fe80::1]"), { host: "fe80::1", port: null });
  assert.deepEqual(parseAdvertise("fe80::1"), { host: "fe80::1", port: null });
  for (const bad of ["", "host:", "host:0", "host:70000", "a b", "host:12:13x", "[::1"])
    assert.equal(parseAdvertise(bad), null, bad);
});

test("kafka settings: defaults, env and flags, validation", () => {
  const defaults = loadConfig();
  assert.equal(defaults.advertise, null);
  assert.equal(defaults.autoCreateTopics, true);
  assert.equal(defaults.defaultPartitions, 1);
  const fromEnv = loadConfig({
    env: {
      WHARF_ADVERTISE: "kafka.local:29092",
      WHARF_AUTO_CREATE_TOPICS: "false",
      WHARF_DEFAULT_PARTITIONS: "6",
    },
  });
  assert.deepEqual(
    [fromEnv.advertise, fromEnv.autoCreateTopics, fromEnv.defaultPartitions],
    ["kafka.local:29092", false, 6],
  );
  const fromFlags = loadConfig({
    env: { WHARF_AUTO_CREATE_TOPICS: "false" },
    flags: { "auto-create-topics": "true" },
  });
  assert.equal(fromFlags.autoCreateTopics, true);
  const invalid = (flags: Record<string, string>) =>
    assert.throws(
      () => loadConfig({ flags }),
      (error) =>
        isWharfError(error, "WHARF_CONFIG_INVALID") &&
        /advertise|auto-create|defaultPartitions/.test(error.message),
    );
  invalid({ advertise: "not a host:port" });
  invalid({ "auto-create-topics": "maybe" });
  invalid({ "default-partitions": "0" });
});
