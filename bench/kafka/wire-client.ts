/**
 * A minimal Kafka wire client for the benchmark's own load tools: one TCP connection, requests
 * encoded with WharfMQ's codec (`encodeRequestFrame`), responses split with its frame splitter
 * and matched to requests in order (a Kafka connection answers in request order; the
 * correlation id is checked).
 *
 * Two ways to send:
 * - `request(apiKey, version, body)`: encodes the body, resolves with the decoded response.
 * - `sendFrame(frame)`: a frame encoded beforehand (size prefix included) whose correlation id
 *   is patched in place, resolves with the raw response frame. This is the lean path of the
 *   load generator: nothing is encoded per request. The caller must not reuse the frame buffer
 *   before the response arrives (by then the bytes have certainly left the socket).
 *
 * Only what the benchmark needs: no retries, no metadata, no reconnection. An error response
 * is the caller's to check.
 */
import { connect, type Socket } from "node:net";
import {
  frameNeedMore,
  KafkaFrameError,
  KafkaFrameSplitter,
} from "../../src/protocols/kafka/codec/frame.ts";
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

/** Byte offset of the correlation id in a request frame: size (4), api key (2), version (2). */
const correlationIdOffset = 8;
const clientId = "wharf-bench";

interface Waiter {
  correlationId: number;
  resolve(frame: Buffer): void;
  reject(error: Error): void;
}

export class WireConnection {
  private readonly splitter = new KafkaFrameSplitter(1024 * 1024 * 1024);
  private readonly writer = new KafkaWriter();
  private readonly waiting: Waiter[] = [];
  private head = 0;
  private nextCorrelationId = 1;
  private failure: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error: Error) => this.fail(error));
    socket.on("close", () => this.fail(new Error("connection closed by the broker")));
  }

  static connect(host: string, port: number): Promise<WireConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new WireConnection(socket));
      });
    });
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.waiting.length - this.head;
  }

  /** Encodes a whole request frame once, for `sendFrame` (its correlation id is patched later). */
  static encodeFrame<K extends KafkaSupportedApiKey>(
    apiKey: K,
    version: number,
    body: KafkaRequestBodies[K],
  ): Buffer {
    const writer = new KafkaWriter();
    encodeRequestFrame(writer, { apiKey, apiVersion: version, correlationId: 0, clientId }, body);
    return writer.takeBuffer();
  }

  /** Sends a pre-encoded frame; resolves with the response frame (no size prefix). */
  sendFrame(frame: Buffer): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const correlationId = this.takeCorrelationId();
    frame.writeInt32BE(correlationId, correlationIdOffset);
    const response = this.expect(correlationId);
    this.socket.write(frame);
    return response;
  }

  /** Sends a pre-encoded frame that gets no response (Produce with acks=0). */
  sendFrameNoResponse(frame: Buffer): void {
    if (this.failure) throw this.failure;
    frame.writeInt32BE(this.takeCorrelationId(), correlationIdOffset);
    this.socket.write(frame);
  }

  async request<K extends KafkaSupportedApiKey>(
    apiKey: K,
    version: number,
    body: KafkaRequestBodies[K],
  ): Promise<KafkaResponseBodies[K]> {
    if (this.failure) throw this.failure;
    const correlationId = this.takeCorrelationId();
    encodeRequestFrame(this.writer, { apiKey, apiVersion: version, correlationId, clientId }, body);
    const response = this.expect(correlationId);
    const chunks = this.writer.takeChunks();
    this.socket.cork();
    for (const chunk of chunks) this.socket.write(chunk);
    this.socket.uncork();
    return decodeResponse(apiKey, version, await response);
  }

  close(): void {
    this.failure ??= new Error("connection closed");
    this.socket.destroy();
  }

  private takeCorrelationId(): number {
    const id = this.nextCorrelationId;
    this.nextCorrelationId = id === 0x7fffffff ? 1 : id + 1;
    return id;
  }

  private expect(correlationId: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ correlationId, resolve, reject });
    });
  }

  private onData(chunk: Buffer): void {
    this.splitter.push(chunk);
    for (;;) {
      const frame = this.splitter.next();
      if (frame === frameNeedMore) return;
      if (frame instanceof KafkaFrameError) {
        this.fail(new Error(frame.message));
        return;
      }
      const waiter = this.waiting[this.head];
      if (!waiter) {
        this.fail(new Error("a response arrived with no request waiting"));
        return;
      }
      this.waiting[this.head++] = undefined as unknown as Waiter;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      const correlationId = frame.readInt32BE(0);
      if (correlationId !== waiter.correlationId) {
        this.fail(
          new Error(`correlation id ${correlationId} answered, ${waiter.correlationId} expected`),
        );
        return;
      }
      waiter.resolve(frame);
    }
  }

  private fail(error: Error): void {
    if (this.failure === null) this.failure = error;
    const waiting = this.waiting.splice(this.head);
    this.head = 0;
    this.waiting.length = 0;
    for (const waiter of waiting) waiter?.reject(error);
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

/** Decodes a response frame (header and body) of the given api key and version. */
export function decodeResponse<K extends KafkaSupportedApiKey>(
  apiKey: K,
  version: number,
  frame: Buffer,
): KafkaResponseBodies[K] {
  const reader = new KafkaReader(frame);
  decodeResponseHeader(reader, responseHeaderVersion(apiKey, version));
  return kafkaApis[apiKey].decodeResponse(reader, version) as KafkaResponseBodies[K];
}
