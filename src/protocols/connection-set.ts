/**
 * The connections a protocol listener serves, shared plumbing of the Kafka, AMQP and RESP
 * servers: a session is tracked from `add` until the promise it gives for its close settles,
 * `atCapacity` says when the listener's connection limit refuses the next one (and counts and
 * logs the refusal the same way for every protocol), and `closeAll` is the listener's shutdown:
 * stop accepting, close every session, resolve once the listening socket and every session
 * are closed.
 */
import type { Server } from "node:net";
import type { Logger } from "../logging/logger.ts";

export interface ServedSession {
  /** Closes the connection now (`reason` "shutdown" at broker shutdown). */
  close(reason: string): void;
}

export class ConnectionSet<S extends ServedSession> implements Iterable<S> {
  private readonly sessions = new Map<S, Promise<unknown>>();

  constructor(
    /** The listener's connection limit (a named constant of config/limits.ts unless a test sets one). */
    private readonly connectionsMax: number,
    private readonly stats: { connectionsAccepted: number; connectionsRefused: number },
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  [Symbol.iterator](): Iterator<S> {
    return this.sessions.keys();
  }

  /**
   * True when a new connection must be refused: the limit is reached. Counts the refusal and
   * logs it with `protocol` ("kafka connection refused: too many connections").
   */
  atCapacity(logger: Logger, protocol: string, remote: string): boolean {
    if (this.sessions.size < this.connectionsMax) return false;
    this.refused(logger, `${protocol} connection refused: too many connections`, remote);
    return true;
  }

  /** Counts and logs a refused connection (`message` says why). */
  refused(logger: Logger, message: string, remote: string): void {
    this.stats.connectionsRefused++;
    logger.warn({ remote, limit: this.connectionsMax }, message);
  }

  /** Tracks `session` until `closed` settles; counts it as accepted. */
  add(session: S, closed: Promise<unknown>): S {
    this.stats.connectionsAccepted++;
    this.sessions.set(session, closed);
    closed.then(() => this.sessions.delete(session));
    return session;
  }

  /** Stops `server` accepting and closes every session; resolves when all are closed. */
  async closeAll(server: Server): Promise<void> {
    const listening = server.listening
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    const open = [...this.sessions];
    for (const [session] of open) session.close("shutdown");
    await Promise.all([listening, ...open.map(([, closed]) => closed)]);
  }
}
