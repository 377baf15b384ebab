/**
 * ListOffsets (key 2), v0-6: an offset per partition for a timestamp.
 *
 * - -1 (latest): the high watermark; read_committed gets the same, since the last stable
 *   offset is the high watermark when there are no transactions.
 * - -2 (earliest): the log start offset.
 * - t >= 0: the first visible record whose timestamp is >= t, with its timestamp; offset and
 *   timestamp -1 when there is none (clients then use the latest offset).
 * - v0 answers in `old_style_offsets` (a list of at most `max_num_offsets`).
 *
 * Versions stop at 6: v7 adds -3 (the record with the largest timestamp), which needs the
 * log's largest timestamp and its offset; the log does not expose them yet.
 */
import type { ListOffsetsPartitionResponse } from "../codec/generated/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import type { KafkaHandler, KafkaHandlerContext } from "./handler.ts";

export const listOffsetsVersions = { minVersion: 0, maxVersion: 6 } as const;

const latestTimestamp = -1;
const earliestTimestamp = -2;

async function lookup(
  context: KafkaHandlerContext,
  topicName: string,
  partitionIndex: number,
  timestamp: number,
  version: number,
  maxNumOffsets: number,
): Promise<ListOffsetsPartitionResponse> {
  const answer = (
    errorCode: number,
    offset: number,
    foundTimestamp: number,
    leaderEpoch: number,
  ) => ({
    partitionIndex,
    errorCode,
    oldStyleOffsets: version === 0 && offset >= 0 && maxNumOffsets > 0 ? [offset] : [],
    timestamp: foundTimestamp,
    offset,
    leaderEpoch,
  });
  const partition = context.broker.streams.get(topicName)?.partitions[partitionIndex];
  if (!partition) return answer(KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1, -1);
  const epoch = partition.leaderEpoch;
  if (timestamp === latestTimestamp)
    return answer(KafkaErrorCode.NONE, partition.highWatermark, -1, epoch);
  if (timestamp === earliestTimestamp)
    return answer(KafkaErrorCode.NONE, partition.logStartOffset, -1, epoch);
  if (timestamp < 0) return answer(KafkaErrorCode.UNSUPPORTED_VERSION, -1, -1, -1);
  try {
    const found = await partition.offsetForTimestamp(timestamp);
    return found
      ? answer(KafkaErrorCode.NONE, found.offset, found.timestamp, epoch)
      : answer(KafkaErrorCode.NONE, -1, -1, epoch);
  } catch (error) {
    const mapped = kafkaErrorOf(error);
    if (!mapped.expected)
      context.logger.error({ err: error }, "offset lookup by timestamp failed unexpectedly");
    return answer(mapped.code, -1, -1, -1);
  }
}

export const handleListOffsets: KafkaHandler<2> = async (context, request) => {
  const { body, version } = request;
  const topics = await Promise.all(
    body.topics.map(async (topic) => ({
      name: topic.name,
      partitions: await Promise.all(
        topic.partitions.map((partition) =>
          lookup(
            context,
            topic.name,
            partition.partitionIndex,
            partition.timestamp,
            version,
            partition.maxNumOffsets ?? 1,
          ),
        ),
      ),
    })),
  );
  return { throttleTimeMs: 0, topics };
};
