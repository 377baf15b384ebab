import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { frameNeedMore, KafkaFrameSplitter } from "./frame.ts";
import {
  apiVersionsMaxVersion,
  decodeApiVersionsResponse,
  type FetchRequest,
  KafkaApiKey,
  type MetadataResponse,
} from "./generated/index.ts";
import { decodeResponseHeader, requestHeaderVersion, responseHeaderVersion } from "./header.ts";
import {
  decodeRequestFrame,
  encodeApiVersionsFallbackResponse,
  encodeRequestFrame,
  encodeResponseFrame,
  supportedApiVersions,
  unsupportedVersionErrorCode,
} from "./message.ts";
import { KafkaReader } from "./reader.ts";
import { KafkaWriter } from "./writer.ts";

function onlyFrame(chunks: Buffer[]): Buffer {
  const splitter = new KafkaFrameSplitter();
  for (const chunk of chunks) splitter.push(chunk);
  const frame = splitter.next();
  assert.ok(Buffer.isBuffer(frame));
  assert.equal(splitter.next(), frameNeedMore);
  return frame;
}

describe("kafka headers", () => {
  it("picks header versions from each API's flexible versions", () => {
    assert.equal(requestHeaderVersion(KafkaApiKey.Produce, 8), 1);
    assert.equal(requestHeaderVersion(KafkaApiKey.Produce, 9), 2);
    assert.equal(responseHeaderVersion(KafkaApiKey.Produce, 8), 0);
    assert.equal(responseHeaderVersion(KafkaApiKey.Produce, 9), 1);
    assert.equal(requestHeaderVersion(KafkaApiKey.SaslHandshake, 1), 1);
    assert.equal(requestHeaderVersion(KafkaApiKey.DescribeCluster, 0), 2);
    assert.equal(responseHeaderVersion(KafkaApiKey.DescribeCluster, 0), 1);
    // ApiVersions: flexible requests from v3, but the response header is always v0.
    assert.equal(requestHeaderVersion(KafkaApiKey.ApiVersions, 3), 2);
    assert.equal(requestHeaderVersion(KafkaApiKey.ApiVersions, 99), 2);
    assert.equal(responseHeaderVersion(KafkaApiKey.ApiVersions, 3), 0);
    assert.equal(requestHeaderVersion(7, 0), 0);
    assert.equal(requestHeaderVersion(12345, 3), 1);
  });

  it("keeps client_id a classic int16-length string in request header v2", () => {
    const writer = new KafkaWriter();
    const header = {
      apiKey: KafkaApiKey.ApiVersions,
      apiVersion: 3,
      correlationId: 7,
      clientId: "cli",
    };
    encodeRequestFrame(writer, header, { clientSoftwareName: "n", clientSoftwareVersion: "1" });
    const bytes = writer.takeBuffer();
    // size(4) key(2) version(2) correlation(4) then int16 3 "cli" then an empty tag section.
    assert.deepEqual(bytes.subarray(12, 18), Buffer.from([0, 3, 0x63, 0x6c, 0x69, 0]));
    const decoded = decodeRequestFrame(bytes.subarray(4));
    assert.deepEqual(decoded.header, header);
    assert.equal(decoded.support, "supported");
    assert.deepEqual(decoded.body, { clientSoftwareName: "n", clientSoftwareVersion: "1" });
    assert.equal(decoded.trailingBytes, 0);
  });
});

describe("kafka request and response frames", () => {
  it("round-trips a flexible Fetch request through the splitter, skipping unknown tags", () => {
    const body: FetchRequest = {
      replicaId: -1,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 1,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: "t",
          topicId: "00000000-0000-0000-0000-000000000000",
          partitions: [{ partition: 0, fetchOffset: 42, partitionMaxBytes: 1024 }],
        },
      ],
    };
    const writer = new KafkaWriter();
    const header = { apiKey: KafkaApiKey.Fetch, apiVersion: 12, correlationId: 9, clientId: null };
    encodeRequestFrame(writer, header, body);
    // Replace the body's empty tag section with one unknown tag (tag 9, 2 bytes).
    const plain = writer.takeBuffer();
    assert.equal(plain[plain.length - 1], 0);
    const tagged = Buffer.concat([
      plain.subarray(0, plain.length - 1),
      Buffer.from([1, 9, 2, 0xaa, 0xbb]),
    ]);
    tagged.writeInt32BE(tagged.length - 4, 0);
    const decoded = decodeRequestFrame(onlyFrame([tagged.subarray(0, 7), tagged.subarray(7)]));
    assert.equal(decoded.support, "supported");
    const fetch = decoded.body as FetchRequest;
    assert.equal(fetch.topics[0].partitions[0].fetchOffset, 42);
    assert.equal(fetch.clusterId, null);
    assert.equal(fetch.rackId, "");
  });

  it("reports unknown APIs and unsupported versions without reading the body", () => {
    const writer = new KafkaWriter();
    writer.writeInt16(9999);
    writer.writeInt16(0);
    writer.writeInt32(1);
    writer.writeNullableString(null);
    writer.writeInt32(123);
    const unknown = decodeRequestFrame(writer.takeBuffer());
    assert.equal(unknown.support, "unknown-api");
    assert.equal(unknown.trailingBytes, 4);

    writer.writeInt16(KafkaApiKey.ApiVersions);
    writer.writeInt16(apiVersionsMaxVersion + 1);
    writer.writeInt32(77);
    writer.writeNullableString("newer-client");
    writer.writeEmptyTaggedFields();
    const newer = decodeRequestFrame(writer.takeBuffer());
    assert.equal(newer.support, "unsupported-version");
    assert.equal(newer.header.correlationId, 77);
    assert.equal(newer.header.clientId, "newer-client");
  });

  it("answers an unsupported ApiVersions version with a v0 UNSUPPORTED_VERSION response", () => {
    const writer = new KafkaWriter();
    encodeApiVersionsFallbackResponse(writer, 77);
    const reader = new KafkaReader(onlyFrame(writer.takeChunks()));
    assert.equal(decodeResponseHeader(reader, 0), 77);
    const body = decodeApiVersionsResponse(reader, 0);
    assert.equal(reader.remaining, 0);
    assert.equal(body.errorCode, unsupportedVersionErrorCode);
    assert.deepEqual(body.apiKeys, [
      { apiKey: 18, minVersion: 0, maxVersion: apiVersionsMaxVersion },
    ]);
  });

  it("frames responses with the header version of their API version", () => {
    const writer = new KafkaWriter();
    encodeResponseFrame(writer, KafkaApiKey.ApiVersions, 3, 5, {
      errorCode: 0,
      apiKeys: supportedApiVersions(),
    });
    const apiVersions = new KafkaReader(onlyFrame(writer.takeChunks()));
    assert.equal(decodeResponseHeader(apiVersions, 0), 5);
    const decoded = decodeApiVersionsResponse(apiVersions, 3);
    assert.equal(decoded.apiKeys.length, 27);

    const metadata: MetadataResponse = { brokers: [], topics: [] };
    encodeResponseFrame(writer, KafkaApiKey.Metadata, 9, 6, metadata);
    const frame = onlyFrame(writer.takeChunks());
    // Flexible response header v1: correlation id then an empty tag section.
    assert.deepEqual(frame.subarray(0, 5), Buffer.from([0, 0, 0, 6, 0]));
  });
});
