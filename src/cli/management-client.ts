/**
 * What the management commands (`queues`, `exchanges`, `bindings`, `users`, `vhosts`) share:
 * the connection flags and one HTTP call to the broker's management API (src/admin/
 * management-api.ts, RabbitMQ's paths). Like the Kafka commands, they are clients of a broker
 * that may be remote and never import its core.
 */
import { type Command, Option } from "commander";
import { CliError, requestTimeoutMs } from "./kafka-client.ts";

/** Where the management API listens when neither `--api` nor `WHARF_API` is given. */
export const apiDefault = "http://127.0.0.1:15672";

export interface ManagementFlags {
  api: string;
  user: string;
  password: string;
  vhost: string;
  json?: boolean;
}

/** Adds `--api`, `--user`, `--password` and `--vhost` (with their env variables). */
export function addManagementOptions(command: Command, options: { vhost?: boolean } = {}): Command {
  command
    .addOption(
      new Option("--api <url>", "the broker's management API").env("WHARF_API").default(apiDefault),
    )
    .addOption(new Option("--user <name>", "user name").env("WHARF_USER").default("guest"))
    .addOption(
      new Option("--password <password>", "password").env("WHARF_PASSWORD").default("guest"),
    );
  if (options.vhost !== false) {
    command.addOption(new Option("--vhost <name>", "virtual host").env("WHARF_VHOST").default("/"));
  }
  return command;
}

/** Builds an API path from raw segments, each URL-encoded (the vhost `/` becomes `%2F`). */
export function apiPath(...segments: string[]): string {
  return `/api/${segments.map((segment) => encodeURIComponent(segment)).join("/")}`;
}

/**
 * One request to the management API. A non-2xx answer becomes a CliError with the API's
 * `reason`; a broker that does not answer fails within `requestTimeoutMs`.
 */
export async function callApi(
  flags: ManagementFlags,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  let base: URL;
  try {
    base = new URL(flags.api);
  } catch {
    throw new CliError(`--api '${flags.api}' is not a URL`);
  }
  const url = new URL(path, base);
  const authorization = `Basic ${Buffer.from(`${flags.user}:${flags.password}`).toString("base64")}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        authorization,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new CliError(`cannot reach ${base.origin}: ${cause ?? (error as Error).message}`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text.length === 0 ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (!response.ok) {
    const reason = (parsed as { reason?: unknown } | undefined)?.reason;
    throw new CliError(
      typeof reason === "string" ? reason : `${method} ${path}: HTTP ${response.status}`,
    );
  }
  return parsed;
}

/** `--arg key=value` values: numbers and booleans become JSON numbers and booleans. */
export function collectArgument(value: string, previous: Record<string, unknown> = {}) {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new CliError(`--arg '${value}' is not KEY=VALUE`);
  const key = value.slice(0, eq);
  const raw = value.slice(eq + 1);
  let parsed: unknown = raw;
  if (/^-?\d+$/.test(raw)) parsed = Number(raw);
  else if (raw === "true" || raw === "false") parsed = raw === "true";
  return { ...previous, [key]: parsed };
}
