/**
 * What the client commands (`topics`, `produce`, `consume`, `groups`) share: the connection
 * flags, client options for @platformatic/kafka, the one-line error report, and small
 * parsers and formatters.
 *
 * These commands are Kafka clients of a broker that may be remote. They never import the
 * broker's core or protocol modules, so they behave as any other client would. Errors are
 * operating errors (unreachable broker, unknown topic, bad flag) reported as one line
 * `wharf: <message>` on stderr with exit code 1; the Kafka client's nested errors are reduced
 * to the innermost protocol or network message.
 */
import type { Admin } from "@platformatic/kafka";
import { type Command, InvalidArgumentError, Option } from "commander";

/** Address used when neither `--bootstrap` nor `WHARF_BOOTSTRAP` is given. */
export const bootstrapDefault = "127.0.0.1:9092";

/**
 * Per-request timeout: a CLI call waits on one broker round trip at a time, and a user at a
 * terminal should learn within seconds that the broker does not answer.
 */
export const requestTimeoutMs = 10_000;
/** Connection attempts are retried this many times; a refused connection fails fast. */
const requestRetries = 2;
/** Delay between retries: long enough for a broker that is starting, short for a person. */
const retryDelayMs = 250;

/** An operating error of a client command: reported as one line, exit code 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

export interface ConnectionFlags {
  bootstrap: string;
}

/** Adds `--bootstrap` (env `WHARF_BOOTSTRAP`) to a client command. */
export function addConnectionOptions(command: Command): Command {
  return command.addOption(
    new Option("--bootstrap <host:port>", "broker to connect to (comma-separated list allowed)")
      .env("WHARF_BOOTSTRAP")
      .default(bootstrapDefault),
  );
}

/** Options every @platformatic/kafka client is built with. */
export function clientOptions(flags: ConnectionFlags, role: string) {
  return {
    clientId: `wharf-cli-${role}`,
    bootstrapBrokers: parseBootstrap(flags.bootstrap),
    timeout: requestTimeoutMs,
    connectTimeout: requestTimeoutMs,
    retries: requestRetries,
    retryDelay: retryDelayMs,
  };
}

export type KafkaModule = typeof import("@platformatic/kafka");

/**
 * The Kafka client library, loaded on first use: it takes longer to load than the rest of
 * the CLI, and `wharf start` and `--help` do not need it.
 */
export function loadKafka(): Promise<KafkaModule> {
  return import("@platformatic/kafka");
}

/** Runs `work` with an admin client that is closed afterwards, also on failure. */
export async function withAdmin<T>(
  flags: ConnectionFlags,
  work: (admin: Admin, kafka: KafkaModule) => Promise<T>,
): Promise<T> {
  const kafka = await loadKafka();
  const admin = new kafka.Admin(clientOptions(flags, "admin"));
  try {
    return await work(admin, kafka);
  } finally {
    await admin.close();
  }
}

export function parseBootstrap(value: string): string[] {
  const brokers = value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (brokers.length === 0) throw new CliError("--bootstrap is empty");
  for (const broker of brokers) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(broker);
    if (!match || Number(match[2]) > 65_535 || Number(match[2]) === 0) {
      throw new CliError(`--bootstrap '${broker}' is not HOST:PORT`);
    }
  }
  return brokers;
}

/**
 * Runs a command action: any error ends the command with `wharf: <message>` on stderr and
 * exit code 1. Actions close their Kafka clients in `finally`, so the process then exits.
 */
export function clientAction<Args extends unknown[]>(
  action: (...args: Args) => Promise<void>,
): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    try {
      await action(...args);
    } catch (error) {
      process.stderr.write(`wharf: ${describeError(error)}\n`);
      process.exitCode = 1;
    }
  };
}

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  apiId?: unknown;
  serverErrorMessage?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/** One line for an error, naming the innermost protocol or network cause. */
export function describeError(error: unknown): string {
  if (error instanceof CliError) return error.message;
  const leaves = new Set<string>();
  collectLeaves(error, leaves, 0);
  const text = [...leaves].join("; ");
  return text.length > 0 ? text : String(error);
}

/** How the Kafka client reports a topic that Metadata does not know. */
const unknownTopicPattern = /^Unknown topic (.+)\.$/;

/** Nested errors deeper than this are not followed (a cycle guard; real chains are 2-4). */
const errorDepthMax = 8;

function collectLeaves(error: unknown, leaves: Set<string>, depth: number): void {
  if (typeof error !== "object" || error === null || depth > errorDepthMax) {
    if (error !== undefined && error !== null) leaves.add(String(error));
    return;
  }
  const shape = error as ErrorLike;
  if (typeof shape.apiId === "string") {
    const detail = typeof shape.serverErrorMessage === "string" ? shape.serverErrorMessage : "";
    leaves.add(`${describeProtocolError(shape.apiId)}${detail ? ` (${detail})` : ""}`);
    return;
  }
  if (Array.isArray(shape.errors) && shape.errors.length > 0) {
    for (const inner of shape.errors) collectLeaves(inner, leaves, depth + 1);
    return;
  }
  if (shape.cause !== undefined) {
    const before = leaves.size;
    collectLeaves(shape.cause, leaves, depth + 1);
    if (leaves.size > before) return;
  }
  const code = typeof shape.code === "string" && !shape.code.startsWith("PLT_") ? shape.code : "";
  const message = typeof shape.message === "string" ? shape.message : String(error);
  const unknownTopic = unknownTopicPattern.exec(message);
  if (unknownTopic) {
    leaves.add(`topic '${unknownTopic[1]}' does not exist`);
    return;
  }
  leaves.add(networkHint(code, message));
}

function networkHint(code: string, message: string): string {
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EHOSTUNREACH") {
    return `cannot reach the broker: ${message}`;
  }
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/** Kafka error ids as a user reads them: `UNKNOWN_TOPIC_OR_PARTITION` to words plus the id. */
function describeProtocolError(apiId: string): string {
  const known: Record<string, string> = {
    UNKNOWN_TOPIC_OR_PARTITION: "unknown topic or partition",
    TOPIC_ALREADY_EXISTS: "topic already exists",
    INVALID_TOPIC_EXCEPTION: "invalid topic name",
    INVALID_PARTITIONS: "invalid number of partitions",
    INVALID_CONFIG: "invalid configuration",
    GROUP_ID_NOT_FOUND: "group does not exist",
    NON_EMPTY_GROUP: "group is not empty",
    OFFSET_OUT_OF_RANGE: "offset out of range",
    MESSAGE_TOO_LARGE: "record is larger than the broker accepts",
    RECORD_LIST_TOO_LARGE: "batch is larger than the broker accepts",
    SASL_AUTHENTICATION_FAILED: "authentication failed",
  };
  return `${known[apiId] ?? apiId.toLowerCase().replaceAll("_", " ")} [${apiId}]`;
}

/** True when an error from the Kafka client carries this protocol error id anywhere inside. */
export function hasProtocolError(error: unknown, apiId: string, depth = 0): boolean {
  if (typeof error !== "object" || error === null || depth > errorDepthMax) return false;
  const shape = error as ErrorLike;
  if (shape.apiId === apiId) return true;
  if (Array.isArray(shape.errors)) {
    if (shape.errors.some((inner) => hasProtocolError(inner, apiId, depth + 1))) return true;
  }
  return hasProtocolError(shape.cause, apiId, depth + 1);
}

/** Commander parser for a non-negative integer flag. */
export function nonNegativeInteger(flag: string): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(`${flag} must be a non-negative integer`);
    }
    return Number(value);
  };
}

/** Commander parser for a positive integer flag. */
export function positiveInteger(flag: string): (value: string) => number {
  return (value: string) => {
    const parsed = nonNegativeInteger(flag)(value);
    if (parsed === 0) throw new InvalidArgumentError(`${flag} must be at least 1`);
    return parsed;
  };
}

/** Commander collector for a repeatable `KEY=VALUE` flag. */
export function collectKeyValue(value: string, previous: [string, string][] = []) {
  const equals = value.indexOf("=");
  if (equals <= 0) throw new InvalidArgumentError(`'${value}' is not KEY=VALUE`);
  return [...previous, [value.slice(0, equals), value.slice(equals + 1)] as [string, string]];
}

/** Commander collector for a repeatable plain flag. */
export function collectString(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Left-aligned columns separated by two spaces; the first row is the header. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** JSON with bigints as numbers when exact, else as strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item !== "bigint") return item;
    return item <= BigInt(Number.MAX_SAFE_INTEGER) && item >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(item)
      : item.toString();
  });
}

export function writeLine(text: string): void {
  process.stdout.write(`${text}\n`);
}
