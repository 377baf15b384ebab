/**
 * The virtual hosts of the broker (`broker.vhosts`), durable in `meta/vhosts.json`; each
 * vhost's definitions are in `meta/vhost-<id>.json`. The default vhost "/" always exists
 * (created on first start, never deletable, as RabbitMQ's default vhost in practice).
 *
 * Ordering: adding a vhost writes vhosts.json before the vhost serves; deleting one removes it
 * from vhosts.json first, then deletes its queues (and their logs), its definitions file and
 * the users' permissions there. A crash in between leaves logs that no vhost claims; they are
 * deleted on the next open (their names carry the vhost id, never reused).
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { vhostNameBytesMax, vhostsMax } from "../../config/limits.ts";
import { WharfError } from "../../errors/index.ts";
import type { Logger } from "../../logging/logger.ts";
import type { LogStore } from "../../storage/log-store.ts";
import type { UserStore } from "../auth/user-store.ts";
import { DefinitionsStore } from "../definitions-store.ts";
import type { PropertiesCodec } from "../queues/queue-types.ts";
import type { StreamRegistry } from "../streams/stream-registry.ts";
import { TRANSIENT_QUEUE_LOG_NAMESPACE } from "./vhost-definitions.ts";
import { VirtualHost } from "./virtual-host.ts";

export const DEFAULT_VHOST = "/";

export interface VhostRecord {
  name: string;
  id: number;
  description: string;
  tags: string[];
  createdAt: number;
}

interface VhostsDocument {
  version: 1;
  nextId: number;
  vhosts: Record<string, VhostRecord>;
}

export interface VirtualHostRegistryOptions {
  readonly metaDir: string;
  readonly logStore: LogStore;
  readonly streams: StreamRegistry;
  readonly users: UserStore;
  readonly codec?: PropertiesCodec;
  readonly logger: Logger;
  readonly now?: () => number;
}

function validate(raw: unknown): VhostsDocument {
  const document = raw as VhostsDocument;
  if (
    typeof document !== "object" ||
    document === null ||
    document.version !== 1 ||
    !Number.isSafeInteger(document.nextId) ||
    typeof document.vhosts !== "object"
  ) {
    throw new WharfError("WHARF_DATA_CORRUPT", "vhosts.json: not a version 1 vhosts document");
  }
  return document;
}

function validateVhostName(name: string): void {
  if (
    typeof name !== "string" ||
    name.length === 0 ||
    Buffer.byteLength(name) > vhostNameBytesMax ||
    /[\u0000-\u001f]/.test(name)
  ) {
    throw new WharfError(
      "WHARF_DEFINITION_INVALID",
      `vhost name must be 1-${vhostNameBytesMax} bytes without control characters`,
    );
  }
}

export class VirtualHostRegistry {
  private readonly hosts = new Map<string, VirtualHost>();
  private closed = false;

  private constructor(
    private readonly definitions: DefinitionsStore<VhostsDocument>,
    private readonly options: VirtualHostRegistryOptions,
  ) {}

  static async open(options: VirtualHostRegistryOptions): Promise<VirtualHostRegistry> {
    const definitions = await DefinitionsStore.open<VhostsDocument>(
      join(options.metaDir, "vhosts.json"),
      { version: 1, nextId: 1, vhosts: {} },
      validate,
    );
    const registry = new VirtualHostRegistry(definitions, options);
    if (definitions.current.vhosts[DEFAULT_VHOST] === undefined) {
      await registry.record(DEFAULT_VHOST, "Default virtual host");
    }
    const logs = await options.logStore.listLogs();
    // Transient queues never outlive the process; vhosts deleted half-way leave orphans.
    const known = new Set(Object.values(definitions.current.vhosts).map((v) => v.id));
    for (const log of logs) {
      const transient = log.startsWith(TRANSIENT_QUEUE_LOG_NAMESPACE);
      const match = /^__wharf_q\.(\d+)\./.exec(log);
      if (transient || (match !== null && !known.has(Number(match[1])))) {
        await options.logStore.deleteLog(log);
      }
    }
    try {
      for (const record of Object.values(definitions.current.vhosts)) {
        await registry.openHost(record, logs);
      }
    } catch (error) {
      await registry.close();
      throw error;
    }
    return registry;
  }

  private definitionsPath(id: number): string {
    return join(this.options.metaDir, `vhost-${id}.json`);
  }

  private async record(
    name: string,
    description: string,
    tags: string[] = [],
  ): Promise<VhostRecord> {
    return this.definitions.update((document) => {
      if (document.vhosts[name] !== undefined)
        throw new WharfError("WHARF_DEFINITION_INVALID", `vhost '${name}' already exists`);
      const record: VhostRecord = {
        name,
        id: document.nextId++,
        description,
        tags,
        createdAt: Date.now(),
      };
      document.vhosts[name] = record;
      return record;
    });
  }

  private async openHost(
    record: VhostRecord,
    existingLogs: readonly string[] | null,
  ): Promise<VirtualHost> {
    const host = await VirtualHost.open({
      name: record.name,
      id: record.id,
      definitionsPath: this.definitionsPath(record.id),
      logStore: this.options.logStore,
      streams: this.options.streams,
      users: this.options.users,
      codec: this.options.codec,
      logger: this.options.logger.child({ vhost: record.name }),
      existingLogs,
      now: this.options.now,
    });
    this.hosts.set(record.name, host);
    return host;
  }

  /** The vhost, or undefined (AMQP connection.open answers 530 NOT_ALLOWED). */
  get(name: string): VirtualHost | undefined {
    return this.hosts.get(name);
  }

  has(name: string): boolean {
    return this.hosts.has(name);
  }

  list(): VhostRecord[] {
    return Object.values(this.definitions.current.vhosts).map((record) => ({
      ...record,
      tags: [...record.tags],
    }));
  }

  async add(
    name: string,
    options: { description?: string; tags?: string[] } = {},
  ): Promise<VirtualHost> {
    if (this.closed) throw new WharfError("WHARF_DEFINITION_INVALID", "broker is closing");
    validateVhostName(name);
    if (this.hosts.has(name))
      throw new WharfError("WHARF_DEFINITION_INVALID", `vhost '${name}' already exists`);
    if (this.hosts.size >= vhostsMax)
      throw new WharfError("WHARF_DEFINITION_INVALID", `at most ${vhostsMax} vhosts`);
    const record = await this.record(name, options.description ?? "", options.tags ?? []);
    // A fresh id: no definitions file or logs can exist for it.
    const host = await this.openHost(record, null);
    this.options.logger.info({ vhost: name }, "vhost created");
    return host;
  }

  /** Deletes a vhost with its queues (and their data) and everyone's permissions there. */
  async delete(name: string): Promise<void> {
    if (name === DEFAULT_VHOST)
      throw new WharfError("WHARF_DEFINITION_INVALID", "the default vhost '/' cannot be deleted");
    const host = this.hosts.get(name);
    const record = this.definitions.current.vhosts[name];
    if (host === undefined || record === undefined)
      throw new WharfError("WHARF_VHOST_NOT_FOUND", `'${name}'`);
    await this.definitions.update((document) => {
      delete document.vhosts[name];
    });
    this.hosts.delete(name);
    await host.destroy();
    await rm(this.definitionsPath(record.id), { force: true });
    await this.options.users.forgetVhost(name);
    this.options.logger.info({ vhost: name }, "vhost deleted");
  }

  /** Closes every vhost's queues (their data stays). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const host of this.hosts.values()) await host.close();
  }
}
