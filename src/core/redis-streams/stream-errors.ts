/**
 * Errors of the Redis stream commands, worded exactly as Redis words them (t_stream.c), so
 * that clients matching on the text (`BUSYGROUP`, `NOGROUP`...) behave as against Redis. The
 * message starts with the RESP error prefix word; the RESP layer writes it after `-`.
 *
 * Storage failures and other operating errors stay `WharfError`s (catalog codes); these are
 * the command-level refusals that Redis itself defines.
 */
export class StreamCommandError extends Error {
  constructor(readonly reply: string) {
    super(reply);
    this.name = "StreamCommandError";
  }

  /** The first word: `ERR`, `WRONGTYPE`, `NOGROUP`, `BUSYGROUP`. */
  get prefix(): string {
    const space = this.reply.indexOf(" ");
    return space < 0 ? this.reply : this.reply.slice(0, space);
  }
}

export const wrongTypeError = (): StreamCommandError =>
  new StreamCommandError("WRONGTYPE Operation against a key holding the wrong kind of value");

export const syntaxError = (): StreamCommandError => new StreamCommandError("ERR syntax error");

export const noSuchKeyError = (): StreamCommandError => new StreamCommandError("ERR no such key");

/** Redis prints names with `%s`: the bytes up to the first NUL. */
export function printable(name: Buffer | string): string {
  const text = typeof name === "string" ? name : name.toString("latin1");
  const nul = text.indexOf("\0");
  return nul >= 0 ? text.slice(0, nul) : text;
}
