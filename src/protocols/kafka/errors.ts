/**
 * Kafka error codes as the adapter answers them.
 *
 * Conditions raised by the core are `WharfError`s and map to Kafka through the error catalog
 * (`kafkaErrorOf`), never here. `KafkaErrorCode` names only the codes for conditions that exist
 * in the Kafka protocol alone and that this adapter decides itself: a request field out of
 * range (acks, replication factor), SASL state, fetch sessions, topic ids. Names and numbers
 * are Kafka's (org.apache.kafka.common.protocol.Errors).
 */
import { isWharfError } from "../../errors/index.ts";

export const KafkaErrorCode = {
  UNKNOWN_SERVER_ERROR: -1,
  NONE: 0,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_REQUIRED_ACKS: 21,
  UNSUPPORTED_SASL_MECHANISM: 33,
  ILLEGAL_SASL_STATE: 34,
  UNSUPPORTED_VERSION: 35,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REPLICA_ASSIGNMENT: 39,
  INVALID_REQUEST: 42,
  FETCH_SESSION_ID_NOT_FOUND: 70,
  INVALID_RECORD: 87,
  UNKNOWN_TOPIC_ID: 100,
  MISMATCHED_ENDPOINT_TYPE: 114,
} as const;

export interface KafkaError {
  readonly code: number;
  readonly message: string;
}

/**
 * The Kafka code and message for an error a handler caught. A `WharfError` maps through the
 * catalog; anything else is not an operating error the core reports, so it is
 * UNKNOWN_SERVER_ERROR and `expected` is false (the caller logs it as a defect).
 */
export function kafkaErrorOf(error: unknown): KafkaError & { expected: boolean } {
  if (isWharfError(error)) {
    return {
      code: error.entry.kafka ?? KafkaErrorCode.UNKNOWN_SERVER_ERROR,
      message: error.message,
      expected: true,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: KafkaErrorCode.UNKNOWN_SERVER_ERROR, message, expected: false };
}
