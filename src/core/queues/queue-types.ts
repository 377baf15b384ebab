/**
 * The seam between the queue engine (`queue.ts`), the virtual host that routes into queues
 * (`../vhosts`), and the protocol adapters that consume from them (AMQP now; STOMP and MQTT
 * later). Protocol-neutral: message properties have AMQP 0-9-1's shape because that is the
 * richest of the protocols and the others map onto it (DESIGN.md, "How each protocol enters
 * the core").
 */
import type { FieldTable } from "../routing/types.ts";

/** A message's properties (AMQP 0-9-1 basic properties; STOMP/MQTT headers map onto them). */
export interface MessageProperties {
  contentType?: string;
  contentEncoding?: string;
  headers?: FieldTable;
  /** 2 = persistent, anything else transient. */
  deliveryMode?: number;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  /** Per-message TTL in milliseconds, as a decimal string (AMQP's `expiration`). */
  expiration?: string;
  messageId?: string;
  /** Seconds since the epoch. */
  timestamp?: number;
  type?: string;
  userId?: string;
  appId?: string;
  clusterId?: string;
}

/**
 * How the core stores properties: the composition root supplies the AMQP 0-9-1 property-list
 * codec (flags + fields, spec 4.2.6.1), so that an AMQP publish is stored and delivered with
 * the bytes it arrived with. The core decodes only on rare paths (dead-lettering adds
 * `x-death`; headers exchanges and priority read fields the adapter already decoded).
 */
export interface PropertiesCodec {
  encode(properties: MessageProperties): Buffer;
  decode(bytes: Buffer): MessageProperties;
}

/** A message entering the core from a publisher. */
export interface InboundMessage {
  readonly exchange: string;
  readonly routingKey: string;
  /** Decoded properties (the adapter has them already). */
  readonly properties: MessageProperties;
  /** The same properties, encoded by `PropertiesCodec` (or as received on the wire). */
  readonly propertiesBytes: Buffer;
  readonly body: Buffer;
}

/** Where a delivered message is settled: the queue (or stream queue) it came from. */
export interface DeliverySource {
  /** Queue name (for logs and errors). */
  readonly name: string;
  /** The message was processed: forget it (and reclaim its space). Unknown ids are ignored. */
  ack(id: number): void;
  /**
   * The consumer gave it back. `requeue` puts it back at its original position with
   * redelivered=true; otherwise it is dead-lettered (reason `rejected`) or dropped.
   */
  reject(id: number, requeue: boolean): void;
}

/** A message leaving a queue. */
export interface QueuedMessage {
  readonly source: DeliverySource;
  /** The queue-local id to settle with (`source.ack(id)`); unique among unsettled messages. */
  readonly id: number;
  readonly exchange: string;
  readonly routingKey: string;
  readonly propertiesBytes: Buffer;
  readonly body: Buffer;
  readonly redelivered: boolean;
  /**
   * For stream queues: the message's stream offset (delivered as the `x-stream-offset`
   * header by AMQP). Undefined for classic queues.
   */
  readonly streamOffset?: number;
  /**
   * For queues with x-delivery-limit: how often the message was given back before this
   * delivery (AMQP delivers it as the `x-delivery-count` header, as RabbitMQ's quorum queues
   * do). Undefined otherwise.
   */
  readonly deliveryCount?: number;
}

/**
 * A consumer as a queue sees it. The adapter implements it (AMQP: one per basic.consume, with
 * the channel's prefetch window behind `canTake`).
 */
export interface QueueConsumer {
  readonly tag: string;
  /** `x-priority`: higher-priority consumers get messages first while they have room. */
  readonly priority: number;
  /** Messages are settled on delivery (AMQP no-ack): the queue forgets them at once. */
  readonly noAck: boolean;
  /** Whether this consumer has room for one more message of `bodyBytes` now (prefetch). */
  canTake(bodyBytes: number): boolean;
  /** Hands a message over. Called only after `canTake` answered true. */
  deliver(message: QueuedMessage): void;
  /**
   * The queue ended this consumer (queue deleted, or became unavailable). AMQP answers with
   * basic.cancel when the client announced `consumer_cancel_notify`.
   */
  cancelled(reason: "queue-deleted" | "queue-unavailable"): void;
}

/** What `consume` returns: the adapter's handle on its registration. */
export interface ConsumerRegistration {
  /** Stops deliveries. Unsettled messages stay with the adapter until it settles them. */
  cancel(): void;
  /**
   * The consumer has room again (an ack freed prefetch window, flow resumed): the queue
   * delivers what it can. Cheap to call often.
   */
  resume(): void;
}
