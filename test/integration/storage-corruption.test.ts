/**
 * Bit rot in the middle of a partition log (issue #2): bytes flipped inside a segment that is
 * neither the first nor the active one. The broker must start, report the bad range clearly
 * (the startup scrub logs segment, byte range and offsets), never serve the corrupt batch
 * (Fetch answers CORRUPT_MESSAGE for offsets inside it), and keep serving everything before
 * and after it.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { encodeBatch, readBatchHeader } from "../../src/storage/record-batch.ts";
import { BrokerProcess } from "../helpers/broker-process.ts";
import { fetchRequestBody, KafkaWireClient } from "../helpers/kafka-wire-client.ts";

const topic = "rot";
const batchCount = 60;

async function fetchAt(wire: KafkaWireClient, offset: number) {
  const { body } = await wire.request(1, 11, fetchRequestBody(topic, 0, offset));
  return body.responses[0]!.partitions[0]!;
}

test("a corrupt segment in the middle is reported, never served, and the rest is served", {
  timeout: 120_000,
}, async (t) => {
  const first = await BrokerProcess.start();
  first.keepDataDir();
  t.after(() => first.stop());
  const wire = await KafkaWireClient.connect(first.ports.kafka);
  const created = await wire.request(19, 7, {
    topics: [
      {
        name: topic,
        numPartitions: 1,
        replicationFactor: -1,
        assignments: [],
        configs: [{ name: "segment.bytes", value: "4096" }],
      },
    ],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.body.topics[0]!.errorCode, 0);
  for (let i = 0; i < batchCount; i++) {
    const records = Array.from({ length: 4 }, (_, r) => ({
      value: Buffer.from(`batch ${i} record ${r} `.padEnd(200, "x")),
    }));
    const produced = await wire.request(0, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records: encodeBatch(records) }] }],
    });
    assert.equal(produced.body.responses[0]!.partitionResponses[0]!.errorCode, 0);
  }
  wire.close();
  assert.equal((await first.stop()).code, 0);

  // Flip bytes inside the first batch of a middle segment.
  const logDir = join(first.dataDir, "logs", `${topic}-0`);
  const segments = readdirSync(logDir)
    .filter((name) => name.endsWith(".log"))
    .sort();
  assert.ok(segments.length >= 4, `expected several segments, got ${segments.length}`);
  const victim = join(logDir, segments[Math.floor(segments.length / 2)]!);
  const bytes = readFileSync(victim);
  const header = readBatchHeader(bytes, 0);
  const badOffsets = { first: header.baseOffset, last: header.baseOffset + header.lastOffsetDelta };
  for (let at = 100; at < 110; at++) bytes[at]! ^= 0x5a;
  writeFileSync(victim, bytes);

  const second = await BrokerProcess.start({ dataDir: first.dataDir, ports: first.ports });
  t.after(async () => {
    await second.stop();
    second.cleanup();
    first.cleanup();
  });
  const deadline = Date.now() + 20_000;
  while (!/startup scrub done/.test(second.stderr) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const report = second.stderr
    .split("\n")
    .filter((line) => line.includes("corrupt"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.ok(report.length > 0, `no corruption reported:\n${second.stderr}`);
  assert.ok(
    report.some((line) => JSON.stringify(line).includes(String(badOffsets.first))),
    `the report names the bad offsets: ${JSON.stringify(report)}`,
  );

  const reader = await KafkaWireClient.connect(second.ports.kafka);
  t.after(() => reader.close());
  const start = await fetchAt(reader, 0);
  assert.equal(start.errorCode, 0);
  assert.ok(start.records && start.records.length > 0, "data before the bad range is served");
  const bad = await fetchAt(reader, badOffsets.first);
  assert.equal(bad.errorCode, 2, "CORRUPT_MESSAGE inside the bad range");
  assert.ok(!bad.records || bad.records.length === 0, "no bytes of the corrupt batch are served");
  const after = await fetchAt(reader, badOffsets.last + 1);
  assert.equal(after.errorCode, 0);
  assert.ok(after.records && after.records.length > 0, "data after the bad range is served");
  assert.equal(Number(after.highWatermark), batchCount * 4);
});
