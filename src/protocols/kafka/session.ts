/**
 * KafkaSession: one client connection. Bytes in → frames → decoded requests → handlers →
 * encoded responses → bytes out, in request order.
 *
 * Ordering. Kafka clients pipeline requests and match responses by correlation id, but they
 * also rely on a connection answering in request order (librdkafka and kafkajs both do). The
 * handlers are async and finish out of order (a Fetch long-polls while the Metadata behind it
 * is ready at once), so each request takes a slot in a FIFO when it is read; a slot is filled
 * when its handler finishes, and the head of the FIFO is written while it is filled. A request
 * that gets no response (Produce acks=0) leaves an empty slot that is skipped in turn.
 *
 * Batching. Completed responses are flushed on `process.nextTick`, so every response finished
 * in one turn of the event loop (e.g. all produce requests acknowledged by one group commit)
 * goes out corked, as one writev. Record data from the log is a chunk of its own (no copy).
 *
 * Back-pressure. Reading stops (socket.pause) while any bound is reached: requests in flight
 * (`kafkaInFlightRequestsMax`), their frame bytes (`kafkaInFlightBytesMax`, one frame always
 * admitted), or bytes queued on the socket (`kafkaOutputBytesMax`, until 'drain'). Frames
 * already buffered wait in the splitter; TCP flow control pushes back on the client.
 *
 * Faults. A frame with a bad size, a request that does not decode, an unknown API key or an
 * unsupported version (other than ApiVersions, answered with the KIP-511 fallback) are logged
 * with a bounded snippet and close this connection only; responses already complete ahead
 * of it are written first. A handler that throws something other than a catalog error is a
 * defect: it is logged with its stack and the connection is closed, the process keeps serving.
 * Nothing in this file lets an exception escape to the event loop.
 */
import { setMaxListeners } from "node:events";
import type { Duplex } from "node:stream";
import { kafkaDebugFrameBytesMax } from "../../config/limits.ts";
import type { Logger } from "../../logging/logger.ts";
import { snippet } from "../../logging/logger.ts";
import { isKafkaDecodeError } from "./codec/decode-error.ts";
import { frameNeedMore, KafkaFrameError, KafkaFrameSplitter } from "./codec/frame.ts";
import { KafkaApiKey, type KafkaSupportedApiKey } from "./codec/generated/index.ts";
import type { KafkaRequestHeader } from "./codec/header.ts";
import {
  decodeRequestFrame,
  encodeApiVersionsFallbackResponse,
  encodeResponseFrame,
} from "./codec/message.ts";
import { KafkaWriter } from "./codec/writer.ts";
import type { KafkaHandlerContext, KafkaSessionInfo } from "./handlers/handler.ts";
import type { KafkaDispatchEntry } from "./handlers/index.ts";

export interface KafkaSessionLimits {
  frameBytesMax: number;
  inFlightRequestsMax: number;
  inFlightBytesMax: number;
  outputBytesMax: number;
}

/** What every session of a listener shares. */
export interface KafkaSessionShared {
  readonly context: Omit<KafkaHandlerContext, "session" | "advertised" | "logger">;
  readonly advertised: () => { host: string; port: number };
  readonly dispatch: ReadonlyMap<number, KafkaDispatchEntry>;
  readonly limits: KafkaSessionLimits;
  readonly logger: Logger;
  readonly debugFrames: boolean;
  /** Counts a protocol error by reason (for metrics). */
  readonly onProtocolError?: (reason: string) => void;
}

/** Why a connection was closed by the broker; stable, usable as a metric label. */
export type KafkaCloseReason =
  | "frame-size-negative"
  | "frame-size-too-large"
  | "decode-error"
  | "unknown-api"
  | "unsupported-version"
  | "authentication-failed"
  | "internal-error"
  | "idle"
  | "shutdown";

interface ResponseSlot {
  /** The encoded response; null while pending, or for no response. */
  chunks: Buffer[] | null;
  done: boolean;
  /** Bytes of the request frame, released when the slot is written. */
  readonly frameBytes: number;
  /** Close the connection once this slot is written (after a failed SaslAuthenticate). */
  closeAfter: boolean;
}

const debugHexBytes = kafkaDebugFrameBytesMax;

export class KafkaSession {
  readonly info: KafkaSessionInfo & { clientId: string | null };
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  private readonly splitter: KafkaFrameSplitter;
  private readonly writer = new KafkaWriter();
  private readonly slots: ResponseSlot[] = [];
  private readonly abort = new AbortController();
  private readonly logger: Logger;
  private readonly context: KafkaHandlerContext;
  private inFlightBytes = 0;
  private reading = true;
  private outputBlocked = false;
  private flushScheduled = false;
  /** No more requests are read; the connection is being closed. */
  private closing = false;

  constructor(
    private readonly socket: Duplex,
    remoteAddress: string,
    id: number,
    private readonly shared: KafkaSessionShared,
  ) {
    this.splitter = new KafkaFrameSplitter(shared.limits.frameBytesMax);
    // Every in-flight long poll listens on the session's signal; that many is expected.
    setMaxListeners(shared.limits.inFlightRequestsMax + 16, this.abort.signal);
    this.logger = shared.logger.child({ session: id, remote: remoteAddress });
    this.info = {
      id,
      remoteAddress,
      clientId: null,
      principal: null,
      saslMechanism: null,
      closed: this.abort.signal,
    };
    this.context = {
      ...shared.context,
      advertised: shared.advertised(),
      logger: this.logger,
      session: this.info,
    };
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.closing = true;
        this.abort.abort();
        resolve();
      });
    });
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.onDrain());
    socket.on("error", (error: Error) => {
      this.logger.debug({ err: error }, "kafka connection error");
    });
  }

  /** True when no request is in flight (an idle connection may be closed). */
  get idle(): boolean {
    return this.slots.length === 0;
  }

  /** Closes the connection: pending long polls end, unanswered requests are dropped. */
  close(reason: KafkaCloseReason): void {
    if (this.socket.destroyed) return;
    if (reason !== "shutdown") this.logger.info({ reason }, "closing kafka connection");
    this.closing = true;
    this.abort.abort();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    try {
      this.splitter.push(chunk);
      this.pump();
    } catch (error) {
      this.internalError(error, "reading requests");
    }
  }

  private onDrain(): void {
    if (!this.outputBlocked) return;
    this.outputBlocked = false;
    try {
      this.pump();
    } catch (error) {
      this.internalError(error, "reading requests");
    }
  }

  /** Takes frames from the splitter while the bounds allow, then pauses or resumes reading. */
  private pump(): void {
    const limits = this.shared.limits;
    while (!this.closing) {
      const full =
        this.outputBlocked ||
        this.slots.length >= limits.inFlightRequestsMax ||
        (this.inFlightBytes >= limits.inFlightBytesMax && this.slots.length > 0);
      if (full) {
        this.setReading(false);
        return;
      }
      const frame = this.splitter.next();
      if (frame === frameNeedMore) {
        this.setReading(true);
        return;
      }
      if (frame instanceof KafkaFrameError) {
        this.protocolError(frame.reason, frame.message, null);
        return;
      }
      this.handleFrame(frame);
    }
  }

  private setReading(reading: boolean): void {
    if (reading === this.reading) return;
    this.reading = reading;
    if (reading) this.socket.resume();
    else this.socket.pause();
  }

  private handleFrame(frame: Buffer): void {
    if (this.shared.debugFrames) this.debugFrame("request", [frame]);
    let decoded: ReturnType<typeof decodeRequestFrame>;
    try {
      decoded = decodeRequestFrame(frame);
    } catch (error) {
      if (!isKafkaDecodeError(error)) throw error;
      this.protocolError("decode-error", error.message, frame, error.offset);
      return;
    }
    const { header } = decoded;
    this.info.clientId = header.clientId;
    if (decoded.support === "unknown-api") {
      this.protocolError("unknown-api", `unknown api key ${header.apiKey}`, frame);
      return;
    }
    const entry = this.shared.dispatch.get(header.apiKey);
    const served =
      entry !== undefined &&
      header.apiVersion >= entry.minVersion &&
      header.apiVersion <= entry.maxVersion;
    if (header.apiKey === KafkaApiKey.ApiVersions && (!served || decoded.support !== "supported")) {
      // KIP-511: answer in v0 with UNSUPPORTED_VERSION and our range; the client retries.
      const slot = this.openSlot(frame.length);
      encodeApiVersionsFallbackResponse(
        this.writer,
        header.correlationId,
        entry?.minVersion,
        entry?.maxVersion,
      );
      this.fillSlot(slot, this.writer.takeChunks());
      return;
    }
    if (!entry || !served || decoded.support !== "supported") {
      const detail = entry
        ? `api key ${header.apiKey} version ${header.apiVersion} (served: ${entry.minVersion}-${entry.maxVersion})`
        : `api key ${header.apiKey} is not served`;
      this.protocolError("unsupported-version", detail, frame);
      return;
    }
    const slot = this.openSlot(frame.length);
    let result: unknown;
    try {
      result = entry.handle(this.context, {
        header,
        version: header.apiVersion,
        body: decoded.body,
      });
    } catch (error) {
      this.handlerFailed(error, header);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (body: unknown) => this.complete(slot, header, body),
        (error: unknown) => this.handlerFailed(error, header),
      );
    } else {
      this.complete(slot, header, result);
    }
  }

  private openSlot(frameBytes: number): ResponseSlot {
    const slot: ResponseSlot = { chunks: null, done: false, frameBytes, closeAfter: false };
    this.slots.push(slot);
    this.inFlightBytes += frameBytes;
    return slot;
  }

  private complete(slot: ResponseSlot, header: KafkaRequestHeader, body: unknown): void {
    if (this.closing) return;
    try {
      if (body !== null) {
        const apiKey = header.apiKey as KafkaSupportedApiKey;
        encodeResponseFrame(
          this.writer,
          apiKey,
          header.apiVersion,
          header.correlationId,
          body as never,
        );
        if (
          apiKey === KafkaApiKey.SaslAuthenticate &&
          (body as { errorCode: number }).errorCode !== 0
        ) {
          slot.closeAfter = true;
        }
      }
      this.fillSlot(slot, body === null ? null : this.writer.takeChunks());
    } catch (error) {
      this.internalError(
        error,
        `encoding a response to api key ${header.apiKey} v${header.apiVersion}`,
      );
    }
  }

  private fillSlot(slot: ResponseSlot, chunks: Buffer[] | null): void {
    slot.chunks = chunks;
    slot.done = true;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  /** Writes every completed response at the head of the queue, corked. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.socket.destroyed) return;
    try {
      this.writeReady();
      if (!this.closing) this.pump();
    } catch (error) {
      this.internalError(error, "writing responses");
    }
  }

  private writeReady(): void {
    const socket = this.socket;
    let corked = false;
    let closeAfter = false;
    while (this.slots.length > 0 && this.slots[0]!.done) {
      const slot = this.slots.shift()!;
      this.inFlightBytes -= slot.frameBytes;
      if (slot.chunks !== null && slot.chunks.length > 0) {
        if (!corked) {
          socket.cork();
          corked = true;
        }
        if (this.shared.debugFrames) this.debugFrame("response", slot.chunks);
        for (const chunk of slot.chunks) socket.write(chunk);
      }
      if (slot.closeAfter) {
        closeAfter = true;
        break;
      }
    }
    if (corked) socket.uncork();
    if (closeAfter) {
      this.closing = true;
      this.abort.abort();
      this.logger.info({ reason: "authentication-failed" }, "closing kafka connection");
      socket.end();
      return;
    }
    if (socket.writableLength > this.shared.limits.outputBytesMax) this.outputBlocked = true;
  }

  /**
   * Bad input: log, count, then close this connection once the responses already complete ahead
   * of it are written (Kafka has no way to answer a request it cannot parse).
   */
  private protocolError(
    reason: KafkaCloseReason,
    detail: string,
    frame: Buffer | null,
    at = 0,
  ): void {
    this.shared.onProtocolError?.(reason);
    this.logger.warn(
      {
        reason,
        detail,
        frameBytes: frame?.length,
        snippet: frame ? snippet(frame, Math.max(0, at - 16)) : undefined,
      },
      "kafka protocol error; closing the connection",
    );
    this.closing = true;
    this.abort.abort();
    this.setReading(false);
    try {
      this.writeReady();
    } catch {
      // The connection is being torn down; nothing more to write.
    }
    this.socket.end();
    // A peer that does not read would keep the socket open: destroy it after a grace period.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private handlerFailed(error: unknown, header: KafkaRequestHeader): void {
    this.internalError(error, `handling api key ${header.apiKey} v${header.apiVersion}`);
  }

  /** A defect (not bad input): log it with its stack and close this connection only. */
  private internalError(error: unknown, what: string): void {
    this.shared.onProtocolError?.("internal-error");
    this.logger.error(
      { err: error, what },
      "internal error in a kafka session; closing the connection",
    );
    this.close("internal-error");
  }

  private debugFrame(direction: "request" | "response", chunks: Buffer[]): void {
    let total = 0;
    const head: Buffer[] = [];
    let kept = 0;
    for (const chunk of chunks) {
      total += chunk.length;
      if (kept < debugHexBytes) {
        const part = chunk.subarray(0, debugHexBytes - kept);
        head.push(part);
        kept += part.length;
      }
    }
    const hex = Buffer.concat(head).toString("hex");
    this.logger.info({ direction, bytes: total, hex, truncated: total > kept }, "kafka frame");
  }
}
