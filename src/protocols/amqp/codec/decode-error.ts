/**
 * The one error an AMQP decoder throws (or, from the frame splitter, returns) on untrusted
 * input. Anything else escaping a decoder is a bug in the decoder.
 *
 * Each error carries the AMQP 0-9-1 reply code the connection must be closed with
 * (`connection.close` with that code, then close the socket; spec 4.2.3 and the reply-code
 * table in section 1.3 of the XML). The codes used here are all hard errors:
 * - 501 FRAME_ERROR: the frame could not be cut out (bad frame-end, oversize, unknown type,
 *   heartbeat on a channel other than 0).
 * - 502 SYNTAX_ERROR: a frame's payload does not parse (truncated fields, bad field-table tag,
 *   trailing bytes, property flags naming properties that do not exist).
 * - 503 COMMAND_INVALID: a known class with a method id it does not have.
 * - 505 UNEXPECTED_FRAME: a content header for a class that carries no content.
 * - 540 NOT_IMPLEMENTED: a class id this codec does not know.
 */

export const amqpReplyCode = {
  frameError: 501,
  syntaxError: 502,
  commandInvalid: 503,
  unexpectedFrame: 505,
  notImplemented: 540,
} as const;

export type AmqpDecodeReplyCode = (typeof amqpReplyCode)[keyof typeof amqpReplyCode];

/** Stable short names for why input was rejected; suitable as a metric label. */
export type AmqpDecodeReason =
  | "frame-end-invalid"
  | "frame-too-large"
  | "frame-type-unknown"
  | "heartbeat-invalid"
  | "truncated"
  | "trailing-bytes"
  | "field-type-unknown"
  | "table-too-deep"
  | "table-too-large"
  | "integer-too-large"
  | "string-invalid"
  | "property-flags-invalid"
  | "content-header-invalid"
  | "content-header-unexpected"
  | "class-unknown"
  | "method-unknown";

const replyCodeOf: Record<AmqpDecodeReason, AmqpDecodeReplyCode> = {
  "frame-end-invalid": 501,
  "frame-too-large": 501,
  "frame-type-unknown": 501,
  "heartbeat-invalid": 501,
  truncated: 502,
  "trailing-bytes": 502,
  "field-type-unknown": 502,
  "table-too-deep": 502,
  "table-too-large": 502,
  "integer-too-large": 502,
  "string-invalid": 502,
  "property-flags-invalid": 502,
  "content-header-invalid": 502,
  "content-header-unexpected": 505,
  "class-unknown": 540,
  "method-unknown": 503,
};

export class AmqpDecodeError extends Error {
  override readonly name = "AmqpDecodeError";
  readonly reason: AmqpDecodeReason;
  /** The reply code of the `connection.close` the server must send. */
  readonly replyCode: AmqpDecodeReplyCode;
  /** Byte position in the decoded buffer (frame payload, or stream for framing errors). */
  readonly offset: number;

  constructor(reason: AmqpDecodeReason, detail: string, offset: number) {
    super(`amqp decode error (${reason}) at byte ${offset}: ${detail}`);
    this.reason = reason;
    this.replyCode = replyCodeOf[reason];
    this.offset = offset;
  }
}

export function isAmqpDecodeError(error: unknown): error is AmqpDecodeError {
  return error instanceof AmqpDecodeError;
}
