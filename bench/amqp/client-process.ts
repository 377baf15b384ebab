/**
 * Entry point of bench/amqp.ts's client child processes: `node --import tsx
 * bench/amqp/client-process.ts '<job JSON>'`, forked with an IPC channel by
 * bench/amqp/client-group.ts. One process runs one amqplib publisher or a set of consumers,
 * so the client side of a workload can spread over several cores the same way for both
 * brokers (one Node event loop tops out well below a broker's rate).
 *
 * Protocol (bench/amqp/jobs.ts): the child connects and declares nothing (the parent owns the
 * topology), sends `ready`; then obeys `start`, `mark` (answers its counts) and `stop` (answers
 * `result` and exits). A publisher that reaches `maxMessages` sends `done` once every confirm
 * is back. Any failure is sent as `error` and the process exits 1.
 */
import { once } from "node:events";
import { type Channel, type ChannelModel, type ConfirmChannel, connect } from "amqplib";
import { latencyHistogram, summarize } from "../harness.ts";
import type { ChildMessage, ConsumerJob, Counts, ParentCommand, PublisherJob } from "./jobs.ts";

function send(message: ChildMessage): void {
  process.send!(message);
}

/** Publishes this many messages between yields, so IPC commands and socket writes get a turn. */
const publishBurst = 256;

function runPublisher(job: PublisherJob, connection: ChannelModel, channel: Channel) {
  const counts: Counts = { count: 0, confirmed: 0, nacked: 0 };
  const body = Buffer.alloc(job.bodyBytes, 0x78);
  const properties = { deliveryMode: job.persistent ? 2 : 1 };
  let stopping = false;
  let wakeConfirm: (() => void) | undefined;
  const onConfirm = (error: unknown) => {
    if (error) counts.nacked++;
    else counts.confirmed++;
    wakeConfirm?.();
  };
  const outstanding = () => counts.count - counts.confirmed - counts.nacked;
  const confirmsBelow = (limit: number) =>
    new Promise<void>((resolve) => {
      wakeConfirm = () => {
        if (outstanding() < limit || stopping) {
          wakeConfirm = undefined;
          resolve();
        }
      };
      wakeConfirm();
    });
  const publishOne = (dueNs: bigint): boolean => {
    let content = body;
    if (job.stampDueTime) {
      content = Buffer.from(body); // each message its own body: amqplib may hold it until written
      content.writeBigUInt64BE(dueNs, 0);
    }
    counts.count++;
    if (job.confirm) {
      return (channel as ConfirmChannel).publish(
        job.exchange,
        job.routingKey,
        content,
        properties,
        onConfirm,
      );
    }
    return channel.publish(job.exchange, job.routingKey, content, properties);
  };
  const loop = async () => {
    const beginNs = process.hrtime.bigint();
    while (!stopping && counts.count < job.maxMessages) {
      let due = job.maxMessages;
      if (job.rate !== null) {
        const elapsedS = Number(process.hrtime.bigint() - beginNs) / 1e9;
        due = Math.min(job.maxMessages, Math.floor(elapsedS * job.rate) + 1);
        if (counts.count >= due) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          continue;
        }
      }
      const burstEnd = Math.min(due, counts.count + publishBurst);
      while (counts.count < burstEnd && !stopping) {
        if (job.confirm && outstanding() >= job.window) await confirmsBelow(job.window);
        if (stopping) break;
        const dueNs =
          job.rate === null
            ? process.hrtime.bigint()
            : beginNs + BigInt(Math.round((counts.count / job.rate) * 1e9));
        if (!publishOne(dueNs)) await once(channel, "drain");
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (job.confirm) await confirmsBelow(1);
    if (!stopping) send({ type: "done", ...counts });
  };
  let running: Promise<void> | undefined;
  return {
    counts,
    start() {
      running = loop();
      running.catch(fail);
    },
    async stop() {
      stopping = true;
      wakeConfirm?.();
      await running;
      // Unconfirmed messages still count: wait for their confirms, bounded by the parent.
      if (job.confirm) {
        stopping = false;
        await confirmsBelow(1);
      }
      // channel.close() is queued behind this channel's content frames and the broker answers
      // close-ok after routing them; a bare connection.close() can overtake frames amqplib
      // still buffers, and the broker then never sees messages counted as published.
      await channel.close();
      await connection.close();
      return {};
    },
  };
}

async function runConsumer(job: ConsumerJob) {
  const counts: Counts = { count: 0, confirmed: 0, nacked: 0 };
  const histogram = latencyHistogram();
  let windowStartNs = 0n;
  const connections: ChannelModel[] = [];
  for (const queue of job.queues) {
    const connection = await connect(job.url);
    connection.on("error", fail);
    connections.push(connection);
    const channel = await connection.createChannel();
    channel.on("error", fail);
    if (!job.noAck) await channel.prefetch(job.prefetch);
    await channel.consume(
      queue,
      (message) => {
        // basic.cancel from the broker: say so, or the workload would just see deliveries stop.
        if (message === null)
          return fail(new Error(`consumer of ${queue} cancelled by the broker`));
        counts.count++;
        if (job.latency && message.content.length >= 8) {
          const dueNs = message.content.readBigUInt64BE(0);
          if (dueNs >= windowStartNs) {
            const micros = Number(process.hrtime.bigint() - dueNs) / 1000;
            histogram.recordValue(Math.max(1, Math.round(micros)));
          }
        }
        if (!job.noAck) channel.ack(message);
      },
      { noAck: job.noAck },
    );
  }
  return {
    counts,
    start() {},
    resetLatency() {
      histogram.reset();
      windowStartNs = process.hrtime.bigint();
    },
    async stop() {
      for (const connection of connections) await connection.close();
      return job.latency ? { latency: summarize(histogram) } : {};
    },
  };
}

function fail(error: unknown): void {
  send({
    type: "error",
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  setImmediate(() => process.exit(1));
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "") as PublisherJob | ConsumerJob;
  let client: {
    counts: Counts;
    start(): void;
    resetLatency?(): void;
    stop(): Promise<Record<string, unknown>>;
  };
  if (job.role === "publisher") {
    const connection = await connect(job.url);
    connection.on("error", fail);
    const channel = job.confirm
      ? await connection.createConfirmChannel()
      : await connection.createChannel();
    channel.on("error", fail);
    client = runPublisher(job, connection, channel);
  } else {
    client = await runConsumer(job);
  }
  process.on("message", (command: ParentCommand) => {
    if (command.cmd === "start") client.start();
    else if (command.cmd === "mark") {
      if (command.resetLatency) client.resetLatency?.();
      send({ type: "mark", ...client.counts });
    } else {
      client.stop().then((extra) => {
        send({ type: "result", result: { ...client.counts, ...extra } });
        setImmediate(() => process.exit(0));
      }, fail);
    }
  });
  // The parent going away ends the job: no orphan keeps loading a broker.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready" });
}

main().catch(fail);
