/**
 * Errors the AMQP adapter answers with: a reply code, RabbitMQ's reply text
 * ("NOT_FOUND - no queue 'q' in vhost '/'"), and whether it closes the channel (soft) or the
 * connection (hard), per the spec's reply-code classes (codec/generated `amqpReplyCodeClass`).
 *
 * `toAmqpError` maps whatever a handler threw: the core's `RoutingError` (its `amqpReplyCode`),
 * a catalog `WharfError` (its `amqp` code), a codec `AmqpDecodeError` (hard), and anything else
 * as 541 INTERNAL_ERROR, which the session logs with its stack: that one is a defect.
 */
import { isRoutingError } from "../../core/routing/types.ts";
import { isWharfError } from "../../errors/index.ts";
import { isAmqpDecodeError } from "./codec/decode-error.ts";
import { amqpReplyCodeClass } from "./codec/generated/methods.ts";

export const replyCodeNames: ReadonlyMap<number, string> = new Map([
  [200, "OK"],
  [311, "CONTENT_TOO_LARGE"],
  [312, "NO_ROUTE"],
  [313, "NO_CONSUMERS"],
  [320, "CONNECTION_FORCED"],
  [402, "INVALID_PATH"],
  [403, "ACCESS_REFUSED"],
  [404, "NOT_FOUND"],
  [405, "RESOURCE_LOCKED"],
  [406, "PRECONDITION_FAILED"],
  [501, "FRAME_ERROR"],
  [502, "SYNTAX_ERROR"],
  [503, "COMMAND_INVALID"],
  [504, "CHANNEL_ERROR"],
  [505, "UNEXPECTED_FRAME"],
  [506, "RESOURCE_ERROR"],
  [530, "NOT_ALLOWED"],
  [540, "NOT_IMPLEMENTED"],
  [541, "INTERNAL_ERROR"],
]);

/** "NAME - detail", cut to the 255 bytes a shortstr holds. */
export function replyText(code: number, detail: string): string {
  const name = replyCodeNames.get(code) ?? "INTERNAL_ERROR";
  const text = detail.startsWith(`${name} - `) ? detail : `${name} - ${detail}`;
  return truncateShortstr(text);
}

export function truncateShortstr(text: string): string {
  if (Buffer.byteLength(text) <= 255) return text;
  let out = Buffer.from(text).subarray(0, 255).toString("utf8");
  // A cut inside a multi-byte character leaves U+FFFD (3 bytes): trim until it fits.
  while (Buffer.byteLength(out) > 255) out = out.slice(0, -1);
  return out;
}

export class AmqpError extends Error {
  override readonly name = "AmqpError";
  readonly replyCode: number;
  /** True for connection errors (hard), false for channel errors (soft). */
  readonly hard: boolean;
  /** Set when the failure was not the client's doing (logged with the stack). */
  readonly internal: boolean;

  constructor(replyCode: number, detail: string, internal = false) {
    super(replyText(replyCode, detail));
    this.replyCode = replyCode;
    this.hard = amqpReplyCodeClass.get(replyCode) !== "soft-error";
    this.internal = internal;
  }
}

export function toAmqpError(error: unknown): AmqpError {
  if (error instanceof AmqpError) return error;
  if (isRoutingError(error)) return new AmqpError(error.amqpReplyCode, error.message);
  if (isAmqpDecodeError(error)) return new AmqpError(error.replyCode, error.message);
  if (isWharfError(error)) {
    const code = error.entry.amqp ?? 541;
    return new AmqpError(code, error.message, code === 541);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new AmqpError(541, message, true);
}
