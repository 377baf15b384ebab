/**
 * The broker core: owns storage and (in later issues) streams, queues, exchanges and channels.
 * Protocol servers call into it; it never calls a protocol. Opening it runs storage recovery.
 */
import type { Config } from "../config/config.ts";
import type { Logger } from "../logging/logger.ts";
import { LogStore } from "../storage/log-store.ts";

export class Broker {
  private closed = false;

  private constructor(
    readonly config: Config,
    readonly logStore: LogStore,
    private readonly logger: Logger,
  ) {}

  static async open(config: Config, logger: Logger): Promise<Broker> {
    const logStore = await LogStore.open(config.dataDir, {
      logger: logger.child({ component: "storage" }),
    });
    return new Broker(config, logStore, logger);
  }

  /** Finishes in-flight appends, fsyncs and closes every log. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.logStore.close();
    this.logger.info("broker closed");
  }
}
