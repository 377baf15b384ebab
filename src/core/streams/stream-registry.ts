/**
 * Streams (Kafka topics): named sets of partition logs with per-topic configuration.
 * Definitions live in `topics.json` (DefinitionsStore: atomic, fsync'd) and survive restart;
 * partition logs live in the LogStore as `<topic>-<partition>`, as Kafka names them.
 *
 * Ordering: a topic is written to the definitions before its logs are used, and removed from
 * them before its logs are deleted. On open, logs that no definition claims (a crash between
 * the two steps of a delete) are deleted with a warning.
 *
 * Compaction: every `compactionIntervalMs` the partitions of topics whose `cleanup.policy`
 * includes `compact` are looked at, one log at a time (never two runs at once, so never two on
 * one log); a log is compacted when Kafka would clean it: its dirty ratio is above
 * `min.cleanable.dirty.ratio` (0.5), or a tombstone it keeps has reached its delete horizon.
 * `compact,delete` topics also get retention (the LogStore's retention timer). `close()` stops
 * the timer and the run in progress (at its next batch).
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { StorageConfig } from "../../config/config.ts";
import {
  compactionIntervalMsDefault,
  minCleanableDirtyRatio,
  partitionsPerTopicMax,
} from "../../config/limits.ts";
import { WharfError } from "../../errors/index.ts";
import type { Logger } from "../../logging/logger.ts";
import type { LogConfig } from "../../storage/log.ts";
import type { LogStore } from "../../storage/log-store.ts";
import { DefinitionsStore } from "../definitions-store.ts";
import { Partition } from "./partition.ts";
import {
  resolveTopicSettings,
  type TopicOverrides,
  type TopicSettings,
  validateOverrides,
} from "./topic-config.ts";
import { validateTopicName } from "./topic-name.ts";

export { partitionsPerTopicMax };

export interface TopicDefinition {
  name: string;
  id: string;
  partitions: number;
  config: TopicOverrides;
  createdAt: number;
}

interface TopicsDocument {
  version: 1;
  topics: Record<string, TopicDefinition>;
}

export interface Topic {
  readonly definition: TopicDefinition;
  readonly settings: TopicSettings;
  readonly partitions: Partition[];
}

export interface StreamRegistryOptions {
  defaults: StorageConfig;
  logger: Logger;
  /**
   * How often compacted topics are looked at; `defaults.compactionIntervalMs` by default.
   * 0 disables the timer (tests call `runCompaction`).
   */
  compactionIntervalMs?: number;
}

const partitionLogName = /^(.+)-(\d+)$/;

export function logConfigFor(settings: TopicSettings): LogConfig {
  const deletes = settings.cleanupPolicy !== "compact";
  return {
    segmentBytes: settings.segmentBytes,
    segmentMs: settings.segmentMs,
    retentionMs: deletes ? settings.retentionMs : -1,
    retentionBytes: deletes ? settings.retentionBytes : -1,
    maxBatchBytes: settings.maxMessageBytes,
    indexIntervalBytes: settings.indexIntervalBytes,
    durability:
      settings.durability === "interval"
        ? { mode: "interval", intervalMs: settings.flushMs }
        : { mode: settings.durability },
  };
}

function isCompacted(settings: TopicSettings): boolean {
  return settings.cleanupPolicy.includes("compact");
}

export class StreamRegistry {
  private readonly topics = new Map<string, Topic>();
  private compactionTimer: NodeJS.Timeout | null = null;
  private compactionRunning: Promise<void> | null = null;
  private readonly stopping = new AbortController();

  private constructor(
    private readonly logStore: LogStore,
    private readonly definitions: DefinitionsStore<TopicsDocument>,
    private readonly options: StreamRegistryOptions,
  ) {}

  static async open(
    logStore: LogStore,
    metaDir: string,
    options: StreamRegistryOptions,
  ): Promise<StreamRegistry> {
    const definitions = await DefinitionsStore.open<TopicsDocument>(
      join(metaDir, "topics.json"),
      { version: 1, topics: {} },
      (raw) => raw as TopicsDocument,
    );
    const registry = new StreamRegistry(logStore, definitions, options);
    for (const definition of Object.values(definitions.current.topics)) {
      await registry.openTopic(definition);
    }
    await registry.removeOrphanLogs();
    registry.startCompactionTimer();
    return registry;
  }

  private startCompactionTimer(): void {
    const interval =
      this.options.compactionIntervalMs ??
      this.options.defaults.compactionIntervalMs ??
      compactionIntervalMsDefault;
    if (interval <= 0) return;
    this.compactionTimer = setInterval(() => void this.runCompaction(), interval);
    this.compactionTimer.unref();
  }

  /**
   * One compaction round over the compacted topics (what the timer runs): each partition log
   * that needs it is compacted, one after the other. Resolves when the round is over; a call
   * during a round returns that round.
   */
  runCompaction(): Promise<void> {
    if (this.compactionRunning) return this.compactionRunning;
    const signal = this.stopping.signal;
    this.compactionRunning = (async () => {
      for (const topic of [...this.topics.values()]) {
        for (const partition of [...topic.partitions]) {
          if (signal.aborted) return;
          const settings = topic.settings;
          if (!isCompacted(settings) || this.topics.get(topic.definition.name) !== topic) break;
          const { deleteRetentionMs, minCompactionLagMs } = settings;
          const log = partition.log;
          try {
            if (!log.compactionNeeded({ minCompactionLagMs, minCleanableDirtyRatio })) continue;
            await log.compact({ deleteRetentionMs, minCompactionLagMs, signal });
          } catch (error) {
            const closed = (error as { code?: string }).code === "WHARF_LOG_CLOSED";
            this.options.logger[closed ? "debug" : "error"](
              { err: error, topic: topic.definition.name, partition: partition.index },
              "compaction failed",
            );
          }
        }
      }
    })().finally(() => {
      this.compactionRunning = null;
    });
    return this.compactionRunning;
  }

  /** Stops compaction: the timer, and the run in progress at its next batch. */
  async close(): Promise<void> {
    if (this.compactionTimer) clearInterval(this.compactionTimer);
    this.compactionTimer = null;
    this.stopping.abort();
    await this.compactionRunning;
  }

  private async openTopic(definition: TopicDefinition): Promise<Topic> {
    const settings = resolveTopicSettings(definition.config, this.options.defaults);
    const partitions: Partition[] = [];
    for (let index = 0; index < definition.partitions; index++) {
      partitions.push(await this.openPartition(definition.name, index, settings));
    }
    const topic: Topic = { definition, settings, partitions };
    this.topics.set(definition.name, topic);
    return topic;
  }

  private async openPartition(
    name: string,
    index: number,
    settings: TopicSettings,
  ): Promise<Partition> {
    const log = await this.logStore.openLog(`${name}-${index}`, logConfigFor(settings));
    const partition = new Partition(name, index, log, this.options.logger);
    partition.requireRecordKeys = isCompacted(settings);
    return partition;
  }

  private async removeOrphanLogs(): Promise<void> {
    for (const logName of await this.logStore.listLogs()) {
      const match = partitionLogName.exec(logName);
      if (!match) continue;
      const topic = this.topics.get(match[1]!);
      if (topic && Number(match[2]) < topic.definition.partitions) continue;
      this.options.logger.warn(
        { log: logName },
        "deleting a partition log that no topic claims (an interrupted delete)",
      );
      await this.logStore.deleteLog(logName);
    }
  }

  list(): Topic[] {
    return [...this.topics.values()];
  }

  get(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  /** The topic with this id (Kafka topic ids, lowercase UUID text), if any. */
  getById(id: string): Topic | undefined {
    for (const topic of this.topics.values()) if (topic.definition.id === id) return topic;
    return undefined;
  }

  /** The partition, or WHARF_TOPIC_NOT_FOUND. */
  partition(name: string, index: number): Partition {
    const partition = this.topics.get(name)?.partitions[index];
    if (!partition) throw new WharfError("WHARF_TOPIC_NOT_FOUND", `${name}-${index}`);
    return partition;
  }

  async create(
    name: string,
    partitions: number,
    config: TopicOverrides = {},
    options: { validateOnly?: boolean } = {},
  ): Promise<Topic | undefined> {
    validateTopicName(name);
    if (this.topics.has(name)) throw new WharfError("WHARF_TOPIC_EXISTS", name);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > partitionsPerTopicMax) {
      throw new WharfError(
        "WHARF_INVALID_PARTITIONS",
        `${partitions}: expected 1..${partitionsPerTopicMax}`,
      );
    }
    const overrides = validateOverrides(config);
    if (options.validateOnly) return undefined;
    const definition: TopicDefinition = {
      name,
      id: randomUUID(),
      partitions,
      config: overrides,
      createdAt: Date.now(),
    };
    await this.definitions.update((document) => {
      if (document.topics[name]) throw new WharfError("WHARF_TOPIC_EXISTS", name);
      document.topics[name] = definition;
    });
    this.options.logger.info({ topic: name, partitions }, "topic created");
    return this.openTopic(definition);
  }

  async delete(name: string): Promise<void> {
    const topic = this.topics.get(name);
    if (!topic) throw new WharfError("WHARF_TOPIC_NOT_FOUND", name);
    await this.definitions.update((document) => {
      delete document.topics[name];
    });
    this.topics.delete(name);
    for (const partition of topic.partitions) {
      partition.wakeAll();
      await this.logStore.deleteLog(`${name}-${partition.index}`);
    }
    this.options.logger.info({ topic: name }, "topic deleted");
  }

  /** Grows a topic to `total` partitions (Kafka CreatePartitions; shrinking is not allowed). */
  async addPartitions(
    name: string,
    total: number,
    options: { validateOnly?: boolean } = {},
  ): Promise<void> {
    const topic = this.topics.get(name);
    if (!topic) throw new WharfError("WHARF_TOPIC_NOT_FOUND", name);
    const current = topic.definition.partitions;
    if (!Number.isInteger(total) || total <= current || total > partitionsPerTopicMax) {
      throw new WharfError(
        "WHARF_INVALID_PARTITIONS",
        `topic ${name} has ${current} partitions; ${total} is not a larger valid count`,
      );
    }
    if (options.validateOnly) return;
    await this.definitions.update((document) => {
      document.topics[name]!.partitions = total;
    });
    topic.definition.partitions = total;
    for (let index = current; index < total; index++) {
      topic.partitions.push(await this.openPartition(name, index, topic.settings));
    }
    this.options.logger.info({ topic: name, partitions: total }, "partitions added");
  }

  /** Replaces (`incremental: false`) or patches the topic's overrides; `null` removes a key. */
  async alterConfig(
    name: string,
    changes: Record<string, string | null>,
    options: { incremental: boolean; validateOnly?: boolean },
  ): Promise<void> {
    const topic = this.topics.get(name);
    if (!topic) throw new WharfError("WHARF_TOPIC_NOT_FOUND", name);
    const next: TopicOverrides = options.incremental ? { ...topic.definition.config } : {};
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) delete next[key];
      else next[key] = value;
    }
    const overrides = validateOverrides(next);
    if (options.validateOnly) return;
    await this.definitions.update((document) => {
      document.topics[name]!.config = overrides;
    });
    topic.definition.config = overrides;
    const settings = resolveTopicSettings(overrides, this.options.defaults);
    (topic as { settings: TopicSettings }).settings = settings;
    for (const partition of topic.partitions) {
      partition.log.updateConfig(logConfigFor(settings));
      partition.requireRecordKeys = isCompacted(settings);
    }
  }
}
