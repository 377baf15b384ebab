/**
 * Byte-for-byte conformance with Redis: replays each recorded script of
 * test/fixtures/resp/redis-transcripts.json (made from a real Redis by
 * test/helpers/redis-transcript-oracle.ts) against a broker process, one connection per script,
 * and expects exactly the replies Redis gave: streams, consumer groups, pub/sub in RESP2 and
 * RESP3, and the error text of wrong arity, wrong types and bad options. Replies marked
 * `volatile` hold idle times and are compared with every integer masked. Raw inputs (inline
 * commands, malformed requests) must get the same bytes back and the same close, or not.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { BrokerProcess } from "../helpers/broker-process.ts";
import type { RawTranscript, TranscriptStep } from "../helpers/redis-transcript-oracle.ts";
import { RawRespClient, rawExchange } from "../helpers/resp-raw-client.ts";

const fixture = JSON.parse(
  readFileSync(new URL("../fixtures/resp/redis-transcripts.json", import.meta.url), "utf8"),
) as {
  redis_version: string;
  scripts: Record<string, TranscriptStep[]>;
  raw: RawTranscript[];
};

let broker: BrokerProcess;

before(async () => {
  broker = await BrokerProcess.start();
});

after(async () => {
  await broker?.stop();
});

/** Integer replies (and RESP3 doubles) masked, for replies that hold idle times. */
function maskIntegers(reply: string): string {
  return reply.replace(/(^|\n)[:,]-?\d+\r\n/g, "$1:#\r\n");
}

for (const [name, steps] of Object.entries(fixture.scripts)) {
  test(`${name}: every reply as Redis ${fixture.redis_version} gave it`, async () => {
    const client = await RawRespClient.connect(broker.ports.resp);
    try {
      for (const step of steps) {
        const reply = await client.command(step.args);
        const context = `${name}: ${step.args.join(" ")}`;
        if (step.volatile) assert.equal(maskIntegers(reply), maskIntegers(step.reply), context);
        else assert.equal(reply, step.reply, context);
      }
    } finally {
      client.close();
    }
  });
}

test(`raw input: inline commands and protocol errors as Redis ${fixture.redis_version} answered`, async () => {
  // Each on a fresh connection, all at once: a case that leaves the connection open waits
  // out the same 400 ms the recording waited.
  const results = await Promise.all(
    fixture.raw.map((recorded) => rawExchange(broker.ports.resp, recorded.input)),
  );
  fixture.raw.forEach((recorded, i) => {
    assert.deepEqual(
      results[i],
      { output: recorded.output, closed: recorded.closed },
      JSON.stringify(recorded.input),
    );
  });
});
