/**
 * Producers of the two Node Kafka clients, kafkajs and @platformatic/kafka, driven the same way
 * against each broker: `lanes` concurrent `send()` calls, each of `batchRecords` records of
 * `recordBytes` random bytes (no key, no compression, no idempotence) to one partition (lane i
 * writes to partition i mod partitions), each lane sending again as soon as its send resolves.
 * The message arrays are built once. A warm-up (connections, metadata, JIT) is not counted.
 * Runs in a child process (bench/kafka/client-process.ts).
 */
import { randomBytes } from "node:crypto";
import { Producer } from "@platformatic/kafka";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import { latencyHistogram, round, summarize } from "../harness.ts";
import type { Phase } from "./load-generator.ts";

export interface NodeProducerJob {
  tool: "kafkajs-producer" | "platformatic-producer";
  port: number;
  topic: string;
  partitions: number;
  lanes: number;
  acks: number;
  recordBytes: number;
  batchRecords: number;
  warmupSeconds: number;
  seconds: number;
  recordsMax: number;
}

type Send = (lane: number) => Promise<void>;

async function kafkajsSender(
  job: NodeProducerJob,
): Promise<{ send: Send; close(): Promise<void> }> {
  const kafka = new Kafka({
    clientId: "wharf-bench-kafkajs",
    brokers: [`127.0.0.1:${job.port}`],
    logLevel: logLevel.ERROR,
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false });
  await producer.connect();
  const batches = Array.from({ length: job.lanes }, (_, lane) =>
    Array.from({ length: job.batchRecords }, () => ({
      value: randomBytes(job.recordBytes),
      partition: lane % job.partitions,
    })),
  );
  return {
    send: async (lane) => {
      await producer.send({
        topic: job.topic,
        acks: job.acks,
        timeout: 30_000,
        compression: CompressionTypes.None,
        messages: batches[lane]!,
      });
    },
    close: () => producer.disconnect(),
  };
}

async function platformaticSender(
  job: NodeProducerJob,
): Promise<{ send: Send; close(): Promise<void> }> {
  const producer = new Producer({
    clientId: "wharf-bench-platformatic",
    bootstrapBrokers: [`127.0.0.1:${job.port}`],
    acks: job.acks,
    idempotent: false,
    autocreateTopics: false,
  });
  const batches = Array.from({ length: job.lanes }, (_, lane) =>
    Array.from({ length: job.batchRecords }, () => ({
      topic: job.topic,
      value: randomBytes(job.recordBytes),
      partition: lane % job.partitions,
    })),
  );
  return {
    send: async (lane) => {
      await producer.send({ messages: batches[lane]! });
    },
    close: () => producer.close(),
  };
}

export async function nodeProducer(job: NodeProducerJob, phase: (phase: Phase) => void) {
  const sender =
    job.tool === "kafkajs-producer" ? await kafkajsSender(job) : await platformaticSender(job);
  let measuring = false;
  let stopping = false;
  let measuredRecords = 0;
  let startNs = 0n;
  let endNs = 0n;
  const latency = latencyHistogram();
  const endWindow = () => {
    if (!measuring) return;
    measuring = false;
    stopping = true;
    endNs = process.hrtime.bigint();
    phase("measure-end");
  };
  const lane = async (index: number) => {
    while (!stopping) {
      const sent = process.hrtime.bigint();
      await sender.send(index);
      if (measuring) {
        measuredRecords += job.batchRecords;
        latency.recordValue(Math.max(1, Math.round(Number(process.hrtime.bigint() - sent) / 1000)));
        if (measuredRecords >= job.recordsMax) endWindow();
      }
    }
  };
  const lanes = Promise.all(Array.from({ length: job.lanes }, (_, index) => lane(index)));
  let failure: unknown;
  lanes.catch((error: unknown) => {
    failure = error;
    stopping = true;
  });
  await new Promise((resolve) => setTimeout(resolve, job.warmupSeconds * 1000));
  if (failure === undefined) {
    measuring = true;
    startNs = process.hrtime.bigint();
    phase("measure-start");
    const timer = setTimeout(endWindow, job.seconds * 1000);
    await lanes.catch(() => undefined);
    clearTimeout(timer);
    endWindow();
  }
  await sender.close().catch(() => undefined);
  if (failure !== undefined) throw failure;
  return {
    records: measuredRecords,
    seconds: round(Number(endNs - startNs) / 1e9, 3),
    send_latency: summarize(latency),
  };
}
