/**
 * The broker core: owns storage and the resources built on it: streams, consumer groups,
 * Redis Streams, users, and virtual hosts with their exchanges, queues and bindings. Protocol servers call into it; it never calls a
 * protocol. Opening it runs storage recovery and loads the definitions.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import { WharfError } from "../errors/index.ts";
import type { Logger } from "../logging/logger.ts";
import { LogStore } from "../storage/log-store.ts";
import { ResourceMonitor } from "./alarms/resource-monitor.ts";
import { Authenticator } from "./auth/authenticator.ts";
import { UserStore } from "./auth/user-store.ts";
import { ChannelRegistry } from "./channels/channel-registry.ts";
import { loadClusterId } from "./cluster-identity.ts";
import { GroupCoordinator } from "./groups/group-coordinator.ts";
import { OffsetStore } from "./groups/offset-store.ts";
import { streamPartitionCatalog } from "./groups/stream-catalog.ts";
import type { PropertiesCodec } from "./queues/queue-types.ts";
import { RedisStreams } from "./redis-streams/redis-streams.ts";
import { ProducerIdAllocator } from "./streams/producer-id-allocator.ts";
import { StreamRegistry } from "./streams/stream-registry.ts";
import { VirtualHostRegistry } from "./vhosts/virtual-host-registry.ts";

export interface BrokerOptions {
  /**
   * The AMQP 0-9-1 property-list codec, supplied by the composition root (the core never
   * imports a protocol): dead-lettering rewrites `x-death` with it, and stream queues build
   * properties for records produced by other protocols.
   */
  readonly propertiesCodec?: PropertiesCodec;
}

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
    /** Users, hashed passwords and per-vhost permissions (meta/users.json). */
    readonly users: UserStore,
    /** Virtual hosts: exchanges, queues, bindings, publish and consume (meta/vhosts.json). */
    readonly vhosts: VirtualHostRegistry,
    /** Disk and memory alarms (RabbitMQ's): listeners block publishers while one is raised. */
    readonly alarms: ResourceMonitor,
    /** Channels: ephemeral pub/sub fan-out (RESP PUBLISH/SUBSCRIBE), nothing stored. */
    readonly channels: ChannelRegistry,
  ) {}

  static async open(config: Config, logger: Logger, options: BrokerOptions = {}): Promise<Broker> {
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
      const redisStreams = await RedisStreams.open(streams, logStore, {
        logger: logger.child({ component: "redis-streams" }),
      });
      const users = await UserStore.open(metaDir, { logger: logger.child({ component: "users" }) });
      const vhosts = await VirtualHostRegistry.open({
        metaDir,
        logStore,
        streams,
        users,
        codec: options.propertiesCodec,
        logger: logger.child({ component: "vhosts" }),
      });
      const alarms = new ResourceMonitor({
        dataDir: config.dataDir,
        diskFreeLimitBytes: config.diskFreeLimitBytes,
        memoryLimitBytes: config.memoryLimitBytes,
        logger: logger.child({ component: "alarms" }),
      });
      await alarms.start();
      if (config.respPubsubBufferSoftBytes > config.respPubsubBufferHardBytes) {
        throw new WharfError(
          "WHARF_CONFIG_INVALID",
          `respPubsubBufferSoftBytes (${config.respPubsubBufferSoftBytes}) is above respPubsubBufferHardBytes (${config.respPubsubBufferHardBytes})`,
        );
      }
      const channels = new ChannelRegistry({
        logger: logger.child({ component: "channels" }),
        hardLimitBytes: config.respPubsubBufferHardBytes,
        softLimitBytes: config.respPubsubBufferSoftBytes,
        softLimitMs: config.respPubsubBufferSoftMs,
      });
      return new Broker(
        config,
        logStore,
        streams,
        logger,
        clusterId,
        producerIds,
        new Authenticator(users),
        groups,
        redisStreams,
        users,
        vhosts,
        alarms,
        channels,
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
    this.alarms.stop();
    // Queues first: their consumers are cancelled and their logs flushed before storage closes.
    await this.vhosts.close();
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
