/**
 * Fetch (key 1), v4-17: stored record batches from each requested partition, as they are on
 * disk. The batches are Buffers from the log; the writer makes each its own output chunk, so
 * they go to the socket without a copy and without per-record work.
 *
 * - Long polling: if the partitions together hold fewer than `min_bytes`, the request waits
 *   (`Partition.waitForData` on every partition at once) until one of them grows, `max_wait_ms`
 *   passes (cut to `kafkaFetchWaitMsMax`) or the connection closes, then reads again. A
 *   partition error (unknown partition, OFFSET_OUT_OF_RANGE...) answers at once, as in Kafka.
 * - Sizes (KIP-74): partitions are read in request order within `max_bytes` overall and
 *   `partition_max_bytes` each; the first batch of the first partition with data is returned
 *   whole even when larger, so a consumer always progresses; a later partition whose first
 *   batch does not fit is answered with no records this time.
 * - Visibility: reads stop at the high watermark, which moves only once data is durable. With
 *   no transactions, the last stable offset is the high watermark, so read_uncommitted and
 *   read_committed are served alike, and there are no aborted transactions.
 * - Fetch sessions (KIP-227): not kept. A request with session id 0 is a full fetch and the
 *   answer's session id 0 tells the client that no session was created; a non-zero session id
 *   gets FETCH_SESSION_ID_NOT_FOUND, after which clients fall back to full fetches.
 * - Topic ids: v13+ name topics by id (Metadata v10+ gives them); an unknown id is
 *   UNKNOWN_TOPIC_ID.
 */

import { kafkaFetchWaitMsMax } from "../../../config/limits.ts";
import type { Partition } from "../../../core/streams/partition.ts";
import type { FetchResponsePartitionData, FetchTopic } from "../codec/generated/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import type { KafkaHandler, KafkaHandlerContext } from "./handler.ts";

export const fetchVersions = { minVersion: 4, maxVersion: 17 } as const;

const noRecords = Buffer.alloc(0);
const readCommitted = 1;

interface RequestedTopic {
  /** The topic's name, or null when its id (v13+) names no topic. */
  readonly name: string | null;
  readonly source: FetchTopic;
}

interface ReadRound {
  readonly partitions: FetchResponsePartitionData[][];
  readonly bytes: number;
  readonly failed: boolean;
  /** Where to wait for more data: each readable partition and the offset it must pass. */
  readonly waits: Array<{ partition: Partition; offset: number }>;
}

function errorPartition(partitionIndex: number, errorCode: number): FetchResponsePartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: noRecords,
  };
}

async function readRound(
  context: KafkaHandlerContext,
  topics: RequestedTopic[],
  maxBytes: number,
  version: number,
  abortedTransactions: FetchResponsePartitionData["abortedTransactions"],
): Promise<ReadRound> {
  const streams = context.broker.streams;
  let budget = maxBytes;
  let bytes = 0;
  let failed = false;
  const waits: ReadRound["waits"] = [];
  const partitions: FetchResponsePartitionData[][] = [];
  for (const requested of topics) {
    const topic = requested.name === null ? undefined : streams.get(requested.name);
    const answers: FetchResponsePartitionData[] = [];
    for (const wanted of requested.source.partitions) {
      const partition = topic?.partitions[wanted.partition];
      if (!partition) {
        const unknownId = requested.name === null && version >= 13;
        answers.push(
          errorPartition(
            wanted.partition,
            unknownId ? KafkaErrorCode.UNKNOWN_TOPIC_ID : KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          ),
        );
        failed = true;
        continue;
      }
      const limit = Math.max(0, Math.min(wanted.partitionMaxBytes, budget));
      try {
        const read = await partition.read(wanted.fetchOffset, limit);
        // Only the first partition with data may go over its limit (KIP-74).
        const records = read.bytes.length > limit && bytes > 0 ? noRecords : read.bytes;
        bytes += records.length;
        budget -= records.length;
        answers.push({
          partitionIndex: wanted.partition,
          errorCode: KafkaErrorCode.NONE,
          highWatermark: read.highWatermark,
          lastStableOffset: read.highWatermark,
          logStartOffset: read.logStartOffset,
          abortedTransactions,
          preferredReadReplica: -1,
          records,
        });
        waits.push({ partition, offset: Math.max(wanted.fetchOffset, read.highWatermark) });
      } catch (error) {
        const mapped = kafkaErrorOf(error);
        if (!mapped.expected)
          context.logger.error({ err: error }, "fetch read failed unexpectedly");
        answers.push(errorPartition(wanted.partition, mapped.code));
        failed = true;
      }
    }
    partitions.push(answers);
  }
  return { partitions, bytes, failed, waits };
}

/** Resolves when any partition grows past its offset, `waitMs` passes, or the session closes. */
async function waitForAny(
  context: KafkaHandlerContext,
  waits: ReadRound["waits"],
  waitMs: number,
): Promise<void> {
  const closed = context.session.closed;
  if (closed.aborted || waits.length === 0) return;
  const controller = new AbortController();
  const stop = () => controller.abort();
  closed.addEventListener("abort", stop, { once: true });
  try {
    await Promise.race(
      waits.map(({ partition, offset }) =>
        partition.waitForData(offset, waitMs, controller.signal),
      ),
    );
  } finally {
    closed.removeEventListener("abort", stop);
    controller.abort();
  }
}

export const handleFetch: KafkaHandler<1> = async (context, request) => {
  const { body, version } = request;
  if ((body.sessionId ?? 0) !== 0) {
    return {
      throttleTimeMs: 0,
      errorCode: KafkaErrorCode.FETCH_SESSION_ID_NOT_FOUND,
      sessionId: 0,
      responses: [],
    };
  }
  const streams = context.broker.streams;
  const topics: RequestedTopic[] = body.topics.map((source) => ({
    name:
      version >= 13
        ? (streams.getById(source.topicId ?? "")?.definition.name ?? null)
        : (source.topic ?? ""),
    source,
  }));
  const maxBytes = body.maxBytes ?? 0x7fffffff;
  const abortedTransactions: FetchResponsePartitionData["abortedTransactions"] =
    body.isolationLevel === readCommitted ? [] : null;
  const deadline = Date.now() + Math.min(Math.max(0, body.maxWaitMs), kafkaFetchWaitMsMax);
  for (;;) {
    const round = await readRound(context, topics, maxBytes, version, abortedTransactions);
    const remaining = deadline - Date.now();
    const done = round.bytes >= body.minBytes || round.failed || round.waits.length === 0;
    if (done || remaining <= 0 || context.session.closed.aborted) {
      return {
        throttleTimeMs: 0,
        errorCode: KafkaErrorCode.NONE,
        sessionId: 0,
        responses: topics.map((requested, index) => ({
          topic: requested.source.topic,
          topicId: requested.source.topicId,
          partitions: round.partitions[index]!,
        })),
      };
    }
    await waitForAny(context, round.waits, remaining);
  }
};
