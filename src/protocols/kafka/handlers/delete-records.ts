/**
 * DeleteRecords (key 21), v0-2: moves a partition's log start offset up to `offset` (-1: the
 * high watermark). Records below it stop being served at once; whole segments below it are
 * deleted from disk. Answers the new low watermark (log start offset). An offset above the
 * high watermark is OFFSET_OUT_OF_RANGE.
 */
import type { DeleteRecordsPartitionResult } from "../codec/generated/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import type { KafkaHandler, KafkaHandlerContext } from "./handler.ts";

export const deleteRecordsVersions = { minVersion: 0, maxVersion: 2 } as const;

async function deleteBefore(
  context: KafkaHandlerContext,
  topicName: string,
  partitionIndex: number,
  offset: number,
): Promise<DeleteRecordsPartitionResult> {
  const partition = context.broker.streams.get(topicName)?.partitions[partitionIndex];
  if (!partition)
    return {
      partitionIndex,
      lowWatermark: -1,
      errorCode: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    };
  try {
    await partition.deleteRecordsBefore(offset === -1 ? partition.highWatermark : offset);
    return {
      partitionIndex,
      lowWatermark: partition.logStartOffset,
      errorCode: KafkaErrorCode.NONE,
    };
  } catch (error) {
    const mapped = kafkaErrorOf(error);
    if (!mapped.expected)
      context.logger.error({ err: error }, "deleting records failed unexpectedly");
    return { partitionIndex, lowWatermark: -1, errorCode: mapped.code };
  }
}

export const handleDeleteRecords: KafkaHandler<21> = async (context, request) => {
  const topics = await Promise.all(
    request.body.topics.map(async (topic) => ({
      name: topic.name,
      partitions: await Promise.all(
        topic.partitions.map((partition) =>
          deleteBefore(context, topic.name, partition.partitionIndex, partition.offset),
        ),
      ),
    })),
  );
  return { throttleTimeMs: 0, topics };
};
