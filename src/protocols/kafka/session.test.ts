/**
 * KafkaSession over an in-memory stream with an in-process broker: request order under
 * out-of-order completion, back-pressure on pipelined requests, the frame dump of
 * WHARF_DEBUG_FRAMES, and closing on shutdown while a long poll waits.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { InProcessKafka } from "../../../test/helpers/in-process-kafka.ts";
import { decodeResponse, fetchRequestBody } from "../../../test/helpers/kafka-wire-client.ts";

function fetchAt(topic: string, offset: number, maxWaitMs: number) {
  return fetchRequestBody(topic, 0, offset, { maxWaitMs });
}

const apiVersionsBody = { clientSoftwareName: "test", clientSoftwareVersion: "1" };

describe("KafkaSession", () => {
  let kafka: InProcessKafka;
  const lines: string[] = [];

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    kafka = await InProcessKafka.start({
      logger: pino({ level: "info" }, sink),
      server: { debugFrames: true, limits: { inFlightRequestsMax: 3 } },
    });
    await kafka.broker.streams.create("s", 1);
  });
  after(() => kafka.stop());

  test("responses are written in request order although handlers finish out of order", async () => {
    const { client } = kafka.connect();
    const frames = [
      client.encode(1, 11, fetchAt("s", 0, 150), 1),
      client.encode(18, 3, apiVersionsBody, 2),
      client.encode(
        3,
        9,
        { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false },
        3,
      ),
    ];
    client.write(Buffer.concat(frames));
    const order: number[] = [];
    for (let i = 0; i < 3; i++) order.push((await client.nextFrame())!.readInt32BE(0));
    assert.deepEqual(order, [1, 2, 3]);
    client.close();
  });

  test("reading pauses at the in-flight limit and resumes when responses go out", async () => {
    const { client, stream } = kafka.connect();
    const frames = [];
    for (let id = 10; id < 16; id++) frames.push(client.encode(1, 11, fetchAt("s", 0, 100), id));
    client.write(Buffer.concat(frames));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stream.isPaused(), true, "three requests in flight: the session stops reading");
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const frame = (await client.nextFrame())!;
      ids.push(frame.readInt32BE(0));
      const body = decodeResponse(1, 11, frame);
      assert.equal(body.responses[0]!.partitions[0]!.errorCode, 0);
    }
    assert.deepEqual(ids, [10, 11, 12, 13, 14, 15], "all six answered, three at a time, in order");
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stream.isPaused(), false, "reading resumed");
    client.close();
  });

  test("WHARF_DEBUG_FRAMES dumps requests and responses as bounded hex", async () => {
    const { client } = kafka.connect();
    await client.request(18, 3, apiVersionsBody);
    client.close();
    const dumps = lines.filter((line) => line.includes('"msg":"kafka frame"'));
    assert.ok(
      dumps.some(
        (line) => line.includes('"direction":"request"') && line.includes('"hex":"00120003'),
      ),
    );
    assert.ok(dumps.some((line) => line.includes('"direction":"response"')));
  });

  test("closing the listener ends a waiting long poll and closes its connection", async () => {
    const other = await InProcessKafka.start();
    try {
      await other.broker.streams.create("w", 1);
      const { client, session } = other.connect();
      client.write(client.encode(1, 11, fetchAt("w", 0, 30_000), 99));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = Date.now();
      await other.server.close();
      await session.closed;
      assert.ok(Date.now() - started < 2000);
      assert.equal(await client.waitClosed(1000), true);
    } finally {
      await other.stop();
    }
  });
});
