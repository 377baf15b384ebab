/**
 * AmqpChannel: one AMQP 0-9-1 channel of a connection. Frames in → commands (a method, plus
 * its content for basic.publish) → the virtual host → frames out.
 *
 * Content assembly (spec 4.2.6): after a content-bearing method the channel expects exactly one
 * content header, then body frames until the announced size. Anything else on this channel
 * meanwhile (a method, a header without a method, a body longer than announced) is
 * 505 UNEXPECTED_FRAME, a connection error. Frames of other channels may interleave.
 *
 * Command order: RabbitMQ executes a channel's methods in order, and so does this channel.
 * Methods that call the core asynchronously (declares, deletes, basic.get, tx.commit) make the
 * channel busy; commands arriving meanwhile (publishes included) wait in `backlog` and run
 * when it completes. The session pauses the socket when a backlog reaches its bound.
 *
 * Deliveries: delivery tags count from 1 per channel; unacknowledged deliveries are kept in
 * `unacked` in tag order (a Map keeps insertion order, and tags only grow, except after a tx
 * rollback, which re-sorts). Prefetch: the consumer's window (qos global=false) and the
 * channel's (global=true) must both have room; the socket must not be congested; the channel
 * must not be flowed off. Acks free windows; the session then calls `resume()` on the
 * channel's registrations, once per flush.
 *
 * Closing (either side): consumers are cancelled, unacknowledged and uncommitted-acked
 * deliveries are requeued in tag order, the direct reply-to address is released. After the
 * server sent channel.close, everything but channel.close-ok (and channel.close) is ignored.
 */

import { randomBytes } from "node:crypto";
import { amqpPublishOverheadBytes } from "../../config/limits.ts";
import type { MessageProperties, QueuedMessage } from "../../core/queues/queue-types.ts";
import type {
  PublishResult,
  SessionIdentity,
  VirtualHostApi,
} from "../../core/vhosts/virtual-host-api.ts";
import type { Logger } from "../../logging/logger.ts";
import type { AmqpFieldTable, AmqpFieldValue } from "./codec/field-value.ts";
import { fieldNumber } from "./codec/field-value.ts";
import { type AmqpFrame, amqpFrameType } from "./codec/frame.ts";
import type {
  AmqpMethod,
  BasicConsume,
  BasicProperties,
  BasicPublish,
  QueueDeclare,
} from "./codec/generated/methods.ts";
import { decodeContentHeaderPayload, decodeMethodPayload } from "./codec/payload.ts";
import { ConfirmTracker } from "./confirms.ts";
import { AmqpConsumer, type ConsumerChannel } from "./consumer.ts";
import {
  type DirectReplyRegistry,
  type DirectReplyTarget,
  directReplyToPrefix,
  directReplyToQueue,
} from "./direct-reply-to.ts";
import { AmqpError } from "./errors.ts";
import { toCoreTable } from "./field-table.ts";
import type { FrameOutput } from "./output.ts";
import {
  decodeBasicPropertyList,
  encodeBasicPropertyList,
  toMessageProperties,
} from "./properties-codec.ts";

/** What the peer announced in connection.start-ok's capabilities table. */
export interface ClientCapabilities {
  consumerCancelNotify: boolean;
  connectionBlocked: boolean;
  authenticationFailureClose: boolean;
}

/** What a channel needs from its connection (the session implements it). */
export interface ChannelHost {
  readonly output: FrameOutput;
  readonly logger: Logger;
  readonly identity: SessionIdentity;
  readonly vhost: VirtualHostApi;
  readonly frameBytesMax: number;
  readonly capabilities: ClientCapabilities;
  readonly replyRegistry: DirectReplyRegistry;
  readonly messageBytesMax: number;
  readonly txBytesMax: number;
  scheduleFlush(): void;
  /** False while the socket's outgoing buffer is over its bound. */
  outputHasRoom(): boolean;
  /** A command failed: the session closes the channel (soft) or connection (hard). */
  commandFailed(channel: AmqpChannel, error: unknown, classId: number, methodId: number): void;
  /** The channel is gone (close-ok sent or received): its id may be reused. */
  channelGone(channel: AmqpChannel): void;
  requestResume(channel: AmqpChannel): void;
  requestConfirms(channel: AmqpChannel): void;
  publishStarted(bytes: number): void;
  publishSettled(bytes: number): void;
  /** A publish arrived while the broker is blocked (resource alarm): stop reading. */
  publishWhileBlocked(): void;
  /** The backlog grew or shrank: the session re-evaluates whether to read. */
  backlogChanged(channel: AmqpChannel): void;
}

interface Command {
  readonly method: AmqpMethod;
  readonly classId: number;
  readonly methodId: number;
  readonly content?: Content;
}

interface Content {
  readonly properties: BasicProperties;
  readonly propertiesBytes: Buffer;
  readonly body: Buffer;
}

/**
 * A publish whose content header or body frames are still arriving. A channel has at most one
 * at a time: one object per channel, reset for every publish.
 */
interface Assembly {
  args: BasicPublish;
  bodySize: number;
  properties: BasicProperties | undefined;
  propertiesBytes: Buffer | undefined;
  received: number;
  /** Body frames so far (views of the received chunks). */
  readonly parts: Buffer[];
}

class Unacked {
  constructor(
    readonly message: QueuedMessage,
    /** null for basic.get. */
    readonly consumer: AmqpConsumer | null,
  ) {}
}

/** Publishes sharing one pending outcome promise (one group commit): a single `then`. */
interface PendingOutcome {
  readonly promise: Promise<"ack" | "nack">;
  first: number;
  last: number;
  bytes: number;
}

interface TxPublish {
  readonly exchange: string;
  readonly routingKey: string;
  readonly mandatory: boolean;
  readonly content: Content;
}

interface TxSettle {
  readonly entries: Array<[number, Unacked]>;
  readonly ack: boolean;
  readonly requeue: boolean;
}

const emptyBody = Buffer.alloc(0);
const mandatoryOptions = Object.freeze({ mandatory: true });
const plainOptions = Object.freeze({ mandatory: false });

export class AmqpChannel implements ConsumerChannel, DirectReplyTarget {
  state: "open" | "closing" | "closed" = "open";
  readonly consumers = new Map<string, AmqpConsumer>();
  private readonly unacked = new Map<number, Unacked>();
  private nextDeliveryTag = 1;
  private unackedCount = 0;
  private unackedBytes = 0;
  /** basic.qos global=false: the window of consumers created afterwards. */
  private consumerPrefetchCount = 0;
  private consumerPrefetchBytes = 0;
  /** basic.qos global=true: the window shared by the channel. */
  private channelPrefetchCount = 0;
  private channelPrefetchBytes = 0;
  private flowActive = true;
  private mode: "none" | "confirm" | "tx" = "none";
  private confirms: ConfirmTracker | null = null;
  private pendingOutcome: PendingOutcome | null = null;
  private txPublishes: TxPublish[] = [];
  private txSettles: TxSettle[] = [];
  private txBytes = 0;
  private lastQueue = "";
  private busy = false;
  private readonly backlog: Command[] = [];
  /** Body bytes of the publishes waiting in the backlog (views pin socket chunks). */
  backlogBytes = 0;
  private assembly: Assembly | null = null;
  private readonly assemblyState: Assembly = {
    args: { ticket: 0, exchange: "", routingKey: "", mandatory: false, immediate: false },
    bodySize: 0,
    properties: undefined,
    propertiesBytes: undefined,
    received: 0,
    parts: [],
  };
  /** The last content header's property list (class basic), decoded (see contentHeader). */
  private readonly lastPropertiesBytes = Buffer.alloc(256);
  private lastPropertiesLength = -1;
  private lastProperties: BasicProperties | null = null;
  private lastMessageProperties: MessageProperties | null = null;
  private lastPropertiesShared: Buffer | null = null;
  private readonly lastHeader = { classId: 60, bodySize: 0, properties: {} as BasicProperties };
  /** The last exchange and routing key of a hand-decoded basic.publish, bytes and text. */
  private readonly lastExchangeBytes = Buffer.alloc(256);
  private lastExchangeLength = -1;
  private lastExchange = "";
  private readonly lastRoutingKeyBytes = Buffer.alloc(256);
  private lastRoutingKeyLength = -1;
  private lastRoutingKey = "";
  private replyConsumerTag: string | null = null;
  private replyAddress: string | null = null;

  constructor(
    readonly id: number,
    private readonly host: ChannelHost,
  ) {}

  get backlogLength(): number {
    return this.backlog.length;
  }

  // --- frames ---------------------------------------------------------------------------

  /** Handles one frame of this channel. Throws AmqpError / AmqpDecodeError on bad input. */
  handleFrame(frame: AmqpFrame): void {
    if (this.state !== "open") {
      this.handleWhileClosing(frame);
      return;
    }
    const assembly = this.assembly;
    if (assembly !== null) {
      this.continueContent(assembly, frame);
      return;
    }
    if (frame.type !== amqpFrameType.method) {
      throw new AmqpError(
        505,
        `expected method frame, got ${frame.type === amqpFrameType.header ? "content header" : "content body"} on channel ${this.id}`,
      );
    }
    const payload = frame.payload;
    // The hot methods (basic.publish, basic.ack) are decoded by hand; anything unusual in
    // them (non-ASCII names, wrong length) goes through the generated decoder.
    if (payload.length >= 4 && payload[0] === 0 && payload[1] === 60 && payload[2] === 0) {
      const methodId = payload[3];
      if (methodId === 40) {
        const args = this.decodePublish(payload);
        if (args !== null) {
          this.startContent(args);
          return;
        }
      } else if (
        methodId === 80 &&
        payload.length === 13 &&
        !this.busy &&
        payload[4] === 0 &&
        payload[5]! < 0x20
      ) {
        // A delivery tag below 2^53 (above, the generated decoder answers 502).
        const deliveryTag = payload.readUInt32BE(4) * 4294967296 + payload.readUInt32BE(8);
        try {
          this.settle(deliveryTag, (payload[12]! & 1) !== 0, true, false);
        } catch (error) {
          this.host.commandFailed(this, error, 60, 80);
        }
        return;
      }
    }
    const decoded = decodeMethodPayload(payload);
    if (decoded.info.content) {
      if (decoded.method.name !== "basic.publish") {
        throw new AmqpError(503, `${decoded.method.name} is sent by servers only`);
      }
      this.startContent(decoded.method.args as BasicPublish);
      return;
    }
    this.submit(decoded);
  }

  private startContent(args: BasicPublish): void {
    const assembly = this.assemblyState;
    assembly.args = args;
    assembly.bodySize = 0;
    assembly.properties = undefined;
    assembly.propertiesBytes = undefined;
    assembly.received = 0;
    assembly.parts.length = 0;
    this.assembly = assembly;
  }

  /**
   * basic.publish arguments straight from the payload when it is well formed and its names are
   * ASCII (UTF-8 validation is then moot); null sends it through the generated decoder.
   */
  private decodePublish(payload: Buffer): BasicPublish | null {
    const length = payload.length;
    // class, method, ticket, exchange length
    if (length < 9) return null;
    const exchangeLength = payload[6]!;
    const routingKeyAt = 7 + exchangeLength;
    if (routingKeyAt >= length) return null;
    const routingKeyLength = payload[routingKeyAt]!;
    const bitsAt = routingKeyAt + 1 + routingKeyLength;
    if (bitsAt !== length - 1) return null;
    const exchange = this.cachedName(payload, 7, exchangeLength, true);
    if (exchange === null) return null;
    const routingKey = this.cachedName(payload, routingKeyAt + 1, routingKeyLength, false);
    if (routingKey === null) return null;
    const bits = payload[bitsAt]!;
    return {
      ticket: payload.readUInt16BE(4),
      exchange,
      routingKey,
      mandatory: (bits & 1) !== 0,
      immediate: (bits & 2) !== 0,
    };
  }

  /** An ASCII shortstr, as the same string as last time when its bytes repeat; else null. */
  private cachedName(
    payload: Buffer,
    at: number,
    length: number,
    exchange: boolean,
  ): string | null {
    const cache = exchange ? this.lastExchangeBytes : this.lastRoutingKeyBytes;
    if (length === (exchange ? this.lastExchangeLength : this.lastRoutingKeyLength)) {
      let same = true;
      for (let index = 0; index < length; index++) {
        if (payload[at + index] !== cache[index]) {
          same = false;
          break;
        }
      }
      if (same) return exchange ? this.lastExchange : this.lastRoutingKey;
    }
    // The cache is about to be overwritten: invalid until complete.
    if (exchange) this.lastExchangeLength = -1;
    else this.lastRoutingKeyLength = -1;
    for (let index = 0; index < length; index++) {
      const byte = payload[at + index]!;
      if (byte >= 0x80) return null;
      cache[index] = byte;
    }
    const text = payload.toString("latin1", at, at + length);
    if (exchange) {
      this.lastExchangeLength = length;
      this.lastExchange = text;
    } else {
      this.lastRoutingKeyLength = length;
      this.lastRoutingKey = text;
    }
    return text;
  }

  private continueContent(assembly: Assembly, frame: AmqpFrame): void {
    if (assembly.properties === undefined) {
      if (frame.type !== amqpFrameType.header) {
        throw new AmqpError(
          505,
          `expected content header for class 60, got non content header frame instead`,
        );
      }
      const header = this.contentHeader(frame.payload);
      if (header.classId !== 60) {
        throw new AmqpError(505, `content header for class ${header.classId}, expected 60`);
      }
      if (header.bodySize > this.host.messageBytesMax) {
        this.assembly = null;
        throw new AmqpError(
          406,
          `message size ${header.bodySize} is larger than configured max size ${this.host.messageBytesMax}`,
        );
      }
      assembly.properties = header.properties;
      // The property list as it arrived: after class (2), weight (2) and body size (8); the
      // last list's own copy when it repeats (no view of the chunk to make).
      assembly.propertiesBytes =
        header.properties === this.lastProperties && this.lastPropertiesShared !== null
          ? this.lastPropertiesShared
          : frame.payload.subarray(12);
      assembly.bodySize = header.bodySize;
      if (header.bodySize === 0) this.completeContent(assembly, emptyBody);
      return;
    }
    if (frame.type !== amqpFrameType.body) {
      throw new AmqpError(505, `expected content body, got non content body frame instead`);
    }
    const payload = frame.payload;
    const received = assembly.received + payload.length;
    if (received > assembly.bodySize) {
      throw new AmqpError(
        505,
        `content body of ${received} bytes or more, ${assembly.bodySize} announced`,
      );
    }
    assembly.received = received;
    if (assembly.parts.length === 0 && received === assembly.bodySize) {
      // The common case: the whole body in one frame, passed on as a view (no copy).
      this.completeContent(assembly, payload);
      return;
    }
    // Collected as received (not preallocated from the announced size, which would let a
    // client pin bodySize bytes by sending one), joined once at the end.
    assembly.parts.push(payload);
    if (received === assembly.bodySize) {
      this.completeContent(assembly, Buffer.concat(assembly.parts, received));
    }
  }

  /**
   * A content header. Publishers repeat the same property list message after message: when
   * its bytes equal the last one's (class basic, weight 0, a body size below 2^53), the
   * decoded properties are reused (they are never modified) instead of decoded again.
   */
  private contentHeader(payload: Buffer): {
    classId: number;
    bodySize: number;
    properties: BasicProperties;
  } {
    const length = payload.length;
    const cached = this.lastPropertiesBytes;
    if (
      this.lastProperties !== null &&
      length - 12 === this.lastPropertiesLength &&
      payload[0] === 0 &&
      payload[1] === 60 &&
      payload[2] === 0 &&
      payload[3] === 0 &&
      payload[4] === 0 &&
      payload[5]! < 0x20
    ) {
      let same = true;
      for (let index = 12; index < length; index++) {
        if (payload[index] !== cached[index - 12]) {
          same = false;
          break;
        }
      }
      if (same) {
        const bodySize = payload.readUInt32BE(4) * 4294967296 + payload.readUInt32BE(8);
        const header = this.lastHeader;
        header.bodySize = bodySize;
        return header;
      }
    }
    const header = decodeContentHeaderPayload(payload);
    if (header.classId === 60 && length - 12 <= cached.length) {
      payload.copy(cached, 0, 12);
      this.lastPropertiesLength = length - 12;
      this.lastProperties = header.properties;
      this.lastMessageProperties = null;
      this.lastPropertiesShared = Buffer.from(payload.subarray(12));
      this.lastHeader.properties = header.properties;
    }
    return header;
  }

  private completeContent(assembly: Assembly, body: Buffer): void {
    this.assembly = null;
    const args = assembly.args;
    const properties = assembly.properties!;
    const propertiesBytes = assembly.propertiesBytes!;
    if (!this.busy) {
      // Nothing waits before it: run it now, without a Command (as `run` would).
      try {
        this.publish(args, properties, propertiesBytes, body);
      } catch (error) {
        this.host.commandFailed(this, error, 60, 40);
      }
      return;
    }
    this.submit({
      method: { name: "basic.publish", args },
      classId: 60,
      methodId: 40,
      content: { properties, propertiesBytes, body },
    });
  }

  private handleWhileClosing(frame: AmqpFrame): void {
    if (this.state === "closed" || frame.type !== amqpFrameType.method) return;
    // Only close-ok (or a crossing close) matters now; anything else, even garbage, is ignored.
    let name: string;
    try {
      name = decodeMethodPayload(frame.payload).method.name;
    } catch {
      return;
    }
    if (name === "channel.close-ok") {
      this.state = "closed";
      this.host.channelGone(this);
    } else if (name === "channel.close") {
      this.send({ name: "channel.close-ok", args: {} }, true);
      this.state = "closed";
      this.host.channelGone(this);
    }
  }

  // --- command execution ----------------------------------------------------------------

  private submit(command: Command): void {
    if (this.busy) {
      this.backlog.push(command);
      this.backlogBytes += command.content?.body.length ?? 0;
      this.host.backlogChanged(this);
      return;
    }
    this.run(command);
  }

  private run(command: Command): void {
    let result: Promise<void> | undefined;
    try {
      result = this.execute(command);
    } catch (error) {
      this.host.commandFailed(this, error, command.classId, command.methodId);
      return;
    }
    if (result === undefined) return;
    this.busy = true;
    result.then(
      () => this.afterAsync(),
      (error: unknown) => {
        this.busy = false;
        if (this.state === "open") {
          this.host.commandFailed(this, error, command.classId, command.methodId);
        }
      },
    );
  }

  private afterAsync(): void {
    this.busy = false;
    if (this.state !== "open") return;
    const hadBacklog = this.backlog.length > 0;
    while (!this.busy && this.backlog.length > 0 && this.state === "open") {
      const command = this.backlog.shift()!;
      this.backlogBytes -= command.content?.body.length ?? 0;
      this.run(command);
    }
    if (hadBacklog) this.host.backlogChanged(this);
    this.host.scheduleFlush();
  }

  private send(method: AmqpMethod, evenIfClosing = false): void {
    if (this.state !== "open" && !evenIfClosing) return;
    this.host.output.method(this.id, method);
    this.host.scheduleFlush();
  }

  /** Runs one command; answers a promise when it completes later. */
  private execute(command: Command): Promise<void> | undefined {
    const method = command.method;
    switch (method.name) {
      case "basic.publish": {
        const content = command.content!;
        this.publish(method.args, content.properties, content.propertiesBytes, content.body);
        return undefined;
      }
      case "basic.ack":
        this.settle(method.args.deliveryTag, method.args.multiple, true, false);
        return undefined;
      case "basic.nack":
        this.settle(method.args.deliveryTag, method.args.multiple, false, method.args.requeue);
        return undefined;
      case "basic.reject":
        this.settle(method.args.deliveryTag, false, false, method.args.requeue);
        return undefined;
      case "basic.qos":
        this.qos(method.args.prefetchSize, method.args.prefetchCount, method.args.global);
        return undefined;
      case "basic.consume":
        this.consume(method.args);
        return undefined;
      case "basic.cancel":
        this.cancel(method.args.consumerTag, method.args.nowait);
        return undefined;
      case "basic.get":
        return this.get(method.args.queue, method.args.noAck);
      case "basic.recover":
      case "basic.recover-async":
        if (!method.args.requeue) throw new AmqpError(540, "requeue=false");
        this.recover();
        if (method.name === "basic.recover") this.send({ name: "basic.recover-ok", args: {} });
        return undefined;
      case "channel.open":
        throw new AmqpError(504, "second 'channel.open' seen");
      case "channel.close":
        this.release();
        this.send({ name: "channel.close-ok", args: {} }, true);
        this.state = "closed";
        this.host.channelGone(this);
        return undefined;
      case "channel.close-ok":
        // We never sent channel.close on an open channel: a stray close-ok is harmless.
        return undefined;
      case "channel.flow":
        this.flowActive = method.args.active;
        this.send({ name: "channel.flow-ok", args: { active: method.args.active } });
        if (this.flowActive) this.host.requestResume(this);
        return undefined;
      case "channel.flow-ok":
        return undefined;
      case "access.request":
        this.send({ name: "access.request-ok", args: { ticket: 1 } });
        return undefined;
      case "exchange.declare":
        return this.exchangeDeclare(method.args);
      case "exchange.delete":
        return this.reply(
          this.host.vhost.deleteExchange(this.host.identity, method.args.exchange, {
            ifUnused: method.args.ifUnused,
          }),
          method.args.nowait,
          { name: "exchange.delete-ok", args: {} },
        );
      case "exchange.bind":
        return this.reply(
          this.host.vhost.bindExchange(
            this.host.identity,
            method.args.destination,
            method.args.source,
            method.args.routingKey,
            toCoreTable(method.args.arguments),
          ),
          method.args.nowait,
          { name: "exchange.bind-ok", args: {} },
        );
      case "exchange.unbind":
        return this.reply(
          this.host.vhost.unbindExchange(
            this.host.identity,
            method.args.destination,
            method.args.source,
            method.args.routingKey,
            toCoreTable(method.args.arguments),
          ),
          method.args.nowait,
          { name: "exchange.unbind-ok", args: {} },
        );
      case "queue.declare":
        return this.queueDeclare(method.args);
      case "queue.bind": {
        const queue = this.queueName(method.args.queue);
        return this.reply(
          this.host.vhost.bindQueue(
            this.host.identity,
            queue,
            method.args.exchange,
            this.routingKeyOrQueue(method.args.routingKey, method.args.queue),
            toCoreTable(method.args.arguments),
          ),
          method.args.nowait,
          { name: "queue.bind-ok", args: {} },
        );
      }
      case "queue.unbind": {
        const queue = this.queueName(method.args.queue);
        return this.reply(
          this.host.vhost.unbindQueue(
            this.host.identity,
            queue,
            method.args.exchange,
            this.routingKeyOrQueue(method.args.routingKey, method.args.queue),
            toCoreTable(method.args.arguments),
          ),
          false,
          { name: "queue.unbind-ok", args: {} },
        );
      }
      case "queue.purge":
        return this.queuePurge(this.queueName(method.args.queue), method.args.nowait);
      case "queue.delete":
        return this.queueDelete(
          this.queueName(method.args.queue),
          method.args.ifUnused,
          method.args.ifEmpty,
          method.args.nowait,
        );
      case "confirm.select":
        if (this.mode === "tx") {
          throw new AmqpError(406, "cannot switch from tx to confirm mode");
        }
        if (this.mode !== "confirm") {
          this.mode = "confirm";
          this.confirms = new ConfirmTracker();
        }
        if (!method.args.nowait) this.send({ name: "confirm.select-ok", args: {} });
        return undefined;
      case "tx.select":
        if (this.mode === "confirm") {
          throw new AmqpError(406, "cannot switch from confirm to tx mode");
        }
        this.mode = "tx";
        this.send({ name: "tx.select-ok", args: {} });
        return undefined;
      case "tx.commit":
        if (this.mode !== "tx") throw new AmqpError(406, "channel is not transactional");
        return this.commit();
      case "tx.rollback":
        if (this.mode !== "tx") throw new AmqpError(406, "channel is not transactional");
        this.rollback();
        this.send({ name: "tx.rollback-ok", args: {} });
        return undefined;
      default:
        // Server-to-client methods and connection methods on a channel other than 0.
        throw new AmqpError(503, `method ${method.name} is not allowed on channel ${this.id}`);
    }
  }

  private async reply(work: Promise<unknown>, nowait: boolean, ok: AmqpMethod): Promise<void> {
    await work;
    if (!nowait) this.send(ok);
  }

  /** RabbitMQ's shortcut: an empty queue name means the channel's last declared queue. */
  private queueName(name: string): string {
    if (name !== "") return name;
    if (this.lastQueue === "") throw new AmqpError(404, "no previously declared queue");
    return this.lastQueue;
  }

  /** queue.bind with an empty queue and routing key binds with the queue's name as key. */
  private routingKeyOrQueue(routingKey: string, queue: string): string {
    return queue === "" && routingKey === "" ? this.lastQueue : routingKey;
  }

  // --- exchanges and queues ---------------------------------------------------------------

  private async exchangeDeclare(args: {
    exchange: string;
    type: string;
    passive: boolean;
    durable: boolean;
    autoDelete: boolean;
    internal: boolean;
    nowait: boolean;
    arguments: AmqpFieldTable;
  }): Promise<void> {
    await this.host.vhost.declareExchange(this.host.identity, args.exchange, args.type, {
      passive: args.passive,
      durable: args.durable,
      autoDelete: args.autoDelete,
      internal: args.internal,
      arguments: toCoreTable(args.arguments),
    });
    if (!args.nowait) this.send({ name: "exchange.declare-ok", args: {} });
  }

  private async queueDeclare(args: QueueDeclare): Promise<void> {
    if (args.queue === directReplyToQueue) {
      // The pseudo-queue exists for everyone (RabbitMQ answers a passive declare of it).
      if (!args.nowait) {
        this.send({
          name: "queue.declare-ok",
          args: { queue: args.queue, messageCount: 0, consumerCount: 0 },
        });
      }
      return;
    }
    const result = await this.host.vhost.declareQueue(this.host.identity, args.queue, {
      passive: args.passive,
      durable: args.durable,
      exclusive: args.exclusive,
      autoDelete: args.autoDelete,
      arguments: toCoreTable(args.arguments),
    });
    this.lastQueue = result.queue;
    if (!args.nowait) {
      this.send({
        name: "queue.declare-ok",
        args: {
          queue: result.queue,
          messageCount: result.messageCount,
          consumerCount: result.consumerCount,
        },
      });
    }
  }

  private async queuePurge(queue: string, nowait: boolean): Promise<void> {
    const messageCount = await this.host.vhost.purgeQueue(this.host.identity, queue);
    if (!nowait) this.send({ name: "queue.purge-ok", args: { messageCount } });
  }

  private async queueDelete(
    queue: string,
    ifUnused: boolean,
    ifEmpty: boolean,
    nowait: boolean,
  ): Promise<void> {
    const messageCount = await this.host.vhost.deleteQueue(this.host.identity, queue, {
      ifUnused,
      ifEmpty,
    });
    if (!nowait) this.send({ name: "queue.delete-ok", args: { messageCount } });
  }

  // --- publish ---------------------------------------------------------------------------

  private publish(
    args: BasicPublish,
    properties: BasicProperties,
    propertiesBytes: Buffer,
    body: Buffer,
  ): void {
    if (args.immediate) throw new AmqpError(540, "immediate=true");
    this.host.publishWhileBlocked();
    if (properties.userId !== undefined && properties.userId !== this.host.identity.user) {
      throw new AmqpError(
        406,
        `user_id property set to '${properties.userId}' but authenticated user was '${this.host.identity.user}'`,
      );
    }
    if (properties.replyTo === directReplyToQueue) {
      if (this.replyConsumerTag === null) {
        throw new AmqpError(406, "fast reply consumer does not exist");
      }
      this.replyAddress ??= this.host.replyRegistry.register(this);
      properties = { ...properties, replyTo: this.replyAddress };
      propertiesBytes = encodeBasicPropertyList(properties);
    }
    if (this.mode === "tx") {
      this.txBytes += body.length;
      if (this.txBytes > this.host.txBytesMax) {
        throw new AmqpError(406, `transaction larger than ${this.host.txBytesMax} bytes`);
      }
      // The body may be a view of a socket chunk: copy it, the transaction keeps it a while.
      this.txPublishes.push({
        exchange: args.exchange,
        routingKey: args.routingKey,
        mandatory: args.mandatory,
        content: {
          properties,
          propertiesBytes: Buffer.from(propertiesBytes),
          body: Buffer.from(body),
        },
      });
      return;
    }
    const result = this.route(
      args.exchange,
      args.routingKey,
      args.mandatory,
      properties,
      propertiesBytes,
      body,
    );
    const outcome = result.outcome;
    const sequence = this.confirms?.next() ?? 0;
    if (typeof outcome === "string") {
      if (sequence !== 0) {
        this.confirms!.settle(sequence, outcome === "ack");
        this.host.requestConfirms(this);
      }
      return;
    }
    // Counted with what the core holds per message besides the body, so that the session's
    // publish-in-flight limit also bounds floods of small messages.
    this.track(outcome, sequence, body.length + propertiesBytes.length + amqpPublishOverheadBytes);
  }

  /** Routes one message; sends basic.return for an unroutable mandatory one. */
  private route(
    exchange: string,
    routingKey: string,
    mandatory: boolean,
    properties: BasicProperties,
    propertiesBytes: Buffer,
    body: Buffer,
  ): PublishResult {
    let result: PublishResult;
    if (exchange === "" && routingKey.startsWith(directReplyToPrefix)) {
      const target = this.host.replyRegistry.find(routingKey);
      const routed = target?.deliverReply(exchange, routingKey, propertiesBytes, body) ?? false;
      result = { routed, outcome: "ack" };
    } else {
      result = this.host.vhost.publish(
        this.host.identity,
        {
          exchange,
          routingKey,
          properties: this.messageProperties(properties),
          propertiesBytes,
          body,
        },
        mandatory ? mandatoryOptions : plainOptions,
      );
    }
    if (!result.routed && mandatory) {
      this.host.output.method(this.id, {
        name: "basic.return",
        args: { replyCode: 312, replyText: "NO_ROUTE", exchange, routingKey },
      });
      this.host.output.content(this.id, propertiesBytes, body, this.host.frameBytesMax);
      this.host.scheduleFlush();
    }
    return result;
  }

  /** Core properties; those of the last decoded property list are converted once. */
  private messageProperties(properties: BasicProperties): MessageProperties {
    if (properties !== this.lastProperties) return toMessageProperties(properties);
    this.lastMessageProperties ??= toMessageProperties(properties);
    return this.lastMessageProperties;
  }

  /** Waits for a pending outcome; consecutive publishes sharing a promise share one `then`. */
  private track(promise: Promise<"ack" | "nack">, sequence: number, bytes: number): void {
    this.host.publishStarted(bytes);
    const current = this.pendingOutcome;
    if (current !== null && current.promise === promise) {
      if (sequence !== 0) {
        if (current.first === 0) current.first = sequence;
        current.last = sequence;
      }
      current.bytes += bytes;
      return;
    }
    const pending: PendingOutcome = { promise, first: sequence, last: sequence, bytes };
    this.pendingOutcome = pending;
    promise.then(
      (outcome) => this.outcomeSettled(pending, outcome === "ack"),
      (error: unknown) => {
        this.host.logger.warn({ err: error }, "publish outcome failed; nacking");
        this.outcomeSettled(pending, false);
      },
    );
  }

  private outcomeSettled(pending: PendingOutcome, ack: boolean): void {
    if (this.pendingOutcome === pending) this.pendingOutcome = null;
    this.host.publishSettled(pending.bytes);
    const confirms = this.confirms;
    if (pending.first === 0 || confirms === null || this.state !== "open") return;
    // Publishes in the range settled at once already keep their outcome (settle skips them).
    for (let sequence = pending.first; sequence <= pending.last; sequence++) {
      confirms.settle(sequence, ack);
    }
    this.host.requestConfirms(this);
  }

  /** Writes the confirms that are due (called by the session before each flush). */
  drainConfirms(): void {
    const confirms = this.confirms;
    if (confirms === null || this.state !== "open") return;
    confirms.drain((ack, sequence, multiple) =>
      this.host.output.confirm(this.id, ack, sequence, multiple),
    );
  }

  // --- direct reply-to ---------------------------------------------------------------------

  deliverReply(exchange: string, routingKey: string, propertiesBytes: Buffer, body: Buffer) {
    if (this.state !== "open" || this.replyConsumerTag === null) return false;
    const tag = this.nextDeliveryTag++;
    this.host.output.deliver(
      this.id,
      Buffer.from(this.replyConsumerTag),
      tag,
      false,
      exchange,
      routingKey,
      propertiesBytes,
      body,
      this.host.frameBytesMax,
    );
    this.host.scheduleFlush();
    return true;
  }

  // --- consumers -----------------------------------------------------------------------------

  private qos(prefetchBytes: number, prefetchCount: number, global: boolean): void {
    if (global) {
      this.channelPrefetchCount = prefetchCount;
      this.channelPrefetchBytes = prefetchBytes;
    } else {
      this.consumerPrefetchCount = prefetchCount;
      this.consumerPrefetchBytes = prefetchBytes;
    }
    this.send({ name: "basic.qos-ok", args: {} });
    this.host.requestResume(this);
  }

  private consume(args: BasicConsume): void {
    const tag = args.consumerTag === "" ? generateConsumerTag() : args.consumerTag;
    if (this.consumers.has(tag) || this.replyConsumerTag === tag) {
      throw new AmqpError(530, `attempt to reuse consumer tag '${tag}'`);
    }
    if (args.queue === directReplyToQueue) {
      if (!args.noAck) {
        throw new AmqpError(406, "reply consumer cannot acknowledge");
      }
      if (this.replyConsumerTag !== null) {
        throw new AmqpError(406, "reply consumer already set");
      }
      this.replyConsumerTag = tag;
      if (!args.nowait) this.send({ name: "basic.consume-ok", args: { consumerTag: tag } });
      return;
    }
    const queue = this.queueName(args.queue);
    if (
      this.host.vhost.listQueues().some((info) => info.name === queue && info.type === "stream")
    ) {
      // RabbitMQ's stream queues: manual acks and a consumer prefetch are required.
      if (args.noAck) {
        throw new AmqpError(540, `automatic acknowledgement not supported by stream queues`);
      }
      if (this.consumerPrefetchCount === 0) {
        throw new AmqpError(406, `consumer prefetch count is not set for stream queue '${queue}'`);
      }
    }
    const priority = fieldNumber(args.arguments, "x-priority") ?? 0;
    const consumer = new AmqpConsumer(
      tag,
      queue,
      priority,
      args.noAck,
      this.consumerPrefetchCount,
      this.consumerPrefetchBytes,
      this,
    );
    // Registered before the core may call back (cancelled) synchronously.
    this.consumers.set(tag, consumer);
    try {
      consumer.registration = this.host.vhost.consume(this.host.identity, queue, consumer, {
        exclusive: args.exclusive,
        arguments: toCoreTable(args.arguments),
      });
    } catch (error) {
      this.consumers.delete(tag);
      throw error;
    }
    if (!args.nowait) this.send({ name: "basic.consume-ok", args: { consumerTag: tag } });
    consumer.ready = true;
    this.host.requestResume(this);
  }

  private cancel(tag: string, nowait: boolean): void {
    if (tag === this.replyConsumerTag) {
      this.replyConsumerTag = null;
      if (this.replyAddress !== null) this.host.replyRegistry.unregister(this.replyAddress);
      this.replyAddress = null;
    }
    const consumer = this.consumers.get(tag);
    if (consumer !== undefined) {
      this.consumers.delete(tag);
      consumer.ready = false;
      consumer.registration?.cancel();
    }
    // RabbitMQ answers cancel-ok for an unknown tag too.
    if (!nowait) this.send({ name: "basic.cancel-ok", args: { consumerTag: tag } });
  }

  consumerCancelled(consumer: AmqpConsumer): void {
    if (this.consumers.get(consumer.tag) !== consumer) return;
    this.consumers.delete(consumer.tag);
    consumer.ready = false;
    if (this.state === "open" && this.host.capabilities.consumerCancelNotify) {
      this.send({ name: "basic.cancel", args: { consumerTag: consumer.tag, nowait: true } });
    }
  }

  canTake(consumer: AmqpConsumer, bodyBytes: number): boolean {
    if (this.state !== "open" || !this.flowActive || !this.host.outputHasRoom()) return false;
    if (consumer.noAck) return true;
    if (!consumer.hasRoom(bodyBytes)) return false;
    if (this.channelPrefetchCount !== 0 && this.unackedCount >= this.channelPrefetchCount) {
      return false;
    }
    if (
      this.channelPrefetchBytes !== 0 &&
      this.unackedCount > 0 &&
      this.unackedBytes + bodyBytes > this.channelPrefetchBytes
    ) {
      return false;
    }
    return true;
  }

  deliverMessage(consumer: AmqpConsumer, message: QueuedMessage): void {
    const tag = this.nextDeliveryTag++;
    if (!consumer.noAck) {
      this.unacked.set(tag, new Unacked(message, consumer));
      const bytes = message.body.length;
      consumer.unacked++;
      consumer.unackedBytes += bytes;
      this.unackedCount++;
      this.unackedBytes += bytes;
    }
    this.host.output.deliver(
      this.id,
      consumer.tagBytes,
      tag,
      message.redelivered,
      message.exchange,
      message.routingKey,
      deliveredProperties(message),
      message.body,
      this.host.frameBytesMax,
    );
    this.host.scheduleFlush();
  }

  /** Registrations resume after acks, qos or flow changes, or when the socket drained. */
  resumeConsumers(): void {
    if (this.state !== "open") return;
    for (const consumer of this.consumers.values()) {
      if (consumer.ready) consumer.registration?.resume();
    }
  }

  private async get(queueArg: string, noAck: boolean): Promise<void> {
    const queue = this.queueName(queueArg);
    const result = await this.host.vhost.get(this.host.identity, queue, noAck);
    if (this.state !== "open") {
      // The channel closed while the get was pending: the message goes back.
      if (result !== null && !noAck) result.message.source.reject(result.message.id, true);
      return;
    }
    if (result === null) {
      this.send({ name: "basic.get-empty", args: { clusterId: "" } });
      return;
    }
    const message = result.message;
    const tag = this.nextDeliveryTag++;
    if (!noAck) {
      this.unacked.set(tag, new Unacked(message, null));
      this.unackedCount++;
      this.unackedBytes += message.body.length;
    }
    this.host.output.method(this.id, {
      name: "basic.get-ok",
      args: {
        deliveryTag: tag,
        redelivered: message.redelivered,
        exchange: message.exchange,
        routingKey: message.routingKey,
        messageCount: result.messageCount,
      },
    });
    this.host.output.content(
      this.id,
      deliveredProperties(message),
      message.body,
      this.host.frameBytesMax,
    );
    this.host.scheduleFlush();
  }

  // --- acknowledgements ----------------------------------------------------------------------

  /** basic.ack / nack / reject: tag 0 with multiple means every outstanding delivery. */
  private settle(tag: number, multiple: boolean, ack: boolean, requeue: boolean): void {
    if (!multiple && this.mode !== "tx") {
      // One delivery (the common case): no entry list.
      const entry = this.unacked.get(tag);
      if (entry === undefined) throw new AmqpError(406, `unknown delivery tag ${tag}`);
      this.unacked.delete(tag);
      const message = entry.message;
      if (ack) message.source.ack(message.id);
      else message.source.reject(message.id, requeue);
      this.release1(entry);
      this.host.requestResume(this);
      return;
    }
    const entries: Array<[number, Unacked]> = [];
    if (multiple && tag === 0) {
      for (const entry of this.unacked) entries.push(entry);
    } else {
      if (!this.unacked.has(tag)) throw new AmqpError(406, `unknown delivery tag ${tag}`);
      if (multiple) {
        for (const entry of this.unacked) {
          if (entry[0] > tag) break;
          entries.push(entry);
        }
      } else {
        entries.push([tag, this.unacked.get(tag)!]);
      }
    }
    for (const [deliveryTag] of entries) this.unacked.delete(deliveryTag);
    if (this.mode === "tx") {
      // Applied at commit; the windows stay taken until then, as in RabbitMQ.
      this.txSettles.push({ entries, ack, requeue });
      return;
    }
    this.apply(entries, ack, requeue);
  }

  private apply(entries: Array<[number, Unacked]>, ack: boolean, requeue: boolean): void {
    for (const [, entry] of entries) {
      const message = entry.message;
      if (ack) message.source.ack(message.id);
      else message.source.reject(message.id, requeue);
      this.release1(entry);
    }
    if (entries.length > 0) this.host.requestResume(this);
  }

  /** Frees the windows one delivery held. */
  private release1(entry: Unacked): void {
    const bytes = entry.message.body.length;
    this.unackedCount--;
    this.unackedBytes -= bytes;
    const consumer = entry.consumer;
    if (consumer !== null) {
      consumer.unacked--;
      consumer.unackedBytes -= bytes;
    }
  }

  /** basic.recover(requeue=true): every unacknowledged delivery goes back to its queue. */
  private recover(): void {
    const entries = [...this.unacked];
    this.unacked.clear();
    this.apply(entries, false, true);
  }

  // --- transactions ---------------------------------------------------------------------------

  private async commit(): Promise<void> {
    const publishes = this.txPublishes;
    const settles = this.txSettles;
    this.txPublishes = [];
    this.txSettles = [];
    this.txBytes = 0;
    const waits: Array<Promise<"ack" | "nack">> = [];
    for (const publish of publishes) {
      const content = publish.content;
      const result = this.route(
        publish.exchange,
        publish.routingKey,
        publish.mandatory,
        content.properties,
        content.propertiesBytes,
        content.body,
      );
      if (typeof result.outcome !== "string") waits.push(result.outcome);
    }
    for (const settle of settles) this.apply(settle.entries, settle.ack, settle.requeue);
    // tx.commit-ok means the published messages are durable where they went.
    await Promise.all(waits);
    this.send({ name: "tx.commit-ok", args: {} });
  }

  private rollback(): void {
    this.txPublishes = [];
    this.txBytes = 0;
    if (this.txSettles.length === 0) return;
    // Acks not committed are undone: the deliveries are outstanding again, in tag order.
    const all = [...this.unacked];
    for (const settle of this.txSettles) all.push(...settle.entries);
    this.txSettles = [];
    all.sort((a, b) => a[0] - b[0]);
    this.unacked.clear();
    for (const [tag, entry] of all) this.unacked.set(tag, entry);
  }

  // --- closing ---------------------------------------------------------------------------------

  /** The server closes this channel (a soft error): channel.close, then await close-ok. */
  closeWith(error: AmqpError, classId: number, methodId: number): void {
    if (this.state !== "open") return;
    this.host.output.method(this.id, {
      name: "channel.close",
      args: { replyCode: error.replyCode, replyText: error.message, classId, methodId },
    });
    this.host.scheduleFlush();
    this.release();
    this.state = "closing";
  }

  /**
   * Releases everything the channel holds: consumers are cancelled, outstanding deliveries
   * (and acks of an uncommitted transaction) are requeued in tag order. Idempotent.
   */
  release(): void {
    this.assembly = null;
    this.backlog.length = 0;
    this.backlogBytes = 0;
    for (const consumer of this.consumers.values()) {
      consumer.ready = false;
      consumer.registration?.cancel();
    }
    this.consumers.clear();
    if (this.replyAddress !== null) this.host.replyRegistry.unregister(this.replyAddress);
    this.replyAddress = null;
    this.replyConsumerTag = null;
    this.rollback();
    this.txPublishes = [];
    for (const [, entry] of this.unacked) {
      entry.message.source.reject(entry.message.id, true);
    }
    this.unacked.clear();
    this.unackedCount = 0;
    this.unackedBytes = 0;
    this.confirms = null;
    if (this.state === "open") this.state = "closing";
  }
}

/** `amq.ctag-` and 22 random base64url characters, as RabbitMQ names server-made tags. */
function generateConsumerTag(): string {
  return `amq.ctag-${randomBytes(16).toString("base64url")}`;
}

/**
 * The property bytes a delivery carries: the stored ones, except that stream queues add the
 * `x-stream-offset` header and queues with a delivery limit add `x-delivery-count`, as
 * RabbitMQ's stream and quorum queues do. The only delivery path that re-encodes properties.
 */
export function deliveredProperties(message: QueuedMessage): Buffer {
  if (message.streamOffset === undefined && message.deliveryCount === undefined) {
    return message.propertiesBytes;
  }
  const properties = decodeBasicPropertyList(message.propertiesBytes);
  const headers = new Map<string, AmqpFieldValue>(properties.headers ?? []);
  if (message.streamOffset !== undefined) {
    headers.set("x-stream-offset", { type: "l", value: BigInt(message.streamOffset) });
  }
  if (message.deliveryCount !== undefined) {
    headers.set("x-delivery-count", { type: "l", value: BigInt(message.deliveryCount) });
  }
  return encodeBasicPropertyList({ ...properties, headers });
}
