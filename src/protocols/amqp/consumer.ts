/**
 * One basic.consume as the queue sees it (`QueueConsumer`). It holds the per-consumer prefetch
 * window (basic.qos with global=false, RabbitMQ's per_consumer_qos meaning) and its count of
 * unacknowledged deliveries; the channel holds the channel-wide window (global=true) and the
 * delivery tags. Until consume-ok has been written, `canTake` answers false, so that no
 * basic.deliver can precede the consume-ok a client needs to know the tag.
 */
import type {
  ConsumerRegistration,
  QueueConsumer,
  QueuedMessage,
} from "../../core/queues/queue-types.ts";

export interface ConsumerChannel {
  canTake(consumer: AmqpConsumer, bodyBytes: number): boolean;
  deliverMessage(consumer: AmqpConsumer, message: QueuedMessage): void;
  consumerCancelled(consumer: AmqpConsumer): void;
}

export class AmqpConsumer implements QueueConsumer {
  /** The tag as a shortstr payload, encoded once for every basic.deliver. */
  readonly tagBytes: Buffer;
  registration: ConsumerRegistration | null = null;
  /** consume-ok was sent: deliveries may start. */
  ready = false;
  unacked = 0;
  unackedBytes = 0;

  constructor(
    readonly tag: string,
    readonly queue: string,
    readonly priority: number,
    readonly noAck: boolean,
    readonly prefetchCount: number,
    readonly prefetchBytes: number,
    private readonly channel: ConsumerChannel,
  ) {
    this.tagBytes = Buffer.from(tag, "utf8");
  }

  canTake(bodyBytes: number): boolean {
    return this.ready && this.channel.canTake(this, bodyBytes);
  }

  deliver(message: QueuedMessage): void {
    this.channel.deliverMessage(this, message);
  }

  cancelled(_reason: "queue-deleted" | "queue-unavailable"): void {
    this.channel.consumerCancelled(this);
  }

  /** Whether this consumer's own window has room for one more message of `bodyBytes`. */
  hasRoom(bodyBytes: number): boolean {
    if (this.noAck) return true;
    if (this.prefetchCount !== 0 && this.unacked >= this.prefetchCount) return false;
    if (
      this.prefetchBytes !== 0 &&
      this.unacked > 0 &&
      this.unackedBytes + bodyBytes > this.prefetchBytes
    ) {
      return false;
    }
    return true;
  }
}
