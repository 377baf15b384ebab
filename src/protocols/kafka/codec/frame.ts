/**
 * KafkaFrameSplitter: cuts a TCP byte stream into Kafka frames. Every Kafka request and
 * response is an int32 big-endian size followed by that many bytes.
 *
 * Feed it each chunk the socket delivers with `push`, then call `next` until it answers
 * `frameNeedMore`. A frame lying inside one chunk is returned as a view of that chunk (no
 * copy); only a frame split across chunks is copied, once, into a Buffer of its exact size.
 *
 * Fault model: the size is untrusted. A negative size or one above `frameBytesMax` yields a
 * `KafkaFrameError` before any byte of the frame is buffered beyond what already arrived, and
 * the splitter stays failed: the caller logs it and closes the connection. Memory held is at
 * most one frame (bounded by `frameBytesMax`) plus the chunk that completed it.
 */

import { kafkaFrameBytesMax } from "./limits.ts";

const sizeBytes = 4;
const emptyFrame = Buffer.alloc(0);

/** Returned by `next` when no complete frame is buffered. */
export const frameNeedMore: unique symbol = Symbol("frameNeedMore");

export type KafkaFrameErrorReason = "frame-size-negative" | "frame-size-too-large";

/** A framing failure, returned (not thrown) by `next`. */
export class KafkaFrameError {
  readonly reason: KafkaFrameErrorReason;
  /** The size prefix as read. */
  readonly size: number;
  readonly frameBytesMax: number;

  constructor(reason: KafkaFrameErrorReason, size: number, frameBytesMax: number) {
    this.reason = reason;
    this.size = size;
    this.frameBytesMax = frameBytesMax;
  }

  get message(): string {
    return this.reason === "frame-size-negative"
      ? `kafka frame size ${this.size} is negative`
      : `kafka frame size ${this.size} exceeds the limit of ${this.frameBytesMax} bytes`;
  }
}

export type KafkaFrameResult = Buffer | typeof frameNeedMore | KafkaFrameError;

export class KafkaFrameSplitter {
  private readonly frameBytesMax: number;
  private chunks: Buffer[] = [];
  /** Bytes of `chunks[0]` already consumed. */
  private head = 0;
  private buffered = 0;
  private failure: KafkaFrameError | undefined;

  constructor(frameBytesMax: number = kafkaFrameBytesMax) {
    this.frameBytesMax = frameBytesMax;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0 || this.failure) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  next(): KafkaFrameResult {
    if (this.failure) return this.failure;
    if (this.buffered < sizeBytes) return frameNeedMore;
    const size = this.peekSize();
    if (size < 0 || size > this.frameBytesMax) {
      const reason = size < 0 ? "frame-size-negative" : "frame-size-too-large";
      this.failure = new KafkaFrameError(reason, size, this.frameBytesMax);
      this.chunks = [];
      this.buffered = 0;
      this.head = 0;
      return this.failure;
    }
    if (this.buffered < sizeBytes + size) return frameNeedMore;
    this.consume(sizeBytes);
    if (size === 0) return emptyFrame;
    const first = this.chunks[0];
    const start = this.head;
    if (start + size <= first.length) {
      this.consume(size);
      return first.subarray(start, start + size);
    }
    return this.copyOut(size);
  }

  private peekSize(): number {
    const first = this.chunks[0];
    const at = this.head;
    if (first.length - at >= sizeBytes) return first.readInt32BE(at);
    const bytes = Buffer.allocUnsafe(sizeBytes);
    let filled = 0;
    let offset = at;
    for (let index = 0; filled < sizeBytes; index++) {
      const chunk = this.chunks[index];
      const count = Math.min(sizeBytes - filled, chunk.length - offset);
      chunk.copy(bytes, filled, offset, offset + count);
      filled += count;
      offset = 0;
    }
    return bytes.readInt32BE(0);
  }

  /** Drops `count` buffered bytes from the front. */
  private consume(count: number): void {
    this.buffered -= count;
    while (count > 0) {
      const first = this.chunks[0];
      const left = first.length - this.head;
      if (count < left) {
        this.head += count;
        return;
      }
      count -= left;
      this.chunks.shift();
      this.head = 0;
    }
  }

  private copyOut(size: number): Buffer {
    const frame = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const first = this.chunks[0];
      const count = Math.min(size - filled, first.length - this.head);
      first.copy(frame, filled, this.head, this.head + count);
      filled += count;
      this.consume(count);
    }
    return frame;
  }
}
