/**
 * FindCoordinator (key 10), v0-6. This node coordinates every group, so a group key (key type
 * 0) is answered with this listener's advertised address. Transactional ids (key type 1) and
 * share groups (key type 2, v6) are refused with INVALID_REQUEST: there are no transactions
 * and no share groups, and a non-retriable error is better than a client retrying forever.
 * v4+ batches keys (`coordinatorKeys`); each gets its own answer.
 */
import { WharfError } from "../../../../errors/index.ts";
import type {
  FindCoordinatorResponse,
  FindCoordinatorResponseCoordinator,
} from "../../codec/generated/find-coordinator.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../../errors.ts";
import type { KafkaHandler, KafkaHandlerContext } from "../handler.ts";

export const findCoordinatorVersions = { minVersion: 0, maxVersion: 6 } as const;

const keyTypeGroup = 0;
const keyTypeTransaction = 1;

function coordinatorFor(
  context: KafkaHandlerContext,
  key: string,
  keyType: number,
): FindCoordinatorResponseCoordinator {
  if (keyType === keyTypeGroup) {
    const { host, port } = context.advertised;
    return {
      key,
      nodeId: context.nodeId,
      host,
      port,
      errorCode: KafkaErrorCode.NONE,
      errorMessage: null,
    };
  }
  const refusal =
    keyType === keyTypeTransaction
      ? kafkaErrorOf(new WharfError("WHARF_TRANSACTIONS_UNSUPPORTED", `transactional id '${key}'`))
      : {
          code: KafkaErrorCode.INVALID_REQUEST,
          message: `coordinator key type ${keyType} is not supported`,
        };
  return {
    key,
    nodeId: -1,
    host: "",
    port: -1,
    errorCode: refusal.code,
    errorMessage: refusal.message,
  };
}

export const handleFindCoordinator: KafkaHandler<10> = (context, request) => {
  const { body, version } = request;
  const keyType = body.keyType ?? keyTypeGroup;
  if (version >= 4) {
    const coordinators = (body.coordinatorKeys ?? []).map((key) =>
      coordinatorFor(context, key, keyType),
    );
    return { throttleTimeMs: 0, coordinators } satisfies FindCoordinatorResponse;
  }
  const answer = coordinatorFor(context, body.key ?? "", keyType);
  return {
    throttleTimeMs: 0,
    errorCode: answer.errorCode,
    errorMessage: answer.errorMessage,
    nodeId: answer.nodeId,
    host: answer.host,
    port: answer.port,
  } satisfies FindCoordinatorResponse;
};
