/**
 * Runs one client job in a child process (bench/kafka/client-process.ts) and calls back when its
 * measured window opens and closes, so the caller reads the broker's CPU time at those moments.
 * The child's own CPU time is measured too (`client_cpu_s`): a client near 100% of a core is
 * the bottleneck, not the broker. The child is killed after `timeoutMs`.
 */
import { fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ClientJob, ClientMessage } from "./client-process.ts";
import { cpuSeconds } from "./process-stats.ts";

const entry = join(dirname(fileURLToPath(import.meta.url)), "client-process.ts");

export interface ClientRun {
  result: Record<string, unknown>;
  /** CPU seconds the client process used in its measured window. */
  client_cpu_s: number | undefined;
}

export function runClient(
  job: ClientJob,
  options: { onMeasureStart(): void; onMeasureEnd(): void; timeoutMs: number },
): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = fork(entry, [JSON.stringify(job)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let settled = false;
    let clientStart: number | undefined;
    let clientCpu: number | undefined;
    const timer = setTimeout(() => {
      finish(new Error(`${job.tool} did not finish within ${options.timeoutMs} ms`));
      child.kill("SIGKILL");
    }, options.timeoutMs);
    const finish = (outcome: Error | ClientRun) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    child.on("message", (message: ClientMessage) => {
      if (message.type === "phase") {
        if (message.phase === "measure-start") {
          options.onMeasureStart();
          clientStart = cpuSeconds(child.pid!);
        } else {
          options.onMeasureEnd();
          const end = cpuSeconds(child.pid!);
          if (clientStart !== undefined && end !== undefined) clientCpu = end - clientStart;
        }
      } else if (message.type === "result") {
        finish({ result: message.result, client_cpu_s: clientCpu });
      } else {
        finish(new Error(`${job.tool} failed: ${message.message}`));
      }
    });
    child.once("error", (error) => finish(error));
    child.once("exit", (code, signal) => {
      finish(new Error(`${job.tool} exited (code ${code}, signal ${signal}) without a result`));
    });
  });
}
