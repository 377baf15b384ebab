/**
 * What protocol adapters (AMQP now; STOMP, MQTT and HTTP later) call to use a virtual host:
 * exchanges, queues, bindings, publish and consume, with RabbitMQ's semantics. Every method
 * checks the caller's permissions (configure / write / read regular expressions per vhost, as
 * RabbitMQ) and throws `RoutingError` with RabbitMQ's reply code and wording on misuse:
 * 404 NOT_FOUND, 403 ACCESS_REFUSED, 405 RESOURCE_LOCKED (exclusive queue of another
 * connection), 406 PRECONDITION_FAILED (inequivalent redeclare, in use, not empty, bad
 * argument), 530 NOT_ALLOWED, 503 COMMAND_INVALID (unknown exchange type).
 */
import type {
  ConsumerRegistration,
  InboundMessage,
  QueueConsumer,
  QueuedMessage,
} from "../queues/queue-types.ts";
import type { FieldTable } from "../routing/types.ts";

/** Who is calling: the authenticated user on one connection. */
export interface SessionIdentity {
  /** Unique per connection for the life of the process (exclusive queues belong to it). */
  readonly connectionId: string;
  readonly user: string;
}

export interface ExchangeDeclareOptions {
  readonly passive?: boolean;
  readonly durable?: boolean;
  readonly autoDelete?: boolean;
  readonly internal?: boolean;
  readonly arguments?: FieldTable;
}

export interface QueueDeclareOptions {
  readonly passive?: boolean;
  readonly durable?: boolean;
  /** Owned by the declaring connection; deleted when it closes. */
  readonly exclusive?: boolean;
  /** Deleted when its last consumer is cancelled (after it had one). */
  readonly autoDelete?: boolean;
  /**
   * x-message-ttl, x-expires, x-max-length, x-max-length-bytes, x-overflow,
   * x-dead-letter-exchange, x-dead-letter-routing-key, x-max-priority,
   * x-single-active-consumer, x-queue-type (classic | stream), x-delivery-limit, and the
   * stream ones (x-max-age, x-stream-max-segment-size-bytes). Unknown x- arguments are kept
   * and ignored, as RabbitMQ does.
   */
  readonly arguments?: FieldTable;
}

export interface QueueDeclareResult {
  /** The queue name (server-generated `amq.gen-…` when the request named none). */
  readonly queue: string;
  /** Ready messages (not counting unacknowledged ones), as queue.declare-ok reports. */
  readonly messageCount: number;
  readonly consumerCount: number;
}

export interface PublishOptions {
  /** Unroutable messages are reported (`routed: false`) rather than silently dropped. */
  readonly mandatory?: boolean;
}

/**
 * The result of a publish, available at once (routing is synchronous). `settled` is present
 * when there is something to wait for before a publisher confirm: the message was routed to a
 * durable queue or stream and is persistent, so the confirm must wait for fsync. It resolves
 * to "ack" once durable everywhere it went, or "nack" if a queue refused it
 * (x-overflow reject-publish) or storage failed.
 */
export interface PublishResult {
  /** Whether at least one queue or stream received the message. */
  readonly routed: boolean;
  /** Immediate outcome when nothing needs waiting for; otherwise the promise. */
  readonly outcome: "ack" | "nack" | Promise<"ack" | "nack">;
}

export interface ConsumeOptions {
  readonly exclusive?: boolean;
  /** x-priority, x-stream-offset (first | last | next | number | Date), x-cancel-on-ha-failover… */
  readonly arguments?: FieldTable;
}

export interface GetResult {
  readonly message: QueuedMessage;
  /** Ready messages left after this one (basic.get-ok message-count). */
  readonly messageCount: number;
}

export interface QueueInfo {
  readonly name: string;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
  readonly type: "classic" | "stream";
  readonly messagesReady: number;
  readonly messagesUnacknowledged: number;
  readonly consumers: number;
}

export interface VirtualHostApi {
  readonly name: string;

  declareExchange(
    who: SessionIdentity,
    name: string,
    type: string,
    options: ExchangeDeclareOptions,
  ): Promise<void>;
  deleteExchange(
    who: SessionIdentity,
    name: string,
    options: { ifUnused?: boolean },
  ): Promise<void>;
  bindExchange(
    who: SessionIdentity,
    destination: string,
    source: string,
    routingKey: string,
    args: FieldTable,
  ): Promise<void>;
  unbindExchange(
    who: SessionIdentity,
    destination: string,
    source: string,
    routingKey: string,
    args: FieldTable,
  ): Promise<void>;

  declareQueue(
    who: SessionIdentity,
    name: string,
    options: QueueDeclareOptions,
  ): Promise<QueueDeclareResult>;
  bindQueue(
    who: SessionIdentity,
    queue: string,
    exchange: string,
    routingKey: string,
    args: FieldTable,
  ): Promise<void>;
  unbindQueue(
    who: SessionIdentity,
    queue: string,
    exchange: string,
    routingKey: string,
    args: FieldTable,
  ): Promise<void>;
  /** Removes ready messages; answers how many. */
  purgeQueue(who: SessionIdentity, queue: string): Promise<number>;
  /** Deletes the queue; answers how many ready messages it held. */
  deleteQueue(
    who: SessionIdentity,
    queue: string,
    options: { ifUnused?: boolean; ifEmpty?: boolean },
  ): Promise<number>;

  /**
   * Routes and enqueues one message. Synchronous routing; throws 404 for an unknown exchange,
   * 403 for an internal one or missing write permission.
   */
  publish(who: SessionIdentity, message: InboundMessage, options: PublishOptions): PublishResult;

  /** Registers a consumer. 405 if the queue is exclusive to another connection, 403 if it has an exclusive consumer. */
  consume(
    who: SessionIdentity,
    queue: string,
    consumer: QueueConsumer,
    options: ConsumeOptions,
  ): ConsumerRegistration;
  /** basic.get: one message or null when the queue has none ready. */
  get(who: SessionIdentity, queue: string, noAck: boolean): Promise<GetResult | null>;

  /** The connection closed: its exclusive queues are deleted. */
  connectionClosed(connectionId: string): void;

  listQueues(): QueueInfo[];
}
