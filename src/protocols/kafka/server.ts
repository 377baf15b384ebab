/**
 * KafkaServer: the Kafka listener. Accepts TCP connections (bounded by
 * `kafkaConnectionsMax`), gives each a KafkaSession, and closes them all on shutdown.
 *
 * The composition root binds `netServer` (src/server/listen.ts reports a taken port the
 * contract's way) and then tells the server where clients must connect (`setAdvertised`):
 * the bound address, or `--advertise HOST[:PORT]` for NAT and containers. Sessions read it when
 * they start, so it is set before the first connection is handled.
 *
 * Shutdown order (WharfServer.stop): stop accepting, close every session (long polls end,
 * unanswered requests are dropped: their clients retry elsewhere or later), then the broker
 * closes, which finishes appends already queued and fsyncs them.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  kafkaConnectionIdleMsMax,
  kafkaConnectionsMax,
  kafkaFrameBytesMax,
  kafkaInFlightBytesMax,
  kafkaInFlightRequestsMax,
  kafkaOutputBytesMax,
} from "../../config/limits.ts";
import type { Broker } from "../../core/broker.ts";
import type { Logger } from "../../logging/logger.ts";
import { ConnectionSet } from "../connection-set.ts";
import { buildDispatchTable } from "./handlers/index.ts";
import { KafkaSession, type KafkaSessionLimits, type KafkaSessionShared } from "./session.ts";

export interface KafkaServerOptions {
  broker: Broker;
  logger: Logger;
  /** This broker's node id; 0 on a single node. */
  nodeId?: number;
  connectionsMax?: number;
  idleMsMax?: number;
  limits?: Partial<KafkaSessionLimits>;
  /** Dump raw frames to the log (`WHARF_DEBUG_FRAMES=1`). */
  debugFrames?: boolean;
}

export interface KafkaServerStats {
  connectionsAccepted: number;
  connectionsRefused: number;
  protocolErrors: Record<string, number>;
}

export class KafkaServer {
  readonly netServer: Server;
  readonly stats: KafkaServerStats = {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    protocolErrors: {},
  };
  private readonly sessions: ConnectionSet<KafkaSession>;
  private readonly shared: KafkaSessionShared;
  private readonly logger: Logger;
  private readonly idleMsMax: number;
  private advertised: { host: string; port: number } | null = null;
  private nextSessionId = 1;

  constructor(options: KafkaServerOptions) {
    this.logger = options.logger;
    this.sessions = new ConnectionSet(options.connectionsMax ?? kafkaConnectionsMax, this.stats);
    this.idleMsMax = options.idleMsMax ?? kafkaConnectionIdleMsMax;
    const nodeId = options.nodeId ?? 0;
    this.shared = {
      context: { broker: options.broker, nodeId },
      advertised: () => {
        if (!this.advertised)
          throw new Error("KafkaServer: setAdvertised() must be called before connections");
        return this.advertised;
      },
      dispatch: buildDispatchTable(),
      limits: {
        frameBytesMax: kafkaFrameBytesMax,
        inFlightRequestsMax: kafkaInFlightRequestsMax,
        inFlightBytesMax: kafkaInFlightBytesMax,
        outputBytesMax: kafkaOutputBytesMax,
        ...options.limits,
      },
      logger: options.logger,
      debugFrames: options.debugFrames ?? false,
      onProtocolError: (reason) => {
        this.stats.protocolErrors[reason] = (this.stats.protocolErrors[reason] ?? 0) + 1;
      },
    };
    this.netServer = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.netServer.on("error", (error) =>
      this.logger.error({ err: error }, "kafka listener error"),
    );
  }

  /** Where clients are told to connect (Metadata, DescribeCluster, FindCoordinator). */
  setAdvertised(address: { host: string; port: number }): void {
    this.advertised = address;
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  private accept(socket: Socket): void {
    const remote = socket.remoteAddress ?? "unknown";
    if (!this.advertised) {
      this.sessions.refused(this.logger, "kafka connection refused: listener not started", remote);
      socket.destroy();
      return;
    }
    if (this.sessions.atCapacity(this.logger, "kafka", remote)) {
      socket.destroy();
      return;
    }
    const session = this.attach(socket, remote);
    socket.setTimeout(this.idleMsMax, () => {
      // Kafka's connections.max.idle.ms: a silent connection is closed; clients reconnect.
      if (session.idle) session.close("idle");
    });
  }

  /** Serves a connection over any duplex stream (a socket, or an in-memory pair in tests). */
  attach(stream: Duplex, remoteAddress: string): KafkaSession {
    const session = new KafkaSession(stream, remoteAddress, this.nextSessionId++, this.shared);
    return this.sessions.add(session, session.closed);
  }

  /** Stops accepting and closes every connection; resolves when all are closed. */
  close(): Promise<void> {
    return this.sessions.closeAll(this.netServer);
  }
}
