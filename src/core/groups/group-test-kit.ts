/**
 * Test kit for the group coordinator: a coordinator on a real OffsetStore in a temporary
 * directory, a manual clock, a fixed set of topics, and "consumer" protocol encoders.
 * Used by the unit tests beside it; not imported by the broker.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../logging/logger.ts";
import { LogStore } from "../../storage/log-store.ts";
import {
  GroupCoordinator,
  type GroupCoordinatorOptions,
  type JoinRequest,
  type PartitionCatalog,
} from "./group-coordinator.ts";
import { OffsetStore, type OffsetStoreOptions } from "./offset-store.ts";
import { ManualScheduler } from "./scheduler.ts";

export interface Kit {
  dir: string;
  clock: ManualScheduler;
  logStore: LogStore;
  offsets: OffsetStore;
  coordinator: GroupCoordinator;
  topics: Map<string, number>;
  /** Closes the coordinator and the store; keeps the directory (for reopen tests). */
  close(): Promise<void>;
  /** Closes and removes the directory. */
  dispose(): Promise<void>;
}

export function topicCatalog(topics: Map<string, number>, highWatermark = 100): PartitionCatalog {
  return {
    partitionCount: (topic) => topics.get(topic),
    partitionOffsets: (topic, partition) => {
      const count = topics.get(topic);
      if (count === undefined || partition < 0 || partition >= count) return undefined;
      return { logStartOffset: 0, highWatermark, logEndOffset: highWatermark };
    },
  };
}

export async function openKit(
  options: {
    dir?: string;
    coordinator?: Partial<GroupCoordinatorOptions>;
    store?: Partial<OffsetStoreOptions>;
    topics?: Record<string, number>;
  } = {},
): Promise<Kit> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "wharf-groups-"));
  const clock = new ManualScheduler();
  const logStore = await LogStore.open(dir, { retentionCheckIntervalMs: 0 });
  const offsets = await OffsetStore.open(logStore, {
    logger: silentLogger,
    now: () => clock.now(),
    ...options.store,
  });
  const topics = new Map(Object.entries(options.topics ?? { orders: 3, audit: 1 }));
  const coordinator = new GroupCoordinator({
    offsets,
    partitions: topicCatalog(topics),
    logger: silentLogger,
    scheduler: clock,
    initialRebalanceDelayMs: 3_000,
    retentionCheckIntervalMs: 0,
    ...options.coordinator,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await coordinator.close();
    await logStore.close();
  };
  return {
    dir,
    clock,
    logStore,
    offsets,
    coordinator,
    topics,
    close,
    dispose: async () => {
      await close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** ConsumerProtocolSubscription v0: version, topics, user data (null). */
export function subscription(topics: string[]): Buffer {
  const parts = [Buffer.from([0, 0]), int32(topics.length)];
  for (const topic of topics) parts.push(string(topic));
  parts.push(int32(-1));
  return Buffer.concat(parts);
}

/** ConsumerProtocolAssignment v0: version, partitions by topic, user data (null). */
export function assignment(partitions: Record<string, number[]>): Buffer {
  const entries = Object.entries(partitions);
  const parts = [Buffer.from([0, 0]), int32(entries.length)];
  for (const [topic, list] of entries) {
    parts.push(string(topic), int32(list.length), ...list.map(int32));
  }
  parts.push(int32(-1));
  return Buffer.concat(parts);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

function string(text: string): Buffer {
  const bytes = Buffer.from(text);
  const length = Buffer.alloc(2);
  length.writeInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** A JoinGroup of a "consumer" member with the given protocols (default: range). */
export function joinRequest(overrides: Partial<JoinRequest> = {}): JoinRequest {
  return {
    groupId: "g",
    memberId: "",
    groupInstanceId: null,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: subscription(["orders"]) }],
    clientId: "client",
    clientHost: "/127.0.0.1",
    requireKnownMemberId: true,
    supportsSkipAssignment: false,
    ...overrides,
  };
}
