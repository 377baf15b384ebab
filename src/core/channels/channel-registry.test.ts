import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type ChannelDelivery,
  ChannelRegistry,
  type ChannelSink,
  type ChannelSubscriber,
} from "./channel-registry.ts";

const b = (text: string) => Buffer.from(text);

class FakeSink implements ChannelSink {
  received: ChannelDelivery[] = [];
  pending = 0;
  disconnectedFor: string | null = null;
  deliver(delivery: ChannelDelivery): void {
    this.received.push(delivery);
  }
  pendingBytes(): number {
    return this.pending;
  }
  disconnect(reason: string): void {
    this.disconnectedFor = reason;
  }
  describe(): Record<string, unknown> {
    return { fake: true };
  }
}

function subscriber(registry: ChannelRegistry): { sink: FakeSink; sub: ChannelSubscriber } {
  const sink = new FakeSink();
  return { sink, sub: registry.createSubscriber(sink) };
}

test("publish counts receivers as Redis does: channel plus every matching pattern", () => {
  const registry = new ChannelRegistry();
  const a = subscriber(registry);
  const c = subscriber(registry);
  assert.equal(registry.subscribe(a.sub, b("news.sport")), true);
  assert.equal(registry.subscribe(a.sub, b("news.sport")), false);
  registry.psubscribe(a.sub, b("news.*"));
  registry.psubscribe(a.sub, b("*sport"));
  registry.psubscribe(c.sub, b("news.*"));
  assert.equal(a.sub.subscriptionCount, 3);
  assert.equal(registry.publish(b("news.sport"), b("goal")), 4);
  assert.deepEqual(
    a.sink.received.map((d) => [d.kind, d.pattern?.toString() ?? null]),
    [
      ["message", null],
      ["pmessage", "news.*"],
      ["pmessage", "*sport"],
    ],
  );
  // One delivery object per (message, pattern), shared by its subscribers.
  assert.equal(a.sink.received[1], c.sink.received[0]);
  assert.equal(registry.publish(b("weather"), b("rain")), 0);
  assert.equal(registry.stats.delivered, 4);
});

test("shard channels are a namespace of their own", () => {
  const registry = new ChannelRegistry();
  const a = subscriber(registry);
  registry.ssubscribe(a.sub, b("orders"));
  registry.psubscribe(a.sub, b("*"));
  assert.equal(registry.spublish(b("orders"), b("x")), 1);
  assert.equal(a.sink.received[0]!.kind, "smessage");
  assert.equal(registry.publish(b("orders"), b("y")), 1); // the pattern only
  assert.equal(a.sub.shardSubscriptionCount, 1);
  assert.equal(a.sub.subscriptionCount, 1);
  assert.deepEqual(registry.shardChannelNames().map(String), ["orders"]);
  assert.deepEqual(registry.channelNames(), []);
});

test("introspection: names, counts, unsubscribe and removal", () => {
  const registry = new ChannelRegistry();
  const a = subscriber(registry);
  const c = subscriber(registry);
  registry.subscribe(a.sub, b("a1"));
  registry.subscribe(a.sub, b("b1"));
  registry.subscribe(c.sub, b("a1"));
  registry.psubscribe(a.sub, b("x*"));
  registry.psubscribe(c.sub, b("x*"));
  assert.deepEqual(registry.channelNames(b("a*")).map(String), ["a1"]);
  assert.equal(registry.subscriberCount(b("a1")), 2);
  assert.equal(registry.patternCount, 1);
  assert.equal(registry.unsubscribe(a.sub, b("nope")), false);
  assert.equal(registry.unsubscribe(a.sub, b("a1")), true);
  assert.equal(registry.subscriberCount(b("a1")), 1);
  registry.removeSubscriber(c.sub);
  assert.equal(registry.subscriberCount(b("a1")), 0);
  assert.deepEqual(registry.channelNames().map(String), ["b1"]);
  assert.equal(registry.patternCount, 1);
  assert.equal(registry.punsubscribe(a.sub, b("x*")), true);
  assert.equal(registry.patternCount, 0);
  assert.equal(c.sub.subscribed, false);
});

test("binary channel names are kept byte for byte", () => {
  const registry = new ChannelRegistry();
  const a = subscriber(registry);
  const name = Buffer.from([0xff, 0x00, 0xc3, 0x28]);
  registry.subscribe(a.sub, name);
  assert.equal(registry.publish(Buffer.from(name), b("p")), 1);
  assert.deepEqual(registry.channelNames()[0], name);
});

test("a subscriber over the hard output-buffer limit is disconnected at once", () => {
  const registry = new ChannelRegistry({ hardLimitBytes: 100, softLimitBytes: 50 });
  const slow = subscriber(registry);
  const fast = subscriber(registry);
  registry.subscribe(slow.sub, b("c"));
  registry.subscribe(fast.sub, b("c"));
  slow.sink.pending = 101;
  assert.equal(registry.publish(b("c"), b("m")), 2);
  assert.match(slow.sink.disconnectedFor ?? "", /hard/);
  assert.equal(fast.sink.disconnectedFor, null);
  assert.equal(registry.stats.disconnectedHardLimit, 1);
  assert.equal(registry.subscriberCount(b("c")), 1);
  assert.equal(registry.publish(b("c"), b("m")), 1);
});

test("a subscriber over the soft limit for longer than the soft period is disconnected", () => {
  let now = 1_000;
  const registry = new ChannelRegistry({
    hardLimitBytes: 1000,
    softLimitBytes: 100,
    softLimitMs: 60_000,
    now: () => now,
  });
  const slow = subscriber(registry);
  registry.subscribe(slow.sub, b("c"));
  slow.sink.pending = 200;
  registry.publish(b("c"), b("m")); // first seen above: the clock starts
  now += 60_000;
  registry.publish(b("c"), b("m")); // exactly the period: still allowed
  assert.equal(slow.sink.disconnectedFor, null);
  slow.sink.pending = 10; // drained below: the clock resets
  registry.publish(b("c"), b("m"));
  slow.sink.pending = 200;
  now += 100_000;
  registry.publish(b("c"), b("m"));
  assert.equal(slow.sink.disconnectedFor, null);
  now += 60_001;
  registry.publish(b("c"), b("m"));
  assert.match(slow.sink.disconnectedFor ?? "", /soft/);
  assert.equal(registry.stats.disconnectedSoftLimit, 1);
});

test("publishRange publishes a channel and a message given as ranges of an input buffer", () => {
  const registry = new ChannelRegistry();
  const a = subscriber(registry);
  const input = b("..news.sport..goal!..");
  const publish = () => registry.publishRange(input, 2, 12, 14, 19);
  assert.equal(publish(), 0); // nobody: no views made, still counted as published
  registry.subscribe(a.sub, b("news.sport"));
  assert.equal(publish(), 1);
  registry.unsubscribe(a.sub, b("news.sport"));
  registry.psubscribe(a.sub, b("news.*"));
  assert.equal(publish(), 1);
  assert.equal(registry.publishRange(input, 2, 6, 14, 19), 0); // "news": the pattern misses
  assert.deepEqual(
    a.sink.received.map((d) => [d.kind, d.channel.toString(), d.payload.toString()]),
    [
      ["message", "news.sport", "goal!"],
      ["pmessage", "news.sport", "goal!"],
    ],
  );
  assert.equal(registry.stats.published, 4);
  assert.equal(registry.stats.delivered, 2);
  // The cached key follows the bytes, not the position: same length, other channel.
  registry.punsubscribe(a.sub, b("news.*"));
  registry.subscribe(a.sub, b("news.sporT"));
  assert.equal(registry.publishRange(b("news.sporTx"), 0, 10, 10, 11), 1);
  assert.equal(publish(), 0);
});
