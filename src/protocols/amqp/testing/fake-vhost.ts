/**
 * An in-memory `VirtualHostApi` for the session's unit tests: queues are arrays, the default
 * exchange and `amq.direct` route by queue name, and the exchange named "missing" does not
 * exist. It follows the contract's callbacks (canTake before deliver, resume, cancelled) so
 * that the AMQP session's prefetch, requeue and cancel paths run for real, without storage.
 * Publish outcomes can be held back (`holdOutcomes`) to test confirm ordering.
 */
import type {
  ConsumerRegistration,
  InboundMessage,
  QueueConsumer,
  QueuedMessage,
} from "../../../core/queues/queue-types.ts";
import { RoutingError } from "../../../core/routing/types.ts";
import type {
  GetResult,
  PublishResult,
  QueueDeclareResult,
  SessionIdentity,
  VirtualHostApi,
} from "../../../core/vhosts/virtual-host-api.ts";

interface StoredMessage {
  id: number;
  exchange: string;
  routingKey: string;
  propertiesBytes: Buffer;
  body: Buffer;
  redelivered: boolean;
}

class FakeQueue {
  readonly ready: StoredMessage[] = [];
  readonly inflight = new Map<number, StoredMessage>();
  readonly consumers: QueueConsumer[] = [];
  private nextId = 1;
  private cursor = 0;

  constructor(
    readonly name: string,
    readonly stream: boolean,
  ) {}

  readonly source: QueuedMessage["source"] = {
    name: "",
    ack: (id: number) => {
      this.inflight.delete(id);
    },
    reject: (id: number, requeue: boolean) => {
      const message = this.inflight.get(id);
      if (message === undefined) return;
      this.inflight.delete(id);
      if (requeue) {
        this.ready.unshift({ ...message, redelivered: true });
        this.dispatch();
      }
    },
  };

  enqueue(message: InboundMessage): void {
    this.ready.push({
      id: this.nextId++,
      exchange: message.exchange,
      routingKey: message.routingKey,
      propertiesBytes: Buffer.from(message.propertiesBytes),
      body: Buffer.from(message.body),
      redelivered: false,
    });
    this.dispatch();
  }

  toQueued(message: StoredMessage, offset: number): QueuedMessage {
    return {
      source: this.source,
      id: message.id,
      exchange: message.exchange,
      routingKey: message.routingKey,
      propertiesBytes: message.propertiesBytes,
      body: message.body,
      redelivered: message.redelivered,
      streamOffset: this.stream ? offset : undefined,
      deliveryCount: message.redelivered ? 1 : undefined,
    };
  }

  dispatch(): void {
    while (this.ready.length > 0 && this.consumers.length > 0) {
      let delivered = false;
      for (let tried = 0; tried < this.consumers.length; tried++) {
        const consumer = this.consumers[this.cursor++ % this.consumers.length]!;
        const message = this.ready[0]!;
        if (!consumer.canTake(message.body.length)) continue;
        this.ready.shift();
        if (!consumer.noAck) this.inflight.set(message.id, message);
        consumer.deliver(this.toQueued(message, message.id - 1));
        delivered = true;
        break;
      }
      if (!delivered) return;
    }
  }
}

export class FakeVirtualHost implements VirtualHostApi {
  readonly queues = new Map<string, FakeQueue>();
  readonly closedConnections: string[] = [];
  /** While set, publishes to queues answer a promise resolved by `releaseOutcomes`. */
  private held: Array<{
    resolve: (outcome: "ack" | "nack") => void;
    outcome: "ack" | "nack";
  }> | null = null;
  private generated = 0;

  constructor(readonly name = "/") {}

  holdOutcomes(): void {
    this.held = [];
  }

  /** Resolves held outcomes in the given order of their indexes (publish order by default). */
  releaseOutcomes(order?: number[]): void {
    const held = this.held ?? [];
    this.held = null;
    for (const index of order ?? held.map((_, i) => i)) held[index]!.resolve(held[index]!.outcome);
  }

  nackNext = false;

  async declareExchange(_who: SessionIdentity, name: string, type: string): Promise<void> {
    if (!["direct", "fanout", "topic", "headers"].includes(type)) {
      throw new RoutingError("COMMAND_INVALID", `invalid exchange type '${type}'`);
    }
    if (name.startsWith("amq.")) {
      throw new RoutingError(
        "ACCESS_REFUSED",
        `exchange name '${name}' contains reserved prefix 'amq.*'`,
      );
    }
  }
  async deleteExchange(): Promise<void> {}
  async bindExchange(): Promise<void> {}
  async unbindExchange(): Promise<void> {}

  async declareQueue(
    _who: SessionIdentity,
    name: string,
    options: { passive?: boolean; arguments?: Record<string, unknown> },
  ): Promise<QueueDeclareResult> {
    const queueName = name === "" ? `amq.gen-${++this.generated}` : name;
    let queue = this.queues.get(queueName);
    if (queue === undefined) {
      if (options.passive) {
        throw new RoutingError("NOT_FOUND", `no queue '${queueName}' in vhost '${this.name}'`);
      }
      queue = new FakeQueue(queueName, options.arguments?.["x-queue-type"] === "stream");
      this.queues.set(queueName, queue);
    }
    return {
      queue: queueName,
      messageCount: queue.ready.length,
      consumerCount: queue.consumers.length,
    };
  }

  private queue(name: string): FakeQueue {
    const queue = this.queues.get(name);
    if (queue === undefined) {
      throw new RoutingError("NOT_FOUND", `no queue '${name}' in vhost '${this.name}'`);
    }
    return queue;
  }

  async bindQueue(_who: SessionIdentity, queue: string): Promise<void> {
    this.queue(queue);
  }
  async unbindQueue(_who: SessionIdentity, queue: string): Promise<void> {
    this.queue(queue);
  }
  async purgeQueue(_who: SessionIdentity, name: string): Promise<number> {
    const queue = this.queue(name);
    const count = queue.ready.length;
    queue.ready.length = 0;
    return count;
  }
  async deleteQueue(_who: SessionIdentity, name: string): Promise<number> {
    const queue = this.queue(name);
    this.queues.delete(name);
    for (const consumer of queue.consumers.splice(0)) consumer.cancelled("queue-deleted");
    return queue.ready.length;
  }

  publish(_who: SessionIdentity, message: InboundMessage): PublishResult {
    if (message.exchange === "missing") {
      throw new RoutingError("NOT_FOUND", `no exchange 'missing' in vhost '${this.name}'`);
    }
    const queue =
      message.exchange === "" || message.exchange === "amq.direct"
        ? this.queues.get(message.routingKey)
        : undefined;
    if (queue === undefined) return { routed: false, outcome: "ack" };
    queue.enqueue(message);
    const outcome: "ack" | "nack" = this.nackNext ? "nack" : "ack";
    this.nackNext = false;
    if (this.held !== null) {
      const held = this.held;
      return {
        routed: true,
        outcome: new Promise((resolve) => held.push({ resolve, outcome })),
      };
    }
    return { routed: true, outcome };
  }

  consume(_who: SessionIdentity, name: string, consumer: QueueConsumer): ConsumerRegistration {
    const queue = this.queue(name);
    queue.consumers.push(consumer);
    return {
      cancel: () => {
        const index = queue.consumers.indexOf(consumer);
        if (index >= 0) queue.consumers.splice(index, 1);
      },
      resume: () => queue.dispatch(),
    };
  }

  async get(_who: SessionIdentity, name: string, noAck: boolean): Promise<GetResult | null> {
    const queue = this.queue(name);
    const message = queue.ready.shift();
    if (message === undefined) return null;
    if (!noAck) queue.inflight.set(message.id, message);
    return { message: queue.toQueued(message, message.id - 1), messageCount: queue.ready.length };
  }

  connectionClosed(connectionId: string): void {
    this.closedConnections.push(connectionId);
  }

  listQueues() {
    return [...this.queues.values()].map((queue) => ({
      name: queue.name,
      durable: false,
      exclusive: false,
      autoDelete: false,
      arguments: {},
      type: queue.stream ? ("stream" as const) : ("classic" as const),
      messagesReady: queue.ready.length,
      messagesUnacknowledged: queue.inflight.size,
      consumers: queue.consumers.length,
    }));
  }
}
