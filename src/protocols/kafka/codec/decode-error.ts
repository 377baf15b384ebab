/**
 * The one error a Kafka decoder throws on untrusted input. Anything else escaping a decoder
 * is a bug in the decoder. The connection layer answers a `KafkaDecodeError` by logging it
 * (reason, offset, a bounded snippet of the frame) and closing the connection: Kafka has no
 * way to reply to a request whose header or body cannot be parsed.
 */

/** Stable short names for why input was rejected; suitable as a metric label. */
export type KafkaDecodeReason =
  | "truncated"
  | "invalid-length"
  | "invalid-varint"
  | "null-not-allowed"
  | "unsupported-version"
  | "invalid-tagged-field";

export class KafkaDecodeError extends Error {
  override readonly name = "KafkaDecodeError";
  readonly reason: KafkaDecodeReason;
  /** Byte position in the decoded buffer where the problem was found. */
  readonly offset: number;

  constructor(reason: KafkaDecodeReason, detail: string, offset: number) {
    super(`kafka decode error (${reason}) at byte ${offset}: ${detail}`);
    this.reason = reason;
    this.offset = offset;
  }
}

export function isKafkaDecodeError(error: unknown): error is KafkaDecodeError {
  return error instanceof KafkaDecodeError;
}
