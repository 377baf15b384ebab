/** Helpers for the queue engine's unit tests: a real LogStore in a temp dir, test consumers. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor as pollUntil } from "../../../test/helpers/wait-for.ts";
import { silentLogger } from "../../logging/logger.ts";
import type { FileSystem } from "../../storage/file-system.ts";
import { LogStore } from "../../storage/log-store.ts";
import type { FieldTable } from "../routing/types.ts";
import {
  type DeadLetter,
  type EnqueueInput,
  type EnqueueResult,
  Queue,
  type QueueOpenOptions,
} from "./queue.ts";
import { parseQueueArguments, type QueueSettings } from "./queue-arguments.ts";
import type { ConsumerRegistration, QueueConsumer, QueuedMessage } from "./queue-types.ts";

export class QueueKit {
  readonly dir = mkdtempSync(join(tmpdir(), "wharf-queue-"));
  logStore!: LogStore;
  readonly deadLetters: DeadLetter[] = [];
  clock = 1_000_000;
  unused = 0;

  /** `fileSystem`: the store's (e.g. a FaultyFileSystem); the real one by default. */
  constructor(private readonly fileSystem?: FileSystem) {}

  async openStore(): Promise<LogStore> {
    this.logStore = await LogStore.open(this.dir, {
      retentionCheckIntervalMs: 0,
      fileSystem: this.fileSystem,
    });
    return this.logStore;
  }

  async open(
    args: FieldTable = {},
    options: Partial<QueueOpenOptions> & { fakeClock?: boolean } = {},
  ): Promise<Queue> {
    if (!this.logStore) await this.openStore();
    const settings: QueueSettings = parseQueueArguments("q", "/", args);
    return Queue.open({
      name: "q",
      vhost: "/",
      logStore: this.logStore,
      logPrefix: "__queue-1",
      durable: false,
      settings,
      logger: silentLogger,
      onDeadLetter: (deadLetter) => this.deadLetters.push(deadLetter),
      onUnused: () => this.unused++,
      now: options.fakeClock ? () => this.clock : undefined,
      ...options,
    });
  }

  /** Closes the queue and the store, then opens both again (a process restart). */
  async restart(
    queue: Queue,
    args: FieldTable = {},
    options: Partial<QueueOpenOptions> = {},
  ): Promise<Queue> {
    await queue.close();
    await this.logStore.close();
    await this.openStore();
    return this.open(args, { durable: true, ...options });
  }

  async cleanup(): Promise<void> {
    await this.logStore?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function publish(
  queue: Queue,
  body: string,
  extra: Partial<EnqueueInput> = {},
): EnqueueResult {
  return queue.enqueue({
    exchange: "ex",
    routingKey: "rk",
    propertiesBytes: Buffer.from([0, 0]),
    body: Buffer.from(body),
    persistent: true,
    priority: 0,
    expirationMs: undefined,
    ...extra,
  });
}

export const text = (message: QueuedMessage): string => message.body.toString();

/** A consumer with a prefetch window (AMQP basic.qos) that records what it receives. */
export class TestConsumer implements QueueConsumer {
  readonly received: QueuedMessage[] = [];
  outstanding = 0;
  cancelledWith: string | null = null;
  registration: ConsumerRegistration | null = null;

  constructor(
    readonly tag: string,
    private readonly options: { prefetch?: number; priority?: number; noAck?: boolean } = {},
  ) {}

  get priority(): number {
    return this.options.priority ?? 0;
  }

  get noAck(): boolean {
    return this.options.noAck ?? false;
  }

  canTake(): boolean {
    return this.options.prefetch === undefined || this.outstanding < this.options.prefetch;
  }

  deliver(message: QueuedMessage): void {
    this.received.push(message);
    if (!this.noAck) this.outstanding++;
  }

  cancelled(reason: "queue-deleted" | "queue-unavailable"): void {
    this.cancelledWith = reason;
  }

  subscribe(queue: Queue, exclusive = false): this {
    this.registration = queue.consume(this, { exclusive });
    return this;
  }

  settle(message: QueuedMessage, how: "ack" | "requeue" | "reject" = "ack"): void {
    if (how === "ack") message.source.ack(message.id);
    else message.source.reject(message.id, how === "requeue");
    this.outstanding--;
    this.registration?.resume();
  }

  texts(): string[] {
    return this.received.map(text);
  }
}

/** Polls `condition` until it holds; fails after `timeoutMs` instead of hanging a test run. */
export function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return pollUntil(condition, what, timeoutMs);
}

/** Lets pending writes, reads and dispatch passes run. */
export async function settleDown(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
