/**
 * A broker core and a Kafka listener in this process, without sockets: sessions run over
 * in-memory duplex pairs. For session unit tests and the session fuzz test, where a broker
 * process would be slow and would hide exceptions behind a process boundary.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { type Config, defaultConfig } from "../../src/config/config.ts";
import { Broker } from "../../src/core/broker.ts";
import { type Logger, silentLogger } from "../../src/logging/logger.ts";
import { KafkaServer, type KafkaServerOptions } from "../../src/protocols/kafka/server.ts";
import type { KafkaSession } from "../../src/protocols/kafka/session.ts";
import { duplexPair } from "./duplex-pair.ts";
import { KafkaWireClient } from "./kafka-wire-client.ts";

export class InProcessKafka {
  private constructor(
    readonly broker: Broker,
    readonly server: KafkaServer,
    readonly dataDir: string,
  ) {}

  static async start(
    options: {
      config?: Partial<Config>;
      server?: Partial<KafkaServerOptions>;
      logger?: Logger;
    } = {},
  ): Promise<InProcessKafka> {
    const dataDir = mkdtempSync(join(tmpdir(), "wharf-kafka-"));
    const config: Config = {
      ...defaultConfig,
      dataDir,
      kafkaPort: 0,
      httpPort: 0,
      ...options.config,
    };
    const logger = options.logger ?? silentLogger;
    const broker = await Broker.open(config, logger);
    const server = new KafkaServer({ broker, logger, ...options.server });
    server.setAdvertised({ host: "127.0.0.1", port: 9092 });
    return new InProcessKafka(broker, server, dataDir);
  }

  /** A new session, and a client on the other end of its stream. */
  connect(): { client: KafkaWireClient; session: KafkaSession; stream: Duplex } {
    const [clientSide, serverSide] = duplexPair();
    const session = this.server.attach(serverSide, "127.0.0.1");
    return { client: KafkaWireClient.over(clientSide), session, stream: serverSide };
  }

  async stop(): Promise<void> {
    await this.server.close();
    await this.broker.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
