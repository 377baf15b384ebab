/**
 * The error catalog: every error the broker reports to a user has one entry here with a
 * stable code, a message, whether retrying can succeed, and the code each protocol answers
 * with. Protocol adapters translate a `WharfError` by looking up its entry; they never invent
 * their own wording for a condition listed here. `docs/errors.md` is kept in step by a test.
 */

export interface ErrorEntry {
  /** Human-readable description; details are appended by the thrower. */
  readonly message: string;
  /** True when the same request may succeed later without change (Kafka's `retriable`). */
  readonly retriable: boolean;
  /** Kafka protocol error code (Errors.java). */
  readonly kafka?: number;
  /** AMQP 0-9-1 reply code (channel or connection close). */
  readonly amqp?: number;
  /** RESP error prefix word. */
  readonly resp?: string;
}

export const errorCatalog = {
  WHARF_BATCH_CORRUPT: {
    message: "record batch failed its CRC32C check or is otherwise corrupt",
    retriable: false,
    kafka: 2, // CORRUPT_MESSAGE
    amqp: 541,
    resp: "ERR",
  },
  WHARF_BATCH_TOO_LARGE: {
    message: "record batch is larger than the configured maximum",
    retriable: false,
    kafka: 10, // MESSAGE_TOO_LARGE
    amqp: 311,
    resp: "ERR",
  },
  WHARF_BATCH_INVALID: {
    message: "record batch is malformed (bad length, magic or field)",
    retriable: false,
    kafka: 87, // INVALID_RECORD
    amqp: 502,
    resp: "ERR",
  },
  WHARF_BATCH_UNSUPPORTED_MAGIC: {
    message: "record batch uses a message format other than v2 (magic 2)",
    retriable: false,
    kafka: 2, // CORRUPT_MESSAGE, as a Kafka 4 broker answers for magic < 2
    amqp: 502,
    resp: "ERR",
  },
  WHARF_OFFSET_OUT_OF_RANGE: {
    message: "offset is outside the range held by the log",
    retriable: false,
    kafka: 1, // OFFSET_OUT_OF_RANGE
    amqp: 406,
    resp: "ERR",
  },
  WHARF_DATA_CORRUPT: {
    message: "stored data in this range is corrupt and is not served",
    retriable: false,
    kafka: 2, // CORRUPT_MESSAGE
    amqp: 541,
    resp: "ERR",
  },
  WHARF_STORAGE_FULL: {
    message: "the data directory is out of space",
    retriable: true,
    kafka: 56, // KAFKA_STORAGE_ERROR
    amqp: 506, // RESOURCE_ERROR
    resp: "ERR",
  },
  WHARF_STORAGE_IO: {
    message: "a storage read or write failed",
    retriable: true,
    kafka: 56, // KAFKA_STORAGE_ERROR
    amqp: 541,
    resp: "ERR",
  },
  WHARF_STORAGE_READ_ONLY: {
    message: "the data directory is not writable",
    retriable: true,
    kafka: 56, // KAFKA_STORAGE_ERROR
    amqp: 506,
    resp: "ERR",
  },
  WHARF_LOG_CLOSED: {
    message: "the log is closed",
    retriable: true,
    kafka: 6, // NOT_LEADER_OR_FOLLOWER: clients refresh metadata and retry
    amqp: 320, // CONNECTION_FORCED
    resp: "ERR",
  },
  WHARF_APPEND_QUEUE_FULL: {
    message: "too many bytes are waiting to be appended",
    retriable: true,
    kafka: 7, // REQUEST_TIMED_OUT
    amqp: 506,
    resp: "ERR",
  },
  WHARF_INVALID_CONFIG: {
    message: "invalid resource configuration",
    retriable: false,
    kafka: 40, // INVALID_CONFIG
    amqp: 406,
    resp: "ERR",
  },
  WHARF_TOPIC_NOT_FOUND: {
    message: "no such topic or partition",
    retriable: true,
    kafka: 3, // UNKNOWN_TOPIC_OR_PARTITION
    amqp: 404,
    resp: "ERR",
  },
  WHARF_TOPIC_EXISTS: {
    message: "the topic already exists",
    retriable: false,
    kafka: 36, // TOPIC_ALREADY_EXISTS
    amqp: 406,
    resp: "ERR",
  },
  WHARF_INVALID_TOPIC: {
    message: "invalid topic name",
    retriable: false,
    kafka: 17, // INVALID_TOPIC_EXCEPTION
    amqp: 406,
    resp: "ERR",
  },
  WHARF_INVALID_PARTITIONS: {
    message: "invalid number of partitions",
    retriable: false,
    kafka: 37, // INVALID_PARTITIONS
    amqp: 406,
    resp: "ERR",
  },
  WHARF_OUT_OF_ORDER_SEQUENCE: {
    message: "producer sequence number is out of order",
    retriable: false,
    kafka: 45, // OUT_OF_ORDER_SEQUENCE_NUMBER
    amqp: 406,
    resp: "ERR",
  },
  WHARF_INVALID_PRODUCER_EPOCH: {
    message: "producer epoch is older than the current one (fenced)",
    retriable: false,
    kafka: 47, // INVALID_PRODUCER_EPOCH
    amqp: 406,
    resp: "ERR",
  },
  WHARF_CONFIG_INVALID: {
    message: "invalid configuration",
    retriable: false,
  },
  WHARF_PORT_IN_USE: {
    message: "a listener port is already in use",
    retriable: false,
  },
  WHARF_DATA_DIR_UNUSABLE: {
    message: "the data directory cannot be used",
    retriable: false,
  },
  WHARF_LOG_NAME_INVALID: {
    message: "log name is not a safe path component",
    retriable: false,
    kafka: 17, // INVALID_TOPIC_EXCEPTION
    amqp: 406,
    resp: "ERR",
  },
  WHARF_LEADER_EPOCH_FENCED: {
    message: "the append carries a leader epoch older than the log's latest",
    retriable: true,
    kafka: 74, // FENCED_LEADER_EPOCH: the client refreshes metadata and retries
    amqp: 320,
    resp: "ERR",
  },
  // Consumer groups (src/core/groups). Kafka-only conditions: no AMQP or RESP mapping.
  WHARF_GROUP_ID_INVALID: {
    message: "the group id is not valid (empty)",
    retriable: false,
    kafka: 24, // INVALID_GROUP_ID
  },
  WHARF_GROUP_NOT_FOUND: {
    message: "no such group",
    retriable: false,
    kafka: 69, // GROUP_ID_NOT_FOUND
  },
  WHARF_GROUP_NOT_EMPTY: {
    message: "the group still has members",
    retriable: false,
    kafka: 68, // NON_EMPTY_GROUP
  },
  WHARF_GROUP_UNKNOWN_MEMBER: {
    message: "the coordinator does not know this member of the group",
    retriable: false,
    kafka: 25, // UNKNOWN_MEMBER_ID: the client rejoins without a member id
  },
  WHARF_GROUP_MEMBER_ID_REQUIRED: {
    message: "the member must rejoin with the member id the coordinator assigned",
    retriable: false,
    kafka: 79, // MEMBER_ID_REQUIRED (KIP-394)
  },
  WHARF_GROUP_ILLEGAL_GENERATION: {
    message: "the generation is not the group's current one",
    retriable: false,
    kafka: 22, // ILLEGAL_GENERATION
  },
  WHARF_GROUP_REBALANCE_IN_PROGRESS: {
    message: "the group is rebalancing; rejoin",
    retriable: false,
    kafka: 27, // REBALANCE_IN_PROGRESS
  },
  WHARF_GROUP_INCONSISTENT_PROTOCOL: {
    message: "the member's protocols do not match the group's",
    retriable: false,
    kafka: 23, // INCONSISTENT_GROUP_PROTOCOL
  },
  WHARF_GROUP_INVALID_SESSION_TIMEOUT: {
    message: "the session timeout is outside the range the broker allows",
    retriable: false,
    kafka: 26, // INVALID_SESSION_TIMEOUT
  },
  WHARF_GROUP_FENCED_INSTANCE_ID: {
    message: "another member has registered with this group.instance.id",
    retriable: false,
    kafka: 82, // FENCED_INSTANCE_ID
  },
  WHARF_GROUP_MAX_SIZE_REACHED: {
    message: "the group has reached its maximum number of members",
    retriable: false,
    kafka: 81, // GROUP_MAX_SIZE_REACHED
  },
  WHARF_GROUPS_LIMIT_REACHED: {
    message: "the broker holds its maximum number of groups",
    retriable: false,
    kafka: 81, // GROUP_MAX_SIZE_REACHED: Kafka has no code for a broker-wide group limit
  },
  WHARF_GROUP_SUBSCRIBED_TO_TOPIC: {
    message: "the group is subscribed to the topic; its offsets cannot be deleted",
    retriable: false,
    kafka: 86, // GROUP_SUBSCRIBED_TO_TOPIC
  },
  WHARF_COORDINATOR_NOT_AVAILABLE: {
    message: "the group coordinator is not available",
    retriable: true,
    kafka: 15, // COORDINATOR_NOT_AVAILABLE: the client looks the coordinator up again
  },
  WHARF_NOT_COORDINATOR: {
    message: "this broker is not the coordinator of the group",
    retriable: true,
    kafka: 16, // NOT_COORDINATOR
  },
  WHARF_UNSTABLE_OFFSET_COMMIT: {
    message: "offsets of the partition are pending in an open transaction",
    retriable: true,
    kafka: 88, // UNSTABLE_OFFSET_COMMIT: never raised while there are no transactions
  },
  WHARF_OFFSET_METADATA_TOO_LARGE: {
    message: "the metadata of the committed offset is too large",
    retriable: false,
    kafka: 12, // OFFSET_METADATA_TOO_LARGE
  },
  WHARF_TRANSACTIONS_UNSUPPORTED: {
    message: "transactions are not supported",
    retriable: false,
    kafka: 42, // INVALID_REQUEST: FindCoordinator for a transactional id or a share group
  },
  WHARF_AUTHENTICATION_FAILED: {
    message: "authentication failed",
    retriable: false,
    kafka: 58, // SASL_AUTHENTICATION_FAILED
    amqp: 403, // ACCESS_REFUSED
    resp: "WRONGPASS",
  },
  WHARF_USER_NOT_FOUND: {
    message: "no such user",
    retriable: false,
  },
  WHARF_VHOST_NOT_FOUND: {
    message: "no such virtual host",
    retriable: false,
    amqp: 530, // NOT_ALLOWED, as connection.open to an unknown vhost
  },
  WHARF_DEFINITION_INVALID: {
    message: "invalid user, permission or virtual host definition",
    retriable: false,
  },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof errorCatalog;

/** An operating error with a catalog code. Programmer errors use `assert` instead. */
export class WharfError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const entry: ErrorEntry = errorCatalog[code];
    super(detail ? `${entry.message}: ${detail}` : entry.message, options);
    this.name = "WharfError";
    this.code = code;
    this.retriable = entry.retriable;
  }

  get entry(): ErrorEntry {
    return errorCatalog[this.code];
  }
}

export function isWharfError(error: unknown, code?: ErrorCode): error is WharfError {
  return error instanceof WharfError && (code === undefined || error.code === code);
}
