/**
 * IncrementalAlterConfigs (key 44), v0-1: patches a topic's config overrides. SET (0) sets a
 * key, DELETE (1) returns it to its default, APPEND (2) and SUBTRACT (3) add or remove items of
 * a list-valued key (`cleanup.policy`); on other keys they are INVALID_CONFIG, as in Kafka.
 * A key named twice in one resource is INVALID_REQUEST.
 */
import { describeTopicConfig } from "../../../core/streams/topic-config.ts";
import { WharfError } from "../../../errors/index.ts";
import type { IncrementalAlterConfigsResponseAlterConfigsResourceResponse } from "../codec/generated/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import { alterTopicConfig } from "./alter-configs.ts";
import { listTopicConfigs, ResourceType } from "./configs.ts";
import type { KafkaHandler, KafkaHandlerContext } from "./handler.ts";

export const incrementalAlterConfigsVersions = { minVersion: 0, maxVersion: 1 } as const;

const Operation = { set: 0, delete: 1, append: 2, subtract: 3 } as const;

type Resource = Parameters<KafkaHandler<44>>[1]["body"]["resources"][number];

type Patch =
  | { ok: true; changes: Record<string, string | null> }
  | { ok: false; code: number; message: string };

/** The overrides patch for one resource, or the error that refuses it. */
function patchFor(context: KafkaHandlerContext, resource: Resource): Patch {
  const changes: Record<string, string | null> = {};
  const topic =
    resource.resourceType === ResourceType.topic
      ? context.broker.streams.get(resource.resourceName)
      : undefined;
  const current = topic
    ? describeTopicConfig(topic.definition.config, context.broker.config.storage)
    : [];
  for (const config of resource.configs) {
    if (config.name in changes) {
      return {
        ok: false,
        code: KafkaErrorCode.INVALID_REQUEST,
        message: `config '${config.name}' named more than once`,
      };
    }
    switch (config.configOperation) {
      case Operation.set:
        changes[config.name] = config.value;
        break;
      case Operation.delete:
        changes[config.name] = null;
        break;
      case Operation.append:
      case Operation.subtract: {
        if (!listTopicConfigs.has(config.name)) {
          const detail = `config '${config.name}' is not a list: APPEND and SUBTRACT do not apply`;
          return { ok: false, ...kafkaErrorOf(new WharfError("WHARF_INVALID_CONFIG", detail)) };
        }
        const items = new Set(
          (current.find((entry) => entry.name === config.name)?.value ?? "")
            .split(",")
            .filter(Boolean),
        );
        for (const item of (config.value ?? "").split(",").filter(Boolean)) {
          if (config.configOperation === Operation.append) items.add(item);
          else items.delete(item);
        }
        changes[config.name] = items.size === 0 ? null : [...items].sort().join(",");
        break;
      }
      default:
        return {
          ok: false,
          code: KafkaErrorCode.INVALID_REQUEST,
          message: `unknown config operation ${config.configOperation}`,
        };
    }
  }
  return { ok: true, changes };
}

export const handleIncrementalAlterConfigs: KafkaHandler<44> = async (context, request) => {
  const { resources, validateOnly } = request.body;
  const responses: IncrementalAlterConfigsResponseAlterConfigsResourceResponse[] = [];
  for (const resource of resources) {
    const { resourceType, resourceName } = resource;
    const patch = patchFor(context, resource);
    if (!patch.ok) {
      responses.push({
        errorCode: patch.code,
        errorMessage: patch.message,
        resourceType,
        resourceName,
      });
      continue;
    }
    const options = { incremental: true, validateOnly };
    responses.push(
      await alterTopicConfig(context, resourceType, resourceName, patch.changes, options),
    );
  }
  return { throttleTimeMs: 0, responses };
};
