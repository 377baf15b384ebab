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
