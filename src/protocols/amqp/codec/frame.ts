/**
 * AMQP 0-9-1 framing (spec 4.2.2–4.2.7): the protocol header, an incremental frame splitter,
 * and frame encoders.
 *
 * A frame is: type (octet), channel (short), size (long), `size` payload bytes, frame-end
 * (0xCE). `frameBytesMax` counts all of it, as frame_max does in connection.tune (4.2.1).
 *
 * Feed `AmqpFrameSplitter` each chunk the socket delivers with `push`, then call `next` until
 * it answers `frameNeedMore`. A frame lying inside one chunk comes back as a view of that
 * chunk (no copy); only a frame split across chunks is copied, once, into a Buffer of its
 * exact size.
 *
 * Fault model: everything is untrusted. An unknown frame type, a size above `frameBytesMax`,
 * a heartbeat on a channel other than 0 or a bad frame-end octet is returned (not thrown) as
 * an `AmqpDecodeError` with reply code 501 FRAME_ERROR, as soon as the 7 header bytes (or the
 * frame-end) arrive, and the splitter stays failed: the caller sends connection.close(501)
 * and closes. Memory held is at most one frame plus the chunk that completed it.
 */

import assert from "node:assert/strict";
import { amqpFrameMinBytes } from "../../../config/limits.ts";
import { AmqpDecodeError } from "./decode-error.ts";
import { type AmqpMethod, amqpClassId, type BasicProperties } from "./generated/methods.ts";
import { encodeContentHeaderPayload, encodeMethodPayload } from "./payload.ts";
import { AmqpWriter } from "./writer.ts";

export const amqpFrameType = { method: 1, header: 2, body: 3, heartbeat: 8 } as const;
export type AmqpFrameType = (typeof amqpFrameType)[keyof typeof amqpFrameType];

/** Type, channel and size. */
export const amqpFrameHeaderBytes = 7;
export const amqpFrameEnd = 0xce;
/** Header plus frame-end: what a frame costs beyond its payload. */
export const amqpFrameOverheadBytes = amqpFrameHeaderBytes + 1;

// --- protocol header -------------------------------------------------------------------

/** "AMQP" 0 0 9 1: what a 0-9-1 client sends first and what we answer a mismatch with. */
export const amqpProtocolHeader: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

export type AmqpProtocolHeaderResult =
  | { readonly kind: "need-more" }
  /** `rest` holds any bytes after the header: frames the client pipelined. */
  | { readonly kind: "accepted"; readonly rest: Buffer }
  /**
   * Not AMQP 0-9-1 (another protocol, or another version of AMQP). Spec 4.2.2: write `reply`
   * (our protocol header) and close the socket, without sending any frame.
   */
  | { readonly kind: "rejected"; readonly reply: Buffer };

/**
 * Checks the first bytes of a connection. Answers as soon as a byte differs, so a client that
 * speaks something else is not kept waiting for 8 bytes.
 */
export function checkProtocolHeader(bytes: Buffer): AmqpProtocolHeaderResult {
  const compared = Math.min(bytes.length, amqpProtocolHeader.length);
  for (let index = 0; index < compared; index++) {
    if (bytes[index] !== amqpProtocolHeader[index]) {
      return { kind: "rejected", reply: amqpProtocolHeader };
    }
  }
  if (bytes.length < amqpProtocolHeader.length) return { kind: "need-more" };
  return { kind: "accepted", rest: bytes.subarray(amqpProtocolHeader.length) };
}

// --- splitter --------------------------------------------------------------------------

/** Returned by `next` when no complete frame is buffered. */
export const frameNeedMore: unique symbol = Symbol("frameNeedMore");

export interface AmqpFrame {
  readonly type: AmqpFrameType;
  readonly channel: number;
  /** A view of the received bytes: copy it to keep it past the next `push`. */
  readonly payload: Buffer;
}

export type AmqpFrameResult = AmqpFrame | typeof frameNeedMore | AmqpDecodeError;

const emptyPayload = Buffer.alloc(0);

export class AmqpFrameSplitter {
  /** Largest whole frame accepted; raise it to the negotiated frame_max after tune-ok. */
  private frameBytesMaxValue: number;
  private readonly chunks: Buffer[] = [];
  /** Read position inside chunks[0]. */
  private headOffset = 0;
  private buffered = 0;
  /** Bytes consumed since the start: the stream offset reported in errors. */
  private consumed = 0;
  private failure: AmqpDecodeError | undefined;
  private readonly header = Buffer.alloc(amqpFrameHeaderBytes);

  /** Before tune-ok only frames up to FRAME-MIN-SIZE are allowed (spec 4.2.1). */
  constructor(frameBytesMax: number = amqpFrameMinBytes) {
    this.frameBytesMaxValue = frameBytesMax;
    this.frameBytesMax = frameBytesMax;
  }

  get frameBytesMax(): number {
    return this.frameBytesMaxValue;
  }

  set frameBytesMax(value: number) {
    assert.ok(Number.isInteger(value) && value >= amqpFrameMinBytes, `frame_max ${value}`);
    this.frameBytesMaxValue = value;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0 || this.failure) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  next(): AmqpFrameResult {
    if (this.failure) return this.failure;
    if (this.buffered < amqpFrameHeaderBytes) return frameNeedMore;
    const head = this.chunks[0]!;
    const at = this.headOffset;
    if (head.length - at >= amqpFrameHeaderBytes) {
      // The common case: the header lies in the first chunk, read in place (no copy).
      const type = head[at]!;
      const size =
        head[at + 3]! * 0x1000000 + ((head[at + 4]! << 16) | (head[at + 5]! << 8) | head[at + 6]!);
      const total = size + amqpFrameOverheadBytes;
      if (
        (type === 1 || type === 2 || type === 3) &&
        size <= this.frameBytesMaxValue - amqpFrameOverheadBytes &&
        head.length - at >= total &&
        head[at + total - 1] === amqpFrameEnd
      ) {
        // ...and so does the whole well-formed frame: a view, one step forward.
        const channel = (head[at + 1]! << 8) | head[at + 2]!;
        const payload =
          size === 0 ? emptyPayload : head.subarray(at + amqpFrameHeaderBytes, at + total - 1);
        this.consumed += total;
        this.buffered -= total;
        if (head.length - at === total) {
          this.chunks.shift();
          this.headOffset = 0;
        } else {
          this.headOffset = at + total;
        }
        return { type: type as AmqpFrameType, channel, payload };
      }
    }
    this.peek(this.header, amqpFrameHeaderBytes);
    const type = this.header[0]!;
    const channel = this.header.readUInt16BE(1);
    const size = this.header.readUInt32BE(3);
    if (type !== 1 && type !== 2 && type !== 3 && type !== 8) {
      return this.fail("frame-type-unknown", `frame type ${type}`, 0);
    }
    if (type === amqpFrameType.heartbeat && channel !== 0) {
      // Spec 4.2.7: heartbeat frames must have channel 0; a peer answers 501 otherwise.
      return this.fail("heartbeat-invalid", `heartbeat on channel ${channel}`, 1);
    }
    if (size > this.frameBytesMaxValue - amqpFrameOverheadBytes) {
      return this.fail(
        "frame-too-large",
        `frame of ${size + amqpFrameOverheadBytes} bytes, frame_max ${this.frameBytesMaxValue}`,
        3,
      );
    }
    const total = size + amqpFrameOverheadBytes;
    if (this.buffered < total) return frameNeedMore;
    this.skip(amqpFrameHeaderBytes);
    const payload = size === 0 ? emptyPayload : this.take(size);
    const end = this.chunks[0]![this.headOffset];
    if (end !== amqpFrameEnd) {
      return this.fail("frame-end-invalid", `frame-end 0x${end!.toString(16)}, not 0xce`, 0);
    }
    this.skip(1);
    return { type: type as AmqpFrameType, channel, payload };
  }

  private fail(
    reason: "frame-type-unknown" | "heartbeat-invalid" | "frame-too-large" | "frame-end-invalid",
    detail: string,
    at: number,
  ): AmqpDecodeError {
    this.failure = new AmqpDecodeError(reason, detail, this.consumed + at);
    this.chunks.length = 0;
    this.buffered = 0;
    this.headOffset = 0;
    return this.failure;
  }

  /** Copies the first `count` buffered bytes into `target` without consuming them. */
  private peek(target: Buffer, count: number): void {
    let copied = 0;
    let offset = this.headOffset;
    for (const chunk of this.chunks) {
      copied += chunk.copy(target, copied, offset, Math.min(chunk.length, offset + count - copied));
      offset = 0;
      if (copied === count) return;
    }
  }

  private skip(count: number): void {
    this.consumed += count;
    this.buffered -= count;
    while (count > 0) {
      const head = this.chunks[0]!;
      const available = head.length - this.headOffset;
      if (count < available) {
        this.headOffset += count;
        return;
      }
      count -= available;
      this.chunks.shift();
      this.headOffset = 0;
    }
  }

  /** Consumes `count` bytes: a view when they lie in one chunk, else one exact-size copy. */
  private take(count: number): Buffer {
    const head = this.chunks[0]!;
    if (head.length - this.headOffset >= count) {
      const view = head.subarray(this.headOffset, this.headOffset + count);
      this.skip(count);
      return view;
    }
    const copy = Buffer.allocUnsafe(count);
    this.peek(copy, count);
    this.skip(count);
    return copy;
  }
}

// --- encoders --------------------------------------------------------------------------

/** The one heartbeat frame there is (spec 4.2.7). */
export const amqpHeartbeatFrame: Buffer = Buffer.from([8, 0, 0, 0, 0, 0, 0, amqpFrameEnd]);

/** Writes a frame around what `body` writes, patching in the size. */
function encodeFrame(type: AmqpFrameType, channel: number, body: (writer: AmqpWriter) => void) {
  const writer = new AmqpWriter(128);
  writer.octet(type);
  writer.short(channel);
  writer.long(0);
  body(writer);
  writer.patchLong(3, writer.length - amqpFrameHeaderBytes);
  writer.octet(amqpFrameEnd);
  return writer.finish();
}

export function encodeMethodFrame(channel: number, method: AmqpMethod): Buffer {
  return encodeFrame(amqpFrameType.method, channel, (writer) =>
    encodeMethodPayload(writer, method),
  );
}

export function encodeContentHeaderFrame(
  channel: number,
  bodySize: number,
  properties: BasicProperties,
  classId: number = amqpClassId.basic,
): Buffer {
  return encodeFrame(amqpFrameType.header, channel, (writer) =>
    encodeContentHeaderPayload(writer, { classId, bodySize, properties }),
  );
}

const frameEndOctet = Buffer.from([amqpFrameEnd]);

/**
 * The body frames for `body`, each carrying at most frameBytesMax - 8 bytes (spec 4.2.6.2).
 * Returned as pieces to write in order (header, body view, frame-end per frame), so the body
 * is never copied; an empty body has no frames.
 */
export function encodeBodyFrames(channel: number, body: Buffer, frameBytesMax: number): Buffer[] {
  assert.ok(frameBytesMax >= amqpFrameMinBytes, `frame_max ${frameBytesMax}`);
  const payloadBytesMax = frameBytesMax - amqpFrameOverheadBytes;
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += payloadBytesMax) {
    const slice = body.subarray(offset, Math.min(body.length, offset + payloadBytesMax));
    const header = Buffer.allocUnsafe(amqpFrameHeaderBytes);
    header[0] = amqpFrameType.body;
    header.writeUInt16BE(channel, 1);
    header.writeUInt32BE(slice.length, 3);
    pieces.push(header, slice, frameEndOctet);
  }
  return pieces;
}

/**
 * A whole message as frames: the content-bearing method (basic.publish, basic.deliver,
 * basic.get-ok, basic.return), its content header, then the body frames.
 */
export function encodeContentFrames(
  channel: number,
  method: AmqpMethod,
  properties: BasicProperties,
  body: Buffer,
  frameBytesMax: number,
): Buffer[] {
  return [
    encodeMethodFrame(channel, method),
    encodeContentHeaderFrame(channel, body.length, properties),
    ...encodeBodyFrames(channel, body, frameBytesMax),
  ];
}
