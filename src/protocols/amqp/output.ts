/**
 * FrameOutput: where a session writes its outgoing frames during one turn of the event loop.
 * Small frames (methods, content headers, small bodies) are copied into a shared chunk of
 * `amqpOutputChunkBytes`; large bodies are kept as their own piece (no copy). `take()` hands
 * the pieces to the socket in one corked write, so a burst of deliveries or confirms costs one
 * writev instead of five writes per message.
 *
 * Invariant: bytes already handed out by `take()` are never written again (the socket may
 * still hold them); new frames go after them in the chunk, or into a fresh chunk.
 *
 * The hot frames (basic.deliver, basic.ack/nack confirms, content header, body) are encoded
 * here by hand, straight into the chunk; everything else goes through the codec's encoder.
 */
import { amqpFrameEnd, amqpFrameType } from "./codec/frame.ts";
import type { AmqpMethod } from "./codec/generated/methods.ts";
import { encodeMethodPayload } from "./codec/payload.ts";
import { AmqpWriter } from "./codec/writer.ts";
import { truncateShortstr } from "./errors.ts";

/** Bodies at least this large are written as their own piece rather than copied. */
const bodyCopyBytesMax = 2048;
const twoToThe32 = 4294967296;

export class FrameOutput {
  private chunk: Buffer;
  /** Start of the bytes not yet taken. */
  private start = 0;
  private offset = 0;
  private readonly pieces: Buffer[] = [];
  private piecesBytes = 0;
  private readonly writer = new AmqpWriter(512);

  constructor(private readonly chunkBytes: number) {
    this.chunk = Buffer.allocUnsafe(chunkBytes);
  }

  /** Bytes written and not yet taken. */
  get pendingBytes(): number {
    return this.piecesBytes + (this.offset - this.start);
  }

  /** Everything written since the last take, in order; empty when nothing was. */
  take(): Buffer[] {
    this.seal();
    if (this.pieces.length === 0) return [];
    const taken = this.pieces.splice(0, this.pieces.length);
    this.piecesBytes = 0;
    return taken;
  }

  /** Closes the current run of copied bytes as one piece. */
  private seal(): void {
    if (this.offset > this.start) {
      this.pieces.push(this.chunk.subarray(this.start, this.offset));
      this.piecesBytes += this.offset - this.start;
      this.start = this.offset;
    }
  }

  /** Makes room for `count` contiguous bytes in the chunk and returns where they go. */
  private room(count: number): number {
    if (this.offset + count > this.chunk.length) {
      this.seal();
      this.chunk = Buffer.allocUnsafe(Math.max(this.chunkBytes, count));
      this.start = 0;
      this.offset = 0;
    }
    const at = this.offset;
    this.offset += count;
    return at;
  }

  /** Raw bytes (a prebuilt frame). */
  bytes(bytes: Buffer): void {
    if (bytes.length >= bodyCopyBytesMax) {
      this.seal();
      this.pieces.push(bytes);
      this.piecesBytes += bytes.length;
      return;
    }
    const at = this.room(bytes.length);
    bytes.copy(this.chunk, at);
  }

  /** Any method frame, through the generated encoder. */
  method(channel: number, method: AmqpMethod): void {
    const writer = this.writer;
    writer.length = 0;
    writer.octet(amqpFrameType.method);
    writer.short(channel);
    writer.long(0);
    encodeMethodPayload(writer, method);
    writer.patchLong(3, writer.length - 7);
    writer.octet(amqpFrameEnd);
    // The writer is reused: a frame big enough to be kept as its own piece is copied out.
    const frame = writer.finish();
    this.bytes(frame.length >= bodyCopyBytesMax ? Buffer.from(frame) : frame);
  }

  /** basic.ack or basic.nack (publisher confirms), hand-encoded: 21 bytes. */
  confirm(channel: number, ack: boolean, deliveryTag: number, multiple: boolean): void {
    const at = this.room(21);
    const buffer = this.chunk;
    buffer[at] = amqpFrameType.method;
    buffer.writeUInt16BE(channel, at + 1);
    buffer.writeUInt32BE(13, at + 3);
    buffer.writeUInt16BE(60, at + 7);
    buffer.writeUInt16BE(ack ? 80 : 120, at + 9);
    writeLonglong(buffer, at + 11, deliveryTag);
    buffer[at + 19] = multiple ? 1 : 0;
    buffer[at + 20] = amqpFrameEnd;
  }

  /**
   * basic.deliver (or basic.get-ok / basic.return when `methodHead` is given by the caller)
   * followed by the content header and body frames.
   */
  deliver(
    channel: number,
    consumerTag: Buffer,
    deliveryTag: number,
    redelivered: boolean,
    exchange: string,
    routingKey: string,
    propertiesBytes: Buffer,
    body: Buffer,
    frameBytesMax: number,
  ): void {
    let exchangeBytes = Buffer.byteLength(exchange);
    let routingKeyBytes = Buffer.byteLength(routingKey);
    // Names from other protocols (an MQTT topic) may exceed a shortstr: cut, never corrupt.
    if (exchangeBytes > 255) {
      exchange = truncateShortstr(exchange);
      exchangeBytes = Buffer.byteLength(exchange);
    }
    if (routingKeyBytes > 255) {
      routingKey = truncateShortstr(routingKey);
      routingKeyBytes = Buffer.byteLength(routingKey);
    }
    const payload = 4 + 1 + consumerTag.length + 8 + 1 + 1 + exchangeBytes + 1 + routingKeyBytes;
    const at = this.room(payload + 8);
    const buffer = this.chunk;
    buffer[at] = amqpFrameType.method;
    buffer.writeUInt16BE(channel, at + 1);
    buffer.writeUInt32BE(payload, at + 3);
    buffer.writeUInt16BE(60, at + 7);
    buffer.writeUInt16BE(60, at + 9);
    let position = at + 11;
    buffer[position++] = consumerTag.length;
    consumerTag.copy(buffer, position);
    position += consumerTag.length;
    writeLonglong(buffer, position, deliveryTag);
    position += 8;
    buffer[position++] = redelivered ? 1 : 0;
    buffer[position++] = exchangeBytes;
    position += buffer.write(exchange, position, "utf8");
    buffer[position++] = routingKeyBytes;
    position += buffer.write(routingKey, position, "utf8");
    buffer[position] = amqpFrameEnd;
    this.content(channel, propertiesBytes, body, frameBytesMax);
  }

  /** A content header (class basic) with the stored property bytes, then the body frames. */
  content(channel: number, propertiesBytes: Buffer, body: Buffer, frameBytesMax: number): void {
    const headerPayload = 12 + propertiesBytes.length;
    const at = this.room(headerPayload + 8);
    const buffer = this.chunk;
    buffer[at] = amqpFrameType.header;
    buffer.writeUInt16BE(channel, at + 1);
    buffer.writeUInt32BE(headerPayload, at + 3);
    buffer.writeUInt16BE(60, at + 7);
    buffer.writeUInt16BE(0, at + 9);
    writeLonglong(buffer, at + 11, body.length);
    propertiesBytes.copy(buffer, at + 19);
    buffer[at + 19 + propertiesBytes.length] = amqpFrameEnd;
    const payloadMax = frameBytesMax - 8;
    for (let offset = 0; offset < body.length; offset += payloadMax) {
      const size = Math.min(payloadMax, body.length - offset);
      const head = this.room(7);
      this.chunk[head] = amqpFrameType.body;
      this.chunk.writeUInt16BE(channel, head + 1);
      this.chunk.writeUInt32BE(size, head + 3);
      if (size >= bodyCopyBytesMax) {
        this.seal();
        this.pieces.push(body.subarray(offset, offset + size));
        this.piecesBytes += size;
      } else {
        const into = this.room(size);
        body.copy(this.chunk, into, offset, offset + size);
      }
      const end = this.room(1);
      this.chunk[end] = amqpFrameEnd;
    }
  }
}

function writeLonglong(buffer: Buffer, at: number, value: number): void {
  buffer.writeUInt32BE(Math.floor(value / twoToThe32), at);
  buffer.writeUInt32BE(value % twoToThe32, at + 4);
}
