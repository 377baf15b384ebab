/**
 * A raw Kafka protocol client for tests: sends requests encoded with our codec (or any bytes)
 * over a TCP socket and reads response frames. Used where a real client cannot express the
 * case (a bad CRC, a truncated frame, a specific version) and to check a connection's fate.
 */
import { once } from "node:events";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import { frameNeedMore, KafkaFrameSplitter } from "../../src/protocols/kafka/codec/frame.ts";
import {
  type KafkaRequestBodies,
  type KafkaResponseBodies,
  type KafkaSupportedApiKey,
  kafkaApis,
} from "../../src/protocols/kafka/codec/generated/index.ts";
import {
  decodeResponseHeader,
  responseHeaderVersion,
} from "../../src/protocols/kafka/codec/header.ts";
import { encodeRequestFrame } from "../../src/protocols/kafka/codec/message.ts";
import { KafkaReader } from "../../src/protocols/kafka/codec/reader.ts";
import { KafkaWriter } from "../../src/protocols/kafka/codec/writer.ts";

export class KafkaWireClient {
  private readonly splitter = new KafkaFrameSplitter(512 * 1024 * 1024);
  private readonly frames: Buffer[] = [];
  private waiting: (() => void) | null = null;
  private correlationId = 1;
  closed = false;

  private constructor(readonly socket: Duplex) {
    socket.on("data", (chunk: Buffer) => {
      this.splitter.push(chunk);
      for (
        let frame = this.splitter.next();
        frame !== frameNeedMore;
        frame = this.splitter.next()
      ) {
        if (!Buffer.isBuffer(frame)) throw new Error(frame.message);
        this.frames.push(Buffer.from(frame));
      }
      this.wake();
    });
    const onClosed = () => {
      this.closed = true;
      this.wake();
    };
    socket.on("close", onClosed);
    socket.on("end", onClosed);
    socket.on("error", () => undefined);
  }

  static async connect(port: number, host = "127.0.0.1"): Promise<KafkaWireClient> {
    const socket = connect({ port, host });
    await once(socket, "connect");
    return new KafkaWireClient(socket);
  }

  /** A client over an already connected stream (e.g. one end of an in-memory pair). */
  static over(stream: Duplex): KafkaWireClient {
    return new KafkaWireClient(stream);
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }

  /** Encodes a request frame (without sending it). */
  encode<K extends KafkaSupportedApiKey>(
    apiKey: K,
    apiVersion: number,
    body: KafkaRequestBodies[K],
    correlationId = this.correlationId++,
  ): Buffer {
    const writer = new KafkaWriter();
    encodeRequestFrame(writer, { apiKey, apiVersion, correlationId, clientId: "wire-test" }, body);
    return writer.takeBuffer();
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next response frame (without its size prefix), or null if the connection closes first. */
  async nextFrame(timeoutMs = 10_000): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no response frame in time");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.frames.shift()!;
  }

  /** Sends a request and decodes its response. */
  async request<K extends KafkaSupportedApiKey>(
    apiKey: K,
    apiVersion: number,
    body: KafkaRequestBodies[K],
  ): Promise<{ correlationId: number; body: KafkaResponseBodies[K] }> {
    const correlationId = this.correlationId++;
    this.write(this.encode(apiKey, apiVersion, body, correlationId));
    const frame = await this.nextFrame();
    if (frame === null)
      throw new Error(`connection closed before the response to api ${apiKey} v${apiVersion}`);
    return { correlationId, body: decodeResponse(apiKey, apiVersion, frame, correlationId) };
  }

  /** Resolves true when the broker closes the connection within `timeoutMs`. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.frames.length = 0;
    }
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

export function decodeResponse<K extends KafkaSupportedApiKey>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
  correlationId?: number,
): KafkaResponseBodies[K] {
  const reader = new KafkaReader(frame);
  const got = decodeResponseHeader(reader, responseHeaderVersion(apiKey, apiVersion));
  if (correlationId !== undefined && got !== correlationId)
    throw new Error(`correlation id ${got}, expected ${correlationId}`);
  return kafkaApis[apiKey].decodeResponse(reader, apiVersion) as KafkaResponseBodies[K];
}

/** A sessionless Fetch request body (v4-v12 field set) for one partition. */
export function fetchRequestBody(
  topic: string,
  partition: number,
  offset: number,
  options: { maxWaitMs?: number; minBytes?: number; maxBytes?: number } = {},
): KafkaRequestBodies[1] {
  const maxBytes = options.maxBytes ?? 1 << 20;
  return {
    replicaId: -1,
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 1,
    maxBytes,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset: offset,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            partitionMaxBytes: maxBytes,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: "",
  };
}
