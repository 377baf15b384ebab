/**
 * Fuzzes the stream command handlers with random argument vectors built from the commands'
 * own vocabulary (options, ids, numbers, special ids, garbage): every call must answer a
 * reply or a Redis error reply, never throw (a throw is a defect that closes the connection).
 * Runs against the real core on a temporary directory; bounded to a fixed number of runs.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { openStreamKit } from "../../src/core/redis-streams/stream-test-kit.ts";
import { RespErrorReply } from "../../src/protocols/resp/codec/reply.ts";
import type { RespCommand, RespCommandContext } from "../../src/protocols/resp/commands/command.ts";
import { streamCommands } from "../../src/protocols/resp/commands/streams.ts";

const words = [
  "s",
  "t",
  "g",
  "c",
  "*",
  "$",
  "+",
  "-",
  ">",
  "(",
  "(1-0",
  "0",
  "0-0",
  "1",
  "1-1",
  "5-*",
  "18446744073709551615-18446744073709551615",
  "18446744073709551616",
  "-1",
  "x",
  "",
  "MAXLEN",
  "MINID",
  "~",
  "=",
  "LIMIT",
  "NOMKSTREAM",
  "COUNT",
  "BLOCK",
  "STREAMS",
  "GROUP",
  "NOACK",
  "IDLE",
  "TIME",
  "RETRYCOUNT",
  "FORCE",
  "JUSTID",
  "LASTID",
  "MKSTREAM",
  "ENTRIESREAD",
  "ENTRIESADDED",
  "MAXDELETEDID",
  "FULL",
  "f",
  "v",
  "9223372036854775808",
  "100",
  "2",
];

function findHandler(path: string[]) {
  let commands: readonly RespCommand[] = streamCommands;
  let found: RespCommand | undefined;
  for (const name of path) {
    found = commands.find((command) => command.name === name);
    commands = found?.subcommands ?? [];
  }
  return found!;
}

const targets: string[][] = [
  ["xadd"],
  ["xlen"],
  ["xrange"],
  ["xrevrange"],
  ["xread"],
  ["xreadgroup"],
  ["xdel"],
  ["xtrim"],
  ["xack"],
  ["xpending"],
  ["xclaim"],
  ["xautoclaim"],
  ["xsetid"],
  ["xgroup", "create"],
  ["xgroup", "setid"],
  ["xgroup", "destroy"],
  ["xgroup", "createconsumer"],
  ["xgroup", "delconsumer"],
  ["xinfo", "stream"],
  ["xinfo", "groups"],
  ["xinfo", "consumers"],
];

test("stream commands answer every argument vector with a reply or an error reply", {
  timeout: 120_000,
}, async () => {
  const kit = await openStreamKit();
  const controller = new AbortController();
  const context = {
    broker: { redisStreams: kit.streams },
    client: { protocol: 2, closed: controller.signal },
  } as unknown as RespCommandContext;
  try {
    const seed = await findHandler(["xgroup", "create"]).handler!(context, [
      Buffer.from("XGROUP"),
      Buffer.from("CREATE"),
      Buffer.from("s"),
      Buffer.from("g"),
      Buffer.from("0"),
      Buffer.from("MKSTREAM"),
    ]);
    assert.equal((seed as { text?: string }).text, "OK");
    let called = 0;
    let errors = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...targets),
        fc.array(fc.oneof(fc.constantFrom(...words), fc.string({ maxLength: 8 })), {
          minLength: 1,
          maxLength: 9,
        }),
        async (path, rest) => {
          const command = findHandler(path);
          const args = [
            ...path.map((name) => Buffer.from(name.toUpperCase())),
            ...rest.map((w) => Buffer.from(w)),
          ];
          // the session checks arity before a handler runs
          const count = args.length - (path.length - 1);
          const arity = command.arity;
          if (arity >= 0 ? count !== arity : count < -arity) return;
          // BLOCK would wait: keep it short by replacing its value
          for (let i = 0; i < args.length - 1; i++) {
            if (args[i]!.toString().toUpperCase() === "BLOCK") args[i + 1] = Buffer.from("1");
          }
          const reply = await command.handler!(context, args);
          called++;
          if (reply instanceof RespErrorReply) {
            errors++;
            assert.match(reply.text, /^[A-Z]+ /, "an error reply starts with its prefix word");
          }
        },
      ),
      { numRuns: 1500, seed: 42 },
    );
    assert.ok(called > 500 && errors < called, `${called} calls, ${errors} errors`);
  } finally {
    controller.abort();
    await kit.dispose();
  }
});
