/**
 * Incremental RESP request parser: bytes in, commands (argument vectors) out. It accepts what
 * a Redis server accepts from a client (redis/src/networking.c, `processInlineBuffer` and
 * `processMultibulkBuffer`), with Redis's protocol error texts:
 *
 *   multibulk:  *<count>\r\n then <count> times $<length>\r\n<bytes>\r\n
 *   inline:     a line of space-separated words, with "double" and 'single' quoting
 *               (sdssplitargs rules: \xHH, \n, \r, \t, \b, \a escapes inside double quotes)
 *
 * A request starting with `*` is multibulk, anything else inline. `*0` and negative counts
 * are empty requests (skipped), as are blank inline lines. Like Redis, the two bytes after a
 * count line's `\r` and after a bulk's data are skipped without being checked.
 *
 * `next()` returns a command, `needMore`, or a `RespProtocolError`; it never throws on short
 * or bad input. After an error the parser stays failed: the connection is to be closed.
 *
 * Split invariance: the result never depends on how the bytes were cut into chunks. Redis
 * checks the 64 KiB line bound only while a line end is missing, so a long line that arrives
 * whole passes there and fails when split; here a line (inline request, count line) longer
 * than `respInlineBytesMax` fails either way. The fuzz test checks this property.
 *
 * Buffers: arguments of multibulk requests are views of the input chunks (no copy), except
 * the first (the command name), which is the previous request's name Buffer when the bytes
 * are the same (`commandName`): never mutate arguments. Buffered
 * input is never written to after it was received, so views stay valid after the parser moves
 * on. A bulk larger than what is buffered is gathered as a list of chunks and joined once.
 */
import {
  respBulkBytesMaxDefault,
  respInlineBytesMax,
  respMultibulkLengthMax,
} from "../../../config/limits.ts";

export const needMore = Symbol("resp-need-more");

/** Stable reasons, usable as metric labels; `message` is Redis's reply text. */
export type RespProtocolErrorReason =
  | "too-big-inline-request"
  | "unbalanced-quotes"
  | "too-big-multibulk-count"
  | "invalid-multibulk-length"
  | "too-big-bulk-count"
  | "expected-dollar"
  | "invalid-bulk-length";

export class RespProtocolError {
  constructor(
    readonly reason: RespProtocolErrorReason,
    /** Redis's wording after `-ERR `, e.g. `Protocol error: invalid bulk length`. */
    readonly message: string,
    /** The buffered input around the error, for a log snippet. */
    readonly input: Buffer,
    /** Offset in `input` where the offending request starts. */
    readonly offset: number,
  ) {}
}

export type RespParseResult = Buffer[] | typeof needMore | RespProtocolError;

const cr = 0x0d;
const lf = 0x0a;
const star = 0x2a;
const dollar = 0x24;
const empty = Buffer.alloc(0);
/** First arguments up to this length are compared with the previous one (`commandName`). */
const commandNameBytesMax = 32;
/** A partial bulk larger than this is gathered as chunks and joined once, not per chunk. */
const gatherBytesMin = 64 * 1024;

export interface RespParserLimits {
  bulkBytesMax: number;
  multibulkLengthMax: number;
  inlineBytesMax: number;
}

export class RespParser {
  private buffer: Buffer = empty;
  private offset = 0;
  /** Arguments of the multibulk request being read; null between requests. */
  private argv: Buffer[] | null = null;
  private argsRemaining = 0;
  /** Length of the bulk being waited for; -1 while its `$` line is not read yet. */
  private bulkLength = -1;
  /** Chunks gathered for a large bulk until `gatherNeeded` bytes are there. */
  private gathered: Buffer[] | null = null;
  private gatheredBytes = 0;
  private gatherNeeded = 0;
  private failure: RespProtocolError | null = null;
  /** The first argument of the last multibulk request (`commandName`). */
  private lastCommandName: Buffer = empty;
  private readonly limits: RespParserLimits;

  constructor(limits: Partial<RespParserLimits> = {}) {
    this.limits = {
      bulkBytesMax: respBulkBytesMaxDefault,
      multibulkLengthMax: respMultibulkLengthMax,
      inlineBytesMax: respInlineBytesMax,
      ...limits,
    };
  }

  /** Bytes received and not yet parsed into a command. */
  get bufferedBytes(): number {
    return this.buffer.length - this.offset + this.gatheredBytes;
  }

  /** True between requests (no partial request buffered). */
  get idle(): boolean {
    return this.argv === null && this.bufferedBytes === 0;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0 || this.failure !== null) return;
    if (this.gathered !== null) {
      this.gathered.push(chunk);
      this.gatheredBytes += chunk.length;
      if (this.gatheredBytes >= this.gatherNeeded) {
        this.buffer = Buffer.concat(this.gathered, this.gatheredBytes);
        this.offset = 0;
        this.gathered = null;
        this.gatheredBytes = 0;
      }
      return;
    }
    if (this.offset >= this.buffer.length) {
      this.buffer = chunk;
      this.offset = 0;
      return;
    }
    // A new buffer: the old one may still be viewed by arguments handed out.
    const rest = this.buffer.length - this.offset;
    const joined = Buffer.allocUnsafe(rest + chunk.length);
    this.buffer.copy(joined, 0, this.offset);
    chunk.copy(joined, rest);
    this.buffer = joined;
    this.offset = 0;
  }

  /** `nextPublish`'s result: the channel and the message, as ranges of `publishInput`. */
  publishInput: Buffer = empty;
  publishChannelStart = 0;
  publishChannelEnd = 0;
  publishMessageStart = 0;
  publishMessageEnd = 0;

  /**
   * Fast path for the commonest request of a publisher: when the buffered input starts with a
   * whole `*3 $7 PUBLISH $n channel $m message` (any case, plain `\r\n` line ends, no
   * leading zeros), consumes it and sets the `publish*` ranges, without an argument vector or
   * argument views; returns false and consumes nothing otherwise (then `next()` reads the
   * request, with the same outcome: anything unusual, partial or over a limit falls back).
   */
  nextPublish(): boolean {
    if (this.argv !== null || this.gathered !== null || this.failure !== null) return false;
    const b = this.buffer;
    const start = this.offset;
    // *3\r\n$7\r\nPUBLISH\r\n, then at least `$0\r\n\r\n` twice.
    if (b.length - start < 29) return false;
    if (
      b[start] !== star ||
      b[start + 1] !== 0x33 ||
      b[start + 2] !== cr ||
      b[start + 3] !== lf ||
      b[start + 4] !== dollar ||
      b[start + 5] !== 0x37 ||
      b[start + 6] !== cr ||
      b[start + 7] !== lf ||
      (b[start + 8]! | 0x20) !== 0x70 || // p
      (b[start + 9]! | 0x20) !== 0x75 || // u
      (b[start + 10]! | 0x20) !== 0x62 || // b
      (b[start + 11]! | 0x20) !== 0x6c || // l
      (b[start + 12]! | 0x20) !== 0x69 || // i
      (b[start + 13]! | 0x20) !== 0x73 || // s
      (b[start + 14]! | 0x20) !== 0x68 || // h
      b[start + 15] !== cr ||
      b[start + 16] !== lf ||
      this.limits.multibulkLengthMax < 3 ||
      this.limits.bulkBytesMax < 7
    ) {
      return false;
    }
    const channelEnd = this.fastBulkEnd(b, start + 17);
    if (channelEnd < 0) return false;
    const channelStart = this.fastBulkStart;
    const messageEnd = this.fastBulkEnd(b, channelEnd + 2);
    if (messageEnd < 0) return false;
    this.publishInput = b;
    this.publishChannelStart = channelStart;
    this.publishChannelEnd = channelEnd;
    this.publishMessageStart = this.fastBulkStart;
    this.publishMessageEnd = messageEnd;
    this.offset = messageEnd + 2;
    return true;
  }

  /** Where `fastBulkEnd`'s bulk data starts. */
  private fastBulkStart = 0;

  /**
   * A whole bulk `$<len>\r\n<data>` plus the two (unchecked) bytes after it, at `at`: the
   * end of its data, or -1 when anything is missing, unusual or over a limit.
   */
  private fastBulkEnd(b: Buffer, at: number): number {
    if (b[at] !== dollar) return -1;
    let i = at + 1;
    let length = 0;
    const first = b[i];
    if (first === 0x30) {
      i++;
    } else {
      for (let digits = 0; ; digits++) {
        const digit = b[i]! - 0x30; // NaN past the end
        if (!(digit >= 0 && digit <= 9)) break;
        if (digits === 9) return -1;
        length = length * 10 + digit;
        i++;
      }
      if (length === 0) return -1; // no digits or a leading zero
    }
    if (b[i] !== cr || b[i + 1] !== lf) return -1;
    if (i - at > this.limits.inlineBytesMax || length > this.limits.bulkBytesMax) return -1;
    const dataStart = i + 2;
    const dataEnd = dataStart + length;
    if (dataEnd + 2 > b.length) return -1;
    this.fastBulkStart = dataStart;
    return dataEnd;
  }

  /** The next complete command, `needMore`, or the protocol error that ends the connection. */
  next(): RespParseResult {
    if (this.failure !== null) return this.failure;
    if (this.gathered !== null) return needMore;
    for (;;) {
      if (this.argv !== null) return this.continueMultibulk();
      if (this.offset >= this.buffer.length) return needMore;
      if (this.buffer[this.offset] === star) {
        const started = this.startMultibulk();
        if (started !== true) return started;
        if (this.argv === null) continue; // an empty request (*0, *-1): skipped
        return this.continueMultibulk();
      }
      const inline = this.parseInline();
      if (inline === null) continue; // a blank line: skipped
      return inline;
    }
  }

  private fail(reason: RespProtocolErrorReason, message: string, at: number): RespProtocolError {
    this.failure = new RespProtocolError(reason, message, this.buffer, at);
    return this.failure;
  }

  /** Reads `*<count>\r\n`: true when read (argv set unless empty), else needMore or an error. */
  private startMultibulk(): true | typeof needMore | RespProtocolError {
    const buffer = this.buffer;
    const start = this.offset;
    const lineEnd = findLineEnd(buffer, start, cr, this.limits.inlineBytesMax);
    if (lineEnd === lineTooLong) {
      return this.fail(
        "too-big-multibulk-count",
        "Protocol error: too big mbulk count string",
        start,
      );
    }
    // The count line needs its \r and the byte after it (not checked, as in Redis).
    if (lineEnd === lineIncomplete || lineEnd + 1 >= buffer.length) return needMore;
    const count = parseRedisInteger(buffer, start + 1, lineEnd);
    if (count === null || count > this.limits.multibulkLengthMax) {
      return this.fail(
        "invalid-multibulk-length",
        "Protocol error: invalid multibulk length",
        start,
      );
    }
    this.offset = lineEnd + 2;
    if (count > 0) {
      this.argv = [];
      this.argsRemaining = count;
      this.bulkLength = -1;
    }
    return true;
  }

  private continueMultibulk(): RespParseResult {
    const argv = this.argv!;
    while (this.argsRemaining > 0) {
      const buffer = this.buffer;
      if (this.bulkLength < 0) {
        const start = this.offset;
        if (start >= buffer.length) return needMore;
        const lineEnd = findLineEnd(buffer, start, cr, this.limits.inlineBytesMax);
        if (lineEnd === lineTooLong) {
          return this.fail(
            "too-big-bulk-count",
            "Protocol error: too big bulk count string",
            start,
          );
        }
        if (lineEnd === lineIncomplete || lineEnd + 1 >= buffer.length) return needMore;
        if (buffer[start] !== dollar) {
          return this.fail(
            "expected-dollar",
            `Protocol error: expected '$', got '${String.fromCharCode(buffer[start]!)}'`,
            start,
          );
        }
        const length = parseRedisInteger(buffer, start + 1, lineEnd);
        if (length === null || length < 0 || length > this.limits.bulkBytesMax) {
          return this.fail("invalid-bulk-length", "Protocol error: invalid bulk length", start);
        }
        this.bulkLength = length;
        this.offset = lineEnd + 2;
      }
      const dataStart = this.offset;
      const needed = this.bulkLength + 2;
      const available = buffer.length - dataStart;
      if (available < needed) {
        if (needed > gatherBytesMin) this.startGathering(needed);
        return needMore;
      }
      const length = this.bulkLength;
      if (argv.length === 0 && length <= commandNameBytesMax) {
        argv.push(this.commandName(buffer, dataStart, length));
      } else {
        argv.push(buffer.subarray(dataStart, dataStart + length));
      }
      this.offset = dataStart + needed;
      this.bulkLength = -1;
      this.argsRemaining--;
    }
    this.argv = null;
    return argv;
  }

  /**
   * The first argument (the command name): the previous request's name Buffer when the bytes
   * are the same (a client mostly repeats one command), else a new view. Saves a view per
   * request and lets the session find the command by identity (`lastCommandName`).
   */
  private commandName(buffer: Buffer, start: number, length: number): Buffer {
    const last = this.lastCommandName;
    if (last.length === length) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (last[i] !== buffer[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return last;
    }
    // A copy: a view would keep the whole input chunk alive as long as it is cached.
    const name = Buffer.from(buffer.subarray(start, start + length));
    this.lastCommandName = name;
    return name;
  }

  /** Waits for a large bulk without joining buffers on every chunk (quadratic copying). */
  private startGathering(needed: number): void {
    const rest = this.buffer.subarray(this.offset);
    this.gathered = [rest];
    this.gatheredBytes = rest.length;
    this.gatherNeeded = needed;
    this.buffer = empty;
    this.offset = 0;
  }

  /** One inline request; null for a blank line (skipped). */
  private parseInline(): Buffer[] | null | typeof needMore | RespProtocolError {
    const buffer = this.buffer;
    const start = this.offset;
    const newline = findLineEnd(buffer, start, lf, this.limits.inlineBytesMax);
    if (newline === lineTooLong) {
      return this.fail("too-big-inline-request", "Protocol error: too big inline request", start);
    }
    if (newline === lineIncomplete) return needMore;
    let lineEnd = newline;
    if (lineEnd > start && buffer[lineEnd - 1] === cr) lineEnd--;
    const argv = splitInlineArguments(buffer, start, lineEnd);
    if (argv === null) {
      return this.fail("unbalanced-quotes", "Protocol error: unbalanced quotes in request", start);
    }
    this.offset = newline + 1;
    return argv.length === 0 ? null : argv;
  }
}

const lineIncomplete = -1;
/** Bytes `findLineEnd` scans itself before asking `indexOf`. */
const shortLineBytes = 32;
const lineTooLong = -2;

/**
 * Index of the first `terminator` at or after `start` when at most `maxBytes` bytes precede
 * it; `lineTooLong` when more than `maxBytes` bytes are buffered without it (Redis's
 * PROTO_INLINE_MAX_SIZE check), else `lineIncomplete`.
 */
function findLineEnd(buffer: Buffer, start: number, terminator: number, maxBytes: number): number {
  // Count and length lines are a few bytes: scanning them here costs less than a native call.
  const scanEnd = Math.min(buffer.length, start + shortLineBytes);
  for (let i = start; i < scanEnd; i++) {
    if (buffer[i] === terminator) return i <= start + maxBytes ? i : lineTooLong;
  }
  if (scanEnd === buffer.length)
    return buffer.length > start + maxBytes ? lineTooLong : lineIncomplete;
  const found = buffer.indexOf(terminator, scanEnd);
  const limit = start + maxBytes;
  if (found >= 0) return found <= limit ? found : lineTooLong;
  return buffer.length > limit ? lineTooLong : lineIncomplete;
}

/**
 * Redis's `string2ll` on [start, end): an optional `-`, no `+`, no leading zeros, no spaces;
 * null when invalid or outside a signed 64-bit integer. Values beyond 2^53 are returned
 * rounded: callers only compare them with limits far below.
 */
export function parseRedisInteger(bytes: Uint8Array, start: number, end: number): number | null {
  if (end <= start) return null;
  if (end - start === 1 && bytes[start] === 0x30) return 0;
  let i = start;
  const negative = bytes[i] === 0x2d;
  if (negative) {
    i++;
    if (i === end) return null;
  }
  const first = bytes[i]!;
  if (first < 0x31 || first > 0x39) return null;
  if (end - i > 19) return null; // more digits than any int64
  let value = 0;
  for (; i < end; i++) {
    const digit = bytes[i]! - 0x30;
    if (digit < 0 || digit > 9) return null;
    value = value * 10 + digit;
  }
  if (end - start >= 16) {
    // Beyond 2^53 doubles are inexact: decide overflow, and round, from the exact value.
    const exact = BigInt(String.fromCharCode(...bytes.subarray(start, end)));
    if (exact > 9223372036854775807n || exact < -9223372036854775808n) return null;
    return Number(exact);
  }
  return negative ? -value : value;
}

/** C's isspace in the "C" locale. */
function isSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

function isHexDigit(byte: number): boolean {
  return (
    (byte >= 0x30 && byte <= 0x39) ||
    (byte >= 0x61 && byte <= 0x66) ||
    (byte >= 0x41 && byte <= 0x46)
  );
}

function hexValue(byte: number): number {
  if (byte <= 0x39) return byte - 0x30;
  return (byte | 0x20) - 0x61 + 10;
}

/**
 * Redis's `sdssplitargs` on the bytes [start, end) of an inline request; null for unbalanced
 * quotes or a closing quote not followed by a space. The line is a C string there, so a zero
 * byte ends it.
 */
export function splitInlineArguments(bytes: Buffer, start: number, end: number): Buffer[] | null {
  const at = (index: number): number => (index < end ? bytes[index]! : 0);
  const argv: Buffer[] = [];
  let p = start;
  for (;;) {
    while (at(p) !== 0 && isSpace(at(p))) p++;
    if (at(p) === 0) return argv;
    let inDouble = false;
    let inSingle = false;
    let done = false;
    const current: number[] = [];
    while (!done) {
      const c = at(p);
      if (inDouble) {
        if (c === 0x5c && at(p + 1) === 0x78 && isHexDigit(at(p + 2)) && isHexDigit(at(p + 3))) {
          current.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === 0x5c && at(p + 1) !== 0) {
          p++;
          current.push(escapedByte(at(p)));
        } else if (c === 0x22) {
          // The closing quote must be followed by a space or nothing at all.
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null; // unterminated quotes
        } else {
          current.push(c);
        }
      } else if (inSingle) {
        if (c === 0x5c && at(p + 1) === 0x27) {
          p++;
          current.push(0x27);
        } else if (c === 0x27) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          current.push(c);
        }
      } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0) {
        done = true;
      } else if (c === 0x22) {
        inDouble = true;
      } else if (c === 0x27) {
        inSingle = true;
      } else {
        current.push(c);
      }
      if (at(p) !== 0) p++;
    }
    argv.push(Buffer.from(current));
  }
}

function escapedByte(byte: number): number {
  switch (byte) {
    case 0x6e: // n
      return 0x0a;
    case 0x72: // r
      return 0x0d;
    case 0x74: // t
      return 0x09;
    case 0x62: // b
      return 0x08;
    case 0x61: // a
      return 0x07;
    default:
      return byte;
  }
}
