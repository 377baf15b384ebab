/** Catalog codes from the group coordinator → Kafka error codes (0 for success). */
import { type ErrorCode, type ErrorEntry, errorCatalog } from "../../../../errors/index.ts";
import { KafkaErrorCode } from "../../errors.ts";

export function kafkaCode(error: ErrorCode | null): number {
  if (error === null) return KafkaErrorCode.NONE;
  const entry: ErrorEntry = errorCatalog[error];
  return entry.kafka ?? KafkaErrorCode.UNKNOWN_SERVER_ERROR;
}

/** Kafka's `clientHost` of a member: the peer address with a leading slash, as Java prints it. */
export function clientHost(remoteAddress: string): string {
  return `/${remoteAddress}`;
}
