/**
 * Direct reply-to (RabbitMQ's `amq.rabbitmq.reply-to`): RPC replies that skip queues. A
 * channel consuming (no-ack) from the pseudo-queue `amq.rabbitmq.reply-to` gets an opaque
 * address `amq.rabbitmq.reply-to.<token>`; requests it publishes with that reply_to carry the
 * address, and a reply published to the default exchange with the address as routing key is
 * delivered straight to that channel, from any connection of this process.
 *
 * The registry is process-wide and holds only live channels: a channel unregisters when it
 * closes, so a reply to a gone requester is unroutable (returned if mandatory), as in
 * RabbitMQ. Tokens are 128 random bits, so an address cannot be guessed.
 */
import { randomBytes } from "node:crypto";

export const directReplyToQueue = "amq.rabbitmq.reply-to";
export const directReplyToPrefix = "amq.rabbitmq.reply-to.";

export interface DirectReplyTarget {
  /** Delivers a reply; false when the channel can no longer take it. */
  deliverReply(
    exchange: string,
    routingKey: string,
    propertiesBytes: Buffer,
    body: Buffer,
  ): boolean;
}

export class DirectReplyRegistry {
  private readonly targets = new Map<string, DirectReplyTarget>();

  /** Registers a channel and answers its reply address. */
  register(target: DirectReplyTarget): string {
    const address = `${directReplyToPrefix}${randomBytes(16).toString("base64url")}`;
    this.targets.set(address, target);
    return address;
  }

  unregister(address: string): void {
    this.targets.delete(address);
  }

  find(address: string): DirectReplyTarget | undefined {
    return this.targets.get(address);
  }

  get size(): number {
    return this.targets.size;
  }
}

/** The registry every AMQP listener of the process shares. */
export const processReplyRegistry = new DirectReplyRegistry();
