/**
 * Test support for the vhost layer: a broker-shaped set of stores in a temporary directory
 * (LogStore, StreamRegistry, UserStore, VirtualHostRegistry) that can be closed and reopened
 * on the same data, a JSON properties codec (the real AMQP codec lives in the protocol layer,
 * which the core may not import), and a recording consumer with a prefetch window.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig } from "../../config/config.ts";
import { silentLogger } from "../../logging/logger.ts";
import { LogStore } from "../../storage/log-store.ts";
import { UserStore } from "../auth/user-store.ts";
import type {
  MessageProperties,
  PropertiesCodec,
  QueueConsumer,
  QueuedMessage,
} from "../queues/queue-types.ts";
import type { FieldTable } from "../routing/types.ts";
import { StreamRegistry } from "../streams/stream-registry.ts";
import { type JsonValue, tableFromJson, tableToJson } from "./field-json.ts";
import type { SessionIdentity } from "./virtual-host-api.ts";
import { VirtualHostRegistry } from "./virtual-host-registry.ts";

/** Properties as JSON, field tables tagged (field-json.ts): lossless for every field type. */
export const jsonPropertiesCodec: PropertiesCodec = {
  encode(properties: MessageProperties): Buffer {
    const { headers, ...rest } = properties;
    const json: Record<string, JsonValue> = { ...(rest as Record<string, JsonValue>) };
    if (headers !== undefined) json.headers = tableToJson(headers);
    return Buffer.from(JSON.stringify(json));
  },
  decode(bytes: Buffer): MessageProperties {
    if (bytes.length === 0) return {};
    const json = JSON.parse(bytes.toString()) as Record<string, JsonValue>;
    const { headers, ...rest } = json;
    const out = rest as MessageProperties;
    if (headers !== undefined && headers !== null)
      out.headers = tableFromJson(headers as Record<string, JsonValue>);
    return out;
  },
};

export interface VhostKit {
  readonly dir: string;
  logStore: LogStore;
  streams: StreamRegistry;
  users: UserStore;
  vhosts: VirtualHostRegistry;
  /** Closes everything and opens it again on the same directory (a clean restart). */
  reopen(): Promise<void>;
  close(): Promise<void>;
  /** close() and remove the directory. */
  dispose(): Promise<void>;
}

export async function openVhostKit(dir?: string): Promise<VhostKit> {
  const root = dir ?? mkdtempSync(join(tmpdir(), "wharf-vhosts-"));
  const open = async () => {
    const logStore = await LogStore.open(join(root, "data"), {
      logger: silentLogger,
      retentionCheckIntervalMs: 0,
    });
    const streams = await StreamRegistry.open(logStore, root, {
      defaults: defaultConfig.storage,
      logger: silentLogger,
      compactionIntervalMs: 0,
    });
    const users = await UserStore.open(root, { logger: silentLogger, scryptCost: 1024 });
    const vhosts = await VirtualHostRegistry.open({
      metaDir: root,
      logStore,
      streams,
      users,
      codec: jsonPropertiesCodec,
      logger: silentLogger,
    });
    return { logStore, streams, users, vhosts };
  };
  let parts = await open();
  let closed = false;
  const kit: VhostKit = {
    dir: root,
    ...parts,
    async reopen() {
      await kit.close();
      parts = await open();
      Object.assign(kit, parts);
      closed = false;
    },
    async close() {
      if (closed) return;
      closed = true;
      await kit.vhosts.close();
      await kit.streams.close();
      await kit.logStore.close();
    },
    async dispose() {
      await kit.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return kit;
}

let connections = 0;

/** A session of user `user` on a fresh connection id. */
export function session(user = "guest"): SessionIdentity {
  return { connectionId: `test-connection-${++connections}`, user };
}

/** Properties bytes and decoded properties for a publish. */
export function message(
  exchange: string,
  routingKey: string,
  body: string,
  properties: MessageProperties = {},
) {
  return {
    exchange,
    routingKey,
    properties,
    propertiesBytes: jsonPropertiesCodec.encode(properties),
    body: Buffer.from(body),
  };
}

export interface RecordingConsumer extends QueueConsumer {
  readonly got: QueuedMessage[];
  readonly cancellations: string[];
  /** Messages delivered and not yet settled (the prefetch window). */
  unsettled: number;
  /** Acks the message and frees its slot in the window. */
  ack(message: QueuedMessage): void;
}

export function recorder(
  options: { prefetch?: number; noAck?: boolean; tag?: string } = {},
): RecordingConsumer {
  const prefetch = options.prefetch ?? 1000;
  const consumer: RecordingConsumer = {
    tag: options.tag ?? "ctag",
    priority: 0,
    noAck: options.noAck ?? false,
    got: [],
    cancellations: [],
    unsettled: 0,
    canTake() {
      return consumer.noAck || consumer.unsettled < prefetch;
    },
    deliver(delivered) {
      consumer.got.push(delivered);
      if (!consumer.noAck) consumer.unsettled++;
    },
    cancelled(reason) {
      consumer.cancellations.push(reason);
    },
    ack(delivered) {
      delivered.source.ack(delivered.id);
      consumer.unsettled--;
    },
  };
  return consumer;
}

export function bodies(messages: readonly QueuedMessage[]): string[] {
  return messages.map((m) => m.body.toString());
}

/** Polls `condition` every 10 ms for up to `ms` (bounded), failing with `what`. */
export async function eventually(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const noArgs: FieldTable = {};
