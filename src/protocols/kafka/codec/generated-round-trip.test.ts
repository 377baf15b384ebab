import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadKafkaSchemas } from "../schema/model.ts";
import { kafkaApiCodec } from "./generated/index.ts";
import { KafkaReader } from "./reader.ts";
import { apiVersions, type SampleStyle, sampleBody } from "./sample-bodies.ts";
import { KafkaWriter } from "./writer.ts";

const styles: SampleStyle[] = ["full", "sparse"];

describe("generated kafka codecs: every API, version and direction round-trips", () => {
  for (const api of loadKafkaSchemas()) {
    it(`${api.name} (key ${api.apiKey}, versions ${api.validVersions})`, () => {
      const codec = kafkaApiCodec(api.apiKey);
      assert.ok(codec, `codec for ${api.name}`);
      for (const version of apiVersions(api)) {
        for (const style of styles) {
          for (const direction of ["request", "response"] as const) {
            const what = `${api.name} ${direction} v${version} ${style}`;
            const body = sampleBody(api, direction, version, style);
            const writer = new KafkaWriter(64);
            if (direction === "request") codec.encodeRequest(writer, version, body);
            else codec.encodeResponse(writer, version, body);
            const encoded = writer.takeBuffer();
            const reader = new KafkaReader(encoded);
            const decoded: unknown =
              direction === "request"
                ? codec.decodeRequest(reader, version)
                : codec.decodeResponse(reader, version);
            assert.equal(reader.remaining, 0, `${what}: whole body consumed`);
            assert.deepEqual(decoded, body, what);
            // Re-encoding what was decoded gives the same bytes.
            if (direction === "request") codec.encodeRequest(writer, version, decoded);
            else codec.encodeResponse(writer, version, decoded);
            assert.deepEqual(writer.takeBuffer(), encoded, `${what}: re-encoding`);
          }
        }
      }
    });
  }
});

describe("generated kafka codecs: version bounds", () => {
  it("decoding a version outside validVersions is a KafkaDecodeError, encoding one throws", () => {
    const codec = kafkaApiCodec(0);
    assert.ok(codec);
    const reader = new KafkaReader(Buffer.alloc(64));
    assert.throws(() => codec.decodeRequest(reader, codec.maxVersion + 1), {
      name: "KafkaDecodeError",
    });
    assert.throws(() => codec.encodeResponse(new KafkaWriter(), -1, {}), /cannot encode/);
    assert.equal(kafkaApiCodec(9999), undefined);
    assert.equal(kafkaApiCodec(-1), undefined);
  });
});
