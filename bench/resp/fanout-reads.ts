/**
 * Fan-out probe: one ioredis publisher (pipelines of 100 PUBLISH of 100 B, awaited in turn)
 * and `count` ioredis subscribers, all in this one process, against a server already running
 * on 127.0.0.1:<port>. Prints one JSON line: the run's wall time and how many messages a
 * subscriber's socket read carried on average (`messages_per_read`), which shows how the
 * server batches its writes to subscribers. Bounded: exits after 30 s.
 *
 *   node --import tsx bench/resp/fanout-reads.ts <port> <subscribers> <messages>
 */
import { Redis } from "ioredis";

const [port, count, messages] = process.argv.slice(2).map(Number) as [number, number, number];
const subscribers: Redis[] = [];
let received = 0;
let reads = 0;
const expected = count * messages;
const started = Date.now();

setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ port, timeout: true, received })}\n`);
  process.exit(1);
}, 30_000).unref();

const done = new Promise<void>((resolve) => {
  for (let i = 0; i < count; i++) {
    const subscriber = new Redis({ host: "127.0.0.1", port });
    subscriber.on("messageBuffer", () => {
      if (++received === expected) resolve();
    });
    subscribers.push(subscriber);
  }
});
for (const subscriber of subscribers) {
  await subscriber.subscribe("fanout");
  subscriber.stream.on("data", () => reads++);
}
const publisher = new Redis({ host: "127.0.0.1", port });
const body = Buffer.from("x".repeat(100));
const publishStarted = Date.now();
for (let sent = 0; sent < messages; sent += 100) {
  const batch = publisher.pipeline();
  for (let i = 0; i < Math.min(100, messages - sent); i++) batch.publish("fanout", body);
  await batch.exec();
}
await done;
const seconds = (Date.now() - publishStarted) / 1000;
process.stdout.write(
  `${JSON.stringify({
    port,
    subscribers: count,
    messages,
    seconds,
    setup_seconds: (publishStarted - started) / 1000,
    messages_per_read: Math.round((received / reads) * 10) / 10,
  })}\n`,
);
publisher.disconnect();
for (const subscriber of subscribers) subscriber.disconnect();
process.exit(0);
