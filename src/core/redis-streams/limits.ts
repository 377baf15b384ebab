/**
 * Named limits of the Redis streams core, each with its reason. (Kept beside the module while
 * `src/config/limits.ts` is edited by other work in flight; they move there unchanged.)
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Records between two checkpoints of a stream's id index. A lookup by id walks at most this
 * many records from the checkpoint before it; memory is one small object per checkpoint.
 */
export const streamCheckpointIntervalRecords = 1024;

/**
 * Checkpoints kept per stream. Beyond it every other interval checkpoint is dropped (the
 * interval doubles), so a stream of any length costs bounded memory; lookups walk further.
 */
export const streamCheckpointsMax = 64 * 1024;

/**
 * Recently indexed ids kept per stream, so that reads near the tail (XREAD after the last id,
 * XREVRANGE + - COUNT n) need no walk. About 80 bytes each: 80 KiB per busy stream.
 */
export const streamRecentIdsMax = 1024;

/**
 * Hidden offsets (XDEL'd entries, and records whose key claimed an id not above the previous
 * one) kept per stream. The set is pruned when the head of the log is trimmed; past this limit
 * XDEL answers an error asking for a trim, so the set never grows without bound.
 */
export const streamHiddenEntriesMax = 1_000_000;

/**
 * Pending entries per consumer group. Each costs ~150 bytes of memory (Redis's PEL costs about
 * the same); a group whose consumers never acknowledge stops receiving new entries at this
 * count (XREADGROUP answers an error) instead of growing the broker's memory without bound.
 */
export const streamGroupPendingMax = 1_000_000;

/**
 * Entries one XRANGE / XREVRANGE / XREAD / XREADGROUP reply may hold when the client gave no
 * COUNT (Redis returns the whole range). Bounds the memory of one reply.
 */
export const streamReadEntriesMax = 100_000;

/** Bytes of entries one read reply may hold (same reason, for large entries). */
export const streamReadBytesMax = 64 * MiB;

/** Bytes read from the partition per step of a walk over the log. */
export const streamWalkReadBytes = 256 * KiB;

/**
 * `MAXLEN ~` / `MINID ~` trim only once this many entries are in excess: Redis trims whole
 * radix-tree nodes of `stream-node-max-entries` (100) entries. Trimming is a checkpoint write
 * plus a log-start move (two fsyncs), so approximate trims amortise it over 100 appends.
 */
export const streamApproxTrimEntries = 100;

/** Redis's default LIMIT of an approximate trim: 100 * `stream-node-max-entries`. */
export const streamApproxTrimLimitDefault = 100 * streamApproxTrimEntries;

/** Bytes appended to the state journal since the last snapshot that trigger the next one. */
export const streamJournalRewriteBytes = 64 * MiB;

/** Segment size of the state journal. */
export const streamJournalSegmentBytes = 64 * MiB;

/** Largest batch of the state journal (a snapshot is split into batches of this size). */
export const streamJournalBatchBytes = 1 * MiB;

/** Pending entries written per snapshot record. */
export const streamSnapshotPendingPerRecord = 10_000;

/**
 * A blocked read (XREAD / XREADGROUP BLOCK) re-checks its streams at least this often, so it
 * also notices streams created by other protocols, which signal no XREAD waiter.
 */
export const streamBlockRecheckMs = 1000;

/** Unpersisted interval checkpoints of a stream that trigger a background journal write. */
export const streamCheckpointFlushCount = 16;

/**
 * Bytes of XADD entries of one stream appended as one batch. Entries arriving in the same
 * event-loop turn share a batch (one append, one CRC); bounded well below the default
 * `max.message.bytes` so a batch never fails for its size.
 */
export const streamAddBatchBytes = 1 * MiB;

/** An XADD entry larger than this is appended in a batch of its own. */
export const streamAddSoloBytes = 256 * KiB;
