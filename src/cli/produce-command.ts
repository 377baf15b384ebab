/**
 * `wharf produce <topic>`: one record per input line, from stdin or `--file`.
 *
 * Lines are split on `\n` bytes and sent as they are (no decoding, no `\r` stripping), so a
 * file consumed back with `wharf consume` is byte-identical. Records are sent in batches with
 * one batch in flight while the next is read; with `--acks -1` (the default) the producer is
 * idempotent, so a retried batch is not appended twice. A progress line is drawn on stderr
 * when stderr is a terminal and the input is larger than `progressBytesMin`; it never
 * appears in piped or redirected output.
 */
import { createReadStream, fstatSync, statSync } from "node:fs";
import type { Readable } from "node:stream";
import type { CompressionAlgorithmValue, MessageToProduce, Producer } from "@platformatic/kafka";
import { type Command, Option } from "commander";
import {
  addConnectionOptions,
  CliError,
  type ConnectionFlags,
  clientAction,
  clientOptions,
  collectKeyValue,
  loadKafka,
  nonNegativeInteger,
  toJson,
  writeLine,
} from "./kafka-client.ts";

/** Records per produce request: large enough to amortise a round trip. */
const batchRecordsMax = 5_000;
/**
 * Value and key bytes per produce request. Kafka's default `max.message.bytes` is 1 MiB per
 * batch; staying at half of it keeps the CLI usable against brokers with that default.
 */
const batchBytesMax = 512 * 1024;
/** Input smaller than this finishes too fast for a progress line to help. */
export const progressBytesMin = 1024 * 1024;
/** Redraws of the progress line are at least this far apart. */
const progressIntervalMs = 100;

type Message = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

interface ProduceFlags extends ConnectionFlags {
  file?: string;
  keySeparator?: string;
  partition?: number;
  header?: [string, string][];
  acks: string;
  compression: CompressionAlgorithmValue;
  json?: boolean;
}

export function registerProduceCommand(program: Command): void {
  const command = program
    .command("produce")
    .description(
      "produce one record per line of stdin (or of --file) to a topic; a progress line is " +
        "shown on a terminal for large input",
    )
    .argument("<topic>", "topic name")
    .option("-f, --file <path>", "read lines from this file instead of stdin")
    .option(
      "--key-separator <text>",
      "split each line at the first occurrence into key and value (lines without it get no key)",
    )
    .option(
      "--partition <n>",
      "send every record to this partition (default: spread)",
      nonNegativeInteger("--partition"),
    )
    .option("--header <key=value>", "add this header to every record (repeatable)", collectKeyValue)
    .addOption(
      new Option("--acks <n>", "acknowledgement: -1 (all, idempotent), 1 (leader) or 0 (none)")
        .choices(["-1", "0", "1", "all"])
        .default("-1"),
    )
    .addOption(
      new Option("--compression <codec>", "compress batches (zstd needs Node 22.15 or newer)")
        .choices(["none", "gzip", "snappy", "lz4", "zstd"])
        .default("none"),
    )
    .option("--json", "print a JSON summary on stdout when done");
  addConnectionOptions(command).action(clientAction(produce));
}

async function produce(topic: string, flags: ProduceFlags): Promise<void> {
  if (flags.keySeparator === "") throw new CliError("--key-separator is empty");
  const input = openInput(flags.file);
  const acks = flags.acks === "all" ? -1 : Number(flags.acks);
  const kafka = await loadKafka();
  const producer = new kafka.Producer({
    ...clientOptions(flags, "producer"),
    autocreateTopics: true,
    idempotent: acks === -1,
    // A new producer asks for a fresh id with -1/-1, as Kafka's own clients do; this client
    // would otherwise send 0/0, the id and epoch of some other producer.
    producerId: -1n,
    producerEpoch: -1,
    acks,
    compression: flags.compression,
  });
  const progress = ProgressLine.create(input.size);
  const headers = new Map<Buffer, Buffer>(
    (flags.header ?? []).map(([key, value]) => [Buffer.from(key), Buffer.from(value)]),
  );
  const separator = flags.keySeparator === undefined ? undefined : Buffer.from(flags.keySeparator);
  const sender = new BatchSender(producer);
  let bytesRead = 0;
  let records = 0;
  let pending: Message[] = [];
  let pendingBytes = 0;
  const toMessage = (line: Buffer): Message => {
    const message: Message = { topic, value: line };
    if (separator) {
      const at = line.indexOf(separator);
      if (at >= 0) {
        message.key = line.subarray(0, at);
        message.value = line.subarray(at + separator.length);
      }
    }
    if (flags.partition !== undefined) message.partition = flags.partition;
    if (headers.size > 0) message.headers = headers;
    return message;
  };
  const add = async (line: Buffer) => {
    pending.push(toMessage(line));
    pendingBytes += line.length;
    records += 1;
    if (pending.length >= batchRecordsMax || pendingBytes >= batchBytesMax) {
      await sender.send(pending);
      pending = [];
      pendingBytes = 0;
    }
  };
  try {
    await checkTopic(producer, topic, flags.partition);
    const splitter = new LineSplitter();
    for await (const chunk of input.stream) {
      const buffer = chunk as Buffer;
      bytesRead += buffer.length;
      for (const line of splitter.push(buffer)) await add(line);
      progress?.update(bytesRead, records);
    }
    const last = splitter.end();
    if (last) await add(last);
    if (pending.length > 0) await sender.send(pending);
    await sender.drain();
  } finally {
    progress?.finish();
    input.stream.destroy();
    await producer.close();
  }
  if (flags.json) {
    writeLine(toJson({ topic, records, bytes: bytesRead }));
  } else if (process.stderr.isTTY) {
    process.stderr.write(`produced ${records} records (${formatBytes(bytesRead)}) to '${topic}'\n`);
  }
}

/** Fails early, with a clear line, on an unknown topic (when not auto-created) or partition. */
async function checkTopic(producer: Producer, topic: string, partition: number | undefined) {
  const metadata = await producer.metadata({ topics: [topic], autocreateTopics: true });
  const count = metadata.topics.get(topic)?.partitionsCount;
  if (count === undefined) throw new CliError(`topic '${topic}' does not exist`);
  if (partition !== undefined && partition >= count) {
    throw new CliError(`topic '${topic}' has no partition ${partition} (it has ${count})`);
  }
}

function openInput(file: string | undefined): { stream: Readable; size: number | undefined } {
  if (file === undefined) {
    const stat = fstatSync(0);
    return { stream: process.stdin, size: stat.isFile() ? stat.size : undefined };
  }
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new CliError(`'${file}' is not a file`);
    size = stat.size;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot read '${file}': ${(error as NodeJS.ErrnoException).code}`);
  }
  return { stream: createReadStream(file), size };
}

/**
 * Sends batches with at most one produce request in flight, so that records of a partition
 * are appended in input order while the next batch is read and encoded.
 */
class BatchSender {
  private inflight: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(private readonly producer: Producer) {}

  async send(messages: Message[]): Promise<void> {
    await this.drain();
    this.inflight = this.producer.send({ messages }).then(
      () => undefined,
      (error: unknown) => {
        this.failure = error;
      },
    );
  }

  async drain(): Promise<void> {
    await this.inflight;
    if (this.failure !== undefined) throw this.failure;
  }
}

/** Splits a byte stream into lines at `\n`; the newline is not part of the line. */
export class LineSplitter {
  /** Pieces of a line that has not ended yet (a long line can span many chunks). */
  private carry: Buffer[] = [];

  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    let newline = chunk.indexOf(0x0a);
    while (newline >= 0) {
      const piece = chunk.subarray(start, newline);
      if (this.carry.length > 0) {
        lines.push(Buffer.concat([...this.carry, piece]));
        this.carry = [];
      } else {
        lines.push(piece);
      }
      start = newline + 1;
      newline = chunk.indexOf(0x0a, start);
    }
    // Copy the tail: a subarray would keep the whole chunk alive until the next newline.
    if (start < chunk.length) this.carry.push(Buffer.from(chunk.subarray(start)));
    return lines;
  }

  /** The last line when the input does not end with a newline. */
  end(): Buffer | undefined {
    if (this.carry.length === 0) return undefined;
    const last = Buffer.concat(this.carry);
    this.carry = [];
    return last;
  }
}

/** A one-line progress display on a terminal's stderr, redrawn in place with `\r`. */
class ProgressLine {
  private drawnAt = 0;
  private visible = false;

  private constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly total: number | undefined,
  ) {}

  /** A progress line only for a terminal, and only for input that is (or may be) large. */
  static create(total: number | undefined): ProgressLine | undefined {
    if (!process.stderr.isTTY) return undefined;
    if (total !== undefined && total < progressBytesMin) return undefined;
    return new ProgressLine(process.stderr, total);
  }

  update(bytes: number, records: number): void {
    if (this.total === undefined && bytes < progressBytesMin) return;
    const now = Date.now();
    if (now - this.drawnAt < progressIntervalMs) return;
    this.drawnAt = now;
    this.visible = true;
    const counts = `${formatBytes(bytes)}${this.total ? ` / ${formatBytes(this.total)}` : ""}`;
    let bar = "";
    if (this.total) {
      const fraction = Math.min(1, bytes / this.total);
      const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - 50));
      const filled = Math.round(fraction * width);
      bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  `;
    }
    this.stream.write(`\r${bar}${counts}  ${records} records\x1b[K`);
  }

  finish(): void {
    if (this.visible) this.stream.write("\r\x1b[K");
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
