/**
 * Dead-lettering, as RabbitMQ does it (rabbit_dead_letter.erl, "Dead Letter Exchanges"):
 *
 * - The message is republished to the queue's `x-dead-letter-exchange` with
 *   `x-dead-letter-routing-key`, or with its own routing keys when that is not set.
 * - Its `x-death` header is an array of tables, newest first, one per (queue, reason):
 *   {queue, reason, count, exchange, routing-keys, time[, original-expiration]}. Dying again
 *   for the same (queue, reason) increments `count` and moves that entry to the front.
 * - `x-first-death-queue/-reason/-exchange` are set once; `x-last-death-*` every time.
 * - A per-message TTL (`expiration`) is removed and kept in `original-expiration`, so that the
 *   message does not expire again in the dead-letter queue.
 * - Cycles: for any reason but `rejected`, a target queue is dropped when it already appears
 *   in x-death and no death between the front and that entry (inclusive) was a rejection:
 *   the message would go round forever with no consumer deciding (`is_cycle/2`).
 */
import { deadLetterDeathsMax } from "../../config/limits.ts";
import type { MessageProperties } from "../queues/queue-types.ts";
import type { FieldTable, FieldValue } from "../routing/types.ts";

export type DeadLetterReason = "rejected" | "expired" | "maxlen" | "delivery_limit";

export interface Death {
  readonly queue: string;
  readonly reason: DeadLetterReason;
  /** The exchange the message had been published to before it died. */
  readonly exchange: string;
  readonly routingKeys: readonly string[];
  /** Wall clock, ms since the epoch (stored in seconds, as an AMQP timestamp). */
  readonly now: number;
}

function isTable(value: FieldValue): value is FieldTable {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Date)
  );
}

function text(value: FieldValue): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8");
  return undefined;
}

function countOf(value: FieldValue): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  return 0n;
}

/** The routing keys a message was published with: its key plus CC (RabbitMQ sender-selected distribution). */
export function routingKeysOf(routingKey: string, properties: MessageProperties): string[] {
  const keys = [routingKey];
  const cc = properties.headers?.CC;
  if (Array.isArray(cc))
    for (const key of cc) {
      const k = text(key);
      if (k !== undefined) keys.push(k);
    }
  return keys;
}

/**
 * The properties of the dead-lettered copy: `x-death` updated and the x-first/last-death
 * headers set; `expiration` moved into the death entry.
 */
export function deadLetterProperties(
  properties: MessageProperties,
  death: Death,
): MessageProperties {
  const headers: Record<string, FieldValue> = { ...(properties.headers ?? {}) };
  const previous = Array.isArray(headers["x-death"]) ? (headers["x-death"] as FieldValue[]) : [];
  let count = 1n;
  const rest: FieldValue[] = [];
  for (const entry of previous) {
    if (
      isTable(entry) &&
      text(entry.queue) === death.queue &&
      text(entry.reason) === death.reason
    ) {
      count = countOf(entry.count) + 1n;
      continue;
    }
    rest.push(entry);
  }
  const entry: Record<string, FieldValue> = {
    count,
    reason: death.reason,
    queue: death.queue,
    time: new Date(Math.floor(death.now / 1000) * 1000),
    exchange: death.exchange,
    "routing-keys": [...death.routingKeys],
  };
  if (properties.expiration !== undefined) entry["original-expiration"] = properties.expiration;
  const deaths = [entry, ...rest];
  if (deaths.length > deadLetterDeathsMax) deaths.length = deadLetterDeathsMax;
  headers["x-death"] = deaths;
  if (headers["x-first-death-queue"] === undefined) {
    headers["x-first-death-queue"] = death.queue;
    headers["x-first-death-reason"] = death.reason;
    headers["x-first-death-exchange"] = death.exchange;
  }
  headers["x-last-death-queue"] = death.queue;
  headers["x-last-death-reason"] = death.reason;
  headers["x-last-death-exchange"] = death.exchange;
  const out: MessageProperties = { ...properties, headers };
  delete out.expiration;
  return out;
}

/**
 * RabbitMQ's cycle check for one target queue, given the updated x-death (newest first):
 * true when the message would cycle with no rejection in the loop, so must not go there.
 */
export function isDeadLetterCycle(
  reason: DeadLetterReason,
  targetQueue: string,
  deaths: readonly FieldValue[],
): boolean {
  if (reason === "rejected") return false;
  for (const entry of deaths) {
    if (!isTable(entry)) return false; // a malformed entry ends the walk: not a known cycle
    if (text(entry.reason) === "rejected") return false;
    if (text(entry.queue) === targetQueue) return true;
  }
  return false;
}
