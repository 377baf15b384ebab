/**
 * The command-module contract of the RESP listener.
 *
 * A command module is a file in this directory that exports one array of `RespCommand`
 * (one family: `connection.ts`, `client.ts`, `pubsub.ts`, `server.ts`; Redis Streams adds
 * `streams.ts`). `index.ts` lists the modules; adding a family is one import and one entry in
 * `commandModules` there. Nothing else changes: the session looks commands up in the table,
 * checks arity and context, calls the handler, encodes what it returns, and COMMAND /
 * COMMAND DOCS / COMMAND COUNT describe every registered command from the same specs.
 *
 * ```ts
 * // commands/streams.ts
 * export const streamCommands: readonly RespCommand[] = [
 *   {
 *     name: "xlen", arity: 2, flags: ["readonly", "fast"], group: "stream", since: "5.0.0",
 *     summary: "Return the number of messages in a stream.", complexity: "O(1)",
 *     keys: { first: 1, last: 1, step: 1 }, arguments: [{ name: "key", type: "key" }],
 *     handler: (context, args) => context.broker.streams... // number | Promise<number>
 *   },
 * ];
 * // commands/index.ts: import { streamCommands } from "./streams.ts"; and add it to commandModules.
 * ```
 *
 * What the session guarantees before calling a handler (so handlers never repeat it):
 * - the name (and for containers the subcommand) is known, else Redis's
 *   `-ERR unknown command '...', with args beginning with: ...` or
 *   `-ERR unknown subcommand '...'. Try X HELP.`;
 * - `arity` holds in Redis's convention: N means exactly N arguments including the command
 *   name, -N at least N; else `-ERR wrong number of arguments for 'x' command` (`x|y` for a
 *   subcommand);
 * - in RESP2 with any subscription, only commands with `allowedWhileSubscribed` run, else
 *   Redis's `-ERR Can't execute 'x': only (P|S)SUBSCRIBE / ... are allowed in this context`.
 *
 * Handlers:
 * - get `args` as Redis's argv: `args[0]` is the command name as sent, `args[1]` the
 *   subcommand of a container, then the arguments; each a Buffer (binary safe). They may be
 *   views of the connection's input: copy what is kept after the handler returns
 *   (`Buffer.from(arg)`), never write to them;
 * - return a `RespValue` (codec/reply.ts; the session encodes it in RESP2 or RESP3), or a
 *   Promise of one for a command that waits (fsync before an XADD reply, a blocking XREAD).
 *   Replies go out in request order whatever order promises settle in, and later pipelined
 *   commands keep being read and run meanwhile (bounded by `respPendingCommandsMax`);
 * - answer user errors by returning `RespErrorReply` values (`errorReply`, `wrongArity`,
 *   `syntaxError`... with Redis's exact text) or by throwing a `WharfError`, which the
 *   session answers with the catalog's RESP prefix word and message. Anything else thrown is
 *   a defect: logged with its stack, and the connection is closed;
 * - a blocking handler must stop waiting when `context.client.closed` aborts (the
 *   connection went away) and resolve or reject promptly.
 */
import type { Broker } from "../../../core/broker.ts";
import type {
  ChannelRegistry,
  ChannelSubscriber,
} from "../../../core/channels/channel-registry.ts";
import type { Logger } from "../../../logging/logger.ts";
import type { RespValue } from "../codec/reply.ts";
import type { RespProtocolVersion } from "../codec/writer.ts";

/** Redis's command flags, reported by COMMAND (redis/src/commands/*.json `command_flags`). */
export type RespCommandFlag =
  | "write"
  | "readonly"
  | "denyoom"
  | "admin"
  | "pubsub"
  | "noscript"
  | "blocking"
  | "loading"
  | "stale"
  | "skip_monitor"
  | "skip_slowlog"
  | "fast"
  | "no_auth"
  | "may_replicate"
  | "sentinel"
  | "no_mandatory_keys"
  | "allow_busy"
  | "no_multi";

/** One argument in COMMAND DOCS (what redis-cli shows as hints). */
export interface RespArgumentDoc {
  readonly name: string;
  readonly type:
    | "key"
    | "string"
    | "integer"
    | "double"
    | "pattern"
    | "unix-time"
    | "pure-token"
    | "oneof"
    | "block";
  readonly token?: string;
  readonly flags?: ReadonlyArray<"optional" | "multiple" | "multiple_token">;
  readonly arguments?: readonly RespArgumentDoc[];
}

export type RespHandler = (
  context: RespCommandContext,
  args: readonly Buffer[],
) => RespValue | Promise<RespValue>;

export interface RespCommand {
  /** Lowercase, as Redis names it (`publish`; a subcommand is `list` under `client`). */
  readonly name: string;
  /** Redis's convention: N exactly N arguments including the name, -N at least N. */
  readonly arity: number;
  readonly flags: readonly RespCommandFlag[];
  /** Runs in RESP2 while the connection holds subscriptions ((P|S)(UN)SUBSCRIBE, PING...). */
  readonly allowedWhileSubscribed?: boolean;
  /** COMMAND DOCS fields. */
  readonly summary: string;
  readonly since: string;
  /** Redis's group: connection, pubsub, server, stream... (also the ACL category). */
  readonly group: string;
  readonly complexity?: string;
  readonly arguments?: readonly RespArgumentDoc[];
  /** Key positions for COMMAND (first, last, step); none when absent. */
  readonly keys?: { readonly first: number; readonly last: number; readonly step: number };
  /** A container (CLIENT, PUBSUB, COMMAND): dispatched on `args[1]`, no handler of its own. */
  readonly subcommands?: readonly RespCommand[];
  readonly handler?: RespHandler;
}

/** One connection's state, as commands see and change it. */
export interface RespClient {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly createdAt: number;
  /** When the last command ran; its full name (`client|list`). */
  readonly lastCommandAt: number;
  readonly lastCommand: string;
  /** Chosen by HELLO; replies are encoded in it. */
  protocol: RespProtocolVersion;
  /** CLIENT SETNAME / HELLO SETNAME; null when unset. */
  name: string | null;
  libName: string | null;
  libVersion: string | null;
  /** The authenticated user (`default` until AUTH, as Redis without requirepass). */
  user: string;
  noEvict: boolean;
  /** True while a blocking read (XREAD/XREADGROUP BLOCK) waits (INFO blocked_clients). */
  blocked: boolean;
  readonly subscriber: ChannelSubscriber;
  /** Aborted when the connection closes: blocking commands stop waiting. */
  readonly closed: AbortSignal;
  /** Bytes queued for this client and not yet taken by the kernel (its output buffer). */
  outputBytes(): number;
  /** Bytes received and not yet parsed (CLIENT LIST `qbuf`). */
  inputBytes(): number;
  /** Closes the connection once the reply to the current command is written (QUIT). */
  closeAfterReply(): void;
  /** Closes the connection now (CLIENT KILL). */
  kill(reason: string): void;
}

/** What the whole listener offers to commands (other connections, counters, the table). */
export interface RespServerView {
  /** Every open connection of this listener. */
  clients(): Iterable<RespClient>;
  readonly commands: RespCommandTable;
  readonly stats: RespServerStats;
  readonly startedAt: number;
  /** The bound port (INFO tcp_port). */
  readonly port: number;
  /** WharfMQ's version (INFO wharfmq_version). */
  readonly version: string;
  /** The connection limit (INFO maxclients). */
  readonly connectionsMax: number;
}

export interface RespServerStats {
  connectionsAccepted: number;
  connectionsRefused: number;
  commandsProcessed: number;
  protocolErrors: Record<string, number>;
  /** Replies that were errors, by prefix word (INFO errorstats). */
  errorReplies: number;
}

export interface RespCommandContext {
  readonly broker: Broker;
  readonly channels: ChannelRegistry;
  readonly logger: Logger;
  readonly client: RespClient;
  readonly server: RespServerView;
}

/** The lookup table built from the command modules (see index.ts). */
export class RespCommandTable {
  private readonly byName = new Map<string, RespCommand>();
  /**
   * The same commands by a hash of their ASCII-lowercased name bytes: `find` looks a request's
   * first argument up without making a string of it (one per command on the hot path).
   */
  private readonly byHash = new Map<number, Array<{ name: Buffer; command: RespCommand }>>();
  private nameBytesMax = 0;

  constructor(modules: ReadonlyArray<readonly RespCommand[]>) {
    for (const module of modules) {
      for (const command of module) {
        if (this.byName.has(command.name))
          throw new Error(`RESP command '${command.name}' is registered twice`);
        if (!command.handler && !command.subcommands)
          throw new Error(`RESP command '${command.name}' has neither handler nor subcommands`);
        this.byName.set(command.name, command);
        const name = Buffer.from(command.name, "latin1");
        const hash = nameHash(name);
        let bucket = this.byHash.get(hash);
        if (bucket === undefined) {
          bucket = [];
          this.byHash.set(hash, bucket);
        }
        bucket.push({ name, command });
        if (name.length > this.nameBytesMax) this.nameBytesMax = name.length;
      }
    }
  }

  get size(): number {
    return this.byName.size;
  }

  all(): Iterable<RespCommand> {
    return this.byName.values();
  }

  /** The command named by `name` (any letter case), or undefined. */
  find(name: Buffer): RespCommand | undefined {
    if (name.length > this.nameBytesMax) return undefined;
    const bucket = this.byHash.get(nameHash(name));
    if (bucket === undefined) return undefined;
    for (const entry of bucket) {
      if (sameNameIgnoringCase(entry.name, name)) return entry.command;
    }
    return undefined;
  }

  findByName(name: string): RespCommand | undefined {
    return this.byName.get(name.toLowerCase());
  }
}

/** A subcommand of a container by name (any letter case). */
export function findSubcommand(container: RespCommand, name: Buffer): RespCommand | undefined {
  const lower = name.toString("latin1").toLowerCase();
  return container.subcommands?.find((command) => command.name === lower);
}

/** Arity check in Redis's convention. */
export function arityHolds(arity: number, argumentCount: number): boolean {
  return arity >= 0 ? argumentCount === arity : argumentCount >= -arity;
}

/** ASCII letters A-Z folded to lowercase; every other byte as it is. */
function lowerByte(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
}

function nameHash(name: Uint8Array): number {
  let hash = name.length;
  for (let i = 0; i < name.length; i++) hash = (Math.imul(hash, 31) + lowerByte(name[i]!)) | 0;
  return hash;
}

/** `lower` is a registered (lowercase ASCII) name; `name` any spelling of it. */
function sameNameIgnoringCase(lower: Uint8Array, name: Uint8Array): boolean {
  if (lower.length !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    if (lowerByte(name[i]!) !== lower[i]) return false;
  }
  return true;
}
