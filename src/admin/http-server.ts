/**
 * The HTTP listener: health, readiness and the management API (metrics and UI later).
 *
 *   GET /healthz  200 while the broker process is serving, 503 while it shuts down.
 *   GET /readyz   200 once recovery has finished and every listener is up, else 503.
 *   /api/...      the management API (management-api.ts), once the broker is open; 503 before.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../logging/logger.ts";
import type { ManagementApi } from "./management-api.ts";

export interface HealthSource {
  /** True while the process accepts work (false during shutdown). */
  isLive(): boolean;
  /** True once storage recovery finished and every listener is bound. */
  isReady(): boolean;
}

export class HttpServer {
  private readonly server: Server;
  private management: ManagementApi | undefined;

  constructor(
    private readonly health: HealthSource,
    private readonly logger: Logger,
  ) {
    this.server = createServer((request, response) => this.handle(request, response));
    this.server.keepAliveTimeout = 5_000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  get nodeServer(): Server {
    return this.server;
  }

  /** Serves `/api/` from now on (the listener starts before the broker has opened). */
  setManagement(management: ManagementApi): void {
    this.management = management;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? "/").split("?", 1)[0] ?? "/";
    if (path === "/api" || path.startsWith("/api/")) {
      if (this.management === undefined) {
        this.reply(response, 503, { error: "unavailable", reason: "broker is starting" });
      } else {
        void this.management.handle(request, response).finally(() => {
          this.logger.trace({ status: response.statusCode, url: request.url }, "http request");
        });
      }
    } else if (request.method !== "GET" && request.method !== "HEAD") {
      this.reply(response, 405, { error: "method not allowed" });
    } else if (path === "/healthz") {
      if (this.health.isLive()) this.reply(response, 200, { status: "ok" });
      else this.reply(response, 503, { status: "shutting down" });
    } else if (path === "/readyz") {
      if (this.health.isReady()) this.reply(response, 200, { status: "ready" });
      else
        this.reply(response, 503, { status: this.health.isLive() ? "starting" : "shutting down" });
    } else {
      this.reply(response, 404, { error: "not found" });
    }
  }

  private reply(response: ServerResponse, status: number, body: unknown): void {
    const text = `${JSON.stringify(body)}\n`;
    response.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      "cache-control": "no-store",
    });
    response.end(text);
    this.logger.trace({ status, url: response.req.url }, "http request");
  }
}
