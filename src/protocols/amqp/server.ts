/**
 * AmqpServer: the AMQP 0-9-1 listener. Accepts TCP connections (bounded by
 * `amqpConnectionsMax`), gives each an AmqpSession, and closes them all on shutdown with
 * connection.close 320 CONNECTION_FORCED, as RabbitMQ does when a node stops.
 *
 * `setResourceAlarm(reason)` is the hook for the broker's resource alarms (storage full):
 * connections that announced the `connection.blocked` capability get connection.blocked /
 * connection.unblocked, and publishing connections stop being read until the alarm clears.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  amqpChannelBacklogMax,
  amqpChannelsMax,
  amqpCloseOkTimeoutMs,
  amqpConnectionsMax,
  amqpDebugFrameBytesMax,
  amqpFrameBytesMax,
  amqpHandshakeTimeoutMs,
  amqpHeartbeatSecondsDefault,
  amqpInputBytesPerTurn,
  amqpMessageBytesMax,
  amqpOutputBytesMax,
  amqpOutputChunkBytes,
  amqpPublishInFlightBytesMax,
} from "../../config/limits.ts";
import type { Logger } from "../../logging/logger.ts";
import { ConnectionSet } from "../connection-set.ts";
import type { AmqpFieldTable, AmqpFieldValue } from "./codec/field-value.ts";
import { type DirectReplyRegistry, processReplyRegistry } from "./direct-reply-to.ts";
import {
  type AmqpBrokerPort,
  AmqpSession,
  type AmqpSessionLimits,
  type AmqpSessionShared,
} from "./session.ts";

export interface AmqpServerOptions {
  broker: AmqpBrokerPort;
  logger: Logger;
  version: string;
  connectionsMax?: number;
  limits?: Partial<AmqpSessionLimits>;
  replyRegistry?: DirectReplyRegistry;
  /** Dump frames to the log (`WHARF_DEBUG_FRAMES=1`). */
  debugFrames?: boolean;
}

export interface AmqpServerStats {
  connectionsAccepted: number;
  connectionsRefused: number;
  /** Connections and channels closed for bad input or misuse, by reply code (0: no frame). */
  protocolErrors: Record<string, number>;
}

export const amqpDefaultLimits: AmqpSessionLimits = {
  channelMax: amqpChannelsMax,
  frameBytesMax: amqpFrameBytesMax,
  heartbeatSeconds: amqpHeartbeatSecondsDefault,
  handshakeTimeoutMs: amqpHandshakeTimeoutMs,
  closeOkTimeoutMs: amqpCloseOkTimeoutMs,
  messageBytesMax: amqpMessageBytesMax,
  outputBytesMax: amqpOutputBytesMax,
  publishInFlightBytesMax: amqpPublishInFlightBytesMax,
  channelBacklogMax: amqpChannelBacklogMax,
  inputBytesPerTurn: amqpInputBytesPerTurn,
  outputChunkBytes: amqpOutputChunkBytes,
  debugFrameBytesMax: amqpDebugFrameBytesMax,
};

const capabilityNames = [
  "publisher_confirms",
  "exchange_exchange_bindings",
  "basic.nack",
  "consumer_cancel_notify",
  "connection.blocked",
  "consumer_priorities",
  "authentication_failure_close",
  "per_consumer_qos",
  "direct_reply_to",
];

/** connection.start's server-properties, as RabbitMQ announces them. */
export function amqpServerProperties(version: string): AmqpFieldTable {
  const capabilities = new Map<string, AmqpFieldValue>(
    capabilityNames.map((name) => [name, { type: "t", value: true }]),
  );
  return new Map<string, AmqpFieldValue>([
    ["product", { type: "S", value: "WharfMQ" }],
    ["version", { type: "S", value: version }],
    ["platform", { type: "S", value: `Node.js ${process.version}` }],
    ["information", { type: "S", value: "https://github.com/wharfmq" }],
    ["capabilities", { type: "F", value: capabilities }],
  ]);
}

export class AmqpServer {
  readonly netServer: Server;
  readonly stats: AmqpServerStats = {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    protocolErrors: {},
  };
  private readonly sessions: ConnectionSet<AmqpSession>;
  private readonly shared: AmqpSessionShared;
  private readonly logger: Logger;
  private nextSessionId = 1;
  private alarm: string | null = null;

  constructor(options: AmqpServerOptions) {
    this.logger = options.logger;
    this.sessions = new ConnectionSet(options.connectionsMax ?? amqpConnectionsMax, this.stats);
    this.shared = {
      broker: options.broker,
      logger: options.logger,
      limits: { ...amqpDefaultLimits, ...options.limits },
      replyRegistry: options.replyRegistry ?? processReplyRegistry,
      serverProperties: amqpServerProperties(options.version),
      debugFrames: options.debugFrames ?? false,
      blockedReason: () => this.alarm,
      onProtocolError: (replyCode) => {
        const key = String(replyCode);
        this.stats.protocolErrors[key] = (this.stats.protocolErrors[key] ?? 0) + 1;
      },
    };
    this.netServer = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.netServer.on("error", (error) => this.logger.error({ err: error }, "amqp listener error"));
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  /** The broker's resource alarm started (a reason such as "low on disk") or ended (null). */
  setResourceAlarm(reason: string | null): void {
    if (reason === this.alarm) return;
    this.alarm = reason;
    for (const session of this.sessions) session.setBlocked(reason);
  }

  private accept(socket: Socket): void {
    const remote = socket.remoteAddress ?? "unknown";
    if (this.sessions.atCapacity(this.logger, "amqp", remote)) {
      socket.destroy();
      return;
    }
    this.attach(socket, remote);
  }

  /** Serves a connection over any duplex stream (a socket, or an in-memory pair in tests). */
  attach(stream: Duplex, remoteAddress: string): AmqpSession {
    const session = new AmqpSession(stream, remoteAddress, this.nextSessionId++, this.shared);
    return this.sessions.add(session, session.closed);
  }

  /** Stops accepting and closes every connection; resolves when all are closed. */
  close(): Promise<void> {
    return this.sessions.closeAll(this.netServer);
  }
}
