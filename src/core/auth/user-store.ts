/**
 * Users and their per-vhost permissions, durable in `meta/users.json` (DefinitionsStore:
 * atomic replace, fsync'd; the in-memory copy changes only once the document is durable).
 *
 * - Passwords are stored as salted scrypt hashes (`password-hash.ts`), never in clear.
 * - On first start (no document) the default user `guest`/`guest` is created with the tag
 *   `administrator` and all permissions on "/", and, as RabbitMQ's `loopback_users`, it may
 *   connect only from a loopback address.
 * - Permissions follow RabbitMQ (access-control guide): per (user, vhost) three regular
 *   expressions, configure / write / read. A resource is allowed when its name matches the
 *   expression; as in RabbitMQ (`re:run` without anchors) the match is a search, so `^$`, or
 *   the empty string, matches nothing (the empty string is mapped to `^$` as RabbitMQ does),
 *   `.*` everything, and `^app-` the names starting with `app-`. The default exchange ""
 *   is checked under its name `amq.default`.
 * - A user with no permissions entry for a vhost may not open it (`canAccessVhost`; AMQP
 *   connection.open answers 530 NOT_ALLOWED).
 */
import { randomUUID, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { userNameBytesMax, usersMax } from "../../config/limits.ts";
import { WharfError } from "../../errors/index.ts";
import type { Logger } from "../../logging/logger.ts";
import { DefinitionsStore } from "../definitions-store.ts";
import { RoutingError } from "../routing/types.ts";
import {
  hashPassword,
  isPasswordHash,
  type PasswordHash,
  quickDigest,
  verifyPassword,
} from "./password-hash.ts";

export type PermissionKind = "configure" | "write" | "read";
export type ResourceKind = "queue" | "exchange";

export interface Permissions {
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

export interface UserDefinition {
  name: string;
  password: PasswordHash;
  /** RabbitMQ's user tags: administrator, monitoring, management, policymaker, ... */
  tags: string[];
  /** May connect only from a loopback address (the default user). */
  loopbackOnly: boolean;
}

interface UsersDocument {
  version: 1;
  users: Record<string, UserDefinition>;
  /** user → vhost → permissions */
  permissions: Record<string, Record<string, Permissions>>;
}

export interface UserInfo {
  readonly name: string;
  readonly tags: readonly string[];
  readonly loopbackOnly: boolean;
}

export interface Principal {
  readonly user: string;
}

export const DEFAULT_USER = "guest";
export const ALL_PERMISSIONS: Permissions = Object.freeze({
  configure: ".*",
  write: ".*",
  read: ".*",
});

/** A compiled permission set with a bounded memo of answers (publish checks every message). */
class CompiledPermissions {
  private readonly patterns: Record<PermissionKind, RegExp>;
  private readonly memo = new Map<string, boolean>();

  constructor(readonly source: Permissions) {
    this.patterns = {
      configure: compilePermission(source.configure),
      write: compilePermission(source.write),
      read: compilePermission(source.read),
    };
  }

  allows(kind: PermissionKind, resource: ResourceKind, name: string): boolean {
    const key = `${kind}\u0000${resource}\u0000${name}`;
    const known = this.memo.get(key);
    if (known !== undefined) return known;
    const allowed = this.patterns[kind].test(name);
    if (this.memo.size >= 4096) this.memo.clear();
    this.memo.set(key, allowed);
    return allowed;
  }
}

/** RabbitMQ maps the empty expression to `^$`; a bad expression matches nothing. */
export function compilePermission(expression: string): RegExp {
  try {
    return new RegExp(expression === "" ? "^$" : expression, "u");
  } catch {
    return /(?!)/;
  }
}

function validatePermissions(permissions: Permissions): Permissions {
  for (const kind of ["configure", "write", "read"] as const) {
    const expression = permissions[kind];
    if (typeof expression !== "string")
      throw new WharfError("WHARF_DEFINITION_INVALID", `${kind} permission must be a string`);
    try {
      new RegExp(expression, "u");
    } catch (error) {
      throw new WharfError(
        "WHARF_DEFINITION_INVALID",
        `${kind} permission ${JSON.stringify(expression)} is not a regular expression: ${(error as Error).message}`,
      );
    }
  }
  return { configure: permissions.configure, write: permissions.write, read: permissions.read };
}

function validateUserName(name: string): void {
  if (
    typeof name !== "string" ||
    name.length === 0 ||
    Buffer.byteLength(name) > userNameBytesMax ||
    /[\u0000-\u001f]/.test(name)
  ) {
    throw new WharfError(
      "WHARF_DEFINITION_INVALID",
      `user name must be 1-${userNameBytesMax} bytes without control characters`,
    );
  }
}

function validateDocument(raw: unknown): UsersDocument {
  const document = raw as UsersDocument;
  if (
    typeof document !== "object" ||
    document === null ||
    document.version !== 1 ||
    typeof document.users !== "object" ||
    typeof document.permissions !== "object"
  ) {
    throw new WharfError("WHARF_DATA_CORRUPT", "users.json: not a version 1 users document");
  }
  for (const [name, user] of Object.entries(document.users)) {
    if (user.name !== name || !isPasswordHash(user.password) || !Array.isArray(user.tags))
      throw new WharfError("WHARF_DATA_CORRUPT", `users.json: bad entry for user '${name}'`);
  }
  return document;
}

export interface UserStoreOptions {
  logger: Logger;
  /** scrypt cost for new hashes (tests lower it to keep runs fast). */
  scryptCost?: number;
}

export class UserStore {
  private readonly compiled = new Map<string, CompiledPermissions>();
  /** user → SHA-256 of (salt, password) after one successful scrypt check (memory only). */
  private readonly verified = new Map<string, Buffer>();
  /** Checked for unknown user names, so that they cost what a wrong password costs. */
  private unknownUserHash: PasswordHash | undefined;
  /**
   * Bumped by every change of users or permissions: callers that cache answers of `allows`
   * (the publish path) drop their cache when it moves.
   */
  generation = 0;

  private constructor(
    private readonly definitions: DefinitionsStore<UsersDocument>,
    private readonly options: UserStoreOptions,
  ) {}

  static async open(metaDir: string, options: UserStoreOptions): Promise<UserStore> {
    const path = join(metaDir, "users.json");
    // The default user is created on the first start only: once an operator deletes it, it
    // stays deleted (RabbitMQ seeds it when the node's database is created).
    const firstStart = !existsSync(path);
    const definitions = await DefinitionsStore.open<UsersDocument>(
      path,
      { version: 1, users: {}, permissions: {} },
      validateDocument,
    );
    const store = new UserStore(definitions, options);
    if (firstStart) await store.createDefaultUser();
    return store;
  }

  private async createDefaultUser(): Promise<void> {
    const password = hashPassword("guest", this.options.scryptCost);
    await this.definitions.update((document) => {
      document.users[DEFAULT_USER] = {
        name: DEFAULT_USER,
        password,
        tags: ["administrator"],
        loopbackOnly: true,
      };
      document.permissions[DEFAULT_USER] = { "/": { ...ALL_PERMISSIONS } };
    });
    this.options.logger.info({ user: DEFAULT_USER }, "default user created (loopback only)");
  }

  // ---- users ---------------------------------------------------------------------------

  list(): UserInfo[] {
    return Object.values(this.definitions.current.users).map(toInfo);
  }

  get(name: string): UserInfo | undefined {
    const user = this.definitions.current.users[name];
    return user === undefined ? undefined : toInfo(user);
  }

  async add(
    name: string,
    password: string,
    options: { tags?: string[]; loopbackOnly?: boolean } = {},
  ): Promise<void> {
    validateUserName(name);
    if (this.definitions.current.users[name] !== undefined)
      throw new WharfError("WHARF_DEFINITION_INVALID", `user '${name}' already exists`);
    if (Object.keys(this.definitions.current.users).length >= usersMax)
      throw new WharfError("WHARF_DEFINITION_INVALID", `at most ${usersMax} users`);
    const hash = hashPassword(password, this.options.scryptCost);
    await this.definitions.update((document) => {
      if (document.users[name] !== undefined)
        throw new WharfError("WHARF_DEFINITION_INVALID", `user '${name}' already exists`);
      document.users[name] = {
        name,
        password: hash,
        tags: [...(options.tags ?? [])],
        loopbackOnly: options.loopbackOnly ?? false,
      };
    });
  }

  async delete(name: string): Promise<void> {
    await this.definitions.update((document) => {
      if (document.users[name] === undefined)
        throw new WharfError("WHARF_USER_NOT_FOUND", `'${name}'`);
      delete document.users[name];
      delete document.permissions[name];
    });
    this.verified.delete(name);
    this.forgetCompiled(name);
    this.generation++;
  }

  async changePassword(name: string, password: string): Promise<void> {
    const hash = hashPassword(password, this.options.scryptCost);
    await this.definitions.update((document) => {
      const user = document.users[name];
      if (user === undefined) throw new WharfError("WHARF_USER_NOT_FOUND", `'${name}'`);
      user.password = hash;
    });
    this.verified.delete(name);
  }

  async setTags(name: string, tags: string[]): Promise<void> {
    await this.definitions.update((document) => {
      const user = document.users[name];
      if (user === undefined) throw new WharfError("WHARF_USER_NOT_FOUND", `'${name}'`);
      user.tags = [...tags];
    });
  }

  /** Lets (`false`) the user connect from any address, or only from loopback (`true`). */
  async setLoopbackOnly(name: string, loopbackOnly: boolean): Promise<void> {
    await this.definitions.update((document) => {
      const user = document.users[name];
      if (user === undefined) throw new WharfError("WHARF_USER_NOT_FOUND", `'${name}'`);
      user.loopbackOnly = loopbackOnly;
    });
  }

  /**
   * Checks a user name and password presented on a connection from `remoteAddress`. The
   * client is told only "authentication failed"; the detail (for the broker's log) never
   * says which of name or password was wrong.
   */
  authenticate(name: string, password: string, remoteAddress: string): Principal {
    const user = this.definitions.current.users[name];
    if (!this.passwordMatches(user, name, password)) {
      throw new WharfError("WHARF_AUTHENTICATION_FAILED", "invalid user name or password");
    }
    if (user!.loopbackOnly && !isLoopbackAddress(remoteAddress)) {
      throw new WharfError(
        "WHARF_AUTHENTICATION_FAILED",
        `user '${name}' may connect only from a loopback address`,
      );
    }
    return { user: name };
  }

  private passwordMatches(
    user: UserDefinition | undefined,
    name: string,
    password: string,
  ): boolean {
    if (user === undefined) {
      // Same work as a wrong password, so that timing does not reveal which users exist.
      this.unknownUserHash ??= hashPassword(randomUUID(), this.options.scryptCost);
      verifyPassword(password, this.unknownUserHash);
      return false;
    }
    const digest = quickDigest(user.password.salt, password);
    const known = this.verified.get(name);
    if (known !== undefined) return timingSafeEqual(known, digest);
    if (!verifyPassword(password, user.password)) return false;
    this.verified.set(name, digest);
    return true;
  }

  // ---- permissions -----------------------------------------------------------------------

  async setPermissions(user: string, vhost: string, permissions: Permissions): Promise<void> {
    const valid = validatePermissions(permissions);
    await this.definitions.update((document) => {
      if (document.users[user] === undefined)
        throw new WharfError("WHARF_USER_NOT_FOUND", `'${user}'`);
      document.permissions[user] ??= {};
      document.permissions[user][vhost] = valid;
    });
    this.compiled.delete(compiledKey(user, vhost));
    this.generation++;
  }

  async clearPermissions(user: string, vhost: string): Promise<void> {
    await this.definitions.update((document) => {
      const forUser = document.permissions[user];
      if (forUser !== undefined) delete forUser[vhost];
    });
    this.compiled.delete(compiledKey(user, vhost));
    this.generation++;
  }

  /** A vhost was deleted: every user's permissions there go (RabbitMQ does the same). */
  async forgetVhost(vhost: string): Promise<void> {
    await this.definitions.update((document) => {
      for (const forUser of Object.values(document.permissions)) delete forUser[vhost];
    });
    for (const key of [...this.compiled.keys()])
      if (key.endsWith(`\u0000${vhost}`)) this.compiled.delete(key);
    this.generation++;
  }

  permissions(user: string, vhost: string): Permissions | undefined {
    return this.definitions.current.permissions[user]?.[vhost];
  }

  /** Every (user, vhost, permissions) entry, for the management API. */
  listPermissions(): { user: string; vhost: string; permissions: Permissions }[] {
    const out: { user: string; vhost: string; permissions: Permissions }[] = [];
    for (const [user, byVhost] of Object.entries(this.definitions.current.permissions))
      for (const [vhost, permissions] of Object.entries(byVhost))
        out.push({ user, vhost, permissions });
    return out;
  }

  /** connection.open: a user may open a vhost where they have a permissions entry. */
  canAccessVhost(user: string, vhost: string): boolean {
    return (
      this.definitions.current.users[user] !== undefined &&
      this.definitions.current.permissions[user]?.[vhost] !== undefined
    );
  }

  /** Whether `user` may do `kind` on the resource (default exchange "" is `amq.default`). */
  allows(
    user: string,
    vhost: string,
    kind: PermissionKind,
    resource: ResourceKind,
    name: string,
  ): boolean {
    const compiled = this.compiledFor(user, vhost);
    if (compiled === undefined) return false;
    return compiled.allows(
      kind,
      resource,
      resource === "exchange" && name === "" ? "amq.default" : name,
    );
  }

  /** As `allows`, throwing RabbitMQ's 403 ACCESS_REFUSED. */
  check(
    user: string,
    vhost: string,
    kind: PermissionKind,
    resource: ResourceKind,
    name: string,
  ): void {
    if (this.allows(user, vhost, kind, resource, name)) return;
    const shown = resource === "exchange" && name === "" ? "amq.default" : name;
    throw new RoutingError(
      "ACCESS_REFUSED",
      `access to ${resource} '${shown}' in vhost '${vhost}' refused for user '${user}'`,
    );
  }

  private compiledFor(user: string, vhost: string): CompiledPermissions | undefined {
    const source = this.definitions.current.permissions[user]?.[vhost];
    if (source === undefined) return undefined;
    const key = compiledKey(user, vhost);
    let compiled = this.compiled.get(key);
    if (compiled === undefined || compiled.source !== source) {
      compiled = new CompiledPermissions(source);
      this.compiled.set(key, compiled);
    }
    return compiled;
  }

  private forgetCompiled(user: string): void {
    for (const key of [...this.compiled.keys()])
      if (key.startsWith(`${user}\u0000`)) this.compiled.delete(key);
  }
}

function compiledKey(user: string, vhost: string): string {
  return `${user}\u0000${vhost}`;
}

function toInfo(user: UserDefinition): UserInfo {
  return { name: user.name, tags: [...user.tags], loopbackOnly: user.loopbackOnly };
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.x.y.z). */
export function isLoopbackAddress(address: string): boolean {
  const bare = address.startsWith("::ffff:") ? address.slice(7) : address;
  return bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
