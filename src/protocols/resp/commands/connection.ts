/**
 * Connection commands: HELLO, AUTH, PING, ECHO, QUIT, RESET, SELECT (redis/src/server.c,
 * networking.c, acl.c), with Redis's replies and error texts.
 *
 * Authentication mirrors a Redis whose `default` user has no password (its out-of-the-box
 * setup): every connection starts as `default` and may run commands; `AUTH user pass` and
 * `HELLO ... AUTH user pass` check credentials with the core's authenticator (the built-in
 * `guest`/`guest`, loopback only) and answer `-WRONGPASS` as Redis does. Requiring
 * authentication is the security issue's to add; the seam is `context.broker.authenticator`.
 */
import { isWharfError } from "../../../errors/index.ts";
import { parseRedisInteger } from "../codec/parser.ts";
import {
  errorReply,
  notAnInteger,
  ok,
  pong,
  RespErrorReply,
  RespMap,
  RespSimple,
  type RespValue,
  syntaxError,
  wrongArity,
} from "../codec/reply.ts";
import { validateClientName } from "./client.ts";
import type { RespCommand, RespCommandContext } from "./command.ts";
import { dropSubscriptions } from "./pubsub.ts";

/** What HELLO and INFO report: the Redis version whose behaviour is mirrored. */
export const redisCompatibleVersion = "7.2.0";

const wrongPass = new RespErrorReply(
  "WRONGPASS invalid username-password pair or user is disabled.",
);

/** Checks credentials; null when accepted, else the reply. */
function authenticate(
  context: RespCommandContext,
  user: Buffer,
  password: Buffer,
): RespValue | null {
  const name = user.toString("utf8");
  // Redis's `default` user without a password accepts any password ("nopass").
  if (name === "default") {
    context.client.user = "default";
    return null;
  }
  try {
    const principal = context.broker.authenticator.authenticatePassword(
      name,
      password.toString("utf8"),
      context.client.remoteAddress,
    );
    context.client.user = principal.user;
    return null;
  } catch (error) {
    if (!isWharfError(error, "WHARF_AUTHENTICATION_FAILED")) throw error;
    context.logger.info({ user: name, reason: error.message }, "resp authentication failed");
    return wrongPass;
  }
}

function hello(context: RespCommandContext, args: readonly Buffer[]): RespValue {
  let version = 0;
  let next = 1;
  if (args.length >= 2) {
    const parsed = parseRedisInteger(args[1]!, 0, args[1]!.length);
    next = 2;
    if (parsed === null) return errorReply("Protocol version is not an integer or out of range");
    if (parsed < 2 || parsed > 3) return new RespErrorReply("NOPROTO unsupported protocol version");
    version = parsed;
  }
  let user: Buffer | null = null;
  let password: Buffer | null = null;
  let name: Buffer | null = null;
  for (let i = next; i < args.length; i++) {
    const more = args.length - 1 - i;
    const option = args[i]!.toString("latin1");
    const upper = option.toUpperCase();
    if (upper === "AUTH" && more >= 2) {
      user = args[i + 1]!;
      password = args[i + 2]!;
      i += 2;
    } else if (upper === "SETNAME" && more >= 1) {
      name = args[i + 1]!;
      i += 1;
    } else {
      return errorReply(`Syntax error in HELLO option '${option}'`);
    }
  }
  if (user !== null && password !== null) {
    const failed = authenticate(context, user, password);
    if (failed !== null) return failed;
  }
  if (name !== null) {
    const invalid = validateClientName(name);
    if (invalid !== null) return invalid;
    context.client.name = name.length === 0 ? null : name.toString("latin1");
  }
  const client = context.client;
  if (version !== 0) client.protocol = version as 2 | 3;
  return new RespMap([
    ["server", "redis"],
    ["version", redisCompatibleVersion],
    ["proto", client.protocol],
    ["id", client.id],
    ["mode", "standalone"],
    ["role", "master"],
    ["modules", []],
  ]);
}

function auth(context: RespCommandContext, args: readonly Buffer[]): RespValue {
  if (args.length > 3) return syntaxError;
  if (args.length === 2) {
    // Redis keeps the old error for the one-argument form when `default` has no password.
    return errorReply(
      "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
    );
  }
  return authenticate(context, args[1]!, args[2]!) ?? ok;
}

function ping(context: RespCommandContext, args: readonly Buffer[]): RespValue {
  if (args.length > 2) return wrongArity("ping");
  // In RESP2 subscribed context PING answers like a message: ["pong", argument or ""].
  if (context.client.protocol === 2 && context.client.subscriber.subscribed) {
    return ["pong", args.length === 1 ? "" : args[1]!];
  }
  return args.length === 1 ? pong : args[1]!;
}

function select(_context: RespCommandContext, args: readonly Buffer[]): RespValue {
  const index = parseRedisInteger(args[1]!, 0, args[1]!.length);
  if (index === null || index < -2147483648 || index > 2147483647) return notAnInteger;
  // One database: WharfMQ keeps no keyspace of its own besides streams.
  return index === 0 ? ok : errorReply("DB index is out of range");
}

function reset(context: RespCommandContext): RespValue {
  dropSubscriptions(context);
  const client = context.client;
  client.protocol = 2;
  client.name = null;
  client.user = "default";
  client.noEvict = false;
  return new RespSimple("RESET");
}

const connectionFlags = ["noscript", "loading", "stale", "fast"] as const;

export const connectionCommands: readonly RespCommand[] = [
  {
    name: "hello",
    arity: -1,
    flags: ["noscript", "loading", "stale", "fast", "no_auth", "sentinel", "allow_busy"],
    summary: "Handshakes with the Redis server.",
    since: "6.0.0",
    group: "connection",
    complexity: "O(1)",
    arguments: [
      {
        name: "arguments",
        type: "block",
        flags: ["optional"],
        arguments: [
          { name: "protover", type: "integer" },
          {
            name: "username-password",
            type: "block",
            token: "AUTH",
            flags: ["optional"],
            arguments: [
              { name: "username", type: "string" },
              { name: "password", type: "string" },
            ],
          },
          { name: "clientname", type: "string", token: "SETNAME", flags: ["optional"] },
        ],
      },
    ],
    handler: hello,
  },
  {
    name: "auth",
    arity: -2,
    flags: ["noscript", "loading", "stale", "fast", "no_auth", "sentinel", "allow_busy"],
    summary: "Authenticates the connection.",
    since: "1.0.0",
    group: "connection",
    complexity: "O(N) where N is the number of passwords defined for the user",
    arguments: [
      { name: "username", type: "string", flags: ["optional"] },
      { name: "password", type: "string" },
    ],
    handler: auth,
  },
  {
    name: "ping",
    arity: -1,
    flags: ["fast", "sentinel"],
    allowedWhileSubscribed: true,
    summary: "Returns the server's liveliness response.",
    since: "1.0.0",
    group: "connection",
    complexity: "O(1)",
    arguments: [{ name: "message", type: "string", flags: ["optional"] }],
    handler: ping,
  },
  {
    name: "echo",
    arity: 2,
    flags: ["loading", "stale", "fast"],
    summary: "Returns the given string.",
    since: "1.0.0",
    group: "connection",
    complexity: "O(1)",
    arguments: [{ name: "message", type: "string" }],
    handler: (_context, args) => args[1]!,
  },
  {
    name: "quit",
    arity: -1,
    flags: ["allow_busy", "noscript", "loading", "stale", "fast", "no_auth"],
    allowedWhileSubscribed: true,
    summary: "Closes the connection.",
    since: "1.0.0",
    group: "connection",
    complexity: "O(1)",
    handler: (context) => {
      context.client.closeAfterReply();
      return ok;
    },
  },
  {
    name: "reset",
    arity: 1,
    flags: ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
    allowedWhileSubscribed: true,
    summary: "Resets the connection.",
    since: "6.2.0",
    group: "connection",
    complexity: "O(1)",
    handler: reset,
  },
  {
    name: "select",
    arity: 2,
    flags: [...connectionFlags],
    summary: "Changes the selected database.",
    since: "1.0.0",
    group: "connection",
    complexity: "O(1)",
    arguments: [{ name: "index", type: "integer" }],
    handler: select,
  },
];
