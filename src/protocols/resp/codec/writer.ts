/**
 * RespWriter: encodes replies for one connection in its protocol (RESP2 or RESP3,
 * redis/redis-specifications protocol/RESP2.md and RESP3.md) into chunks ready for one
 * corked write.
 *
 * Small replies are appended to a scratch buffer; a scratch region is handed out as a chunk
 * view and never written again (a fresh scratch is taken when one fills up), so chunks stay
 * valid while the socket holds them, until the owner says that nothing handed out is held
 * any more (`recycle`: the socket took every byte synchronously): then the same scratch is
 * written again from its start, and a connection's output costs no allocation at all.
 * Bulk payloads of `ownChunkBytesMin` bytes or more, and shared pub/sub frames of
 * `sharedFrameOwnChunkBytesMin` or more, become chunks of their own: big payloads are not
 * copied, and one message frame is referenced by every subscriber connection rather than
 * copied into each.
 */
import type { ChannelDelivery } from "../../../core/channels/channel-registry.ts";
import {
  nullArray,
  RespBigNumber,
  RespBoolean,
  RespDouble,
  RespErrorReply,
  RespMap,
  RespPush,
  RespReplies,
  RespSet,
  RespSimple,
  type RespValue,
  RespVerbatim,
} from "./reply.ts";

export type RespProtocolVersion = 2 | 3;

/**
 * A writer's first scratch (what an idle connection holds); each one that fills up is followed
 * by one twice as large, up to `scratchBytesMax`.
 */
const scratchBytesInitial = 1024;
const scratchBytesMax = 16 * 1024;
/** Bulk payloads from this size on are written as their own chunk, without a copy. */
const ownChunkBytesMin = 4 * 1024;
/** Text up to this many UTF-16 units takes `bulkString`'s ASCII path first. */
const shortTextMax = 64;
/**
 * Shared pub/sub frames from this size on are referenced, not copied. Below it, copying into
 * the connection's scratch costs less than one more chunk in the socket's writev (measured
 * with bench/resp.ts: 100-byte messages to 100 subscribers).
 */
const sharedFrameOwnChunkBytesMin = 512;

const crlf = 0x0d0a;

export class RespWriter {
  protocol: RespProtocolVersion = 2;
  private scratch: Buffer = Buffer.allocUnsafe(scratchBytesInitial);
  private segmentStart = 0;
  private position = 0;
  private chunks: Buffer[] = [];
  private chunkedBytes = 0;

  /** Bytes encoded and not yet taken. */
  get pendingBytes(): number {
    return this.chunkedBytes + this.position - this.segmentStart;
  }

  /**
   * The encoded bytes as one chunk when they are one scratch region (the usual case: small
   * replies and messages of one turn), without the array `take` allocates; null otherwise
   * (then call `take`). The writer starts empty again when it returns a chunk.
   */
  takeSingle(): Buffer | null {
    if (this.chunks.length > 0 || this.position === this.segmentStart) return null;
    const chunk = this.scratch.subarray(this.segmentStart, this.position);
    this.segmentStart = this.position;
    return chunk;
  }

  /**
   * Declares every chunk and shared frame handed out so far released (written to the kernel,
   * referenced by nobody): encoding starts again at the start of the current scratch. Does
   * nothing while encoded bytes wait to be taken.
   */
  recycle(): void {
    if (this.position !== this.segmentStart || this.chunks.length > 0) return;
    this.segmentStart = 0;
    this.position = 0;
  }

  /** The encoded chunks, in order; the writer starts empty again. */
  take(): Buffer[] {
    this.seal();
    const chunks = this.chunks;
    this.chunks = [];
    this.chunkedBytes = 0;
    return chunks;
  }

  value(value: RespValue): void {
    if (typeof value === "number") {
      this.integer(value);
    } else if (value === null) {
      this.null();
    } else if (Buffer.isBuffer(value)) {
      this.bulk(value);
    } else if (typeof value === "string") {
      this.bulkString(value);
    } else if (Array.isArray(value)) {
      this.aggregateHeader(0x2a, value.length);
      for (const item of value as readonly RespValue[]) this.value(item);
    } else if (value instanceof RespSimple) {
      this.simple(value.text);
    } else if (value instanceof RespErrorReply) {
      this.error(value.text);
    } else if (value instanceof RespMap) {
      this.mapHeader(value.entries.length);
      for (const [key, item] of value.entries) {
        this.value(key);
        this.value(item);
      }
    } else if (value instanceof RespSet) {
      this.aggregateHeader(this.protocol === 3 ? 0x7e : 0x2a, value.items.length);
      for (const item of value.items) this.value(item);
    } else if (value instanceof RespPush) {
      this.pushHeader(value.items.length);
      for (const item of value.items) this.value(item);
    } else if (value instanceof RespReplies) {
      for (const reply of value.replies) this.value(reply);
    } else if (typeof value === "bigint") {
      this.line(0x3a, value.toString());
    } else if (value instanceof RespDouble) {
      this.double(value.value);
    } else if (value instanceof RespBoolean) {
      if (this.protocol === 3) this.line(0x23, value.value ? "t" : "f");
      else this.integer(value.value ? 1 : 0);
    } else if (value instanceof RespVerbatim) {
      this.verbatim(value.text, value.format);
    } else if (value instanceof RespBigNumber) {
      if (this.protocol === 3) this.line(0x28, value.digits);
      else this.bulkString(value.digits);
    } else if (value === nullArray) {
      if (this.protocol === 3) this.raw("_\r\n");
      else this.raw("*-1\r\n");
    } else {
      throw new Error(`RespWriter: not a reply value: ${String(value)}`);
    }
  }

  simple(text: string): void {
    this.line(0x2b, sanitize(text));
  }

  error(text: string): void {
    this.line(0x2d, sanitize(text));
  }

  integer(value: number): void {
    if (value >= 0 && value < 10 && (value | 0) === value) {
      // `:n\r\n`, the usual PUBLISH reply.
      this.reserve(4);
      const scratch = this.scratch;
      const at = this.position;
      scratch[at] = 0x3a;
      scratch[at + 1] = 0x30 + value;
      scratch[at + 2] = 0x0d;
      scratch[at + 3] = 0x0a;
      this.position = at + 4;
      return;
    }
    if (!Number.isSafeInteger(value)) throw new Error(`RespWriter: ${value} is not an integer`);
    this.reserve(24);
    this.scratch[this.position++] = 0x3a;
    this.digits(value);
    this.crlf();
  }

  null(): void {
    this.raw(this.protocol === 3 ? "_\r\n" : "$-1\r\n");
  }

  bulk(data: Uint8Array): void {
    const length = data.length;
    if (length >= ownChunkBytesMin) {
      this.header(0x24, length);
      this.seal();
      this.chunks.push(Buffer.isBuffer(data) ? data : Buffer.from(data));
      this.chunkedBytes += length;
      this.reserve(2);
      this.crlf();
      return;
    }
    this.reserve(length + 24);
    this.scratch[this.position++] = 0x24;
    this.digits(length);
    this.crlf();
    this.scratch.set(data, this.position);
    this.position += length;
    this.crlf();
  }

  bulkString(text: string): void {
    const count = text.length;
    if (count <= shortTextMax) {
      // Short text (ids, names) is usually ASCII: written char by char, no byteLength pass.
      this.reserve(count + 24);
      const start = this.position;
      const scratch = this.scratch;
      scratch[this.position++] = 0x24;
      this.digits(count);
      this.crlf();
      let at = this.position;
      let i = 0;
      for (; i < count; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) break;
        scratch[at++] = code;
      }
      if (i === count) {
        this.position = at;
        this.crlf();
        return;
      }
      this.position = start; // not ASCII: the general path below rewrites the header
    }
    const length = Buffer.byteLength(text);
    if (length >= ownChunkBytesMin) {
      this.bulk(Buffer.from(text));
      return;
    }
    this.reserve(length + 24);
    this.scratch[this.position++] = 0x24;
    this.digits(length);
    this.crlf();
    this.position += this.scratch.write(text, this.position, "utf8");
    this.crlf();
  }

  arrayHeader(count: number): void {
    this.aggregateHeader(0x2a, count);
  }

  /** RESP3 `%n`; RESP2 a flat array of 2n. */
  mapHeader(count: number): void {
    if (this.protocol === 3) this.aggregateHeader(0x25, count);
    else this.aggregateHeader(0x2a, count * 2);
  }

  /** RESP3 `>n` (out-of-band push); RESP2 an array. */
  pushHeader(count: number): void {
    this.aggregateHeader(this.protocol === 3 ? 0x3e : 0x2a, count);
  }

  double(value: number): void {
    const text = formatDouble(value);
    if (this.protocol === 3) this.line(0x2c, text);
    else this.bulkString(text);
  }

  verbatim(text: string, format = "txt"): void {
    if (this.protocol === 2) {
      this.bulkString(text);
      return;
    }
    const body = Buffer.from(`${format}:${text}`);
    this.header(0x3d, body.length);
    this.reserve(body.length + 2);
    this.scratch.set(body, this.position);
    this.position += body.length;
    this.crlf();
  }

  /** A pre-encoded frame shared with other connections (a pub/sub message). */
  frame(frame: Buffer): void {
    if (frame.length >= sharedFrameOwnChunkBytesMin) {
      this.seal();
      this.chunks.push(frame);
      this.chunkedBytes += frame.length;
      return;
    }
    this.reserve(frame.length);
    this.scratch.set(frame, this.position);
    this.position += frame.length;
  }

  /**
   * Encodes a pub/sub delivery (`encodeDelivery`'s frame) here, in `protocol`, and returns a
   * view of the encoded bytes: scratch regions are never written again, so other connections
   * can `frame()` it (copy it) without a frame buffer being allocated for the first one.
   * Without `share`, nothing is returned (no view made).
   */
  delivery(
    delivery: ChannelDelivery,
    protocol: RespProtocolVersion,
    share: boolean,
  ): Buffer | undefined {
    const prefix = framePrefixes[delivery.kind][protocol === 3 ? 1 : 0];
    const pattern = delivery.pattern;
    const channel = delivery.channel;
    const payload = delivery.payload;
    const size =
      prefix.length +
      (pattern === null ? 0 : bulkSize(pattern.length)) +
      bulkSize(channel.length) +
      bulkSize(payload.length);
    this.reserve(size);
    const scratch = this.scratch;
    const start = this.position;
    scratch.set(prefix, start);
    let at = start + prefix.length;
    if (pattern !== null) at = writeBulk(scratch, at, pattern);
    at = writeBulk(scratch, at, channel);
    at = writeBulk(scratch, at, payload);
    this.position = at;
    return share ? scratch.subarray(start, at) : undefined;
  }

  private aggregateHeader(prefix: number, count: number): void {
    this.header(prefix, count);
  }

  private header(prefix: number, count: number): void {
    this.reserve(24);
    this.scratch[this.position++] = prefix;
    this.digits(count);
    this.crlf();
  }

  private line(prefix: number, text: string): void {
    const length = Buffer.byteLength(text, "latin1");
    this.reserve(length + 3);
    this.scratch[this.position++] = prefix;
    this.position += this.scratch.write(text, this.position, "latin1");
    this.crlf();
  }

  private raw(text: string): void {
    this.reserve(text.length);
    this.position += this.scratch.write(text, this.position, "latin1");
  }

  private crlf(): void {
    this.scratch.writeUInt16BE(crlf, this.position);
    this.position += 2;
  }

  /** Writes a safe integer in decimal; the caller reserved 21 bytes. */
  private digits(value: number): void {
    if (value < 0 || value > 0xffffffff) {
      this.position += this.scratch.write(String(value), this.position, "latin1");
      return;
    }
    if (value < 10) {
      this.scratch[this.position++] = 0x30 + value;
      return;
    }
    let length = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) length++;
    let at = this.position + length - 1;
    for (let rest = value; at >= this.position; at--) {
      this.scratch[at] = 0x30 + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    this.position += length;
  }

  private reserve(bytes: number): void {
    if (this.position + bytes <= this.scratch.length) return;
    this.seal();
    const grown = Math.min(this.scratch.length * 2, scratchBytesMax);
    this.scratch = Buffer.allocUnsafe(Math.max(grown, bytes));
    this.segmentStart = 0;
    this.position = 0;
  }

  private seal(): void {
    if (this.position > this.segmentStart) {
      this.chunks.push(this.scratch.subarray(this.segmentStart, this.position));
      this.chunkedBytes += this.position - this.segmentStart;
      this.segmentStart = this.position;
    }
  }
}

/** Error and status lines cannot hold a line end: Redis maps `\r` and `\n` to spaces. */
function sanitize(text: string): string {
  return text.includes("\r") || text.includes("\n") ? text.replace(/[\r\n]/g, " ") : text;
}

/** A double as Redis prints it: shortest round-trip digits, `inf`, `-inf`, `nan`, `-0`. */
export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Number.POSITIVE_INFINITY) return "inf";
  if (value === Number.NEGATIVE_INFINITY) return "-inf";
  if (Object.is(value, -0)) return "-0";
  return String(value);
}

/** `*3\r\n$7\r\nmessage\r\n` and the like: the fixed start of a delivery frame. */
function framePrefix(aggregate: string, count: number, kind: string): Buffer {
  return Buffer.from(`${aggregate}${count}\r\n$${kind.length}\r\n${kind}\r\n`, "latin1");
}

const framePrefixes = {
  message: [framePrefix("*", 3, "message"), framePrefix(">", 3, "message")],
  pmessage: [framePrefix("*", 4, "pmessage"), framePrefix(">", 4, "pmessage")],
  smessage: [framePrefix("*", 3, "smessage"), framePrefix(">", 3, "smessage")],
} as const;

/**
 * The frame of one pub/sub delivery, `*3 message channel payload` (`*4 pmessage pattern
 * channel payload`), as a RESP2 array or a RESP3 push, in one buffer.
 */
export function encodeDelivery(delivery: ChannelDelivery, protocol: RespProtocolVersion): Buffer {
  const prefix = framePrefixes[delivery.kind][protocol === 3 ? 1 : 0];
  const pattern = delivery.pattern;
  const channel = delivery.channel;
  const payload = delivery.payload;
  const size =
    prefix.length +
    (pattern === null ? 0 : bulkSize(pattern.length)) +
    bulkSize(channel.length) +
    bulkSize(payload.length);
  const frame = Buffer.allocUnsafe(size);
  frame.set(prefix, 0);
  let at = prefix.length;
  if (pattern !== null) at = writeBulk(frame, at, pattern);
  at = writeBulk(frame, at, channel);
  writeBulk(frame, at, payload);
  return frame;
}

function decimalDigits(value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits;
}

function bulkSize(length: number): number {
  return 1 + decimalDigits(length) + 2 + length + 2;
}

function writeBulk(frame: Buffer, at: number, data: Buffer): number {
  const length = data.length;
  frame[at++] = 0x24;
  const digits = decimalDigits(length);
  let rest = length;
  for (let i = at + digits - 1; i >= at; i--) {
    frame[i] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  at += digits;
  frame[at++] = 0x0d;
  frame[at++] = 0x0a;
  frame.set(data, at);
  at += length;
  frame[at++] = 0x0d;
  frame[at++] = 0x0a;
  return at;
}
