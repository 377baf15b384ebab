/**
 * Produce (key 0), v3-11: appends each partition's record batch to its stream partition.
 *
 * - v3+ carry magic-2 record batches only, and Kafka requires exactly one batch per
 *   partition; more is INVALID_RECORD. The batch is handed to the core as the Buffer view of
 *   the request frame: no copy, no per-record work (the log checks length, magic and CRC32C of
 *   the batch and stores it as produced, compressed or not).
 * - acks 0: no response; the appends are queued in request order and their outcome only
 *   logged. acks 1 and -1: the response is sent after every append is durable as the topic's
 *   durability says (fsync by default); on one node the two are the same.
 * - Errors are per partition through the error catalog (CORRUPT_MESSAGE for a bad CRC,
 *   MESSAGE_TOO_LARGE, OUT_OF_ORDER_SEQUENCE_NUMBER, ...); an idempotent retry of a batch already
 *   appended gets its original offsets (core).
 * - Transactions are out of scope: a transactional id, or a batch flagged transactional or
 *   control, is refused with WHARF_TRANSACTIONS_UNSUPPORTED.
 * - A missing topic is auto-created when the broker allows it (as the first Metadata would).
 *
 * Ordering: appends of one request, and of pipelined requests, reach the core in arrival order,
 * because for existing topics the handler calls `Partition.append` before its first await.
 */
import type { Partition } from "../../../core/streams/partition.ts";
import type { AppendOffsets } from "../../../core/streams/producer-state.ts";
import { WharfError } from "../../../errors/index.ts";
import {
  Attribute,
  BATCH_HEADER_BYTES,
  Offset,
  readBatchSize,
} from "../../../storage/record-batch.ts";
import type {
  ProduceRequestTopicProduceData,
  ProduceResponsePartitionProduceResponse,
  ProduceResponseTopicProduceResponse,
} from "../codec/generated/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import type { KafkaHandler, KafkaHandlerContext } from "./handler.ts";
import { autoCreateEnabled, autoCreateTopic } from "./topics.ts";

export const produceVersions = { minVersion: 3, maxVersion: 11 } as const;

type Outcome = { offsets: AppendOffsets; partition: Partition } | { error: unknown };

/** Checks Kafka's producer rules that the log does not know; returns the refusal, if any. */
function refuseBatch(records: Buffer | null): WharfError | null {
  if (records === null || records.length < BATCH_HEADER_BYTES) {
    return new WharfError(
      "WHARF_BATCH_INVALID",
      `${records?.length ?? 0} bytes of records, less than one batch`,
    );
  }
  if (readBatchSize(records, 0) !== records.length) {
    return new WharfError(
      "WHARF_BATCH_INVALID",
      "produce requests v3+ must carry exactly one record batch per partition",
    );
  }
  const attributes = records.readInt16BE(Offset.attributes);
  if ((attributes & (Attribute.transactional | Attribute.control)) !== 0) {
    return new WharfError(
      "WHARF_TRANSACTIONS_UNSUPPORTED",
      "transactional and control batches are not accepted",
    );
  }
  return null;
}

function settle(promise: Promise<AppendOffsets>, partition: Partition): Promise<Outcome> {
  return promise.then(
    (offsets) => ({ offsets, partition }),
    (error: unknown) => ({ error }),
  );
}

function appendOne(
  context: KafkaHandlerContext,
  topicName: string,
  index: number,
  records: Buffer | null,
): Promise<Outcome> {
  const refusal = refuseBatch(records);
  if (refusal) return Promise.resolve({ error: refusal });
  const topic = context.broker.streams.get(topicName);
  if (topic) {
    const partition = topic.partitions[index];
    if (!partition)
      return Promise.resolve({
        error: new WharfError("WHARF_TOPIC_NOT_FOUND", `${topicName}-${index}`),
      });
    try {
      return settle(partition.append(records!, { fromProducer: true }), partition);
    } catch (error) {
      return Promise.resolve({ error });
    }
  }
  if (!autoCreateEnabled(context)) {
    return Promise.resolve({ error: new WharfError("WHARF_TOPIC_NOT_FOUND", topicName) });
  }
  return autoCreateTopic(context, topicName).then(
    () => appendOne(context, topicName, index, records),
    (error: unknown) => ({ error }) as Outcome,
  );
}

function partitionResponse(
  context: KafkaHandlerContext,
  index: number,
  outcome: Outcome,
): ProduceResponsePartitionProduceResponse {
  if ("offsets" in outcome) {
    return {
      index,
      errorCode: KafkaErrorCode.NONE,
      baseOffset: outcome.offsets.baseOffset,
      logAppendTimeMs: -1,
      logStartOffset: outcome.partition.logStartOffset,
      recordErrors: [],
      errorMessage: null,
    };
  }
  const mapped = kafkaErrorOf(outcome.error);
  if (!mapped.expected) context.logger.error({ err: outcome.error }, "produce failed unexpectedly");
  return {
    index,
    errorCode: mapped.code,
    baseOffset: -1,
    logAppendTimeMs: -1,
    logStartOffset: -1,
    recordErrors: [],
    errorMessage: mapped.message,
  };
}

function refuseAll(topicData: ProduceRequestTopicProduceData[], code: number, message: string) {
  return topicData.map((topic) => ({
    name: topic.name,
    partitionResponses: topic.partitionData.map((partition) => ({
      index: partition.index,
      errorCode: code,
      baseOffset: -1,
      logAppendTimeMs: -1,
      logStartOffset: -1,
      recordErrors: [],
      errorMessage: message,
    })),
  }));
}

export const handleProduce: KafkaHandler<0> = (context, request) => {
  const { acks, topicData, transactionalId } = request.body;
  if (acks !== 0 && acks !== 1 && acks !== -1) {
    return {
      responses: refuseAll(topicData, KafkaErrorCode.INVALID_REQUIRED_ACKS, `acks ${acks}`),
      throttleTimeMs: 0,
    };
  }
  if (transactionalId !== null && transactionalId !== undefined) {
    const refusal = kafkaErrorOf(
      new WharfError("WHARF_TRANSACTIONS_UNSUPPORTED", `transactional id '${transactionalId}'`),
    );
    if (acks === 0) return null;
    return { responses: refuseAll(topicData, refusal.code, refusal.message), throttleTimeMs: 0 };
  }
  // Start every append now, in request order, before any await.
  const pending = topicData.map((topic) =>
    topic.partitionData.map((partition) =>
      appendOne(context, topic.name, partition.index, partition.records),
    ),
  );
  if (acks === 0) {
    for (const outcomes of pending) {
      for (const outcome of outcomes) {
        outcome.then((result) => {
          if ("error" in result)
            context.logger.debug({ err: result.error }, "acks=0 produce failed");
        });
      }
    }
    return null;
  }
  return Promise.all(pending.map((outcomes) => Promise.all(outcomes))).then((settled) => {
    const responses: ProduceResponseTopicProduceResponse[] = topicData.map((topic, topicIndex) => ({
      name: topic.name,
      partitionResponses: topic.partitionData.map((partition, partitionIndex) =>
        partitionResponse(context, partition.index, settled[topicIndex]![partitionIndex]!),
      ),
    }));
    return { responses, throttleTimeMs: 0 };
  });
};
