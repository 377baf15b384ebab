import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  generateAmqpCodec,
  generatedPath,
  loadAmqpSchema,
} from "../../../../scripts/amqp-codegen.ts";
import { amqpMethodsByKey } from "./generated/methods.ts";

const regenerate = "regenerate with: node --import tsx scripts/amqp-codegen.ts";

describe("amqp codegen drift check", () => {
  it("generated/methods.ts is exactly what the generator makes from the schema", () => {
    const expected = generateAmqpCodec(loadAmqpSchema());
    const actual = readFileSync(generatedPath, "utf8");
    assert.ok(actual === expected, `generated/methods.ts differs; ${regenerate}`);
  });

  it("covers the 0-9-1 classes plus RabbitMQ's extensions", () => {
    const schema = loadAmqpSchema();
    assert.deepEqual(
      schema.classes.map((cls) => [cls.name, cls.id, cls.methods.length]),
      [
        ["connection", 10, 14],
        ["channel", 20, 6],
        ["access", 30, 2],
        ["exchange", 40, 8],
        ["queue", 50, 10],
        ["basic", 60, 18],
        ["tx", 90, 6],
        ["confirm", 85, 2],
      ],
    );
    assert.equal(amqpMethodsByKey.size, 66);
  });
});
