/**
 * InitProducerId (key 22), v0-5: a producer id and epoch for an idempotent producer. Ids come
 * from the core's persisted allocator and are never handed out twice, also across crashes.
 *
 * - A producer that already has an id (v3+, KIP-360, after an OUT_OF_ORDER_SEQUENCE_NUMBER or
 *   an expired batch) gets the same id with the next epoch, which restarts its sequences; at
 *   the last epoch it gets a fresh id instead.
 * - Transactional ids are refused with WHARF_TRANSACTIONS_UNSUPPORTED (Kafka code 42,
 *   INVALID_REQUEST): transactions are out of scope, and a clear non-retriable error is better
 *   than a producer that retries forever.
 */
import { WharfError } from "../../../errors/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import type { KafkaHandler } from "./handler.ts";

export const initProducerIdVersions = { minVersion: 0, maxVersion: 5 } as const;

/** Kafka's largest producer epoch (a short); a producer at it gets a new id. */
const producerEpochMax = 32767;

export const handleInitProducerId: KafkaHandler<22> = async (context, request) => {
  const { transactionalId, producerId, producerEpoch } = request.body;
  if (transactionalId !== null) {
    const refusal = kafkaErrorOf(
      new WharfError("WHARF_TRANSACTIONS_UNSUPPORTED", `transactional id '${transactionalId}'`),
    );
    context.logger.info(
      { transactionalId, client: context.session.clientId },
      "refused a transactional producer",
    );
    return { throttleTimeMs: 0, errorCode: refusal.code, producerId: -1, producerEpoch: -1 };
  }
  const existing = producerId ?? -1;
  const epoch = producerEpoch ?? -1;
  if (existing >= 0 && epoch >= 0 && epoch < producerEpochMax - 1) {
    return {
      throttleTimeMs: 0,
      errorCode: KafkaErrorCode.NONE,
      producerId: existing,
      producerEpoch: epoch + 1,
    };
  }
  try {
    const id = await context.broker.producerIds.allocate();
    return { throttleTimeMs: 0, errorCode: KafkaErrorCode.NONE, producerId: id, producerEpoch: 0 };
  } catch (error) {
    const mapped = kafkaErrorOf(error);
    context.logger.error({ err: error }, "allocating a producer id failed");
    return { throttleTimeMs: 0, errorCode: mapped.code, producerId: -1, producerEpoch: -1 };
  }
};
