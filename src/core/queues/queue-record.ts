/**
 * How a queued message is stored in a lane log: one Kafka record per message.
 * - key = routing key (UTF-8), value = body;
 * - header "e" = exchange name, header "p" = encoded properties (the bytes as received);
 * - header "m" = 9 bytes of queue metadata: flags (bit 0 = persistent, bit 1 = delivered
 *   before: a copy of an unacked message moved to the tail, see queue.ts), then the expiry time
 *   in ms since the epoch as a float64 (NaN = never). The expiry is computed at enqueue
 *   (min of the queue TTL and the per-message expiration) so that it survives restarts.
 */
import type { DecodedRecord, RecordInput } from "../../storage/record-batch.ts";

export interface StoredMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly propertiesBytes: Buffer;
  readonly body: Buffer;
  readonly persistent: boolean;
  /** ms since the epoch; Infinity when the message never expires. */
  readonly expiresAt: number;
  /** Delivered before it was written here (a relocated copy): redelivered=true when read. */
  readonly redelivered?: boolean;
}

const META_BYTES = 9;
const FLAG_PERSISTENT = 1;
const FLAG_REDELIVERED = 2;
const EMPTY = Buffer.alloc(0);

export function messageRecord(message: StoredMessage, timestamp: number): RecordInput {
  const meta = Buffer.allocUnsafe(META_BYTES);
  meta[0] =
    (message.persistent ? FLAG_PERSISTENT : 0) | (message.redelivered ? FLAG_REDELIVERED : 0);
  meta.writeDoubleBE(Number.isFinite(message.expiresAt) ? message.expiresAt : Number.NaN, 1);
  return {
    key: Buffer.from(message.routingKey, "utf8"),
    value: message.body,
    timestamp,
    headers: [
      { key: "e", value: Buffer.from(message.exchange, "utf8") },
      { key: "p", value: message.propertiesBytes },
      { key: "m", value: meta },
    ],
  };
}

/** The stored message of a record, or null when the record is not one (foreign data). */
export function storedMessage(record: DecodedRecord): StoredMessage | null {
  let exchange: Buffer | null = null;
  let properties: Buffer | null = null;
  let meta: Buffer | null = null;
  for (const header of record.headers) {
    if (header.key === "e") exchange = header.value;
    else if (header.key === "p") properties = header.value;
    else if (header.key === "m") meta = header.value;
  }
  if (meta === null || meta.length < META_BYTES) return null;
  const expiry = meta.readDoubleBE(1);
  return {
    exchange: exchange ? exchange.toString("utf8") : "",
    routingKey: record.key ? record.key.toString("utf8") : "",
    propertiesBytes: properties ?? EMPTY,
    body: record.value ?? EMPTY,
    persistent: (meta[0]! & FLAG_PERSISTENT) !== 0,
    redelivered: (meta[0]! & FLAG_REDELIVERED) !== 0,
    expiresAt: Number.isNaN(expiry) ? Number.POSITIVE_INFINITY : expiry,
  };
}
