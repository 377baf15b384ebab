/**
 * The workloads of bench/amqp.ts (issue 4), each run against one target (broker) with the same
 * amqplib client processes. Topology is declared by the parent on its own connection with
 * names unique to the run, and deleted afterwards (a failed delete is reported, not fatal).
 *
 * Throughput workloads open their measured window after a warm-up, with every publisher and
 * consumer running; `delivered_per_s` is what all consumers received in the window over its
 * length. Publishers outrunning consumers show as `backlog_growth` (messages queued in the
 * window), so a broker that accepts fast but delivers slowly does not look fast.
 */
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { type Channel, type ChannelModel, connect } from "amqplib";
import { round } from "../harness.ts";
import { cpuSeconds, memory } from "../kafka/process-stats.ts";
import { ClientGroup, sumCounts } from "./client-group.ts";
import type { ClientJob, ConsumerJob, Counts, PublisherJob } from "./jobs.ts";

export interface Target {
  name: "wharfmq" | "rabbitmq";
  url: string;
  /** The broker process (WharfMQ's node, RabbitMQ's beam.smp). */
  pid: number;
  dataDir: string;
}

export interface Settings {
  quick: boolean;
  seconds: number;
  warmupSeconds: number;
  publishers: number;
  consumerProcesses: number;
  /** Competing consumers on the queue of (a) and (b), one process each (issue 4: one). */
  queueConsumers: number;
  window: number;
  prefetch: number;
  bodyBytes: number;
  rate: number;
  maxMessages: number;
  backlog: number;
  backlogTimeoutS: number;
  /** Bound on waiting for consumers to receive everything once publishers stop. */
  drainSeconds: number;
}

export interface ThroughputSpec {
  name: string;
  queues: number;
  /** One fanout exchange bound to every queue; the default exchange otherwise. */
  fanout: boolean;
  durable: boolean;
  persistent: boolean;
  confirm: boolean;
  noAck: boolean;
}

/** (a), (b), (c) of issue 4. */
export const throughputSpecs: Record<string, ThroughputSpec> = {
  "persistent-confirm": {
    name: "persistent-confirm",
    queues: 1,
    fanout: false,
    durable: true,
    persistent: true,
    confirm: true,
    noAck: false,
  },
  transient: {
    name: "transient",
    queues: 1,
    fanout: false,
    durable: false,
    persistent: false,
    confirm: false,
    noAck: true,
  },
  fanout10: {
    name: "fanout10",
    queues: 10,
    fanout: true,
    durable: false,
    persistent: false,
    confirm: false,
    noAck: true,
  },
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function admin(target: Target): Promise<{ connection: ChannelModel; channel: Channel }> {
  const connection = await connect(target.url, { timeout: 5000 });
  connection.on("error", () => {}); // a broker closing it shows in the next call
  const channel = await connection.createChannel();
  channel.on("error", () => {});
  return { connection, channel };
}

/** Declares the queues (and exchange) of a workload; returns a teardown that reports errors. */
async function declare(
  channel: Channel,
  spec: Pick<ThroughputSpec, "queues" | "fanout" | "durable">,
  prefix: string,
): Promise<{ exchange: string; routingKey: string; queues: string[] }> {
  const queues = Array.from({ length: spec.queues }, (_, i) => `${prefix}-q${i}`);
  const exchange = spec.fanout ? `${prefix}-x` : "";
  if (spec.fanout) await channel.assertExchange(exchange, "fanout", { durable: spec.durable });
  for (const queue of queues) {
    await channel.assertQueue(queue, { durable: spec.durable, autoDelete: false });
    if (spec.fanout) await channel.bindQueue(queue, exchange, "");
  }
  return { exchange, routingKey: spec.fanout ? "" : queues[0]!, queues };
}

async function teardown(
  connection: ChannelModel,
  channel: Channel,
  topology: { exchange: string; queues: string[] },
): Promise<string | undefined> {
  try {
    for (const queue of topology.queues) await withTimeout(channel.deleteQueue(queue), 120_000);
    if (topology.exchange !== "") await channel.deleteExchange(topology.exchange);
    await connection.close();
    return undefined;
  } catch (error) {
    return String(error);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function publisherJobs(
  target: Target,
  settings: Settings,
  topology: { exchange: string; routingKey: string },
  options: Pick<PublisherJob, "confirm" | "persistent" | "rate" | "stampDueTime"> & {
    count: number;
    maxMessages: number;
  },
): PublisherJob[] {
  return Array.from({ length: options.count }, (_, i) => ({
    role: "publisher" as const,
    url: target.url,
    exchange: topology.exchange,
    routingKey: topology.routingKey,
    confirm: options.confirm,
    window: settings.window,
    persistent: options.persistent,
    bodyBytes: settings.bodyBytes,
    // Split a count bound so the publishers together send exactly maxMessages.
    maxMessages:
      Math.floor(options.maxMessages / options.count) +
      (i < options.maxMessages % options.count ? 1 : 0),
    rate: options.rate === null ? null : options.rate / options.count,
    stampDueTime: options.stampDueTime,
  }));
}

/** Spreads the queues over `processes` consumer processes, round robin. */
function consumerJobs(
  target: Target,
  queues: string[],
  processes: number,
  options: Pick<ConsumerJob, "noAck" | "prefetch" | "latency">,
): ConsumerJob[] {
  const count = Math.min(processes, queues.length);
  return Array.from({ length: count }, (_, i) => ({
    role: "consumer" as const,
    url: target.url,
    queues: queues.filter((_, q) => q % count === i),
    ...options,
  }));
}

function window(before: Counts, after: Counts): Counts {
  return {
    count: after.count - before.count,
    confirmed: after.confirmed - before.confirmed,
    nacked: after.nacked - before.nacked,
  };
}

/**
 * Polls the consumers until they have `expected` deliveries or `seconds` pass; returns what
 * they got, when the last count rose, and how long the drain took.
 */
async function drainConsumers(group: ClientGroup, expected: number, seconds: number) {
  const start = performance.now();
  let delivered = (await group.mark("consumer")).count;
  let at = performance.now();
  while (delivered < expected && performance.now() - start < seconds * 1000) {
    await sleep(50);
    const now = (await group.mark("consumer")).count;
    if (now > delivered) at = performance.now();
    delivered = now;
  }
  return { delivered, at, seconds: (at - start) / 1000 };
}

function percent(cpuS: number | undefined, seconds: number): number | undefined {
  return cpuS === undefined ? undefined : round((cpuS / seconds) * 100, 1);
}

function delta(start: number | undefined, end: number | undefined): number | undefined {
  return start === undefined || end === undefined ? undefined : round(end - start, 2);
}

/** (a), (b), (c): delivered messages/s with publishers and consumers running flat out. */
export async function throughput(
  target: Target,
  spec: ThroughputSpec,
  settings: Settings,
  prefix: string,
): Promise<Record<string, unknown>> {
  const { connection, channel } = await admin(target);
  const topology = await declare(channel, spec, prefix);
  const consumerOptions = { noAck: spec.noAck, prefetch: settings.prefetch, latency: false };
  const consumers =
    spec.queues === 1
      ? Array.from({ length: settings.queueConsumers }, () =>
          consumerJobs(target, topology.queues, 1, consumerOptions),
        ).flat()
      : consumerJobs(target, topology.queues, settings.consumerProcesses, consumerOptions);
  const jobs: ClientJob[] = [
    ...consumers,
    ...publisherJobs(target, settings, topology, {
      count: settings.publishers,
      confirm: spec.confirm,
      persistent: spec.persistent,
      rate: null,
      stampDueTime: false,
      maxMessages: settings.maxMessages,
    }),
  ];
  const timeoutMs = (settings.warmupSeconds + settings.seconds) * 1000 + 120_000;
  const group = await ClientGroup.start(jobs, timeoutMs);
  try {
    const loadBefore = loadavg()[0]!;
    const tStart = performance.now();
    group.start("publisher");
    await sleep(settings.warmupSeconds * 1000);
    const brokerCpu0 = cpuSeconds(target.pid);
    const publisherCpu0 = group.cpuSeconds("publisher");
    const consumerCpu0 = group.cpuSeconds("consumer");
    const published0 = await group.mark("publisher");
    const delivered0 = await group.mark("consumer");
    const t0 = performance.now();
    await sleep(settings.seconds * 1000);
    const published1 = await group.mark("publisher");
    const delivered1 = await group.mark("consumer");
    const seconds = (performance.now() - t0) / 1000;
    const brokerCpu = delta(brokerCpu0, cpuSeconds(target.pid));
    const publisherCpu = delta(publisherCpu0, group.cpuSeconds("publisher"));
    const consumerCpu = delta(consumerCpu0, group.cpuSeconds("consumer"));
    const rss = memory(target.pid);
    const publishedTotal = sumCounts(
      (await group.stop("publisher")).map(({ result }) => result),
    ).count;
    const drain = await drainConsumers(group, publishedTotal * spec.queues, settings.drainSeconds);
    await group.stop("consumer");
    const published = window(published0, published1);
    const delivered = window(delivered0, delivered1).count;
    return {
      delivered_per_s: Math.round(delivered / seconds),
      published_per_s: Math.round(published.count / seconds),
      ...(spec.confirm ? { confirmed_per_s: Math.round(published.confirmed / seconds) } : {}),
      nacked: published.nacked,
      delivered,
      published: published.count,
      backlog_growth: published.count * spec.queues - delivered,
      duration_s: round(seconds),
      // From the first publish to the last delivery of everything published (warm-up and
      // window included): meaningful even for a broker that holds deliveries back while
      // publishers run.
      published_total: publishedTotal,
      delivered_total: drain.delivered,
      drained: drain.delivered >= publishedTotal * spec.queues,
      drain_s: round(drain.seconds),
      end_to_end_per_s: Math.round(drain.delivered / ((drain.at - tStart) / 1000)),
      broker_cpu_s: brokerCpu,
      broker_cpu_percent: percent(brokerCpu, seconds),
      // Near 100 × processes: the clients, not the broker, set the pace.
      publisher_cpu_percent: percent(publisherCpu, seconds),
      publisher_processes: settings.publishers,
      consumer_cpu_percent: percent(consumerCpu, seconds),
      consumer_processes: consumers.length,
      broker_rss_bytes: rss?.rss_bytes,
      loadavg_1m_before: loadBefore,
      loadavg_1m_after: loadavg()[0],
      teardown_error: await teardown(connection, channel, topology),
    };
  } finally {
    group.close();
    await connection.close().catch(() => {});
  }
}

export interface LatencySpec {
  name: string;
  durable: boolean;
  persistent: boolean;
  confirm: boolean;
  noAck: boolean;
}

/** (d) with the settings of (a) and of (b). */
export const latencySpecs: Record<string, LatencySpec> = {
  "latency-persistent": {
    name: "latency-persistent",
    durable: true,
    persistent: true,
    confirm: true,
    noAck: false,
  },
  "latency-transient": {
    name: "latency-transient",
    durable: false,
    persistent: false,
    confirm: false,
    noAck: true,
  },
};

/**
 * (d) due time → delivery at a fixed publish rate, one publisher and one consumer process. The
 * due time (not the send time) is stamped, so a publisher held back by flow control or a full
 * confirm window shows as latency (no coordinated omission).
 */
export async function latency(
  target: Target,
  spec: LatencySpec,
  settings: Settings,
  prefix: string,
): Promise<Record<string, unknown>> {
  const { connection, channel } = await admin(target);
  const topology = await declare(
    channel,
    { queues: 1, fanout: false, durable: spec.durable },
    prefix,
  );
  const total = Math.ceil(settings.rate * (settings.warmupSeconds + settings.seconds));
  const jobs: ClientJob[] = [
    ...consumerJobs(target, topology.queues, 1, {
      noAck: spec.noAck,
      prefetch: settings.prefetch,
      latency: true,
    }),
    ...publisherJobs(target, settings, topology, {
      count: 1,
      confirm: spec.confirm,
      persistent: spec.persistent,
      rate: settings.rate,
      stampDueTime: true,
      maxMessages: total,
    }),
  ];
  const group = await ClientGroup.start(
    jobs,
    (settings.warmupSeconds + settings.seconds) * 1000 + 120_000,
  );
  try {
    const loadBefore = loadavg()[0]!;
    group.start("publisher");
    await sleep(settings.warmupSeconds * 1000);
    await group.mark("consumer", true);
    const published0 = await group.mark("publisher");
    const brokerCpu0 = cpuSeconds(target.pid);
    const t0 = performance.now();
    await sleep(settings.seconds * 1000);
    const published1 = await group.mark("publisher");
    const seconds = (performance.now() - t0) / 1000;
    const brokerCpu = delta(brokerCpu0, cpuSeconds(target.pid));
    const [publisher] = await group.stop("publisher");
    // Wait (bounded) for the messages still on their way, so the tail counts.
    const drainDeadline = Date.now() + 10_000;
    let delivered = (await group.mark("consumer")).count;
    while (delivered < publisher!.result.count && Date.now() < drainDeadline) {
      await sleep(50);
      delivered = (await group.mark("consumer")).count;
    }
    const [consumer] = await group.stop("consumer");
    return {
      rate: settings.rate,
      published_per_s: Math.round((published1.count - published0.count) / seconds),
      published: publisher!.result.count,
      delivered: consumer!.result.count,
      lost: publisher!.result.count - consumer!.result.count,
      ...(consumer!.result.latency as Record<string, number>),
      duration_s: round(seconds),
      broker_cpu_s: brokerCpu,
      broker_cpu_percent: percent(brokerCpu, seconds),
      loadavg_1m_before: loadBefore,
      loadavg_1m_after: loadavg()[0],
      teardown_error: await teardown(connection, channel, topology),
    };
  } finally {
    group.close();
    await connection.close().catch(() => {});
  }
}

function diskBytes(directory: string): number | undefined {
  try {
    return Number(execFileSync("du", ["-sb", directory], { encoding: "utf8" }).split("\t")[0]);
  } catch {
    return undefined;
  }
}

/**
 * (e) broker memory with a backlog: `settings.backlog` persistent 100 B messages published with
 * confirms to a durable queue that has no consumer, then VmRSS of the broker process, read
 * after a settle pause (a broker may page messages out shortly after they arrive).
 */
export async function backlog(
  target: Target,
  settings: Settings,
  prefix: string,
  progress: (message: string) => void,
): Promise<Record<string, unknown>> {
  const { connection, channel } = await admin(target);
  const topology = await declare(channel, { queues: 1, fanout: false, durable: true }, prefix);
  const before = memory(target.pid);
  const diskBefore = diskBytes(target.dataDir);
  const jobs = publisherJobs(target, settings, topology, {
    count: settings.publishers,
    confirm: true,
    persistent: true,
    rate: null,
    stampDueTime: false,
    maxMessages: settings.backlog,
  });
  const group = await ClientGroup.start(jobs, settings.backlogTimeoutS * 1000 + 60_000);
  try {
    const loadBefore = loadavg()[0]!;
    const brokerCpu0 = cpuSeconds(target.pid);
    const t0 = performance.now();
    group.start("publisher");
    await group.publishersDone((counts) => {
      const elapsed = (performance.now() - t0) / 1000;
      progress(
        `${target.name} backlog: ${counts.confirmed} of ${settings.backlog} confirmed (${Math.round(counts.confirmed / elapsed)}/s)`,
      );
    }, 10_000);
    const seconds = (performance.now() - t0) / 1000;
    const brokerCpu = delta(brokerCpu0, cpuSeconds(target.pid));
    const results = await group.stop("publisher");
    const confirmed = results.reduce((sum, { result }) => sum + result.confirmed, 0);
    const rssAtEnd = memory(target.pid);
    await sleep(settings.quick ? 1000 : 5000);
    const after = memory(target.pid);
    const depth = await channel.checkQueue(topology.queues[0]!);
    const diskAfter = diskBytes(target.dataDir);
    return {
      messages: settings.backlog,
      confirmed,
      queue_messages: depth.messageCount,
      publish_s: round(seconds),
      confirmed_per_s: Math.round(confirmed / seconds),
      rss_bytes: after?.rss_bytes,
      rss_at_last_confirm_bytes: rssAtEnd?.rss_bytes,
      rss_before_bytes: before?.rss_bytes,
      hwm_bytes: after?.hwm_bytes,
      rss_bytes_per_message:
        after && before
          ? round((after.rss_bytes - before.rss_bytes) / settings.backlog, 1)
          : undefined,
      disk_growth_bytes:
        diskAfter !== undefined && diskBefore !== undefined ? diskAfter - diskBefore : undefined,
      broker_cpu_s: brokerCpu,
      loadavg_1m_before: loadBefore,
      loadavg_1m_after: loadavg()[0],
      teardown_error: await teardown(connection, channel, topology),
    };
  } finally {
    group.close();
    await connection.close().catch(() => {});
  }
}
