/**
 * AlterConfigs (key 33), v0-2: replaces a topic's config overrides with the given set (keys not
 * given return to their defaults). Broker configs are static on this node (flags, environment,
 * config file): altering them is INVALID_REQUEST. Unknown keys or bad values: INVALID_CONFIG.
 */
import type { AlterConfigsResourceResponse } from "../codec/generated/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import { ResourceType } from "./configs.ts";
import type { KafkaHandler, KafkaHandlerContext } from "./handler.ts";

export const alterConfigsVersions = { minVersion: 0, maxVersion: 2 } as const;

export const brokerConfigsStatic =
  "broker configs are static here; set them with flags, environment or the config file";

/** Applies a change to a topic's overrides and answers like both AlterConfigs APIs do. */
export async function alterTopicConfig(
  context: KafkaHandlerContext,
  resourceType: number,
  resourceName: string,
  changes: Record<string, string | null>,
  options: { incremental: boolean; validateOnly: boolean },
): Promise<AlterConfigsResourceResponse> {
  const answer = (errorCode: number, errorMessage: string | null) => ({
    errorCode,
    errorMessage,
    resourceType,
    resourceName,
  });
  if (resourceType === ResourceType.broker)
    return answer(KafkaErrorCode.INVALID_REQUEST, brokerConfigsStatic);
  if (resourceType !== ResourceType.topic) {
    return answer(
      KafkaErrorCode.INVALID_REQUEST,
      `resource type ${resourceType} has no configs here`,
    );
  }
  try {
    await context.broker.streams.alterConfig(resourceName, changes, options);
    return answer(KafkaErrorCode.NONE, null);
  } catch (error) {
    const mapped = kafkaErrorOf(error);
    if (!mapped.expected)
      context.logger.error(
        { err: error, topic: resourceName },
        "altering configs failed unexpectedly",
      );
    return answer(mapped.code, mapped.message);
  }
}

export const handleAlterConfigs: KafkaHandler<33> = async (context, request) => {
  const { resources, validateOnly } = request.body;
  const responses: AlterConfigsResourceResponse[] = [];
  for (const resource of resources) {
    const changes: Record<string, string | null> = {};
    for (const config of resource.configs) changes[config.name] = config.value;
    responses.push(
      await alterTopicConfig(context, resource.resourceType, resource.resourceName, changes, {
        incremental: false,
        validateOnly,
      }),
    );
  }
  return { throttleTimeMs: 0, responses };
};
