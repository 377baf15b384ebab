/**
 * Topic lookups shared by the handlers: by name or by id, with Kafka's auto-creation (on a
 * Metadata or Produce request for a topic that does not exist, when `autoCreateTopics` is on).
 *
 * Concurrent requests for the same missing topic share one creation, so pipelined Produce
 * requests for a new topic still append in the order they arrived.
 */
import type { StreamRegistry, Topic } from "../../../core/streams/stream-registry.ts";
import { isWharfError } from "../../../errors/index.ts";
import type { KafkaHandlerContext } from "./handler.ts";

const pendingCreations = new WeakMap<StreamRegistry, Map<string, Promise<Topic>>>();

/** Kafka reserves names starting with `__` for internal topics (`__consumer_offsets`). */
export function isInternalTopic(name: string): boolean {
  return name.startsWith("__");
}

/** Whether requests may auto-create topics on this broker. */
export function autoCreateEnabled(context: KafkaHandlerContext): boolean {
  return context.broker.config.autoCreateTopics;
}

/**
 * The topic, created with the default partition count if it does not exist. Rejects with the
 * core's error (WHARF_INVALID_TOPIC for a bad name, storage errors).
 */
export function autoCreateTopic(context: KafkaHandlerContext, name: string): Promise<Topic> {
  const streams = context.broker.streams;
  const existing = streams.get(name);
  if (existing) return Promise.resolve(existing);
  let pending = pendingCreations.get(streams);
  if (!pending) {
    pending = new Map();
    pendingCreations.set(streams, pending);
  }
  const inProgress = pending.get(name);
  if (inProgress) return inProgress;
  const table = pending;
  const creation = (async () => {
    try {
      const topic = await streams.create(name, context.broker.config.defaultPartitions);
      context.logger.info({ topic: name, client: context.session.clientId }, "topic auto-created");
      return topic!;
    } catch (error) {
      const raced = isWharfError(error, "WHARF_TOPIC_EXISTS") ? streams.get(name) : undefined;
      if (raced) return raced;
      throw error;
    } finally {
      table.delete(name);
    }
  })();
  table.set(name, creation);
  return creation;
}
