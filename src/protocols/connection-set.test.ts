import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { pino } from "pino";
import { ConnectionSet } from "./connection-set.ts";

class FakeSession {
  readonly closedWith: string[] = [];
  private done!: () => void;
  readonly closed = new Promise<void>((resolve) => {
    this.done = resolve;
  });

  close(reason: string): void {
    this.closedWith.push(reason);
    this.done();
  }
}

function logLines() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

test("tracks sessions until they close, and refuses past the limit with a count and a log line", async () => {
  const stats = { connectionsAccepted: 0, connectionsRefused: 0 };
  const set = new ConnectionSet<FakeSession>(2, stats);
  const { logger, lines } = logLines();
  const first = new FakeSession();
  const second = new FakeSession();
  assert.equal(set.atCapacity(logger, "kafka", "127.0.0.1"), false);
  assert.equal(set.add(first, first.closed), first);
  set.add(second, second.closed);
  assert.deepEqual([...set], [first, second]);
  assert.equal(set.atCapacity(logger, "kafka", "127.0.0.1"), true);
  assert.deepEqual(stats, { connectionsAccepted: 2, connectionsRefused: 1 });
  assert.equal(lines[0]?.msg, "kafka connection refused: too many connections");
  assert.equal(lines[0]?.limit, 2);
  first.close("idle");
  await first.closed;
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(set.size, 1);
  assert.equal(set.atCapacity(logger, "kafka", "127.0.0.1"), false);
});

test("closeAll stops the listener and closes every session, resolving when all are closed", async () => {
  const set = new ConnectionSet<FakeSession>(10, { connectionsAccepted: 0, connectionsRefused: 0 });
  const sessions = [new FakeSession(), new FakeSession()];
  for (const session of sessions) set.add(session, session.closed);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  await set.closeAll(server);
  assert.equal(server.listening, false);
  assert.deepEqual(
    sessions.map((session) => session.closedWith),
    [["shutdown"], ["shutdown"]],
  );
  // A listener that never listened closes too.
  await set.closeAll(createServer());
});
