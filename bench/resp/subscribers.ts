/**
 * Child process of bench/resp.ts: opens `count` ioredis subscriber connections to one
 * channel, prints `ready`, then counts messages until every connection has `expect` of them
 * (or `timeoutMs` passes) and prints one JSON line: received, first and last arrival (ms), and
 * the CPU seconds this process used from the first message on (`cpuSeconds`).
 *
 *   node --import tsx bench/resp/subscribers.ts <port> <channel> <count> <expect> <timeoutMs>
 */
import { Redis } from "ioredis";

const [port, channel, count, expect, timeoutMs] = process.argv.slice(2);
const connections: Redis[] = [];
let received = 0;
let firstAt = 0;
let lastAt = 0;
let cpuAtFirst: NodeJS.CpuUsage | null = null;
const target = Number(count) * Number(expect);

function finish(): void {
  const cpu = cpuAtFirst === null ? { user: 0, system: 0 } : process.cpuUsage(cpuAtFirst);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(`${JSON.stringify({ received, firstAt, lastAt, cpuSeconds })}\n`);
  for (const connection of connections) connection.disconnect();
  process.exit(0);
}

async function main(): Promise<void> {
  for (let i = 0; i < Number(count); i++) {
    const connection = new Redis({ host: "127.0.0.1", port: Number(port) });
    connection.on("messageBuffer", () => {
      const now = Date.now();
      if (received === 0) {
        firstAt = now;
        cpuAtFirst = process.cpuUsage();
      }
      lastAt = now;
      if (++received === target) finish();
    });
    await connection.subscribe(channel!);
    connections.push(connection);
  }
  process.stdout.write("ready\n");
  setTimeout(finish, Number(timeoutMs)).unref();
  process.stdin.resume(); // ends when the parent goes away
  process.stdin.on("end", finish);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
