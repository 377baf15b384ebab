/**
 * Entry point of the benchmark's client child processes:
 * `node --import tsx bench/kafka/client-process.ts '<job JSON>'`, started by `runClient`
 * (bench/kafka/client-runner.ts) with an IPC channel. Runs one job (load generator, Node
 * client producer, fixed-rate latency), tells the parent when its measured window opens and
 * closes, then sends its result and exits.
 *
 * Messages to the parent: `{type: "phase", phase}`, then `{type: "result", result}` or
 * `{type: "error", message}`.
 */
import { type LatencyJob, latencyRun } from "./latency.ts";
import {
  type ConsumeLoadJob,
  consumeLoad,
  type Phase,
  type ProduceLoadJob,
  produceLoad,
} from "./load-generator.ts";
import { type NodeProducerJob, nodeProducer } from "./node-producers.ts";

export type ClientJob = ProduceLoadJob | ConsumeLoadJob | NodeProducerJob | LatencyJob;

export type ClientMessage =
  | { type: "phase"; phase: Phase }
  | { type: "result"; result: Record<string, unknown> }
  | { type: "error"; message: string };

function send(message: ClientMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) {
      process.stdout.write(`${JSON.stringify(message)}\n`);
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}

function runJob(job: ClientJob): Promise<Record<string, unknown>> {
  const phase = (value: Phase) => {
    void send({ type: "phase", phase: value });
  };
  switch (job.tool) {
    case "produce-load":
      return produceLoad(job, phase);
    case "consume-load":
      return consumeLoad(job, phase);
    case "kafkajs-producer":
    case "platformatic-producer":
      return nodeProducer(job, phase);
    case "latency":
      return latencyRun(job, phase);
  }
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "") as ClientJob;
  try {
    await send({ type: "result", result: await runJob(job) });
  } catch (error) {
    await send({
      type: "error",
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  }
  // Client libraries may keep timers or sockets alive; the job is over.
  process.exit(0);
}

void main();
