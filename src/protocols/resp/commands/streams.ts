/**
 * Redis Streams commands (redis/src/t_stream.c) on the core's `RedisStreams` service: XADD,
 * XLEN, XRANGE, XREVRANGE, XREAD, XREADGROUP, XDEL, XTRIM, XGROUP (CREATE, CREATECONSUMER,
 * DELCONSUMER, DESTROY, SETID, HELP), XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO (STREAM,
 * GROUPS, CONSUMERS, HELP) and XSETID.
 *
 * Arguments are parsed here in the order t_stream.c parses them, interleaved with the key and
 * group checks where Redis interleaves them (XACK answers 0 for a missing group before it
 * looks at the ids; XCLAIM checks the group before its min-idle-time), so that every error
 * text and its precedence match Redis. Replies use Redis's shapes: maps in RESP3 where Redis
 * writes maps (XREAD's streams, XINFO), flat arrays in RESP2.
 *
 * Arguments may be views of the connection's input buffer; every handler copies them first,
 * because the core keeps them across awaits (an XADD waits for its stream to be created).
 */

import { streamApproxTrimLimitDefault } from "../../../config/limits.ts";
import type {
  ClaimRequest,
  ReadPosition,
  ReadRequest,
  RedisStreams,
  StreamEntry,
  StreamReadResult,
  TrimSpec,
  XaddId,
} from "../../../core/redis-streams/redis-streams.ts";
import { printable, StreamCommandError } from "../../../core/redis-streams/stream-errors.ts";
import {
  compareIds,
  maxId,
  minId,
  parseIdArgument,
  parseIntervalBound,
  type StreamId,
  tryParseIdArgument,
} from "../../../core/redis-streams/stream-id.ts";
import { parseRedisInteger } from "../codec/parser.ts";
import {
  helpReply,
  nullArray,
  ok,
  RespErrorReply,
  RespMap,
  type RespValue,
} from "../codec/reply.ts";
import type { RespArgumentDoc, RespCommand, RespCommandContext, RespHandler } from "./command.ts";

type Handler = (
  context: RespCommandContext,
  args: Buffer[],
  streams: RedisStreams,
) => RespValue | Promise<RespValue>;

/**
 * Maps errors; copies the arguments into one buffer first (they are views of the connection's
 * input, which a blocking read or a stored name would keep alive) unless `keepsArguments` is
 * false: XADD's fields are encoded into the stream's next batch within the turn of the event
 * loop (later only when it waits for the stream's creation or append lock), then dropped.
 */
function command(handler: Handler, keepsArguments = true): RespHandler {
  return (context, args) => {
    try {
      const result = handler(
        context,
        keepsArguments ? copyArguments(args) : (args as Buffer[]), // handlers never mutate it
        context.broker.redisStreams,
      );
      return result instanceof Promise ? result.catch(errorToReply) : result;
    } catch (error) {
      return errorToReply(error);
    }
  };
}

function copyArguments(args: readonly Buffer[]): Buffer[] {
  let total = 0;
  for (const arg of args) total += arg.length;
  const copy = Buffer.allocUnsafe(total);
  const views: Buffer[] = new Array(args.length);
  let at = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    arg.copy(copy, at);
    views[i] = copy.subarray(at, at + arg.length);
    at += arg.length;
  }
  return views;
}

function errorToReply(error: unknown): RespValue {
  if (error instanceof StreamCommandError) return new RespErrorReply(error.reply);
  throw error;
}

function fail(text: string): never {
  throw new StreamCommandError(text);
}

const upper = (arg: Buffer): string => arg.toString("latin1").toUpperCase();

/** Redis's getLongLongFromObjectOrReply. */
function integer(arg: Buffer, message = "ERR value is not an integer or out of range"): number {
  const value = parseRedisInteger(arg, 0, arg.length);
  if (value === null) fail(message);
  return value;
}

function syntax(): never {
  fail("ERR syntax error");
}

function subcommandSyntax(args: Buffer[]): never {
  fail(
    `ERR unknown subcommand or wrong number of arguments for '${printable(args[1]!).slice(0, 128)}'. Try ${upper(args[0]!)} HELP.`,
  );
}

function arityError(name: string): never {
  fail(`ERR wrong number of arguments for '${name}' command`);
}

// ---------------------------------------------------------------------------------------------
// Replies

function entryReply(entry: StreamEntry): RespValue {
  return [entry.id, entry.fields ?? nullArray];
}

function entriesReply(entries: StreamEntry[]): RespValue {
  return entries.map(entryReply);
}

// ---------------------------------------------------------------------------------------------
// XADD / XTRIM

interface AddOrTrimArguments {
  trim: TrimSpec | null;
  noMkStream: boolean;
  id: XaddId;
  idGiven: boolean;
  /** Index of the id argument (XADD). */
  idIndex: number;
}

/** t_stream.c `streamParseAddOrTrimArgsOrReply`. */
function parseAddOrTrim(args: Buffer[], xadd: boolean): AddOrTrimArguments {
  let strategy: "none" | "maxlen" | "minid" = "none";
  let approx = false;
  let maxLength = 0;
  let minimum: StreamId = minId;
  let limit = 0;
  let limitGiven = false;
  let noMkStream = false;
  let id: XaddId = { kind: "auto" };
  let idGiven = false;
  let i = 2;
  for (; i < args.length; i++) {
    const more = args.length - 1 - i;
    const option = args[i]!;
    if (xadd && option.length === 1 && option[0] === 0x2a) break; // "*"
    const name = upper(option);
    if (name === "MAXLEN" && more) {
      if (strategy !== "none") {
        fail("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
      }
      approx = false;
      const next = args[i + 1]!;
      if (more >= 2 && next.length === 1 && next[0] === 0x7e) {
        approx = true;
        i++;
      } else if (more >= 2 && next.length === 1 && next[0] === 0x3d) {
        i++;
      }
      maxLength = integer(args[i + 1]!);
      if (maxLength < 0) fail("ERR The MAXLEN argument must be >= 0.");
      i++;
      strategy = "maxlen";
    } else if (name === "MINID" && more) {
      if (strategy !== "none") {
        fail("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
      }
      approx = false;
      const next = args[i + 1]!;
      if (more >= 2 && next.length === 1 && next[0] === 0x7e) {
        approx = true;
        i++;
      } else if (more >= 2 && next.length === 1 && next[0] === 0x3d) {
        i++;
      }
      minimum = parseIdArgument(args[i + 1]!, { strict: true }).id;
      i++;
      strategy = "minid";
    } else if (name === "LIMIT" && more) {
      limit = integer(args[i + 1]!);
      if (limit < 0) fail("ERR The LIMIT argument must be >= 0.");
      limitGiven = true;
      i++;
    } else if (xadd && name === "NOMKSTREAM") {
      noMkStream = true;
    } else if (xadd) {
      const parsed = parseIdArgument(option, { strict: true, allowAutoSeq: true });
      id = { kind: "explicit", id: parsed.id, seqGiven: parsed.seqGiven };
      idGiven = true;
      break;
    } else {
      syntax();
    }
  }
  if (limit && strategy === "none") {
    fail("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
  }
  if (!xadd && strategy === "none") {
    fail("ERR syntax error, XTRIM must be called with a trimming strategy");
  }
  if (limitGiven) {
    if (!approx) fail("ERR syntax error, LIMIT cannot be used without the special ~ option");
  } else {
    limit = approx ? streamApproxTrimLimitDefault : 0;
  }
  const trim = strategy === "none" ? null : { strategy, maxLength, minId: minimum, approx, limit };
  return { trim, noMkStream, id, idGiven, idIndex: i };
}

function xadd(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  const parsed = parseAddOrTrim(args, true);
  const fieldIndex = parsed.idIndex + 1;
  const fieldCount = args.length - fieldIndex;
  if (fieldCount < 2 || fieldCount % 2 === 1) arityError("xadd");
  const id = parsed.id;
  if (id.kind === "explicit" && id.seqGiven && id.id.ms === 0n && id.id.seq === 0n) {
    fail("ERR The ID specified in XADD must be greater than 0-0");
  }
  // The reply is the id as a bulk string, or nil (NOMKSTREAM): the service's result as is.
  return streams.xadd(args[1]!, {
    id,
    noMkStream: parsed.noMkStream,
    trim: parsed.trim,
    fields: args.slice(fieldIndex),
  });
}

function xtrim(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  const parsed = parseAddOrTrim(args, false);
  return streams.xtrim(args[1]!, parsed.trim!);
}

// ---------------------------------------------------------------------------------------------
// XLEN, XRANGE, XREVRANGE, XDEL

function xlen(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  return streams.xlen(args[1]!);
}

function range(reverse: boolean): Handler {
  return async (_context, args, streams) => {
    const startArg = reverse ? args[3]! : args[2]!;
    const endArg = reverse ? args[2]! : args[3]!;
    const start = parseIntervalBound(startArg, "start");
    const end = parseIntervalBound(endArg, "end");
    let count = -1;
    for (let j = 4; j < args.length; j++) {
      const additional = args.length - j - 1;
      if (upper(args[j]!) === "COUNT" && additional >= 1) {
        count = integer(args[j + 1]!);
        if (count < 0) count = 0;
        j++;
      } else {
        syntax();
      }
    }
    if (streams.keyType(args[1]!) === "none") return [];
    if (count === 0) return nullArray;
    return entriesReply(
      await streams.xrange(args[1]!, start, end, count === -1 ? null : count, reverse),
    );
  };
}

function xdel(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  if (streams.keyType(args[1]!) === "none") return 0;
  const ids = args.slice(2).map((arg) => parseIdArgument(arg, { strict: true }).id);
  return streams.xdel(args[1]!, ids);
}

// ---------------------------------------------------------------------------------------------
// XREAD, XREADGROUP

async function read(context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  const group = upper(args[0]!) === "XREADGROUP";
  const name = group ? "xreadgroup" : "xread";
  let blockMs: number | null = null;
  let count = 0;
  let streamsAt = 0;
  let streamCount = 0;
  let noAck = false;
  let groupName: Buffer | null = null;
  let consumer: Buffer | null = null;
  for (let i = 1; i < args.length; i++) {
    const more = args.length - i - 1;
    const option = upper(args[i]!);
    if (option === "BLOCK" && more) {
      i++;
      const timeout = integer(args[i]!, "ERR timeout is not an integer or out of range");
      if (timeout < 0) fail("ERR timeout is negative");
      blockMs = timeout;
    } else if (option === "COUNT" && more) {
      i++;
      count = Math.max(0, integer(args[i]!));
    } else if (option === "STREAMS" && more) {
      streamsAt = i + 1;
      streamCount = args.length - streamsAt;
      if (streamCount % 2 !== 0) {
        const symbol = group ? "ID or '>'" : "ID, '+', or '$'";
        fail(
          `ERR Unbalanced '${name}' list of streams: for each stream key an ${symbol} must be specified.`,
        );
      }
      streamCount /= 2;
      break;
    } else if (option === "GROUP" && more >= 2) {
      if (!group)
        fail("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
      groupName = args[i + 1]!;
      consumer = args[i + 2]!;
      i += 2;
    } else if (option === "NOACK") {
      if (!group)
        fail("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
      noAck = true;
    } else {
      syntax();
    }
  }
  if (streamsAt === 0) syntax();
  if (group && groupName === null) fail("ERR Missing GROUP option for XREADGROUP");
  const requests: ReadRequest[] = [];
  for (let i = 0; i < streamCount; i++) {
    const key = args[streamsAt + i]!;
    const idArg = args[streamsAt + streamCount + i]!;
    const exists = streams.keyType(key) === "stream"; // WRONGTYPE first, as checkType
    if (groupName && (!exists || !streams.hasGroup(key, groupName))) {
      fail(
        `NOGROUP No such key '${printable(key)}' or consumer group '${printable(groupName)}' in XREADGROUP with GROUP option`,
      );
    }
    requests.push({ key, position: readPosition(idArg, group) });
  }
  const client = context.client;
  const options = {
    count,
    blockMs,
    signal: client.closed,
    onWait: () => {
      client.blocked = true;
    },
  };
  let results: StreamReadResult[] | null;
  try {
    results = group
      ? await streams.xreadgroup(groupName!, consumer!, requests, { ...options, noAck })
      : await streams.xread(requests, options);
  } finally {
    client.blocked = false;
  }
  if (results === null) return nullArray;
  if (client.protocol === 3) {
    return new RespMap(results.map((result) => [result.key, entriesReply(result.entries)]));
  }
  return results.map((result) => [result.key, entriesReply(result.entries)]);
}

const meaningless = (symbol: string) =>
  `ERR The ${symbol} ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The ${symbol} ID would just return an empty result set.`;

function readPosition(arg: Buffer, group: boolean): ReadPosition {
  if (arg.length === 1 && arg[0] === 0x24) {
    if (group) fail(meaningless("$"));
    return { kind: "last" };
  }
  if (arg.length === 1 && arg[0] === 0x2b) {
    if (group) fail(meaningless("+"));
    return { kind: "lastEntry" };
  }
  if (arg.length === 1 && arg[0] === 0x3e) {
    if (!group) {
      fail(
        "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
      );
    }
    return { kind: "new" };
  }
  return { kind: "id", id: parseIdArgument(arg, { strict: true }).id };
}

// ---------------------------------------------------------------------------------------------
// XGROUP

const xgroupHelp = [
  "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CREATE <key> <groupname> <id|$> [option]",
  "    Create a new consumer group. Options are:",
  "    * MKSTREAM",
  "      Create the empty stream if it does not exist.",
  "    * ENTRIESREAD entries_read",
  "      Set the group's entries_read counter (internal use).",
  "CREATECONSUMER <key> <groupname> <consumer>",
  "    Create a new consumer in the specified group.",
  "DELCONSUMER <key> <groupname> <consumer>",
  "    Remove the specified consumer.",
  "DESTROY <key> <groupname>",
  "    Remove the specified group.",
  "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
  "    Set the current group ID and entries_read counter.",
  "HELP",
  "    Print this help.",
];

/** The option parsing and key/group checks of `xgroupCommand`, before the subcommand. */
function xgroupPrelude(
  args: Buffer[],
  streams: RedisStreams,
): { mkStream: boolean; entriesRead: number | null } {
  const sub = upper(args[1]!);
  let mkStream = false;
  let entriesRead: number | null = null;
  for (let i = 5; i < args.length; ) {
    const option = upper(args[i]!);
    if (sub === "CREATE" && option === "MKSTREAM") {
      mkStream = true;
      i++;
    } else if (
      (sub === "CREATE" || sub === "SETID") &&
      option === "ENTRIESREAD" &&
      i + 1 < args.length
    ) {
      entriesRead = integer(args[i + 1]!);
      if (entriesRead < 0 && entriesRead !== -1) {
        fail("ERR value for ENTRIESREAD must be positive or -1");
      }
      i += 2;
    } else {
      subcommandSyntax(args);
    }
  }
  const exists = streams.keyType(args[2]!) === "stream";
  if (!mkStream) {
    const groupRequired = sub === "SETID" || sub === "CREATECONSUMER" || sub === "DELCONSUMER";
    if (!exists || groupRequired) streams.checkGroupCommand(args[2]!, args[3]!, groupRequired);
  }
  return { mkStream, entriesRead };
}

function groupId(arg: Buffer, strict: boolean): StreamId | "$" {
  if (arg.length === 1 && arg[0] === 0x24) return "$";
  return parseIdArgument(arg, { strict }).id;
}

async function xgroupCreate(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  const { mkStream, entriesRead } = xgroupPrelude(args, streams);
  if (args.length > 8) subcommandSyntax(args);
  const id = groupId(args[4]!, true);
  await streams.xgroupCreate(args[2]!, args[3]!, id, mkStream, entriesRead);
  return ok;
}

async function xgroupSetId(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  const { entriesRead } = xgroupPrelude(args, streams);
  if (args.length !== 5 && args.length !== 7) subcommandSyntax(args);
  const id = groupId(args[4]!, false);
  await streams.xgroupSetId(args[2]!, args[3]!, id, entriesRead);
  return ok;
}

function xgroupDestroy(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  xgroupPrelude(args, streams);
  return streams.xgroupDestroy(args[2]!, args[3]!);
}

function xgroupCreateConsumer(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  xgroupPrelude(args, streams);
  return streams.xgroupCreateConsumer(args[2]!, args[3]!, args[4]!);
}

function xgroupDelConsumer(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  xgroupPrelude(args, streams);
  return streams.xgroupDelConsumer(args[2]!, args[3]!, args[4]!);
}

// ---------------------------------------------------------------------------------------------
// XACK, XPENDING, XCLAIM, XAUTOCLAIM

function xack(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  if (!streams.hasGroup(args[1]!, args[2]!)) return 0;
  const ids = args.slice(3).map((arg) => parseIdArgument(arg, { strict: true }).id);
  return streams.xack(args[1]!, args[2]!, ids);
}

function xpending(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  const argc = args.length;
  if (argc !== 3 && (argc < 6 || argc > 9)) syntax();
  let minIdleMs = 0;
  let start = minId;
  let end = maxId;
  let count = 0;
  let consumer: Buffer | null = null;
  if (argc >= 6) {
    let at = 3;
    if (upper(args[3]!) === "IDLE") {
      minIdleMs = integer(args[4]!);
      if (argc < 8) syntax();
      at += 2;
    }
    count = Math.max(0, integer(args[at + 2]!));
    start = parseIntervalBound(args[at]!, "start");
    end = parseIntervalBound(args[at + 1]!, "end");
    if (at + 3 < argc) consumer = args[at + 3]!;
  }
  streams.checkPendingGroup(args[1]!, args[2]!);
  if (argc === 3) {
    const summary = streams.xpendingSummary(args[1]!, args[2]!);
    if (summary.count === 0) return [0, null, null, nullArray];
    return [
      summary.count,
      summary.first,
      summary.last,
      summary.consumers.map((entry) => [entry.name, String(entry.count)]),
    ];
  }
  return streams
    .xpendingRange(args[1]!, args[2]!, { minIdleMs, start, end, count, consumer })
    .map((detail) => [detail.id, detail.consumer, detail.idleMs, detail.deliveries]);
}

async function xclaim(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  streams.checkPendingGroup(args[1]!, args[2]!);
  const minIdle = Math.max(0, integer(args[4]!, "ERR Invalid min-idle-time argument for XCLAIM"));
  const ids: StreamId[] = [];
  let j = 5;
  for (; j < args.length; j++) {
    const parsed = tryParseIdArgument(args[j]!, { strict: true });
    if (!parsed) break;
    ids.push(parsed.id);
  }
  const request: ClaimRequest = {
    minIdleMs: minIdle,
    ids,
    idleMs: null,
    timeMs: null,
    retryCount: null,
    force: false,
    justId: false,
    lastId: null,
  };
  for (; j < args.length; j++) {
    const more = args.length - 1 - j;
    const option = upper(args[j]!);
    if (option === "FORCE") {
      request.force = true;
    } else if (option === "JUSTID") {
      request.justId = true;
    } else if (option === "IDLE" && more) {
      request.idleMs = integer(args[++j]!, "ERR Invalid IDLE option argument for XCLAIM");
      request.timeMs = null;
    } else if (option === "TIME" && more) {
      request.timeMs = integer(args[++j]!, "ERR Invalid TIME option argument for XCLAIM");
      request.idleMs = null;
    } else if (option === "RETRYCOUNT" && more) {
      const retries = integer(args[++j]!, "ERR Invalid RETRYCOUNT option argument for XCLAIM");
      request.retryCount = retries >= 0 ? retries : null; // negative: as if not given (Redis)
    } else if (option === "LASTID" && more) {
      request.lastId = parseIdArgument(args[++j]!, { strict: true }).id;
    } else {
      fail(`ERR Unrecognized XCLAIM option '${printable(args[j]!)}'`);
    }
  }
  const claimed = await streams.xclaim(args[1]!, args[2]!, args[3]!, request);
  return request.justId ? claimed.map((entry) => entry.id) : entriesReply(claimed);
}

/** XAUTOCLAIM's COUNT bound (LONG_MAX / attempts factor, as Redis). */
const autoclaimCountMax = 576460752303423487n;

async function xautoclaim(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  const minIdle = Math.max(
    0,
    integer(args[4]!, "ERR Invalid min-idle-time argument for XAUTOCLAIM"),
  );
  const start = parseIntervalBound(args[5]!, "start");
  let count = 100;
  let justId = false;
  for (let j = 6; j < args.length; j++) {
    const more = args.length - 1 - j;
    const option = upper(args[j]!);
    if (option === "COUNT" && more) {
      count = integer(args[j + 1]!, "ERR COUNT must be > 0");
      if (count < 1 || BigInt(args[j + 1]!.toString("latin1")) > autoclaimCountMax) {
        fail("ERR COUNT must be > 0");
      }
      j++;
    } else if (option === "JUSTID") {
      justId = true;
    } else {
      syntax();
    }
  }
  streams.checkPendingGroup(args[1]!, args[2]!);
  const result = await streams.xautoclaim(args[1]!, args[2]!, args[3]!, {
    minIdleMs: minIdle,
    start,
    count: Math.min(count, 100_000),
    justId,
  });
  return [result.next, justId ? result.claimedIds : entriesReply(result.claimed), result.deleted];
}

// ---------------------------------------------------------------------------------------------
// XINFO, XSETID

const xinfoHelp = [
  "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CONSUMERS <key> <groupname>",
  "    Show consumers of <groupname>.",
  "GROUPS <key>",
  "    Show the stream consumer groups.",
  "STREAM <key> [FULL [COUNT <count>]",
  "    Show information about the stream.",
  "HELP",
  "    Print this help.",
];

function nullable(value: number | null): RespValue {
  return value;
}

async function xinfoStream(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  if (streams.keyType(args[2]!) === "none") fail("ERR no such key");
  const options = args.slice(3);
  if (options.length === 0) {
    const info = await streams.xinfoStream(args[2]!);
    return new RespMap([
      ["length", info.length],
      ["radix-tree-keys", info.radixTreeKeys],
      ["radix-tree-nodes", info.radixTreeNodes],
      ["last-generated-id", info.lastGeneratedId],
      ["max-deleted-entry-id", info.maxDeletedEntryId],
      ["entries-added", info.entriesAdded],
      ["recorded-first-entry-id", info.recordedFirstEntryId],
      ["groups", info.groups],
      ["first-entry", info.firstEntry ? entryReply(info.firstEntry) : null],
      ["last-entry", info.lastEntry ? entryReply(info.lastEntry) : null],
    ]);
  }
  if (options.length !== 1 && options.length !== 3) subcommandSyntax(args);
  if (upper(options[0]!) !== "FULL") subcommandSyntax(args);
  let count = 10;
  if (options.length === 3) {
    if (upper(options[1]!) !== "COUNT") subcommandSyntax(args);
    count = integer(options[2]!);
    if (count < 0) count = 10;
  }
  const info = await streams.xinfoStreamFull(args[2]!, count);
  return new RespMap([
    ["length", info.length],
    ["radix-tree-keys", info.radixTreeKeys],
    ["radix-tree-nodes", info.radixTreeNodes],
    ["last-generated-id", info.lastGeneratedId],
    ["max-deleted-entry-id", info.maxDeletedEntryId],
    ["entries-added", info.entriesAdded],
    ["recorded-first-entry-id", info.recordedFirstEntryId],
    ["entries", entriesReply(info.entries)],
    [
      "groups",
      info.groups.map(
        (group) =>
          new RespMap([
            ["name", group.name],
            ["last-delivered-id", group.lastDeliveredId],
            ["entries-read", nullable(group.entriesRead)],
            ["lag", nullable(group.lag)],
            ["pel-count", group.pelCount],
            [
              "pending",
              group.pending.map((entry) => [
                entry.id,
                entry.consumer,
                entry.deliveryTime,
                entry.deliveries,
              ]),
            ],
            [
              "consumers",
              group.consumers.map(
                (consumer) =>
                  new RespMap([
                    ["name", consumer.name],
                    ["seen-time", consumer.seenTime],
                    ["active-time", consumer.activeTime],
                    ["pel-count", consumer.pelCount],
                    [
                      "pending",
                      consumer.pending.map((entry) => [
                        entry.id,
                        entry.deliveryTime,
                        entry.deliveries,
                      ]),
                    ],
                  ]),
              ),
            ],
          ]),
      ),
    ],
  ]);
}

async function xinfoGroups(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  if (streams.keyType(args[2]!) === "none") fail("ERR no such key");
  const groups = await streams.xinfoGroups(args[2]!);
  return groups.map(
    (group) =>
      new RespMap([
        ["name", group.name],
        ["consumers", group.consumers],
        ["pending", group.pending],
        ["last-delivered-id", group.lastDeliveredId],
        ["entries-read", nullable(group.entriesRead)],
        ["lag", nullable(group.lag)],
      ]),
  );
}

function xinfoConsumers(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  if (streams.keyType(args[2]!) === "none") fail("ERR no such key");
  return streams.xinfoConsumers(args[2]!, args[3]!).map(
    (consumer) =>
      new RespMap([
        ["name", consumer.name],
        ["pending", consumer.pending],
        ["idle", consumer.idleMs],
        ["inactive", consumer.inactiveMs],
      ]),
  );
}

async function xsetid(_context: RespCommandContext, args: Buffer[], streams: RedisStreams) {
  const id = parseIdArgument(args[2]!, { strict: true }).id;
  let entriesAdded: number | null = null;
  let maxDeleted: StreamId | null = null;
  for (let i = 3; i < args.length; ) {
    const more = args.length - 1 - i;
    const option = upper(args[i]!);
    if (option === "ENTRIESADDED" && more) {
      entriesAdded = integer(args[i + 1]!);
      if (entriesAdded < 0) fail("ERR entries_added must be positive");
      i += 2;
    } else if (option === "MAXDELETEDID" && more) {
      maxDeleted = parseIdArgument(args[i + 1]!, { strict: true }).id;
      if (compareIds(id, maxDeleted) < 0) {
        fail("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
      }
      i += 2;
    } else {
      syntax();
    }
  }
  await streams.xsetid(args[1]!, id, entriesAdded, maxDeleted);
  return ok;
}

// ---------------------------------------------------------------------------------------------
// The table

/** COMMAND DOCS arguments of the trim clause, shared by XADD and XTRIM. */
const trimArguments: readonly RespArgumentDoc[] = [
  {
    name: "strategy",
    type: "oneof",
    arguments: [
      { name: "maxlen", type: "pure-token", token: "MAXLEN" },
      { name: "minid", type: "pure-token", token: "MINID" },
    ],
  },
  {
    name: "operator",
    type: "oneof",
    flags: ["optional"],
    arguments: [
      { name: "equal", type: "pure-token", token: "=" },
      { name: "approximately", type: "pure-token", token: "~" },
    ],
  },
  { name: "threshold", type: "string" },
  { name: "count", type: "integer", token: "LIMIT", flags: ["optional"] },
];

const oneKey = { first: 1, last: 1, step: 1 } as const;

export const streamCommands: readonly RespCommand[] = [
  {
    name: "xadd",
    arity: -5,
    flags: ["write", "denyoom", "fast"],
    summary: "Appends a new message to a stream. Creates the key if it doesn't exist.",
    since: "5.0.0",
    group: "stream",
    complexity:
      "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
    keys: oneKey,
    arguments: [
      { name: "key", type: "key" },
      { name: "nomkstream", type: "pure-token", token: "NOMKSTREAM", flags: ["optional"] },
      {
        name: "trim",
        type: "block",
        flags: ["optional"],
        arguments: trimArguments,
      },
      {
        name: "id-selector",
        type: "oneof",
        arguments: [
          { name: "auto-id", type: "pure-token", token: "*" },
          { name: "id", type: "string" },
        ],
      },
      {
        name: "data",
        type: "block",
        flags: ["multiple"],
        arguments: [
          { name: "field", type: "string" },
          { name: "value", type: "string" },
        ],
      },
    ],
    handler: command(xadd, false),
  },
  {
    name: "xlen",
    arity: 2,
    flags: ["readonly", "fast"],
    summary: "Return the number of messages in a stream.",
    since: "5.0.0",
    group: "stream",
    complexity: "O(1)",
    keys: oneKey,
    arguments: [{ name: "key", type: "key" }],
    handler: command(xlen),
  },
  {
    name: "xrange",
    arity: -4,
    flags: ["readonly"],
    summary: "Returns the messages from a stream within a range of IDs.",
    since: "5.0.0",
    group: "stream",
    complexity: "O(N) with N being the number of elements being returned.",
    keys: oneKey,
    arguments: [
      { name: "key", type: "key" },
      { name: "start", type: "string" },
      { name: "end", type: "string" },
      { name: "count", type: "integer", token: "COUNT", flags: ["optional"] },
    ],
    handler: command(range(false)),
  },
  {
    name: "xrevrange",
    arity: -4,
    flags: ["readonly"],
    summary: "Returns the messages from a stream within a range of IDs in reverse order.",
    since: "5.0.0",
    group: "stream",
    complexity: "O(N) with N being the number of elements returned.",
    keys: oneKey,
    arguments: [
      { name: "key", type: "key" },
      { name: "end", type: "string" },
      { name: "start", type: "string" },
      { name: "count", type: "integer", token: "COUNT", flags: ["optional"] },
    ],
    handler: command(range(true)),
  },
  {
    name: "xread",
    arity: -4,
    flags: ["blocking", "readonly"],
    summary:
      "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
    since: "5.0.0",
    group: "stream",
    arguments: [
      { name: "count", type: "integer", token: "COUNT", flags: ["optional"] },
      { name: "milliseconds", type: "integer", token: "BLOCK", flags: ["optional"] },
      {
        name: "streams",
        type: "block",
        token: "STREAMS",
        arguments: [
          { name: "key", type: "key", flags: ["multiple"] },
          { name: "id", type: "string", flags: ["multiple"] },
        ],
      },
    ],
    handler: command(read),
  },
  {
    name: "xreadgroup",
    arity: -7,
    flags: ["blocking", "write"],
    summary:
      "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.",
    since: "5.0.0",
    group: "stream",
    arguments: [
      {
        name: "group-block",
        type: "block",
        token: "GROUP",
        arguments: [
          { name: "group", type: "string" },
          { name: "consumer", type: "string" },
        ],
      },
      { name: "count", type: "integer", token: "COUNT", flags: ["optional"] },
      { name: "milliseconds", type: "integer", token: "BLOCK", flags: ["optional"] },
      { name: "noack", type: "pure-token", token: "NOACK", flags: ["optional"] },
      {
        name: "streams",
        type: "block",
        token: "STREAMS",
        arguments: [
          { name: "key", type: "key", flags: ["multiple"] },
          { name: "id", type: "string", flags: ["multiple"] },
        ],
      },
    ],
    handler: command(read),
  },
  {
    name: "xdel",
    arity: -3,
    flags: ["write", "fast"],
    summary: "Returns the number of messages after removing them from a stream.",
    since: "5.0.0",
    group: "stream",
    complexity: "O(1) for each single item to delete in the stream.",
    keys: oneKey,
    arguments: [
      { name: "key", type: "key" },
      { name: "id", type: "string", flags: ["multiple"] },
    ],
    handler: command(xdel),
  },
  {
    name: "xtrim",
    arity: -4,
    flags: ["write"],
    summary: "Deletes messages from the beginning of a stream.",
    since: "5.0.0",
    group: "stream",
    complexity: "O(N), with N being the number of evicted entries.",
    keys: oneKey,
    arguments: [
      { name: "key", type: "key" },
      {
        name: "trim",
        type: "block",
        arguments: trimArguments,
      },
    ],
    handler: command(xtrim),
  },
  {
    name: "xgroup",
    arity: -2,
    flags: [],
    summary: "A container for consumer groups commands.",
    since: "5.0.0",
    group: "stream",
    complexity: "Depends on subcommand.",
    subcommands: [
      {
        name: "create",
        arity: -5,
        flags: ["write", "denyoom"],
        summary: "Creates a consumer group.",
        since: "5.0.0",
        group: "stream",
        complexity: "O(1)",
        keys: { first: 2, last: 2, step: 1 },
        arguments: [
          { name: "key", type: "key" },
          { name: "group", type: "string" },
          { name: "id-selector", type: "string" },
          { name: "mkstream", type: "pure-token", token: "MKSTREAM", flags: ["optional"] },
          { name: "entriesread", type: "integer", token: "ENTRIESREAD", flags: ["optional"] },
        ],
        handler: command(xgroupCreate),
      },
      {
        name: "createconsumer",
        arity: 5,
        flags: ["write", "denyoom"],
        summary: "Creates a consumer in a consumer group.",
        since: "6.2.0",
        group: "stream",
        complexity: "O(1)",
        keys: { first: 2, last: 2, step: 1 },
        arguments: [
          { name: "key", type: "key" },
          { name: "group", type: "string" },
          { name: "consumer", type: "string" },
        ],
        handler: command(xgroupCreateConsumer),
      },
      {
        name: "delconsumer",
        arity: 5,
        flags: ["write"],
        summary: "Deletes a consumer from a consumer group.",
        since: "5.0.0",
        group: "stream",
        complexity: "O(1)",
        keys: { first: 2, last: 2, step: 1 },
        arguments: [
          { name: "key", type: "key" },
          { name: "group", type: "string" },
          { name: "consumer", type: "string" },
        ],
        handler: command(xgroupDelConsumer),
      },
      {
        name: "destroy",
        arity: 4,
        flags: ["write"],
        summary: "Destroys a consumer group.",
        since: "5.0.0",
        group: "stream",
        complexity: "O(N) where N is the number of entries in the group's PEL.",
        keys: { first: 2, last: 2, step: 1 },
        arguments: [
          { name: "key", type: "key" },
          { name: "group", type: "string" },
        ],
        handler: command(xgroupDestroy),
      },
      {
        name: "setid",
        arity: -5,
        flags: ["write"],
        summary: "Sets the last-delivered ID of a consumer group.",
        since: "5.0.0",
        group: "stream",
        complexity: "O(1)",
        keys: { first: 2, last: 2, step: 1 },
        arguments: [
          { name: "key", type: "key" },
          { name: "group", type: "string" },
          { name: "id-selector", type: "string" },
          { name: "entriesread", type: "integer", token: "ENTRIESREAD", flags: ["optional"] },
        ],
        handler: command(xgroupSetId),
      },
      {
        name: "help",
        arity: 2,
        flags: ["loading", "stale"],
        summary: "Returns helpful text about the different subcommands.",
        since: "5.0.0",
        group: "stream",
        complexity: "O(1)",
        handler: () => helpReply(xgroupHelp),
      },
    ],
  },
  {
    name: "xack",
    arity: -4,
    flags: ["write", "fast"],
    summary:
      "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.",
    since: "5.0.0",
    group: "stream",
    complexity: "O(1) for each message ID processed.",
    keys: oneKey,
    arguments: [
      { name: "key", type: "key" },
      { name: "group", type: "string" },
      { name: "id", type: "string", flags: ["multiple"] },
    ],
    handler: command(xack),
  },
  {
    name: "xpending",
    arity: -3,
    flags: ["readonly"],
    summary:
      "Returns the information and entries from a stream consumer group's pending entries list.",
    since: "5.0.0",
    group: "stream",
    complexity: "O(N) with N being the number of elements returned.",
    keys: oneKey,
    arguments: [
      { name: "key", type: "key" },
      { name: "group", type: "string" },
      {
        name: "filters",
        type: "block",
        flags: ["optional"],
        arguments: [
          { name: "min-idle-time", type: "integer", token: "IDLE", flags: ["optional"] },
          { name: "start", type: "string" },
          { name: "end", type: "string" },
          { name: "count", type: "integer" },
          { name: "consumer", type: "string", flags: ["optional"] },
        ],
      },
    ],
    handler: command(xpending),
  },
  {
    name: "xclaim",
    arity: -6,
    flags: ["write", "fast"],
    summary:
      "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.",
    since: "5.0.0",
    group: "stream",
    complexity: "O(log N) with N being the number of messages in the PEL of the consumer group.",
    keys: oneKey,
    arguments: [
      { name: "key", type: "key" },
      { name: "group", type: "string" },
      { name: "consumer", type: "string" },
      { name: "min-idle-time", type: "string" },
      { name: "id", type: "string", flags: ["multiple"] },
      { name: "ms", type: "integer", token: "IDLE", flags: ["optional"] },
      { name: "unix-time-milliseconds", type: "unix-time", token: "TIME", flags: ["optional"] },
      { name: "count", type: "integer", token: "RETRYCOUNT", flags: ["optional"] },
      { name: "force", type: "pure-token", token: "FORCE", flags: ["optional"] },
      { name: "justid", type: "pure-token", token: "JUSTID", flags: ["optional"] },
      { name: "lastid", type: "string", token: "LASTID", flags: ["optional"] },
    ],
    handler: command(xclaim),
  },
  {
    name: "xautoclaim",
    arity: -6,
    flags: ["write", "fast"],
    summary:
      "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.",
    since: "6.2.0",
    group: "stream",
    complexity: "O(1) if COUNT is small.",
    keys: oneKey,
    arguments: [
      { name: "key", type: "key" },
      { name: "group", type: "string" },
      { name: "consumer", type: "string" },
      { name: "min-idle-time", type: "string" },
      { name: "start", type: "string" },
      { name: "count", type: "integer", token: "COUNT", flags: ["optional"] },
      { name: "justid", type: "pure-token", token: "JUSTID", flags: ["optional"] },
    ],
    handler: command(xautoclaim),
  },
  {
    name: "xinfo",
    arity: -2,
    flags: [],
    summary: "A container for stream introspection commands.",
    since: "5.0.0",
    group: "stream",
    complexity: "Depends on subcommand.",
    subcommands: [
      {
        name: "stream",
        arity: -3,
        flags: ["readonly"],
        summary: "Returns information about a stream.",
        since: "5.0.0",
        group: "stream",
        complexity: "O(1)",
        keys: { first: 2, last: 2, step: 1 },
        arguments: [
          { name: "key", type: "key" },
          {
            name: "full-block",
            type: "block",
            flags: ["optional"],
            arguments: [
              { name: "full", type: "pure-token", token: "FULL" },
              { name: "count", type: "integer", token: "COUNT", flags: ["optional"] },
            ],
          },
        ],
        handler: command(xinfoStream),
      },
      {
        name: "groups",
        arity: 3,
        flags: ["readonly"],
        summary: "Returns a list of the consumer groups of a stream.",
        since: "5.0.0",
        group: "stream",
        complexity: "O(1)",
        keys: { first: 2, last: 2, step: 1 },
        arguments: [{ name: "key", type: "key" }],
        handler: command(xinfoGroups),
      },
      {
        name: "consumers",
        arity: 4,
        flags: ["readonly"],
        summary: "Returns a list of the consumers in a consumer group.",
        since: "5.0.0",
        group: "stream",
        complexity: "O(1)",
        keys: { first: 2, last: 2, step: 1 },
        arguments: [
          { name: "key", type: "key" },
          { name: "group", type: "string" },
        ],
        handler: command(xinfoConsumers),
      },
      {
        name: "help",
        arity: 2,
        flags: ["loading", "stale"],
        summary: "Returns helpful text about the different subcommands.",
        since: "5.0.0",
        group: "stream",
        complexity: "O(1)",
        handler: () => helpReply(xinfoHelp),
      },
    ],
  },
  {
    name: "xsetid",
    arity: -3,
    flags: ["write", "denyoom", "fast"],
    summary: "An internal command for replicating stream values.",
    since: "5.0.0",
    group: "stream",
    complexity: "O(1)",
    keys: oneKey,
    arguments: [
      { name: "key", type: "key" },
      { name: "last-id", type: "string" },
      { name: "entries-added", type: "integer", token: "ENTRIESADDED", flags: ["optional"] },
      {
        name: "max-deleted-id",
        type: "string",
        token: "MAXDELETEDID",
        flags: ["optional"],
      },
    ],
    handler: command(xsetid),
  },
];
