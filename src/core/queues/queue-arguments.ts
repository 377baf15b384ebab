/**
 * queue.declare arguments of a classic queue, validated as RabbitMQ 3.x does
 * (`rabbit_amqqueue:declare_args/0`): each known x- argument has a type and range check, and a
 * failure is a 406 PRECONDITION_FAILED worded like RabbitMQ's
 * "invalid arg '~ts' for ~ts: ~255p" (the error term printed as Erlang would). Unknown x-
 * arguments are ignored.
 *
 * A FieldTable arrives decoded (numbers, bigints, strings...), so the AMQP type tag is
 * reconstructed for the messages: an integral number or bigint is an integer, a fractional
 * number a `double`, a string `longstr`, a boolean `bool`, a byte array `binary`...
 */

import type { FieldTable, FieldValue } from "../routing/types.ts";
import { RoutingError } from "../routing/types.ts";

export type OverflowMode = "drop-head" | "reject-publish" | "reject-publish-dlx";

export interface QueueSettings {
  messageTtlMs?: number;
  expiresMs?: number;
  maxLength?: number;
  maxLengthBytes?: number;
  overflow: OverflowMode;
  deadLetterExchange?: string;
  deadLetterRoutingKey?: string;
  /** 1..255; lanes 0..maxPriority. Absent (or x-max-priority 0): one lane. */
  maxPriority?: number;
  singleActiveConsumer: boolean;
  deliveryLimit?: number;
}

/** RabbitMQ's ?MAX_EXPIRY_TIMER: the largest TTL / expiry Erlang timers accept (ms). */
const EXPIRY_MS_MAX = 4_294_967_295;
/** RabbitMQ's ?MAX_SUPPORTED_PRIORITY. */
const PRIORITY_MAX = 255;
const OVERFLOW_MODES: readonly string[] = ["drop-head", "reject-publish", "reject-publish-dlx"];

/** The AMQP field type name RabbitMQ would print for a decoded value. */
export function fieldTypeName(value: FieldValue): string {
  if (value === null || value === undefined) return "void";
  if (typeof value === "string") return "longstr";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "bigint") return "long";
  if (typeof value === "number") return Number.isInteger(value) ? "long" : "double";
  if (value instanceof Date) return "timestamp";
  if (value instanceof Uint8Array) return "binary";
  if (Array.isArray(value)) return "array";
  return "table";
}

class ArgumentProblem {
  constructor(readonly term: string) {}
}

function integerOf(value: FieldValue): number {
  if (typeof value === "bigint") {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new ArgumentProblem(`{value_too_large,${value}}`);
    }
    return Number(value);
  }
  if (typeof value === "number" && Number.isInteger(value)) return value;
  // rabbit_amqqueue:check_int_arg/2 (3.9+): {error, "expected integer, got ~p"}.
  throw new ArgumentProblem(`"expected integer, got ${fieldTypeName(value)}"`);
}

function nonNegativeInteger(value: FieldValue): number {
  const n = integerOf(value);
  if (n < 0) throw new ArgumentProblem(`{value_negative,${n}}`);
  return n;
}

/** rabbit_misc:check_expiry/1. */
function expiry(n: number): number {
  if (n < 0) throw new ArgumentProblem(`{value_negative,${n}}`);
  if (n > EXPIRY_MS_MAX) throw new ArgumentProblem(`{value_too_large,${n}}`);
  return n;
}

function longString(value: FieldValue): string {
  if (typeof value === "string") return value;
  throw new ArgumentProblem(`{unacceptable_type,${fieldTypeName(value)}}`);
}

function boolean(value: FieldValue): boolean {
  if (typeof value === "boolean") return value;
  throw new ArgumentProblem(`{unacceptable_type,${fieldTypeName(value)}}`);
}

const present = (value: FieldValue): boolean => value !== undefined;

/**
 * Validates x- arguments exactly as RabbitMQ 3.x does and returns the settings a classic queue
 * runs with. Throws RoutingError PRECONDITION_FAILED
 * "invalid arg 'x-max-length' for queue 'q' in vhost '/': {value_negative,-1}".
 */
export function parseQueueArguments(queue: string, vhost: string, args: FieldTable): QueueSettings {
  const settings: QueueSettings = { overflow: "drop-head", singleActiveConsumer: false };
  // RabbitMQ checks in declare_args order and reports the first failure.
  const check = (key: string, apply: (value: FieldValue) => void) => {
    const value = args[key];
    if (!present(value)) return;
    try {
      apply(value);
    } catch (error) {
      if (!(error instanceof ArgumentProblem)) throw error;
      throw new RoutingError(
        "PRECONDITION_FAILED",
        `invalid arg '${key}' for queue '${queue}' in vhost '${vhost}': ${error.term}`,
      );
    }
  };
  check("x-expires", (value) => {
    const n = integerOf(value);
    if (n === 0) throw new ArgumentProblem("{value_zero,0}");
    settings.expiresMs = expiry(n);
  });
  check("x-message-ttl", (value) => {
    settings.messageTtlMs = expiry(integerOf(value));
  });
  check("x-dead-letter-exchange", (value) => {
    settings.deadLetterExchange = longString(value);
  });
  check("x-dead-letter-routing-key", (value) => {
    const key = longString(value);
    if (!present(args["x-dead-letter-exchange"])) {
      throw new ArgumentProblem("routing_key_but_no_dlx_defined");
    }
    settings.deadLetterRoutingKey = key;
  });
  check("x-max-length", (value) => {
    settings.maxLength = nonNegativeInteger(value);
  });
  check("x-max-length-bytes", (value) => {
    settings.maxLengthBytes = nonNegativeInteger(value);
  });
  check("x-max-priority", (value) => {
    const n = nonNegativeInteger(value);
    if (n > PRIORITY_MAX) throw new ArgumentProblem(`{max_value_exceeded,${n}}`);
    // x-max-priority 0 gives RabbitMQ's priority queue a single level: the same as none.
    if (n > 0) settings.maxPriority = n;
  });
  check("x-overflow", (value) => {
    if (typeof value !== "string") {
      throw new ArgumentProblem(`{unacceptable_type,${fieldTypeName(value)}}`);
    }
    if (!OVERFLOW_MODES.includes(value)) throw new ArgumentProblem("invalid_overflow");
    settings.overflow = value as OverflowMode;
  });
  check("x-single-active-consumer", (value) => {
    settings.singleActiveConsumer = boolean(value);
  });
  check("x-delivery-limit", (value) => {
    settings.deliveryLimit = nonNegativeInteger(value);
  });
  return settings;
}

/**
 * The priority lane a message goes to: its priority clamped to the queue's maximum, as
 * RabbitMQ's priority queue does (missing priority = 0; no x-max-priority = one lane).
 */
export function laneFor(settings: QueueSettings, priority: number): number {
  const max = settings.maxPriority ?? 0;
  if (!Number.isFinite(priority) || priority <= 0) return 0;
  return Math.min(Math.floor(priority), max);
}
