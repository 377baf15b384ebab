/**
 * The broker core: owns storage and the resources built on it (streams now; queues,
 * exchanges and channels in later issues). Protocol servers call into it; it never calls a
 * protocol. Opening it runs storage recovery and loads the definitions.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import type { Logger } from "../logging/logger.ts";
import { LogStore } from "../storage/log-store.ts";
import { Authenticator } from "./auth/authenticator.ts";
import { loadClusterId } from "./cluster-identity.ts";
import { GroupCoordinator } from "./groups/group-coordinator.ts";
import { OffsetStore } from "./groups/offset-store.ts";
import { streamPartitionCatalog } from "./groups/stream-catalog.ts";
import { RedisStreams } from "./redis-streams/redis-streams.ts";
import { ProducerIdAllocator } from "./streams/producer-id-allocator.ts";
import { StreamRegistry } from "./streams/stream-registry.ts";

export class Broker {
  private closed = false;
  private scrubbing: Promise<void> = Promise.resolve();

  private constructor(
    readonly config: Config,
    readonly logStore: LogStore,
    readonly streams: StreamRegistry,
    private readonly logger: Logger,
    /** Stable across restarts (meta/cluster.json); Kafka Metadata and DescribeCluster. */
    readonly clusterId: string,
    /** Idempotent-producer ids, never reused (meta/producer-ids.json). */
    readonly producerIds: ProducerIdAllocator,
    readonly authenticator: Authenticator,
    /** Consumer groups (Kafka's classic group protocol) and their committed offsets. */
    readonly groups: GroupCoordinator,
    /** Redis Streams (XADD, XREADGROUP...) on the streams, with their consumer groups. */
    readonly redisStreams: RedisStreams,
  ) {}

  static async open(config: Config, logger: Logger): Promise<Broker> {
    const logStore = await LogStore.open(config.dataDir, {
      logger: logger.child({ component: "storage" }),
    });
    try {
      const metaDir = join(config.dataDir, "meta");
      await mkdir(metaDir, { recursive: true });
      const streams = await StreamRegistry.open(logStore, metaDir, {
        defaults: config.storage,
        logger: logger.child({ component: "streams" }),
      });
      const clusterId = await loadClusterId(metaDir);
      const producerIds = await ProducerIdAllocator.open(metaDir);
      const groupLogger = logger.child({ component: "groups" });
      const groups = new GroupCoordinator({
        offsets: await OffsetStore.open(logStore, { logger: groupLogger }),
        partitions: streamPartitionCatalog(streams),
        logger: groupLogger,
        initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      });
      return new Broker(
        config,
        logStore,
        streams,
        logger,
        clusterId,
        producerIds,
        new Authenticator(),
        groups,
        await RedisStreams.open(streams, logStore, {
          logger: logger.child({ component: "redis-streams" }),
        }),
      );
    } catch (error) {
      await logStore.close();
      throw error;
    }
  }

  /**
   * Verifies every stored batch of every log in the background (a scrub), so that bit rot in
   * data nobody reads right now is reported at startup, not first at the read that meets it.
   * Corrupt ranges are logged with their segment, bytes and offsets, and never served; the
   * rest of the log keeps being served. One log at a time; stops early on close.
   */
  startScrub(): void {
    this.scrubbing = this.scrubLogs().catch((error: unknown) => {
      if (!this.closed) this.logger.warn({ err: error }, "startup scrub stopped");
    });
  }

  private async scrubLogs(): Promise<void> {
    const started = Date.now();
    let corrupt = 0;
    const names = await this.logStore.listLogs();
    for (const name of names) {
      if (this.closed) return;
      const log = await this.logStore.getLog(name);
      if (!log) continue;
      const ranges = await log.verify();
      for (const range of ranges) {
        corrupt++;
        this.logger.error({ log: name, ...range }, "startup scrub: corrupt range, not served");
      }
    }
    this.logger.info(
      { logs: names.length, corrupt, ms: Date.now() - started },
      "startup scrub done",
    );
  }

  /** Finishes in-flight appends, fsyncs and closes every log. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const topic of this.streams.list())
      for (const partition of topic.partitions) partition.wakeAll();
    await this.streams.close();
    await this.groups.close();
    await this.redisStreams.close();
    await this.logStore.close();
    // The scrub stops at its next segment once the logs are closed.
    await this.scrubbing;
    this.logger.info("broker closed");
  }
}
