/**
 * Child process of queue-crash.test.ts: fills a durable queue, delivers and acks part of it,
 * prints "ready" once everything was handed to the logs, then waits to be killed (SIGKILL).
 */
import { silentLogger } from "../../../logging/logger.ts";
import { LogStore } from "../../../storage/log-store.ts";
import { Queue } from "../queue.ts";

const [dir, totalText, deliveredText, ackedText] = process.argv.slice(2);
const total = Number(totalText);
const delivered = Number(deliveredText);
const acked = Number(ackedText);

const logStore = await LogStore.open(dir!, { retentionCheckIntervalMs: 0 });
const queue = await Queue.open({
  name: "q",
  vhost: "/",
  logStore,
  logPrefix: "__queue-crash",
  durable: true,
  settings: { overflow: "drop-head", singleActiveConsumer: false },
  logger: silentLogger,
  onDeadLetter: () => {},
});
const waits: Promise<void>[] = [];
for (let i = 0; i < total; i++) {
  const result = queue.enqueue({
    exchange: "",
    routingKey: "q",
    propertiesBytes: Buffer.alloc(2),
    body: Buffer.from(`m${i}`),
    persistent: i % 10 !== 9, // every tenth is transient: gone after the crash
    priority: 0,
    expirationMs: undefined,
  });
  if (result.durable) waits.push(result.durable);
}
await Promise.all(waits);
for (let i = 0; i < delivered; i++) {
  const got = await queue.get(false);
  if (!got) throw new Error(`message ${i} missing`);
  if (i < acked) queue.ack(got.message.id);
}
// Let the journal's appends reach the log writer (written, not fsynced: kill -9 keeps them).
for (let i = 0; i < 50; i++) await new Promise((resolve) => setTimeout(resolve, 2));
process.stdout.write("ready\n");
setInterval(() => {}, 1000);
