/**
 * Redis's glob matching (`stringmatchlen` in redis/src/util.c), byte for byte, for channel
 * patterns (PSUBSCRIBE, PUBSUB CHANNELS). Clients rely on Redis's exact behaviour, edge cases
 * included, so this follows its rules rather than a "clean" glob:
 *
 * - `*` any run of bytes, `?` one byte, `\x` the byte x literally;
 * - `[abc]`, `[^abc]`, `[a-z]` (reversed ranges `[z-a]` work too), `\` escapes inside a
 *   class; a class that never closes (`[abc`) is a class up to the end of the pattern, and a
 *   lone `[` matches nothing;
 * - range ends compare as C `char`, which is signed on the platforms Redis ships on, so a byte
 *   >= 0x80 sorts below ASCII in a range (`[a-\xff]` is -1..97: 0xff and 0x00-0x61);
 * - the loop stops when either the pattern or the subject is used up, and the match needs
 *   both used up: an empty subject matches only the empty pattern (not even `*`), as in
 *   Redis 7;
 * - reading past the end of the pattern sees the C string terminator (a zero byte);
 * - after a `*` fails to match anywhere in the rest of the subject, no earlier `*` can do
 *   better (`skipLongerMatches`), which keeps abusive patterns linear-ish; recursion deeper
 *   than `channelPatternNestingMax` is no match.
 *
 * Pure and allocation-free; not re-entrant (the skip flag is module state, set per call).
 */
import { channelPatternNestingMax } from "../../config/limits.ts";

const star = 0x2a; // *
const question = 0x3f; // ?
const open = 0x5b; // [
const close = 0x5d; // ]
const caret = 0x5e; // ^
const dash = 0x2d; // -
const backslash = 0x5c; // \

/** Set when a `*` found no match for the rest of the pattern anywhere in the subject. */
let skipLongerMatches = false;

/** True when `subject` matches the glob `pattern` exactly as Redis decides it. */
export function globMatch(pattern: Uint8Array, subject: Uint8Array): boolean {
  skipLongerMatches = false;
  return matchFrom(pattern, 0, subject, 0, 0);
}

/** True when the pattern has no glob syntax, so only the identical channel name matches it. */
export function isLiteralPattern(pattern: Uint8Array): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const b = pattern[i]!;
    if (b === star || b === question || b === open || b === backslash) return false;
  }
  return pattern.length > 0;
}

/** The byte at `index`, or 0 past the end: C reads the string terminator there. */
function byteAt(bytes: Uint8Array, index: number): number {
  return index < bytes.length ? bytes[index]! : 0;
}

/** A byte as a C `char` (signed on x86 and ARM Linux builds of Redis). */
function signedChar(byte: number): number {
  return (byte << 24) >> 24;
}

function matchFrom(
  pattern: Uint8Array,
  p: number,
  subject: Uint8Array,
  s: number,
  nesting: number,
): boolean {
  if (nesting > channelPatternNestingMax) return false;
  const patternEnd = pattern.length;
  const subjectEnd = subject.length;
  while (p < patternEnd && s < subjectEnd) {
    switch (pattern[p]) {
      case star: {
        while (byteAt(pattern, p + 1) === star) p++;
        if (p === patternEnd - 1) return true;
        while (s < subjectEnd) {
          if (matchFrom(pattern, p + 1, subject, s, nesting + 1)) return true;
          if (skipLongerMatches) return false;
          s++;
        }
        skipLongerMatches = true;
        return false;
      }
      case question:
        s++;
        break;
      case open: {
        p++;
        const negate = byteAt(pattern, p) === caret;
        if (negate) p++;
        const byte = subject[s]!;
        let matched = false;
        for (;;) {
          const remaining = patternEnd - p;
          const current = byteAt(pattern, p);
          if (current === backslash && remaining >= 2) {
            p++;
            if (pattern[p] === byte) matched = true;
          } else if (current === close) {
            break;
          } else if (remaining <= 0) {
            // Unterminated class: step back so the common advance below ends the pattern.
            p--;
            break;
          } else if (remaining >= 3 && pattern[p + 1] === dash) {
            let start = signedChar(pattern[p]!);
            let end = signedChar(pattern[p + 2]!);
            if (start > end) [start, end] = [end, start];
            const c = signedChar(byte);
            p += 2;
            if (c >= start && c <= end) matched = true;
          } else if (current === byte) {
            matched = true;
          }
          p++;
        }
        if (negate) matched = !matched;
        if (!matched) return false;
        s++;
        break;
      }
      case backslash:
        if (patternEnd - p >= 2) p++;
        if (pattern[p] !== subject[s]) return false;
        s++;
        break;
      default:
        if (pattern[p] !== subject[s]) return false;
        s++;
        break;
    }
    p++;
    if (s === subjectEnd) {
      while (byteAt(pattern, p) === star) p++;
      break;
    }
  }
  return p === patternEnd && s === subjectEnd;
}
