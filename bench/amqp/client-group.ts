/**
 * Parent side of bench/amqp/client-process.ts: forks one child per job, waits until each has
 * connected, then drives them together (start, mark, stop). Every child is killed after the
 * group's `timeoutMs` (and when the benchmark process exits), so a hung broker or client never
 * outlives its workload.
 */
import { type ChildProcess, fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuSeconds } from "../kafka/process-stats.ts";
import type { ChildMessage, ClientJob, Counts, ParentCommand } from "./jobs.ts";

const entry = join(dirname(fileURLToPath(import.meta.url)), "client-process.ts");

type Waiter = { resolve(message: ChildMessage): void; reject(error: Error): void };

class ClientProcess {
  private readonly waiters = new Map<string, Waiter[]>();
  private failure: Error | undefined;
  done: (Counts & { type: "done" }) | undefined;
  /** Resolves when the publisher sends `done` (never for a consumer). */
  readonly finished: Promise<void>;
  private finish: () => void = () => {};
  /** Rejects when the process fails or exits (after `stop` too: only race it before that). */
  readonly failed: Promise<never>;
  private reject: (error: Error) => void = () => {};

  constructor(
    readonly job: ClientJob,
    readonly child: ChildProcess,
  ) {
    this.finished = new Promise((resolve) => {
      this.finish = resolve;
    });
    this.failed = new Promise<never>((_, reject) => {
      this.reject = reject;
    });
    this.failed.catch(() => {}); // observed through races; no unhandled rejection
    child.on("message", (message: ChildMessage) => {
      if (message.type === "error") this.fail(new Error(`${job.role}: ${message.message}`));
      else {
        if (message.type === "done") {
          this.done = message;
          this.finish();
        }
        this.waiters.get(message.type)?.shift()?.resolve(message);
      }
    });
    child.once("exit", (code, signal) => {
      this.fail(new Error(`${job.role} exited (code ${code}, signal ${signal})`));
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.reject(error);
    for (const list of this.waiters.values()) for (const waiter of list) waiter.reject(error);
    this.waiters.clear();
  }

  /** The next message of this type (a `mark`, `result` or `ready`). */
  next<T extends ChildMessage["type"]>(type: T): Promise<Extract<ChildMessage, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(type) ?? [];
      list.push({ resolve: resolve as (message: ChildMessage) => void, reject });
      this.waiters.set(type, list);
    });
  }

  command(command: ParentCommand): void {
    if (this.child.connected) this.child.send(command);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

export interface GroupResult {
  results: Array<{ job: ClientJob; result: Record<string, unknown> & Counts }>;
}

/** A set of client processes (publishers and consumers) run as one workload. */
export class ClientGroup {
  private readonly timer: NodeJS.Timeout;
  private readonly killAll = () => {
    for (const client of this.clients) client.kill();
  };

  private constructor(
    readonly clients: ClientProcess[],
    timeoutMs: number,
  ) {
    this.timer = setTimeout(this.killAll, timeoutMs);
    process.once("exit", this.killAll);
  }

  /** Forks every job's process and resolves once all have connected (`ready`). */
  static async start(jobs: ClientJob[], timeoutMs: number): Promise<ClientGroup> {
    const clients = jobs.map(
      (job) =>
        new ClientProcess(
          job,
          fork(entry, [JSON.stringify(job)], {
            execArgv: ["--import", "tsx"],
            stdio: ["ignore", "inherit", "inherit", "ipc"],
          }),
        ),
    );
    const group = new ClientGroup(clients, timeoutMs);
    try {
      await Promise.all(clients.map((client) => client.next("ready")));
    } catch (error) {
      group.close();
      throw error;
    }
    return group;
  }

  of(role: ClientJob["role"]): ClientProcess[] {
    return this.clients.filter((client) => client.job.role === role);
  }

  start(role: ClientJob["role"]): void {
    for (const client of this.of(role)) client.command({ cmd: "start" });
  }

  /** Sums the counts of every process of `role` (resetLatency opens a latency window). */
  async mark(role: ClientJob["role"], resetLatency = false): Promise<Counts> {
    const clients = this.of(role);
    const marks = clients.map((client) => client.next("mark"));
    for (const client of clients) client.command({ cmd: "mark", resetLatency });
    return sumCounts(await Promise.all(marks));
  }

  /** Resolves once every publisher has sent `done` (reached its bound, all confirmed). */
  async publishersDone(onTick: (counts: Counts) => void, tickMs: number): Promise<void> {
    const publishers = this.of("publisher");
    const all = Promise.all(publishers.map((client) => client.finished));
    const failed = Promise.race(publishers.map((client) => client.failed));
    let finished = false;
    void all.then(() => {
      finished = true;
    });
    while (!finished) {
      let timer: NodeJS.Timeout | undefined;
      // A publisher that dies rejects `failed`, which ends the wait with its error.
      await Promise.race([
        all,
        failed,
        new Promise((resolve) => (timer = setTimeout(resolve, tickMs))),
      ]);
      clearTimeout(timer);
      if (!finished) onTick(await this.mark("publisher"));
    }
  }

  /** Stops every process of `role` and collects its result. */
  async stop(role: ClientJob["role"]): Promise<GroupResult["results"]> {
    const clients = this.of(role);
    const results = clients.map((client) => client.next("result"));
    for (const client of clients) client.command({ cmd: "stop" });
    return (await Promise.all(results)).map((message, i) => ({
      job: clients[i]!.job,
      result: message.result,
    }));
  }

  /** CPU seconds used so far by the group's processes of `role` (undefined once one is gone). */
  cpuSeconds(role: ClientJob["role"]): number | undefined {
    let total = 0;
    for (const client of this.of(role)) {
      const seconds = cpuSeconds(client.child.pid!);
      if (seconds === undefined) return undefined;
      total += seconds;
    }
    return total;
  }

  close(): void {
    clearTimeout(this.timer);
    process.removeListener("exit", this.killAll);
    this.killAll();
  }
}

export function sumCounts(list: readonly Counts[]): Counts {
  const total: Counts = { count: 0, confirmed: 0, nacked: 0 };
  for (const counts of list) {
    total.count += counts.count;
    total.confirmed += counts.confirmed;
    total.nacked += counts.nacked;
  }
  return total;
}
