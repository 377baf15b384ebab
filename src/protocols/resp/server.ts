/**
 * RespServer: the RESP listener (Redis clients: ioredis, node-redis, redis-cli...). Accepts
 * TCP connections (bounded by `respConnectionsMax`), gives each a RespSession, and closes them
 * all on shutdown.
 *
 * The composition root (src/server/wharf-server.ts) binds `netServer` on `--resp-port`
 * (default 6379) and hands the server the core's channel registry. Shutdown order
 * (WharfServer.stop): stop accepting, close every session (blocking commands end, replies not
 * yet written are dropped), then the broker closes.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  respBulkBytesMaxDefault,
  respCloseGraceMs,
  respConnectionsMax,
  respInlineBytesMax,
  respMultibulkLengthMax,
  respOutputBytesMax,
  respPendingCommandsMax,
} from "../../config/limits.ts";
import type { Broker } from "../../core/broker.ts";
import type { ChannelRegistry } from "../../core/channels/channel-registry.ts";
import type { Logger } from "../../logging/logger.ts";
import { ConnectionSet } from "../connection-set.ts";
import type {
  RespClient,
  RespCommand,
  RespServerStats,
  RespServerView,
} from "./commands/command.ts";
import { buildCommandTable } from "./commands/index.ts";
import { type RespEndpoint, RespSession, type RespSessionLimits } from "./session.ts";

export interface RespServerOptions {
  broker: Broker;
  channels: ChannelRegistry;
  logger: Logger;
  /** WharfMQ's version, reported by INFO. */
  version: string;
  connectionsMax?: number;
  limits?: Partial<RespSessionLimits>;
  /** Command modules; the full table (commands/index.ts) by default. Tests add their own. */
  commandModules?: ReadonlyArray<readonly RespCommand[]>;
}

export class RespServer {
  readonly netServer: Server;
  readonly stats: RespServerStats = {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    commandsProcessed: 0,
    protocolErrors: {},
    errorReplies: 0,
  };
  private readonly sessions: ConnectionSet<RespSession>;
  private readonly logger: Logger;
  private readonly view: RespServerView & { port: number };
  private readonly options: RespServerOptions;
  private readonly limits: RespSessionLimits;
  private nextSessionId = 1;

  constructor(options: RespServerOptions) {
    this.options = options;
    this.logger = options.logger;
    const connectionsMax = options.connectionsMax ?? respConnectionsMax;
    this.sessions = new ConnectionSet(connectionsMax, this.stats);
    this.limits = {
      bulkBytesMax: respBulkBytesMaxDefault,
      multibulkLengthMax: respMultibulkLengthMax,
      inlineBytesMax: respInlineBytesMax,
      outputBytesMax: respOutputBytesMax,
      pendingCommandsMax: respPendingCommandsMax,
      ...options.limits,
    };
    const sessions = this.sessions;
    this.view = {
      clients: (): Iterable<RespClient> => sessions,
      commands: buildCommandTable(options.commandModules),
      stats: this.stats,
      startedAt: Date.now(),
      port: 0,
      version: options.version,
      connectionsMax,
    };
    // Paused: a session starts reading, directly into its own buffer (src/protocols/direct-reads.ts).
    this.netServer = createServer({ noDelay: true, pauseOnConnect: true }, (socket) =>
      this.accept(socket),
    );
    this.netServer.on("error", (error) => this.logger.error({ err: error }, "resp listener error"));
  }

  /** The bound port, reported by INFO; set by the composition root after listening. */
  setPort(port: number): void {
    this.view.port = port;
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  private accept(socket: Socket): void {
    const remote = socket.remoteAddress ?? "unknown";
    if (this.sessions.atCapacity(this.logger, "resp", remote)) {
      // Redis answers before closing; so do we. The socket was accepted paused: it must read
      // (and drop) what comes, or it would never see the peer's end and never close. A peer
      // that does not end is cut off after a grace period.
      socket.on("error", () => {});
      socket.resume();
      socket.end("-ERR max number of clients reached\r\n");
      setTimeout(() => socket.destroy(), respCloseGraceMs).unref();
      return;
    }
    this.attach(socket, {
      remoteAddress: remote,
      remotePort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? "unknown",
      localPort: socket.localPort ?? 0,
    });
  }

  /** Serves a connection over any duplex stream (a socket, or an in-memory pair in tests). */
  attach(stream: Duplex, endpoint: RespEndpoint): RespSession {
    const session = new RespSession(stream, endpoint, this.nextSessionId++, {
      context: {
        broker: this.options.broker,
        channels: this.options.channels,
        server: this.view,
      },
      channels: this.options.channels,
      server: this.view,
      limits: this.limits,
      logger: this.logger,
      onProtocolError: (reason) => {
        this.stats.protocolErrors[reason] = (this.stats.protocolErrors[reason] ?? 0) + 1;
      },
    });
    return this.sessions.add(session, session.whenClosed);
  }

  /** Stops accepting and closes every connection; resolves when all are closed. */
  close(): Promise<void> {
    return this.sessions.closeAll(this.netServer);
  }
}
