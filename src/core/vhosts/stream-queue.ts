/**
 * Stream queues (`x-queue-type: stream`), as RabbitMQ's streams: the queue IS a WharfMQ stream
 * (a Kafka topic with one partition), so a kafkajs consumer reads what AMQP published and an
 * AMQP consumer reads what Kafka produced. Nothing is removed on ack: every consumer has its
 * own position, chosen with `x-stream-offset` (first | last | next | <offset> | <timestamp> |
 * "<n><Y|M|D|h|m|s>" interval; default next), and retention (`x-max-age`,
 * `x-max-length-bytes`) trims the stream.
 *
 * Each published message is one record:
 *   key     = the routing key (UTF-8)
 *   value   = the body
 *   headers = `x-amqp-exchange` (the exchange it was published to) and `x-amqp-properties`
 *             (the encoded AMQP properties, as received)
 * A record without `x-amqp-properties` (produced by Kafka or XADD) is delivered with its
 * Kafka headers as the AMQP `headers` table (values as UTF-8 strings), exchange "" and the key
 * as routing key.
 *
 * Publishes of one event-loop turn share one RecordBatch and one append (one fsync), as XADD
 * does; each publisher's confirm resolves when its batch is durable.
 *
 * Consumers: one read loop per consumer; a delivery waits for `canTake` (the adapter's
 * prefetch window; RabbitMQ stream consumers must use manual ack), and `ack` only frees that
 * window (`resume`). At the end of the stream the loop parks on `Partition.waitForData`,
 * which an append wakes. Each delivered message carries its `streamOffset`.
 */
import {
  streamQueueAppendBatchBytes,
  streamQueueReadBytes,
  streamQueueWaitMs,
} from "../../config/limits.ts";
import { isWharfError } from "../../errors/index.ts";
import type { Logger } from "../../logging/logger.ts";
import {
  Attribute,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD,
  type DecodedRecord,
  decodeBatchRecords,
  encodeBatch,
  type RecordInput,
  readBatchHeader,
} from "../../storage/record-batch.ts";
import type {
  ConsumerRegistration,
  DeliverySource,
  PropertiesCodec,
  QueueConsumer,
  QueuedMessage,
} from "../queues/queue-types.ts";
import type { FieldValue } from "../routing/types.ts";
import type { Partition } from "../streams/partition.ts";

export const EXCHANGE_HEADER = "x-amqp-exchange";
export const PROPERTIES_HEADER = "x-amqp-properties";

/** Where a new consumer starts (RabbitMQ's `x-stream-offset`). */
export type StreamOffsetSpec =
  | { kind: "first" }
  | { kind: "last" }
  | { kind: "next" }
  | { kind: "offset"; offset: number }
  | { kind: "timestamp"; ms: number };

const INTERVAL_MS: Record<string, number> = {
  Y: 365 * 86_400_000,
  M: 30 * 86_400_000,
  D: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
};

/** Parses an `x-stream-offset` argument; undefined means "next". Null for a bad value. */
export function parseStreamOffset(value: FieldValue, now: number): StreamOffsetSpec | null {
  if (value === undefined || value === null) return { kind: "next" };
  if (value instanceof Date) return { kind: "timestamp", ms: value.getTime() };
  if (typeof value === "bigint")
    return value >= 0n ? { kind: "offset", offset: Number(value) } : null;
  if (typeof value === "number")
    return Number.isInteger(value) && value >= 0 ? { kind: "offset", offset: value } : null;
  const text =
    typeof value === "string"
      ? value
      : value instanceof Uint8Array
        ? Buffer.from(value).toString("utf8")
        : undefined;
  if (text === "first" || text === "last" || text === "next") return { kind: text };
  const interval = text === undefined ? null : /^(\d+)([YMDhms])$/.exec(text);
  if (interval)
    return { kind: "timestamp", ms: now - Number(interval[1]) * INTERVAL_MS[interval[2]!]! };
  return null;
}

/** RabbitMQ's `x-max-age` ("7D", "12h"...) in milliseconds, or null when malformed. */
export function parseMaxAge(value: string): number | null {
  const match = /^(\d+)([YMDhms])$/.exec(value);
  return match ? Number(match[1]) * INTERVAL_MS[match[2]!]! : null;
}

interface PendingAppend {
  record: RecordInput;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface StreamQueueOptions {
  readonly name: string;
  readonly partition: Partition;
  readonly codec: PropertiesCodec | undefined;
  readonly logger: Logger;
  /** The queue became unused (its last consumer left): auto-delete and x-expires. */
  readonly onUnused?: () => void;
}

export class StreamQueue {
  readonly name: string;
  private partition: Partition;
  private pending: PendingAppend[] | null = null;
  private pendingBytes = 0;
  private readonly consumers = new Set<StreamConsumer>();
  private closed = false;
  /** ms since the epoch of the last consume/cancel (x-expires). */
  lastUsedAt = Date.now();

  constructor(private readonly options: StreamQueueOptions) {
    this.name = options.name;
    this.partition = options.partition;
  }

  get topic(): string {
    return this.partition.topic;
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  /** Messages in the stream (RabbitMQ reports a stream's length as its ready count). */
  get messagesReady(): number {
    return Math.max(0, this.partition.highWatermark - this.partition.logStartOffset);
  }

  /**
   * Appends one message; resolves once durable. Publishes of the same turn share a batch.
   */
  append(
    exchange: string,
    routingKey: string,
    propertiesBytes: Buffer,
    body: Buffer,
  ): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`stream queue '${this.name}' is closed`));
    const record: RecordInput = {
      key: Buffer.from(routingKey, "utf8"),
      value: body,
      headers: [
        { key: EXCHANGE_HEADER, value: Buffer.from(exchange, "utf8") },
        { key: PROPERTIES_HEADER, value: propertiesBytes },
      ],
    };
    const bytes = body.length + propertiesBytes.length + routingKey.length + exchange.length + 64;
    return new Promise<void>((resolve, reject) => {
      if (this.pending !== null && this.pendingBytes + bytes > streamQueueAppendBatchBytes) {
        this.flush();
      }
      if (this.pending === null) {
        const batch: PendingAppend[] = [];
        this.pending = batch;
        this.pendingBytes = 0;
        setImmediate(() => {
          if (this.pending === batch) this.flush();
        });
      }
      this.pending.push({ record, resolve, reject });
      this.pendingBytes += bytes;
    });
  }

  private flush(): void {
    const batch = this.pending;
    if (batch === null) return;
    this.pending = null;
    this.pendingBytes = 0;
    let encoded: Buffer;
    try {
      const records = new Array<RecordInput>(batch.length);
      for (let i = 0; i < batch.length; i++) records[i] = batch[i]!.record;
      encoded = encodeBatch(records, { baseTimestamp: Date.now() });
    } catch (error) {
      for (const append of batch) append.reject(error);
      return;
    }
    this.partition.append(encoded).then(
      () => {
        for (const append of batch) append.resolve();
      },
      (error: unknown) => {
        for (const append of batch) append.reject(error);
      },
    );
  }

  /** Where a consumer with this spec starts. */
  async resolveOffset(spec: StreamOffsetSpec): Promise<number> {
    const partition = this.partition;
    const start = partition.logStartOffset;
    const end = partition.highWatermark;
    switch (spec.kind) {
      case "first":
        return start;
      case "next":
        return end;
      case "offset":
        return Math.min(Math.max(spec.offset, start), end);
      case "timestamp": {
        const found = await partition.offsetForTimestamp(spec.ms);
        return found === null ? end : Math.max(found.offset, start);
      }
      case "last": {
        // RabbitMQ: from the start of the last chunk; here a chunk is a record batch.
        if (end <= start) return end;
        const { bytes } = await partition.read(end - 1, BATCH_HEADER_BYTES);
        if (bytes.length < BATCH_HEADER_BYTES) return end - 1;
        return Math.max(readBatchHeader(bytes, 0).baseOffset, start);
      }
    }
  }

  /** Starts a consumer at `spec`. Deliveries begin once the start offset is resolved. */
  consume(consumer: QueueConsumer, spec: StreamOffsetSpec): ConsumerRegistration {
    const reader = new StreamConsumer(this, consumer, this.options);
    this.consumers.add(reader);
    this.lastUsedAt = Date.now();
    this.resolveOffset(spec).then(
      (offset) => reader.start(offset),
      (error: unknown) => {
        this.options.logger.warn({ err: error, queue: this.name }, "stream offset lookup failed");
        reader.start(this.partition.highWatermark);
      },
    );
    return {
      cancel: () => {
        if (!this.consumers.delete(reader)) return;
        reader.stop();
        this.lastUsedAt = Date.now();
        if (this.consumers.size === 0) this.options.onUnused?.();
      },
      resume: () => reader.resume(),
    };
  }

  /** Reads at `offset` (the partition, for consumers). */
  readPartition(): Partition {
    return this.partition;
  }

  /** The properties bytes for records that carry none (produced by Kafka or XADD). */
  foreignProperties(record: DecodedRecord): Buffer {
    const codec = this.options.codec;
    if (codec === undefined) return EMPTY;
    const headers: Record<string, FieldValue> = {};
    for (const header of record.headers)
      headers[header.key] = header.value?.toString("utf8") ?? null;
    return codec.encode(record.headers.length > 0 ? { headers } : {});
  }

  /** Ends every consumer (`reason` tells them why) and stops accepting appends. */
  close(reason: "queue-deleted" | "queue-unavailable"): void {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    for (const reader of this.consumers) {
      reader.stop();
      reader.consumer.cancelled(reason);
    }
    this.consumers.clear();
    this.partition.wakeAll();
  }
}

const EMPTY = Buffer.alloc(0);

/** Settling a stream delivery only frees the consumer's window; the stream keeps the data. */
class StreamDeliverySource implements DeliverySource {
  constructor(readonly name: string) {}
  ack(_id: number): void {}
  reject(_id: number, _requeue: boolean): void {}
}

class StreamConsumer {
  private offset = -1;
  private buffer: DecodedRecord[] = [];
  private index = 0;
  private running = false;
  private stopped = false;
  private nextId = 1;
  private readonly abort = new AbortController();
  private readonly source: StreamDeliverySource;

  constructor(
    private readonly queue: StreamQueue,
    readonly consumer: QueueConsumer,
    private readonly options: StreamQueueOptions,
  ) {
    this.source = new StreamDeliverySource(queue.name);
  }

  start(offset: number): void {
    if (this.stopped) return;
    this.offset = offset;
    this.resume();
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  resume(): void {
    if (this.running || this.stopped || this.offset < 0) return;
    this.running = true;
    this.pump().then(
      () => {
        this.running = false;
      },
      (error: unknown) => {
        this.running = false;
        this.options.logger.warn({ err: error, queue: this.queue.name }, "stream consumer stopped");
        if (!this.stopped) {
          this.stop();
          this.consumer.cancelled("queue-unavailable");
        }
      },
    );
  }

  /** Delivers while the consumer has room; returns when it has none (resume restarts it). */
  private async pump(): Promise<void> {
    while (!this.stopped) {
      if (this.index >= this.buffer.length) {
        await this.fill();
        continue;
      }
      const record = this.buffer[this.index]!;
      const body = record.value ?? EMPTY;
      if (!this.consumer.canTake(body.length)) return;
      this.index++;
      this.offset = record.offset + 1;
      this.consumer.deliver(this.toMessage(record, body));
    }
  }

  private async fill(): Promise<void> {
    this.buffer = [];
    this.index = 0;
    const partition = this.queue.readPartition();
    if (this.offset >= partition.highWatermark) {
      await partition.waitForData(this.offset, streamQueueWaitMs, this.abort.signal);
      return;
    }
    if (this.offset < partition.logStartOffset) this.offset = partition.logStartOffset;
    let bytes: Buffer;
    try {
      ({ bytes } = await partition.read(this.offset, streamQueueReadBytes));
    } catch (error) {
      // Retention moved the start past us between the check and the read: start from it.
      if (isWharfError(error, "WHARF_OFFSET_OUT_OF_RANGE")) {
        this.offset = Math.max(this.offset, partition.logStartOffset);
        return;
      }
      throw error;
    }
    let pos = 0;
    const records: DecodedRecord[] = [];
    while (pos + BATCH_HEADER_BYTES <= bytes.length) {
      const header = readBatchHeader(bytes, pos);
      const size = header.batchLength + BATCH_LOG_OVERHEAD;
      if (pos + size > bytes.length) break;
      const lastOffset = header.baseOffset + header.lastOffsetDelta;
      if ((header.attributes & Attribute.control) === 0 && lastOffset >= this.offset) {
        for (const record of await decodeBatchRecords(bytes, pos))
          if (record.offset >= this.offset) records.push(record);
      }
      // Batches with nothing for us (control, or records compacted away) move us past them.
      if (lastOffset + 1 > this.offset && records.length === 0) this.offset = lastOffset + 1;
      pos += size;
    }
    this.buffer = records;
    if (bytes.length === 0) {
      // Data below the high watermark that the log could not serve yet (a batch straddling
      // it, a segment being replaced): look again shortly rather than spin.
      await new Promise<void>((resolve) => setTimeout(resolve, 10).unref());
    }
  }

  private toMessage(record: DecodedRecord, body: Buffer): QueuedMessage {
    let exchange = "";
    let propertiesBytes: Buffer | undefined;
    for (const header of record.headers) {
      if (header.key === PROPERTIES_HEADER) propertiesBytes = header.value ?? EMPTY;
      else if (header.key === EXCHANGE_HEADER) exchange = header.value?.toString("utf8") ?? "";
    }
    return {
      source: this.source,
      id: this.nextId++,
      exchange,
      routingKey: record.key?.toString("utf8") ?? "",
      propertiesBytes: propertiesBytes ?? this.queue.foreignProperties(record),
      body,
      redelivered: false,
      streamOffset: record.offset,
    };
  }
}
