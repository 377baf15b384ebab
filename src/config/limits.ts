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

/**
 * Largest decompressed records section of one compressed batch (zip-bomb protection). Kafka
 * producers size batches by `batch.size` (16 KiB) and `max.request.size` (1 MiB), so real
 * batches inflate to a few MiB; this leaves 8x the default batch limit (common ratios are
 * 4-10x) while bounding the memory that decompressing one untrusted batch can take.
 */
export const batchDecompressedBytesMax = 64 * MiB;

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

/**
 * Longest log name (a directory name under the data dir). Kafka's topic limit is 249 so that
 * `<topic>-<partition>` stays within the 255-byte file-name limit of common file systems.
 */
export const logNameBytesMax = 249;

/**
 * Bytes at the end of a log whose batch headers `Log.recentBatchHeaders` returns, to rebuild
 * idempotent-producer state after a restart. Producers retry within seconds and Kafka keeps
 * only the last 5 batches per producer, so they lie well within this; it bounds the startup
 * scan and the memory of the headers.
 */
export const recentBatchHeadersBytes = 8 * MiB;

/** Largest read returned by one `Log.read` call, whatever the caller asks for. */
export const readBytesMax = 64 * MiB;

/**
 * Memory of compaction's key map: Kafka's `log.cleaner.dedupe.buffer.size` (128 MiB, shared by
 * its cleaner threads). An entry is 24 bytes (the MD5 of a key and the latest offset seen for
 * it), so at most 2^21 slots (48 MiB) fit, i.e. about 1.9 million distinct keys per pass at the
 * 0.9 load factor. The map starts small and grows as keys are found, never beyond this bound;
 * a log whose dirty part holds more distinct keys is cleaned in several passes. The broker
 * compacts one log at a time, so this is also the cleaner's memory bound.
 */
export const compactionKeyMapBytesMax = 64 * MiB;
/**
 * How often the broker looks for compacted topics worth cleaning (Kafka's
 * `log.cleaner.backoff.ms` is 15 s). Config `storage.compactionIntervalMs` (tests lower it).
 */
export const compactionIntervalMsDefault = 15_000;
/**
 * A compacted log is cleaned once this fraction of its cleanable bytes is dirty (written since
 * the last clean): Kafka's `min.cleanable.dirty.ratio` default. Lower means more rewriting for
 * less space saved.
 */
export const minCleanableDirtyRatio = 0.5;
/** Bytes the cleaner gathers before it writes them to a cleaned segment (one writev each). */
export const compactionWriteBufferBytes = 1 * MiB;

/** Upper bound on partitions per topic: each is a directory and open file handles. */
export const partitionsPerTopicMax = 10_000;

// ---------------------------------------------------------------------------------------------
// Kafka listener

/**
 * Largest Kafka request frame (the 4-byte size prefix's value) a connection accepts: Kafka's
 * `socket.request.max.bytes` default. A frame is held in memory whole before it is decoded,
 * so this bounds the memory one connection can pin with a single request; Produce requests
 * carrying large batches are the reason it is this high.
 */
export const kafkaFrameBytesMax = 100 * MiB;

/**
 * Longest string, in UTF-8 bytes, any Kafka string field may hold. The classic encoding has an
 * int16 length, and Kafka applies the same bound to compact strings, so a longer declared
 * length is a malformed request rather than a big one.
 */
export const kafkaStringBytesMax = 0x7fff;

/**
 * Open Kafka connections per listener; one more is closed at accept with a log line. Each
 * connection costs a file descriptor, a socket buffer and a response writer; the bound keeps a
 * connection storm (a client bug, a reconnect loop) from exhausting descriptors, which would
 * also stop segment rolls. Kafka's own `max.connections` defaults to unlimited.
 */
export const kafkaConnectionsMax = 4096;

/**
 * Requests read from one connection and not yet answered. Kafka clients pipeline (librdkafka
 * keeps up to `max.in.flight` produce requests per connection, 1,000,000 by default); the
 * session stops reading the socket at this count, so TCP flow control pushes back on the
 * client instead of the broker queueing without bound.
 */
export const kafkaInFlightRequestsMax = 128;

/**
 * Bytes of request frames one connection may have in flight (decoded, handled, not yet
 * answered). Reading pauses above it; one frame is always admitted, so a frame up to
 * `kafkaFrameBytesMax` still gets through. Bounds the memory a fast producer pins per
 * connection while its appends wait for fsync.
 */
export const kafkaInFlightBytesMax = 64 * MiB;

/**
 * Bytes queued on a connection's socket (responses written, not yet taken by the kernel)
 * above which the session stops reading requests until the socket drains. A consumer that
 * stops reading its Fetch responses then stops the broker from reading its next Fetch, so
 * memory stays bounded.
 */
export const kafkaOutputBytesMax = 8 * MiB;

/**
 * A connection with no request in flight and no bytes received for this long is closed:
 * Kafka's `connections.max.idle.ms` (10 minutes). Clients reconnect when they need to; the bound
 * reclaims descriptors of clients that vanished without closing.
 */
export const kafkaConnectionIdleMsMax = 10 * 60_000;

/**
 * Longest Fetch long-poll: a larger `max_wait_ms` is cut to this. Clients ask for 0.1-5 s;
 * the bound keeps a bogus value from parking a request (and its connection slot) for days.
 */
export const kafkaFetchWaitMsMax = 60_000;

/**
 * Producer ids handed out per persisted block (Kafka's controller allocates blocks of 1000).
 * The end of the current block is written to disk before an id from it is used, so after a
 * crash the next id starts past every id ever handed out; at most one block is skipped.
 */
export const kafkaProducerIdBlockSize = 1000;

/** Bytes of a frame dumped per log line with `WHARF_DEBUG_FRAMES=1` (a debugging aid). */
export const kafkaDebugFrameBytesMax = 4 * KiB;

// ---------------------------------------------------------------------------------------------
// RESP listener (src/protocols/resp) and channels (src/core/channels)

/**
 * Longest bulk string one RESP request may carry: Redis's `proto-max-bulk-len` default
 * (512 MB). The bulk is held in memory whole before the command runs. Config
 * `respProtoMaxBulkBytes` lowers it (a broker that only does pub/sub rarely needs 512 MB).
 */
export const respBulkBytesMaxDefault = 512 * MiB;
/** No configuration may raise the bulk limit beyond Redis's own ceiling. */
export const respBulkBytesMaxCeiling = 512 * MiB;
/** Smallest configurable bulk limit: a command name and a channel name must still fit. */
export const respBulkBytesMaxFloor = 1 * KiB;

/**
 * Most elements of one multibulk request (`*<n>`), as Redis had it (1024*1024) before it
 * moved to INT_MAX: one command's argument vector is allocated whole before its bulks arrive,
 * so a larger count is a malformed request, not a big one.
 */
export const respMultibulkLengthMax = 1024 * 1024;

/**
 * Longest inline command line, and longest `*<n>` / `$<n>` count line: Redis's
 * `PROTO_INLINE_MAX_SIZE` (64 KiB). Bytes without a line end beyond it are a protocol error
 * (`too big inline request`), so a peer cannot grow the input buffer without bound.
 */
export const respInlineBytesMax = 64 * KiB;

/** Open RESP connections per listener (Redis's `maxclients` default is 10000). */
export const respConnectionsMax = 10_000;

/**
 * How long a RESP connection the server is ending (after QUIT, a protocol error, or a refusal
 * past `respConnectionsMax`) may stay open for a peer that does not close its side.
 */
export const respCloseGraceMs = 1000;

/**
 * Direct socket reads (src/protocols/direct-reads.ts): a connection reads into a region it
 * owns, first of `directReadRegionInitialBytes` (what an idle connection, such as a pub/sub
 * subscriber, holds), doubled each time a read fills all the room it had (more was waiting),
 * up to `directReadRegionBytes` (Redis reads 16 KiB per call too, `PROTO_IOBUF_LEN`).
 */
export const directReadRegionInitialBytes = 1 * KiB;
export const directReadRegionBytes = 16 * KiB;

/**
 * Bytes queued on a RESP connection (replies encoded, not yet taken by the kernel) above
 * which the session stops reading commands until the socket drains: a pipelining client that
 * does not read its replies then stops being read, so its replies cannot grow memory.
 * Pub/sub messages are bounded separately by the output-buffer limits below.
 */
export const respOutputBytesMax = 4 * MiB;

/**
 * Commands read from one connection whose replies wait behind an unfinished (async) command,
 * e.g. pipelined behind a blocking XREAD. Reading pauses at this count.
 */
export const respPendingCommandsMax = 1024;

/**
 * Output-buffer limits of a pub/sub subscriber: Redis's `client-output-buffer-limit pubsub
 * 32mb 8mb 60`. A subscriber whose queued output exceeds the hard limit, or stays above the
 * soft limit for the soft period, is disconnected (log line, counter): a subscriber that
 * stops reading must not grow the broker's memory. Config keys of the same names (tests
 * lower them).
 */
export const respPubsubBufferHardBytesDefault = 32 * MiB;
export const respPubsubBufferSoftBytesDefault = 8 * MiB;
export const respPubsubBufferSoftMsDefault = 60_000;
/** No configuration may let one subscriber queue more than this. */
export const respPubsubBufferBytesCeiling = 1 * GiB;

/**
 * Client names and CLIENT SETINFO values are echoed in CLIENT LIST; bound them so one client
 * cannot make that reply (or a log line) arbitrarily large. Redis has no bound.
 */
export const respClientNameBytesMax = 4 * KiB;

/**
 * Glob matching of a channel pattern recurses once per `*`: Redis stops (no match) past this
 * nesting depth, which bounds the stack an abusive pattern can take.
 */
export const channelPatternNestingMax = 1000;

/** Max time for a clean shutdown to finish in-flight appends before the process exits. */
export const shutdownGraceMs = 10_000;

/** Bytes of untrusted input quoted in a log line (NATS's `PROTO_SNIPPET_SIZE`). */
export const logSnippetBytes = 64;

/** Largest configuration file accepted: config is small; anything bigger is a mistake. */
export const configFileBytesMax = 1 * MiB;

// Consumer groups (src/core/groups) --------------------------------------------------------

/**
 * Shortest session timeout a group member may ask for (Kafka's `group.min.session.timeout.ms`):
 * shorter ones expire members on an ordinary GC pause or network hiccup and make groups flap.
 */
export const groupSessionTimeoutMsMin = 6_000;
/**
 * Longest session timeout (Kafka's `group.max.session.timeout.ms`, 30 min): how long a crashed
 * member can hold its partitions unread before the coordinator notices.
 */
export const groupSessionTimeoutMsMax = 30 * 60_000;
/**
 * Longest rebalance a member may ask the coordinator to wait for (JoinGroup's rebalance
 * timeout; clients send `max.poll.interval.ms`, 5 min by default). Kafka does not bound it;
 * we cap it so a pending rebalance (and its parked JoinGroup requests) cannot last for weeks.
 */
export const groupRebalanceTimeoutMsMax = 60 * 60_000;
/**
 * Delay before the first rebalance of an empty group (Kafka's
 * `group.initial.rebalance.delay.ms`): consumers started together form one generation instead
 * of one rebalance each. Config `groupInitialRebalanceDelayMs` (tests lower it).
 */
export const groupInitialRebalanceDelayMsDefault = 3_000;
/** No configuration may delay a first rebalance longer than this. */
export const groupInitialRebalanceDelayMsCeiling = 5 * 60_000;
/**
 * Members (joined and pending) of one group (Kafka's `group.max.size` is unbounded). Each
 * member holds its subscription metadata in memory, and the leader receives all of them in
 * one JoinGroup response, which must stay well below the frame limit.
 */
export const groupMembersMax = 1_000;
/** Groups the coordinator holds (with members or with committed offsets): bounds memory. */
export const groupsMax = 100_000;
/** Bytes of client metadata stored with one committed offset (Kafka's `offset.metadata.max.bytes`). */
export const offsetMetadataBytesMax = 4 * KiB;
/**
 * Segment size of the committed-offsets log: the rewrite that bounds the log frees whole
 * segments only, so smaller segments free space sooner.
 */
export const offsetsLogSegmentBytes = 16 * MiB;
/**
 * The committed-offsets log is rewritten (a snapshot of the latest offset per key, older
 * records dropped) once this many bytes, and at least the size of the last snapshot, were
 * appended since the last rewrite. Bounds the log at about twice its live data plus a segment.
 */
export const offsetsLogRewriteBytes = 64 * MiB;
/** Largest batch of the offsets-log snapshot: one append per batch keeps each fsync modest. */
export const offsetsSnapshotBatchBytes = 1 * MiB;
/**
 * Committed offsets of a group without members expire this long after their commit (Kafka's
 * `offsets.retention.minutes`: 7 days), so abandoned groups do not accumulate forever.
 */
export const offsetsRetentionMsDefault = 7 * 24 * 3600 * 1000;
/** How often expired offsets are looked for (Kafka's `offsets.retention.check.interval.ms`). */
export const offsetsRetentionCheckIntervalMs = 10 * 60_000;

/** Asserts the relations between limits; called once at startup. Violations are bugs. */
export function assertLimitRelations(): void {
  const checks: Array<[boolean, string]> = [
    [batchBytesMaxDefault <= batchBytesMaxCeiling, "batch default above ceiling"],
    [batchBytesMaxDefault <= batchDecompressedBytesMax, "a default batch must decompress"],
    [segmentBytesFloor < segmentBytesDefault, "segment floor above default"],
    [segmentBytesDefault <= segmentBytesCeiling, "segment default above ceiling"],
    [batchBytesMaxCeiling <= segmentBytesCeiling, "a batch must fit in a segment"],
    [groupCommitBytesMax <= appendQueueBytesMax, "group commit larger than the append queue"],
    [recordBatchHeaderBytes < indexIntervalBytesDefault, "index interval below one header"],
    [batchBytesMaxDefault <= kafkaFrameBytesMax, "a default-size batch must fit in a Kafka frame"],
    [kafkaInFlightRequestsMax >= 1, "a Kafka connection must admit one request"],
    [respBulkBytesMaxDefault <= respBulkBytesMaxCeiling, "RESP bulk default above ceiling"],
    [
      respPubsubBufferSoftBytesDefault <= respPubsubBufferHardBytesDefault,
      "pub/sub soft buffer limit above the hard limit",
    ],
    [
      respPubsubBufferHardBytesDefault <= respPubsubBufferBytesCeiling,
      "pub/sub hard limit ceiling",
    ],
    [respPendingCommandsMax >= 1, "a RESP connection must admit one command"],
    [groupSessionTimeoutMsMin < groupSessionTimeoutMsMax, "group session timeout range empty"],
    [
      groupInitialRebalanceDelayMsDefault <= groupInitialRebalanceDelayMsCeiling,
      "rebalance delay default above ceiling",
    ],
    [offsetsLogSegmentBytes >= segmentBytesFloor, "offsets log segment below the floor"],
    [compactionKeyMapBytesMax >= 24, "the compaction key map must hold one key"],
    [
      queueAppendGroupBytes <= queueWriteInFlightBytes &&
        queueWriteInFlightBytes < appendQueueBytesMax,
      "a queue lane's appends in flight must fit the log's append queue",
    ],
    [minCleanableDirtyRatio > 0 && minCleanableDirtyRatio < 1, "dirty ratio outside (0, 1)"],
    [
      offsetsSnapshotBatchBytes <= batchBytesMaxDefault,
      "offsets snapshot batch above the batch limit",
    ],
  ];
  for (const [ok, what] of checks) {
    if (!ok) throw new Error(`limits: ${what}`);
  }
}

// ---- management HTTP API -------------------------------------------------------------------

/**
 * Largest JSON body the management API reads. Its requests are definitions (a queue's
 * arguments, a user, a binding): a few hundred bytes. A bound stops one request from making
 * the broker buffer an arbitrary upload.
 */
export const managementBodyBytesMax = 1024 * 1024;

// --- AMQP 0-9-1 listener (src/protocols/amqp) ---------------------------------------------
/** Open AMQP connections; more are refused at accept. Each holds channels and buffers. */
export const amqpConnectionsMax = 4096;
/**
 * The channel_max offered in connection.tune: RabbitMQ's default (2047). Each channel holds
 * its unacknowledged deliveries and consumers; a leaking client hits this instead of memory.
 */
export const amqpChannelsMax = 2047;
/** The heartbeat offered in connection.tune (RabbitMQ's default, seconds); 0 = off. */
export const amqpHeartbeatSecondsDefault = 60;
/**
 * A connection must finish the handshake (protocol header to connection.open) within this,
 * as RabbitMQ's `handshake_timeout`: a half-open client does not hold a slot forever.
 */
export const amqpHandshakeTimeoutMs = 10_000;
/** After sending connection.close, wait this long for close-ok before dropping the socket. */
export const amqpCloseOkTimeoutMs = 3_000;
/**
 * Largest message body accepted (RabbitMQ's `max_message_size` default, 128 MiB): the body is
 * assembled in memory before it is routed, so this bounds what one publish can pin.
 */
export const amqpMessageBytesMax = 128 * MiB;
/**
 * Bytes queued on a socket past which deliveries stop (consumers' `canTake` answers false)
 * and reading pauses, until 'drain': a consumer that does not read cannot grow our memory.
 */
export const amqpOutputBytesMax = 4 * MiB;
/**
 * Bytes of publishes whose outcome (fsync) is still pending on one connection; above it the
 * socket is paused, so a publisher that outruns the disk is slowed by TCP, not by our heap.
 */
export const amqpPublishInFlightBytesMax = 64 * MiB;
/**
 * Commands queued on one channel behind an asynchronous method (a declare waiting for the
 * definitions store); at this many the socket pauses until the channel catches up.
 */
export const amqpChannelBacklogMax = 4096;
/**
 * Input bytes one AMQP connection may process per event-loop turn before it yields (pauses
 * its socket until the next turn). libuv reads up to 32 x 64 KiB from a busy socket per poll;
 * a publisher that keeps its socket full would otherwise hold the loop for ~0.5 s per turn,
 * starving deliveries, log opens and fsync completions behind it. 32 KiB is about 250 small
 * publishes, about what a queue delivers in one dispatch burst (`queueDispatchBurst`), so
 * intake and delivery get comparable shares of a turn (bench/amqp: with 128 KiB a consumer got
 * 0.32x of the publish rate during a transient flood, with 32 KiB it keeps up).
 */
export const amqpInputBytesPerTurn = 32 * KiB;
/** Outgoing frames are copied into chunks of this size and written together (one writev). */
export const amqpOutputChunkBytes = 64 * KiB;
/** Bytes of a frame dumped by WHARF_DEBUG_FRAMES=1. */
export const amqpDebugFrameBytesMax = 512;

// ---- Virtual hosts, users and permissions (src/core/vhosts, src/core/auth) ----
/**
 * scrypt cost N for new password hashes (RFC 7914; 2^14 is the RFC's interactive-login
 * figure): about 16 MiB and tens of milliseconds per check, which an attacker pays per guess.
 */
export const passwordScryptCost = 16_384;
/** scrypt salt length: 16 random bytes make precomputed tables useless (NIST SP 800-132). */
export const passwordHashSaltBytes = 16;
/** scrypt output length: 32 bytes, the strength of SHA-256. */
export const passwordHashKeyBytes = 32;
/** A user name, as RabbitMQ's (an AMQP shortstr holds 255 bytes). */
export const userNameBytesMax = 255;
/** Users in the store: the whole document is rewritten on each change, so keep it small. */
export const usersMax = 10_000;
/** Virtual hosts: each has its own router and definitions document. */
export const vhostsMax = 1_000;
/** A vhost name, as RabbitMQ's (connection.open carries it in a 255-byte shortstr). */
export const vhostNameBytesMax = 255;
/** A queue or exchange name (AMQP shortstr, 255 bytes), as RabbitMQ enforces. */
export const amqpResourceNameBytesMax = 255;
/** Queues per vhost: every queue is open (its logs and cursor) while the broker runs. */
export const queuesPerVhostMax = 100_000;
/**
 * Bytes a stream-queue consumer reads from its partition per read: bounded so that a consumer
 * with a large prefetch does not pull a whole segment into memory at once.
 */
export const streamQueueReadBytes = 1 * MiB;
/** How long a stream-queue consumer at the end of the stream waits before looking again. */
export const streamQueueWaitMs = 30_000;
/**
 * Bytes of stream-queue publishes batched into one append (one RecordBatch, one fsync
 * shared); publishes of one event-loop turn share a batch up to this size.
 */
export const streamQueueAppendBatchBytes = 1 * MiB;
/** Entries kept in a message's x-death header: one per (queue, reason), bounded anyway. */
export const deadLetterDeathsMax = 64;

// --- Storage: synchronous round writes (H6, issue 5) ----------------------------------------
/**
 * A group-commit round up to this many bytes is written with a synchronous writev on the main
 * thread (a copy into the page cache, ~100 µs per MiB) and only its fdatasync goes through the
 * libuv thread pool: one round trip per round instead of two. Larger rounds keep the
 * asynchronous writev, so that one huge round (up to `roundBytesMax`) cannot stall the event
 * loop for milliseconds.
 */
export const logSyncWriteBytesMax = 1 * MiB;

// ---------------------------------------------------------------------------------------------
// Classic queues (src/core/queues)

/**
 * Ready messages a queue lane holds in memory ahead of delivery (read from its log or kept at
 * enqueue). Beyond it the backlog stays on disk, so a 10-million-message queue costs a window,
 * not its length.
 */
export const queueReadAheadMessages = 1024;
/** Bytes of message bodies a lane holds in memory ahead of delivery (same reason). */
export const queueReadAheadBytes = 4 * 1024 * 1024;
/** Bytes one read of a lane log asks for; a delivered body pins at most its read chunk. */
export const queueReadChunkBytes = 256 * 1024;
/**
 * Segment size of a queue lane log: the head segments are deleted once the ack floor passes
 * them, so smaller segments give space back sooner (at the price of more files).
 */
export const queueSegmentBytes = 64 * 1024 * 1024;
/** Records in one RecordBatch of a lane append (a tick's enqueues are split at it). */
export const queueAppendBatchRecordsMax = 4096;
/** Bytes of one RecordBatch of a lane append (well under the log's batch limit). */
export const queueAppendBatchBytes = 1024 * 1024;
/** Deliveries per dispatch burst before yielding to I/O (setImmediate). */
export const queueDispatchBurst = 256;
/**
 * The journal's "delivered up to" mark is written this many offsets ahead of deliveries: one
 * journal record per this many deliveries, and never behind after a crash.
 */
export const queueDeliveredMarkStep = 1024;
/** Segment size of a queue's ack journal (rewritten by snapshots; small frees space soon). */
export const queueJournalSegmentBytes = 1024 * 1024;
/** A queue's ack journal is snapshotted after this many bytes (bounds its size on disk). */
export const queueJournalRewriteBytes = 4 * 1024 * 1024;
/**
 * fdatasyncs a log keeps in flight on its active segment (pipelined group-commit rounds,
 * src/storage/log.ts `commitRound`). A virtio/SSD disk completes concurrent flushes far faster
 * than serial ones (measured here, loaded: 1 in flight 460–3250 syncs/s, 2: 1300–2600, 4:
 * 1560–5800, 8: 4450–5950),
 * while rounds in flight count against the append queue (`queueBytesMax`) until they settle.
 */
export const logSyncsInFlightMax = 8;
/**
 * Acks above a queue lane's ack floor (ack holes) past which the unacked messages pinning the
 * floor are copied to the tail, so the floor moves on: bounds the cursor's memory and lets the
 * head segments go (Pulsar's ack-holes problem).
 */
export const queueAckHolesMax = 16 * 1024;
/** Unacked messages one relocation pass copies at most (the rest wait for the next pass). */
export const queueRelocateMessagesMax = 1024;

// ---- resource alarms -----------------------------------------------------------------------

/**
 * Free disk space under the data directory below which the resource alarm blocks publishers:
 * RabbitMQ's default `disk_free_limit` (50 MB). Publishers are paused before ENOSPC rather
 * than failing appends (which would nack confirms) once the disk is full.
 */
export const diskFreeLimitBytesDefault = 50 * 1000 * 1000;
/**
 * With `memoryLimitBytes` 0, the alarm is raised above this fraction of the machine's memory:
 * RabbitMQ's default `vm_memory_high_watermark` (0.4).
 */
export const memoryHighWatermarkFraction = 0.4;
/** How often disk and memory are checked: often enough to act before a fast publisher fills the disk. */
export const resourceCheckIntervalMs = 1000;

// ---- Redis Streams (src/core/redis-streams) -----------------------------------------------

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

/**
 * Bytes (encoded estimate) of a queue lane's enqueues cut into one append: far below the log's
 * append queue (`appendQueueBytesMax`), about a quarter of a group-commit round, so a publish
 * flood that piled up while a lane's log was opening is written in bounded appends.
 */
export const queueAppendGroupBytes = 4 * MiB;
/** Bytes of one lane's appends in the log's append queue at once (the rest wait in the lane). */
export const queueWriteInFlightBytes = 16 * MiB;
/**
 * Bytes waiting in a lane for the log above which every enqueue (transient ones too) returns a
 * promise: the AMQP session's publish-in-flight limit then slows the publishers.
 */
export const queueWriteBacklogBytes = 4 * MiB;

/**
 * Bytes an in-flight AMQP publish is counted for beyond its body and properties (the queue
 * entry, record encoding and promise bookkeeping the core keeps until it is durable), against
 * `amqpPublishInFlightBytesMax`: 64 MiB then bounds ~180k small publishes, not ~670k.
 */
export const amqpPublishOverheadBytes = 256;

// ---- AMQP 0-9-1 wire codec (enforced while parsing) ---------------------------------------

/**
 * The smallest frame_max a peer may negotiate and the largest frame accepted before
 * connection.tune-ok (spec constant FRAME-MIN-SIZE, 4.2.1). Counts the whole frame: 7 header
 * bytes, payload and the frame-end octet.
 */
export const amqpFrameMinBytes = 4096;

/**
 * The frame_max the server offers in connection.tune: RabbitMQ's default (131072), which
 * clients (amqplib, pika) accept as is. Bigger frames buy little throughput and raise the
 * memory one connection can pin while a frame is incomplete.
 */
export const amqpFrameBytesMax = 131072;

/**
 * Nesting depth of field tables and arrays inside one value. The decoder recurses per level,
 * so this bounds its stack. Real data is shallow: `x-death` is a table holding an array of
 * tables (depth 3); 16 leaves room for application headers.
 */
export const amqpFieldTableDepthMax = 16;

/**
 * Entries in one field table or field array. A frame's size already bounds the bytes, but a
 * 128 KiB frame of `V` values would expand to ~40k JS objects; no broker argument or header
 * set legitimately comes near this.
 */
export const amqpFieldTableEntriesMax = 4096;
