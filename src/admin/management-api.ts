/**
 * The management HTTP API under `/api/`: virtual hosts, users, permissions, exchanges, queues
 * and bindings, with RabbitMQ's management-plugin paths and JSON field names, so that
 * `rabbitmqadmin`-style scripts and the `wharf` CLI work against it.
 *
 *   GET    /api/overview
 *   GET    /api/vhosts                         PUT|DELETE /api/vhosts/{vhost}
 *   GET    /api/users                          PUT|DELETE /api/users/{user}   {password, tags}
 *   GET    /api/permissions                    PUT|DELETE /api/permissions/{vhost}/{user}
 *   GET    /api/exchanges[/{vhost}]            PUT|DELETE /api/exchanges/{vhost}/{name}
 *   GET    /api/queues[/{vhost}]               PUT|DELETE /api/queues/{vhost}/{name}
 *   DELETE /api/queues/{vhost}/{name}/contents (purge)
 *   GET    /api/bindings[/{vhost}]
 *   POST   /api/bindings/{vhost}/e/{source}/{q|e}/{destination}       {routing_key, arguments}
 *   DELETE /api/bindings/{vhost}/e/{source}/{q|e}/{destination}/{properties_key}
 *
 * Every request carries HTTP Basic credentials, checked by the broker's user store (the
 * default `guest` only from loopback). Users, vhosts and permissions need the `administrator`
 * tag; everything else is checked by the virtual host's own configure/write/read
 * permissions, exactly as on an AMQP connection. Path segments are URL-encoded (the default
 * vhost `/` is `%2F`). Bodies are JSON, at most `managementBodyBytesMax`.
 *
 * Errors answer `{"error": …, "reason": …}`: 400 for bad input and precondition failures,
 * 401 for missing or wrong credentials, 403 for refused access, 404 for unknown objects,
 * 405 for a method a path does not take.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { managementBodyBytesMax } from "../config/limits.ts";
import { canonicalTable } from "../core/routing/field-values.ts";
import type { Binding, ExchangeInfo, FieldTable } from "../core/routing/index.ts";
import { isRoutingError } from "../core/routing/types.ts";
import type { SessionIdentity, VirtualHostApi } from "../core/vhosts/virtual-host-api.ts";
import { isWharfError } from "../errors/index.ts";

export interface ManagedUser {
  readonly name: string;
  readonly tags: readonly string[];
}

export interface ManagedPermission {
  readonly user: string;
  readonly vhost: string;
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

/** A virtual host as management sees it: the AMQP-facing API plus listings. */
export interface ManagedVhost {
  readonly api: VirtualHostApi;
  listExchanges(): ExchangeInfo[];
  listBindings(): Binding[];
}

/** What the API needs from the broker; the composition root adapts the core to it. */
export interface ManagementBackend {
  /** Throws (WHARF_AUTHENTICATION_FAILED) on a wrong name/password or a refused address. */
  authenticate(user: string, password: string, remoteAddress: string): ManagedUser;
  vhostNames(): string[];
  vhost(name: string): ManagedVhost | undefined;
  addVhost(name: string): Promise<void>;
  deleteVhost(name: string): Promise<void>;
  listUsers(): ManagedUser[];
  /** Creates or updates a user; `password` undefined keeps the current one. */
  putUser(name: string, password: string | undefined, tags: readonly string[]): Promise<void>;
  deleteUser(name: string): Promise<void>;
  listPermissions(): ManagedPermission[];
  setPermissions(
    vhost: string,
    user: string,
    permission: Omit<ManagedPermission, "user" | "vhost">,
  ): Promise<void>;
  clearPermissions(vhost: string, user: string): Promise<void>;
  /** For /api/overview. */
  overview(): { product: string; version: string; node: string };
}

/** An HTTP error answered as RabbitMQ's management plugin does. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    reason: string,
  ) {
    super(reason);
  }
}

const notFound = (what: string) => new ApiError(404, "Object Not Found", what);
const badRequest = (reason: string) => new ApiError(400, "bad_request", reason);
const methodNotAllowed = (method: string) =>
  new ApiError(405, "method_not_allowed", `${method} not allowed here`);

const fieldTableSchema = z.record(z.string(), z.unknown()).default({});

const queueBody = z.object({
  durable: z.boolean().default(true),
  auto_delete: z.boolean().default(false),
  arguments: fieldTableSchema,
});
const exchangeBody = z.object({
  type: z.string().min(1),
  durable: z.boolean().default(true),
  auto_delete: z.boolean().default(false),
  internal: z.boolean().default(false),
  arguments: fieldTableSchema,
});
const bindingBody = z.object({
  routing_key: z.string().default(""),
  arguments: fieldTableSchema,
});
const userBody = z.object({
  password: z.string().optional(),
  /** RabbitMQ takes a comma-separated string; a list is accepted too. */
  tags: z.union([z.string(), z.array(z.string())]).default(""),
});
const permissionBody = z.object({
  configure: z.string(),
  write: z.string(),
  read: z.string(),
});

/**
 * RabbitMQ's `properties_key` of a binding: the routing key when it has no arguments, else
 * the routing key, `~` and a digest of the arguments. Identifies a binding in DELETE paths.
 */
export function bindingPropertiesKey(routingKey: string, args: FieldTable): string {
  if (Object.keys(args).length === 0) return routingKey === "" ? "~" : routingKey;
  const digest = createHash("sha256").update(canonicalTable(args)).digest("base64url");
  return `${routingKey}~${digest.slice(0, 22)}`;
}

/** Arguments from JSON: JSON has no AMQP types, so numbers stay numbers and strings strings. */
function jsonTable(value: Record<string, unknown>): FieldTable {
  for (const [key, v] of Object.entries(value)) {
    const ok =
      v === null ||
      typeof v === "string" ||
      typeof v === "number" ||
      typeof v === "boolean" ||
      (typeof v === "object" && v !== null);
    if (!ok) throw badRequest(`argument '${key}' has an unsupported type`);
  }
  return value as FieldTable;
}

function tableToJson(table: FieldTable): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(table, (_key, value: unknown) => {
      if (typeof value === "bigint") return Number(value);
      if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8");
      return value;
    }),
  ) as Record<string, unknown>;
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > managementBodyBytesMax) {
      throw new ApiError(413, "payload_too_large", `body above ${managementBodyBytesMax} bytes`);
    }
    chunks.push(chunk);
  }
  if (bytes === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw badRequest("body is not valid JSON");
  }
}

function parseBody<T>(schema: z.ZodType<T>, raw: unknown): T {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw badRequest(`${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid"}`);
  }
  return result.data;
}

function decodeSegments(path: string): string[] {
  const parts = path.split("/").slice(2); // "", "api", ...
  try {
    return parts.map((part) => decodeURIComponent(part));
  } catch {
    throw badRequest("path is not valid URL encoding");
  }
}

function parseCredentials(header: string | undefined): { user: string; password: string } {
  if (header === undefined || !header.startsWith("Basic ")) {
    throw new ApiError(401, "not_authorised", "Login failed");
  }
  const text = Buffer.from(header.slice(6), "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon < 0) throw new ApiError(401, "not_authorised", "Login failed");
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

interface RequestContext {
  readonly method: string;
  readonly segments: string[];
  readonly query: URLSearchParams;
  readonly user: ManagedUser;
  readonly who: SessionIdentity;
  readonly request: IncomingMessage;
}

let requestCounter = 0;

export class ManagementApi {
  constructor(private readonly backend: ManagementBackend) {}

  /** Answers one `/api/...` request. Never throws. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const url = new URL(request.url ?? "/", "http://localhost");
      const credentials = parseCredentials(request.headers.authorization);
      let user: ManagedUser;
      try {
        user = this.backend.authenticate(
          credentials.user,
          credentials.password,
          request.socket.remoteAddress ?? "",
        );
      } catch (error) {
        if (isWharfError(error)) throw new ApiError(401, "not_authorised", "Login failed");
        throw error;
      }
      const context: RequestContext = {
        method: request.method ?? "GET",
        segments: decodeSegments(url.pathname),
        query: url.searchParams,
        user,
        who: { connectionId: `http-${++requestCounter}`, user: user.name },
        request,
      };
      const result = await this.route(context);
      if (result === undefined) {
        response.writeHead(context.method === "PUT" || context.method === "POST" ? 201 : 204);
        response.end();
      } else {
        reply(response, 200, result);
      }
    } catch (error) {
      if (error instanceof ApiError) {
        const headers: Record<string, string> =
          error.status === 401 ? { "www-authenticate": 'Basic realm="WharfMQ Management"' } : {};
        reply(response, error.status, { error: error.error, reason: error.message }, headers);
      } else if (isRoutingError(error)) {
        const status =
          error.code === "NOT_FOUND" ? 404 : error.code === "ACCESS_REFUSED" ? 403 : 400;
        reply(response, status, { error: error.code.toLowerCase(), reason: error.message });
      } else if (isWharfError(error)) {
        reply(response, 400, { error: "bad_request", reason: error.message });
      } else {
        reply(response, 500, { error: "internal_error", reason: (error as Error).message });
      }
    }
  }

  private async route(context: RequestContext): Promise<unknown> {
    const [resource, ...rest] = context.segments;
    switch (resource) {
      case "overview":
        return this.only(context, ["GET"], () => this.backend.overview());
      case "vhosts":
        return this.vhosts(context, rest);
      case "users":
        return this.users(context, rest);
      case "permissions":
        return this.permissions(context, rest);
      case "exchanges":
        return this.exchanges(context, rest);
      case "queues":
        return this.queues(context, rest);
      case "bindings":
        return this.bindings(context, rest);
      default:
        throw notFound(`no resource '${resource ?? ""}'`);
    }
  }

  private only<T>(context: RequestContext, methods: string[], work: () => T): T {
    if (!methods.includes(context.method)) throw methodNotAllowed(context.method);
    return work();
  }

  private requireAdministrator(context: RequestContext): void {
    if (!context.user.tags.includes("administrator")) {
      throw new ApiError(403, "not_authorised", "Not administrator user");
    }
  }

  private vhostOf(name: string | undefined): ManagedVhost {
    const vhost = name === undefined ? undefined : this.backend.vhost(name);
    if (vhost === undefined) throw notFound(`no vhost '${name ?? ""}'`);
    return vhost;
  }

  private async vhosts(context: RequestContext, rest: string[]): Promise<unknown> {
    if (rest.length === 0) {
      return this.only(context, ["GET"], () => this.backend.vhostNames().map((name) => ({ name })));
    }
    const [name] = rest;
    if (name === undefined || name === "" || rest.length > 1) throw notFound("no such vhost path");
    if (context.method === "GET") return { name: this.vhostOf(name).api.name };
    this.requireAdministrator(context);
    if (context.method === "PUT") return void (await this.backend.addVhost(name));
    if (context.method === "DELETE") {
      this.vhostOf(name);
      return void (await this.backend.deleteVhost(name));
    }
    throw methodNotAllowed(context.method);
  }

  private async users(context: RequestContext, rest: string[]): Promise<unknown> {
    this.requireAdministrator(context);
    if (rest.length === 0) {
      return this.only(context, ["GET"], () =>
        this.backend.listUsers().map((u) => ({ name: u.name, tags: u.tags })),
      );
    }
    const [name] = rest;
    if (name === undefined || name === "" || rest.length > 1) throw notFound("no such user path");
    if (context.method === "GET") {
      const user = this.backend.listUsers().find((u) => u.name === name);
      if (user === undefined) throw notFound(`no user '${name}'`);
      return { name: user.name, tags: user.tags };
    }
    if (context.method === "PUT") {
      const body = parseBody(userBody, await readJson(context.request));
      const tags = (Array.isArray(body.tags) ? body.tags : body.tags.split(","))
        .map((tag) => tag.trim())
        .filter((tag) => tag.length > 0);
      const exists = this.backend.listUsers().some((u) => u.name === name);
      if (!exists && body.password === undefined) throw badRequest("password is required");
      return void (await this.backend.putUser(name, body.password, tags));
    }
    if (context.method === "DELETE") {
      if (!this.backend.listUsers().some((u) => u.name === name)) {
        throw notFound(`no user '${name}'`);
      }
      return void (await this.backend.deleteUser(name));
    }
    throw methodNotAllowed(context.method);
  }

  private async permissions(context: RequestContext, rest: string[]): Promise<unknown> {
    this.requireAdministrator(context);
    if (rest.length === 0) return this.only(context, ["GET"], () => this.backend.listPermissions());
    const [vhost, user] = rest;
    if (vhost === undefined || user === undefined || rest.length > 2) {
      throw notFound("no such permission path");
    }
    this.vhostOf(vhost);
    if (context.method === "GET") {
      const found = this.backend
        .listPermissions()
        .find((p) => p.vhost === vhost && p.user === user);
      if (found === undefined) throw notFound(`no permissions for '${user}' in '${vhost}'`);
      return found;
    }
    if (context.method === "PUT") {
      const body = parseBody(permissionBody, await readJson(context.request));
      for (const pattern of [body.configure, body.write, body.read]) {
        try {
          new RegExp(pattern);
        } catch {
          throw badRequest(`'${pattern}' is not a valid regular expression`);
        }
      }
      return void (await this.backend.setPermissions(vhost, user, body));
    }
    if (context.method === "DELETE") return void (await this.backend.clearPermissions(vhost, user));
    throw methodNotAllowed(context.method);
  }

  private selectedVhosts(vhost: string | undefined): ManagedVhost[] {
    if (vhost !== undefined) return [this.vhostOf(vhost)];
    return this.backend.vhostNames().flatMap((name) => {
      const v = this.backend.vhost(name);
      return v === undefined ? [] : [v];
    });
  }

  private async exchanges(context: RequestContext, rest: string[]): Promise<unknown> {
    const [vhostName, name] = rest;
    if (rest.length <= 1) {
      return this.only(context, ["GET"], () =>
        this.selectedVhosts(vhostName).flatMap((vhost) =>
          vhost.listExchanges().map((x) => exchangeJson(vhost.api.name, x)),
        ),
      );
    }
    if (name === undefined || rest.length > 2) throw notFound("no such exchange path");
    const vhost = this.vhostOf(vhostName);
    switch (context.method) {
      case "GET": {
        const found = vhost.listExchanges().find((x) => x.name === name);
        if (found === undefined)
          throw notFound(`no exchange '${name}' in vhost '${vhost.api.name}'`);
        return exchangeJson(vhost.api.name, found);
      }
      case "PUT": {
        const body = parseBody(exchangeBody, await readJson(context.request));
        await vhost.api.declareExchange(context.who, name, body.type, {
          durable: body.durable,
          autoDelete: body.auto_delete,
          internal: body.internal,
          arguments: jsonTable(body.arguments),
        });
        return undefined;
      }
      case "DELETE":
        await vhost.api.deleteExchange(context.who, name, {
          ifUnused: context.query.get("if-unused") === "true",
        });
        return undefined;
      default:
        throw methodNotAllowed(context.method);
    }
  }

  private async queues(context: RequestContext, rest: string[]): Promise<unknown> {
    const [vhostName, name, contents] = rest;
    if (rest.length <= 1) {
      return this.only(context, ["GET"], () =>
        this.selectedVhosts(vhostName).flatMap((vhost) =>
          vhost.api.listQueues().map((q) => queueJson(vhost.api.name, q)),
        ),
      );
    }
    if (name === undefined || rest.length > 3) throw notFound("no such queue path");
    const vhost = this.vhostOf(vhostName);
    if (contents !== undefined) {
      if (contents !== "contents") throw notFound("no such queue path");
      return this.only(context, ["DELETE"], async () => {
        await vhost.api.purgeQueue(context.who, name);
        return undefined;
      });
    }
    switch (context.method) {
      case "GET": {
        const found = vhost.api.listQueues().find((q) => q.name === name);
        if (found === undefined) throw notFound(`no queue '${name}' in vhost '${vhost.api.name}'`);
        return queueJson(vhost.api.name, found);
      }
      case "PUT": {
        const body = parseBody(queueBody, await readJson(context.request));
        await vhost.api.declareQueue(context.who, name, {
          durable: body.durable,
          autoDelete: body.auto_delete,
          arguments: jsonTable(body.arguments),
        });
        return undefined;
      }
      case "DELETE":
        await vhost.api.deleteQueue(context.who, name, {
          ifUnused: context.query.get("if-unused") === "true",
          ifEmpty: context.query.get("if-empty") === "true",
        });
        return undefined;
      default:
        throw methodNotAllowed(context.method);
    }
  }

  private async bindings(context: RequestContext, rest: string[]): Promise<unknown> {
    const [vhostName, e, source, kind, destination, propertiesKey] = rest;
    if (rest.length <= 1) {
      return this.only(context, ["GET"], () =>
        this.selectedVhosts(vhostName).flatMap((vhost) =>
          vhost.listBindings().map((b) => bindingJson(vhost.api.name, b)),
        ),
      );
    }
    if (
      e !== "e" ||
      source === undefined ||
      (kind !== "q" && kind !== "e") ||
      destination === undefined ||
      rest.length > 6
    ) {
      throw notFound("no such binding path");
    }
    const vhost = this.vhostOf(vhostName);
    const matching = () =>
      vhost
        .listBindings()
        .filter(
          (b) =>
            b.source === source &&
            b.destination.name === destination &&
            (kind === "q" ? b.destination.kind !== "exchange" : b.destination.kind === "exchange"),
        );
    if (propertiesKey === undefined) {
      if (context.method === "GET") {
        return this.only(context, ["GET"], () =>
          matching().map((b) => bindingJson(vhost.api.name, b)),
        );
      }
      return this.only(context, ["GET", "POST"], async () => {
        const body = parseBody(bindingBody, await readJson(context.request));
        const args = jsonTable(body.arguments);
        if (kind === "q") {
          await vhost.api.bindQueue(context.who, destination, source, body.routing_key, args);
        } else {
          await vhost.api.bindExchange(context.who, destination, source, body.routing_key, args);
        }
        return undefined;
      });
    }
    const binding = matching().find(
      (b) => bindingPropertiesKey(b.routingKey, b.arguments) === propertiesKey,
    );
    if (binding === undefined) throw notFound("no such binding");
    if (context.method === "GET") return bindingJson(vhost.api.name, binding);
    return this.only(context, ["GET", "DELETE"], async () => {
      if (kind === "q") {
        await vhost.api.unbindQueue(
          context.who,
          destination,
          source,
          binding.routingKey,
          binding.arguments,
        );
      } else {
        await vhost.api.unbindExchange(
          context.who,
          destination,
          source,
          binding.routingKey,
          binding.arguments,
        );
      }
      return undefined;
    });
  }
}

function exchangeJson(vhost: string, x: ExchangeInfo): Record<string, unknown> {
  return {
    name: x.name,
    vhost,
    type: x.type,
    durable: x.durable,
    auto_delete: x.autoDelete,
    internal: x.internal,
    arguments: tableToJson(x.arguments),
  };
}

function queueJson(
  vhost: string,
  q: ReturnType<VirtualHostApi["listQueues"]>[number],
): Record<string, unknown> {
  return {
    name: q.name,
    vhost,
    type: q.type,
    durable: q.durable,
    exclusive: q.exclusive,
    auto_delete: q.autoDelete,
    arguments: tableToJson(q.arguments),
    messages_ready: q.messagesReady,
    messages_unacknowledged: q.messagesUnacknowledged,
    messages: q.messagesReady + q.messagesUnacknowledged,
    consumers: q.consumers,
  };
}

function bindingJson(vhost: string, b: Binding): Record<string, unknown> {
  return {
    source: b.source,
    vhost,
    destination: b.destination.name,
    destination_type: b.destination.kind === "exchange" ? "exchange" : "queue",
    routing_key: b.routingKey,
    arguments: tableToJson(b.arguments),
    properties_key: bindingPropertiesKey(b.routingKey, b.arguments),
  };
}

function reply(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  response.end(text);
}
