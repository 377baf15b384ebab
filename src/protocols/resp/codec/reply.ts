/**
 * Reply values: what command handlers return, before encoding. The connection's protocol
 * (RESP2 or RESP3, chosen by HELLO) decides the bytes; handlers never see the wire format.
 *
 * | value                         | RESP3                  | RESP2 (Redis's fallback)          |
 * | ----------------------------- | ---------------------- | --------------------------------- |
 * | `number` (integer), `bigint`  | `:n`                   | `:n`                              |
 * | `Buffer`, `string` (UTF-8)    | `$len` bulk            | `$len` bulk                       |
 * | `null`                        | `_`                    | `$-1` (null bulk)                 |
 * | `nullArray`                   | `_`                    | `*-1` (null array: XREAD timeout) |
 * | `RespValue[]`                 | `*n` array             | `*n`                              |
 * | `RespSimple`                  | `+text`                | `+text`                           |
 * | `RespErrorReply`              | `-text`                | `-text`                           |
 * | `RespMap`                     | `%n`                   | `*2n` flat key/value array        |
 * | `RespSet`                     | `~n`                   | `*n`                              |
 * | `RespPush`                    | `>n`                   | `*n`                              |
 * | `RespDouble`                  | `,1.5` `,inf` `,nan`   | bulk `1.5` / `inf`                |
 * | `RespBoolean`                 | `#t` / `#f`            | `:1` / `:0`                       |
 * | `RespVerbatim`                | `=len\r\ntxt:...`      | bulk (the text)                   |
 * | `RespBigNumber`               | `(digits`              | bulk (the digits)                 |
 * | `RespReplies`                 | several replies in a row (SUBSCRIBE a b answers twice)     |
 *
 * Simple-string and error texts are latin1 (one char per byte), so a client's bytes quoted in
 * an error come back unchanged; `\r` and `\n` in them become spaces, as Redis does.
 */

export class RespSimple {
  constructor(readonly text: string) {}
}

/** An error reply; `text` starts with the prefix word (`ERR`, `WRONGTYPE`, `NOPROTO`...). */
export class RespErrorReply {
  constructor(readonly text: string) {}
}

export class RespMap {
  constructor(readonly entries: ReadonlyArray<readonly [RespValue, RespValue]>) {}
}

export class RespSet {
  constructor(readonly items: readonly RespValue[]) {}
}

export class RespPush {
  constructor(readonly items: readonly RespValue[]) {}
}

export class RespDouble {
  constructor(readonly value: number) {}
}

export class RespBoolean {
  constructor(readonly value: boolean) {}
}

export class RespVerbatim {
  /** `format` is three characters: `txt` or `mkd`. */
  constructor(
    readonly text: string,
    readonly format = "txt",
  ) {}
}

export class RespBigNumber {
  constructor(readonly digits: string) {}
}

/** Several top-level replies to one command, written one after the other. */
export class RespReplies {
  constructor(readonly replies: readonly RespValue[]) {}
}

class RespNullArray {
  readonly kind = "null-array";
}

/** RESP2's null array (`*-1`), RESP3's null: XREAD/BLPOP timeouts, EXEC aborts. */
export const nullArray: RespNullArray = new RespNullArray();

export type RespValue =
  | null
  | number
  | bigint
  | string
  | Buffer
  | readonly RespValue[]
  | RespSimple
  | RespErrorReply
  | RespMap
  | RespSet
  | RespPush
  | RespDouble
  | RespBoolean
  | RespVerbatim
  | RespBigNumber
  | RespReplies
  | RespNullArray;

export const ok = new RespSimple("OK");
export const pong = new RespSimple("PONG");

/** `-ERR <text>`, Redis's generic error. */
export function errorReply(text: string): RespErrorReply {
  return new RespErrorReply(`ERR ${text}`);
}

/** Redis's `-ERR wrong number of arguments for '<name>' command` (name as `client|list`). */
export function wrongArity(fullName: string): RespErrorReply {
  return errorReply(`wrong number of arguments for '${fullName}' command`);
}

export const syntaxError = errorReply("syntax error");
export const notAnInteger = errorReply("value is not an integer or out of range");

/** Redis's HELP replies: one status line per element (`addReplyHelp`). */
export function helpReply(lines: readonly string[]): RespValue {
  return lines.map((line) => new RespSimple(line));
}
