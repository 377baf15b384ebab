/**
 * Group commit: the single writer loop of one log.
 *
 * Appends and exclusive tasks (roll, truncate, retention, flush, close) enter one FIFO queue.
 * One loop drains it: consecutive appends at the head are taken together as a round (up to
 * `roundBytesMax` bytes, at least one append) and handed to `commitRound`, which writes them
 * with one writev and makes them durable with one fdatasync; while that round waits on the
 * disk, new appends queue up and form the next round. A task runs alone, in queue order.
 * So everything that changes files or the segment list happens on this loop, one step at a
 * time, and an append queued after a task sees that task's effect.
 *
 * The loop starts on a microtask, not synchronously, so appends made in the same tick (a
 * produce request carrying several partitions, a burst from one socket read) share the first
 * round too.
 *
 * Memory is bounded: bytes of appends queued or in flight are counted, and an append that
 * would pass `queueBytesMax` fails at once with WHARF_APPEND_QUEUE_FULL (retriable) instead
 * of waiting: the caller's socket backpressure is the right place to wait.
 */
import { WharfError } from "../errors/index.ts";
import type { AppendLimits } from "./log-config.ts";

/** An append waiting for the writer. `commitRound` settles it (resolve or reject). */
export interface QueuedAppend {
  readonly bytes: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** What `commitRound` returns when the round's appends settle after it returned. */
export interface RoundInFlight {
  readonly settled: Promise<unknown>;
}

interface QueuedTask {
  readonly task: () => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type QueueItem<A> = { append: A; task?: undefined } | { append?: undefined; task: QueuedTask };

export class GroupCommitQueue<A extends QueuedAppend> {
  private items: QueueItem<A>[] = [];
  private head = 0;
  private pendingBytes = 0;
  private running = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    /**
     * Writes the round and settles every append in it; should not throw. It may return
     * before its appends settle (a log pipelining its fdatasyncs), with `settled`: the next
     * round starts at once, and the round's bytes count against `queueBytesMax` until then.
     */
    private readonly commitRound: (
      round: A[],
    ) => Promise<RoundInFlight | undefined> | Promise<void>,
    private readonly limits: AppendLimits,
    /**
     * Waits until the rounds `commitRound` left in flight have settled (a log that pipelines
     * its fdatasyncs returns from `commitRound` before they finish); awaited before each task,
     * so a task sees every earlier append settled.
     */
    private readonly settle: () => Promise<void> = () => Promise.resolve(),
  ) {}

  /** Bytes of appends queued or being written. */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  get idle(): boolean {
    return !this.running && this.head === this.items.length;
  }

  /** Queues an append; throws WHARF_APPEND_QUEUE_FULL when the queue is full. */
  enqueue(append: A): void {
    if (this.pendingBytes + append.bytes > this.limits.queueBytesMax) {
      const detail = `${this.pendingBytes} bytes waiting, limit ${this.limits.queueBytesMax}`;
      throw new WharfError("WHARF_APPEND_QUEUE_FULL", detail);
    }
    this.pendingBytes += append.bytes;
    this.items.push({ append });
    this.schedule();
  }

  /** Runs `task` alone on the writer loop, after everything queued before it. */
  runExclusive<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.items.push({
        task: { task, resolve: resolve as (value: unknown) => void, reject },
      });
      this.schedule();
    });
  }

  /** Resolves when the queue is empty and the loop has stopped. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running) return;
    this.running = true;
    queueMicrotask(() => void this.drain());
  }

  private async drain(): Promise<void> {
    while (this.head < this.items.length) {
      const first = this.items[this.head]!;
      if (first.task) {
        this.head++;
        try {
          await this.settle();
          first.task.resolve(await first.task.task());
        } catch (error) {
          first.task.reject(error);
        }
        continue;
      }
      const round: A[] = [];
      let bytes = 0;
      while (this.head < this.items.length) {
        const append = this.items[this.head]!.append;
        if (!append) break;
        if (round.length > 0 && bytes + append.bytes > this.limits.roundBytesMax) break;
        round.push(append);
        bytes += append.bytes;
        this.head++;
      }
      let inFlight: RoundInFlight | undefined;
      try {
        inFlight = (await this.commitRound(round)) ?? undefined;
      } catch (error) {
        // commitRound settles its appends; this only catches a bug, and settles them.
        for (const append of round) append.reject(error);
      }
      if (inFlight === undefined) {
        this.pendingBytes -= bytes;
      } else {
        const release = () => {
          this.pendingBytes -= bytes;
        };
        inFlight.settled.then(release, release);
      }
      this.compact();
    }
    this.items = [];
    this.head = 0;
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Drops consumed items once they dominate the array (amortised O(1) per item). */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
