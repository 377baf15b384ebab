/**
 * Redis stream ids: `<ms>-<seq>`, two unsigned 64-bit integers (t_stream.c `streamID`). Held
 * as bigints because both halves may use the whole 64-bit range (`XADD s 18446744073709551615-1`
 * is legal), which a JS number cannot represent.
 *
 * Parsing follows `streamGenericParseIDOrReply`: `-` and `+` are the smallest and largest ids
 * (rejected by the strict form), a missing sequence takes the caller's default, `<ms>-*` asks
 * XADD to pick the sequence, and anything longer than 127 bytes is invalid.
 */
import { StreamCommandError } from "./stream-errors.ts";

export interface StreamId {
  readonly ms: bigint;
  readonly seq: bigint;
}

export const uint64Max = 0xffff_ffff_ffff_ffffn;
export const minId: StreamId = { ms: 0n, seq: 0n };
export const maxId: StreamId = { ms: uint64Max, seq: uint64Max };

/** Longest id argument accepted (the 128-byte buffer of `streamGenericParseIDOrReply`). */
const idTextBytesMax = 127;

/** The last ms part `formatId` printed, and its text: entries of one millisecond share it. */
let formattedMs = -1n;
let formattedMsText = "";

export function formatId(id: StreamId): string {
  if (id.ms !== formattedMs) {
    formattedMs = id.ms;
    formattedMsText = `${id.ms}-`;
  }
  return formattedMsText + id.seq;
}

export function compareIds(a: StreamId, b: StreamId): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}

export function idsEqual(a: StreamId, b: StreamId): boolean {
  return a.ms === b.ms && a.seq === b.seq;
}

export function isZeroId(id: StreamId): boolean {
  return id.ms === 0n && id.seq === 0n;
}

/** The next id, or null past the largest (`streamIncrID`). */
export function nextId(id: StreamId): StreamId | null {
  if (id.seq < uint64Max) return { ms: id.ms, seq: id.seq + 1n };
  if (id.ms < uint64Max) return { ms: id.ms + 1n, seq: 0n };
  return null;
}

/** The previous id, or null below `0-0` (`streamDecrID`). */
export function previousId(id: StreamId): StreamId | null {
  if (id.seq > 0n) return { ms: id.ms, seq: id.seq - 1n };
  if (id.ms > 0n) return { ms: id.ms - 1n, seq: uint64Max };
  return null;
}

export function maxOf(a: StreamId, b: StreamId): StreamId {
  return compareIds(a, b) >= 0 ? a : b;
}

/**
 * Redis's `string2ull`: a strict decimal (`string2ll`) that is not negative, or else what
 * `strtoull` accepts in full (leading blanks, a `+`, leading zeros), within 64 bits.
 */
export function parseUint64(text: string): bigint | null {
  if (/^(0|-?[1-9][0-9]*)$/.test(text)) {
    if (text.startsWith("-") || text.length > 20) return null;
    const value = BigInt(text);
    return value <= uint64Max ? value : null;
  }
  const match = /^[ \t\n\v\f\r]*\+?([0-9]+)$/.exec(text);
  if (!match) return null;
  const value = BigInt(match[1]!);
  return value <= uint64Max ? value : null;
}

const canonicalId = /^(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,19})$/;

/**
 * The id a record key claims, when the key is an id in canonical form (what XADD writes);
 * null for any other key. Used on every record read, so it rejects quickly.
 */
export function parseCanonicalId(text: string): StreamId | null {
  const match = canonicalId.exec(text);
  if (!match) return null;
  const ms = BigInt(match[1]!);
  const seq = BigInt(match[2]!);
  if (ms > uint64Max || seq > uint64Max) return null;
  return { ms, seq };
}

export interface ParsedId {
  id: StreamId;
  /** False for `<ms>-*` (only with `allowAutoSeq`): XADD picks the sequence. */
  seqGiven: boolean;
}

export interface ParseIdOptions {
  /** Reject `-` and `+` (the "strict" parse). */
  strict?: boolean;
  /** Sequence used when the argument is just `<ms>`. */
  missingSeq?: bigint;
  /** Accept `<ms>-*` (XADD). */
  allowAutoSeq?: boolean;
}

const invalidIdMessage = "ERR Invalid stream ID specified as stream command argument";

/** Parses an id argument or throws Redis's "Invalid stream ID" error. */
export function parseIdArgument(raw: Buffer | string, options: ParseIdOptions = {}): ParsedId {
  const parsed = tryParseIdArgument(raw, options);
  if (!parsed) throw new StreamCommandError(invalidIdMessage);
  return parsed;
}

export function tryParseIdArgument(
  raw: Buffer | string,
  options: ParseIdOptions = {},
): ParsedId | null {
  const length = typeof raw === "string" ? Buffer.byteLength(raw) : raw.length;
  if (length > idTextBytesMax) return null;
  let text = typeof raw === "string" ? raw : raw.toString("latin1");
  // C strings end at the first NUL byte.
  const nul = text.indexOf("\0");
  if (nul >= 0) text = text.slice(0, nul);
  if (text === "-" || text === "+") {
    if (options.strict) return null;
    return { id: text === "-" ? minId : maxId, seqGiven: true };
  }
  const dash = text.indexOf("-");
  const msText = dash >= 0 ? text.slice(0, dash) : text;
  const ms = parseUint64(msText);
  if (ms === null) return null;
  if (dash < 0) return { id: { ms, seq: options.missingSeq ?? 0n }, seqGiven: true };
  const seqText = text.slice(dash + 1);
  if (options.allowAutoSeq && seqText === "*") return { id: { ms, seq: 0n }, seqGiven: false };
  const seq = parseUint64(seqText);
  if (seq === null) return null;
  return { id: { ms, seq }, seqGiven: true };
}

/**
 * An interval bound of XRANGE / XPENDING / XAUTOCLAIM: `(` makes it exclusive (and strict).
 * Returns the inclusive bound, or throws Redis's errors for an exclusive bound that has no
 * neighbour ("invalid start/end ID for the interval").
 */
export function parseIntervalBound(raw: Buffer, side: "start" | "end"): StreamId {
  const missingSeq = side === "start" ? 0n : uint64Max;
  const exclusive = raw.length > 1 && raw[0] === 0x28; // "("
  if (!exclusive) return parseIdArgument(raw, { missingSeq }).id;
  const { id } = parseIdArgument(raw.subarray(1), { strict: true, missingSeq });
  const moved = side === "start" ? nextId(id) : previousId(id);
  if (!moved) throw new StreamCommandError(`ERR invalid ${side} ID for the interval`);
  return moved;
}
