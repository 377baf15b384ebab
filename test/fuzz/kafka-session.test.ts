/**
 * Fuzzes the Kafka session (framing, dispatch, every served handler, encoding, ordering)
 * with an in-process broker over in-memory streams. Inputs: valid request frames of every
 * served API and version built from the schemas, mutated (bit flips, truncation, size prefixes
 * and length fields overwritten with edge values, inserted bytes) or not, several per
 * connection, delivered split at random points; plus random bytes.
 *
 * Allowed outcomes: responses, or the connection closed. Not allowed: an exception escaping to
 * the event loop, an "internal error" logged by a session (a defect, not bad input), a session
 * that does not close when its client goes away, or unmutated requests answered out of order.
 * Budget: WHARF_FUZZ_MS (default 8 s) on the shared machine; the seed is printed.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { pino } from "pino";
import type { KafkaSupportedApiKey } from "../../src/protocols/kafka/codec/generated/index.ts";
import { encodeRequestFrame } from "../../src/protocols/kafka/codec/message.ts";
import { apiVersions, sampleBody } from "../../src/protocols/kafka/codec/sample-bodies.ts";
import { KafkaWriter } from "../../src/protocols/kafka/codec/writer.ts";
import { buildDispatchTable } from "../../src/protocols/kafka/handlers/index.ts";
import { loadKafkaSchemas } from "../../src/protocols/kafka/schema/model.ts";
import { encodeBatch } from "../../src/storage/record-batch.ts";
import { InProcessKafka } from "../helpers/in-process-kafka.ts";

const budgetMs = Number(process.env.WHARF_FUZZ_MS ?? 8000);

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Seed {
  readonly apiKey: number;
  readonly version: number;
  readonly body: unknown;
}

function buildSeeds(): Seed[] {
  const served = buildDispatchTable();
  const seeds: Seed[] = [];
  for (const api of loadKafkaSchemas()) {
    const entry = served.get(api.apiKey);
    if (!entry) continue;
    for (const version of apiVersions(api)) {
      if (version < entry.minVersion || version > entry.maxVersion) continue;
      for (const style of ["full", "sparse"] as const)
        seeds.push({
          apiKey: api.apiKey,
          version,
          body: sampleBody(api, "request", version, style),
        });
    }
  }
  // Requests that get past validation and reach the core, which samples rarely do.
  const batch = encodeBatch([{ key: Buffer.from("k"), value: Buffer.from("v") }], {
    baseTimestamp: 1,
  });
  seeds.push({
    apiKey: 0,
    version: 9,
    body: {
      transactionalId: null,
      acks: -1,
      timeoutMs: 1000,
      topicData: [{ name: "fuzz", partitionData: [{ index: 0, records: batch }] }],
    },
  });
  seeds.push({
    apiKey: 3,
    version: 12,
    body: { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false },
  });
  seeds.push({
    apiKey: 1,
    version: 12,
    body: {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 16,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: "fuzz",
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: -1,
              fetchOffset: 0,
              lastFetchedEpoch: -1,
              logStartOffset: -1,
              partitionMaxBytes: 1 << 16,
            },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: "",
    },
  });
  return seeds;
}

const edgeInts = [0, -1, 1, 0x7fffffff, -0x80000000, 0x7fff, -0x8000, 0xff];

function mutate(frame: Buffer, random: () => number): Buffer {
  let bytes = Buffer.from(frame);
  const steps = 1 + Math.floor(random() * 3);
  for (let step = 0; step < steps; step++) {
    const at = Math.floor(random() * bytes.length);
    switch (Math.floor(random() * 5)) {
      case 0:
        bytes[at] = bytes[at]! ^ (1 << Math.floor(random() * 8));
        break;
      case 1:
        bytes = bytes.subarray(0, Math.max(4, at));
        bytes.writeInt32BE(bytes.length - 4, 0);
        break;
      case 2:
        if (at + 4 <= bytes.length)
          bytes.writeInt32BE(edgeInts[Math.floor(random() * edgeInts.length)]! | 0, at);
        break;
      case 3: {
        const extra = Buffer.alloc(1 + Math.floor(random() * 8));
        for (let i = 0; i < extra.length; i++) extra[i] = Math.floor(random() * 256);
        bytes = Buffer.concat([bytes.subarray(0, at), extra, bytes.subarray(at)]);
        if (random() < 0.5) bytes.writeInt32BE(bytes.length - 4, 0);
        break;
      }
      default:
        bytes.writeInt32BE(edgeInts[Math.floor(random() * edgeInts.length)]! | 0, 0);
    }
  }
  return bytes;
}

test("session fuzz: mutated and random frames never break the broker", {
  timeout: budgetMs + 60_000,
}, async (t) => {
  const seed = Number(process.env.WHARF_FUZZ_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (WHARF_FUZZ_SEED=${seed} to replay), budget ${budgetMs} ms`);
  const random = prng(seed);
  const defects: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const line = chunk.toString();
      if (line.includes('"level":50') || line.includes('"level":60'))
        defects.push(line.slice(0, 2000));
      callback();
    },
  });
  const kafka = await InProcessKafka.start({
    config: { autoCreateTopics: false },
    logger: pino({ level: "error" }, sink),
    server: { limits: { frameBytesMax: 256 * 1024, inFlightRequestsMax: 8 } },
  });
  t.after(() => kafka.stop());
  await kafka.broker.streams.create("fuzz", 2);
  const seeds = buildSeeds();
  const writer = new KafkaWriter();
  const deadline = Date.now() + budgetMs;
  let connections = 0;
  let requests = 0;
  let answered = 0;
  while (Date.now() < deadline) {
    connections++;
    const { client, session } = kafka.connect();
    const sent: number[] = [];
    let mutated = false;
    const parts: Buffer[] = [];
    if (random() < 0.1) {
      const garbage = Buffer.alloc(1 + Math.floor(random() * 300));
      for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(random() * 256);
      parts.push(garbage);
      mutated = true;
    } else {
      const count = 1 + Math.floor(random() * 4);
      for (let i = 0; i < count; i++) {
        const pick = seeds[Math.floor(random() * seeds.length)]!;
        const correlationId = ++requests;
        const header = {
          apiKey: pick.apiKey as KafkaSupportedApiKey,
          apiVersion: pick.version,
          correlationId,
          clientId: "fuzz",
        };
        encodeRequestFrame(writer, header, pick.body as never);
        let frame = writer.takeBuffer();
        if (random() < 0.6) {
          frame = mutate(frame, random);
          mutated = true;
        }
        sent.push(correlationId);
        parts.push(frame);
      }
    }
    const stream = Buffer.concat(parts);
    let at = 0;
    while (at < stream.length) {
      const size = 1 + Math.floor(random() * Math.max(1, stream.length - at));
      client.write(stream.subarray(at, at + size));
      at += size;
      if (random() < 0.3) await new Promise((resolve) => setImmediate(resolve));
    }
    const received: number[] = [];
    const until = Date.now() + 30;
    while (Date.now() < until && received.length < sent.length) {
      const frame = await client.nextFrame(Math.max(1, until - Date.now())).catch(() => null);
      if (frame === null) break;
      received.push(frame.readInt32BE(0));
    }
    answered += received.length;
    if (!mutated) {
      // Acks=0 produce requests and long polls may be missing; what came must be in order.
      const order = received.map((id) => sent.indexOf(id));
      assert.ok(
        order.every((index, i) => index >= 0 && (i === 0 || index > order[i - 1]!)),
        `out of order: sent ${sent}, got ${received}`,
      );
    }
    client.close();
    const closedInTime = await Promise.race([
      session.closed.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000)),
    ]);
    assert.ok(closedInTime, "the session closes when its client goes away");
    assert.deepEqual(defects, [], "no internal errors");
  }
  t.diagnostic(`${connections} connections, ${requests} requests, ${answered} responses`);
  assert.equal(kafka.server.connectionCount, 0);
});
