/**
 * DeleteTopics (key 20), v0-6: by name (v0-5 `topic_names`; v6 `topics[].name`) or, in v6, by
 * topic id when the name is null. The topic's definition is removed durably before its logs are
 * deleted (core); fetches waiting on its partitions wake and answer UNKNOWN_TOPIC_OR_PARTITION.
 */
import type { DeleteTopicsResponseDeletableTopicResult } from "../codec/generated/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import type { KafkaHandler, KafkaHandlerContext } from "./handler.ts";

export const deleteTopicsVersions = { minVersion: 0, maxVersion: 6 } as const;

const zeroUuid = "00000000-0000-0000-0000-000000000000";

async function deleteOne(
  context: KafkaHandlerContext,
  name: string | null,
  topicId: string,
): Promise<DeleteTopicsResponseDeletableTopicResult> {
  const streams = context.broker.streams;
  const topic = name !== null ? streams.get(name) : streams.getById(topicId);
  if (!topic) {
    const code =
      name === null ? KafkaErrorCode.UNKNOWN_TOPIC_ID : KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    return {
      name,
      topicId,
      errorCode: code,
      errorMessage: name === null ? `no topic with id ${topicId}` : `no topic '${name}'`,
    };
  }
  const { definition } = topic;
  try {
    await streams.delete(definition.name);
    return {
      name: definition.name,
      topicId: definition.id,
      errorCode: KafkaErrorCode.NONE,
      errorMessage: null,
    };
  } catch (error) {
    const mapped = kafkaErrorOf(error);
    if (!mapped.expected)
      context.logger.error(
        { err: error, topic: definition.name },
        "deleting a topic failed unexpectedly",
      );
    return {
      name: definition.name,
      topicId: definition.id,
      errorCode: mapped.code,
      errorMessage: mapped.message,
    };
  }
}

export const handleDeleteTopics: KafkaHandler<20> = async (context, request) => {
  const { body, version } = request;
  const wanted =
    version >= 6
      ? (body.topics ?? []).map((topic) => ({ name: topic.name, topicId: topic.topicId }))
      : (body.topicNames ?? []).map((name) => ({ name, topicId: zeroUuid }));
  const responses: DeleteTopicsResponseDeletableTopicResult[] = [];
  for (const { name, topicId } of wanted) responses.push(await deleteOne(context, name, topicId));
  return { throttleTimeMs: 0, responses };
};
