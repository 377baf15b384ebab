import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { generatedDir, generateKafkaCodec } from "../../../../scripts/kafka-codegen.ts";
import { loadKafkaSchemas } from "../schema/model.ts";

const regenerate = "regenerate with: node --import tsx scripts/kafka-codegen.ts";

describe("kafka codegen drift check", () => {
  it("the committed generated/ files are exactly what the generator makes from the schemas", () => {
    const expected = generateKafkaCodec(loadKafkaSchemas());
    const present = readdirSync(generatedDir).filter((name) => name.endsWith(".ts"));
    assert.deepEqual(
      present.sort(),
      [...expected.keys()].sort(),
      `file list differs; ${regenerate}`,
    );
    for (const [name, content] of expected) {
      const actual = readFileSync(join(generatedDir, name), "utf8");
      assert.ok(
        actual === content,
        `generated/${name} differs from the generator's output; ${regenerate}`,
      );
    }
  });

  it("covers every API the broker must speak", () => {
    const keys = loadKafkaSchemas().map((schema) => schema.apiKey);
    const required = [
      0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 32, 33, 36, 37, 42, 44,
      47, 60,
    ];
    assert.deepEqual(keys, required);
  });
});
