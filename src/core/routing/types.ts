/**
 * Shared types of the routing core: destinations, bindings, field values and errors.
 * Nothing here knows about persistence or a wire protocol.
 */

export type DestinationKind = "queue" | "stream" | "exchange";

/** An opaque, typed id of something a binding points at. Compared by (kind, name). */
export interface Destination {
  readonly kind: DestinationKind;
  readonly name: string;
}

/**
 * An AMQP field value as a protocol adapter decodes it: strings, numbers, bigints, booleans,
 * byte arrays, timestamps (Date), arrays and nested tables. `null` / `undefined` is "void".
 */
export type FieldValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | Uint8Array
  | Date
  | readonly FieldValue[]
  | FieldTable;

export interface FieldTable {
  readonly [key: string]: FieldValue;
}

/** A binding as the router reports it. Identity = (source, destination, routingKey, arguments). */
export interface Binding {
  readonly source: string;
  readonly destination: Destination;
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

export type ExchangeType = "direct" | "fanout" | "topic" | "headers";

/** Receives the destinations an exchange type selects; the router dedupes them. */
export interface DestinationSink {
  emit(destination: Destination): void;
}

export type RoutingErrorCode =
  | "NOT_FOUND"
  | "ACCESS_REFUSED"
  | "PRECONDITION_FAILED"
  | "COMMAND_INVALID"
  | "NOT_ALLOWED"
  | "RESOURCE_LOCKED"
  | "RESOURCE_ERROR"
  | "INTERNAL_ERROR";

const AMQP_REPLY_CODES: Record<RoutingErrorCode, number> = {
  NOT_FOUND: 404,
  ACCESS_REFUSED: 403,
  PRECONDITION_FAILED: 406,
  COMMAND_INVALID: 503,
  NOT_ALLOWED: 530,
  RESOURCE_LOCKED: 405,
  RESOURCE_ERROR: 506,
  INTERNAL_ERROR: 541,
};

/**
 * An error of the messaging model (exchanges, queues, bindings, virtual hosts, permissions)
 * with the AMQP 0-9-1 reply code RabbitMQ answers with. The core throws it; the AMQP adapter
 * maps it to a channel close (soft codes) or connection close (hard codes: 503, 530, 541);
 * STOMP and MQTT map it to their own errors.
 */
export class RoutingError extends Error {
  readonly code: RoutingErrorCode;
  readonly amqpReplyCode: number;

  constructor(code: RoutingErrorCode, message: string) {
    super(message);
    this.name = "RoutingError";
    this.code = code;
    this.amqpReplyCode = AMQP_REPLY_CODES[code];
  }
}

export function isRoutingError(error: unknown, code?: RoutingErrorCode): error is RoutingError {
  return error instanceof RoutingError && (code === undefined || error.code === code);
}
