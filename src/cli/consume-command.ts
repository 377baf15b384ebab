/**
 * `wharf consume <topic>`: prints records, one value per line (or NDJSON with `--json`).
 *
 * Two ways to read:
 * - Without `--group`, a plain fetch loop over the topic's partitions (no group, nothing
 *   committed), like `kcat -C`. It starts at the log end unless told otherwise.
 * - With `--group`, a member of a consumer group (JoinGroup/SyncGroup, heartbeats): it reads
 *   the partitions it is assigned from the committed offsets (or, with none, from the start
 *   with `--from-beginning`, else from the end), and commits what it printed every few
 *   seconds and when it stops, so `wharf groups describe` shows the lag left.
 *
 * It stops after `--max-messages` records, after `--timeout-ms` without a record, on SIGINT or
 * SIGTERM, or when stdout is closed (`| head`); each ends with exit code 0. Values are written
 * as raw bytes followed by `\n`, so what `wharf produce` sent comes back byte-identical.
 */
import type { Consumer, Message } from "@platformatic/kafka";
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  addConnectionOptions,
  CliError,
  type ConnectionFlags,
  clientAction,
  clientOptions,
  describeError,
  hasProtocolError,
  loadKafka,
  nonNegativeInteger,
  positiveInteger,
  toJson,
} from "./kafka-client.ts";

/** Longest a fetch waits at the broker for data; bounds how late a stop is noticed. */
const fetchWaitMs = 500;
/** Bytes one fetch may return per partition and in total (Kafka's consumer defaults). */
const partitionFetchBytesMax = 1024 * 1024;
const fetchBytesMax = 50 * 1024 * 1024;
/** Output is written in chunks of about this size (fewer syscalls for small records). */
const outputFlushBytes = 256 * 1024;
/** A group member commits what it has printed this often, and again when it stops. */
const commitIntervalMs = 5_000;
/** Attribute bit 5 of a record batch marks a control batch (transaction markers). */
const controlBatchBit = 0x20;
/** Attribute bit 3: the batch carries LogAppendTime in maxTimestamp for every record. */
const logAppendTimeBit = 0x08;

interface ConsumeFlags extends ConnectionFlags {
  group?: string;
  fromBeginning?: boolean;
  offset?: bigint;
  timestamp?: bigint;
  partition?: number;
  maxMessages?: number;
  timeoutMs?: number;
  printKey?: boolean;
  keySeparator: string;
  json?: boolean;
}

export function registerConsumeCommand(program: Command): void {
  const command = program
    .command("consume")
    .description(
      "print records of a topic, one value per line; alone or as a member of a consumer group",
    )
    .argument("<topic>", "topic name")
    .option("--group <id>", "join this consumer group and commit the offsets printed")
    .addOption(
      new Option(
        "--from-beginning",
        "start at the log start (with --group: when no offset is committed)",
      ).conflicts(["offset", "timestamp"]),
    )
    .addOption(
      new Option("--offset <n>", "start at this offset (in every partition read)")
        .argParser(parseOffset)
        .conflicts(["timestamp"]),
    )
    .addOption(
      new Option(
        "--timestamp <t>",
        "start at the first record at or after T (ms since epoch or ISO 8601)",
      ).argParser(parseTimestamp),
    )
    .addOption(
      new Option("--partition <n>", "read only this partition (not with --group)")
        .argParser(nonNegativeInteger("--partition"))
        .conflicts(["group"]),
    )
    .option("--max-messages <n>", "exit after N records", positiveInteger("--max-messages"))
    .option(
      "--timeout-ms <ms>",
      "exit after this long without a record",
      positiveInteger("--timeout-ms"),
    )
    .option("--print-key", "print the key before the value")
    .option("--key-separator <text>", "between key and value with --print-key", "\t")
    .option(
      "--json",
      "print one JSON object per record (topic, partition, offset, timestamp, key, value, headers)",
    );
  addConnectionOptions(command).action(clientAction(consume));
}

function parseOffset(value: string): bigint {
  if (!/^\d{1,19}$/.test(value))
    throw new InvalidArgumentError("--offset must be a non-negative integer");
  return BigInt(value);
}

function parseTimestamp(value: string): bigint {
  if (/^\d{1,16}$/.test(value)) return BigInt(value);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed) || parsed < 0) {
    throw new InvalidArgumentError(
      "--timestamp must be milliseconds since the epoch or an ISO 8601 date",
    );
  }
  return BigInt(parsed);
}

async function consume(topic: string, flags: ConsumeFlags): Promise<void> {
  const sink = new RecordSink(flags);
  const stopper = new Stopper();
  const kafka = await loadKafka();
  const consumer = new kafka.Consumer({
    ...clientOptions(flags, "consumer"),
    // Without --group no group request is ever sent; the id only satisfies the client.
    groupId: flags.group ?? `wharf-cli-${process.pid}`,
    autocommit: false,
    maxWaitTime: fetchWaitMs,
  });
  const onSignal = () => stopper.stop();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  // EPIPE (the reader went away, as with `| head`) is a normal end; other errors are reported.
  let outputError: NodeJS.ErrnoException | undefined;
  const onOutputError = (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") outputError = error;
    sink.closed = true;
    stopper.stop();
  };
  process.stdout.on("error", onOutputError);
  try {
    const partitions = await topicPartitions(consumer, topic, flags.partition);
    if (flags.group === undefined) {
      await consumeWithoutGroup(consumer, topic, partitions, flags, sink, stopper);
    } else {
      await consumeInGroup(consumer, topic, partitions, flags, sink, stopper);
    }
  } finally {
    sink.flush();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await consumer.close(true);
    process.stdout.off("error", onOutputError);
  }
  if (outputError) throw new CliError(`cannot write to stdout: ${outputError.message}`);
  if (process.stderr.isTTY) process.stderr.write(`processed ${sink.count} records\n`);
}

interface TopicPartitions {
  topicId: string;
  /** The partitions to read, each with its leader's node id. */
  partitions: { partition: number; leader: number }[];
}

async function topicPartitions(
  consumer: Consumer,
  topic: string,
  only: number | undefined,
): Promise<TopicPartitions> {
  let metadata: Awaited<ReturnType<Consumer["metadata"]>>;
  try {
    metadata = await consumer.metadata({ topics: [topic], autocreateTopics: false });
  } catch (error) {
    if (hasProtocolError(error, "UNKNOWN_TOPIC_OR_PARTITION")) {
      throw new CliError(`topic '${topic}' does not exist`);
    }
    throw error;
  }
  const described = metadata.topics.get(topic);
  if (!described) throw new CliError(`topic '${topic}' does not exist`);
  if (only !== undefined && only >= described.partitionsCount) {
    throw new CliError(
      `topic '${topic}' has no partition ${only} (it has ${described.partitionsCount})`,
    );
  }
  const partitions = described.partitions
    .map((partition, index) => ({ partition: index, leader: partition.leader }))
    .filter(({ partition }) => only === undefined || partition === only);
  return { topicId: described.id, partitions };
}

/** Where reading starts in each partition, from --from-beginning, --offset or --timestamp. */
async function startOffsets(
  consumer: Consumer,
  topic: string,
  partitions: number[],
  flags: ConsumeFlags,
): Promise<Map<number, bigint>> {
  const listAt = async (timestamp: bigint) => {
    const listed = await consumer.listOffsetsWithTimestamps({
      topics: [topic],
      partitions: { [topic]: partitions },
      timestamp,
    });
    const offsets = new Map<number, bigint>();
    for (const [partition, { offset }] of listed.get(topic) ?? []) offsets.set(partition, offset);
    return offsets;
  };
  const earliest = -2n;
  const latest = -1n;
  if (flags.fromBeginning) return listAt(earliest);
  const ends = await listAt(latest);
  if (flags.timestamp !== undefined) {
    const found = await listAt(flags.timestamp);
    // No record at or after T: start at the end, as Kafka's consumers do.
    for (const [partition, offset] of found) {
      if (offset < 0n) found.set(partition, ends.get(partition) ?? 0n);
    }
    return found;
  }
  if (flags.offset !== undefined) {
    const starts = await listAt(earliest);
    const offsets = new Map<number, bigint>();
    for (const partition of partitions) {
      const start = starts.get(partition) ?? 0n;
      const end = ends.get(partition) ?? 0n;
      if (flags.offset < start || flags.offset > end) {
        throw new CliError(
          `offset ${flags.offset} is out of range for partition ${partition} of '${topic}' ` +
            `(log start ${start}, log end ${end})`,
        );
      }
      offsets.set(partition, flags.offset);
    }
    return offsets;
  }
  return ends;
}

async function consumeWithoutGroup(
  consumer: Consumer,
  topic: string,
  described: TopicPartitions,
  flags: ConsumeFlags,
  sink: RecordSink,
  stopper: Stopper,
): Promise<void> {
  const indexes = described.partitions.map(({ partition }) => partition);
  const next = await startOffsets(consumer, topic, indexes, flags);
  const byLeader = new Map<number, number[]>();
  for (const { partition, leader } of described.partitions) {
    byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition]);
  }
  let lastRecordAt = Date.now();
  while (!stopper.stopped) {
    const responses = await Promise.all(
      [...byLeader].map(([node, partitions]) =>
        consumer.fetch({
          node,
          maxWaitTime: fetchWaitMs,
          minBytes: 1,
          maxBytes: fetchBytesMax,
          topics: [
            {
              topicId: described.topicId,
              partitions: partitions.map((partition) => ({
                partition,
                fetchOffset: next.get(partition)!,
                partitionMaxBytes: partitionFetchBytesMax,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
              })),
            },
          ],
        }),
      ),
    );
    const before = sink.count;
    for (const response of responses) {
      for (const topicResponse of response.responses) {
        for (const partition of topicResponse.partitions) {
          if (stopper.stopped) break;
          const offset = next.get(partition.partitionIndex)!;
          const after = writeBatches(
            topic,
            partition.partitionIndex,
            offset,
            partition.records ?? [],
            sink,
          );
          next.set(partition.partitionIndex, after);
          if (sink.full) stopper.stop();
        }
      }
    }
    sink.flush();
    const now = Date.now();
    if (sink.count > before) lastRecordAt = now;
    if (flags.timeoutMs !== undefined && now - lastRecordAt >= flags.timeoutMs) stopper.stop();
  }
}

type FetchedBatch = NonNullable<
  Awaited<ReturnType<Consumer["fetch"]>>["responses"][number]["partitions"][number]["records"]
>[number];

/** Writes the records of fetched batches from `from` on; returns the next offset to fetch. */
function writeBatches(
  topic: string,
  partition: number,
  from: bigint,
  batches: FetchedBatch[],
  sink: RecordSink,
): bigint {
  let next = from;
  for (const batch of batches) {
    if ((batch.attributes & controlBatchBit) === 0) {
      for (const record of batch.records) {
        const offset = batch.firstOffset + BigInt(record.offsetDelta);
        if (offset < next) continue;
        const timestamp =
          (batch.attributes & logAppendTimeBit) !== 0
            ? batch.maxTimestamp
            : batch.firstTimestamp + record.timestampDelta;
        sink.write({
          topic,
          partition,
          offset,
          timestamp,
          key: record.key,
          value: record.value,
          headers: record.headers,
        });
        next = offset + 1n;
        if (sink.full) return next;
      }
    }
    // Skip what the batch held even if no record was printed (control batches, compaction gaps).
    const afterBatch = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
    if (afterBatch > next) next = afterBatch;
  }
  return next;
}

async function consumeInGroup(
  consumer: Consumer,
  topic: string,
  described: TopicPartitions,
  flags: ConsumeFlags,
  sink: RecordSink,
  stopper: Stopper,
): Promise<void> {
  const seek = flags.offset !== undefined || flags.timestamp !== undefined;
  const indexes = described.partitions.map(({ partition }) => partition);
  const offsets = seek
    ? [...(await startOffsets(consumer, topic, indexes, flags))].map(([partition, offset]) => ({
        topic,
        partition,
        offset,
      }))
    : undefined;
  const stream = await consumer.consume({
    topics: [topic],
    mode: seek ? "manual" : "committed",
    fallbackMode: flags.fromBeginning ? "earliest" : "latest",
    offsets,
    autocommit: false,
    maxWaitTime: fetchWaitMs,
  });
  const toCommit = new Map<number, bigint>();
  const committer = new Committer(consumer, topic, toCommit);
  const commitTimer = setInterval(() => committer.commitInBackground(), commitIntervalMs);
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdleTimer = () => {
    if (flags.timeoutMs === undefined) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => stopper.stop(), flags.timeoutMs);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      stopper.onStop(resolve);
      stream.on("error", reject);
      stream.on("data", (message: Message) => {
        if (stopper.stopped) return;
        sink.write(message);
        toCommit.set(message.partition, message.offset + 1n);
        armIdleTimer();
        if (sink.full) stopper.stop();
      });
      armIdleTimer();
    });
  } finally {
    clearInterval(commitTimer);
    clearTimeout(idleTimer);
    stream.pause();
    sink.flush();
  }
  await committer.commit();
  await stream.close();
}

/** Commits the next offset of each partition printed, one commit at a time. */
class Committer {
  private committed = new Map<number, bigint>();
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly consumer: Consumer,
    private readonly topic: string,
    private readonly toCommit: Map<number, bigint>,
  ) {}

  /** A periodic commit; a failure is reported and retried with the next one. */
  commitInBackground(): void {
    this.commit().catch((error: unknown) => {
      process.stderr.write(`wharf: commit failed, will retry: ${describeError(error)}\n`);
    });
  }

  commit(): Promise<void> {
    this.running = this.running.then(async () => {
      const offsets = [...this.toCommit]
        .filter(([partition, offset]) => this.committed.get(partition) !== offset)
        .map(([partition, offset]) => ({ topic: this.topic, partition, offset, leaderEpoch: -1 }));
      if (offsets.length === 0) return;
      await this.consumer.commit({ offsets });
      for (const { partition, offset } of offsets) this.committed.set(partition, offset);
    });
    const result = this.running;
    this.running = result.catch(() => undefined);
    return result;
  }
}

/** Resolves every waiter once, on the first stop request. */
class Stopper {
  stopped = false;
  private waiters: (() => void)[] = [];

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  onStop(waiter: () => void): void {
    if (this.stopped) waiter();
    else this.waiters.push(waiter);
  }
}

interface OutputRecord {
  topic: string;
  partition: number;
  offset: bigint;
  timestamp: bigint;
  key?: Buffer | null;
  value?: Buffer | null;
  headers: Iterable<[Buffer | null, Buffer | null]>;
}

/** Formats records to stdout with buffering, and counts them against --max-messages. */
class RecordSink {
  count = 0;
  closed = false;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private readonly newline = Buffer.from("\n");
  private readonly separator: Buffer;

  constructor(private readonly flags: ConsumeFlags) {
    this.separator = Buffer.from(flags.keySeparator);
  }

  get full(): boolean {
    return (
      this.closed || (this.flags.maxMessages !== undefined && this.count >= this.flags.maxMessages)
    );
  }

  write(record: OutputRecord): void {
    if (this.full) return;
    this.count += 1;
    if (this.flags.json) {
      this.push(Buffer.from(toJson(jsonRecord(record))));
    } else {
      if (this.flags.printKey) {
        if (record.key) this.push(record.key);
        this.push(this.separator);
      }
      if (record.value) this.push(record.value);
    }
    this.push(this.newline);
    if (this.bytes >= outputFlushBytes) this.flush();
  }

  flush(): void {
    if (this.chunks.length === 0) return;
    const data = Buffer.concat(this.chunks, this.bytes);
    this.chunks = [];
    this.bytes = 0;
    if (!this.closed) process.stdout.write(data);
  }

  private push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }
}

function jsonRecord(record: OutputRecord) {
  const text = (buffer: Buffer | null | undefined) => (buffer ? buffer.toString("utf8") : null);
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: text(record.key),
    value: text(record.value),
    headers: [...record.headers].map(([key, value]) => [text(key), text(value)]),
  };
}
