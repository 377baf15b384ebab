/**
 * Delivery once written: a durable queue's persistent messages go to acking consumers when
 * their bytes are in the lane log, before its fdatasync, as RabbitMQ's do. Publisher confirms
 * and settlement still wait for the fdatasync; a failed one voids the early deliveries.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { FaultyFileSystem, systemError } from "../../storage/faulty-file-system.ts";
import { publish, QueueKit, settleDown, TestConsumer, waitFor } from "./queue-test-kit.ts";

/** A lane log's fdatasyncs held until released, or failed with EIO. */
class HeldSyncs {
  readonly fileSystem = new FaultyFileSystem();
  private held: { release: () => void; fail: (error: Error) => void }[] = [];
  holding = false;

  constructor() {
    this.fileSystem.fault = (operation, path) => {
      if (!this.holding || operation !== "datasync" || !/-p\d+\/[^/]+\.log$/.test(path)) return;
      return new Promise<void>((release, fail) => this.held.push({ release, fail }));
    };
  }

  get count(): number {
    return this.held.length;
  }

  release(): void {
    this.holding = false;
    for (const sync of this.held.splice(0)) sync.release();
  }

  fail(): void {
    this.holding = false;
    for (const sync of this.held.splice(0)) sync.fail(systemError("EIO"));
  }
}

let syncs: HeldSyncs;
let kit: QueueKit;

beforeEach(() => {
  syncs = new HeldSyncs();
  kit = new QueueKit(syncs.fileSystem);
});
afterEach(async () => {
  syncs.release();
  await kit.cleanup();
});

/** Publishes `bodies` (persistent) and records when each one's confirm settles. */
function publishAll(queue: Awaited<ReturnType<QueueKit["open"]>>, bodies: string[]) {
  const confirms: string[] = [];
  for (const body of bodies) {
    const { accepted, durable } = publish(queue, body);
    assert.ok(accepted && durable);
    durable.then(
      () => confirms.push(`${body} ok`),
      () => confirms.push(`${body} failed`),
    );
  }
  return confirms;
}

/**
 * A durable queue whose lane log is open (one message published, delivered and acked) and
 * its acking consumer, which has received that first message ("warm").
 */
async function durableQueueWithConsumer(prefetch?: number) {
  const queue = await kit.open({}, { durable: true });
  publishAll(queue, ["warm"]);
  const consumer = new TestConsumer("c", { prefetch }).subscribe(queue);
  await waitFor(() => consumer.received.length === 1, "the first delivery");
  consumer.settle(consumer.received[0]!);
  await settleDown();
  return { queue, consumer };
}

test("written persistent messages reach an acking consumer before their fdatasync; acks wait for it", async () => {
  const { queue, consumer } = await durableQueueWithConsumer();

  syncs.holding = true;
  const confirms = publishAll(queue, ["a", "b"]);
  await waitFor(() => consumer.received.length === 3, "deliveries before the fdatasync");
  assert.ok(syncs.count > 0, "the fdatasync is still held");
  assert.deepEqual(confirms, [], "no confirm before the fdatasync");
  assert.deepEqual(consumer.texts(), ["warm", "a", "b"]);
  const [, a, b] = consumer.received;
  assert.ok(a!.id < -1 && b!.id < -1, "ids of deliveries whose offsets are not final");
  consumer.settle(a!); // acked before durable: settled once it is
  assert.equal(queue.messagesUnacknowledged, 1);

  syncs.release();
  await waitFor(() => confirms.length === 2, "the confirms");
  assert.deepEqual(confirms, ["a ok", "b ok"]);
  consumer.settle(b!); // acked after durable, by the id it was delivered with
  assert.equal(queue.messagesUnacknowledged, 0);
  consumer.registration!.cancel();
  const reopened = await kit.restart(queue);
  assert.equal(reopened.messagesReady, 0, "both acks reached the journal");
  await reopened.close();
});

test("a failed fdatasync voids early deliveries: a stale ack never settles the offset's next message", async () => {
  const { queue, consumer } = await durableQueueWithConsumer();

  syncs.holding = true;
  const confirms = publishAll(queue, ["lost1", "lost2"]);
  await waitFor(() => consumer.received.length === 3, "deliveries before the fdatasync");
  const [, lost1, lost2] = consumer.received;
  consumer.settle(lost1!, "requeue"); // given back before durable: delivered again at once
  await waitFor(() => consumer.received.length === 4, "the redelivery");
  const lost1Again = consumer.received[3]!;
  assert.equal(lost1Again.body.toString(), "lost1");
  syncs.fail();
  await waitFor(() => confirms.length === 2, "the nacks");
  assert.deepEqual(confirms, ["lost1 failed", "lost2 failed"]);
  assert.equal(queue.messagesUnacknowledged, 0, "the void delivery is not unacked");
  assert.equal(queue.messagesReady, 0, "nor given back");

  // The next messages take the same offsets (the log hands them out again).
  const next = publishAll(queue, ["next1", "next2"]);
  await waitFor(() => next.length === 2 && consumer.received.length === 6, "the next messages");
  assert.deepEqual(next, ["next1 ok", "next2 ok"]);
  assert.deepEqual(consumer.texts().slice(4), ["next1", "next2"]);
  consumer.settle(lost2!); // stale acks: they settle nothing
  consumer.settle(lost1Again);
  assert.equal(queue.messagesUnacknowledged, 2);
  consumer.settle(consumer.received[4]!);
  consumer.registration!.cancel(); // next2 goes back unacked
  await settleDown();
  const reopened = await kit.restart(queue);
  const survivor = await reopened.get(true);
  assert.equal(survivor?.message.body.toString(), "next2");
  assert.equal(await reopened.get(true), null);
  await reopened.close();
});

test("a message given back before its fdatasync goes back to the head, redelivered under a new id", async () => {
  const { queue, consumer } = await durableQueueWithConsumer(1);

  syncs.holding = true;
  publishAll(queue, ["x", "y"]);
  await waitFor(() => consumer.received.length === 2, "x before the fdatasync");
  const first = consumer.received[1]!;
  consumer.settle(first, "requeue");
  await waitFor(() => consumer.received.length === 3, "the redelivery");
  assert.ok(syncs.count > 0, "the fdatasync is still held");
  const again = consumer.received[2]!;
  assert.deepEqual([again.body.toString(), again.redelivered], ["x", true]);
  assert.ok(again.id < -1 && again.id !== first.id, "a new early id");
  queue.ack(first.id); // the first delivery's id is spent
  assert.equal(queue.messagesUnacknowledged, 1);
  syncs.release();
  await settleDown();
  consumer.settle(again);
  await waitFor(() => consumer.received.length === 4, "y");
  assert.equal(consumer.received[3]!.body.toString(), "y");
  consumer.settle(consumer.received[3]!);
  assert.equal(queue.messagesUnacknowledged + queue.messagesReady, 0);
  consumer.registration!.cancel();
  const reopened = await kit.restart(queue);
  assert.equal(reopened.messagesReady, 0);
  await reopened.close();
});
