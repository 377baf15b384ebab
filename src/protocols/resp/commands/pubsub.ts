/**
 * Pub/sub commands (redis/src/pubsub.c) on the core's channel registry: SUBSCRIBE,
 * UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH and
 * PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB.
 *
 * Confirmations are `[kind, channel, count]` per channel: RESP3 pushes, RESP2 arrays. The
 * count is channels + patterns for (P)(UN)SUBSCRIBE and shard channels for S(UN)SUBSCRIBE, as
 * Redis counts them. An unsubscribe-all with nothing subscribed answers once with a null
 * channel and 0.
 */
import type {
  ChannelRegistry,
  ChannelSubscriber,
} from "../../../core/channels/channel-registry.ts";
import { helpReply, RespPush, RespReplies, type RespValue } from "../codec/reply.ts";
import type { RespCommand, RespCommandContext } from "./command.ts";

type Kind = "channel" | "pattern" | "shard";

interface SubscriptionOps {
  subscribeName: string;
  unsubscribeName: string;
  add(registry: ChannelRegistry, subscriber: ChannelSubscriber, name: Buffer): boolean;
  remove(registry: ChannelRegistry, subscriber: ChannelSubscriber, name: Buffer): boolean;
  held(subscriber: ChannelSubscriber): Map<string, Buffer>;
  count(subscriber: ChannelSubscriber): number;
}

const operations: Record<Kind, SubscriptionOps> = {
  channel: {
    subscribeName: "subscribe",
    unsubscribeName: "unsubscribe",
    add: (registry, subscriber, name) => registry.subscribe(subscriber, name),
    remove: (registry, subscriber, name) => registry.unsubscribe(subscriber, name),
    held: (subscriber) => subscriber.channels,
    count: (subscriber) => subscriber.subscriptionCount,
  },
  pattern: {
    subscribeName: "psubscribe",
    unsubscribeName: "punsubscribe",
    add: (registry, subscriber, name) => registry.psubscribe(subscriber, name),
    remove: (registry, subscriber, name) => registry.punsubscribe(subscriber, name),
    held: (subscriber) => subscriber.patterns,
    count: (subscriber) => subscriber.subscriptionCount,
  },
  shard: {
    subscribeName: "ssubscribe",
    unsubscribeName: "sunsubscribe",
    add: (registry, subscriber, name) => registry.ssubscribe(subscriber, name),
    remove: (registry, subscriber, name) => registry.sunsubscribe(subscriber, name),
    held: (subscriber) => subscriber.shardChannels,
    count: (subscriber) => subscriber.shardSubscriptionCount,
  },
};

function subscribe(kind: Kind) {
  const ops = operations[kind];
  return (context: RespCommandContext, args: readonly Buffer[]): RespValue => {
    const subscriber = context.client.subscriber;
    const replies: RespValue[] = [];
    for (let i = 1; i < args.length; i++) {
      const name = Buffer.from(args[i]!);
      ops.add(context.channels, subscriber, name);
      replies.push(new RespPush([ops.subscribeName, name, ops.count(subscriber)]));
    }
    return new RespReplies(replies);
  };
}

function unsubscribe(kind: Kind) {
  const ops = operations[kind];
  return (context: RespCommandContext, args: readonly Buffer[]): RespValue => {
    const subscriber = context.client.subscriber;
    const names =
      args.length > 1
        ? args.slice(1).map((name) => Buffer.from(name))
        : [...ops.held(subscriber).values()];
    if (names.length === 0) return new RespPush([ops.unsubscribeName, null, ops.count(subscriber)]);
    const replies: RespValue[] = [];
    for (const name of names) {
      ops.remove(context.channels, subscriber, name);
      replies.push(new RespPush([ops.unsubscribeName, name, ops.count(subscriber)]));
    }
    return new RespReplies(replies);
  };
}

/** Unsubscribes from everything without replies (RESET). */
export function dropSubscriptions(context: RespCommandContext): void {
  context.channels.removeSubscriber(context.client.subscriber);
}

/**
 * PUBLISH's handler; the session recognises it (by identity) to run PUBLISH requests through
 * its fast path (`RespParser.nextPublish`, `ChannelRegistry.publishRange`), same semantics.
 */
export const publishHandler = (context: RespCommandContext, args: readonly Buffer[]): RespValue =>
  context.channels.publish(args[1]!, args[2]!);

const pubsubFlags = ["pubsub", "noscript", "loading", "stale"] as const;

export const pubsubCommands: readonly RespCommand[] = [
  {
    name: "subscribe",
    arity: -2,
    flags: pubsubFlags,
    allowedWhileSubscribed: true,
    summary: "Listens for messages published to channels.",
    since: "2.0.0",
    group: "pubsub",
    complexity: "O(N) where N is the number of channels to subscribe to.",
    arguments: [{ name: "channel", type: "string", flags: ["multiple"] }],
    handler: subscribe("channel"),
  },
  {
    name: "unsubscribe",
    arity: -1,
    flags: pubsubFlags,
    allowedWhileSubscribed: true,
    summary: "Stops listening to messages posted to channels.",
    since: "2.0.0",
    group: "pubsub",
    complexity: "O(N) where N is the number of channels to unsubscribe.",
    arguments: [{ name: "channel", type: "string", flags: ["optional", "multiple"] }],
    handler: unsubscribe("channel"),
  },
  {
    name: "psubscribe",
    arity: -2,
    flags: pubsubFlags,
    allowedWhileSubscribed: true,
    summary: "Listens for messages published to channels that match one or more patterns.",
    since: "2.0.0",
    group: "pubsub",
    complexity: "O(N) where N is the number of patterns to subscribe to.",
    arguments: [{ name: "pattern", type: "pattern", flags: ["multiple"] }],
    handler: subscribe("pattern"),
  },
  {
    name: "punsubscribe",
    arity: -1,
    flags: pubsubFlags,
    allowedWhileSubscribed: true,
    summary: "Stops listening to messages published to channels that match one or more patterns.",
    since: "2.0.0",
    group: "pubsub",
    complexity: "O(N) where N is the number of patterns to unsubscribe.",
    arguments: [{ name: "pattern", type: "pattern", flags: ["optional", "multiple"] }],
    handler: unsubscribe("pattern"),
  },
  {
    name: "ssubscribe",
    arity: -2,
    flags: pubsubFlags,
    allowedWhileSubscribed: true,
    summary: "Listens for messages published to shard channels.",
    since: "7.0.0",
    group: "pubsub",
    complexity: "O(N) where N is the number of shard channels to subscribe to.",
    keys: { first: 1, last: -1, step: 1 },
    arguments: [{ name: "shardchannel", type: "string", flags: ["multiple"] }],
    handler: subscribe("shard"),
  },
  {
    name: "sunsubscribe",
    arity: -1,
    flags: pubsubFlags,
    allowedWhileSubscribed: true,
    summary: "Stops listening to messages posted to shard channels.",
    since: "7.0.0",
    group: "pubsub",
    complexity: "O(N) where N is the number of shard channels to unsubscribe.",
    keys: { first: 1, last: -1, step: 1 },
    arguments: [{ name: "shardchannel", type: "string", flags: ["optional", "multiple"] }],
    handler: unsubscribe("shard"),
  },
  {
    name: "publish",
    arity: 3,
    flags: ["pubsub", "loading", "stale", "fast", "may_replicate", "sentinel"],
    summary: "Posts a message to a channel.",
    since: "2.0.0",
    group: "pubsub",
    complexity:
      "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
    arguments: [
      { name: "channel", type: "string" },
      { name: "message", type: "string" },
    ],
    handler: publishHandler,
  },
  {
    name: "spublish",
    arity: 3,
    flags: ["pubsub", "loading", "stale", "fast", "may_replicate"],
    summary: "Post a message to a shard channel",
    since: "7.0.0",
    group: "pubsub",
    complexity: "O(N) where N is the number of clients subscribed to the receiving shard channel.",
    keys: { first: 1, last: 1, step: 1 },
    arguments: [
      { name: "shardchannel", type: "string" },
      { name: "message", type: "string" },
    ],
    handler: (context, args) => context.channels.spublish(args[1]!, args[2]!),
  },
  {
    name: "pubsub",
    arity: -2,
    flags: [],
    summary: "A container for Pub/Sub commands.",
    since: "2.8.0",
    group: "pubsub",
    complexity: "Depends on subcommand.",
    subcommands: [
      {
        name: "channels",
        arity: -2,
        flags: ["pubsub", "loading", "stale"],
        summary: "Returns the active channels.",
        since: "2.8.0",
        group: "pubsub",
        complexity:
          "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
        arguments: [{ name: "pattern", type: "pattern", flags: ["optional"] }],
        handler: (context, args) => context.channels.channelNames(args[2] ?? null),
      },
      {
        name: "numsub",
        arity: -2,
        flags: ["pubsub", "loading", "stale"],
        summary: "Returns a count of subscribers to channels.",
        since: "2.8.0",
        group: "pubsub",
        complexity: "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        arguments: [{ name: "channel", type: "string", flags: ["optional", "multiple"] }],
        handler: (context, args) => {
          const reply: RespValue[] = [];
          for (let i = 2; i < args.length; i++) {
            reply.push(Buffer.from(args[i]!), context.channels.subscriberCount(args[i]!));
          }
          return reply;
        },
      },
      {
        name: "numpat",
        arity: 2,
        flags: ["pubsub", "loading", "stale"],
        summary: "Returns a count of unique pattern subscriptions.",
        since: "2.8.0",
        group: "pubsub",
        complexity: "O(1)",
        handler: (context) => context.channels.patternCount,
      },
      {
        name: "shardchannels",
        arity: -2,
        flags: ["pubsub", "loading", "stale"],
        summary: "Returns the active shard channels.",
        since: "7.0.0",
        group: "pubsub",
        complexity:
          "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
        arguments: [{ name: "pattern", type: "pattern", flags: ["optional"] }],
        handler: (context, args) => context.channels.shardChannelNames(args[2] ?? null),
      },
      {
        name: "shardnumsub",
        arity: -2,
        flags: ["pubsub", "loading", "stale"],
        summary: "Returns the count of subscribers of shard channels.",
        since: "7.0.0",
        group: "pubsub",
        complexity:
          "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
        arguments: [{ name: "shardchannel", type: "string", flags: ["optional", "multiple"] }],
        handler: (context, args) => {
          const reply: RespValue[] = [];
          for (let i = 2; i < args.length; i++) {
            reply.push(Buffer.from(args[i]!), context.channels.shardSubscriberCount(args[i]!));
          }
          return reply;
        },
      },
      {
        name: "help",
        arity: 2,
        flags: ["loading", "stale"],
        summary: "Returns helpful text about the different subcommands.",
        since: "6.2.0",
        group: "pubsub",
        complexity: "O(1)",
        handler: () =>
          helpReply([
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
          ]),
      },
    ],
  },
];
