/**
 * Server introspection: COMMAND (all, COUNT, DOCS, INFO, LIST, HELP) and INFO.
 *
 * COMMAND and COMMAND DOCS are generated from the registered specs (command.ts), so a
 * command module added later is described without changes here. Their shapes follow Redis 7:
 * COMMAND gives `[name, arity, flags, first key, last key, step, acl categories, tips, key
 * specs, subcommands]` per command; COMMAND DOCS a map of name to `{summary, since, group,
 * complexity, arguments, subcommands}`, with subcommands keyed `container|sub` (redis-cli
 * splits on the `|`).
 */
import { cpus, hostname, platform, release } from "node:os";
import {
  helpReply,
  RespMap,
  RespSet,
  RespSimple,
  type RespValue,
  RespVerbatim,
} from "../codec/reply.ts";
import type { RespArgumentDoc, RespCommand, RespCommandContext } from "./command.ts";
import { redisCompatibleVersion } from "./connection.ts";

function aclCategories(command: RespCommand): RespSet {
  const categories = [`@${command.group}`];
  const flags = new Set(command.flags);
  if (flags.has("write")) categories.push("@write");
  if (flags.has("readonly")) categories.push("@read");
  if (flags.has("admin")) categories.push("@admin", "@dangerous");
  if (flags.has("blocking")) categories.push("@blocking");
  categories.push(flags.has("fast") ? "@fast" : "@slow");
  return new RespSet(categories.map((category) => new RespSimple(category)));
}

function commandInfo(command: RespCommand, parent: string | null): RespValue {
  const name = parent === null ? command.name : `${parent}|${command.name}`;
  const keys = command.keys;
  return [
    name,
    command.arity,
    new RespSet(command.flags.map((flag) => new RespSimple(flag))),
    keys?.first ?? 0,
    keys?.last ?? 0,
    keys?.step ?? 0,
    aclCategories(command),
    new RespSet([]),
    [],
    (command.subcommands ?? []).map((subcommand) => commandInfo(subcommand, command.name)),
  ];
}

function argumentDoc(argument: RespArgumentDoc): RespValue {
  const entries: Array<[RespValue, RespValue]> = [
    ["name", argument.name],
    ["type", argument.type],
  ];
  if (argument.token !== undefined) entries.push(["token", argument.token]);
  if (argument.flags !== undefined && argument.flags.length > 0) {
    entries.push(["flags", new RespSet(argument.flags.map((flag) => new RespSimple(flag)))]);
  }
  if (argument.arguments !== undefined) {
    entries.push(["arguments", argument.arguments.map(argumentDoc)]);
  }
  return new RespMap(entries);
}

function commandDoc(command: RespCommand, parent: string | null): RespValue {
  const entries: Array<[RespValue, RespValue]> = [
    ["summary", command.summary],
    ["since", command.since],
    ["group", command.group],
  ];
  if (command.complexity !== undefined) entries.push(["complexity", command.complexity]);
  if (command.arguments !== undefined) {
    entries.push(["arguments", command.arguments.map(argumentDoc)]);
  }
  if (command.subcommands !== undefined) {
    const prefix = parent === null ? command.name : `${parent}|${command.name}`;
    entries.push([
      "subcommands",
      new RespMap(
        command.subcommands.map((subcommand) => [
          `${prefix}|${subcommand.name}`,
          commandDoc(subcommand, prefix),
        ]),
      ),
    ]);
  }
  return new RespMap(entries);
}

/** A command or `container|sub` by name; undefined when unknown. */
function lookup(context: RespCommandContext, name: string): RespCommand | undefined {
  const [base, subName] = name.toLowerCase().split("|", 2);
  const command = context.server.commands.findByName(base!);
  if (subName === undefined) return command;
  return command?.subcommands?.find((subcommand) => subcommand.name === subName);
}

function command(context: RespCommandContext): RespValue {
  return [...context.server.commands.all()].map((spec) => commandInfo(spec, null));
}

function commandDocs(context: RespCommandContext, args: readonly Buffer[]): RespValue {
  const entries: Array<[RespValue, RespValue]> = [];
  if (args.length === 2) {
    for (const spec of context.server.commands.all()) {
      entries.push([spec.name, commandDoc(spec, null)]);
    }
  } else {
    for (let i = 2; i < args.length; i++) {
      const name = args[i]!.toString("latin1");
      const spec = lookup(context, name);
      if (spec === undefined) continue; // Redis leaves unknown names out
      const parent = name.includes("|") ? name.toLowerCase().split("|")[0]! : null;
      entries.push([name.toLowerCase(), commandDoc(spec, parent)]);
    }
  }
  return new RespMap(entries);
}

function commandInfoSubcommand(context: RespCommandContext, args: readonly Buffer[]): RespValue {
  if (args.length === 2) return command(context);
  const reply: RespValue[] = [];
  for (let i = 2; i < args.length; i++) {
    const name = args[i]!.toString("latin1");
    const spec = lookup(context, name);
    const parent = name.includes("|") ? name.toLowerCase().split("|")[0]! : null;
    reply.push(spec === undefined ? null : commandInfo(spec, parent));
  }
  return reply;
}

const infoSections = ["server", "clients", "memory", "stats", "replication", "keyspace"] as const;
type InfoSection = (typeof infoSections)[number];

function infoSection(context: RespCommandContext, section: InfoSection): string[] {
  const server = context.server;
  const now = Date.now();
  switch (section) {
    case "server": {
      const uptime = Math.floor((now - server.startedAt) / 1000);
      return [
        "# Server",
        `redis_version:${redisCompatibleVersion}`,
        `wharfmq_version:${server.version}`,
        "redis_mode:standalone",
        `os:${platform()} ${release()}`,
        `arch_bits:64`,
        `process_id:${process.pid}`,
        `tcp_port:${server.port}`,
        `uptime_in_seconds:${uptime}`,
        `uptime_in_days:${Math.floor(uptime / 86400)}`,
        `executable:${process.execPath}`,
        `node_version:${process.version}`,
        `host:${hostname()}`,
        `cpus:${cpus().length}`,
      ];
    }
    case "clients": {
      let connected = 0;
      let pubsubClients = 0;
      let blocked = 0;
      for (const client of server.clients()) {
        connected++;
        if (client.subscriber.subscribed) pubsubClients++;
        if (client.blocked) blocked++;
      }
      return [
        "# Clients",
        `connected_clients:${connected}`,
        `pubsub_clients:${pubsubClients}`,
        `blocked_clients:${blocked}`,
        `maxclients:${server.connectionsMax}`,
      ];
    }
    case "memory": {
      // The process's memory, in the fields redis-cli --stat and monitoring tools read:
      // used_memory is what the broker holds (V8 heap in use plus Buffers and other memory
      // outside the heap); used_memory_rss is the process's resident set. No
      // mem_fragmentation_ratio: for a Node process RSS / used says nothing about
      // fragmentation, and tools alert on it.
      const usage = process.memoryUsage();
      const used = usage.heapUsed + usage.external;
      peakMemory = Math.max(peakMemory, used);
      return [
        "# Memory",
        `used_memory:${used}`,
        `used_memory_human:${bytesToHuman(used)}`,
        `used_memory_rss:${usage.rss}`,
        `used_memory_rss_human:${bytesToHuman(usage.rss)}`,
        `used_memory_peak:${peakMemory}`,
        `used_memory_peak_human:${bytesToHuman(peakMemory)}`,
        "maxmemory:0",
        "maxmemory_human:0B",
        "maxmemory_policy:noeviction",
      ];
    }
    case "stats": {
      const stats = server.stats;
      const channels = context.channels;
      const protocolErrors = Object.values(stats.protocolErrors).reduce((a, b) => a + b, 0);
      return [
        "# Stats",
        `total_connections_received:${stats.connectionsAccepted}`,
        `total_commands_processed:${stats.commandsProcessed}`,
        `rejected_connections:${stats.connectionsRefused}`,
        `pubsub_channels:${channels.channelCount}`,
        `pubsub_patterns:${channels.patternCount}`,
        `pubsubshard_channels:${channels.shardChannelCount}`,
        `pubsub_messages_published:${channels.stats.published}`,
        `pubsub_messages_delivered:${channels.stats.delivered}`,
        `client_output_buffer_limit_disconnections:${
          channels.stats.disconnectedHardLimit + channels.stats.disconnectedSoftLimit
        }`,
        `total_error_replies:${stats.errorReplies}`,
        `protocol_errors:${protocolErrors}`,
      ];
    }
    case "replication":
      return ["# Replication", "role:master", "connected_slaves:0"];
    case "keyspace": {
      // Every stream is a key of database 0; streams never expire.
      const keys = context.broker.redisStreams.keyCount();
      return keys === 0 ? ["# Keyspace"] : ["# Keyspace", `db0:keys=${keys},expires=0,avg_ttl=0`];
    }
  }
}

/** The largest `used_memory` INFO has reported (Redis's `used_memory_peak`). */
let peakMemory = 0;

/** Bytes as Redis's INFO writes them: 512B, 895.51K, 1.20M, 3.00G. */
export function bytesToHuman(bytes: number): string {
  const units = ["K", "M", "G", "T", "P"];
  if (bytes < 1024) return `${bytes}B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(2)}${units[unit]}`;
}

function info(context: RespCommandContext, args: readonly Buffer[]): RespValue {
  const wanted = new Set<InfoSection>();
  if (args.length === 1) {
    for (const section of infoSections) wanted.add(section);
  }
  for (let i = 1; i < args.length; i++) {
    const name = args[i]!.toString("latin1").toLowerCase();
    if (name === "all" || name === "everything" || name === "default") {
      for (const section of infoSections) wanted.add(section);
    } else if ((infoSections as readonly string[]).includes(name)) {
      wanted.add(name as InfoSection);
    }
  }
  const blocks = infoSections
    .filter((section) => wanted.has(section))
    .map((section) => `${infoSection(context, section).join("\r\n")}\r\n`);
  return new RespVerbatim(blocks.join("\r\n"));
}

export const serverCommands: readonly RespCommand[] = [
  {
    name: "command",
    arity: -1,
    flags: ["loading", "stale", "sentinel"],
    summary: "Returns detailed information about all commands.",
    since: "2.8.13",
    group: "server",
    complexity: "O(N) where N is the total number of Redis commands",
    handler: command,
    subcommands: [
      {
        name: "count",
        arity: 2,
        flags: ["loading", "stale", "sentinel"],
        summary: "Returns a count of commands.",
        since: "2.8.13",
        group: "server",
        complexity: "O(1)",
        handler: (context) => context.server.commands.size,
      },
      {
        name: "docs",
        arity: -2,
        flags: ["loading", "stale", "sentinel"],
        summary: "Returns documentary information about one, multiple or all commands.",
        since: "7.0.0",
        group: "server",
        complexity: "O(N) where N is the number of commands to look up",
        arguments: [{ name: "command-name", type: "string", flags: ["optional", "multiple"] }],
        handler: commandDocs,
      },
      {
        name: "info",
        arity: -2,
        flags: ["loading", "stale", "sentinel"],
        summary: "Returns information about one, multiple or all commands.",
        since: "2.8.13",
        group: "server",
        complexity: "O(N) where N is the number of commands to look up",
        arguments: [{ name: "command-name", type: "string", flags: ["optional", "multiple"] }],
        handler: commandInfoSubcommand,
      },
      {
        name: "list",
        arity: -2,
        flags: ["loading", "stale", "sentinel"],
        summary: "Returns a list of command names.",
        since: "7.0.0",
        group: "server",
        complexity: "O(N) where N is the total number of Redis commands",
        handler: (context) => [...context.server.commands.all()].map((spec) => spec.name),
      },
      {
        name: "help",
        arity: 2,
        flags: ["loading", "stale", "sentinel"],
        summary: "Returns helpful text about the different subcommands.",
        since: "5.0.0",
        group: "server",
        complexity: "O(1)",
        handler: () =>
          helpReply([
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "HELP",
            "    Print this help.",
          ]),
      },
    ],
  },
  {
    name: "info",
    arity: -1,
    flags: ["loading", "stale", "sentinel"],
    summary: "Returns information and statistics about the server.",
    since: "1.0.0",
    group: "server",
    complexity: "O(1)",
    arguments: [{ name: "section", type: "string", flags: ["optional", "multiple"] }],
    handler: info,
  },
];
