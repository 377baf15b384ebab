/**
 * The composition root of a broker process: binds the HTTP listener, opens the core (which
 * recovers storage), binds the protocol listeners, and reports readiness. `stop()` is the
 * clean shutdown: stop accepting, let in-flight appends finish, fsync, close.
 */
import type { Server } from "node:net";
import { hostname } from "node:os";
import { HttpServer } from "../admin/http-server.ts";
import { ManagementApi } from "../admin/management-api.ts";
import { packageVersion } from "../cli/version.ts";
import { type Config, parseAdvertise } from "../config/config.ts";
import { assertLimitRelations } from "../config/limits.ts";
import { Broker } from "../core/broker.ts";
import type { Logger } from "../logging/logger.ts";
import { amqpPropertiesCodec } from "../protocols/amqp/properties-codec.ts";
import { AmqpServer } from "../protocols/amqp/server.ts";
import { KafkaServer } from "../protocols/kafka/server.ts";
import { RespServer } from "../protocols/resp/server.ts";
import { closeServer, listen } from "./listen.ts";
import { managementBackend } from "./management-backend.ts";

export interface BoundPorts {
  http?: number;
  kafka?: number;
  amqp?: number;
  resp?: number;
}

const wildcardHosts = new Set(["0.0.0.0", "::", "[::]", ""]);

/**
 * The address Kafka clients are told to use: `--advertise HOST[:PORT]` (port defaults to the
 * bound one), else the bound address. A wildcard bind has no address clients can use, so the
 * machine's host name stands in, with a warning to set --advertise.
 */
export function advertisedAddress(
  config: Config,
  boundPort: number,
  logger: Logger,
): { host: string; port: number } {
  const parsed = config.advertise === null ? null : parseAdvertise(config.advertise);
  if (parsed) return { host: parsed.host, port: parsed.port ?? boundPort };
  if (wildcardHosts.has(config.host)) {
    const host = hostname();
    logger.warn(
      { host: config.host, advertised: host },
      "kafka listener bound to a wildcard address: advertising the host name; set --advertise",
    );
    return { host, port: boundPort };
  }
  return { host: config.host, port: boundPort };
}

export class WharfServer {
  private live = true;
  private ready = false;
  private broker: Broker | undefined;
  private kafka: KafkaServer | undefined;
  private amqp: AmqpServer | undefined;
  private resp: RespServer | undefined;
  private readonly servers: Array<{ name: string; server: Server }> = [];
  readonly ports: BoundPorts = {};

  private constructor(
    readonly config: Config,
    private readonly logger: Logger,
  ) {}

  static async start(config: Config, logger: Logger): Promise<WharfServer> {
    assertLimitRelations();
    const server = new WharfServer(config, logger);
    try {
      await server.startAll();
    } catch (error) {
      await server.stop("startup failed");
      throw error;
    }
    return server;
  }

  private async startAll(): Promise<void> {
    const { config, logger } = this;
    let http: HttpServer | undefined;
    if (config.httpPort !== 0) {
      http = new HttpServer(
        { isLive: () => this.live, isReady: () => this.ready },
        logger.child({ component: "http" }),
      );
      this.ports.http = await listen(http.nodeServer, "http", config.host, config.httpPort);
      this.servers.push({ name: "http", server: http.nodeServer });
    }
    const started = Date.now();
    this.broker = await Broker.open(config, logger.child({ component: "broker" }), {
      propertiesCodec: amqpPropertiesCodec,
    });
    this.broker.startScrub();
    logger.info({ dataDir: config.dataDir, ms: Date.now() - started }, "storage opened");
    http?.setManagement(new ManagementApi(managementBackend(this.broker, packageVersion())));
    if (config.kafkaPort !== 0) {
      const kafka = new KafkaServer({
        broker: this.broker,
        logger: logger.child({ component: "kafka" }),
        debugFrames: process.env.WHARF_DEBUG_FRAMES === "1",
      });
      this.kafka = kafka;
      this.ports.kafka = await listen(kafka.netServer, "kafka", config.host, config.kafkaPort);
      kafka.setAdvertised(advertisedAddress(config, this.ports.kafka, logger));
    }
    if (config.amqpPort !== 0) {
      const broker = this.broker;
      const amqp = new AmqpServer({
        broker: {
          authenticate: (user, password, remote) =>
            broker.authenticator.authenticatePassword(user, password, remote),
          vhost: (name) => broker.vhosts.get(name),
          canAccessVhost: (user, vhost) => broker.users.canAccessVhost(user, vhost),
        },
        logger: logger.child({ component: "amqp" }),
        version: packageVersion(),
        limits: {
          heartbeatSeconds: config.amqpHeartbeatSeconds,
          channelMax: config.amqpChannelMax,
        },
        debugFrames: process.env.WHARF_DEBUG_FRAMES === "1",
      });
      this.amqp = amqp;
      this.ports.amqp = await listen(amqp.netServer, "amqp", config.host, config.amqpPort);
      // RabbitMQ's resource alarms: publishers are blocked while disk or memory is short.
      amqp.setResourceAlarm(this.broker.alarms.alarm);
      this.broker.alarms.onChange((reason) => amqp.setResourceAlarm(reason));
    }
    if (config.respPort !== 0) {
      const resp = new RespServer({
        broker: this.broker,
        channels: this.broker.channels,
        logger: logger.child({ component: "resp" }),
        version: packageVersion(),
        limits: { bulkBytesMax: config.respProtoMaxBulkBytes },
      });
      this.resp = resp;
      this.ports.resp = await listen(resp.netServer, "resp", config.host, config.respPort);
      resp.setPort(this.ports.resp);
    }
    this.ready = true;
    logger.info({ host: config.host, ports: this.ports }, "wharf is ready");
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Clean shutdown; safe to call more than once. */
  async stop(reason: string): Promise<void> {
    if (!this.live) return;
    this.live = false;
    this.ready = false;
    this.logger.info({ reason }, "shutting down");
    // Stop accepting first so no new work arrives, then drain and close storage.
    // Protocol sessions close before the broker, so no request reaches a closing core.
    await Promise.all([
      ...this.servers.map(({ server }) => closeServer(server)),
      this.kafka?.close(),
      this.amqp?.close(),
      this.resp?.close(),
    ]);
    await this.broker?.close();
    this.logger.info("stopped");
  }
}
