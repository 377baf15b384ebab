/**
 * Regenerates test/fixtures/resp/redis-transcripts.json: runs each script of commands below
 * against a real Redis on one connection and records every reply byte for byte (and, for raw
 * inputs such as inline commands and malformed requests, everything Redis sent back and
 * whether it closed the connection), so that
 * test/integration/resp-redis-transcripts.test.ts holds WharfMQ to Redis's own replies rather
 * than to our reading of Redis's code.
 *
 *   redis-server --port 16398 --bind 127.0.0.1 --save '' --appendonly no &
 *   node --import tsx test/helpers/redis-transcript-oracle.ts 16398
 *
 * The Redis it ran against is written into the fixture (`redis_version`). Each script runs
 * after a FLUSHALL; the scripts use key names of their own, since the test replays all of them
 * against one broker. Left out on purpose, where WharfMQ follows a newer Redis than Debian's
 * 7.0 (the README says which): `XREAD ... +`, `CLIENT SETINFO`, the `inactive` field of
 * `XINFO CONSUMERS`, and the lag of a group whose last id is before the first entry.
 * Also left out: replies that hold the server's identity (HELLO's map, INFO, CLIENT LIST) or
 * the order of a hash table (UNSUBSCRIBE with no channel). Replies that hold idle times are
 * marked `volatile`: the test compares them with every integer masked.
 */
import { writeFileSync } from "node:fs";
import { type RawExchange, RawRespClient, rawExchange } from "./resp-raw-client.ts";

export interface RawTranscript extends RawExchange {
  input: string;
}

export interface TranscriptStep {
  args: string[];
  reply: string;
  volatile?: true;
}

type Step = string[] | { args: string[]; volatile: true };

const idle = (...args: string[]): Step => ({ args, volatile: true });

const scripts: Record<string, Step[]> = {
  connection: [
    ["PING"],
    ["PING", "hi"],
    ["PING", "a", "b"],
    ["ECHO"],
    ["ECHO", "x"],
    ["SELECT", "0"],
    ["SELECT", "x"],
    ["NOSUCH", "a", "b"],
    ["nosuch"],
    ["CLIENT", "NOSUCH"],
    ["CLIENT"],
    ["CLIENT", "SETNAME", "a b"],
    ["CLIENT", "SETNAME", "ok"],
    ["CLIENT", "GETNAME"],
    ["CLIENT", "NO-EVICT", "on"],
    ["CLIENT", "NO-EVICT", "maybe"],
    ["COMMAND", "COUNT", "x"],
    ["COMMAND", "NOSUCH"],
    ["AUTH", "x"],
    ["AUTH", "a", "b"],
    ["HELLO", "4"],
    ["HELLO", "x"],
    ["HELLO", "3", "SETNAME", "bad name"],
    ["HELLO", "3", "FOO"],
    ["RESET"],
    ["CLIENT", "GETNAME"],
    ["QUIT", "x"],
  ],
  pubsub: [
    ["PUBLISH", "c"],
    ["PUBLISH", "c", "m"],
    ["SPUBLISH", "c", "m"],
    ["PUBSUB"],
    ["PUBSUB", "NOSUCH"],
    ["PUBSUB", "NUMPAT"],
    ["PUBSUB", "NUMSUB", "a", "b"],
    ["PUBSUB", "CHANNELS"],
    ["PUBSUB", "SHARDNUMSUB", "a"],
    ["SUBSCRIBE", "ps-a", "ps-b"],
    ["PSUBSCRIBE", "ps-x*"],
    ["PUBSUB", "NUMSUB", "ps-a"],
    ["PING"],
    ["PING", "m"],
    ["XLEN", "ps-s"],
    ["PUBLISH", "ps-a", "m"],
    ["SUBSCRIBE"],
    ["UNSUBSCRIBE", "zz"],
    ["PUNSUBSCRIBE"],
    ["SSUBSCRIBE", "ps-q"],
    ["SUNSUBSCRIBE"],
    ["UNSUBSCRIBE", "ps-a"],
    ["UNSUBSCRIBE", "ps-b"],
    ["PING"],
    ["UNSUBSCRIBE"],
  ],
  resp3: [
    ["HELLO", "3", "AUTH", "default"],
    ["SUBSCRIBE", "r3-a"],
    ["PING"],
    ["XADD", "r3-s", "1-1", "f", "v"],
    ["XRANGE", "r3-s", "-", "+"],
    ["XREAD", "STREAMS", "r3-s", "0"],
    ["XREAD", "STREAMS", "r3-nokey", "0"],
    ["XREAD", "BLOCK", "10", "STREAMS", "r3-s", "$"],
    ["XGROUP", "CREATE", "r3-s", "g", "0"],
    ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "r3-s", ">"],
    ["XPENDING", "r3-s", "g"],
    ["XINFO", "GROUPS", "r3-s"],
    ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "10", "STREAMS", "r3-s", ">"],
    ["UNSUBSCRIBE"],
    ["PUBSUB", "NUMSUB", "r3-a"],
    ["HELLO", "2", "FOO"],
  ],
  xadd: [
    ["XADD", "xa"],
    ["XADD", "xa", "1-1"],
    ["XADD", "xa", "1-1", "f"],
    ["XADD", "xa", "1-1", "f", "v"],
    ["XADD", "xa", "1-1", "f", "v"],
    ["XADD", "xa", "1-0", "f", "v"],
    ["XADD", "xa", "0-0", "f", "v"],
    ["XADD", "xa", "abc", "f", "v"],
    ["XADD", "xa", "2-*", "f", "v"],
    ["XADD", "xa", "2-*", "f", "v"],
    ["XADD", "xa", "3", "f", "v", "g", "w"],
    ["XADD", "xa", "1-*", "f", "v"],
    ["XADD", "xa", "18446744073709551615-18446744073709551615", "f", "v"],
    ["XADD", "xa", "*", "f", "v"],
    ["XADD", "xa-t", "NOMKSTREAM", "*", "f", "v"],
    ["XLEN", "xa-t"],
    ["XLEN", "xa"],
    ["XADD", "xa-u", "MAXLEN", "2", "1-1", "a", "1"],
    ["XADD", "xa-u", "MAXLEN", "2", "2-1", "a", "2"],
    ["XADD", "xa-u", "MAXLEN", "=", "2", "3-1", "a", "3"],
    ["XRANGE", "xa-u", "-", "+"],
    ["XADD", "xa-u", "MAXLEN", "~", "1", "LIMIT", "10", "4-1", "a", "4"],
    ["XADD", "xa-u", "MAXLEN", "1", "LIMIT", "10", "5-1", "a", "5"],
    ["XADD", "xa-u", "MINID", "4", "6-1", "a", "6"],
    ["XRANGE", "xa-u", "-", "+"],
    ["XADD", "xa-u", "MAXLEN", "-1", "7-1", "a", "b"],
    ["XADD", "xa-u", "MAXLEN", "x", "7-1", "a", "b"],
    ["XADD", "xa-u", "MINID", "bad", "7-1", "a", "b"],
    ["XADD", "xa-u", "MAXLEN", "1", "MINID", "1", "7-1", "a", "b"],
    ["XADD", "xa-u", "LIMIT", "5", "7-1", "a", "b"],
    ["XADD", "xa-u", "MAXLEN", "~", "1", "LIMIT", "-1", "7-1", "a", "b"],
    ["XADD", "xa-u", "7-1", "a"],
    ["XADD", "xa-u", "7-1", "a", "b", "c"],
  ],
  xrange: [
    ["XADD", "xr", "1-1", "a", "1"],
    ["XADD", "xr", "1-2", "a", "2"],
    ["XADD", "xr", "2-1", "a", "3"],
    ["XADD", "xr", "3-0", "a", "4"],
    ["XRANGE", "xr", "-", "+"],
    ["XRANGE", "xr", "1", "1"],
    ["XRANGE", "xr", "(1-1", "+"],
    ["XRANGE", "xr", "-", "(3-0"],
    ["XRANGE", "xr", "(-", "+"],
    ["XRANGE", "xr", "-", "(+"],
    ["XRANGE", "xr", "-", "+", "COUNT", "2"],
    ["XRANGE", "xr", "-", "+", "COUNT", "0"],
    ["XRANGE", "xr", "-", "+", "COUNT", "-1"],
    ["XRANGE", "xr", "-", "+", "COUNT"],
    ["XRANGE", "xr", "-", "+", "LIMIT", "1"],
    ["XRANGE", "xr", "x", "+"],
    ["XRANGE", "xr", "+", "-"],
    ["XREVRANGE", "xr", "+", "-"],
    ["XREVRANGE", "xr", "+", "-", "COUNT", "1"],
    ["XREVRANGE", "xr", "(3-0", "(1-1"],
    ["XRANGE", "xr-nokey", "-", "+"],
    ["XRANGE", "xr", "(18446744073709551615-18446744073709551615", "+"],
    ["XRANGE", "xr", "-", "(0-0"],
    ["XRANGE", "xr"],
    ["XDEL", "xr", "1-2", "9-9"],
    ["XDEL", "xr", "bad"],
    ["XLEN", "xr"],
    ["XTRIM", "xr", "MAXLEN", "1"],
    ["XTRIM", "xr"],
    ["XTRIM", "xr", "FOO", "1"],
    ["XRANGE", "xr", "-", "+"],
    ["XTRIM", "xr-nokey", "MAXLEN", "1"],
  ],
  xread: [
    ["XADD", "xd-a", "1-1", "f", "1"],
    ["XADD", "xd-b", "2-1", "f", "2"],
    ["XREAD", "STREAMS", "xd-a", "xd-b", "0", "0"],
    ["XREAD", "COUNT", "1", "STREAMS", "xd-a", "0-0"],
    ["XREAD", "STREAMS", "xd-a"],
    ["XREAD", "STREAMS", "xd-a", "$"],
    ["XREAD", "BLOCK", "-1", "STREAMS", "xd-a", "$"],
    ["XREAD", "BLOCK", "x", "STREAMS", "xd-a", "$"],
    ["XREAD", "BLOCK", "10", "STREAMS", "xd-a", "$"],
    ["XREAD", "STREAMS", "xd-nokey", "0"],
    ["XREAD", "COUNT", "x", "STREAMS", "xd-a", "0"],
    ["XREAD", "FOO", "STREAMS", "xd-a", "0"],
    ["XREAD", "STREAMS", "xd-a", ">"],
    ["XREAD", "STREAMS", "xd-a", "bad"],
  ],
  groups: [
    ["XGROUP", "CREATE", "xg", "grp", "$"],
    ["XGROUP", "CREATE", "xg", "grp", "$", "MKSTREAM"],
    ["XGROUP", "CREATE", "xg", "grp", "$", "MKSTREAM"],
    ["XADD", "xg", "1-1", "f", "1"],
    ["XADD", "xg", "2-1", "f", "2"],
    ["XADD", "xg", "3-1", "f", "3"],
    ["XGROUP", "CREATE", "xg", "g2", "1-1", "ENTRIESREAD", "1"],
    ["XGROUP", "CREATE", "xg", "g3", "bad"],
    ["XGROUP", "CREATECONSUMER", "xg", "grp", "c1"],
    ["XGROUP", "CREATECONSUMER", "xg", "grp", "c1"],
    ["XGROUP", "CREATECONSUMER", "xg", "nogrp", "c1"],
    ["XGROUP", "SETID", "xg", "grp", "0"],
    ["XREADGROUP", "GROUP", "grp", "c1", "COUNT", "2", "STREAMS", "xg", ">"],
    ["XREADGROUP", "GROUP", "grp", "c1", "STREAMS", "xg", "0"],
    ["XREADGROUP", "GROUP", "grp", "c2", "STREAMS", "xg", ">"],
    ["XREADGROUP", "GROUP", "nogrp", "c1", "STREAMS", "xg", ">"],
    ["XREADGROUP", "GROUP", "grp", "c1", "STREAMS", "xg-nokey", ">"],
    ["XREADGROUP", "GROUP", "grp", "c1", "STREAMS", "xg", "$"],
    ["XREADGROUP", "STREAMS", "xg", ">"],
    ["XPENDING", "xg", "grp"],
    idle("XPENDING", "xg", "grp", "-", "+", "10"),
    idle("XPENDING", "xg", "grp", "-", "+", "10", "c2"),
    idle("XPENDING", "xg", "grp", "IDLE", "0", "-", "+", "10"),
    ["XPENDING", "xg", "nogrp"],
    ["XPENDING", "xg", "grp", "-", "+"],
    ["XACK", "xg", "grp", "1-1", "9-9"],
    ["XACK", "xg", "grp", "bad"],
    ["XACK", "xg", "nogrp", "1-1"],
    ["XPENDING", "xg", "grp"],
    ["XCLAIM", "xg", "grp", "c3", "0", "2-1", "JUSTID"],
    ["XCLAIM", "xg", "grp", "c3", "0", "2-1"],
    ["XCLAIM", "xg", "grp", "c3", "x", "2-1"],
    ["XCLAIM", "xg", "grp", "c3", "0", "bad"],
    ["XAUTOCLAIM", "xg", "grp", "c4", "0", "0", "COUNT", "1"],
    ["XAUTOCLAIM", "xg", "grp", "c4", "0", "0", "JUSTID"],
    ["XAUTOCLAIM", "xg", "grp", "c4", "0", "0", "COUNT", "0"],
    ["XAUTOCLAIM", "xg", "nogrp", "c4", "0", "0"],
    ["XGROUP", "DELCONSUMER", "xg", "grp", "c4"],
    ["XGROUP", "DELCONSUMER", "xg", "grp", "nobody"],
    ["XINFO", "GROUPS", "xg"],
    ["XGROUP", "DESTROY", "xg", "g3"],
    ["XGROUP", "DESTROY", "xg", "g2"],
    ["XGROUP", "NOSUCH"],
    ["XGROUP"],
    ["XREADGROUP", "GROUP", "grp", "c5", "NOACK", "STREAMS", "xg", ">"],
    ["XSETID", "xg", "1-1"],
    ["XSETID", "xg", "9-9"],
    ["XSETID", "xg", "10-0", "ENTRIESADDED", "1"],
    ["XSETID", "xg", "10-0", "ENTRIESADDED", "10", "MAXDELETEDID", "11-0"],
    ["XSETID", "xg-nokey", "1-1"],
    ["XINFO", "STREAM", "xg-nokey"],
    ["XINFO", "NOSUCH"],
    ["XINFO", "GROUPS", "xg-nokey"],
    ["XINFO", "CONSUMERS", "xg", "nogrp"],
  ],
  claims: [
    ["XADD", "xc", "1-1", "f", "1"],
    ["XADD", "xc", "2-1", "f", "2"],
    ["XADD", "xc", "3-1", "f", "3"],
    ["XADD", "xc", "4-1", "f", "4"],
    ["XGROUP", "CREATE", "xc", "g", "0"],
    ["XREADGROUP", "GROUP", "g", "a", "STREAMS", "xc", ">"],
    ["XDEL", "xc", "2-1"],
    ["XREADGROUP", "GROUP", "g", "a", "STREAMS", "xc", "0"],
    ["XREADGROUP", "GROUP", "g", "a", "COUNT", "1", "STREAMS", "xc", "2"],
    ["XCLAIM", "xc", "g", "b", "0", "1-1", "RETRYCOUNT", "5", "JUSTID"],
    idle("XPENDING", "xc", "g", "-", "+", "10", "b"),
    ["XCLAIM", "xc", "g", "b", "0", "9-9", "FORCE", "JUSTID"],
    ["XCLAIM", "xc", "g", "b", "0", "3-1", "LASTID", "50-0", "JUSTID"],
    ["XINFO", "GROUPS", "xc"],
    ["XCLAIM", "xc", "g", "b", "0", "1-1", "IDLE", "x"],
    ["XCLAIM", "xc", "g", "b", "0", "1-1", "TIME", "-1", "JUSTID"],
    ["XCLAIM", "xc", "g", "b", "0", "1-1", "BOGUS"],
    ["XCLAIM", "xc", "g", "b", "0", "2-1"],
    ["XAUTOCLAIM", "xc", "g", "z", "0", "0-0"],
    ["XPENDING", "xc", "g"],
    ["XAUTOCLAIM", "xc", "g", "z", "0", "0-0", "COUNT", "1"],
    ["XAUTOCLAIM", "xc", "g", "z", "0", "0-0", "COUNT", "x"],
    ["XAUTOCLAIM", "xc", "g", "z", "-1", "0-0"],
    ["XPENDING", "xc", "g", "IDLE", "x", "-", "+", "1"],
    ["XPENDING", "xc", "g", "-", "+", "x"],
    ["XPENDING", "xc", "g", "-", "+", "-5"],
    idle("XPENDING", "xc", "g", "(1-1", "+", "5"),
    ["XACK", "xc", "g", "1-1", "3-1", "4-1"],
    ["XGROUP", "SETID", "xc", "g", "$", "ENTRIESREAD", "x"],
    ["XGROUP", "SETID", "xc", "g", "1-1", "ENTRIESREAD", "3"],
    ["XINFO", "GROUPS", "xc"],
    ["XGROUP", "CREATE", "xc", "h", "$", "ENTRIESREAD", "-3"],
    ["XTRIM", "xc", "MINID", "~", "4"],
    ["XTRIM", "xc", "MINID", "4"],
    ["XRANGE", "xc", "-", "+"],
    ["XINFO", "GROUPS", "xc"],
    ["XINFO", "STREAM", "xc", "FULL", "COUNT", "x"],
    ["XINFO", "STREAM", "xc", "BOGUS"],
    ["XINFO", "CONSUMERS", "xc"],
  ],
};

/**
 * Raw bytes, each on a fresh connection: inline commands (quoting, escapes, blank lines) and
 * malformed input, whose reply is Redis's `-ERR Protocol error: ...` and a closed connection.
 * Left out: a multibulk length above 1,048,576, which Redis 7 accepts from an authenticated
 * client and WharfMQ refuses (`respMultibulkLengthMax`, a bound on memory; docs/resp.md).
 */
const rawInputs = [
  "*x\r\n",
  "*1\r\n$abc\r\n",
  "*1\r\n$-5\r\n",
  "*2\r\n$4\r\nPING\r\nx",
  'PING "unbalanced\r\n',
  "PING 'a\r\n",
  'ECHO "a\\x41b"\r\n',
  "ECHO 'it\\'s'\r\n",
  'ECHO "a"b\r\n',
  "  \r\nPING\r\n",
  "\r\n\r\nPING\r\n",
  "*0\r\nPING\r\n",
  "*-1\r\nPING\r\n",
  "*1\r\n$4\r\nPINGxx\r\n",
  "*3\r\n$4\r\nECHO\r\n$1\r\na\r\n",
  "PING\nPING\n",
  "*1\r\n:5\r\n",
  "*1\r\n+PING\r\n",
  "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
  "*1\r\n$536870913\r\n",
  "$4\r\nPING\r\n",
  "SUBSCRIBE a\r\nPING\r\nPING x\r\nQUIT\r\n",
];

async function record(port: number): Promise<void> {
  const admin = await RawRespClient.connect(port);
  const info = await admin.command(["INFO", "server"]);
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? "unknown";
  const recorded: Record<string, TranscriptStep[]> = {};
  for (const [name, steps] of Object.entries(scripts)) {
    await admin.command(["FLUSHALL"]);
    const client = await RawRespClient.connect(port);
    recorded[name] = [];
    for (const step of steps) {
      const args = Array.isArray(step) ? step : step.args;
      const reply = await client.command(args);
      if (reply === "<timeout>") throw new Error(`${name}: no reply to ${args.join(" ")}`);
      recorded[name].push({ args, reply, ...(Array.isArray(step) ? {} : { volatile: true }) });
    }
    client.close();
  }
  admin.close();
  const raw: RawTranscript[] = [];
  for (const input of rawInputs) raw.push({ input, ...(await rawExchange(port, input)) });
  const out = new URL("../fixtures/resp/redis-transcripts.json", import.meta.url);
  const fixture = { redis_version: version, scripts: recorded, raw };
  writeFileSync(out, `${JSON.stringify(fixture, null, 1)}\n`);
  console.log(`wrote ${out.pathname} (Redis ${version})`);
}

await record(Number(process.argv[2] ?? 6379));
