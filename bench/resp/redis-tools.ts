/** Shared by bench/resp.ts and bench/resp-streams.ts: tool detection and readiness checks. */
import { execFileSync } from "node:child_process";
import { Redis } from "ioredis";

/** True when `tool --version` runs (a Debian package may be absent). */
export function haveTool(tool: string): boolean {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Resolves once a RESP server answers PING on 127.0.0.1:port; throws after timeoutMs. */
export async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const client = new Redis({
      host: "127.0.0.1",
      port,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    client.on("error", () => {});
    try {
      await client.connect();
      if ((await client.ping()) === "PONG") {
        client.disconnect();
        return;
      }
    } catch {
      // not up yet
    }
    client.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing answers PING on port ${port}`);
}
