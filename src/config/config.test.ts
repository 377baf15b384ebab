import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isWharfError } from "../errors/index.ts";
import { defaultConfig, loadConfig } from "./config.ts";

function withFile(content: string, body: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "wharf-config-"));
  try {
    const path = join(dir, "wharf.json");
    writeFileSync(path, content);
    body(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function configError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(isWharfError(error, "WHARF_CONFIG_INVALID"), String(error));
    return error.message;
  }
  assert.fail("expected a configuration error");
}

test("defaults follow the configuration contract", () => {
  const config = loadConfig();
  assert.deepEqual(config, defaultConfig);
  assert.equal(config.dataDir, "./data");
  assert.equal(config.host, "127.0.0.1");
  assert.deepEqual(
    [
      config.kafkaPort,
      config.amqpPort,
      config.respPort,
      config.mqttPort,
      config.stompPort,
      config.httpPort,
    ],
    [9092, 5672, 6379, 1883, 61613, 15672],
  );
  assert.equal(config.storage.durability, "fsync");
});

test("precedence is defaults < file < env < flags", () => {
  withFile(
    JSON.stringify({
      kafkaPort: 1001,
      amqpPort: 1002,
      respPort: 1003,
      storage: { durability: "none" },
    }),
    (path) => {
      const config = loadConfig({
        configFile: path,
        env: { WHARF_AMQP_PORT: "2002", WHARF_RESP_PORT: "2003" },
        flags: { "resp-port": "3003" },
      });
      assert.equal(config.kafkaPort, 1001);
      assert.equal(config.amqpPort, 2002);
      assert.equal(config.respPort, 3003);
      assert.equal(config.storage.durability, "none");
      assert.equal(config.storage.segmentBytes, defaultConfig.storage.segmentBytes);
    },
  );
});

test("WHARF_CONFIG names the file when no flag does", () => {
  withFile(JSON.stringify({ httpPort: 0 }), (path) => {
    assert.equal(loadConfig({ env: { WHARF_CONFIG: path } }).httpPort, 0);
  });
});

test("bad values are rejected with a message naming the key and source", () => {
  assert.match(
    configError(() => loadConfig({ flags: { "kafka-port": "abc" } })),
    /--kafka-port: 'abc' is not an integer/,
  );
  assert.match(
    configError(() => loadConfig({ flags: { "kafka-port": "70000" } })),
    /kafkaPort/,
  );
  assert.match(
    configError(() => loadConfig({ env: { WHARF_HTTP_PORT: "-1" } })),
    /httpPort/,
  );
  assert.match(
    configError(() => loadConfig({ flags: { durability: "maybe" } })),
    /storage\.durability/,
  );
  withFile("{ not json", (path) => {
    assert.match(
      configError(() => loadConfig({ configFile: path })),
      /not valid JSON/,
    );
  });
  withFile(JSON.stringify({ kafkaPrt: 1 }), (path) => {
    assert.match(
      configError(() => loadConfig({ configFile: path })),
      /unknown key kafkaPrt/,
    );
  });
  withFile(JSON.stringify([1, 2]), (path) => {
    assert.match(
      configError(() => loadConfig({ configFile: path })),
      /JSON object/,
    );
  });
  assert.match(
    configError(() => loadConfig({ configFile: "/nonexistent/wharf.json" })),
    /cannot read config file/,
  );
});
