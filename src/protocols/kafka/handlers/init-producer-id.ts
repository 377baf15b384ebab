/**
 * InitProducerId (key 22), v0-5: a producer id and epoch for an idempotent producer. Ids come
 * from the core's persisted allocator and are never handed out twice, also across crashes.
 *
 * - Without a transactional id every request gets a fresh id at epoch 0, whatever id and
 *   epoch it carries, as Kafka's coordinator does: an idempotent producer's id is not owned
 *   by anyone, so bumping the epoch of a sent id would let one client fence, or be taken
 *   for, another (@platformatic/kafka sends id 0 epoch 0 by default).
 * - Transactional ids are refused with WHARF_TRANSACTIONS_UNSUPPORTED (Kafka code 42,
 *   INVALID_REQUEST): transactions are out of scope, and a clear non-retriable error is better
 *   than a producer that retries forever.
 */
import { WharfError } from "../../../errors/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import type { KafkaHandler } from "./handler.ts";

export const initProducerIdVersions = { minVersion: 0, maxVersion: 5 } as const;

export const handleInitProducerId: KafkaHandler<22> = async (context, request) => {
  const { transactionalId } = request.body;
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
  try {
    const id = await context.broker.producerIds.allocate();
    return { throttleTimeMs: 0, errorCode: KafkaErrorCode.NONE, producerId: id, producerEpoch: 0 };
  } catch (error) {
    const mapped = kafkaErrorOf(error);
    context.logger.error({ err: error }, "allocating a producer id failed");
    return { throttleTimeMs: 0, errorCode: mapped.code, producerId: -1, producerEpoch: -1 };
  }
};
