/**
 * Named limits: every hard bound the broker enforces, in one place, each with its reason.
 *
 * Units go last in the name (`frameBytesMax`, `retentionMsDefault`). A limit that an operator
 * may change has a config key of the same name (see `config.ts`); the value here is then its
 * default and the config value is validated against the `...Ceiling` next to it. Relations
 * between limits are asserted by `assertLimitRelations()` at startup.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Size of a Kafka RecordBatch v2 header: fixed by the format (61 bytes). */
export const recordBatchHeaderBytes = 61;

/**
 * Largest record batch accepted for append (Kafka's `message.max.bytes` default is ~1 MiB;
 * we allow 8 MiB by default because AMQP/STOMP bodies are often larger than Kafka records).
 */
export const batchBytesMaxDefault = 8 * MiB;
/** No configuration may raise the batch limit beyond this: a batch is held in memory whole. */
export const batchBytesMaxCeiling = 256 * MiB;

/** Segment size before a new segment is rolled (Kafka's `segment.bytes` default is 1 GiB). */
export const segmentBytesDefault = 1 * GiB;
/** Segments are addressed with 32-bit file positions in the offset index. */
export const segmentBytesCeiling = 2 * GiB - 1;
/** Smallest segment size: anything less would roll on every batch and exhaust descriptors. */
export const segmentBytesFloor = 1 * KiB;

/** A segment older than this is rolled even when not full (Kafka's `segment.ms`: 7 days). */
export const segmentMsDefault = 7 * 24 * 3600 * 1000;

/** Bytes of log between two sparse offset/time index entries (Kafka's `index.interval.bytes`). */
export const indexIntervalBytesDefault = 4 * KiB;
/** Maximum size of one index file; bounds the memory of the active segment's index. */
export const indexBytesMax = 10 * MiB;

/** Retention by age (Kafka's `retention.ms`: 7 days). -1 disables. */
export const retentionMsDefault = 7 * 24 * 3600 * 1000;
/** Retention by size of the whole log; -1 (the default, as Kafka) disables. */
export const retentionBytesDefault = -1;
/** How often retention runs over every log. */
export const retentionCheckIntervalMs = 60_000;

/**
 * Bytes one group commit may gather before it writes and fsyncs. Bounds the latency of the
 * first append in a round and the memory held by queued appends.
 */
export const groupCommitBytesMax = 16 * MiB;
/** Appends waiting for the log writer; beyond this `append` fails with a busy error. */
export const appendQueueBytesMax = 64 * MiB;

/** Largest read returned by one `Log.read` call, whatever the caller asks for. */
export const readBytesMax = 64 * MiB;

/** Max time for a clean shutdown to finish in-flight appends before the process exits. */
export const shutdownGraceMs = 10_000;

/** Bytes of untrusted input quoted in a log line (NATS's `PROTO_SNIPPET_SIZE`). */
export const logSnippetBytes = 64;

/** Largest configuration file accepted: config is small; anything bigger is a mistake. */
export const configFileBytesMax = 1 * MiB;

/** Asserts the relations between limits; called once at startup. Violations are bugs. */
export function assertLimitRelations(): void {
  const checks: Array<[boolean, string]> = [
    [batchBytesMaxDefault <= batchBytesMaxCeiling, "batch default above ceiling"],
    [segmentBytesFloor < segmentBytesDefault, "segment floor above default"],
    [segmentBytesDefault <= segmentBytesCeiling, "segment default above ceiling"],
    [batchBytesMaxCeiling <= segmentBytesCeiling, "a batch must fit in a segment"],
    [groupCommitBytesMax <= appendQueueBytesMax, "group commit larger than the append queue"],
    [recordBatchHeaderBytes < indexIntervalBytesDefault, "index interval below one header"],
  ];
  for (const [ok, what] of checks) {
    if (!ok) throw new Error(`limits: ${what}`);
  }
}
