/**
 * Channels: the third shape of DESIGN.md. No log: a registry of live subscriptions (exact
 * channel names, glob patterns, and sharded channels) and fan-out of each published message
 * to the subscribers present at that moment. Nothing is stored; a subscriber that is not
 * connected misses the message, as with Redis pub/sub.
 *
 * Semantics follow a single-node Redis (redis/src/pubsub.c), because RESP clients depend on
 * them:
 * - `publish` delivers to every subscriber of the exact channel, then once per matching
 *   pattern subscription (a subscriber holding the channel and two matching patterns gets the
 *   message three times), and returns that number of deliveries: Redis's receiver count.
 * - Sharded channels (SSUBSCRIBE/SPUBLISH) are a namespace of their own: `spublish` reaches
 *   only shard subscribers of that exact channel; patterns never see it. On one node there
 *   are no slots, so no cross-slot checks.
 * - Channel names and patterns are binary: keys are the bytes as latin1 strings (one char per
 *   byte), never decoded as UTF-8.
 *
 * Fan-out shares one `ChannelDelivery` per (message, pattern) among all its subscribers; the
 * protocol adapter encodes it once per wire format (`ChannelDelivery.encodings`), so the
 * payload is never copied per subscriber.
 *
 * Bounded memory: each subscriber reports the bytes queued on its connection
 * (`ChannelSink.pendingBytes`). After every delivery the registry applies Redis's
 * `client-output-buffer-limit pubsub` rule: above the hard limit the subscriber is
 * disconnected at once; above the soft limit for longer than the soft period (measured from
 * the first delivery that found it above), too. Each disconnect is logged and counted.
 *
 * Concurrency: everything runs on the event loop; a sink's `deliver` and `disconnect` must not
 * call back into the registry synchronously (they queue bytes and destroy sockets later).
 */
import {
  respPubsubBufferHardBytesDefault,
  respPubsubBufferSoftBytesDefault,
  respPubsubBufferSoftMsDefault,
} from "../../config/limits.ts";
import { type Logger, silentLogger } from "../../logging/logger.ts";
import { globMatch } from "./glob.ts";

export type DeliveryKind = "message" | "pmessage" | "smessage";

/** One message on its way to the subscribers of one channel or one pattern. */
export class ChannelDelivery {
  /**
   * Wire encodings cached by protocol adapters, indexed by a slot each adapter reserves with
   * `reserveEncodingSlot()`: the first subscriber of a format encodes, the others reuse.
   */
  readonly encodings: Array<Buffer | undefined> = [];
  /**
   * Subscribers this delivery is handed to (set before the first `deliver`): with 1, no other
   * connection reuses an encoding, so an adapter need not keep one.
   */
  recipients = 0;

  constructor(
    readonly kind: DeliveryKind,
    readonly channel: Buffer,
    /** The subscribed pattern that matched (`pmessage` only). */
    readonly pattern: Buffer | null,
    readonly payload: Buffer,
  ) {}
}

let encodingSlots = 0;

/** Reserves an index into `ChannelDelivery.encodings` for one wire format. */
export function reserveEncodingSlot(): number {
  return encodingSlots++;
}

/** What the registry needs from a subscriber's connection (implemented by the adapter). */
export interface ChannelSink {
  /** Queues one delivery on the connection; never blocks, never calls the registry. */
  deliver(delivery: ChannelDelivery): void;
  /** Bytes queued for this subscriber and not yet taken by the kernel: its output buffer. */
  pendingBytes(): number;
  /** Closes the connection (output-buffer limit); must not call the registry synchronously. */
  disconnect(reason: string): void;
  /** Identifies the connection in log lines (remote address, client name). */
  describe(): Record<string, unknown>;
}

/** A subscriber: the channels, patterns and shard channels one connection holds. */
export class ChannelSubscriber {
  /** Subscribed channels in subscription order (key: the name as latin1). */
  readonly channels = new Map<string, Buffer>();
  readonly patterns = new Map<string, Buffer>();
  readonly shardChannels = new Map<string, Buffer>();
  /** When the output buffer was first seen above the soft limit; -1 while below. */
  softLimitSince = -1;
  /** Set once disconnected by the registry: no more deliveries. */
  disconnected = false;

  constructor(
    readonly id: number,
    readonly sink: ChannelSink,
  ) {}

  /** Channels plus patterns: the count SUBSCRIBE/PSUBSCRIBE replies carry. */
  get subscriptionCount(): number {
    return this.channels.size + this.patterns.size;
  }

  /** Shard channels: the count SSUBSCRIBE replies carry. */
  get shardSubscriptionCount(): number {
    return this.shardChannels.size;
  }

  /** True while the subscriber holds any subscription (Redis's CLIENT_PUBSUB flag). */
  get subscribed(): boolean {
    return this.channels.size + this.patterns.size + this.shardChannels.size > 0;
  }
}

export interface ChannelRegistryOptions {
  logger?: Logger;
  /** Output-buffer limits (Redis's `client-output-buffer-limit pubsub`). */
  hardLimitBytes?: number;
  softLimitBytes?: number;
  softLimitMs?: number;
  /** Milliseconds clock; injected by tests. */
  now?: () => number;
}

export interface ChannelRegistryStats {
  /** PUBLISH and SPUBLISH calls. */
  published: number;
  /** Messages handed to subscribers (the sum of the receiver counts). */
  delivered: number;
  /** Subscribers disconnected by the output-buffer limits. */
  disconnectedHardLimit: number;
  disconnectedSoftLimit: number;
}

interface PatternEntry {
  readonly pattern: Buffer;
  readonly subscribers: Set<ChannelSubscriber>;
}

/** Channel names up to this length have their publish key cached (`publishKey`). */
const publishKeyCacheBytesMax = 256;

function keyOf(name: Buffer): string {
  return name.toString("latin1");
}

export class ChannelRegistry {
  readonly stats: ChannelRegistryStats = {
    published: 0,
    delivered: 0,
    disconnectedHardLimit: 0,
    disconnectedSoftLimit: 0,
  };
  private readonly channels = new Map<string, Set<ChannelSubscriber>>();
  private readonly patterns = new Map<string, PatternEntry>();
  private readonly shardChannels = new Map<string, Set<ChannelSubscriber>>();
  private readonly logger: Logger;
  private readonly hardLimitBytes: number;
  private readonly softLimitBytes: number;
  private readonly softLimitMs: number;
  private readonly now: () => number;
  private nextSubscriberId = 1;
  /**
   * The last channel published to and its key: a publisher usually repeats one channel, and
   * this spares making the same latin1 string on every PUBLISH. A copy (arguments are views
   * of the connection's input).
   */
  private lastChannel: Buffer | null = null;
  private lastChannelKey = "";

  constructor(options: ChannelRegistryOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.hardLimitBytes = options.hardLimitBytes ?? respPubsubBufferHardBytesDefault;
    this.softLimitBytes = options.softLimitBytes ?? respPubsubBufferSoftBytesDefault;
    this.softLimitMs = options.softLimitMs ?? respPubsubBufferSoftMsDefault;
    this.now = options.now ?? Date.now;
  }

  /** A new subscriber for one connection; it holds nothing until it subscribes. */
  createSubscriber(sink: ChannelSink): ChannelSubscriber {
    return new ChannelSubscriber(this.nextSubscriberId++, sink);
  }

  /** Subscribes to an exact channel; false when already subscribed. */
  subscribe(subscriber: ChannelSubscriber, channel: Buffer): boolean {
    return add(this.channels, subscriber.channels, subscriber, channel);
  }

  unsubscribe(subscriber: ChannelSubscriber, channel: Buffer): boolean {
    return remove(this.channels, subscriber.channels, subscriber, channel);
  }

  ssubscribe(subscriber: ChannelSubscriber, channel: Buffer): boolean {
    return add(this.shardChannels, subscriber.shardChannels, subscriber, channel);
  }

  sunsubscribe(subscriber: ChannelSubscriber, channel: Buffer): boolean {
    return remove(this.shardChannels, subscriber.shardChannels, subscriber, channel);
  }

  psubscribe(subscriber: ChannelSubscriber, pattern: Buffer): boolean {
    const key = keyOf(pattern);
    if (subscriber.patterns.has(key)) return false;
    const copy = Buffer.from(pattern);
    subscriber.patterns.set(key, copy);
    let entry = this.patterns.get(key);
    if (!entry) {
      entry = { pattern: copy, subscribers: new Set() };
      this.patterns.set(key, entry);
    }
    entry.subscribers.add(subscriber);
    return true;
  }

  punsubscribe(subscriber: ChannelSubscriber, pattern: Buffer): boolean {
    const key = keyOf(pattern);
    if (!subscriber.patterns.delete(key)) return false;
    const entry = this.patterns.get(key);
    if (entry) {
      entry.subscribers.delete(subscriber);
      if (entry.subscribers.size === 0) this.patterns.delete(key);
    }
    return true;
  }

  /** Drops every subscription of a subscriber (connection closed or RESET). */
  removeSubscriber(subscriber: ChannelSubscriber): void {
    for (const channel of [...subscriber.channels.values()]) this.unsubscribe(subscriber, channel);
    for (const pattern of [...subscriber.patterns.values()]) this.punsubscribe(subscriber, pattern);
    for (const channel of [...subscriber.shardChannels.values()])
      this.sunsubscribe(subscriber, channel);
  }

  /** Delivers to channel and pattern subscribers; returns Redis's receiver count. */
  publish(channel: Buffer, payload: Buffer): number {
    this.stats.published++;
    return this.publishTo(this.channels.get(this.publishKey(channel)), channel, payload);
  }

  /**
   * `publish` of the channel `input[channelStart, channelEnd)` and the message
   * `input[payloadStart, payloadEnd)` (a request in a connection's input buffer): the channel
   * is looked up in place, and views of the input are made only when someone receives it.
   */
  publishRange(
    input: Buffer,
    channelStart: number,
    channelEnd: number,
    payloadStart: number,
    payloadEnd: number,
  ): number {
    this.stats.published++;
    const exact = this.channels.get(this.publishKeyAt(input, channelStart, channelEnd));
    if (exact === undefined && this.patterns.size === 0) return 0;
    return this.publishTo(
      exact,
      input.subarray(channelStart, channelEnd),
      input.subarray(payloadStart, payloadEnd),
    );
  }

  private publishTo(
    exact: Set<ChannelSubscriber> | undefined,
    channel: Buffer,
    payload: Buffer,
  ): number {
    let receivers = 0;
    if (exact !== undefined) {
      receivers += this.fanOut(exact, new ChannelDelivery("message", channel, null, payload));
    }
    if (this.patterns.size > 0) {
      for (const entry of this.patterns.values()) {
        if (!globMatch(entry.pattern, channel)) continue;
        const delivery = new ChannelDelivery("pmessage", channel, entry.pattern, payload);
        receivers += this.fanOut(entry.subscribers, delivery);
      }
    }
    this.stats.delivered += receivers;
    return receivers;
  }

  /** Delivers to shard-channel subscribers of exactly this channel. */
  spublish(channel: Buffer, payload: Buffer): number {
    this.stats.published++;
    const subscribers = this.shardChannels.get(this.publishKey(channel));
    if (subscribers === undefined) return 0;
    const receivers = this.fanOut(
      subscribers,
      new ChannelDelivery("smessage", channel, null, payload),
    );
    this.stats.delivered += receivers;
    return receivers;
  }

  /** Channels with at least one subscriber, optionally filtered by a glob (PUBSUB CHANNELS). */
  channelNames(pattern: Buffer | null = null): Buffer[] {
    return namesOf(this.channels, pattern);
  }

  shardChannelNames(pattern: Buffer | null = null): Buffer[] {
    return namesOf(this.shardChannels, pattern);
  }

  /** Subscribers of one channel (PUBSUB NUMSUB). */
  subscriberCount(channel: Buffer): number {
    return this.channels.get(keyOf(channel))?.size ?? 0;
  }

  shardSubscriberCount(channel: Buffer): number {
    return this.shardChannels.get(keyOf(channel))?.size ?? 0;
  }

  /** Distinct patterns subscribed by anyone (PUBSUB NUMPAT). */
  get patternCount(): number {
    return this.patterns.size;
  }

  get channelCount(): number {
    return this.channels.size;
  }

  get shardChannelCount(): number {
    return this.shardChannels.size;
  }

  /** `keyOf(channel)`, reusing the last key when the bytes are the same. */
  private publishKey(channel: Buffer): string {
    return this.publishKeyAt(channel, 0, channel.length);
  }

  /** `keyOf(input[start, end))`, reusing the last key when the bytes are the same. */
  private publishKeyAt(input: Buffer, start: number, end: number): string {
    const last = this.lastChannel;
    const length = end - start;
    if (last !== null && last.length === length) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (last[i] !== input[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.lastChannelKey;
    }
    const key = input.toString("latin1", start, end);
    if (length <= publishKeyCacheBytesMax) {
      this.lastChannel = Buffer.from(input.subarray(start, end));
      this.lastChannelKey = key;
    }
    return key;
  }

  private fanOut(subscribers: Set<ChannelSubscriber>, delivery: ChannelDelivery): number {
    let receivers = 0;
    delivery.recipients = subscribers.size;
    for (const subscriber of subscribers) {
      receivers++;
      if (subscriber.disconnected) continue;
      subscriber.sink.deliver(delivery);
      this.checkOutputBuffer(subscriber);
    }
    return receivers;
  }

  /** Redis's `checkClientOutputBufferLimits` for the pubsub class. */
  private checkOutputBuffer(subscriber: ChannelSubscriber): void {
    const pending = subscriber.sink.pendingBytes();
    if (pending <= this.softLimitBytes && pending <= this.hardLimitBytes) {
      subscriber.softLimitSince = -1;
      return;
    }
    if (pending > this.hardLimitBytes) {
      this.stats.disconnectedHardLimit++;
      this.disconnect(subscriber, "hard", pending);
      return;
    }
    const now = this.now();
    if (subscriber.softLimitSince < 0) {
      subscriber.softLimitSince = now;
    } else if (now - subscriber.softLimitSince > this.softLimitMs) {
      this.stats.disconnectedSoftLimit++;
      this.disconnect(subscriber, "soft", pending);
    }
  }

  private disconnect(subscriber: ChannelSubscriber, limit: "hard" | "soft", pending: number): void {
    subscriber.disconnected = true;
    this.logger.warn(
      {
        ...subscriber.sink.describe(),
        limit,
        pendingBytes: pending,
        hardLimitBytes: this.hardLimitBytes,
        softLimitBytes: this.softLimitBytes,
        softLimitMs: this.softLimitMs,
      },
      "subscriber disconnected: output buffer over the pub/sub limit (client-output-buffer-limit pubsub)",
    );
    this.removeSubscriber(subscriber);
    subscriber.sink.disconnect(`pubsub output buffer over the ${limit} limit`);
  }
}

function add(
  index: Map<string, Set<ChannelSubscriber>>,
  own: Map<string, Buffer>,
  subscriber: ChannelSubscriber,
  channel: Buffer,
): boolean {
  const key = keyOf(channel);
  if (own.has(key)) return false;
  // A copy: the argument may be a view of the connection's input buffer.
  own.set(key, Buffer.from(channel));
  let subscribers = index.get(key);
  if (subscribers === undefined) {
    subscribers = new Set();
    index.set(key, subscribers);
  }
  subscribers.add(subscriber);
  return true;
}

function remove(
  index: Map<string, Set<ChannelSubscriber>>,
  own: Map<string, Buffer>,
  subscriber: ChannelSubscriber,
  channel: Buffer,
): boolean {
  const key = keyOf(channel);
  if (!own.delete(key)) return false;
  const subscribers = index.get(key);
  if (subscribers !== undefined) {
    subscribers.delete(subscriber);
    if (subscribers.size === 0) index.delete(key);
  }
  return true;
}

function namesOf(index: Map<string, Set<ChannelSubscriber>>, pattern: Buffer | null): Buffer[] {
  const names: Buffer[] = [];
  for (const key of index.keys()) {
    const name = Buffer.from(key, "latin1");
    if (pattern === null || globMatch(pattern, name)) names.push(name);
  }
  return names;
}
