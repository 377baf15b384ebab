/**
 * CLIENT ID|SETNAME|GETNAME|LIST|INFO|KILL|NO-EVICT|SETINFO|HELP (redis/src/networking.c
 * `clientCommand`), over the listener's open connections.
 *
 * CLIENT LIST and INFO print Redis 7.2's fields so that tools parsing them find every key;
 * fields without a meaning here (fd, multi, argv-mem...) carry Redis's neutral values.
 */
import { respClientNameBytesMax } from "../../../config/limits.ts";
import { parseRedisInteger } from "../codec/parser.ts";
import {
  errorReply,
  helpReply,
  ok,
  type RespErrorReply,
  type RespValue,
  RespVerbatim,
  syntaxError,
} from "../codec/reply.ts";
import type { RespClient, RespCommand, RespCommandContext } from "./command.ts";

/** Redis accepts '!'..'~' in names and SETINFO values (no spaces, newlines, specials). */
function validAttribute(value: Buffer): boolean {
  if (value.length > respClientNameBytesMax) return false;
  for (const byte of value) if (byte < 0x21 || byte > 0x7e) return false;
  return true;
}

/** Null when valid, else Redis's reply. */
export function validateClientName(name: Buffer): RespErrorReply | null {
  return validAttribute(name)
    ? null
    : errorReply("Client names cannot contain spaces, newlines or special characters.");
}

/** One CLIENT LIST line (Redis 7.2 field order). */
export function describeClient(client: RespClient, now = Date.now()): string {
  const subscriber = client.subscriber;
  const flags = `${subscriber.subscribed ? "P" : ""}${client.blocked ? "b" : ""}` || "N";
  const fields = [
    `id=${client.id}`,
    `addr=${client.remoteAddress}:${client.remotePort}`,
    `laddr=${client.localAddress}:${client.localPort}`,
    "fd=-1",
    `name=${client.name ?? ""}`,
    `age=${Math.floor((now - client.createdAt) / 1000)}`,
    `idle=${Math.floor((now - client.lastCommandAt) / 1000)}`,
    `flags=${flags}${client.noEvict ? "e" : ""}`,
    "db=0",
    `sub=${subscriber.channels.size}`,
    `psub=${subscriber.patterns.size}`,
    `ssub=${subscriber.shardChannels.size}`,
    "multi=-1",
    `qbuf=${client.inputBytes()}`,
    "qbuf-free=0",
    "argv-mem=0",
    "multi-mem=0",
    "rbs=0",
    "rbp=0",
    "obl=0",
    "oll=0",
    `omem=${client.outputBytes()}`,
    "tot-mem=0",
    "events=r",
    `cmd=${client.lastCommand}`,
    `user=${client.user}`,
    "redir=-1",
    `resp=${client.protocol}`,
    `lib-name=${client.libName ?? ""}`,
    `lib-ver=${client.libVersion ?? ""}`,
  ];
  return fields.join(" ");
}

function clientList(context: RespCommandContext, args: readonly Buffer[]): RespValue {
  let type: string | null = null;
  let ids: Set<number> | null = null;
  for (let i = 2; i < args.length; i++) {
    const option = args[i]!.toString("latin1").toLowerCase();
    if (option === "type" && i + 1 < args.length) {
      type = args[++i]!.toString("latin1").toLowerCase();
      if (!["normal", "master", "replica", "slave", "pubsub"].includes(type)) {
        return errorReply(`Unknown client type '${args[i]!.toString("latin1")}'`);
      }
    } else if (option === "id" && i + 1 < args.length) {
      ids = new Set();
      for (i = i + 1; i < args.length; i++) {
        const id = parseRedisInteger(args[i]!, 0, args[i]!.length);
        if (id === null || id <= 0) return errorReply(`Invalid client ID`);
        ids.add(id);
      }
    } else {
      return syntaxError;
    }
  }
  const now = Date.now();
  let text = "";
  for (const client of context.server.clients()) {
    if (ids !== null && !ids.has(client.id)) continue;
    if (type !== null && clientType(client) !== type) continue;
    text += `${describeClient(client, now)}\n`;
  }
  return new RespVerbatim(text);
}

function clientType(client: RespClient): string {
  return client.subscriber.subscribed ? "pubsub" : "normal";
}

/** CLIENT KILL addr:port (old form) or CLIENT KILL <filter> <value> ... (new form). */
function clientKill(context: RespCommandContext, args: readonly Buffer[]): RespValue {
  const clients = [...context.server.clients()];
  if (args.length === 3) {
    const address = args[2]!.toString("latin1");
    const target = clients.find(
      (client) => `${client.remoteAddress}:${client.remotePort}` === address,
    );
    if (target === undefined) return errorReply("No such client");
    killClient(context, target);
    return ok;
  }
  if (args.length % 2 !== 0) return syntaxError;
  const filters: Array<(client: RespClient) => boolean> = [];
  let skipMe = true;
  for (let i = 2; i < args.length; i += 2) {
    const option = args[i]!.toString("latin1").toLowerCase();
    const value = args[i + 1]!.toString("latin1");
    if (option === "id") {
      const id = parseRedisInteger(args[i + 1]!, 0, args[i + 1]!.length);
      if (id === null || id <= 0) return errorReply("client-id should be greater than 0");
      filters.push((client) => client.id === id);
    } else if (option === "type") {
      const type = value.toLowerCase();
      if (!["normal", "master", "replica", "slave", "pubsub"].includes(type)) {
        return errorReply(`Unknown client type '${value}'`);
      }
      filters.push((client) => clientType(client) === type);
    } else if (option === "addr") {
      filters.push((client) => `${client.remoteAddress}:${client.remotePort}` === value);
    } else if (option === "laddr") {
      filters.push((client) => `${client.localAddress}:${client.localPort}` === value);
    } else if (option === "user") {
      filters.push((client) => client.user === value);
    } else if (option === "skipme") {
      const yes = value.toLowerCase();
      if (yes !== "yes" && yes !== "no") return syntaxError;
      skipMe = yes === "yes";
    } else if (option === "maxage") {
      const age = parseRedisInteger(args[i + 1]!, 0, args[i + 1]!.length);
      if (age === null) return errorReply("value is not an integer or out of range");
      filters.push((client) => (Date.now() - client.createdAt) / 1000 >= age);
    } else {
      return syntaxError;
    }
  }
  let killed = 0;
  for (const client of clients) {
    if (skipMe && client === context.client) continue;
    if (!filters.every((filter) => filter(client))) continue;
    killClient(context, client);
    killed++;
  }
  return killed;
}

function killClient(context: RespCommandContext, target: RespClient): void {
  // Killing oneself closes after this reply, as Redis's CLIENT_CLOSE_AFTER_REPLY.
  if (target === context.client) target.closeAfterReply();
  else target.kill(`CLIENT KILL by client ${context.client.id}`);
}

function clientSetinfo(context: RespCommandContext, args: readonly Buffer[]): RespValue {
  const attribute = args[2]!.toString("latin1");
  const lower = attribute.toLowerCase();
  if (lower !== "lib-name" && lower !== "lib-ver") {
    return errorReply(`Unrecognized option '${attribute}'`);
  }
  const value = args[3]!;
  if (!validAttribute(value)) {
    return errorReply(`${attribute} cannot contain spaces, newlines or special characters.`);
  }
  const text = value.length === 0 ? null : value.toString("latin1");
  if (lower === "lib-name") context.client.libName = text;
  else context.client.libVersion = text;
  return ok;
}

const clientFlags = ["noscript", "loading", "stale"] as const;

function sub(
  name: string,
  arity: number,
  summary: string,
  since: string,
  handler: RespCommand["handler"],
  extra: Partial<RespCommand> = {},
): RespCommand {
  return {
    name,
    arity,
    flags: [...clientFlags],
    summary,
    since,
    group: "connection",
    complexity: "O(1)",
    handler,
    ...extra,
  };
}

export const clientCommands: readonly RespCommand[] = [
  {
    name: "client",
    arity: -2,
    flags: ["sentinel"],
    summary: "A container for client connection commands.",
    since: "2.4.0",
    group: "connection",
    complexity: "Depends on subcommand.",
    subcommands: [
      sub("id", 2, "Returns the unique client ID of the connection.", "5.0.0", (context) => {
        return context.client.id;
      }),
      sub(
        "setname",
        3,
        "Sets the connection name.",
        "2.6.9",
        (context, args) => {
          const invalid = validateClientName(args[2]!);
          if (invalid !== null) return invalid;
          context.client.name = args[2]!.length === 0 ? null : args[2]!.toString("latin1");
          return ok;
        },
        { arguments: [{ name: "connection-name", type: "string" }] },
      ),
      sub("getname", 2, "Returns the name of the connection.", "2.6.9", (context) =>
        context.client.name === null ? null : Buffer.from(context.client.name, "latin1"),
      ),
      sub("list", -2, "Lists open connections.", "2.4.0", clientList, {
        complexity: "O(N) where N is the number of client connections",
        arguments: [
          { name: "client-type", type: "string", token: "TYPE", flags: ["optional"] },
          { name: "client-id", type: "integer", token: "ID", flags: ["optional", "multiple"] },
        ],
      }),
      sub("info", 2, "Returns information about the connection.", "6.2.0", (context) => {
        return new RespVerbatim(`${describeClient(context.client)}\n`);
      }),
      sub("kill", -3, "Terminates open connections.", "2.4.0", clientKill, {
        complexity: "O(N) where N is the number of client connections",
        arguments: [{ name: "filter", type: "string", flags: ["multiple"] }],
      }),
      sub(
        "no-evict",
        3,
        "Sets the client eviction mode of the connection.",
        "7.0.0",
        (context, args) => {
          const mode = args[2]!.toString("latin1").toLowerCase();
          if (mode !== "on" && mode !== "off") return syntaxError;
          context.client.noEvict = mode === "on";
          return ok;
        },
        { arguments: [{ name: "enabled", type: "string" }] },
      ),
      sub(
        "setinfo",
        4,
        "Sets information specific to the client or connection.",
        "7.2.0",
        clientSetinfo,
        {
          arguments: [
            { name: "attr", type: "string" },
            { name: "value", type: "string" },
          ],
        },
      ),
      sub("help", 2, "Returns helpful text about the different subcommands.", "5.0.0", () =>
        helpReply([
          "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
          "GETNAME",
          "    Return the name of the current connection.",
          "ID",
          "    Return the ID of the current connection.",
          "INFO",
          "    Return information about the current client connection.",
          "KILL <ip:port>",
          "    Kill connection made from <ip:port>.",
          "KILL <option> <value> [<option> <value> [...]]",
          "    Kill connections. Options are: ID <client-id>, TYPE normal|pubsub,",
          "    USER <username>, ADDR <ip:port>, LADDR <ip:port>, SKIPME yes|no, MAXAGE <seconds>.",
          "LIST [TYPE normal|pubsub] [ID <id> [<id> ...]]",
          "    Return information about client connections.",
          "NO-EVICT (ON|OFF)",
          "    Protect current client connection from eviction.",
          "SETINFO <option> <value>",
          "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
          "SETNAME <name>",
          "    Assign the name <name> to the current connection.",
          "HELP",
          "    Print this help.",
        ]),
      ),
    ],
  },
];
