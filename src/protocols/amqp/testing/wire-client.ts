/**
 * A minimal AMQP 0-9-1 client over any duplex (an in-memory pair or a TCP socket), for the
 * session's unit tests, the raw-socket conformance tests and the fuzzer: it writes frames
 * exactly as given (including malformed ones) and reads the server's frames one by one.
 */
import type { Duplex } from "node:stream";
import { type AmqpFieldTable, type AmqpFieldValue, fieldTable } from "../codec/field-value.ts";
import {
  type AmqpFrame,
  AmqpFrameSplitter,
  amqpFrameType,
  amqpProtocolHeader,
  encodeContentFrames,
  encodeMethodFrame,
  frameNeedMore,
} from "../codec/frame.ts";
import type { AmqpMethod, BasicProperties } from "../codec/generated/methods.ts";
import { decodeContentHeaderPayload, decodeMethodPayload } from "../codec/payload.ts";

export interface ReceivedMethod {
  channel: number;
  method: AmqpMethod;
}

export interface ReceivedMessage {
  channel: number;
  method: AmqpMethod;
  properties: BasicProperties;
  propertiesBytes: Buffer;
  body: Buffer;
}

export class AmqpWireClient {
  /** Every byte received, for tests that look at raw answers (the protocol header reply). */
  raw = Buffer.alloc(0);
  closed = false;
  private readonly splitter = new AmqpFrameSplitter(1 << 24);
  private readonly frames: AmqpFrame[] = [];
  private waiter: (() => void) | null = null;

  constructor(readonly stream: Duplex) {
    stream.on("data", (chunk: Buffer) => {
      this.raw = Buffer.concat([this.raw, chunk]);
      // A rejected protocol header is answered with "AMQP..." (0x41), not with frames.
      if (this.raw[0] !== 0x41) this.splitter.push(chunk);
      for (;;) {
        const frame = this.splitter.next();
        if (frame === frameNeedMore || frame instanceof Error) break;
        this.frames.push({ ...frame, payload: Buffer.from(frame.payload) });
      }
      this.wake();
    });
    const onEnd = () => {
      this.closed = true;
      this.wake();
    };
    stream.on("end", onEnd);
    stream.on("close", onEnd);
    stream.on("error", () => {});
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  write(bytes: Buffer): void {
    if (!this.stream.destroyed) this.stream.write(bytes);
  }

  sendHeader(): void {
    this.write(amqpProtocolHeader);
  }

  send(channel: number, method: AmqpMethod): void {
    this.write(encodeMethodFrame(channel, method));
  }

  publish(
    channel: number,
    exchange: string,
    routingKey: string,
    body: Buffer | string,
    options: { properties?: BasicProperties; mandatory?: boolean } = {},
  ): void {
    const frames = encodeContentFrames(
      channel,
      {
        name: "basic.publish",
        args: {
          ticket: 0,
          exchange,
          routingKey,
          mandatory: options.mandatory ?? false,
          immediate: false,
        },
      },
      options.properties ?? {},
      typeof body === "string" ? Buffer.from(body) : body,
      131072,
    );
    this.write(Buffer.concat(frames));
  }

  /** The next frame, or null when the connection closed (or nothing came within the time). */
  async nextFrame(timeoutMs = 2000): Promise<AmqpFrame | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed || Date.now() >= deadline) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.frames.shift()!;
  }

  /** The next frame, skipping heartbeats; it must be a method. */
  async nextMethod(timeoutMs = 2000): Promise<ReceivedMethod | null> {
    for (;;) {
      const frame = await this.nextFrame(timeoutMs);
      if (frame === null) return null;
      if (frame.type === amqpFrameType.heartbeat) continue;
      if (frame.type !== amqpFrameType.method) {
        throw new Error(`expected a method frame, got type ${frame.type}`);
      }
      return { channel: frame.channel, method: decodeMethodPayload(frame.payload).method };
    }
  }

  async expect<Name extends AmqpMethod["name"]>(
    name: Name,
    timeoutMs = 2000,
  ): Promise<Extract<AmqpMethod, { name: Name }>["args"] & { channel: number }> {
    const received = await this.nextMethod(timeoutMs);
    if (received === null) throw new Error(`expected ${name}, the connection closed or timed out`);
    if (received.method.name !== name) {
      throw new Error(
        `expected ${name}, got ${received.method.name} ${JSON.stringify(received.method.args, replacer)}`,
      );
    }
    return Object.assign({ channel: received.channel }, received.method.args) as never;
  }

  /** A content-bearing method with its header and body. */
  async nextMessage(timeoutMs = 2000): Promise<ReceivedMessage> {
    const head = await this.nextMethod(timeoutMs);
    if (head === null) throw new Error("expected a message, the connection closed");
    const headerFrame = await this.nextFrame(timeoutMs);
    if (headerFrame?.type !== amqpFrameType.header) throw new Error("expected a content header");
    const header = decodeContentHeaderPayload(headerFrame.payload);
    const parts: Buffer[] = [];
    let received = 0;
    while (received < header.bodySize) {
      const frame = await this.nextFrame(timeoutMs);
      if (frame?.type !== amqpFrameType.body) throw new Error("expected a content body");
      parts.push(frame.payload);
      received += frame.payload.length;
    }
    return {
      channel: head.channel,
      method: head.method,
      properties: header.properties,
      propertiesBytes: headerFrame.payload.subarray(12),
      body: Buffer.concat(parts),
    };
  }

  /** Header, start-ok (PLAIN), tune-ok, open; answers the server's start and tune. */
  async handshake(
    options: {
      user?: string;
      password?: string;
      vhost?: string;
      heartbeat?: number;
      frameMax?: number;
      channelMax?: number;
      capabilities?: Record<string, boolean>;
      /** Stop after sending this method (to test the server's answer to it). */
      stopAfter?: "start-ok" | "tune-ok";
    } = {},
  ): Promise<{
    start: Extract<AmqpMethod, { name: "connection.start" }>["args"];
    tune: Extract<AmqpMethod, { name: "connection.tune" }>["args"] | null;
  }> {
    this.sendHeader();
    const start = await this.expect("connection.start");
    const capabilities: Record<string, AmqpFieldValue> = {};
    for (const [name, value] of Object.entries(
      options.capabilities ?? {
        consumer_cancel_notify: true,
        authentication_failure_close: true,
        "connection.blocked": true,
      },
    )) {
      capabilities[name] = { type: "t", value };
    }
    this.send(0, {
      name: "connection.start-ok",
      args: {
        clientProperties: fieldTable({
          product: { type: "S", value: "wire-client" },
          capabilities: { type: "F", value: fieldTable(capabilities) },
        }),
        mechanism: "PLAIN",
        response: Buffer.from(`\0${options.user ?? "guest"}\0${options.password ?? "guest"}`),
        locale: "en_US",
      },
    });
    if (options.stopAfter === "start-ok") return { start, tune: null };
    const tune = await this.expect("connection.tune");
    this.send(0, {
      name: "connection.tune-ok",
      args: {
        channelMax: options.channelMax ?? tune.channelMax,
        frameMax: options.frameMax ?? tune.frameMax,
        heartbeat: options.heartbeat ?? 0,
      },
    });
    if (options.stopAfter === "tune-ok") return { start, tune };
    this.send(0, {
      name: "connection.open",
      args: { virtualHost: options.vhost ?? "/", capabilities: "", insist: false },
    });
    return { start, tune };
  }

  async openChannel(channel: number): Promise<void> {
    this.send(channel, { name: "channel.open", args: { outOfBand: "" } });
    await this.expect("channel.open-ok");
  }

  close(): void {
    this.stream.destroy();
  }
}

export function table(entries: Record<string, AmqpFieldValue>): AmqpFieldTable {
  return fieldTable(entries);
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}
