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
  private lastExchange = "";
  private lastExchangeBytes: Buffer = Buffer.alloc(0);
  private lastRoutingKey = "";
  private lastRoutingKeyBytes: Buffer = Buffer.alloc(0);

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
   * basic.deliver followed by the content header and body frames. When the three frames fit
   * the chunk and the body is small, they are written with one `room` call, byte by byte.
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
    // Deliveries of one queue repeat the same names: their encodings are cached (one entry).
    let exchangeBytes: Buffer;
    if (exchange === this.lastExchange) exchangeBytes = this.lastExchangeBytes;
    else {
      exchangeBytes = shortstrBytes(exchange);
      this.lastExchange = exchange;
      this.lastExchangeBytes = exchangeBytes;
    }
    let routingKeyBytes: Buffer;
    if (routingKey === this.lastRoutingKey) routingKeyBytes = this.lastRoutingKeyBytes;
    else {
      routingKeyBytes = shortstrBytes(routingKey);
      this.lastRoutingKey = routingKey;
      this.lastRoutingKeyBytes = routingKeyBytes;
    }
    const tagLength = consumerTag.length;
    const exchangeLength = exchangeBytes.length;
    const routingKeyLength = routingKeyBytes.length;
    const payload = 4 + 1 + tagLength + 8 + 1 + 1 + exchangeLength + 1 + routingKeyLength;
    const propertiesLength = propertiesBytes.length;
    const bodyLength = body.length;
    const headerPayload = 12 + propertiesLength;
    const oneBodyFrame =
      bodyLength > 0 && bodyLength < bodyCopyBytesMax && bodyLength <= frameBytesMax - 8;
    const total = payload + 8 + (headerPayload + 8) + (oneBodyFrame ? bodyLength + 8 : 0);
    const at = this.room(total);
    const buffer = this.chunk;
    buffer[at] = amqpFrameType.method;
    buffer[at + 1] = channel >>> 8;
    buffer[at + 2] = channel & 0xff;
    writeUint32(buffer, at + 3, payload);
    buffer[at + 7] = 0;
    buffer[at + 8] = 60;
    buffer[at + 9] = 0;
    buffer[at + 10] = 60;
    let position = at + 11;
    buffer[position++] = tagLength;
    position = copySmall(consumerTag, buffer, position);
    writeLonglong(buffer, position, deliveryTag);
    position += 8;
    buffer[position++] = redelivered ? 1 : 0;
    buffer[position++] = exchangeLength;
    position = copySmall(exchangeBytes, buffer, position);
    buffer[position++] = routingKeyLength;
    position = copySmall(routingKeyBytes, buffer, position);
    buffer[position++] = amqpFrameEnd;
    // Content header.
    buffer[position] = amqpFrameType.header;
    buffer[position + 1] = channel >>> 8;
    buffer[position + 2] = channel & 0xff;
    writeUint32(buffer, position + 3, headerPayload);
    buffer[position + 7] = 0;
    buffer[position + 8] = 60;
    buffer[position + 9] = 0;
    buffer[position + 10] = 0;
    writeLonglong(buffer, position + 11, bodyLength);
    position = copySmall(propertiesBytes, buffer, position + 19);
    buffer[position++] = amqpFrameEnd;
    if (!oneBodyFrame) {
      this.bodyFrames(channel, body, frameBytesMax);
      return;
    }
    buffer[position] = amqpFrameType.body;
    buffer[position + 1] = channel >>> 8;
    buffer[position + 2] = channel & 0xff;
    writeUint32(buffer, position + 3, bodyLength);
    position = copySmall(body, buffer, position + 7);
    buffer[position] = amqpFrameEnd;
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
    this.bodyFrames(channel, body, frameBytesMax);
  }

  private bodyFrames(channel: number, body: Buffer, frameBytesMax: number): void {
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

/** A name as a shortstr payload; names from other protocols (an MQTT topic) are cut. */
function shortstrBytes(text: string): Buffer {
  let bytes = Buffer.from(text, "utf8");
  if (bytes.length > 255) bytes = Buffer.from(truncateShortstr(text), "utf8");
  return bytes;
}

/** Copies all of `source` to `target` at `at`; returns the end. Small copies stay in JS. */
function copySmall(source: Buffer, target: Buffer, at: number): number {
  const length = source.length;
  if (length > 64) {
    target.set(source, at);
    return at + length;
  }
  for (let index = 0; index < length; index++) target[at + index] = source[index]!;
  return at + length;
}

function writeUint32(buffer: Buffer, at: number, value: number): void {
  buffer[at] = value >>> 24;
  buffer[at + 1] = (value >>> 16) & 0xff;
  buffer[at + 2] = (value >>> 8) & 0xff;
  buffer[at + 3] = value & 0xff;
}

function writeLonglong(buffer: Buffer, at: number, value: number): void {
  writeUint32(buffer, at, Math.floor(value / twoToThe32));
  writeUint32(buffer, at + 4, value % twoToThe32);
}
