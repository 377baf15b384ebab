/**
 * The AMQP 0-9-1 broker the real-client tests talk to.
 *
 * With `WHARF_AMQP_TEST_URL` set (e.g. `amqp://guest:guest@127.0.0.1:5699`) the tests run
 * against that external broker: this is how every expectation was validated against a real
 * RabbitMQ, so that the tests encode RabbitMQ's behaviour rather than guesses. Tests that need
 * to restart or kill the broker skip themselves then, unless WHARF_AMQP_TEST_RESTART_CMD /
 * WHARF_AMQP_TEST_KILL_CMD say how; tests of a WharfMQ-only feature always skip.
 * Without it a WharfMQ process is started on free loopback ports (`--amqp-port`) and stopped
 * by PID. Every test declares resources with a random suffix (`uniqueName`) and deletes them,
 * so runs against a shared RabbitMQ do not collide.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { after, before } from "node:test";
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from "amqplib";
import { BrokerProcess } from "./broker-process.ts";

export interface AmqpTarget {
  /** amqp://guest:guest@127.0.0.1:<port> (default vhost). */
  url: string;
  /** True when the tests run against the broker named by WHARF_AMQP_TEST_URL. */
  external: boolean;
  /** host:port of the Kafka listener of the same WharfMQ process (WharfMQ targets only). */
  kafkaBroker?: string;
  stop(): Promise<void>;
  /** Clean restart (SIGTERM, then start on the same data directory and ports). */
  restart?(): Promise<void>;
  /** SIGKILL followed by a start on the same data directory and ports. */
  kill?(): Promise<void>;
}

export const externalAmqpUrl = process.env.WHARF_AMQP_TEST_URL;
/** Reason given by tests that only make sense against a WharfMQ process started here. */
export const wharfOnly = externalAmqpUrl
  ? "needs a WharfMQ process started by the test (WHARF_AMQP_TEST_URL is set)"
  : false;

/**
 * Optional shell commands that restart the external broker, so that the crash tests can be
 * validated against RabbitMQ too; each must return once the broker accepts connections.
 */
const externalRestart = process.env.WHARF_AMQP_TEST_RESTART_CMD;
const externalKill = process.env.WHARF_AMQP_TEST_KILL_CMD;

function runShell(command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("sh", ["-c", command], { timeout: 120_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${command} failed: ${error.message}\n${stderr}`));
      else resolve();
    });
  });
}

export async function startAmqpTarget(): Promise<AmqpTarget> {
  if (externalAmqpUrl) {
    return {
      url: externalAmqpUrl,
      external: true,
      stop: async () => {},
      ...(externalRestart ? { restart: () => runShell(externalRestart) } : {}),
      ...(externalKill ? { kill: () => runShell(externalKill) } : {}),
    };
  }
  let broker = await BrokerProcess.start();
  broker.keepDataDir();
  const { dataDir, ports } = broker;
  const target: AmqpTarget = {
    url: `amqp://guest:guest@127.0.0.1:${ports.amqp}`,
    external: false,
    kafkaBroker: `127.0.0.1:${ports.kafka}`,
    async stop() {
      await broker.stop();
      if (process.env.WHARF_KEEP_TEST_DATA !== "1")
        rmSync(dataDir, { recursive: true, force: true });
    },
    async restart() {
      const status = await broker.stop();
      assert.equal(status.code, 0, `clean stop failed:\n${broker.stderr}`);
      broker = await BrokerProcess.start({ dataDir, ports });
    },
    async kill() {
      await broker.kill();
      broker = await BrokerProcess.start({ dataDir, ports });
    },
  };
  return target;
}

/** A queue / exchange name no other run uses. */
export function uniqueName(prefix: string): string {
  return `wharf-test.${prefix}.${randomBytes(5).toString("hex")}`;
}

/** An error carrying the AMQP reply code amqplib attaches (`err.code`). */
export type AmqpError = Error & { code?: number };

/**
 * An amqplib connection whose server-side channel closes do not crash the test process:
 * amqplib emits 'error' on a channel the server closed, and an EventEmitter without an
 * 'error' listener throws.
 */
export class AmqpSession {
  private constructor(readonly connection: ChannelModel) {}

  static async open(url: string): Promise<AmqpSession> {
    const connection = await amqp.connect(url);
    connection.on("error", () => {});
    return new AmqpSession(connection);
  }

  async channel(): Promise<Channel> {
    const channel = await this.connection.createChannel();
    channel.on("error", () => {});
    return channel;
  }

  async confirmChannel(): Promise<ConfirmChannel> {
    const channel = await this.connection.createConfirmChannel();
    channel.on("error", () => {});
    return channel;
  }

  /** Closes the connection; bounded, so that a broker that stopped answering cannot hang. */
  async close(): Promise<void> {
    try {
      await withTimeout(this.connection.close(), 5000, "connection.close");
    } catch {
      // already closed by the server or by the test, or the broker did not answer
    }
  }
}

/**
 * The usual suite set-up: before its tests, starts the target and opens one session, handed
 * to `ready` (which may open channels on it); after them, closes the session and stops the
 * target.
 */
export function useAmqpSuite(
  ready: (target: AmqpTarget, session: AmqpSession) => void | Promise<void>,
): void {
  let target: AmqpTarget | undefined;
  let session: AmqpSession | undefined;
  before(async () => {
    target = await startAmqpTarget();
    session = await AmqpSession.open(target.url);
    await ready(target, session);
  });
  after(async () => {
    await session?.close();
    await target?.stop();
  });
}

/** Rejects if `promise` does not settle within `timeoutMs`. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the error the server closed `channel` with (rejects after timeoutMs). */
export function channelClosed(channel: Channel, timeoutMs = 5000): Promise<AmqpError> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("channel was not closed by the server")),
      timeoutMs,
    );
    channel.once("error", (error: AmqpError) => {
      clearTimeout(timer);
      resolve(error);
    });
  });
}

/** Asserts that `action` fails with AMQP reply code `code`. */
export async function rejectsWithCode(action: Promise<unknown>, code: number): Promise<void> {
  await assert.rejects(action, (error: AmqpError) => {
    assert.equal(error.code, code, `expected reply code ${code}, got: ${error.message}`);
    return true;
  });
}

/** Polls until `check` holds, at most `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Drains `queue` with basic.get (no-ack) and returns the bodies, in order. */
export async function drain(channel: Channel, queue: string, max = 1000): Promise<string[]> {
  const bodies: string[] = [];
  for (let index = 0; index < max; index++) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) return bodies;
    bodies.push(message.content.toString());
  }
  throw new Error(`queue ${queue} still had messages after ${max} gets`);
}

/** Publishes `bodies` on a confirm channel and waits until the broker confirmed all. */
export async function publishConfirmed(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  bodies: string[],
  options: amqp.Options.Publish = {},
): Promise<void> {
  for (const body of bodies) channel.publish(exchange, routingKey, Buffer.from(body), options);
  await channel.waitForConfirms();
}
